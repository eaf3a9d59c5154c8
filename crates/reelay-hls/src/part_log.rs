//! The live edge of one LL-HLS rendition as parts arrive: [`PartLog`] takes each part when
//! it is cut and each segment when it completes, keeps the window, and answers with the
//! playlist to serve ([`PartLog::playlist`], full or as a delta update) and with where the
//! rendition stands ([`PartLog::edge`], for blocking reloads).
//!
//! Parts are listed only for the segments within three target durations of the live edge
//! (RFC 8216bis §6.2.2: older parts SHOULD go); the server keeps the parts' bytes fetchable
//! for three more target durations, which is its business, not the playlist's. A delta update
//! skips the segments older than `CAN-SKIP-UNTIL` from the end (§6.2.5.1).

use std::collections::VecDeque;

use crate::blocking::LiveEdge;
use crate::live::rounded_secs;
use crate::ll::{LlPlaylist, LlSegment, Part};

/// The LL state of one rendition.
#[derive(Debug, Clone)]
pub struct PartLog {
    /// The configured target duration, seconds (the playlist's never goes below it).
    target_floor: u64,
    part_target_ms: u64,
    /// Segments kept in the playlist.
    window: usize,
    /// Complete segments, oldest first, and the msn of the first.
    segments: VecDeque<LlSegment>,
    first_msn: u64,
    /// Parts of the segment arriving now (its msn is `next_msn()`).
    pending: Vec<Part>,
    map_uri: Option<String>,
}

impl PartLog {
    /// An empty log whose first segment will have `first_msn`.
    pub fn new(target_floor: u64, part_target_ms: u64, window: usize, first_msn: u64) -> Self {
        Self {
            target_floor: target_floor.max(1),
            part_target_ms: part_target_ms.max(1),
            window: window.max(1),
            segments: VecDeque::new(),
            first_msn,
            pending: Vec::new(),
            map_uri: None,
        }
    }

    /// The media sequence number of the segment now arriving.
    pub fn next_msn(&self) -> u64 {
        self.first_msn.saturating_add(self.segments.len() as u64)
    }

    /// The initialization segment the parts need (`EXT-X-MAP`).
    pub fn set_map(&mut self, uri: String) {
        self.map_uri = Some(uri);
    }

    /// A part of the arriving segment has been cut; its index in that segment.
    pub fn push_part(&mut self, part: Part) -> u64 {
        self.pending.push(part);
        self.pending.len() as u64 - 1
    }

    /// The arriving segment is complete: it takes the pending parts and enters the window.
    pub fn finish_segment(&mut self, uri: String, duration_ms: u64, pdt_ms: Option<i64>) {
        let parts = std::mem::take(&mut self.pending);
        self.segments.push_back(LlSegment {
            uri,
            duration_ms,
            parts,
            discontinuity: false,
            program_date_time_ms: pdt_ms,
        });
        while self.segments.len() > self.window {
            self.segments.pop_front();
            self.first_msn = self.first_msn.saturating_add(1);
        }
    }

    fn target_duration(&self) -> u64 {
        let longest = self
            .segments
            .iter()
            .map(|s| s.duration_ms)
            .max()
            .unwrap_or(0);
        rounded_secs(longest).max(self.target_floor)
    }

    /// Where the rendition stands, for blocking reloads.
    pub fn edge(&self) -> LiveEdge {
        let last_part = match self.pending.len() {
            0 => self.segments.back().and_then(|s| {
                let parts = s.parts.len() as u64;
                (parts > 0).then(|| (self.next_msn().saturating_sub(1), parts - 1))
            }),
            n => Some((self.next_msn(), n as u64 - 1)),
        };
        LiveEdge {
            next_msn: self.next_msn(),
            last_part,
            part_target_ms: self.part_target_ms,
        }
    }

