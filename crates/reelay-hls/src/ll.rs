//! Low-Latency HLS media playlists (RFC 8216bis §4.4.3.7-8, §4.4.4.9, §4.4.5.2-3, §6.2.5):
//! the model a live rendition is served from — complete segments with their partial segments,
//! the parts of the segment still arriving, a preload hint for the next part, rendition
//! reports, and a delta update's skipped segments — and its rendering.
//!
//! Times are integer milliseconds, so the playlist says exactly what was measured, and the
//! server-control values follow Apple's authoring rules, which are stricter than the RFC's
//! MUSTs: `PART-HOLD-BACK` at least 3 part targets, `CAN-SKIP-UNTIL` at least 6 target
//! durations ([`LlPlaylist::new`] picks those). [`crate::ll_check`] checks any playlist,
//! rendered here or not, against the same rules.

use std::fmt::Write;

use crate::live::format_program_date_time;

/// A partial segment (`EXT-X-PART`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub uri: String,
    pub duration_ms: u64,
    /// It starts with an independent frame (`INDEPENDENT=YES`).
    pub independent: bool,
    /// A byte range of `uri`: (length, offset).
    pub byterange: Option<(u64, u64)>,
}

/// A complete media segment and, near the live edge, the parts it was published as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlSegment {
    pub uri: String,
    pub duration_ms: u64,
    /// Its parts, in order; empty once it is far enough from the edge (or never had any).
    pub parts: Vec<Part>,
    pub discontinuity: bool,
    /// `EXT-X-PROGRAM-DATE-TIME`, unix milliseconds.
    pub program_date_time_ms: Option<i64>,
}

/// A rendition report (`EXT-X-RENDITION-REPORT`) for another rendition of the same source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenditionReport {
    pub uri: String,
    pub last_msn: u64,
    pub last_part: Option<u64>,
}

/// An LL-HLS media playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlPlaylist {
    /// Seconds: at least every complete segment's duration, rounded.
    pub target_duration: u64,
    pub part_target_ms: u64,
    pub part_hold_back_ms: u64,
    /// `None`: no delta updates offered.
    pub can_skip_until_ms: Option<u64>,
    /// The media sequence number of the first segment, skipped or not.
    pub media_sequence: u64,
    pub discontinuity_sequence: u64,
    /// `EXT-X-MAP` for fMP4 segments.
    pub map_uri: Option<String>,
    /// Segments replaced by `EXT-X-SKIP` (a delta update): the first this many of the window.
    pub skipped: u64,
    /// The complete segments listed (those after the skipped ones).
    pub segments: Vec<LlSegment>,
    /// Parts of the segment in progress.
    pub pending: Vec<Part>,
    /// `EXT-X-PRELOAD-HINT:TYPE=PART`: the next part's URI (and its byte offset in it).
    pub preload_hint: Option<(String, Option<u64>)>,
    pub reports: Vec<RenditionReport>,
}

impl LlPlaylist {
    /// An empty playlist with Apple's server-control values for these targets.
    pub fn new(target_duration: u64, part_target_ms: u64) -> Self {
        Self {
            target_duration,
            part_target_ms,
            part_hold_back_ms: part_target_ms.saturating_mul(3),
            can_skip_until_ms: Some(target_duration.saturating_mul(6_000)),
            media_sequence: 0,
            discontinuity_sequence: 0,
            map_uri: None,
            skipped: 0,
            segments: Vec::new(),
            pending: Vec::new(),
            preload_hint: None,
            reports: Vec::new(),
        }
    }

