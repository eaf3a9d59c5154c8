//! A control node's part in its cluster's live state (see `cluster/`). The node that accepts a
//! segment — pushed by an encoder or forwarded by an edge — keeps its file, stores its bytes
//! in the shared tier and commits it to its buffer (`buffer.rs`: its row written); the buffer
//! tells the commit, and this module, listening, announces it on the bus ([`Live::share_segments`],
//! in commit order, without holding the ingest up); every other node adds the
//! row to its copy of the window (in sequence order; a gap is filled from the database, so a
//! lost message only delays), so all nodes serve the same playlist bytes. A node asked for a
//! listed segment it does not have fetches it from the tier once and keeps it as a local file
//! like its own (pruned with the window), so it never fetches it again. Recordings are written
//! by the accepting node only (their keys are deterministic, so a retry elsewhere rewrites the
//! same object). Without a tier or a bus, a node is exactly a single node. Low-Latency parts
//! cross the cluster on the bus too (`ll/bus.rs`).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;

use tokio::sync::broadcast::error::RecvError;

use super::Lookup;
use super::buffer::Committed;
use super::bus_note::{Announced, BusNote};
use super::sources::SourceRow;
use super::{Channel, Live, LiveError, SegmentRow};
use crate::cluster::{Bus, Message, Tier};

/// How far past a window's newest segment an announced one may be (a node that missed more
/// than this many announcements reads the database instead, `catch_up`).
pub(crate) const ANNOUNCED_LEAP_MAX: i64 = 1_000;

/// Why an announced `row` cannot join `ch`'s window, if it cannot: a sequence number too far
/// past the window's newest, or more discontinuities than the segments since could have made.
fn out_of_bounds(ch: &Channel, row: &SegmentRow, discontinuities: u64) -> Option<&'static str> {
    let newest = ch.recent.back().map(|r| r.msn)?;
    let ahead = row.msn.checked_sub(newest)?;
    if ahead > ANNOUNCED_LEAP_MAX {
        return Some("number");
    }
    let most = ch
        .discontinuities
        .saturating_add(u64::try_from(ahead.max(0)).unwrap_or(0));
    (discontinuities > most).then_some("discontinuities")
}

/// Tells the other nodes that `row` joined its window.
async fn announce(bus: &Bus, row: SegmentRow, discontinuities: u64) {
    let topic = format!("live.{}", row.source_id);
    let note = Announced {
        row,
        discontinuities,
    };
    let Ok(payload) = serde_json::to_vec(&note) else {
        return;
    };
    if let Err(e) = bus.publish(&topic, Bytes::from(payload)).await {
        tracing::debug!(topic, error = %e, "segment not announced");
    }
}

impl Live {
    fn tier(&self) -> Option<&Tier> {
        self.cluster.as_ref().and_then(|c| c.tier.as_ref())
    }

    fn bus(&self) -> Option<&Bus> {
        self.cluster.as_ref().and_then(|c| c.bus.as_ref())
    }

