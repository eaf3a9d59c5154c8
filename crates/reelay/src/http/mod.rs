//! The HTTP layer: everything that knows a request or a response lives here, and nothing below
//! imports from here. Domain modules (storage, cache, live, relay, auth) take plain values —
//! keys, [`crate::stream::BodyStream`]s, credentials — and return their own errors, which
//! [`error`] maps to statuses in one table.
//!
//! - [`routes`]: every route template, once, and what each requires; [`router`]: mounts them
//!   inside [`middleware`] (request id + metrics + tracing, CORS, panic guard, authorization,
//!   the exact head limit);
//! - [`state`]: what handlers share, one `Arc`;
//! - handlers: [`media`] (playback), [`live`] (ingest, live and recorded playlists), [`edge`]
//!   (the routes edge nodes call), [`ui`] (the embedded web UI), [`api`] (the JSON API,
//!   described by [`openapi`]);
//! - [`body`]: request bodies as domain streams; [`error`]: the error table;
//! - [`direct`]: plain media reads answered beside the router (same steps, plain calls);
//!   [`reply`]: response bodies without a box per layer;
//! - [`server`]: the accept loop with its limits and graceful shutdown; [`net`]: connection I/O
//!   guards.

pub mod api;
pub mod body;
pub mod direct;
pub mod edge;
pub mod error;
pub mod health;
pub mod json_values;
pub mod live;
mod live_ll;
pub mod livemix;
mod livemix_envelope;
pub mod livemix_manage;
pub mod lyve;
pub mod media;
pub mod middleware;
pub mod multipart;
pub mod net;
pub mod openapi;
mod openapi_errors;
mod openapi_rules;
mod pipeline;
pub mod reply;
pub mod router;
pub mod routes;
pub mod sendfile;
pub mod server;
pub mod state;
pub mod ui;
pub mod workers;

pub use direct::Front;
pub use router::app;
pub use server::{ServerOptions, ShutdownReport, serve};
pub use state::{AppState, Limits, Services};
