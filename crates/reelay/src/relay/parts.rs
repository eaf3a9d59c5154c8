//! The edge's part forwarder: Low-Latency parts go to the control the moment the edge cuts them
//! from an encoder's streaming upload, not when their segment ends, so a viewer of the control
//! is as close to the encoder as a viewer of the edge.
//!
//! The edge's own [`LowLatency`](crate::live::low_latency::LowLatency) tells every publication
//! in order ([`PartEvent`]); each rendition has a sender of its own (a slow audio upload does
//! not hold video parts back) that PUTs its parts one by one. A part that fails is not retried
//! — it is of no use late — and the rest of its segment's parts are not sent (the control would
//! refuse them out of step); the segment follows whole, as every segment does. When a
//! segment's upload fails at the edge, the control is told to drop its parts.
//!
//! Order against segments: the live forwarder sends a low-latency segment only once its parts
//! have all gone out ([`PartsProgress::wait`], bounded), so the control lists a segment with
//! all its parts, never with a late one after it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};

use super::edge::EdgeRelay;
use super::protocol::PartMeta;
use crate::live::low_latency::PartEvent;

/// Events a rendition's sender may fall behind by before some are dropped.
const QUEUED: usize = 256;

/// Which segments' parts have all gone out (or been given up), by (source, rendition).
#[derive(Debug)]
pub struct PartsProgress {
    done: Mutex<HashMap<(String, String), u64>>,
    changed: watch::Sender<u64>,
}

impl Default for PartsProgress {
    fn default() -> Self {
        Self {
            done: Mutex::default(),
            changed: watch::Sender::new(0),
        }
    }
}

impl PartsProgress {
    fn mark(&self, id: &str, rendition: &str, msn: u64) {
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        let newest = done
            .entry((id.to_owned(), rendition.to_owned()))
            .or_default();
        *newest = (*newest).max(msn);
        drop(done);
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    fn is_done(&self, id: &str, rendition: &str, msn: u64) -> bool {
        let done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        done.get(&(id.to_owned(), rendition.to_owned()))
            .is_some_and(|newest| *newest >= msn)
    }

    /// Waits, at most `limit`, until every part of segment `msn` has gone out; whether it has.
    pub async fn wait(&self, id: &str, rendition: &str, msn: u64, limit: Duration) -> bool {
        let mut changed = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            changed.mark_unchanged();
            if self.is_done(id, rendition, msn) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                return false;
            }
        }
    }
}

fn key_of(event: &PartEvent) -> (String, String) {
    let (PartEvent::Published { id, rendition, .. }
    | PartEvent::Ended { id, rendition, .. }
    | PartEvent::Abandoned { id, rendition, .. }) = event;
    (id.clone(), rendition.clone())
}

impl EdgeRelay {
    /// Hands each of the node's part events to its rendition's sender (see the module docs).
    pub(super) async fn part_forwarder(self) {
        let mut events = self.live.ll.events();
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
                PartEvent::Ended { id, rendition, msn } => self.parts.mark(&id, &rendition, msn),
                PartEvent::Abandoned { id, rendition, msn } => {
                    if self.streams(&id)
                        && let Err(e) = self.link.delete_part(&id, &rendition, msn).await
                    {
                        tracing::debug!(error = %e, msn, "abandoned parts not withdrawn");
                    }
                    self.parts.mark(&id, &rendition, msn);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiting_for_parts_ends_when_they_are_marked_or_at_the_limit() {
        let progress = std::sync::Arc::new(PartsProgress::default());
        assert!(
            !progress.wait("s", "v", 3, Duration::from_millis(20)).await,
            "nothing marked: the limit"
        );
        let marker = progress.clone();
        let waiting =
            tokio::spawn(async move { marker.wait("s", "v", 3, Duration::from_secs(10)).await });
        tokio::task::yield_now().await;
        progress.mark("s", "v", 2);
        progress.mark("s", "a", 9);
        progress.mark("s", "v", 4);
        assert!(waiting.await.expect("join"), "a newer segment covers it");
        assert!(progress.is_done("s", "v", 4) && !progress.is_done("s", "v", 5));
    }
}
