//! On the control node: segments forwarded by edge nodes. An edge numbers a source's segments
//! itself (the control's `next_msn` only rises to follow, so numbers never go backwards), and
//! uploads each one idempotently keyed by `(source, msn)`: a segment the control has is not
//! stored twice. A live segment newer than the window's newest joins the window (after a gap,
//! with a discontinuity); any other one — a backfill after an outage, or a recording-only
//! segment while streaming is off — goes only into the recordings that cover it.
//!
//! Low-Latency parts come ahead of their segment, one request each, as the edge cuts them
//! ([`Live::accept_forwarded_part`]): published at once, in order or refused; the segment, when
//! it follows, closes them like a local one (`LowLatency::end`).

use std::path::{Path, PathBuf};

use super::ll::published::{PartRefused, StoredPart};
use super::segment::rendition_file;
use super::sources::SourceRow;
use super::{Live, LiveError, SegmentRow};
use crate::stream::BodyStream;

/// How far past the newest segment of its window (or the rendition's next number) a forwarded
/// sequence number may lie: an edge's whole buffer of 1 s segments for hours, and nowhere near
/// the numbers that would freeze a stream or overflow.
pub(crate) const FORWARDED_LEAP_MAX: i64 = 10_000;

/// A segment as described by the edge that forwards it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForwardedSegment {
    pub(crate) msn: u64,
    /// `ts` or `m4s`.
    pub(crate) ext: String,
    pub(crate) duration_ms: u64,
    pub(crate) pdt_ms: i64,
    pub(crate) discontinuity: bool,
    /// The fMP4 init section's name, forwarded before the segment.
    pub(crate) map_file: Option<String>,
    /// The rendition it belongs to.
    pub(crate) rendition: String,
    /// The edge forwards it for the live window (streaming is on), not only for recordings.
    pub(crate) live: bool,
}

/// What became of a forwarded segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarded {
    Stored,
    AlreadyHad,
}

