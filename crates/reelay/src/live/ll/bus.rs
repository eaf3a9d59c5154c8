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
//! part's bytes (`bus_note.rs` encodes and decodes it).

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::broadcast::error::RecvError;

use crate::live::Live;
use crate::live::Lookup;
use crate::live::bus_note::{PartNote, encode_part};
use crate::live::ll::published::{PartEvent, StoredPart};

/// Largest part sent on the bus (NATS's default `max_payload` is 1 MiB, description included).
pub(crate) const BUS_PART_MAX: usize = 1000 * 1024;

impl Live {
    /// Tells the other nodes every part this node publishes, until the node stops (a no-op
    /// without a bus).
    pub(crate) async fn share_parts(self: Arc<Self>) {
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
            let Some(payload) = encode_part(&note, &bytes) else {
                continue;
            };
            let topic = format!("part.{}", note.source);
            if let Err(e) = bus.publish(&topic, payload).await {
                tracing::debug!(source = note.source, error = %e, "part not shared");
            }
        }
    }

    /// Publishes a part another node told (its shape checked by `bus_note::decode`), or
    /// withdraws its segment — a part of a source this node knows, within the renditions a
    /// source may have. `Err` says what failed (the message is refused).
    pub(in crate::live) async fn learn_part(
        &self,
        note: PartNote,
        bytes: Bytes,
    ) -> Result<(), &'static str> {
        let id = note.source.as_str();
        if !matches!(self.sources.lookup(id, Lookup::Viewing).await, Ok(Some(_))) {
            return Err("unknown source");
        }
        let most = usize::try_from(crate::live::sources::MAX_RENDITIONS).unwrap_or(16);
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
