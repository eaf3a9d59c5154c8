//! The edge's part forwarder: Low-Latency parts go to the control the moment the edge cuts them
//! from an encoder's streaming upload, not when their segment ends, so a viewer of the control
//! is as close to the encoder as a viewer of the edge.
//!
//! The edge's own [`LowLatency`](crate::live::ll::published::LowLatency) tells every publication
//! in order ([`PartEvent`]); each rendition has a sender of its own (a slow audio upload does
//! not hold video parts back) that PUTs its parts one by one. A part that fails is not retried
//! — it is of no use late — and the rest of its segment's parts are not sent (the control would
//! refuse them out of step); the segment follows whole, as every segment does. When a
//! segment's upload fails at the edge, the control is told to drop its parts.
//!
//! Order against segments: the live forwarder sends a low-latency segment only once its parts
//! have all gone out (`forward::PartsProgress`, a bounded wait), so the control lists a
//! segment with all its parts, never with a late one after it.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc};

use super::forward::{ForwardState, PartsProgress};
use super::link::Link;
use super::metrics::RelayMetrics;
use super::protocol::PartMeta;
use crate::live::Live;
use crate::live::ll::published::PartEvent;

/// Events a rendition's sender may fall behind by before some are dropped.
const QUEUED: usize = 256;

fn key_of(event: &PartEvent) -> (String, String) {
    let (PartEvent::Published { id, rendition, .. }
    | PartEvent::Ended { id, rendition, .. }
    | PartEvent::Abandoned { id, rendition, .. }) = event;
    (id.clone(), rendition.clone())
}

/// The edge's part forwarder (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct PartForwarder {
    pub(crate) live: Arc<Live>,
    pub(crate) forward: Arc<ForwardState>,
    pub(crate) link: Link,
    pub(crate) metrics: RelayMetrics,
    /// Marked as each segment's parts have all gone out; the live forwarder waits on it.
    pub(crate) progress: Arc<PartsProgress>,
}

impl PartForwarder {
    /// Starts forwarding the node's parts.
    pub(crate) fn spawn(self) {
        tokio::spawn(self.run());
    }

    /// Hands each of the node's part events to its rendition's sender.
    async fn run(self) {
        let mut events = self.live.ll().events();
        let mut senders: HashMap<(String, String), mpsc::Sender<PartEvent>> = HashMap::new();
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the part forwarder fell behind; parts were dropped");
                    self.metrics.parts_dropped.inc_by(missed);
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let sender = senders.entry(key_of(&event)).or_insert_with(|| {
                let (tx, rx) = mpsc::channel(QUEUED);
                tokio::spawn(self.clone().rendition_sender(rx));
                tx
            });
            if sender.try_send(event).is_err() {
                self.metrics.parts_dropped.inc();
            }
        }
    }

    /// Whether source `id` streams (its live segments, hence its parts, go to the control).
    fn streams(&self, id: &str) -> bool {
        self.forward
            .desired()
            .is_some_and(|d| d.sources.iter().any(|s| s.id == id && s.streaming))
    }

    /// Sends one rendition's parts, in order.
    async fn rendition_sender(self, mut events: mpsc::Receiver<PartEvent>) {
        // The segment whose parts stopped going out (the rest of them would be out of step).
        let mut broken: Option<u64> = None;
        while let Some(event) = events.recv().await {
            match event {
                PartEvent::Published {
                    id,
                    rendition,
                    msn,
                    index,
                    part,
                } => {
                    if broken == Some(msn) || !self.streams(&id) {
                        continue;
                    }
                    let meta = PartMeta {
                        duration_ms: part.duration_ms.max(1),
                        independent: part.independent,
                        rendition,
                    };
                    match self
                        .link
                        .put_part(&id, (msn, index), &meta, part.bytes)
                        .await
                    {
                        Ok(()) => {
                            self.metrics.parts_forwarded.inc();
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, msn, index, "part not forwarded");
                            self.metrics.parts_dropped.inc();
                            broken = Some(msn);
                        }
                    }
                }
                PartEvent::Ended { id, rendition, msn } => self.progress.mark(&id, &rendition, msn),
                PartEvent::Abandoned { id, rendition, msn } => {
                    if self.streams(&id)
                        && let Err(e) = self.link.delete_part(&id, &rendition, msn).await
                    {
                        tracing::debug!(error = %e, msn, "abandoned parts not withdrawn");
                    }
                    self.progress.mark(&id, &rendition, msn);
                }
            }
        }
    }
}