impl Live {
    /// Where forwarded uploads land before they are accepted.
    fn forwarded_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id).join("forwarded")
    }

    /// Streams a forwarded body (bounded like any segment) to a uniquely named file; its path.
    pub(crate) async fn receive_forwarded(
        &self,
        source: &SourceRow,
        file: &str,
        body: BodyStream,
    ) -> Result<PathBuf, LiveError> {
        let dir = self.forwarded_dir(&source.id);
        let part = format!("{}-{file}", crate::random::u64());
        Self::store_body(&dir, &part, body, self.settings.max_segment_bytes).await?;
        Ok(dir.join(part))
    }

    /// Takes a forwarded segment whose body is the file at `body`; whatever refuses it, the
    /// file is removed (a refused upload leaves nothing in `forwarded/`).
    pub(crate) async fn accept_forwarded(
        &self,
        source: &SourceRow,
        seg: &ForwardedSegment,
        body: &Path,
    ) -> Result<Forwarded, LiveError> {
        let taken = self.take_forwarded(source, seg, body).await;
        if taken.is_err() {
            let _ = std::fs::remove_file(body);
        }
        taken
    }

    async fn take_forwarded(
        &self,
        source: &SourceRow,
        seg: &ForwardedSegment,
        body: &Path,
    ) -> Result<Forwarded, LiveError> {
        let (channel, _) = self.admitted(source, &seg.rendition).await?;
        let mut ch = channel.lock().await;
        let msn = i64::try_from(seg.msn)
            .map_err(|_| LiveError::Invalid("sequence number out of range".into()))?;
        let base = ch.recent.back().map_or(source.next_msn, |r| r.msn);
        if msn > base.saturating_add(FORWARDED_LEAP_MAX) {
            return Err(LiveError::Invalid(format!(
                "sequence number {msn} is more than {FORWARDED_LEAP_MAX} past the stream's {base}"
            )));
        }
        let segments_dir = self.segments_dir(&source.id);
        if ch.recent.iter().any(|r| r.msn == msn) {
            let _ = std::fs::remove_file(body);
            return Ok(Forwarded::AlreadyHad);
        }
        let map_file = seg
            .map_file
            .as_ref()
            .map(|m| rendition_file(&seg.rendition, m));
        if let Some(map) = &map_file
            && !self.ensure_local(&source.id, map).await.unwrap_or(false)
        {
            return Err(LiveError::Conflict(format!(
                "init section {map} has not been forwarded"
            )));
        }
        let newest = ch.recent.back().map(|r| r.msn);
        let into_window = seg.live && newest.is_none_or(|n| msn > n);
        let gap = newest.is_some_and(|n| n.checked_add(1) != Some(msn));
        let discontinuity = seg.discontinuity || (into_window && gap);
        let file = rendition_file(&seg.rendition, &format!("{msn}.{}", seg.ext));
        let bytes = std::fs::metadata(body)?.len();
        std::fs::rename(body, segments_dir.join(&file))?;
        let mut row = SegmentRow {
            source_id: source.id.clone(),
            rendition: seg.rendition.clone(),
            msn,
            file,
            duration_ms: i64::try_from(seg.duration_ms).unwrap_or(i64::MAX),
            // Recordings get the encoder's discontinuities only: a gap in the live window is
            // filled in a recording by the backfill (and a gap that stays shows by number).
            discontinuity: i64::from(seg.discontinuity),
            pdt_ms: seg.pdt_ms,
            map_file,
            bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
        };
        self.sources
            .raise_next_msn(&source.id, &seg.rendition, msn.saturating_add(1))
            .await?;
        self.add_to_recordings(&row).await?;
        self.metrics.received.inc();
        if !into_window {
            self.remove_segment_file(&source.id, &row.file);
            return Ok(Forwarded::Stored);
        }
        row.discontinuity = i64::from(discontinuity);
        if discontinuity {
            self.count_discontinuity(&source.id, &mut ch).await?;
        }
        self.share_file(&source.id, &row.file).await;
        let discontinuities = ch.discontinuities;
        ch.recent.commit(row.clone(), discontinuities).await?;
        let end_ms = row.pdt_ms.saturating_add(row.duration_ms);
        let lag_ms = crate::db::now_ms().saturating_sub(end_ms).max(0);
        self.metrics.lag.observe(lag_ms as f64 / 1000.0);
        // Its parts (when the edge forwarded them) are closed: the segment is listed.
        self.ll.end(&source.id, &seg.rendition, seg.msn);
        self.prune(&source.id, &mut ch).await?;
        self.arrivals.send_modify(|v| *v = v.wrapping_add(1));
        Ok(Forwarded::Stored)
    }

    /// Takes part `index` of segment `msn` of `rendition`, cut by the edge that forwards the
    /// source, and publishes it (waking held reloads) — only while the source streams.
    pub(crate) async fn accept_forwarded_part(
        &self,
        source: &SourceRow,
        (rendition, msn, index): (&str, u64, u64),
        part: StoredPart,
    ) -> Result<(), LiveError> {
        if source.streaming == 0 {
            return Err(LiveError::Conflict(format!(
                "{} is not streaming: parts are for live viewers",
                source.name
            )));
        }
        self.admitted(source, rendition).await?;
        self.ll
            .accept((&source.id, rendition), msn, index, part)
            .map_err(|e: PartRefused| LiveError::Conflict(e.to_string()))
    }

    /// Segment `msn` of `rendition` will not come: the edge's upload of it failed.
    pub(crate) fn abandon_forwarded_part(&self, source: &SourceRow, rendition: &str, msn: u64) {
        self.ll.abandon(&source.id, rendition, msn);
    }

    /// Takes a forwarded fMP4 init section (its name is unique to its bytes).
    pub(crate) async fn accept_forwarded_init(
        &self,
        source: &SourceRow,
        rendition: &str,
        file: &str,
        body: &Path,
    ) -> Result<Forwarded, LiveError> {
        if let Err(e) = self.admitted(source, rendition).await {
            let _ = std::fs::remove_file(body);
            return Err(e);
        } // the rendition's folders exist now
        let name = rendition_file(rendition, file);
        // Had here, or (in a cluster) accepted by another node: fetched now, so a segment
        // naming it can be checked against it.
        if self.ensure_local(&source.id, &name).await.unwrap_or(false) {
            let _ = std::fs::remove_file(body);
            return Ok(Forwarded::AlreadyHad);
        }
        std::fs::rename(body, self.segments_dir(&source.id).join(&name))?;
        self.share_file(&source.id, &name).await;
        Ok(Forwarded::Stored)
    }
}
