//! `[server]` (and the top-level `shutdown_grace`): how the node takes connections and
//! requests — timeouts, size limits, worker threads, the read budget, CORS origins and the
//! host names it answers for. Absent keys take `crate::defaults::server`.

use std::time::Duration;

use anyhow::{Context, bail};

use super::file::ServerSection;
use super::units::{opt, parse_duration, parse_size};
use super::{env_override, sections::cors_origin};
use crate::defaults::server as defaults;

/// The validated `[server]` section.
#[derive(Debug, Clone)]
pub(crate) struct ServerSettings {
    /// `shutdown_grace` (top level): in-flight requests may finish this long after a stop.
    pub(crate) shutdown_grace: Duration,
    pub(crate) header_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) max_header_bytes: usize,
    pub(crate) sendfile: bool,
    /// Connection-serving threads (`[server] workers`); 0: the shared runtime serves.
    pub(crate) workers: usize,
    /// `[server] max_connections`.
    pub(crate) max_connections: usize,
    pub(crate) read_budget: usize,
    pub(crate) max_upload: u64,
    pub(crate) body_timeout: Duration,
    pub(crate) cors_origins: Vec<http::HeaderValue>,
    /// `[server] hosts`: names a request may give besides this machine's own.
    pub(crate) hosts: crate::auth::access::Hosts,
}

fn duration(v: &Option<String>, default: Duration, key: &str) -> anyhow::Result<Duration> {
    opt(v, default, key, parse_duration)
}

fn size(v: &Option<String>, default: usize, key: &str) -> anyhow::Result<usize> {
    opt(v, default, key, parse_size)
}

/// `[server]` `s`, with the top-level `shutdown_grace`.
pub(super) fn server_settings(
    s: &ServerSection,
    shutdown_grace: &Option<String>,
) -> anyhow::Result<ServerSettings> {
    let max_header_bytes = size(
        &s.max_header_bytes,
        defaults::MAX_HEADER_BYTES,
        "server.max_header_bytes",
    )?;
    if max_header_bytes < defaults::MIN_HEADER_BYTES {
        bail!("config key server.max_header_bytes: must be at least 8KiB");
    }
    Ok(ServerSettings {
        shutdown_grace: duration(shutdown_grace, defaults::SHUTDOWN_GRACE, "shutdown_grace")?,
        header_timeout: duration(
            &s.header_timeout,
            defaults::HEADER_TIMEOUT,
            "server.header_timeout",
        )?,
        write_timeout: duration(
            &s.write_timeout,
            defaults::WRITE_TIMEOUT,
            "server.write_timeout",
        )?,
        max_header_bytes,
        sendfile: s.sendfile.unwrap_or(defaults::SENDFILE),
        workers: server_workers(s.workers)?,
        max_connections: match s.max_connections {
            None => defaults::MAX_CONNECTIONS,
            Some(n) if n >= 1 => n,
            Some(_) => bail!("config key server.max_connections: at least 1"),
        },
        read_budget: size(&s.read_budget, defaults::READ_BUDGET, "server.read_budget")?,
        max_upload: size(
            &s.max_upload,
            defaults::MAX_UPLOAD as usize,
            "server.max_upload",
        )? as u64,
        body_timeout: duration(
            &s.body_timeout,
            defaults::BODY_TIMEOUT,
            "server.body_timeout",
        )?,
        cors_origins: s
            .cors_origins
            .iter()
            .map(|o| cors_origin(o))
            .collect::<anyhow::Result<_>>()?,
        hosts: crate::auth::access::Hosts::new(&s.hosts)
            .map_err(|e| anyhow::anyhow!("config key server.hosts: {e}"))?,
    })
}

/// `[server] workers` (`REELAY_WORKERS` overrides it): default one per CPU, at most 256.
fn server_workers(configured: Option<usize>) -> anyhow::Result<usize> {
    let from_env = match env_override("REELAY_WORKERS") {
        Some(v) => Some(v.parse().context("REELAY_WORKERS must be a number")?),
        None => None,
    };
    let workers = from_env.or(configured).unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    if workers > 256 {
        bail!("config key server.workers: at most 256");
    }
    Ok(workers)
}