    /// The playlist to serve; `delta` asks for a delta update; `hint` names the next part.
    pub fn playlist(&self, delta: bool, hint: Option<String>) -> LlPlaylist {
        let target = self.target_duration();
        let mut p = LlPlaylist::new(target, self.part_target_ms);
        p.media_sequence = self.first_msn;
        p.map_uri = self.map_uri.clone();
        let keep_parts_ms = target.saturating_mul(3000);
        let skip_until_ms = p.can_skip_until_ms.unwrap_or(u64::MAX);
        // Each segment's distance from the live edge: the time from its end to the edge.
        let pending_ms: u64 = self.pending.iter().map(|x| x.duration_ms).sum();
        let mut from_end = pending_ms;
        let mut listed: Vec<LlSegment> = Vec::with_capacity(self.segments.len());
        let mut skipped = 0u64;
        for (i, segment) in self.segments.iter().enumerate().rev() {
            let mut s = segment.clone();
            if from_end >= keep_parts_ms {
                s.parts.clear();
            }
            from_end = from_end.saturating_add(segment.duration_ms);
            if delta && from_end > skip_until_ms {
                skipped = i as u64 + 1;
                break;
            }
            listed.push(s);
        }
        listed.reverse();
        p.skipped = skipped;
        p.segments = listed;
        p.pending = self.pending.clone();
        p.preload_hint = hint.map(|uri| (uri, None));
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check_ll_media_playlist;

    fn part(uri: String, independent: bool) -> Part {
        Part {
            uri,
            duration_ms: 250,
            independent,
            byterange: None,
        }
    }

    /// `segments` segments of 8 parts of 250 ms, then `pending` parts.
    fn log(segments: u64, pending: u64) -> PartLog {
        let mut log = PartLog::new(2, 250, 100, 0);
        for msn in 0..segments {
            for i in 0..8 {
                log.push_part(part(format!("{msn}.{i}.m4s"), i == 0));
            }
            log.finish_segment(format!("{msn}.m4s"), 2000, None);
        }
        for i in 0..pending {
            log.push_part(part(format!("{segments}.{i}.m4s"), i == 0));
        }
        log
    }

    #[test]
    fn parts_are_listed_only_near_the_live_edge_and_every_playlist_conforms() {
        let log = log(10, 3);
        let p = log.playlist(false, Some("10.3.m4s".into()));
        let with_parts = p.segments.iter().filter(|s| !s.parts.is_empty()).count();
        // 750 ms pending + 3 segments end within 6 s of the edge.
        assert_eq!(with_parts, 3, "{}", p.render());
        assert_eq!(p.segments.len(), 10);
        assert_eq!(check_ll_media_playlist(&p.render()), Vec::<String>::new());
        assert_eq!(log.edge().last_part, Some((10, 2)));
        assert_eq!(log.edge().next_msn, 10);
    }

    #[test]
    fn a_delta_update_skips_what_lies_beyond_can_skip_until() {
        let log = log(10, 0);
        let p = log.playlist(true, None);
        // CAN-SKIP-UNTIL is 12 s: the six newest 2 s segments stay, four are skipped.
        assert_eq!((p.skipped, p.segments.len()), (4, 6), "{}", p.render());
        assert_eq!(p.media_sequence, 0);
        assert_eq!(check_ll_media_playlist(&p.render()), Vec::<String>::new());
        assert_eq!(
            log.edge().last_part,
            Some((9, 7)),
            "the last part of the last segment"
        );
    }

    #[test]
    fn the_window_slides_and_the_media_sequence_follows() {
        let mut log = PartLog::new(2, 250, 3, 40);
        for msn in 40..45 {
            log.finish_segment(format!("{msn}.m4s"), 2000, None);
        }
        let p = log.playlist(false, None);
        assert_eq!(p.media_sequence, 42);
        assert_eq!(p.segments.len(), 3);
        assert_eq!(log.next_msn(), 45);
        assert_eq!(log.edge().last_part, None, "no parts at all");
    }
}
