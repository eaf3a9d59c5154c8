//! The live relay between edge nodes (next to encoders, behind firewalls) and the control node.
//! The edge opens every connection; see [`protocol`] for the exchange, [`forward`] for what an
//! edge sends when, [`edge`] for its tasks ([`parts`]: its Low-Latency part forwarder) and
//! [`link`] for its client, [`control`] for the
//! control node's side and [`edges`] for the registry and liveness. No HTTP server types here:
//! the routes that edges call are in `http::edge`, and they hand this module plain values.

pub(crate) mod control;
pub(crate) mod edge;
pub(crate) mod edges;
pub(crate) mod error;
pub(crate) mod forward;
pub(crate) mod link;
pub(crate) mod metrics;
pub(crate) mod parts;
pub(crate) mod protocol;

pub(crate) use error::RelayError;
pub use metrics::RelayMetrics;
