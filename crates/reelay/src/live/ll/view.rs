//! What LL-HLS viewers get of a rendition that publishes parts: its classic window (the same
//! segments, numbers and URIs as a classic client reads at the same URL) with the published
//! parts laid over the newest segments, the parts of the segment arriving now, a preload hint
//! for the next part, rendition reports for the source's other LL renditions, and blocking
//! reloads (`_HLS_msn`/`_HLS_part`, answered when the rendition reaches that point or with a
//! 503 after three target durations) and delta updates (`_HLS_skip`).
//!
//! Part URIs are `p{msn}-{index}.m4s` beside the rendition's segments; a part asked for before
//! it is published (the preload hint) is answered when it is, within the same bound — or, when
//! it is arriving on this node, from its first bytes on, as they come (`ll/growing.rs`).

use std::sync::Arc;
use std::time::Duration;

use reelay_hls::{LlPlaylist, Part};
use reelay_hls::{LlQuery, PartLog, RenditionReport, Skip};

use crate::live::ll::growing::Grown;
use crate::live::ll::published::{LowLatency, StoredPart};
use crate::live::ll::renderings::{Kept, LlAnswer, RenderKey, Rendered};
use crate::live::segment::file_name;
use crate::live::sources::SourceRow;
use crate::live::{Live, LiveError};
use crate::stream::ByteStream;

/// The URI of part `index` of segment `msn`.
pub(crate) fn part_uri(msn: u64, index: u64) -> String {
    format!("p{msn}-{index}.m4s")
}

/// `p12-3.m4s` → (12, 3).
pub fn parse_part_uri(file: &str) -> Option<(u64, u64)> {
    let (msn, index) = file
        .strip_prefix('p')?
        .strip_suffix(".m4s")?
        .split_once('-')?;
    let digits = |s: &str| (1..=19).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(msn) || !digits(index) {
        return None;
    }
    Some((msn.parse().ok()?, index.parse().ok()?))
}

/// A rendition's LL state, built from its window and its parts.
struct Built {
    log: PartLog,
    /// Discontinuity flags by msn, and EXT-X-DISCONTINUITY-SEQUENCE.
    discontinuities: Vec<u64>,
    discontinuity_sequence: u64,
}

impl Live {
    /// Counts a blocking request as held, or refuses it (503, `Retry-After`) when this node
    /// holds `[live] max_held_reloads` already.
    fn hold_request(&self) -> Result<crate::live::metrics::HeldRequest, LiveError> {
        self.metrics
            .hold(self.settings.max_held)
            .ok_or(LiveError::Busy(
                "this node holds as many blocking reloads as it may; retry shortly",
            ))
    }

    async fn ll_build(
        &self,
        source: &SourceRow,
        rendition: &str,
    ) -> Result<Option<Built>, LiveError> {
        let Some(view) = self.ll.view(&source.id, rendition) else {
            return Ok(None);
        };
        let Some((window, discontinuity_count)) = self.window_of(source, rendition).await? else {
            return Ok(None);
        };
        let Some(first) = window.first() else {
            return Ok(None);
        };
        let floor = u64::try_from(source.target_duration).unwrap_or(2);
        let first_msn = u64::try_from(first.msn).unwrap_or(0);
        let mut log = PartLog::new(floor, view.part_target_ms, self.settings.window, first_msn);
        let parts_of = |log: &mut PartLog, msn: u64| {
            for (index, (duration_ms, independent)) in
                view.segments.get(&msn).into_iter().flatten().enumerate()
            {
                log.push_part(Part {
                    uri: part_uri(msn, index as u64),
                    duration_ms: *duration_ms,
                    independent: *independent,
                    byterange: None,
                });
            }
        };
        let mut discontinuities = Vec::new();
        for row in &window {
            let msn = u64::try_from(row.msn).unwrap_or(0);
            parts_of(&mut log, msn);
            let uri = file_name(&row.file).to_owned();
            let duration = u64::try_from(row.duration_ms).unwrap_or(0);
            log.finish_segment(uri, duration, Some(row.pdt_ms));
            if row.discontinuity != 0 && msn != first_msn {
                discontinuities.push(msn);
            }
        }
        if let Some(map) = window.last().and_then(|r| r.map_file.as_ref()) {
            log.set_map(file_name(map).to_owned());
        }
        let next = log.next_msn();
        if view.arriving == Some(next) {
            parts_of(&mut log, next);
        }
        let in_window = discontinuities.len() as u64;
        Ok(Some(Built {
            log,
            discontinuities,
            discontinuity_sequence: discontinuity_count.saturating_sub(in_window),
        }))
    }

