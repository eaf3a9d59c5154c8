//! Parsing media playlists pushed by encoders (ffmpeg `-f hls -method PUT`, LiveMix).
//!
//! The input is hostile until proven otherwise. Hard limits — total size, line length, number
//! of segments, magnitudes of numbers, segment durations — turn anything unreasonable into a
//! [`PlaylistError`] without allocating in proportion to it. Segment URIs must be plain file
//! names (`index12.ts`, `seg-3.m4s`): no paths, schemes, queries or hidden names, so a playlist
//! can never point the node at anything but a file it was pushed next to.

use std::fmt;

/// Largest playlist accepted, bytes.
pub const MAX_PLAYLIST_BYTES: usize = 256 * 1024;
/// Longest line accepted, bytes.
pub const MAX_LINE_BYTES: usize = 4096;
/// Most segments in one playlist.
pub const MAX_SEGMENTS: usize = 2000;
/// Longest segment accepted, milliseconds.
pub const MAX_SEGMENT_MS: u64 = 60_000;
/// Most renditions (variants and media playlists together) of one source.
pub const MAX_RENDITIONS: usize = 16;
/// Largest sequence number accepted (what a JavaScript player can still count exactly).
pub const MAX_SEQUENCE: u64 = (1 << 53) - 1;

/// Why a playlist was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaylistError {
    TooLarge,
    LineTooLong {
        line: usize,
    },
    NotAPlaylist,
    TooManySegments,
    /// A segment URI without a preceding `#EXTINF`.
    MissingExtinf {
        line: usize,
    },
    /// An `#EXTINF` with no URI after it.
    DanglingExtinf,
    BadDuration {
        line: usize,
    },
    BadNumber {
        line: usize,
    },
    BadUri {
        line: usize,
    },
    NotUtf8,
    /// A malformed attribute list, or a value of the wrong type or size.
    BadAttribute {
        line: usize,
    },
    /// More renditions than [`MAX_RENDITIONS`].
    TooManyRenditions,
    /// Media segments in a multivariant playlist.
    MixedPlaylist {
        line: usize,
    },
    /// A multivariant playlist without one variant.
    NoVariants,
    /// A variant names a group no `EXT-X-MEDIA` of that type defines.
    UnknownGroup(String),
    /// Two renditions of a group share a name, or more than one is the default.
    BadGroup(String),
    /// An `EXT-X-STREAM-INF` with no URI after it.
    DanglingStreamInf,
}

impl fmt::Display for PlaylistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => write!(f, "the playlist is larger than {MAX_PLAYLIST_BYTES} bytes"),
            Self::LineTooLong { line } => {
                write!(f, "line {line} is longer than {MAX_LINE_BYTES} bytes")
            }
            Self::NotAPlaylist => f.write_str("the playlist does not start with #EXTM3U"),
            Self::TooManySegments => {
                write!(f, "the playlist has more than {MAX_SEGMENTS} segments")
            }
            Self::MissingExtinf { line } => write!(f, "the segment on line {line} has no #EXTINF"),
            Self::DanglingExtinf => f.write_str("the last #EXTINF has no segment"),
            Self::BadDuration { line } => {
                write!(f, "line {line}: the duration is not 0-{MAX_SEGMENT_MS} ms")
            }
            Self::BadNumber { line } => write!(f, "line {line}: the number is not valid"),
            Self::BadUri { line } => {
                write!(f, "line {line}: segment URIs must be plain file names")
            }
            Self::NotUtf8 => f.write_str("the playlist is not UTF-8"),
            Self::BadAttribute { line } => write!(f, "line {line}: a malformed attribute"),
            Self::TooManyRenditions => write!(f, "more than {MAX_RENDITIONS} renditions"),
            Self::MixedPlaylist { line } => {
                write!(f, "line {line}: media segments in a multivariant playlist")
            }
            Self::NoVariants => f.write_str("the multivariant playlist lists no variant"),
            Self::UnknownGroup(g) => write!(f, "no EXT-X-MEDIA defines the group {g:?}"),
            Self::BadGroup(g) => write!(
                f,
                "group {g:?}: rendition names must be unique and one at most the default"
            ),
            Self::DanglingStreamInf => f.write_str("the last #EXT-X-STREAM-INF has no URI"),
        }
    }
}

impl std::error::Error for PlaylistError {}

/// One segment as the encoder listed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestSegment {
    pub uri: String,
    pub duration_ms: u64,
    /// `#EXT-X-DISCONTINUITY` came before it.
    pub discontinuity: bool,
    /// `#EXT-X-PROGRAM-DATE-TIME` value, as written.
    pub program_date_time: Option<String>,
}

/// A pushed media playlist.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IngestPlaylist {
    pub target_duration: Option<u64>,
    pub media_sequence: u64,
    /// `#EXT-X-MAP:URI=` (fMP4 init section).
    pub map_uri: Option<String>,
    pub segments: Vec<IngestSegment>,
    pub ended: bool,
}

