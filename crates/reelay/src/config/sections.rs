//! Validating the smaller sections of the file: auth keys and tokens, CORS origins, the
//! cache, live settings and origin buckets. Each returns the typed settings or an error that
//! names the key.

use std::time::Duration;

use anyhow::{Context, bail};

use super::file::{AuthSection, BucketEntry, CacheSection, EdgesSection, LiveSection, TokenEntry};
use super::units::{opt, parse_duration, parse_size};
use crate::auth::Role;
use crate::auth::store::ConfigToken;
use crate::cache::CacheSettings;
use crate::defaults::{cache, edges, live, origin};
use crate::live::LiveSettings;
use crate::relay::edges::Liveness;
use crate::storage::origin::{OriginBucket, OriginSettings};

/// A key given as hex in the environment variable `env` or in the file (`[section] name`),
/// at least 32 bytes; `None` when neither is set.
pub(super) fn secret_hex(
    section: &str,
    name: &str,
    env: Option<String>,
    inline: Option<String>,
) -> anyhow::Result<Option<Vec<u8>>> {
    let (hex, what) = match (env, inline) {
        (Some(_), Some(_)) => bail!("[{section}] {name}_env and {name}: give one of them"),
        (Some(var), None) => {
            let hex = std::env::var(&var).map_err(|_| {
                anyhow::anyhow!("environment variable {var} ([{section}] {name}_env) is not set")
            })?;
            (
                hex,
                format!("environment variable {var} ([{section}] {name}_env)"),
            )
        }
        (None, Some(hex)) => (hex, format!("[{section}] {name}")),
        (None, None) => return Ok(None),
    };
    match crate::hex::decode(hex.trim()) {
        Some(key) if key.len() >= 32 => Ok(Some(key)),
        _ => bail!("{what} must hold at least 32 bytes as hex"),
    }
}

/// `[auth] signing_key_env` and `previous_signing_key_env`: (current, previous).
pub(super) type SigningKeyConfig = (Option<Vec<u8>>, Option<Vec<u8>>);

pub(super) fn signing_key_from_env(auth: &AuthSection) -> anyhow::Result<SigningKeyConfig> {
    let current = secret_hex("auth", "signing_key", auth.signing_key_env.clone(), None)?;
    let previous = secret_hex(
        "auth",
        "previous_signing_key",
        auth.previous_signing_key_env.clone(),
        None,
    )?;
    anyhow::ensure!(
        previous.is_none() || current.is_some(),
        "[auth] previous_signing_key_env needs signing_key_env: the new key signs"
    );
    Ok((current, previous))
}

pub(super) fn origin_settings(
    e: &BucketEntry,
    resolver_slots: &std::sync::Arc<crate::storage::origin::resolver::ResolverSlots>,
) -> anyhow::Result<OriginSettings> {
    let key = |k: &str| format!("bucket.{}.{k}", e.name);
    let base =
        match &e.origin {
            Some(text) => Some(text.parse::<url::Url>().with_context(|| {
                format!("[[bucket]] {:?}: origin {text:?} is not a URL", e.name)
            })?),
            None => None,
        };
    let resolver = match &e.resolver {
        Some(argv) => {
            anyhow::ensure!(
                !argv.is_empty() && argv.iter().any(|a| a.contains("{id}")),
                "[[bucket]] {:?}: resolver must be a command with an {{id}} argument",
                e.name
            );
            anyhow::ensure!(
                base.is_some() || !e.allow.is_empty(),
                "[[bucket]] {:?}: a resolver needs an allow list (or an origin) for its answers",
                e.name
            );
            let timeout = opt(
                &e.resolver_timeout,
                origin::RESOLVER_TIMEOUT,
                &key("resolver_timeout"),
                parse_duration,
            )?;
            let ttl = opt(
                &e.resolver_ttl,
                origin::RESOLVER_TTL,
                &key("resolver_ttl"),
                parse_duration,
            )?;
            Some((argv.clone(), timeout, ttl))
        }
        None => None,
    };
    let proxy = match &e.proxy {
        Some(text) => {
            let url: url::Url = text
                .parse()
                .with_context(|| format!("config key {}: not a URL", key("proxy")))?;
            anyhow::ensure!(
                matches!(url.scheme(), "http" | "https" | "socks5" | "socks5h"),
                "config key {}: http://, https:// or socks5:// only",
                key("proxy")
            );
            Some(url)
        }
        None => None,
    };
    let settings = OriginSettings {
        proxy,
        resolver_slots: resolver_slots.clone(),
        name: e.name.clone(),
        base,
        allow: e.allow.clone(),
        allow_internal: e.allow_internal,
        resolver,
        connect_timeout: opt(
            &e.connect_timeout,
            origin::CONNECT_TIMEOUT,
            &key("connect_timeout"),
            parse_duration,
        )?,
        request_timeout: opt(
            &e.request_timeout,
            origin::REQUEST_TIMEOUT,
            &key("request_timeout"),
            parse_duration,
        )?,
        meta_ttl: opt(
            &e.meta_ttl,
            origin::META_TTL,
            &key("meta_ttl"),
            parse_duration,
        )?,
    };
    // Validate now (URL shape, allow list) rather than at first request.
    OriginBucket::new(settings.clone()).with_context(|| format!("[[bucket]] {:?}", e.name))?;
    Ok(settings)
}

