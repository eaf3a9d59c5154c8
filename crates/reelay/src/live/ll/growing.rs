//! The part arriving now, byte by byte: what a request for the preload hint streams before the
//! part is whole (the resource an `EXT-X-PRELOAD-HINT` names, RFC 8216bis, is requested before
//! it exists; its answer starts with the part's first bytes).
//!
//! Per rendition, at most one part grows: the fMP4 fragment whose bytes the encoder's segment
//! upload is delivering (`ll/ingest.rs` feeds every chunk it gets). Its bytes are the upload's
//! own chunks (slices, no copy), and they are exactly the prefix of the part that will be
//! published: the cutter's fragments are contiguous, and a part is published before its growing
//! bytes are dropped, so a reader that finds neither the growing part nor the published one
//! knows the part will not come whole (its upload failed). A part cut elsewhere (an edge's, a
//! peer's) arrives whole and never grows here: a hinted part then answers when it is whole.
//!
//! Readers wait on the rendition's own `watch` channel, bumped at every chunk — only hinted-part
//! fetches wait on it, not the held playlist reloads (they wait for whole parts).

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;

/// A rendition's growing part and the channel its readers wait on.
#[derive(Debug)]
struct Slot {
    current: Option<Current>,
    grew: tokio::sync::watch::Sender<u64>,
}

impl Default for Slot {
    fn default() -> Self {
        Self {
            current: None,
            grew: tokio::sync::watch::Sender::new(0),
        }
    }
}

#[derive(Debug)]
struct Current {
    msn: u64,
    index: u64,
    chunks: Vec<Bytes>,
    len: usize,
}

/// The growing parts of a node's renditions, by (source id, rendition).
#[derive(Debug, Default)]
pub(crate) struct Growing {
    slots: Mutex<HashMap<(String, String), Slot>>,
}

/// What a reader finds of part (msn, index) past the bytes it has.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Grown {
    /// It is growing: the next bytes past the reader's offset (empty: none yet).
    Bytes(Bytes),
    /// It is not growing (not begun, published whole, or failed): ask the published parts.
    NotGrowing,
}

impl Growing {
    fn with<T>(&self, (id, rendition): (&str, &str), f: impl FnOnce(&mut Slot) -> T) -> T {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let key = (id.to_owned(), rendition.to_owned());
        f(slots.entry(key).or_default())
    }

    /// A receiver that wakes whenever the rendition's growing part changes (subscribe before
    /// looking, so no change is lost). It adds the rendition's slot: ask only for a rendition
    /// known to publish parts.
    pub(crate) fn watch(&self, at: (&str, &str)) -> tokio::sync::watch::Receiver<u64> {
        self.with(at, |slot| slot.grew.subscribe())
    }

    /// Part (msn, index) begins with `bytes` (the part before it was just published).
    pub(crate) fn start(&self, at: (&str, &str), (msn, index): (u64, u64), bytes: Bytes) {
        self.with(at, |slot| {
            slot.current = Some(Current {
                msn,
                index,
                len: bytes.len(),
                chunks: vec![bytes],
            });
            slot.grew.send_modify(|v| *v = v.wrapping_add(1));
        });
    }

    /// `chunk` arrived for part (msn, index), which now has `total` bytes: appended when it
    /// already grows here with the bytes before; begun when it has no earlier bytes; dropped
    /// when the two disagree (never a wrong prefix).
    pub(crate) fn grow(
        &self,
        at: (&str, &str),
        (msn, index): (u64, u64),
        chunk: Bytes,
        total: usize,
    ) {
        self.with(at, |slot| {
            let same = slot
                .current
                .as_ref()
                .is_some_and(|c| c.msn == msn && c.index == index);
            if !same {
                slot.current = None;
            }
            match &mut slot.current {
                Some(c) if c.len.checked_add(chunk.len()) == Some(total) => {
                    c.len = total;
                    c.chunks.push(chunk);
                }
                None if chunk.len() == total => {
                    slot.current = Some(Current {
                        msn,
                        index,
                        len: total,
                        chunks: vec![chunk],
                    });
                }
                _ => slot.current = None,
            }
            slot.grew.send_modify(|v| *v = v.wrapping_add(1));
        });
    }

