//! What viewers and recordings see of a source's buffer: the live playlist's window (the newest
//! segments, cut after the last gap in sequence numbers) and the start of a recording, which
//! takes the buffered segments from its start time on.

use std::collections::VecDeque;

use reelay_hls::{MediaPlaylist, PlaylistKind, PlaylistSegment};

use super::segment::file_name;
use super::sources::SourceRow;
use super::{Live, LiveError, SegmentRow, recordings};

impl Live {
    /// The live media playlist of `rendition` of `source`: every URI is `prefix`, the file's
    /// name, then `suffix` (a signed query).
    pub(crate) async fn live_playlist(
        &self,
        source: &SourceRow,
        rendition: &str,
        prefix: &str,
        suffix: &str,
    ) -> Result<Option<String>, LiveError> {
        let Some((window, discontinuities)) = self.window_of(source, rendition).await? else {
            return Ok(None);
        };
        let Some(first) = window.first() else {
            return Ok(None);
        };
        // The first segment's discontinuity is not written (nothing precedes it in the
        // playlist), so it counts in EXT-X-DISCONTINUITY-SEQUENCE instead.
        let in_window = window
            .iter()
            .skip(1)
            .filter(|r| r.discontinuity != 0)
            .count() as u64;
        let playlist = MediaPlaylist {
            kind: PlaylistKind::Live,
            media_sequence: u64::try_from(first.msn).unwrap_or(0),
            discontinuity_sequence: discontinuities.saturating_sub(in_window),
            target_floor: u64::try_from(source.target_duration).unwrap_or(2),
            segments: window
                .iter()
                .map(|r| PlaylistSegment {
                    uri: format!("{prefix}{}{suffix}", file_name(&r.file)),
                    duration_ms: u64::try_from(r.duration_ms).unwrap_or(0),
                    discontinuity: r.discontinuity != 0,
                    program_date_time_ms: Some(r.pdt_ms),
                    map_uri: r
                        .map_file
                        .as_ref()
                        .map(|m| format!("{prefix}{}{suffix}", file_name(m))),
                })
                .collect(),
        };
        Ok(Some(playlist.render()))
    }

    /// The live window of `rendition` of `source` ([`live_window`], up to date in a cluster)
    /// and the rendition's count of discontinuities; `None` before any segment.
    pub(super) async fn window_of(
        &self,
        source: &SourceRow,
        rendition: &str,
    ) -> Result<Option<(Vec<SegmentRow>, u64)>, LiveError> {
        let Some(channel) = self.existing(source, rendition).await? else {
            return Ok(None);
        };
        let mut ch = channel.lock().await;
        self.catch_up(source, &mut ch).await?;
        let window: Vec<SegmentRow> = live_window(&ch.recent, self.settings.window)
            .into_iter()
            .cloned()
            .collect();
        Ok((!window.is_empty()).then_some((window, ch.discontinuities)))
    }

    /// Starts a recording of `source` from `start_ms` (possibly in the past): the buffered
    /// segments that end after it are copied at once, the rest as they arrive.
    pub(crate) async fn start_recording(
        &self,
        source: &SourceRow,
        start_ms: i64,
        alias: &str,
        description: &str,
    ) -> Result<recordings::RecordingRow, LiveError> {
        let recordings = self.recordings()?;
        let rec = recordings
            .create(&source.id, alias, description, start_ms)
            .await?;
        for rendition in self.buffered_renditions(source).await? {
            let channel = self.channel(source, &rendition.name).await?;
            let ch = channel.lock().await;
            for row in ch
                .recent
                .iter()
                .filter(|r| r.pdt_ms + r.duration_ms > start_ms)
            {
                // In a cluster, another node may have accepted it: fetched once from the tier.
                for file in std::iter::once(&row.file).chain(&row.map_file) {
                    self.ensure_local(&source.id, file).await?;
                }
                recordings
                    .add(&rec, row, &self.segments_dir(&source.id))
                    .await?;
            }
        }
        self.changed();
        Ok(rec)
    }
}

/// The newest `size` segments, cut after the last gap in sequence numbers (segments an edge
/// did not forward): a playlist's URIs take consecutive numbers from EXT-X-MEDIA-SEQUENCE, so
/// a gap cannot be inside it. The segment after a gap carries a discontinuity.
fn live_window(recent: &VecDeque<SegmentRow>, size: usize) -> Vec<&SegmentRow> {
    let start = recent.len().saturating_sub(size);
    let mut window: Vec<&SegmentRow> = recent.iter().skip(start).collect();
    if let Some(gap) = (1..window.len())
        .rev()
        .find(|&i| window[i - 1].msn.checked_add(1) != Some(window[i].msn))
    {
        window.drain(..gap);
    }
    window
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(msns: &[i64]) -> VecDeque<SegmentRow> {
        msns.iter()
            .map(|&msn| SegmentRow {
                source_id: "s".into(),
                rendition: "index".into(),
                msn,
                file: format!("{msn}.ts"),
                duration_ms: 1000,
                discontinuity: 0,
                pdt_ms: msn * 1000,
                map_file: None,
                bytes: 1,
            })
            .collect()
    }

    fn msns(window: &[&SegmentRow]) -> Vec<i64> {
        window.iter().map(|r| r.msn).collect()
    }

    #[test]
    fn the_window_is_the_newest_segments() {
        assert_eq!(msns(&live_window(&rows(&[1, 2, 3, 4, 5]), 3)), [3, 4, 5]);
        assert_eq!(msns(&live_window(&rows(&[1, 2]), 3)), [1, 2]);
        assert!(live_window(&rows(&[]), 3).is_empty());
    }

    #[test]
    fn the_window_starts_after_its_last_gap() {
        assert_eq!(msns(&live_window(&rows(&[1, 2, 3, 7, 8]), 6)), [7, 8]);
        assert_eq!(msns(&live_window(&rows(&[1, 5, 6, 9]), 6)), [9]);
        // A gap older than the window does not matter.
        assert_eq!(msns(&live_window(&rows(&[1, 5, 6, 7, 8]), 3)), [6, 7, 8]);
    }
}
