//! Building media playlists (live windows, EVENT and VOD) that follow RFC 8216, and a checker
//! for the rules that matter to players, used by the tests on everything reelay serves.
//!
//! Rules built in rather than configured:
//! - `EXT-X-TARGETDURATION` is an integer >= every `EXTINF` rounded to the nearest integer
//!   (§4.3.3.1), and at least the source's configured target;
//! - `EXT-X-VERSION` follows the features used: 3 for decimal durations, 7 with `EXT-X-MAP`
//!   (as ffmpeg writes fMP4), §7;
//! - `EXT-X-MEDIA-SEQUENCE` and `EXT-X-DISCONTINUITY-SEQUENCE` precede the first segment;
//! - `EXT-X-MAP` is written before the first segment and again whenever the init section changes.

use std::fmt::Write;

/// What kind of playlist to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaylistKind {
    /// A sliding window: no playlist type, no end.
    Live,
    /// A growing recording: `EXT-X-PLAYLIST-TYPE:EVENT`.
    Event,
    /// A finished recording: `EXT-X-PLAYLIST-TYPE:VOD` and `EXT-X-ENDLIST`.
    Vod,
}

/// One segment to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaylistSegment {
    pub uri: String,
    pub duration_ms: u64,
    pub discontinuity: bool,
    /// Wall-clock time of the segment's first sample, unix milliseconds.
    pub program_date_time_ms: Option<i64>,
    /// The init section (fMP4) this segment needs.
    pub map_uri: Option<String>,
}

/// A media playlist to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPlaylist {
    pub kind: PlaylistKind,
    pub media_sequence: u64,
    pub discontinuity_sequence: u64,
    /// The source's configured segment length, seconds (the target never goes below it).
    pub target_floor: u64,
    pub segments: Vec<PlaylistSegment>,
}

/// `duration_ms` rounded to the nearest second (halves up), as §4.3.3.1 compares it.
pub fn rounded_secs(duration_ms: u64) -> u64 {
    duration_ms.saturating_add(500) / 1000
}

