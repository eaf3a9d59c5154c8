//! Assembling a running node from its [`Config`]: buckets, metadata database, tokens, signing
//! key, and the secure default for non-loopback binds.

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use std::sync::Arc;

use anyhow::Context;
use sqlx::AnyPool;

use crate::auth::sign::SigningKeys;
use crate::auth::store::TokenStore;
use crate::auth::{Auth, Role};
use crate::cache::CacheSettings;
use crate::config::Config;
use crate::db;
use crate::http::{AppState, Limits, Services};
use crate::live::Live;
use crate::live::recordings::Recordings;
use crate::relay::edges::Edges;
use crate::storage::s3::S3Bucket;
use crate::storage::{Backend, Buckets, Origin, ReadBudget, Reads};

/// The signing key in `DATA/signing.key` (hex), created with mode 0600 at first start.
pub(crate) fn load_or_create_signing_key(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join("signing.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => crate::hex::decode(text.trim())
            .filter(|k| k.len() >= 32)
            .with_context(|| format!("{} must hold at least 32 bytes as hex", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = crate::random::bytes::<32>()?;
            let hex = crate::hex::encode(&key);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            writeln!(file, "{hex}")?;
            Ok(key.to_vec())
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Adds the buckets created through the API on S3 profiles (recorded in the database).
async fn load_api_buckets(buckets: &Buckets, db: &AnyPool) -> anyhow::Result<()> {
    let rows: Vec<(String, Option<String>, Option<String>, i64)> =
        sqlx::query_as("SELECT name, profile, remote, created_at FROM buckets WHERE kind = 's3'")
            .fetch_all(db)
            .await?;
    for (name, profile, remote, created) in rows {
        let (Some(profile_name), Some(remote)) = (profile, remote) else {
            continue;
        };
        let Some(profile) = buckets.profile(&profile_name) else {
            tracing::warn!(
                bucket = name,
                profile = profile_name,
                "bucket's S3 profile is no longer configured"
            );
            continue;
        };
        let created =
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(created.max(0).unsigned_abs());
        let bucket = S3Bucket::new(profile, &remote)?;
        buckets.insert(&name, Backend::S3(bucket), Origin::Api, Some(created))?;
    }
    Ok(())
}

/// Builds the state a node serves with.
pub(crate) async fn build_state(config: &Config) -> anyhow::Result<AppState> {
    build_state_for(config, None).await
}

/// Builds the state of a node; with `edge_hold`, an edge node's (no recordings: those are the
/// control node's; the buffer holds what `edge_hold` says).
pub(crate) async fn build_state_for(
    config: &Config,
    edge_hold: Option<Arc<dyn crate::live::Hold>>,
) -> anyhow::Result<AppState> {
    let mut buckets = config.open_buckets()?;
    buckets.set_reads(Reads::new(ReadBudget::new(config.server.read_budget), None));
    let db = db::connect(&config.metadata_url).await?;
    load_api_buckets(&buckets, &db).await?;
    let auth = build_auth(config, &db).await?;
    let mut services = Services::new(buckets, auth, db.clone());
    if let Some(settings) = &config.cache {
        let rejected = services.metrics.live.tier_rejected();
        let settings = with_shared_tier(settings, config, rejected).await?;
        if let Some(tier) = &settings.shared {
            services.buckets.share_resolvers(tier);
        }
        services.enable_cache(settings);
    }
    services.limits = Limits {
        max_header_bytes: config.server.max_header_bytes,
        max_upload: config.server.max_upload,
        body_timeout: config.server.body_timeout,
        cors_origins: config.server.cors_origins.clone(),
    };
    services.cache_control = config.cache_control.clone();
    services.metrics.register_resolvers(&config.resolver_slots);
    services.edge = edge_hold.is_some();
    services.edges = Arc::new(Edges::new(db.clone(), config.liveness.clone()));
    let reads = services.buckets.reads().clone();
    let mut live = Live::new(db.clone(), &config.data_dir, config.live.clone(), reads)
        .with_metrics(services.metrics.live.clone());
    let stale = live.clean_incoming();
    if stale > 0 {
        tracing::info!(
            files = stale,
            "removed uploads no playlist had listed before the stop"
        );
    }
    match edge_hold {
        Some(hold) => live = live.with_hold(hold),
        None => {
            live = live.with_recordings(recordings(config, &services.buckets, &db)?);
            let cluster = &config.cluster;
            if cluster.redis.is_some() || cluster.nats.is_some() {
                live = live.with_cluster(crate::cluster::Cluster::connect(cluster.clone()).await?);
            }
        }
    }
    services.live = Some(Arc::new(live));
    Ok(AppState::new(services))
}

/// The cache settings with the shared tier, when `[cache] shared` names one.
async fn with_shared_tier(
    settings: &CacheSettings,
    config: &Config,
    rejected: prometheus_client::metrics::counter::Counter,
) -> anyhow::Result<CacheSettings> {
    use crate::cache::shared::{SharedChunks, Tier};
    let mut settings = settings.clone();
    let Some((url, ttl)) = &config.shared_cache else {
        return Ok(settings);
    };
    let name = &config.cluster.name;
    let engine: Arc<dyn SharedChunks> = if url.starts_with("memcached://") {
        Arc::new(crate::cluster::MemcachedChunks::connect(url, name).await?)
    } else {
        Arc::new(crate::cluster::RedisChunks::connect(url, name)?)
    };
    let keys = config.cluster.keys.clone().ok_or_else(|| {
        anyhow::anyhow!("[cache] shared needs the cluster key: set [cluster] key_env")
    })?;
    // An entry is the chunk, its sealed head, and the engine's own per-item overhead.
    let head =
        usize::try_from(settings.chunk_size).map_or(u64::MAX, |c| crate::keyed::head_len(c) as u64);
    let needed = settings.chunk_size.saturating_add(head).saturating_add(256);
    if let Some(max) = engine.max_value() {
        anyhow::ensure!(
            needed <= max,
            "[cache] chunk ({} bytes) does not fit the shared tier's item limit ({max} bytes): \
             lower [cache] chunk, or raise the limit (memcached -I 4m)",
            settings.chunk_size
        );
    }
    let tier = Tier::new(engine, (*ttl, settings.chunk_size), keys, rejected);
    settings.shared = Some(Arc::new(tier));
    Ok(settings)
}

/// Tokens, the signing key, and the secure default for non-loopback binds.
async fn build_auth(config: &Config, db: &AnyPool) -> anyhow::Result<Auth> {
    let tokens = TokenStore::new(db.clone(), config.tokens.clone()).await?;
    let loopback = config.listen.ip().is_loopback();
    // One node of a cluster makes the first admin token (a lease that never lapses; the
    // same node may make another if every token was revoked since).
    if !loopback
        && !tokens.any_tokens()
        && db::try_lease(db, "initial-admin-token", &config.cluster.node_id, i64::MAX).await?
    {
        let (_, text) = tokens.create("initial admin", Role::Admin).await?;
        // stderr: stdout carries exactly the one "listening on" line.
        eprintln!(
            "reelay: {} is not a loopback address and no token existed, so an admin token was \
             created. It is shown only this once; keep it:\n\n    {text}\n",
            config.listen
        );
    } else if !loopback && !tokens.any_tokens() {
        tracing::warn!(
            "no token exists and another node of this cluster makes the first admin token: \
             use the one it printed"
        );
    }
    if config.reopen {
        anyhow::ensure!(
            loopback,
            "--reopen: only a node bound to loopback can be open"
        );
        anyhow::ensure!(
            tokens.reopen().await?,
            "--reopen: a token is still active (revoke it first, or remove it from the config file)"
        );
    }
    let signing_key = match &config.signing_key {
        Some(key) => key.clone(),
        None => load_or_create_signing_key(&config.data_dir)?,
    };
    let auth = Auth {
        tokens,
        signing: SigningKeys::new(signing_key, config.previous_signing_key.clone()),
        loopback,
        public_buckets: config
            .public_buckets
            .iter()
            .cloned()
            .collect::<HashSet<_>>(),
        hosts: config.server.hosts.clone(),
    };
    if auth.node_open().await {
        say_open(config, &auth.hosts);
    }
    Ok(auth)
}

/// The start-up warning of an open node: to whom it is open and how to close it.
fn say_open(config: &Config, hosts: &crate::auth::access::Hosts) {
    let mut names = vec!["localhost", "127.0.0.1", "[::1]"];
    names.extend(hosts.names().iter().map(String::as_str));
    tracing::warn!(
        listen = %config.listen,
        "this node is OPEN: no token was ever made, so any request to it that names {} as its \
         host and comes through no proxy acts as admin. Close it by making a token \
         (POST /api/v1/tokens, or a [[token]] in the config file); it then stays closed",
        names.join(", ")
    );
}

/// The recordings bucket (a folder under the data directory unless configured).
fn recordings(config: &Config, buckets: &Buckets, db: &AnyPool) -> anyhow::Result<Recordings> {
    let name = &config.recordings_bucket;
    if buckets.get(name).is_none() {
        let dir = config.buckets_dir().join(name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        buckets.add_fs_from(name, &dir, Origin::DataDir)?;
    }
    let bucket = buckets.get(name).context("the recordings bucket")?;
    let cluster = config.cluster.redis.is_some() || config.cluster.nats.is_some();
    anyhow::ensure!(
        !cluster || bucket.kind() != "fs" || config.recordings_shared,
        "[live] recordings_bucket {name:?} is a folder of this node, and in a cluster every node \
         writes and reads every recording: name an S3 bucket there, or, if every node mounts \
         that folder, say so with [live] recordings_shared = true"
    );
    buckets.mark_recordings(name);
    Ok(Recordings {
        db: db.clone(),
        bucket,
    })
}
