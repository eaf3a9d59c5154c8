//! The live relay between edge nodes (next to encoders, behind firewalls) and the control node.
//! The edge opens every connection; see [`protocol`] for the exchange, [`forward`] for what an
//! edge sends when, [`edge`] for its tasks ([`parts`]: its Low-Latency part forwarder) and
//! [`link`] for its client, [`control`] for the
//! control node's side and [`edges`] for the registry and liveness. No HTTP server types here:
//! the routes that edges call are in `http::edge`, and they hand this module plain values.

pub mod control;
pub mod edge;
pub mod edges;
pub mod error;
pub mod forward;
pub mod link;
pub mod metrics;
pub mod parts;
pub mod protocol;

pub use error::RelayError;
pub use metrics::RelayMetrics;
