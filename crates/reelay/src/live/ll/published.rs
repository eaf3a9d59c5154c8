//! Low-Latency HLS parts on a node: what of each rendition's segments has been published as
//! partial segments (RFC 8216bis §4.4.4.9), while the segment is still arriving and for a while
//! after, and the one notification every held blocking reload waits on.
//!
//! A part is one fMP4 fragment (`moof` + `mdat`) cut from the encoder's segment upload as it
//! arrives (`ll/ingest.rs`); its bytes are kept here in memory, bounded: the parts of the newest
//! [`KEPT_SEGMENTS`] segments of a rendition, so a part that left the playlist stays fetchable
//! for well over three target durations. The segments themselves enter the buffer as every
//! other segment does (`Live::commit`), under the sequence number their parts were published
//! with, so the LL playlist (`ll/view.rs`) is the classic window with parts laid over it.
//!
//! Parts also arrive whole from elsewhere: an edge forwards the parts it cuts, one by one, as
//! it cuts them ([`LowLatency::accept`], in order or refused), and what this node publishes is
//! told to whoever listens ([`LowLatency::events`]: an edge's part forwarder, the cluster's
//! bus).
//!
//! Waiting costs no thread: a held reload is a task parked on its rendition's `watch`
//! receiver (through its connection thread's relay, `ll/wake.rs`), and a publication is one
//! `send_modify` that wakes them all together; the first to run renders the playlist and the
//! others wait for that rendering (one per publication, `ll/renderings.rs`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::live::ll::growing::Growing;
use crate::live::ll::renderings::Renderings;

/// Segments of a rendition whose parts stay fetchable.
pub(crate) const KEPT_SEGMENTS: u64 = 8;

/// A published part.
#[derive(Debug, Clone)]
pub(crate) struct StoredPart {
    pub(crate) bytes: Bytes,
    pub(crate) duration_ms: u64,
    /// It starts with a sync sample.
    pub(crate) independent: bool,
}

/// What a rendition has published, for a playlist.
#[derive(Debug, Clone, Default)]
pub struct PartsView {
    pub(crate) part_target_ms: u64,
    /// Each segment's parts (durations and flags, in order), by msn.
    pub(crate) segments: BTreeMap<u64, Vec<(u64, bool)>>,
    /// The msn of the segment arriving now.
    pub(crate) arriving: Option<u64>,
}

#[derive(Debug, Default)]
struct Rendition {
    part_target_ms: u64,
    parts: BTreeMap<(u64, u64), StoredPart>,
    arriving: Option<u64>,
    /// The newest segment listed in the buffer (its parts are all in).
    ended: Option<u64>,
}

impl Rendition {
    /// Fixes the part target at the first part: `configured`, or learned from that part.
    fn learn_target(&mut self, configured: u64, first_ms: u64) {
        if self.part_target_ms == 0 {
            self.part_target_ms = if configured > 0 {
                configured
            } else {
                learned_part_target(first_ms)
            };
        }
    }
}

/// What a node publishes, told to [`LowLatency::events`] listeners in order.
#[derive(Debug, Clone)]
pub(crate) enum PartEvent {
    /// Part `index` of segment `msn` was published.
    Published {
        id: String,
        rendition: String,
        msn: u64,
        index: u64,
        part: StoredPart,
    },
    /// Segment `msn` is in the buffer: every part of it was published before this.
    Ended {
        id: String,
        rendition: String,
        msn: u64,
    },
    /// Segment `msn` will not complete; its parts are gone.
    Abandoned {
        id: String,
        rendition: String,
        msn: u64,
    },
}

/// Why a forwarded part was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PartRefused {
    /// Not the next part of its segment (one was lost, or it came twice).
    #[error("part {index} of segment {msn} is out of step: {have} parts are in")]
    OutOfStep { msn: u64, index: u64, have: u64 },
    /// Its segment is already listed, or older than the parts kept.
    #[error("segment {0} is complete or gone; its parts are closed")]
    Closed(u64),
}

