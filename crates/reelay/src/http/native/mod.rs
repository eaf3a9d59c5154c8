//! reelay's own handlers: playback of media with ranges and conditionals ([`media`]), live
//! ingest and live and recorded HLS ([`live`], Low-Latency in [`live_ll`]), the routes edge
//! nodes call ([`edge`]), probes ([`health`]), the embedded web UI ([`ui`]) and the JSON API
//! ([`api`]).

pub(crate) mod api;
pub(crate) mod edge;
pub mod health;
pub mod live;
mod live_ll;
pub(crate) mod media;
pub(crate) mod ui;