    /// The playlist text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(256 + 96 * self.segments.len());
        let version = if self.skipped > 0 { 9 } else { 6 };
        let _ = write!(
            out,
            "#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-TARGETDURATION:{}\n",
            self.target_duration
        );
        out.push_str("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES");
        if let Some(until) = self.can_skip_until_ms {
            let _ = write!(out, ",CAN-SKIP-UNTIL={}", secs(until));
        }
        let _ = writeln!(out, ",PART-HOLD-BACK={}", secs(self.part_hold_back_ms));
        let _ = writeln!(
            out,
            "#EXT-X-PART-INF:PART-TARGET={}",
            secs(self.part_target_ms)
        );
        let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{}", self.media_sequence);
        if self.discontinuity_sequence > 0 {
            let _ = writeln!(
                out,
                "#EXT-X-DISCONTINUITY-SEQUENCE:{}",
                self.discontinuity_sequence
            );
        }
        if let Some(map) = &self.map_uri {
            let _ = writeln!(out, "#EXT-X-MAP:URI=\"{map}\"");
        }
        if self.skipped > 0 {
            let _ = writeln!(out, "#EXT-X-SKIP:SKIPPED-SEGMENTS={}", self.skipped);
        }
        for segment in &self.segments {
            render_segment(&mut out, segment);
        }
        for part in &self.pending {
            render_part(&mut out, part);
        }
        if let Some((uri, offset)) = &self.preload_hint {
            let _ = write!(out, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{uri}\"");
            if let Some(start) = offset {
                let _ = write!(out, ",BYTERANGE-START={start}");
            }
            out.push('\n');
        }
        for report in &self.reports {
            let _ = write!(
                out,
                "#EXT-X-RENDITION-REPORT:URI=\"{}\",LAST-MSN={}",
                report.uri, report.last_msn
            );
            if let Some(part) = report.last_part {
                let _ = write!(out, ",LAST-PART={part}");
            }
            out.push('\n');
        }
        out
    }
}

fn render_segment(out: &mut String, segment: &LlSegment) {
    if segment.discontinuity {
        out.push_str("#EXT-X-DISCONTINUITY\n");
    }
    if let Some(pdt) = segment.program_date_time_ms {
        let _ = writeln!(
            out,
            "#EXT-X-PROGRAM-DATE-TIME:{}",
            format_program_date_time(pdt)
        );
    }
    for part in &segment.parts {
        render_part(out, part);
    }
    let _ = writeln!(
        out,
        "#EXTINF:{},\n{}",
        secs(segment.duration_ms),
        segment.uri
    );
}

fn render_part(out: &mut String, part: &Part) {
    let _ = write!(
        out,
        "#EXT-X-PART:DURATION={},URI=\"{}\"",
        secs(part.duration_ms),
        part.uri
    );
    if part.independent {
        out.push_str(",INDEPENDENT=YES");
    }
    if let Some((len, offset)) = part.byterange {
        let _ = write!(out, ",BYTERANGE=\"{len}@{offset}\"");
    }
    out.push('\n');
}

/// Milliseconds as decimal seconds with three places: `1500` → `1.500`.
pub fn secs(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_playlist_lists_parts_before_their_segment_then_the_pending_parts_and_the_hint() {
        let mut p = LlPlaylist::new(2, 500);
        p.media_sequence = 7;
        p.map_uri = Some("init.mp4".into());
        let part = |uri: &str, independent| Part {
            uri: uri.into(),
            duration_ms: 500,
            independent,
            byterange: None,
        };
        p.segments.push(LlSegment {
            uri: "7.m4s".into(),
            duration_ms: 1000,
            parts: vec![part("7.0.m4s", true), part("7.1.m4s", false)],
            discontinuity: false,
            program_date_time_ms: Some(0),
        });
        p.pending.push(part("8.0.m4s", true));
        p.preload_hint = Some(("8.1.m4s".into(), None));
        p.reports.push(RenditionReport {
            uri: "../audio/index.m3u8".into(),
            last_msn: 8,
            last_part: Some(0),
        });
        assert_eq!(
            p.render(),
            "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n\
             #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.000,PART-HOLD-BACK=1.500\n\
             #EXT-X-PART-INF:PART-TARGET=0.500\n#EXT-X-MEDIA-SEQUENCE:7\n\
             #EXT-X-MAP:URI=\"init.mp4\"\n\
             #EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:00.000Z\n\
             #EXT-X-PART:DURATION=0.500,URI=\"7.0.m4s\",INDEPENDENT=YES\n\
             #EXT-X-PART:DURATION=0.500,URI=\"7.1.m4s\"\n#EXTINF:1.000,\n7.m4s\n\
             #EXT-X-PART:DURATION=0.500,URI=\"8.0.m4s\",INDEPENDENT=YES\n\
             #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"8.1.m4s\"\n\
             #EXT-X-RENDITION-REPORT:URI=\"../audio/index.m3u8\",LAST-MSN=8,LAST-PART=0\n"
        );
    }

    #[test]
    fn a_delta_update_says_how_many_segments_it_skipped_and_needs_version_9() {
        let mut p = LlPlaylist::new(2, 500);
        p.skipped = 3;
        let text = p.render();
        assert!(text.contains("#EXT-X-VERSION:9\n"), "{text}");
        assert!(text.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n"), "{text}");
    }
}
