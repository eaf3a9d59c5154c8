//! Multivariant playlists (RFC 8216 §4.3.4): parsing the one an encoder pushes
//! (ffmpeg `-master_pl_name`) and rendering the one reelay serves.
//!
//! Parsing is as hostile-proof as the media playlist parser's: the same size and line limits,
//! at most [`MAX_RENDITIONS`] renditions, at most 32 attributes per tag, every value checked
//! against its RFC type (§4.2) and a bound, duplicate attributes refused, URIs plain
//! `*.m3u8` file names (a pushed playlist can only name playlists pushed next to it), and every
//! `AUDIO`/`SUBTITLES` group a variant names defined by an `EXT-X-MEDIA` of that type. What is
//! kept is what a player needs to choose: bandwidths, resolution, codecs, frame rate, groups,
//! names, language, default and autoselect.

use std::fmt::Write;

pub use crate::ingest::MAX_RENDITIONS;
use crate::ingest::{PlaylistError, playlist_lines};
const MAX_ATTRIBUTES: usize = 32;
const MAX_TEXT: usize = 256;

/// What an `EXT-X-MEDIA` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Audio,
    Video,
    Subtitles,
}

impl MediaType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Audio => "AUDIO",
            Self::Video => "VIDEO",
            Self::Subtitles => "SUBTITLES",
        }
    }
}

/// An `EXT-X-MEDIA` rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub kind: MediaType,
    pub group_id: String,
    pub name: String,
    pub language: Option<String>,
    pub default: bool,
    pub autoselect: bool,
    pub channels: Option<String>,
    /// Its media playlist; `None`: carried inside the variants' own segments.
    pub uri: Option<String>,
}

/// An `EXT-X-STREAM-INF` variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub uri: String,
    pub bandwidth: u64,
    pub average_bandwidth: Option<u64>,
    pub codecs: Option<String>,
    pub resolution: Option<(u32, u32)>,
    /// Decimal text as written (`25.000`), checked to be a number of frames per second.
    pub frame_rate: Option<String>,
    pub audio: Option<String>,
    pub subtitles: Option<String>,
}

/// A multivariant playlist.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Multivariant {
    pub media: Vec<Media>,
    pub variants: Vec<Variant>,
    pub independent_segments: bool,
}

/// Whether `bytes` look like a multivariant playlist rather than a media playlist.
pub fn is_multivariant(bytes: &[u8]) -> bool {
    let has = |tag: &[u8]| bytes.windows(tag.len()).any(|w| w == tag);
    has(b"#EXT-X-STREAM-INF") || has(b"#EXT-X-MEDIA:")
}

/// A rendition's playlist name: a plain file name ending in `.m3u8`, its stem at most 64 of
/// `A-Z a-z 0-9 _ -` (the stem names the rendition in URLs).
pub fn is_rendition_name(name: &str) -> bool {
    name.strip_suffix(".m3u8").is_some_and(|stem| {
        (1..=64).contains(&stem.len())
            && !stem.starts_with('-')
            && stem
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

/// One attribute value, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    Quoted(&'a str),
    Plain(&'a str),
}

/// An attribute list (§4.2): `NAME=value` pairs, comma-separated, names unique.
pub(crate) fn attributes(list: &str, line: usize) -> Result<Vec<(&str, Value<'_>)>, PlaylistError> {
    let bad = PlaylistError::BadAttribute { line };
    let mut out: Vec<(&str, Value<'_>)> = Vec::new();
    let mut rest = list.trim();
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=').ok_or(bad.clone())?;
        let name_ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok || out.iter().any(|(n, _)| *n == name) || out.len() == MAX_ATTRIBUTES {
            return Err(bad);
        }
        let (value, tail) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').ok_or(bad.clone())?;
                (Value::Quoted(&quoted[..end]), &quoted[end + 1..])
            }
            None => {
                let end = after.find(',').unwrap_or(after.len());
                (Value::Plain(&after[..end]), &after[end..])
            }
        };
        out.push((name, value));
        rest = match tail.strip_prefix(',') {
            Some(next) if !next.is_empty() => next,
            None if tail.is_empty() => "",
            _ => return Err(bad),
        };
    }
    Ok(out)
}

/// Typed reads of an attribute list, each failing with the line.
struct Attrs<'a> {
    list: Vec<(&'a str, Value<'a>)>,
    line: usize,
}

impl<'a> Attrs<'a> {
    fn bad(&self) -> PlaylistError {
        PlaylistError::BadAttribute { line: self.line }
    }