pub(super) fn live_settings(l: &LiveSection) -> anyhow::Result<LiveSettings> {
    let window = l.window_segments.unwrap_or(live::WINDOW);
    if !(2..=100).contains(&window) {
        bail!("config key live.window_segments: must be 2-100");
    }
    Ok(LiveSettings {
        window,
        buffer: opt(&l.buffer, live::BUFFER, "live.buffer", parse_duration)?,
        max_segment_bytes: opt(
            &l.max_segment,
            live::MAX_SEGMENT,
            "live.max_segment",
            parse_size,
        )? as u64,
        buffer_bytes: opt(
            &l.buffer_bytes,
            live::BUFFER_BYTES,
            "live.buffer_bytes",
            parse_size,
        )? as u64,
        ingest_root: match &l.ingest_root {
            Some(root) if !root.is_dir() => {
                bail!(
                    "config key live.ingest_root: {} is not a folder",
                    root.display()
                )
            }
            other => other.clone(),
        },
        livemix_source: l.livemix_source.clone(),
        livemix_prefix: livemix_prefix(l)?,
        public: l.public,
        part_target_ms: part_target_ms(l)?,
        max_held: match l.max_held_reloads {
            None => live::MAX_HELD,
            Some(n) if n >= 1 => n,
            Some(_) => bail!("config key live.max_held_reloads: at least 1"),
        },
    })
}

/// `[live] part_target`: 100 ms to 5 s; absent, 0 (learned).
fn part_target_ms(l: &LiveSection) -> anyhow::Result<u64> {
    let Some(text) = &l.part_target else {
        return Ok(0);
    };
    let target =
        parse_duration(text).map_err(|e| anyhow::anyhow!("config key live.part_target: {e}"))?;
    if !(Duration::from_millis(100)..=Duration::from_secs(5)).contains(&target) {
        bail!("config key live.part_target: must be 100ms-5s");
    }
    Ok(u64::try_from(target.as_millis()).unwrap_or(0))
}

/// `[live] livemix_prefix`: a `file://` folder, which needs `ingest_root` (whether it lies
/// inside is checked on each playlist, as for the header, since folders come and go).
fn livemix_prefix(l: &LiveSection) -> anyhow::Result<Option<String>> {
    let Some(prefix) = &l.livemix_prefix else {
        return Ok(None);
    };
    if !prefix.starts_with("file:///") {
        bail!("config key live.livemix_prefix: must be a file:/// URI, like the header");
    }
    if l.ingest_root.is_none() {
        bail!("config key live.livemix_prefix: needs live.ingest_root, the folder it lies in");
    }
    Ok(Some(prefix.clone()))
}