    /// The LL playlist of `rendition` of `source` for `query`; `None` when the rendition
    /// publishes no parts (the classic playlist serves it). Blocks as the module docs say.
    pub(crate) async fn ll_playlist(
        &self,
        source: &SourceRow,
        rendition: &str,
        query: LlQuery,
        suffix: &str,
    ) -> Result<Option<Arc<LlAnswer>>, LiveError> {
        let mut published = self.ll.subscribe(&source.id, rendition);
        let key: RenderKey = (
            source.id.clone(),
            rendition.to_owned(),
            query.skip != Skip::No,
        );
        let (mut deadline, mut held) = (None, None);
        loop {
            published.borrow_and_update();
            let Some(current) = self.ll_current(source, &key, query.skip).await? else {
                return Ok(None);
            };
            let Some(at) = query.block else {
                return Ok(Some(current.answer.signed(suffix)));
            };
            current
                .edge
                .check(at)
                .map_err(|e| LiveError::Invalid(e.to_string()))?;
            if current.edge.satisfies(at) {
                return Ok(Some(current.answer.signed(suffix)));
            }
            let target = current.answer.target_duration;
            // One timer for the whole wait, not one a wake-up (each new one costs a timer
            // registration, and the runtime's wake-up write with it).
            let deadline = deadline.get_or_insert_with(|| {
                Box::pin(tokio::time::sleep(Duration::from_secs(
                    target.saturating_mul(3),
                )))
            });
            if held.is_none() {
                held = Some(self.hold_request()?);
            }
            tokio::select! {
                // A publication that came with the deadline still counts.
                biased;
                changed = published.changed() => {
                    if changed.is_ok() {
                        continue;
                    }
                }
                () = deadline.as_mut() => {}
            }
            return Err(LiveError::NotYet(
                "the requested segment or part did not arrive within three target durations",
            ));
        }
    }

    /// The playlist `key` as it stands: rendered once per publication, however many held
    /// reloads that publication wakes (the rest wait for that rendering, `ll/renderings.rs`).
    async fn ll_current(
        &self,
        source: &SourceRow,
        key: &RenderKey,
        skip: Skip,
    ) -> Result<Kept, LiveError> {
        // Read before building: a publication meanwhile makes this rendering stale at once.
        let version = self.ll.version();
        let slot = self.ll.renderings.slot(key, version);
        let kept = slot
            .get_or_try_init(|| async {
                let rendition = key.1.as_str();
                let Some(built) = self.ll_build(source, rendition).await? else {
                    return Ok::<Kept, LiveError>(None);
                };
                let render = self.ll_render(source, rendition, &built, skip);
                let answer = Arc::new(render.await?);
                Ok(Some(Rendered {
                    edge: built.log.edge(),
                    answer,
                }))
            })
            .await?;
        Ok(kept.clone())
    }

    /// The playlist text of `built`, its URIs bare (a viewer's signature goes on when it is
    /// answered, [`LlAnswer::signed`]).
    async fn ll_render(
        &self,
        source: &SourceRow,
        rendition: &str,
        built: &Built,
        skip: Skip,
    ) -> Result<LlAnswer, LiveError> {
        let edge = built.log.edge();
        let next_index = match edge.last_part {
            Some((msn, index)) if msn == edge.next_msn => index.saturating_add(1),
            _ => 0,
        };
        let hint = part_uri(edge.next_msn, next_index);
        let mut p: LlPlaylist = built.log.playlist(skip != Skip::No, Some(hint));
        p.discontinuity_sequence = built.discontinuity_sequence;
        let listed_from = p.media_sequence.saturating_add(p.skipped);
        for (i, segment) in p.segments.iter_mut().enumerate() {
            let msn = listed_from.saturating_add(i as u64);
            segment.discontinuity = built.discontinuities.contains(&msn);
        }
        for other in self.ll.renditions_of(&source.id) {
            if other == rendition {
                continue;
            }
            let Some(theirs) = Box::pin(self.ll_build(source, &other)).await? else {
                continue;
            };
            let e = theirs.log.edge();
            let (last_msn, last_part) = match e.last_part {
                Some((msn, index)) => (msn, Some(index)),
                None => (e.next_msn.saturating_sub(1), None),
            };
            p.reports.push(RenditionReport {
                uri: format!("../{other}/index.m3u8"),
                last_msn,
                last_part,
            });
        }
        Ok(LlAnswer::new(
            bytes::Bytes::from(p.render()),
            p.target_duration,
        ))
    }

