//! reelay: a media streaming server with exact HTTP range semantics, and a live HLS relay.
//!
//! The library holds everything; `main.rs` only parses the command line and sets up logging.
//! Layers point one way, from the bottom up (the pure cores `reelay-http` and `reelay-hls` sit
//! below them all):
//!
//! - below every layer: [`stream`] (byte streams in and out), [`random`], [`hex`], [`keyed`]
//!   (MACs under the cluster key), [`db`] (the metadata database);
//! - domain: [`cache`] (the chunk cache), [`storage`] (buckets over fs, S3 and origins, read
//!   through the cache), [`auth`] (tokens, roles, signed URLs), [`live`] (ingest, windows,
//!   recordings), [`relay`] (edge and control), [`metrics`] (the one registry), [`config`]
//!   (file + environment + flags into one validated [`config::Config`]);
//! - [`http`]: routes, middleware, handlers, the error table and the accept loop;
//! - the binary's: [`node`] (assembling a node from its config), [`cli`] (the subcommands),
//!   [`client`] (`reelay upload` and `reelay sign`).
//!
//! `docs/architecture.md` says why it is built this way.

pub mod auth;
pub mod cache;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod config;
pub mod db;
pub mod defaults;
pub mod hex;
pub mod http;
pub mod keyed;
pub mod live;
pub mod log_lines;
pub mod metrics;
pub mod node;
pub mod random;
pub mod relay;
pub mod rules;
pub mod storage;
pub mod stream;
pub mod zero_copy;