    /// Stores the file `file` of source `id`, just written here, in the shared tier. A failure
    /// is logged, never the encoder's problem: this node still serves it.
    pub(super) async fn share_file(&self, id: &str, file: &str) {
        let Some(tier) = self.tier() else {
            return;
        };
        let path = self.segments_dir(id).join(file);
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(source = id, file, error = %e, "cannot read a segment to share");
                return;
            }
        };
        let ttl = self
            .settings
            .buffer
            .saturating_add(std::time::Duration::from_secs(60));
        if let Err(e) = tier.put(&format!("{id}/{file}"), &bytes, ttl).await {
            self.metrics.share_failures.inc();
            tracing::debug!(source = id, file, error = %e, "segment not shared");
        }
    }

    /// Tells the other nodes every segment this node commits to a buffer, in order, until the
    /// node stops (a no-op without a bus). Listening starts when this is called, before the
    /// future is first polled. A segment skipped because the bus fell behind is read from the
    /// database by the other nodes when the next one is announced (`SegmentBuffer::admit`).
    pub(crate) fn share_segments(self: Arc<Self>) -> impl Future<Output = ()> + Send + 'static {
        let mut committed = self.committed.subscribe();
        async move {
            let Some(bus) = self.bus().cloned() else {
                return;
            };
            loop {
                match committed.recv().await {
                    Ok(Committed {
                        row,
                        discontinuities,
                    }) => announce(&bus, row, discontinuities).await,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "segments not announced: the bus fell behind");
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        }
    }

    /// Tells the other nodes that sources or recordings changed (their edges' long-polls).
    pub(super) fn announce_change(&self) {
        if let Some(bus) = self.bus().cloned() {
            tokio::spawn(async move {
                if let Err(e) = bus.publish("changes", Bytes::new()).await {
                    tracing::debug!(error = %e, "change not announced");
                }
            });
        }
    }

    /// Makes sure the file `file` (a validated key under the source's segments) of source `id`
    /// is on this node, fetching it from the shared tier if another node accepted it; `false`
    /// when no one has it. An entry there that fails its seal is counted and an error.
    pub(crate) async fn ensure_local(&self, id: &str, file: &str) -> Result<bool, LiveError> {
        if crate::storage::ObjectKey::parse(file).is_err() {
            return Ok(false);
        }
        let path = self.segments_dir(id).join(file);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(true);
        }
        let Some(tier) = self.tier() else {
            return Ok(false);
        };
        let fetched = tier.get(&format!("{id}/{file}")).await;
        if let Err(crate::cluster::ClusterError::Unsealed(why, _)) = &fetched {
            // Not another node's: never written here; the viewer is told to retry (503).
            self.metrics.count_rejected("tier");
            tracing::warn!(
                source = id,
                file,
                why,
                "a shared-tier segment failed its seal"
            );
        }
        let Some(bytes) = fetched? else {
            return Ok(false);
        };
        let Some(dir) = path.parent() else {
            return Ok(false);
        };
        tokio::fs::create_dir_all(dir).await?;
        let temp = dir.join(format!(".fetch-{}", crate::random::u64()));
        tokio::fs::write(&temp, &bytes).await?;
        tokio::fs::rename(&temp, &path).await?;
        self.metrics.fetched_from_cluster.inc();
        Ok(true)
    }

    /// Follows the other nodes' announcements until the node stops (a no-op without a bus).
    pub(crate) async fn follow_cluster(self: Arc<Self>) {
        let Some(bus) = self.bus().cloned() else {
            return;
        };
        loop {
            match bus.follow(">").await {
                Ok(mut messages) => {
                    while let Some(m) = messages.next().await {
                        let acted = match m {
                            Ok(m) => self.on_message(m).await,
                            Err(refused) => {
                                self.reject(refused);
                                Ok(())
                            }
                        };
                        if let Err(e) = acted {
                            tracing::warn!(error = %e, "cannot follow another node's segment");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot subscribe to the cluster's bus"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }

    /// Acts on another node's message — after checking it as strictly as a request: a
    /// message that fails is counted (`reelay_cluster_rejected_total{reason}`) and dropped.
    async fn on_message(&self, m: Message) -> Result<(), LiveError> {
        if let Some(reason) = self.take_message(m).await? {
            self.reject(reason);
        }
        Ok(())
    }

    /// [`Live::on_message`]: what it acts on, or why it refuses (`Ok(Some(reason))`). The
    /// message's shape is `bus_note::decode`'s to check; what needs state is checked here.
    async fn take_message(&self, m: Message) -> Result<Option<&'static str>, LiveError> {
        let kind = m.topic.split('.').next().unwrap_or_default();
        if let Some(kind) = ["changes", "part", "live"].into_iter().find(|k| *k == kind) {
            self.metrics.count_bus_message(kind);
        }
        let decoded =
            super::bus_note::decode(&m.topic, &m.payload, self.settings.max_segment_bytes);
        match decoded {
            Err(reason) => Ok(Some(reason)),
            Ok(BusNote::Changes) => {
                self.changes.send_modify(|v| *v = v.wrapping_add(1));
                Ok(None)
            }
            Ok(BusNote::Part(note, bytes)) => Ok(self.learn_part(note, bytes).await.err()),
            Ok(BusNote::Live(note)) => self.learn(note).await,
        }
    }

    /// Drops a message of the cluster's that failed a check, saying why.
    fn reject(&self, reason: &'static str) {
        self.metrics.count_rejected(reason);
        tracing::debug!(reason, "a message from the cluster refused");
    }

    /// Adds a segment another node accepted to this node's window, if this node has that
    /// rendition loaded (otherwise it loads from the database when first asked); `Some` is
    /// why the announcement is refused.
    async fn learn(&self, note: Announced) -> Result<Option<&'static str>, LiveError> {
        let row = note.row;
        let Some(channel) = self.loaded_channel(&row.source_id, &row.rendition) else {
            if !matches!(
                self.sources.lookup(&row.source_id, Lookup::Viewing).await,
                Ok(Some(_))
            ) {
                return Ok(Some("unknown source"));
            }
            // A rendition new to this node: if its source's renditions were loaded, load them
            // again on the next request (the new one's rows are in the database by now).
            self.loaded
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&row.source_id);
            return Ok(None);
        };
        let mut ch = channel.lock().await;
        if ch.recent.iter().any(|r| r.msn == row.msn) {
            return Ok(None);
        }
        if let Some(reason) = out_of_bounds(&ch, &row, note.discontinuities) {
            return Ok(Some(reason));
        }
        let id = row.source_id.clone();
        // Its parts, when they came on the bus, are closed: the segment is listed.
        self.ll
            .end(&id, &row.rendition, u64::try_from(row.msn).unwrap_or(0));
        ch.recent.admit(row).await?;
        ch.discontinuities = ch.discontinuities.max(note.discontinuities);
        self.prune(&id, &mut ch).await?;
        self.arrivals.send_modify(|v| *v = v.wrapping_add(1));
        Ok(None)
    }

    /// While the bus is down, a window follows the database instead (at most twice a second,
    /// when a viewer asks): slower than announcements, but live goes on. With the bus up, a
    /// window whose newest segment should have had a successor by now — an announcement this
    /// node missed: its first moments on the bus, a message lost with no later one to reveal
    /// the gap — looks in the database too, at most once per target duration.
    pub(super) async fn catch_up(
        &self,
        source: &SourceRow,
        ch: &mut Channel,
    ) -> Result<(), LiveError> {
        use std::time::Duration;
        let Some(bus) = self.bus() else {
            return Ok(());
        };
        let id = source.id.as_str();
        let since = ch.caught_up.map(|t| t.elapsed());
        let target = Duration::from_secs(u64::try_from(source.target_duration).unwrap_or(2).max(1));
        let due = if bus.health.down().is_some() {
            since.is_none_or(|s| s >= Duration::from_millis(500))
        } else {
            let target_ms = i64::try_from(target.as_millis()).unwrap_or(i64::MAX);
            let overdue = ch.recent.back().is_none_or(|r| {
                r.pdt_ms
                    .saturating_add(r.duration_ms)
                    .saturating_add(target_ms)
                    < crate::db::now_ms()
            });
            overdue && since.is_none_or(|s| s >= target)
        };
        if !due {
            return Ok(());
        }
        ch.caught_up = Some(std::time::Instant::now());
        if ch.recent.follow().await? == 0 {
            return Ok(());
        }
        let (_, discontinuities) = self.sources.rendition_counters(id, &ch.rendition).await?;
        ch.discontinuities = ch
            .discontinuities
            .max(u64::try_from(discontinuities).unwrap_or(0));
        self.prune(id, ch).await
    }
}
