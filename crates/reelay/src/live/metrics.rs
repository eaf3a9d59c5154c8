//! The live relay's metrics on a node (DESIGN §11: live segment lag), registered with the
//! node's `/metrics`. A `Live` built outside a node (tests) has unregistered ones.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone)]
pub struct LiveMetrics {
    /// Segments taken into a buffer from encoders (on an edge or an all-in-one node).
    pub ingested: Counter,
    /// On a control node: forwarded segments stored.
    pub received: Counter,
    /// On a control node: from the end of a live segment (edge clock) to its arrival here.
    pub lag: Histogram,
    /// Cluster: listed segments this node fetched from the shared tier (each once).
    pub fetched_from_cluster: Counter,
    /// Cluster: segments this node accepted but could not store in the shared tier.
    pub share_failures: Counter,
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
        }
    }
}

impl LiveMetrics {
    pub fn register(&self, registry: &mut Registry) {
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
    }
}
