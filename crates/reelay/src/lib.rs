//! reelay: a media streaming server with exact HTTP range semantics, and a live HLS relay.
//!
//! The library holds everything; `main.rs` only parses the command line. Modules:
//! - [`config`]: file + environment + flags into one validated [`config::Config`];
//! - [`storage`]: buckets and backends (local folders today), key safety, budgeted reads;
//! - [`media`]: the media routes, a thin shell over the pure `reelay-http` core;
//! - [`api`]: the JSON API, documented by [`openapi`]; [`ui`]: the embedded web UI;
//! - [`auth`]: tokens, roles, signed URLs, the route requirement table; [`db`]: metadata DB;
//! - [`observe`]: request ids, tracing, Prometheus metrics;
//! - [`error`]: the one mapping from failures to HTTP statuses; [`limits`]: request limits;
//! - [`app`]: the router; [`server`]: the accept loop with limits and graceful shutdown;
//!   [`net`]: connection I/O guards (write-stall timeout);
//! - [`node`]: assembling a node from its config; [`cli`]: the subcommands.

pub mod api;
pub mod app;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod client;
pub mod config;
pub mod db;
pub mod error;
pub mod hex;
pub mod limits;
pub mod live;
pub mod media;
pub mod net;
pub mod node;
pub mod observe;
pub mod openapi;
pub mod relay;
pub mod server;
pub mod storage;
pub mod ui;