    fn get(&self, name: &str) -> Option<Value<'a>> {
        self.list.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    /// A quoted string of printable characters, at most `max` bytes.
    fn text(&self, name: &str, max: usize) -> Result<Option<String>, PlaylistError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Quoted(s)) if s.len() <= max && !s.chars().any(char::is_control) => {
                Ok(Some(s.to_owned()))
            }
            Some(_) => Err(self.bad()),
        }
    }

    fn integer(&self, name: &str) -> Result<Option<u64>, PlaylistError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Plain(s))
                if (1..=12).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) =>
            {
                s.parse().map(Some).map_err(|_| self.bad())
            }
            Some(_) => Err(self.bad()),
        }
    }

    fn plain(&self, name: &str) -> Option<&'a str> {
        match self.get(name) {
            Some(Value::Plain(s)) => Some(s),
            _ => None,
        }
    }

    fn yes_no(&self, name: &str) -> Result<bool, PlaylistError> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Plain("YES")) => Ok(true),
            Some(Value::Plain("NO")) => Ok(false),
            Some(_) => Err(self.bad()),
        }
    }

    fn uri(&self) -> Result<Option<String>, PlaylistError> {
        match self.text("URI", 128)? {
            Some(u) if is_rendition_name(&u) => Ok(Some(u)),
            Some(_) => Err(PlaylistError::BadUri { line: self.line }),
            None => Ok(None),
        }
    }

    fn resolution(&self) -> Result<Option<(u32, u32)>, PlaylistError> {
        let Some(text) = self.plain("RESOLUTION") else {
            return match self.get("RESOLUTION") {
                None => Ok(None),
                Some(_) => Err(self.bad()),
            };
        };
        let side = |s: &str| {
            s.parse::<u32>()
                .ok()
                .filter(|v| (1..=16_384).contains(v) && s.len() <= 5)
        };
        let (w, h) = text.split_once('x').ok_or(self.bad())?;
        Ok(Some((
            side(w).ok_or(self.bad())?,
            side(h).ok_or(self.bad())?,
        )))
    }

    fn frame_rate(&self) -> Result<Option<String>, PlaylistError> {
        let Some(text) = self.plain("FRAME-RATE") else {
            return match self.get("FRAME-RATE") {
                None => Ok(None),
                Some(_) => Err(self.bad()),
            };
        };
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let ok = (1..=4).contains(&whole.len()) && frac.len() <= 3 && digits(whole) && digits(frac);
        ok.then(|| Some(text.to_owned())).ok_or(self.bad())
    }
}

fn media(attrs: &Attrs<'_>) -> Result<Option<Media>, PlaylistError> {
    let kind = match attrs.plain("TYPE") {
        Some("AUDIO") => MediaType::Audio,
        Some("VIDEO") => MediaType::Video,
        Some("SUBTITLES") => MediaType::Subtitles,
        // Closed captions live inside the video: nothing to relay.
        Some("CLOSED-CAPTIONS") => return Ok(None),
        _ => return Err(attrs.bad()),
    };
    let group_id = attrs.text("GROUP-ID", 64)?.ok_or(attrs.bad())?;
    let name = attrs.text("NAME", 64)?.ok_or(attrs.bad())?;
    let language = attrs.text("LANGUAGE", 35)?;
    if language
        .as_deref()
        .is_some_and(|l| l.is_empty() || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err(attrs.bad());
    }
    Ok(Some(Media {
        kind,
        group_id,
        name,
        language,
        default: attrs.yes_no("DEFAULT")?,
        autoselect: attrs.yes_no("AUTOSELECT")?,
        channels: attrs.text("CHANNELS", 16)?,
        uri: attrs.uri()?,
    }))
}

/// A variant's attributes; its URI comes on the next line.
fn variant(attrs: &Attrs<'_>) -> Result<Variant, PlaylistError> {
    let bandwidth = attrs.integer("BANDWIDTH")?.ok_or(attrs.bad())?;
    Ok(Variant {
        uri: String::new(),
        bandwidth,
        average_bandwidth: attrs.integer("AVERAGE-BANDWIDTH")?,
        codecs: attrs.text("CODECS", MAX_TEXT)?,
        resolution: attrs.resolution()?,
        frame_rate: attrs.frame_rate()?,
        audio: attrs.text("AUDIO", 64)?,
        subtitles: attrs.text("SUBTITLES", 64)?,
    })
}

/// Parses a pushed multivariant playlist.
pub fn parse_multivariant(bytes: &[u8]) -> Result<Multivariant, PlaylistError> {
    let mut out = Multivariant::default();
    let mut pending: Option<Variant> = None;
    for item in playlist_lines(bytes)? {
        let (n, line) = item?;
        let Some(tag) = line.strip_prefix('#') else {
            let mut v = pending.take().ok_or(PlaylistError::BadUri { line: n })?;
            if !is_rendition_name(line) {
                return Err(PlaylistError::BadUri { line: n });
            }
            v.uri = line.to_owned();
            out.variants.push(v);
            out.check_count()?;
            continue;
        };
        let (name, value) = tag.split_once(':').unwrap_or((tag, ""));
        let attrs = || -> Result<Attrs<'_>, PlaylistError> {
            Ok(Attrs {
                list: attributes(value, n)?,
                line: n,
            })
        };
        match name {
            "EXT-X-STREAM-INF" if pending.is_none() => pending = Some(variant(&attrs()?)?),
            "EXT-X-STREAM-INF" => return Err(PlaylistError::DanglingStreamInf),
            "EXT-X-MEDIA" => {
                if let Some(m) = media(&attrs()?)? {
                    out.media.push(m);
                    out.check_count()?;
                }
            }
            "EXT-X-INDEPENDENT-SEGMENTS" => out.independent_segments = true,
            "EXTINF" | "EXT-X-TARGETDURATION" | "EXT-X-MEDIA-SEQUENCE" => {
                return Err(PlaylistError::MixedPlaylist { line: n });
            }
            _ => {}
        }
    }
    if pending.is_some() {
        return Err(PlaylistError::DanglingStreamInf);
    }
    out.check_groups()?;
    Ok(out)
}

