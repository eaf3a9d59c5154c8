//! The edge links' metrics (DESIGN §11: edge state), registered with the node's `/metrics`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Default)]
pub struct RelayMetrics {
    /// On an edge: segments the control confirmed, sent live / backfilled.
    pub(crate) forwarded_live: Counter,
    pub(crate) backfilled: Counter,
    /// On an edge: uploads to the control that failed (retried or skipped).
    pub(crate) forward_failures: Counter,
    /// On an edge: Low-Latency parts the control published, and parts not sent (a failed
    /// upload, or a part after one that failed: its segment follows whole).
    pub(crate) parts_forwarded: Counter,
    pub(crate) parts_dropped: Counter,
    /// On an edge: 1 while the long-poll to the control works.
    pub(crate) link_up: Gauge,
    /// On a control node: edges online.
    pub(crate) edges_online: Gauge,
    /// On a control node: edges' desired-state long-polls held, waiting for a change.
    pub(crate) polls_held: Gauge,
    /// On a control node: held long-polls answered because a change was announced (by this
    /// node or on the bus), not at their once-a-second re-read or their deadline.
    pub polls_woken: Counter,
    /// On a control node: rounds of the edge liveness sweep done (by every node; only the
    /// lease holder acts on what it finds).
    pub(crate) liveness_sweeps: Counter,
}

impl RelayMetrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        for (name, help, counter) in [
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
                "edge_parts_forwarded",
                "Edge: Low-Latency parts the control published",
                &self.parts_forwarded,
            ),
            (
                "edge_parts_dropped",
                "Edge: Low-Latency parts not forwarded (their segment follows whole)",
                &self.parts_dropped,
            ),
            (
                "edge_state_polls_woken",
                "Control: edges' long-polls answered because a change was announced",
                &self.polls_woken,
            ),
            (
                "edge_liveness_sweeps",
                "Control: rounds of the edge liveness sweep",
                &self.liveness_sweeps,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
        for (name, help, gauge) in [
            (
                "edge_link_up",
                "Edge: 1 while the control answers",
                &self.link_up,
            ),
            (
                "edges_online",
                "Control: edges heard from in time",
                &self.edges_online,
            ),
            (
                "edge_state_polls_held",
                "Control: edges' long-polls waiting for a change of their desired state",
                &self.polls_held,
            ),
        ] {
            registry.register(name, help, gauge.clone());
        }
    }
}