    /// No part grows now (the last one was published whole, or the upload ended or failed).
    pub(crate) fn clear(&self, at: (&str, &str)) {
        self.with(at, |slot| {
            if slot.current.take().is_some() {
                slot.grew.send_modify(|v| *v = v.wrapping_add(1));
            }
        });
    }

    /// The bytes of part (msn, index) from `offset`, as far as one chunk goes.
    pub(crate) fn after(
        &self,
        (id, rendition): (&str, &str),
        part: (u64, u64),
        offset: usize,
    ) -> Grown {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        // Looked up without adding a slot: readers name what they like.
        let key = (id.to_owned(), rendition.to_owned());
        let Some(c) = slots.get(&key).and_then(|slot| slot.current.as_ref()) else {
            return Grown::NotGrowing;
        };
        if (c.msn, c.index) != part {
            return Grown::NotGrowing;
        }
        let mut start = 0usize;
        for chunk in &c.chunks {
            let end = start.saturating_add(chunk.len());
            if offset < end {
                return Grown::Bytes(chunk.slice(offset.saturating_sub(start)..));
            }
            start = end;
        }
        Grown::Bytes(Bytes::new())
    }

    /// Forgets source `id`.
    pub(crate) fn drop_source(&self, id: &str) {
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(source, _), _| source != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: (&str, &str) = ("src", "media_0");

    fn read_all(g: &Growing, part: (u64, u64)) -> Vec<u8> {
        let mut got = Vec::new();
        loop {
            match g.after(AT, part, got.len()) {
                Grown::Bytes(b) if !b.is_empty() => got.extend_from_slice(&b),
                _ => return got,
            }
        }
    }

    #[test]
    fn a_growing_part_reads_back_as_its_chunks_in_order_from_any_offset() {
        let g = Growing::default();
        assert_eq!(g.after(AT, (4, 1), 0), Grown::NotGrowing);
        g.start(AT, (4, 1), Bytes::from_static(b"moof"));
        g.grow(AT, (4, 1), Bytes::from_static(b"mdat"), 8);
        g.grow(AT, (4, 1), Bytes::from_static(b"..."), 11);
        assert_eq!(read_all(&g, (4, 1)), b"moofmdat...");
        assert_eq!(
            g.after(AT, (4, 1), 6),
            Grown::Bytes(Bytes::from_static(b"at"))
        );
        assert_eq!(g.after(AT, (4, 1), 11), Grown::Bytes(Bytes::new()));
        // Another part is not this one.
        assert_eq!(g.after(AT, (4, 2), 0), Grown::NotGrowing);
        assert_eq!(g.after(("src", "media_1"), (4, 1), 0), Grown::NotGrowing);
        g.clear(AT);
        assert_eq!(g.after(AT, (4, 1), 0), Grown::NotGrowing);
    }

    #[test]
    fn a_chunk_that_does_not_follow_the_bytes_before_drops_the_part_rather_than_lie() {
        let g = Growing::default();
        // A part begun at a chunk boundary starts with that chunk.
        g.grow(AT, (5, 0), Bytes::from_static(b"abc"), 3);
        assert_eq!(read_all(&g, (5, 0)), b"abc");
        // A total that does not add up: dropped, not a wrong prefix.
        g.grow(AT, (5, 0), Bytes::from_static(b"def"), 9);
        assert_eq!(g.after(AT, (5, 0), 0), Grown::NotGrowing);
        // Bytes of a part whose beginning was never seen: not taken.
        g.grow(AT, (5, 1), Bytes::from_static(b"xyz"), 10);
        assert_eq!(g.after(AT, (5, 1), 0), Grown::NotGrowing);
    }

    #[test]
    fn every_change_wakes_the_readers_watching_the_rendition() {
        let g = Growing::default();
        let mut rx = g.watch(AT);
        assert!(!rx.has_changed().unwrap_or(true));
        g.start(AT, (1, 0), Bytes::from_static(b"a"));
        assert!(rx.has_changed().unwrap_or(false));
        rx.borrow_and_update();
        g.grow(AT, (1, 0), Bytes::from_static(b"b"), 2);
        assert!(rx.has_changed().unwrap_or(false));
        rx.borrow_and_update();
        g.clear(AT);
        assert!(rx.has_changed().unwrap_or(false));
    }
}