    /// Part `index` of segment `msn` of `rendition`: at once when published, else (the preload
    /// hint, or a part a little ahead) when it is, within three target durations — or, with
    /// `stream` and the part arriving on this node, as soon as its first bytes are in, the rest
    /// following as they arrive (`ll/growing.rs`).
    pub(crate) async fn ll_part(
        &self,
        source: &SourceRow,
        rendition: &str,
        (msn, index): (u64, u64),
        stream: bool,
    ) -> Result<PartAnswer, LiveError> {
        let missing = || LiveError::NothingToPlay("no such part");
        // Before subscribing: a subscription keeps an entry for the name it is given.
        if !self.ll.is_low_latency(&source.id, rendition) {
            return Err(missing());
        }
        let at = (source.id.as_str(), rendition);
        let mut published = self.ll.subscribe(&source.id, rendition);
        let mut grew = self.ll.growing.watch(at);
        let target = u64::try_from(source.target_duration).unwrap_or(2).max(1);
        let patience = Duration::from_secs(target.saturating_mul(3));
        let deadline = tokio::time::sleep(patience);
        tokio::pin!(deadline);
        let mut held = None;
        loop {
            grew.borrow_and_update();
            if let Some(part) = self.ll.part(&source.id, rendition, msn, index) {
                return Ok(PartAnswer::Whole(part));
            }
            if stream
                && matches!(self.ll.growing.after(at, (msn, index), 0), Grown::Bytes(b) if !b.is_empty())
            {
                let named = (source.id.clone(), rendition.to_owned());
                let bytes = arriving(self.ll.clone(), named, (msn, index), patience);
                return Ok(PartAnswer::Arriving(bytes));
            }
            let view = self.ll.view(&source.id, rendition).ok_or_else(missing)?;
            // Only the segment arriving now, or the one after it, can still gain parts.
            let coming = match view.arriving {
                Some(arriving) => msn == arriving || msn == arriving.saturating_add(1),
                None => view
                    .segments
                    .keys()
                    .next_back()
                    .is_some_and(|&newest| msn == newest.saturating_add(1)),
            };
            if !coming {
                return Err(missing());
            }
            if held.is_none() {
                held = Some(self.hold_request()?);
            }
            tokio::select! {
                biased;
                changed = published.changed() => changed.map_err(|_| missing())?,
                Ok(()) = grew.changed(), if stream => {}
                () = &mut deadline => return Err(missing()),
            }
        }
    }
}

/// A part as answered.
pub(crate) enum PartAnswer {
    /// Published: its bytes.
    Whole(StoredPart),
    /// Arriving on this node now: its bytes as they come. The stream fails (never ends short
    /// as if whole) when the part does not complete, or brings nothing new for `patience`.
    Arriving(ByteStream),
}

impl std::fmt::Debug for PartAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Whole(part) => f.debug_tuple("Whole").field(part).finish(),
            Self::Arriving(_) => f.write_str("Arriving"),
        }
    }
}

/// Where a reader of an arriving part is.
struct Reading {
    ll: Arc<LowLatency>,
    named: (String, String),
    part: (u64, u64),
    offset: usize,
    grew: tokio::sync::watch::Receiver<u64>,
    patience: Duration,
    done: bool,
}

/// The bytes of `part` of `named` (source id, rendition) from its first, as they arrive and
/// then from the published part (the same bytes: `ll/growing.rs`).
fn arriving(
    ll: Arc<LowLatency>,
    named: (String, String),
    part: (u64, u64),
    patience: Duration,
) -> ByteStream {
    let grew = ll.growing.watch((&named.0, &named.1));
    let reading = Reading {
        ll,
        named,
        part,
        offset: 0,
        grew,
        patience,
        done: false,
    };
    Box::pin(futures_util::stream::unfold(reading, |mut r| async move {
        if r.done {
            return None;
        }
        match r.next().await {
            Ok(bytes) if bytes.is_empty() => None,
            next => Some((next, r)),
        }
    }))
}

impl Reading {
    /// The next bytes; empty when the part is over (and `done` is set with every end).
    async fn next(&mut self) -> std::io::Result<bytes::Bytes> {
        loop {
            self.grew.borrow_and_update();
            let at = (self.named.0.as_str(), self.named.1.as_str());
            match self.ll.growing.after(at, self.part, self.offset) {
                Grown::Bytes(bytes) if !bytes.is_empty() => {
                    self.offset = self.offset.saturating_add(bytes.len());
                    return Ok(bytes);
                }
                Grown::Bytes(_) => {
                    let waited = tokio::time::timeout(self.patience, self.grew.changed()).await;
                    if !matches!(waited, Ok(Ok(()))) {
                        self.done = true;
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "the arriving part stalled",
                        ));
                    }
                }
                Grown::NotGrowing => {
                    self.done = true;
                    let (msn, index) = self.part;
                    let whole = self.ll.part(at.0, at.1, msn, index);
                    return match whole.filter(|p| p.bytes.len() >= self.offset) {
                        Some(p) => Ok(p.bytes.slice(self.offset..)),
                        None => Err(std::io::Error::other("the arriving part did not complete")),
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_uris_round_trip_and_nothing_else_parses() {
        assert_eq!(parse_part_uri(&part_uri(12, 3)), Some((12, 3)));
        for other in [
            "12.m4s",
            "p12.m4s",
            "p-3.m4s",
            "p1-2.mp4",
            "px-1.m4s",
            "p1-99999999999999999999.m4s",
        ] {
            assert_eq!(parse_part_uri(other), None, "{other}");
        }
    }
}