impl Multivariant {
    fn check_count(&self) -> Result<(), PlaylistError> {
        if self.renditions().len() > MAX_RENDITIONS {
            Err(PlaylistError::TooManyRenditions)
        } else {
            Ok(())
        }
    }

    /// Every group a variant names exists with the right type; names unique in a group and at
    /// most one default per group (§4.3.4.1.1, §4.3.4.2).
    fn check_groups(&self) -> Result<(), PlaylistError> {
        if self.variants.is_empty() {
            return Err(PlaylistError::NoVariants);
        }
        for v in &self.variants {
            for (group, kind) in [
                (&v.audio, MediaType::Audio),
                (&v.subtitles, MediaType::Subtitles),
            ] {
                if let Some(g) = group
                    && !self
                        .media
                        .iter()
                        .any(|m| m.kind == kind && m.group_id == *g)
                {
                    return Err(PlaylistError::UnknownGroup(g.clone()));
                }
            }
        }
        for (i, m) in self.media.iter().enumerate() {
            let same = |o: &&Media| o.kind == m.kind && o.group_id == m.group_id;
            let mut earlier = self.media[..i].iter().filter(same);
            if earlier.clone().any(|o| o.name == m.name)
                || (m.default && earlier.any(|o| o.default))
            {
                return Err(PlaylistError::BadGroup(m.group_id.clone()));
            }
        }
        Ok(())
    }

    /// The distinct playlist names of its renditions, variants first, in order.
    pub fn renditions(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        let uris = self.variants.iter().map(|v| v.uri.as_str());
        for uri in uris.chain(self.media.iter().filter_map(|m| m.uri.as_deref())) {
            if !names.contains(&uri) {
                names.push(uri);
            }
        }
        names
    }

    /// The same playlist with every URI passed through `map` (to serve it).
    pub fn map_uris(&self, map: impl Fn(&str) -> String) -> Self {
        let mut out = self.clone();
        for v in &mut out.variants {
            v.uri = map(&v.uri);
        }
        for m in &mut out.media {
            m.uri = m.uri.as_deref().map(&map);
        }
        out
    }

    /// The playlist's text. URIs are written as given (the caller made them).
    pub fn render(&self) -> String {
        let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n");
        if self.independent_segments {
            out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
        }
        for m in &self.media {
            let _ = write!(
                out,
                "#EXT-X-MEDIA:TYPE={},GROUP-ID=\"{}\",NAME=\"{}\"",
                m.kind.as_str(),
                m.group_id,
                m.name
            );
            if let Some(l) = &m.language {
                let _ = write!(out, ",LANGUAGE=\"{l}\"");
            }
            let yes = |b: bool| if b { "YES" } else { "NO" };
            let _ = write!(
                out,
                ",DEFAULT={},AUTOSELECT={}",
                yes(m.default),
                yes(m.autoselect)
            );
            if let Some(c) = &m.channels {
                let _ = write!(out, ",CHANNELS=\"{c}\"");
            }
            if let Some(u) = &m.uri {
                let _ = write!(out, ",URI=\"{u}\"");
            }
            out.push('\n');
        }
        for v in &self.variants {
            let _ = write!(out, "#EXT-X-STREAM-INF:BANDWIDTH={}", v.bandwidth);
            if let Some(a) = v.average_bandwidth {
                let _ = write!(out, ",AVERAGE-BANDWIDTH={a}");
            }
            if let Some(c) = &v.codecs {
                let _ = write!(out, ",CODECS=\"{c}\"");
            }
            if let Some((w, h)) = v.resolution {
                let _ = write!(out, ",RESOLUTION={w}x{h}");
            }
            if let Some(f) = &v.frame_rate {
                let _ = write!(out, ",FRAME-RATE={f}");
            }
            if let Some(a) = &v.audio {
                let _ = write!(out, ",AUDIO=\"{a}\"");
            }
            if let Some(s) = &v.subtitles {
                let _ = write!(out, ",SUBTITLES=\"{s}\"");
            }
            let _ = write!(out, "\n{}\n", v.uri);
        }
        out
    }
}

#[cfg(test)]
#[path = "multivariant_tests.rs"]
mod tests;
