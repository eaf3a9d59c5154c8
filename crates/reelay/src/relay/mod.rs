//! The live relay between edge nodes (next to encoders, behind firewalls) and the control node.
//! The edge opens every connection; see [`protocol`] for the exchange, [`forward`] for what an
//! edge sends when, [`edge`] for its tasks, [`control`] for the control node's side and
//! [`edges`] for the registry and liveness.

pub mod control;
pub mod edge;
pub mod edges;
pub mod forward;
pub mod link;
pub mod metrics;
pub mod protocol;
