//! reelay's integration tests, in one binary (one link instead of one per feature).
//!
//! Each module is a feature, tested against real components: a reelay server on
//! `127.0.0.1:0` (or the real binary as a child process), real S3 (`s3s-fs`), nginx, ffmpeg and
//! Chromium. What the modules share — servers, raw clients, the one poll-until helper — is in
//! [`common`]. Pure routing questions (the auth matrix, error bodies) run in process on
//! `app(state)` with `oneshot`; sockets are used where the test is about sockets (timeouts, slow
//! clients, shutdown, real processes).

mod common;

mod api;
mod api_fuzz;
mod auth;
mod auth_matrix;
mod browser;
mod cache;
mod cache_scope;
mod cli;
mod client;
mod cluster;
mod cluster_faults;
mod cluster_hostile;
mod cluster_relay;
mod direct;
mod docs;
mod download;
mod edge;
mod edge_buffer;
mod edge_parts;
mod edge_protocol;
mod edge_scope;
mod errors;
mod ffmpeg;
mod limits;
mod listing;
mod live;
mod livemix;
mod livemix_manage;
mod ll_hinted;
mod ll_relay;
mod low_latency;
mod lyve;
mod open_mode;
mod origin;
mod range;
mod recordings;
mod renditions;
mod s3;
mod security;
mod sendfile;
mod shared_cache;
mod tier_hostile;
mod upload;
