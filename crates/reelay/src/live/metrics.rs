//! The live relay's metrics on a node (DESIGN §11: live segment lag), registered with the
//! node's `/metrics`. A `Live` built outside a node (tests) has unregistered ones.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone)]
pub struct LiveMetrics {
    /// Segments taken into a buffer from encoders (on an edge or an all-in-one node).
    pub(crate) ingested: Counter,
    /// On a control node: forwarded segments stored.
    pub(crate) received: Counter,
    /// On a control node: from the end of a live segment (edge clock) to its arrival here.
    pub(crate) lag: Histogram,
    /// Cluster: listed segments this node fetched from the shared tier (each once).
    pub(crate) fetched_from_cluster: Counter,
    /// Cluster: segments this node accepted but could not store in the shared tier.
    pub(crate) share_failures: Counter,
    /// Cluster: messages of other nodes taken from the bus, by kind.
    pub(crate) bus_received: Family<BusKind, Counter>,
    /// Cluster: messages refused, never acted on, by the reason (the field that failed).
    pub(crate) rejected: Family<Rejected, Counter>,
    /// LL-HLS blocking reloads and parts asked for ahead, waiting for their publication now.
    pub held: Gauge,
    /// Blocking reloads and parts refused because [`Self::held`] was at its cap.
    pub held_refused: Counter,
}

/// What a bus message was about: `changes`, `live` (a segment joined a window) or `part`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct BusKind {
    pub(crate) kind: &'static str,
}

/// Why a message from the cluster was refused.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Rejected {
    pub(crate) reason: &'static str,
}

impl LiveMetrics {
    /// Counts one message refused for `reason`.
    pub(crate) fn count_rejected(&self, reason: &'static str) {
        self.rejected.get_or_create(&Rejected { reason }).inc();
    }

    /// The counter of shared-tier entries that failed their seal (`reason="tier"`), for the
    /// chunk cache's tier, which counts its own.
    pub fn tier_rejected(&self) -> Counter {
        self.rejected
            .get_or_create(&Rejected { reason: "tier" })
            .clone()
    }

    /// Counts one message of `kind` taken from the bus.
    pub(crate) fn count_bus_message(&self, kind: &'static str) {
        self.bus_received.get_or_create(&BusKind { kind }).inc();
    }

    /// Counts a request in [`Self::held`] until the guard is dropped; `None` (counted in
    /// [`Self::held_refused`]) when `max` are held already.
    pub fn hold(&self, max: i64) -> Option<HeldRequest> {
        if self.held.inc() >= max {
            self.held.dec();
            self.held_refused.inc();
            return None;
        }
        Some(HeldRequest(self.held.clone()))
    }
}

/// A request counted as held while this lives.
#[derive(Debug)]
pub struct HeldRequest(Gauge);

impl Drop for HeldRequest {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Default for LiveMetrics {
    fn default() -> Self {
        Self {
            ingested: Counter::default(),
            received: Counter::default(),
            // 1 ms .. ~65 s
            lag: Histogram::new(exponential_buckets(0.001, 2.0, 17)),
            fetched_from_cluster: Counter::default(),
            share_failures: Counter::default(),
            bus_received: Family::default(),
            rejected: Family::default(),
            held: Gauge::default(),
            held_refused: Counter::default(),
        }
    }
}

impl LiveMetrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "live_segments_ingested",
            "Segments taken from encoders into a buffer",
            self.ingested.clone(),
        );
        registry.register(
            "live_segments_received",
            "Control: segments received from edges",
            self.received.clone(),
        );
        registry.register(
            "live_segment_lag_seconds",
            "Control: from a live segment's end at the edge to its arrival",
            self.lag.clone(),
        );
        registry.register(
            "live_segments_fetched_from_cluster",
            "Cluster: listed segments fetched once from the shared tier",
            self.fetched_from_cluster.clone(),
        );
        registry.register(
            "live_segments_share_failures",
            "Cluster: accepted segments not stored in the shared tier",
            self.share_failures.clone(),
        );
        registry.register(
            "cluster_bus_messages_received",
            "Cluster: messages of other nodes taken from the bus, by kind",
            self.bus_received.clone(),
        );
        registry.register(
            "cluster_rejected",
            "Cluster: bus messages and shared-tier entries refused and never acted on, by reason",
            self.rejected.clone(),
        );
        registry.register(
            "live_held_requests",
            "LL-HLS blocking reloads and parts asked for ahead, waiting for their publication",
            self.held.clone(),
        );
        registry.register(
            "live_held_refused",
            "LL-HLS blocking reloads and parts refused (503) because the held ones were at the cap",
            self.held_refused.clone(),
        );
    }
}
