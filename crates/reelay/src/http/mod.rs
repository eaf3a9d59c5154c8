//! The HTTP layer: everything that knows a request or a response lives here, and nothing below
//! imports from here. Domain modules (storage, cache, live, relay, auth) take plain values —
//! keys, [`crate::stream::BodyStream`]s, credentials — and return their own errors, which
//! [`wiring::error`] maps to statuses in one table. Four rooms, by concern:
//!
//! - [`transport`]: connections — the accept loop with its limits and graceful shutdown,
//!   worker threads, write-stall guards, sendfile, the direct path and response bodies;
//! - [`wiring`]: what every request passes and every handler shares — route templates and what
//!   each requires, the router, the request pipeline and the router's middleware, the state,
//!   the error table, request bodies and forms, the OpenAPI document and its rules;
//! - [`native`]: reelay's own handlers — playback, live and recorded HLS, the edge protocol,
//!   probes, the web UI, the JSON API;
//! - [`compat`]: the routes of the systems reelay replaces (the Lyve Cloud middleware,
//!   LiveMix), their shapes over the same domain verbs.
//!
//! Rooms import one way: `compat` and `native` use `wiring`; `transport` serves what `wiring`
//! builds; `wiring`'s router and document name the handlers.

pub mod compat;
pub mod native;
pub mod transport;
pub mod wiring;

pub use transport::direct::Front;
pub use transport::server::{ServerOptions, ShutdownReport, serve};
pub use wiring::router::app;
pub use wiring::state::{AppState, Limits, Services};