/// Events kept for a listener that falls behind, at most.
const EVENTS_KEPT: usize = 1024;

/// The node's published parts, by (source id, rendition).
#[derive(Debug)]
pub struct LowLatency {
    renditions: Mutex<HashMap<(String, String), Rendition>>,
    /// The node's publication count: the version renderings are made at (`ll/renderings.rs`).
    published: AtomicU64,
    /// One more per rendition, bumped with `published` by that rendition's publications: what
    /// a held reload waits on, so a video part does not wake the audio rendition's reloads.
    wakers: Mutex<HashMap<Key, tokio::sync::watch::Sender<u64>>>,
    /// Playlists rendered at the current version, shared by the held reloads one publication
    /// wakes (`ll/renderings.rs`).
    pub(crate) renderings: Renderings,
    /// The part each rendition is receiving now, as far as it has come (`ll/growing.rs`).
    pub(crate) growing: Growing,
    /// The configured part target (ms); 0: learned from a rendition's first fragment.
    part_target_ms: u64,
    events: tokio::sync::broadcast::Sender<PartEvent>,
}

use crate::live::ll::wake::Key;

fn key(id: &str, rendition: &str) -> Key {
    (id.to_owned(), rendition.to_owned())
}

/// A part target that the fragments of an encoder cutting at a steady rhythm stay under: the
/// first fragment's duration and a tenth, to the next 10 ms.
pub(crate) fn learned_part_target(first_ms: u64) -> u64 {
    let padded = first_ms.saturating_add(first_ms / 10).max(100);
    padded.div_ceil(10).saturating_mul(10)
}

impl LowLatency {
    /// Parts of `part_target_ms` (0: learned per rendition).
    pub fn new(part_target_ms: u64) -> Self {
        Self {
            renditions: Mutex::new(HashMap::new()),
            published: AtomicU64::new(0),
            wakers: Mutex::new(HashMap::new()),
            renderings: Renderings::default(),
            growing: Growing::default(),
            part_target_ms,
            events: tokio::sync::broadcast::Sender::new(EVENTS_KEPT),
        }
    }

    /// Every publication from now on, in order (a listener that falls more than
    /// [`EVENTS_KEPT`] behind is told it lagged).
    pub(crate) fn events(&self) -> tokio::sync::broadcast::Receiver<PartEvent> {
        self.events.subscribe()
    }

