//! The HTTP layer: everything that knows a request or a response lives here, and nothing below
//! imports from here. Domain modules (storage, cache, live, relay, auth) take plain values —
//! keys, [`crate::stream::BodyStream`]s, credentials — and return their own errors, which
//! [`common::error`] maps to statuses in one table. Rooms by concern, each importing only the
//! rooms listed after it:
//!
//! - [`transport`]: connections — the accept loop with its limits and graceful shutdown,
//!   worker threads, write-stall guards, sendfile, and the direct path;
//! - [`wiring`]: the handlers wired into one application — the router and the OpenAPI document
//!   with its rules;
//! - [`native`]: reelay's own handlers — playback, live and recorded HLS, the edge protocol,
//!   probes, the web UI, the JSON API; [`compat`]: the routes of the systems reelay replaces
//!   (the Lyve Cloud middleware, LiveMix), their shapes over the same domain verbs;
//! - [`common`]: what all of them share — route templates and what each requires, the state,
//!   the error table, bodies in and out, the request pipeline and the router's middleware.

pub mod common;
pub(crate) mod compat;
pub mod native;
pub(crate) mod transport;
pub mod wiring;

pub use common::state::{AppState, Limits, Services};
pub use transport::direct::Front;
pub use transport::server::{ServerOptions, ShutdownReport, serve};
pub use wiring::router::app;