pub(super) fn cache_settings(c: &CacheSection) -> anyhow::Result<Option<CacheSettings>> {
    let memory = opt(&c.memory, cache::MEMORY, "cache.memory", parse_size)? as u64;
    let chunk_size = opt(&c.chunk, cache::CHUNK, "cache.chunk", parse_size)? as u64;
    let readahead = c.readahead.unwrap_or(cache::READAHEAD);
    if !(16 << 10..=64 << 20).contains(&chunk_size) {
        bail!("config key cache.chunk: must be between 16KiB and 64MiB");
    }
    if readahead > 64 {
        bail!("config key cache.readahead: at most 64 chunks");
    }
    if memory != 0 && memory < chunk_size * 2 {
        bail!("config key cache.memory: must hold at least two chunks (or be 0 to turn it off)");
    }
    Ok((memory > 0).then_some(CacheSettings {
        memory,
        chunk_size,
        readahead,
        shared: None, // the engine is connected by the node (`SharedCache`)
    }))
}

/// `[cache] shared` and `shared_ttl`: the engine's URL (its scheme checked here) and the
/// entries' TTL.
pub(super) fn shared_cache(c: &CacheSection) -> anyhow::Result<Option<(String, Duration)>> {
    let Some(url) = &c.shared else {
        return Ok(None);
    };
    anyhow::ensure!(
        ["redis://", "rediss://", "memcached://"]
            .iter()
            .any(|s| url.starts_with(s)),
        "config key cache.shared: a redis:// or memcached:// URL"
    );
    let ttl = opt(
        &c.shared_ttl,
        cache::SHARED_TTL,
        "cache.shared_ttl",
        parse_duration,
    )?;
    Ok(Some((url.clone(), ttl)))
}

pub(super) fn cors_origin(origin: &str) -> anyhow::Result<http::HeaderValue> {
    let url: url::Url = origin
        .parse()
        .with_context(|| format!("server.cors_origins: {origin:?} is not an origin"))?;
    let bare = url.path() == "/" && url.query().is_none() && !origin.ends_with('/');
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || !bare {
        bail!("server.cors_origins: {origin:?} must be scheme://host[:port], nothing more");
    }
    http::HeaderValue::from_str(origin).context("server.cors_origins")
}

pub(super) fn config_token(t: &TokenEntry) -> anyhow::Result<ConfigToken> {
    let role = Role::parse(&t.role)
        .with_context(|| format!("[[token]] {:?}: role must be read, write or admin", t.name))?;
    let hex = |s: &str, n| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex(&t.id, 12) || !hex(&t.sha256, 64) {
        bail!(
            "[[token]] {:?}: id must be 12 hex digits and sha256 64 (use `reelay token`)",
            t.name
        );
    }
    Ok(ConfigToken {
        id: t.id.to_ascii_lowercase(),
        name: t.name.clone(),
        role,
        secret_hash: t.sha256.to_ascii_lowercase(),
    })
}

pub(super) fn liveness(e: &EdgesSection) -> anyhow::Result<Liveness> {
    let interval = opt(
        &e.interval,
        edges::INTERVAL,
        "edges.interval",
        parse_duration,
    )?;
    if !(Duration::from_millis(100)..=Duration::from_secs(300)).contains(&interval) {
        bail!("config key edges.interval: must be 100ms-5m");
    }
    let missed = e.missed_intervals.unwrap_or(edges::MISSED_INTERVALS);
    if !(2..=100).contains(&missed) {
        bail!("config key edges.missed_intervals: must be 2-100 (one late poll is not an outage)");
    }
    Ok(Liveness {
        interval,
        missed,
        margin: opt(&e.margin, edges::MARGIN, "edges.margin", parse_duration)?,
        stop_recordings: e.offline_stops_recordings,
    })
}

/// The `cache_control` of each `[[bucket]]` that sets one, checked as a header value.
pub(super) fn bucket_cache_control(
    buckets: &[BucketEntry],
) -> anyhow::Result<std::collections::HashMap<String, http::HeaderValue>> {
    let mut out = std::collections::HashMap::new();
    for b in buckets {
        let Some(value) = &b.cache_control else {
            continue;
        };
        let value = http::HeaderValue::from_str(value)
            .ok()
            .filter(|v| !v.is_empty() && v.to_str().is_ok())
            .with_context(|| {
                format!(
                    "[[bucket]] {:?}: cache_control {value:?} is not a header value",
                    b.name
                )
            })?;
        out.insert(b.name.clone(), value);
    }
    Ok(out)
}
