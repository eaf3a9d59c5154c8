//! Low-Latency parts across a cluster: every part a node publishes — cut from an encoder's
//! upload here or forwarded by an edge — goes on the bus at once (`part.<source id>`), and
//! every other node publishes it too, so a blocking reload held on any node wakes when the part
//! is published on any other. What a node learns from its peers it does not tell again.
//!
//! The bus is at most once: a part lost on the way leaves the rest of its segment out of step
//! on that node (refused, `LowLatency::accept_from_peer`), and viewers there get the segment
//! when its announcement comes, as without parts. A part larger than [`BUS_PART_MAX`] (NATS
//! refuses payloads over 1 MiB by default) is not sent, with the same effect. A segment's
//! announcement closes its parts on every node (`learn` calls `LowLatency::end`).
//!
//! A message is the part's description as JSON, its length first (4 bytes, big-endian), then the
//! part's bytes.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use super::Live;
use super::low_latency::{PartEvent, StoredPart};
use super::segment::{is_rendition, is_source_id};

/// Largest part sent on the bus (NATS's default `max_payload` is 1 MiB, description included).
pub const BUS_PART_MAX: usize = 1000 * 1024;

/// The longest part a message may describe (a part is at most a target duration).
const PART_MAX_MS: u64 = 30_000;

/// Most parts a segment may have (a 30 s segment of 30 ms parts).
const PARTS_MAX: u64 = 1_000;

/// A part (or a withdrawn segment) as told on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PartNote {
    source: String,
    rendition: String,
    msn: u64,
    index: u64,
    duration_ms: u64,
    independent: bool,
    /// The segment was withdrawn (its upload failed): its parts go.
    gone: bool,
}

fn encode(note: &PartNote, bytes: &[u8]) -> Option<Bytes> {
    let meta = serde_json::to_vec(note).ok()?;
    let len = u32::try_from(meta.len()).ok()?;
    let mut out = BytesMut::with_capacity(4 + meta.len() + bytes.len());
    out.put_u32(len);
    out.put_slice(&meta);
    out.put_slice(bytes);
    Some(out.freeze())
}

fn decode(payload: &Bytes) -> Option<(PartNote, Bytes)> {
    let len = usize::try_from(u32::from_be_bytes(payload.get(..4)?.try_into().ok()?)).ok()?;
    let end = len.checked_add(4)?;
    let note = serde_json::from_slice(payload.get(4..end)?).ok()?;
    Some((note, payload.slice(end..)))
}

impl Live {
    /// Tells the other nodes every part this node publishes, until the node stops (a no-op
    /// without a bus).
    pub async fn share_parts(self: Arc<Self>) {
        let Some(bus) = self.cluster.as_ref().and_then(|c| c.bus.clone()) else {
            return;
        };
        let mut events = self.ll.events();
        loop {
            let (note, bytes) = match events.recv().await {
                Ok(PartEvent::Published {
                    id,
                    rendition,
                    msn,
                    index,
                    part,
                }) => {
                    if part.bytes.len() > BUS_PART_MAX {
                        continue;
                    }
                    let note = PartNote {
                        source: id,
                        rendition,
                        msn,
                        index,
                        duration_ms: part.duration_ms,
                        independent: part.independent,
                        gone: false,
                    };
                    (note, part.bytes)
                }
                Ok(PartEvent::Abandoned { id, rendition, msn }) => {
                    let note = PartNote {
                        source: id,
                        rendition,
                        msn,
                        index: 0,
                        duration_ms: 0,
                        independent: false,
                        gone: true,
                    };
                    (note, Bytes::new())
                }
                Ok(PartEvent::Ended { .. }) => continue,
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "parts were not shared: the bus fell behind");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let Some(payload) = encode(&note, &bytes) else {
                continue;
            };
            let topic = format!("part.{}", note.source);
            if let Err(e) = bus.publish(&topic, payload).await {
                tracing::debug!(source = note.source, error = %e, "part not shared");
            }
        }
    }

    /// Publishes a part another node told (on subject `part.<id>`), or withdraws its segment
    /// — a part of a source this node knows, of a rendition named as renditions are, within
    /// the bounds of a part. `Err` says what failed (the message is refused).
    pub(super) async fn learn_part(&self, id: &str, payload: &Bytes) -> Result<(), &'static str> {
        let (note, bytes) = decode(payload).ok_or("decode")?;
        if note.source != id {
            return Err("subject");
        }
        if !is_source_id(&note.source) {
            return Err("source");
        }
        if !is_rendition(&note.rendition) {
            return Err("rendition");
        }
        let duration_ok = note.gone || (1..=PART_MAX_MS).contains(&note.duration_ms);
        if !duration_ok || note.index >= PARTS_MAX {
            return Err("part");
        }
        if !matches!(self.sources.find_for_viewing(id).await, Ok(Some(_))) {
            return Err("unknown source");
        }
        let most = usize::try_from(super::sources::MAX_RENDITIONS).unwrap_or(16);
        if !self.ll.has_room(id, &note.rendition, most) {
            return Err("renditions");
        }
        let at = (note.source.as_str(), note.rendition.as_str());
        if note.gone {
            self.ll.abandon_from_peer(at.0, at.1, note.msn);
            return Ok(());
        }
        let part = StoredPart {
            bytes,
            duration_ms: note.duration_ms,
            independent: note.independent,
        };
        if let Err(e) = self.ll.accept_from_peer(at, note.msn, note.index, part) {
            tracing::debug!(source = note.source, error = %e, "a peer's part not taken");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(gone: bool) -> PartNote {
        PartNote {
            source: "s1".into(),
            rendition: "media_0".into(),
            msn: 41,
            index: 3,
            duration_ms: 250,
            independent: true,
            gone,
        }
    }

    #[test]
    fn a_part_message_round_trips_and_garbage_is_refused() {
        let payload = encode(&note(false), b"moof+mdat").expect("encode");
        let (back, bytes) = decode(&payload).expect("decode");
        assert_eq!((back, bytes.as_ref()), (note(false), &b"moof+mdat"[..]));
        let gone = encode(&note(true), b"").expect("encode");
        assert_eq!(
            decode(&gone).map(|(n, b)| (n.gone, b.len())),
            Some((true, 0))
        );
        for bad in [
            &b""[..],
            b"\0\0",
            b"\0\0\0\x09{}",
            b"\xff\xff\xff\xff{}",
            b"\0\0\0\x02{}",
        ] {
            assert!(decode(&Bytes::copy_from_slice(bad)).is_none(), "{bad:?}");
        }
    }
}