/// The stream number of a streaming-DASH segment name: `chunk-stream3-00012.m4s` → `3`.
pub fn dash_chunk_stream(file: &str) -> Option<&str> {
    let rest = file.strip_prefix("chunk-stream")?.strip_suffix(".m4s")?;
    let (stream, seq) = rest.split_once('-')?;
    let digits = |s: &str| (1..=9).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    (digits(stream) && digits(seq)).then_some(stream)
}

/// Whether `name` is a plain file name a segment may have.
pub fn is_plain_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn number(text: &str, line: usize) -> Result<u64, PlaylistError> {
    let text = text.trim();
    if text.is_empty() || text.len() > 16 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PlaylistError::BadNumber { line });
    }
    text.parse::<u64>()
        .ok()
        .filter(|n| *n <= MAX_SEQUENCE)
        .ok_or(PlaylistError::BadNumber { line })
}

/// Parses an `#EXTINF` duration (`2.000000,` or `2,title`) into milliseconds.
fn duration_ms(value: &str, line: usize) -> Result<u64, PlaylistError> {
    let bad = PlaylistError::BadDuration { line };
    let text = value.split(',').next().unwrap_or("").trim();
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 6 || frac.len() > 9 || !digits(whole) || !digits(frac) {
        return Err(bad);
    }
    let whole: u64 = whole.parse().map_err(|_| bad.clone())?;
    let millis: u64 = format!("{frac:0<3}")[..3]
        .parse()
        .map_err(|_| bad.clone())?;
    let total = whole
        .checked_mul(1000)
        .and_then(|w| w.checked_add(millis))
        .ok_or(bad.clone())?;
    if total == 0 || total > MAX_SEGMENT_MS {
        return Err(bad);
    }
    Ok(total)
}

/// `URI="…"` inside an attribute list.
fn quoted_uri(attrs: &str) -> Option<&str> {
    let start = attrs.find("URI=\"")? + 5;
    let rest = &attrs[start..];
    Some(&rest[..rest.find('"')?])
}