    fn tell(&self, event: PartEvent) {
        // No listener is the common case (every node but an edge): nothing to do.
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(event);
        }
    }

    fn with<T>(&self, id: &str, rendition: &str, f: impl FnOnce(&mut Rendition) -> T) -> T {
        let mut all = self.renditions.lock().unwrap_or_else(|p| p.into_inner());
        f(all.entry(key(id, rendition)).or_default())
    }

    fn bump(&self, id: &str, rendition: &str) {
        self.published.fetch_add(1, Ordering::SeqCst);
        let wakers = self.wakers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(waker) = wakers.get(&key(id, rendition)) {
            waker.send_modify(|v| *v = v.wrapping_add(1));
        }
    }

    /// A receiver that wakes on every publication of `rendition` (subscribe before looking,
    /// so none is lost).
    /// On a connection thread, through that thread's relay (`ll/wake.rs`): one wake-up per
    /// thread, not per held reload.
    pub(crate) fn subscribe(&self, id: &str, rendition: &str) -> tokio::sync::watch::Receiver<u64> {
        let key = key(id, rendition);
        let channel = {
            let mut wakers = self.wakers.lock().unwrap_or_else(|p| p.into_inner());
            wakers
                .entry(key.clone())
                .or_insert_with(|| tokio::sync::watch::Sender::new(0))
                .clone()
        };
        crate::live::ll::wake::subscribe(&key, &channel)
    }

    /// Segment `msn` of the rendition starts arriving.
    pub(crate) fn begin(&self, id: &str, rendition: &str, msn: u64) {
        self.with(id, rendition, |r| {
            r.arriving = Some(msn);
            let oldest = msn.saturating_sub(KEPT_SEGMENTS);
            r.parts.retain(|(m, _), _| *m >= oldest);
        });
    }

    /// The next part of segment `msn` was cut; wakes held reloads. Its index in the segment,
    /// and whether it is longer than the rendition's part target.
    pub(crate) fn publish(
        &self,
        id: &str,
        rendition: &str,
        msn: u64,
        part: StoredPart,
    ) -> (u64, bool) {
        let configured = self.part_target_ms;
        let answer = self.with(id, rendition, |r| {
            r.learn_target(configured, part.duration_ms);
            let long = part.duration_ms > r.part_target_ms;
            let index = r.parts.range((msn, 0)..=(msn, u64::MAX)).count() as u64;
            r.parts.insert((msn, index), part.clone());
            (index, long)
        });
        self.bump(id, rendition);
        self.tell_published((id, rendition), msn, answer.0, part);
        answer
    }

    /// Part `index` of segment `msn`, cut elsewhere (an edge's): taken only as the next part of
    /// a segment not yet listed; its first part starts the segment as [`Self::begin`] does.
    /// Told to listeners like a part cut here.
    pub(crate) fn accept(
        &self,
        (id, rendition): (&str, &str),
        msn: u64,
        index: u64,
        part: StoredPart,
    ) -> Result<(), PartRefused> {
        self.take((id, rendition), msn, index, part.clone())?;
        self.tell_published((id, rendition), msn, index, part);
        Ok(())
    }

    fn tell_published(
        &self,
        (id, rendition): (&str, &str),
        msn: u64,
        index: u64,
        part: StoredPart,
    ) {
        self.tell(PartEvent::Published {
            id: id.to_owned(),
            rendition: rendition.to_owned(),
            msn,
            index,
            part,
        });
    }

    /// [`Self::accept`] for a part another node of the cluster published: not told to
    /// listeners (they tell the cluster what this node publishes, and that node told it).
    pub(crate) fn accept_from_peer(
        &self,
        at: (&str, &str),
        msn: u64,
        index: u64,
        part: StoredPart,
    ) -> Result<(), PartRefused> {
        self.take(at, msn, index, part)
    }

    /// Whether a part of `rendition` of source `id` would fit: the rendition is known here, or
    /// the source has fewer than `most` renditions (what peers say cannot grow the map without
    /// bound).
    pub(crate) fn has_room(&self, id: &str, rendition: &str, most: usize) -> bool {
        let all = self.renditions.lock().unwrap_or_else(|p| p.into_inner());
        all.contains_key(&key(id, rendition)) || all.keys().filter(|(s, _)| s == id).count() < most
    }

    fn take(
        &self,
        (id, rendition): (&str, &str),
        msn: u64,
        index: u64,
        part: StoredPart,
    ) -> Result<(), PartRefused> {
        let configured = self.part_target_ms;
        self.with(id, rendition, |r| {
            let newest = r.arriving.max(r.ended).unwrap_or(0);
            if r.ended.is_some_and(|e| msn <= e) || msn.saturating_add(KEPT_SEGMENTS) < newest {
                return Err(PartRefused::Closed(msn));
            }
            let have = r.parts.range((msn, 0)..=(msn, u64::MAX)).count() as u64;
            if index != have {
                return Err(PartRefused::OutOfStep { msn, index, have });
            }
            if index == 0 && r.arriving.is_none_or(|a| a < msn) {
                r.arriving = Some(msn);
                let oldest = msn.saturating_sub(KEPT_SEGMENTS);
                r.parts.retain(|(m, _), _| *m >= oldest);
            }
            r.learn_target(configured, part.duration_ms);
            r.parts.insert((msn, index), part);
            Ok(())
        })?;
        self.bump(id, rendition);
        Ok(())
    }

    /// The sum of segment `msn`'s parts' durations; `None` when it published none.
    pub(crate) fn duration(&self, id: &str, rendition: &str, msn: u64) -> Option<u64> {
        self.with(id, rendition, |r| {
            let parts = r.parts.range((msn, 0)..=(msn, u64::MAX));
            let (count, total) = parts.fold((0, 0u64), |(n, t), (_, p)| {
                (n + 1, t.saturating_add(p.duration_ms))
            });
            (count > 0).then_some(total)
        })
    }

    /// Segment `msn` is in the buffer now: it is no longer arriving. Wakes held reloads.
    pub(crate) fn end(&self, id: &str, rendition: &str, msn: u64) {
        self.with(id, rendition, |r| {
            if r.arriving == Some(msn) {
                r.arriving = None;
            }
            r.ended = r.ended.max(Some(msn));
        });
        self.bump(id, rendition);
        self.tell(PartEvent::Ended {
            id: id.to_owned(),
            rendition: rendition.to_owned(),
            msn,
        });
    }

    /// Segment `msn` will not complete: its parts go (unless it is listed already).
    pub(crate) fn abandon(&self, id: &str, rendition: &str, msn: u64) {
        self.abandon_from_peer(id, rendition, msn);
        self.tell(PartEvent::Abandoned {
            id: id.to_owned(),
            rendition: rendition.to_owned(),
            msn,
        });
    }

    /// [`Self::abandon`] as another node of the cluster told it: not told to listeners.
    pub(crate) fn abandon_from_peer(&self, id: &str, rendition: &str, msn: u64) {
        self.with(id, rendition, |r| {
            if r.arriving == Some(msn) {
                r.arriving = None;
            }
            if r.ended.is_none_or(|e| e < msn) {
                r.parts.retain(|(m, _), _| *m != msn);
            }
        });
        self.bump(id, rendition);
    }

    /// Part `index` of segment `msn`, if published and still kept.
    pub(crate) fn part(
        &self,
        id: &str,
        rendition: &str,
        msn: u64,
        index: u64,
    ) -> Option<StoredPart> {
        let all = self.renditions.lock().unwrap_or_else(|p| p.into_inner());
        all.get(&key(id, rendition))?
            .parts
            .get(&(msn, index))
            .cloned()
    }

    /// Whether the rendition publishes parts (cheap: asked on every playlist request).
    pub(crate) fn is_low_latency(&self, id: &str, rendition: &str) -> bool {
        let all = self.renditions.lock().unwrap_or_else(|p| p.into_inner());
        all.get(&key(id, rendition))
            .is_some_and(|r| r.part_target_ms > 0)
    }

    /// What the rendition has published; `None` when it never published a part (it is not a
    /// low-latency rendition).
    pub fn view(&self, id: &str, rendition: &str) -> Option<PartsView> {
        let all = self.renditions.lock().unwrap_or_else(|p| p.into_inner());
        let r = all.get(&key(id, rendition))?;
        if r.part_target_ms == 0 {
            return None;
        }
        let mut segments: BTreeMap<u64, Vec<(u64, bool)>> = BTreeMap::new();
        for ((msn, _), p) in &r.parts {
            segments
                .entry(*msn)
                .or_default()
                .push((p.duration_ms, p.independent));
        }
        Some(PartsView {
            part_target_ms: r.part_target_ms,
            segments,
            arriving: r.arriving,
        })
    }

    /// The renditions of source `id` that publish parts.
    pub(crate) fn renditions_of(&self, id: &str) -> Vec<String> {
        let all = self.renditions.lock().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<String> = all
            .iter()
            .filter(|((source, _), r)| source == id && r.part_target_ms > 0)
            .map(|((_, name), _)| name.clone())
            .collect();
        names.sort();
        names
    }

    /// The current version: bumped by every publication.
    pub(crate) fn version(&self) -> u64 {
        self.published.load(Ordering::SeqCst)
    }

    /// Forgets source `id`.
    pub(crate) fn drop_source(&self, id: &str) {
        self.renditions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(source, _), _| source != id);
        self.growing.drop_source(id);
        self.wakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(source, _), _| source != id);
    }
}

#[cfg(test)]
#[path = "published_tests.rs"]
mod tests;