/// RFC 3339 UTC with milliseconds, from unix milliseconds.
pub fn format_program_date_time(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let millis = unix_ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl MediaPlaylist {
    /// The target duration this playlist must declare.
    pub fn target_duration(&self) -> u64 {
        let longest = self
            .segments
            .iter()
            .map(|s| rounded_secs(s.duration_ms))
            .max()
            .unwrap_or(0);
        longest.max(self.target_floor).max(1)
    }

    /// The playlist text.
    pub fn render(&self) -> String {
        let uses_map = self.segments.iter().any(|s| s.map_uri.is_some());
        let mut out = String::with_capacity(128 + self.segments.len() * 96);
        let _ = writeln!(out, "#EXTM3U");
        let _ = writeln!(out, "#EXT-X-VERSION:{}", if uses_map { 7 } else { 3 });
        let _ = writeln!(out, "#EXT-X-TARGETDURATION:{}", self.target_duration());
        let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{}", self.media_sequence);
        let _ = writeln!(
            out,
            "#EXT-X-DISCONTINUITY-SEQUENCE:{}",
            self.discontinuity_sequence
        );
        match self.kind {
            PlaylistKind::Live => {}
            PlaylistKind::Event => out.push_str("#EXT-X-PLAYLIST-TYPE:EVENT\n"),
            PlaylistKind::Vod => out.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n"),
        }
        let mut current_map: Option<&str> = None;
        for (i, seg) in self.segments.iter().enumerate() {
            if seg.discontinuity && i > 0 {
                out.push_str("#EXT-X-DISCONTINUITY\n");
            }
            if let Some(map) = seg.map_uri.as_deref()
                && current_map != Some(map)
            {
                let _ = writeln!(out, "#EXT-X-MAP:URI=\"{map}\"");
                current_map = Some(map);
            }
            if let Some(pdt) = seg.program_date_time_ms {
                let _ = writeln!(
                    out,
                    "#EXT-X-PROGRAM-DATE-TIME:{}",
                    format_program_date_time(pdt)
                );
            }
            let _ = writeln!(
                out,
                "#EXTINF:{}.{:03},",
                seg.duration_ms / 1000,
                seg.duration_ms % 1000
            );
            out.push_str(&seg.uri);
            out.push('\n');
        }
        if self.kind == PlaylistKind::Vod {
            out.push_str("#EXT-X-ENDLIST\n");
        }
        out
    }
}

/// Checks a media playlist against the RFC 8216 rules players depend on; returns every
/// violation found (empty: conforming).
pub fn check_media_playlist(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    if lines.next() != Some("#EXTM3U") {
        problems.push("the first line is not #EXTM3U".to_owned());
    }
    let (mut target, mut version, mut saw_segment, mut ended) = (None, 1u64, false, false);
    let (mut media_seq, mut pending_extinf, mut uses_map, mut decimal) =
        (0, None::<u64>, false, false);
    let mut playlist_type = None;
    let mut durations = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        if ended {
            problems.push(format!("{line:?} after #EXT-X-ENDLIST"));
        }
        let Some(tag) = line.strip_prefix('#') else {
            match pending_extinf.take() {
                Some(ms) => durations.push(ms),
                None => problems.push(format!("segment {line:?} has no #EXTINF")),
            }
            saw_segment = true;
            continue;
        };
        let (name, value) = tag.split_once(':').unwrap_or((tag, ""));
        let before_segments = |what: &str, problems: &mut Vec<String>| {
            if saw_segment {
                problems.push(format!("{what} after the first segment"));
            }
        };
        match name {
            "EXT-X-VERSION" => version = value.parse().unwrap_or(0),
            "EXT-X-TARGETDURATION" => {
                if target.is_some() {
                    problems.push("two EXT-X-TARGETDURATION tags".to_owned());
                }
                match value.parse::<u64>() {
                    Ok(t) => target = Some(t),
                    Err(_) => {
                        problems.push(format!("EXT-X-TARGETDURATION {value:?} is not an integer"))
                    }
                }
            }
            "EXT-X-MEDIA-SEQUENCE" => {
                before_segments(name, &mut problems);
                media_seq += 1;
            }
            "EXT-X-DISCONTINUITY-SEQUENCE" => before_segments(name, &mut problems),
            "EXT-X-PLAYLIST-TYPE" => playlist_type = Some(value.to_owned()),
            "EXT-X-MAP" => uses_map = true,
            "EXT-X-ENDLIST" => ended = true,
            "EXTINF" => {
                let d = value.split(',').next().unwrap_or("");
                decimal |= d.contains('.');
                match d.parse::<f64>() {
                    Ok(secs) if secs.is_finite() && secs > 0.0 => {
                        pending_extinf = Some((secs * 1000.0).round() as u64)
                    }
                    _ => problems.push(format!("EXTINF {d:?} is not a positive duration")),
                }
            }
            _ => {}
        }
    }
    match target {
        None => problems.push("no EXT-X-TARGETDURATION".to_owned()),
        Some(t) => {
            for ms in durations.iter().filter(|&&ms| rounded_secs(ms) > t) {
                problems.push(format!(
                    "an EXTINF of {ms} ms rounds above the target duration {t}"
                ));
            }
        }
    }
    if media_seq > 1 {
        problems.push("two EXT-X-MEDIA-SEQUENCE tags".to_owned());
    }
    if pending_extinf.is_some() {
        problems.push("an EXTINF without a segment".to_owned());
    }
    if decimal && version < 3 {
        problems.push("decimal EXTINF durations need EXT-X-VERSION 3".to_owned());
    }
    if uses_map && version < 6 {
        problems.push("EXT-X-MAP needs EXT-X-VERSION 6 or more".to_owned());
    }
    if playlist_type.as_deref() == Some("VOD") && !ended {
        problems.push("a VOD playlist without EXT-X-ENDLIST".to_owned());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(uri: &str, ms: u64) -> PlaylistSegment {
        PlaylistSegment {
            uri: uri.into(),
            duration_ms: ms,
            discontinuity: false,
            program_date_time_ms: None,
            map_uri: None,
        }
    }

    #[test]
    fn target_duration_covers_every_rounded_extinf() {
        let p = MediaPlaylist {
            kind: PlaylistKind::Live,
            media_sequence: 7,
            discontinuity_sequence: 0,
            target_floor: 2,
            segments: vec![seg("a.ts", 2000), seg("b.ts", 2500), seg("c.ts", 2499)],
        };
        assert_eq!(p.target_duration(), 3);
        assert!(
            check_media_playlist(&p.render()).is_empty(),
            "{}",
            p.render()
        );
    }

    #[test]
    fn renders_discontinuities_maps_dates_and_vod_end() {
        let mut b = seg("b.m4s", 2000);
        b.discontinuity = true;
        b.map_uri = Some("init-2.mp4".into());
        let mut a = seg("a.m4s", 2000);
        a.map_uri = Some("init-1.mp4".into());
        a.program_date_time_ms = Some(1_764_165_600_123);
        let p = MediaPlaylist {
            kind: PlaylistKind::Vod,
            media_sequence: 0,
            discontinuity_sequence: 3,
            target_floor: 2,
            segments: vec![a, b],
        };
        let text = p.render();
        assert_eq!(
            text,
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
             #EXT-X-DISCONTINUITY-SEQUENCE:3\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init-1.mp4\"\n\
             #EXT-X-PROGRAM-DATE-TIME:2025-11-26T14:00:00.123Z\n#EXTINF:2.000,\na.m4s\n\
             #EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init-2.mp4\"\n#EXTINF:2.000,\nb.m4s\n#EXT-X-ENDLIST\n"
        );
        assert!(check_media_playlist(&text).is_empty());
    }

    #[test]
    fn the_checker_finds_violations() {
        let bad =
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.6,\na.ts\n#EXT-X-MEDIA-SEQUENCE:1\nb.ts\n";
        let problems = check_media_playlist(bad);
        assert_eq!(problems.len(), 4, "{problems:?}");
    }

    #[test]
    fn program_date_times() {
        assert_eq!(format_program_date_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_program_date_time(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(format_program_date_time(-1), "1969-12-31T23:59:59.999Z");
    }
}