/// The lines of a pushed playlist after its `#EXTM3U` header: numbered from 1, each within
/// [`MAX_LINE_BYTES`], trimmed, blank ones left out; the whole within [`MAX_PLAYLIST_BYTES`].
pub(crate) fn playlist_lines(
    bytes: &[u8],
) -> Result<impl Iterator<Item = Result<(usize, &str), PlaylistError>>, PlaylistError> {
    if bytes.len() > MAX_PLAYLIST_BYTES {
        return Err(PlaylistError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| PlaylistError::NotUtf8)?;
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    match lines.next() {
        Some((_, first)) if first.trim_start_matches('\u{feff}').trim() == "#EXTM3U" => {}
        _ => return Err(PlaylistError::NotAPlaylist),
    }
    Ok(lines.filter_map(|(n, line)| {
        if line.len() > MAX_LINE_BYTES {
            return Some(Err(PlaylistError::LineTooLong { line: n }));
        }
        let line = line.trim();
        (!line.is_empty()).then_some(Ok((n, line)))
    }))
}

/// Parses a pushed media playlist.
pub fn parse_ingest_playlist(bytes: &[u8]) -> Result<IngestPlaylist, PlaylistError> {
    let mut playlist = IngestPlaylist::default();
    let mut pending: Option<u64> = None;
    let mut discontinuity = false;
    let mut program_date_time = None;
    for item in playlist_lines(bytes)? {
        let (n, line) = item?;
        if let Some(tag) = line.strip_prefix('#') {
            let (name, value) = tag.split_once(':').unwrap_or((tag, ""));
            match name {
                "EXTINF" => pending = Some(duration_ms(value, n)?),
                "EXT-X-TARGETDURATION" => playlist.target_duration = Some(number(value, n)?),
                "EXT-X-MEDIA-SEQUENCE" => playlist.media_sequence = number(value, n)?,
                "EXT-X-DISCONTINUITY" => discontinuity = true,
                "EXT-X-PROGRAM-DATE-TIME" => program_date_time = Some(value.trim().to_owned()),
                "EXT-X-ENDLIST" => playlist.ended = true,
                "EXT-X-MAP" => {
                    let uri = quoted_uri(value).filter(|u| is_plain_name(u));
                    playlist.map_uri =
                        Some(uri.ok_or(PlaylistError::BadUri { line: n })?.to_owned());
                }
                // Comments and tags reelay does not need (VERSION, ALLOW-CACHE, …).
                _ => {}
            }
            continue;
        }
        let duration_ms = pending
            .take()
            .ok_or(PlaylistError::MissingExtinf { line: n })?;
        if !is_plain_name(line) {
            return Err(PlaylistError::BadUri { line: n });
        }
        if playlist.segments.len() == MAX_SEGMENTS {
            return Err(PlaylistError::TooManySegments);
        }
        playlist.segments.push(IngestSegment {
            uri: line.to_owned(),
            duration_ms,
            discontinuity: std::mem::take(&mut discontinuity),
            program_date_time: program_date_time.take(),
        });
    }
    if pending.is_some() {
        return Err(PlaylistError::DanglingExtinf);
    }
    Ok(playlist)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_dash_segment_names_give_their_stream() {
        assert_eq!(dash_chunk_stream("chunk-stream0-00001.m4s"), Some("0"));
        assert_eq!(dash_chunk_stream("chunk-stream12-7.m4s"), Some("12"));
        for other in [
            "chunk-stream-00001.m4s",
            "chunk-stream0-.m4s",
            "chunk-stream0-00001.mp4",
            "init-stream0.m4s",
            "chunk-streamx-1.m4s",
        ] {
            assert_eq!(dash_chunk_stream(other), None, "{other}");
        }
    }

    const FFMPEG_TS: &str = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n\
        #EXT-X-MEDIA-SEQUENCE:4\n#EXTINF:2.000000,\nindex4.ts\n#EXTINF:1.960000,\nindex5.ts\n";

    const FFMPEG_FMP4: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n\
        #EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2.000000,\nindex0.m4s\n\
        #EXT-X-DISCONTINUITY\n#EXTINF:2.000000,\nindex1.m4s\n#EXT-X-ENDLIST\n";

    #[test]
    fn parses_what_ffmpeg_pushes() {
        let p = parse_ingest_playlist(FFMPEG_TS.as_bytes()).expect("ts");
        assert_eq!(p.media_sequence, 4);
        assert_eq!(p.target_duration, Some(2));
        assert_eq!(p.segments.len(), 2);
        assert_eq!(p.segments[1].uri, "index5.ts");
        assert_eq!(p.segments[1].duration_ms, 1960);
        let p = parse_ingest_playlist(FFMPEG_FMP4.as_bytes()).expect("fmp4");
        assert_eq!(p.map_uri.as_deref(), Some("init.mp4"));
        assert!(p.segments[1].discontinuity && !p.segments[0].discontinuity);
        assert!(p.ended);
    }

    #[test]
    fn hostile_playlists_are_refused() {
        let cases: Vec<(String, PlaylistError)> = vec![
            ("garbage".into(), PlaylistError::NotAPlaylist),
            (
                "#EXTM3U\nindex0.ts\n".into(),
                PlaylistError::MissingExtinf { line: 2 },
            ),
            (
                "#EXTM3U\n#EXTINF:2,\n".into(),
                PlaylistError::DanglingExtinf,
            ),
            (
                "#EXTM3U\n#EXTINF:-1,\na.ts\n".into(),
                PlaylistError::BadDuration { line: 2 },
            ),
            (
                "#EXTM3U\n#EXTINF:0,\na.ts\n".into(),
                PlaylistError::BadDuration { line: 2 },
            ),
            (
                "#EXTM3U\n#EXTINF:NaN,\na.ts\n".into(),
                PlaylistError::BadDuration { line: 2 },
            ),
            (
                "#EXTM3U\n#EXTINF:99999999,\na.ts\n".into(),
                PlaylistError::BadDuration { line: 2 },
            ),
            (
                "#EXTM3U\n#EXTINF:1e9,\na.ts\n".into(),
                PlaylistError::BadDuration { line: 2 },
            ),
            (
                "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:99999999999999999999\n".into(),
                PlaylistError::BadNumber { line: 2 },
            ),
            (
                "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:-3\n".into(),
                PlaylistError::BadNumber { line: 2 },
            ),
            (
                "#EXTM3U\n#EXTINF:2,\n../etc/passwd\n".into(),
                PlaylistError::BadUri { line: 3 },
            ),
            (
                "#EXTM3U\n#EXTINF:2,\nhttp://169.254.169.254/x\n".into(),
                PlaylistError::BadUri { line: 3 },
            ),
            (
                "#EXTM3U\n#EXTINF:2,\n/abs.ts\n".into(),
                PlaylistError::BadUri { line: 3 },
            ),
            (
                "#EXTM3U\n#EXT-X-MAP:URI=\"../init.mp4\"\n".into(),
                PlaylistError::BadUri { line: 2 },
            ),
            (
                format!("#EXTM3U\n#{}\n", "A".repeat(MAX_LINE_BYTES + 1)),
                PlaylistError::LineTooLong { line: 2 },
            ),
            (
                "#EXTM3U\n".to_owned() + &"#EXTINF:1,\na.ts\n".repeat(MAX_SEGMENTS + 1),
                PlaylistError::TooManySegments,
            ),
            (
                "#EXTM3U\n".to_owned() + &" ".repeat(MAX_PLAYLIST_BYTES),
                PlaylistError::TooLarge,
            ),
        ];
        for (text, err) in cases {
            assert_eq!(
                parse_ingest_playlist(text.as_bytes()),
                Err(err.clone()),
                "{err}"
            );
        }
        assert_eq!(
            parse_ingest_playlist(&[0xff, 0xfe]),
            Err(PlaylistError::NotUtf8)
        );
    }

    #[test]
    fn plain_names() {
        assert!(is_plain_name("index12.ts") && is_plain_name("seg_1-a.m4s"));
        for bad in ["", ".hidden", "a/b", "a b", "a?x", "%2e", &"x".repeat(129)] {
            assert!(!is_plain_name(bad), "{bad}");
        }
    }
}
