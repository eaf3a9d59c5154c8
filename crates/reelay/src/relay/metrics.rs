//! The relay's metrics (DESIGN §11: live segment lag, edge state), registered with the node's
//! `/metrics`. A `Live` built outside a node (tests) has unregistered ones.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone)]
pub struct RelayMetrics {
    /// Segments taken into a buffer from encoders (on an edge or an all-in-one node).
    pub ingested: Counter,
    /// On an edge: segments the control confirmed, sent live / backfilled.
    pub forwarded_live: Counter,
    pub backfilled: Counter,
    /// On an edge: uploads to the control that failed (retried or skipped).
    pub forward_failures: Counter,
    /// On an edge: 1 while the long-poll to the control works.
    pub link_up: Gauge,
    /// On a control node: forwarded segments stored.
    pub received: Counter,
    /// On a control node: from the end of a live segment (edge clock) to its arrival here.
    pub lag: Histogram,
    /// On a control node: edges online.
    pub edges_online: Gauge,
}

impl Default for RelayMetrics {
    fn default() -> Self {
        Self {
            ingested: Counter::default(),
            forwarded_live: Counter::default(),
            backfilled: Counter::default(),
            forward_failures: Counter::default(),
            link_up: Gauge::default(),
            received: Counter::default(),
            // 1 ms .. ~65 s
            lag: Histogram::new(exponential_buckets(0.001, 2.0, 17)),
            edges_online: Gauge::default(),
        }
    }
}

impl RelayMetrics {
    pub fn register(&self, registry: &mut Registry) {
        for (name, help, counter) in [
            (
                "live_segments_ingested",
                "Segments taken from encoders into a buffer",
                &self.ingested,
            ),
            (
                "edge_segments_forwarded_live",
                "Edge: live segments the control confirmed",
                &self.forwarded_live,
            ),
            (
                "edge_segments_backfilled",
                "Edge: recorded segments backfilled to the control",
                &self.backfilled,
            ),
            (
                "edge_forward_failures",
                "Edge: uploads to the control that failed",
                &self.forward_failures,
            ),
            (
                "live_segments_received",
                "Control: segments received from edges",
                &self.received,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "edge_link_up",
            "Edge: 1 while the control answers",
            self.link_up.clone(),
        );
        registry.register(
            "edges_online",
            "Control: edges heard from in time",
            self.edges_online.clone(),
        );
        registry.register(
            "live_segment_lag_seconds",
            "Control: from a live segment's end at the edge to its arrival",
            self.lag.clone(),
        );
    }
}
