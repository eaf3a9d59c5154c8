//! What makes several control nodes one deployment, apart from the metadata database: the
//! shared live tier (Redis: the bytes of every live segment and init section, for as long as
//! the live buffer keeps them, so any node serves any listed segment, each sealed under the
//! cluster key) and the notification bus
//! (NATS: a subject per source announcing each new segment, and one for state changes that
//! edges long-poll on), so playlists on every node follow within milliseconds, not polls.
//!
//! Both engines are optional and connected lazily: a node starts, serves and reconnects with
//! backoff while either is down. Every call has a deadline ([`DEADLINE`]) and a failure is a
//! [`ClusterError`] the caller decides about (live ingest carries on with the node's own copy;
//! a viewer gets what the node has). Each engine's state is watched ([`Health`]) for `/readyz`
//! and logged once per change, never per failed call. This module knows neither HTTP nor
//! live: it moves bytes and messages under keys and subjects namespaced by the cluster's name,
//! so several clusters (or test runs) can share one Redis and one NATS.

mod bus;
mod memcached;
mod seal;
mod tier;

use std::sync::Arc;
use std::time::Duration;

pub use bus::{Bus, Message, Refused, seal_hex};
pub use memcached::MemcachedChunks;
pub use seal::ClusterKeys;
pub use tier::{RedisChunks, Tier};

/// Longest any one engine call may take.
pub(crate) const DEADLINE: Duration = Duration::from_secs(2);

/// `[cluster]`.
#[derive(Debug, Clone)]
pub(crate) struct ClusterSettings {
    /// Namespace of keys and subjects (`reelay` unless set).
    pub name: String,
    pub(crate) node_id: String,
    /// `redis://…`: the shared live tier.
    pub(crate) redis: Option<String>,
    /// `nats://…`: notifications between nodes.
    pub(crate) nats: Option<String>,
    /// The cluster key (and the previous one during a rotation): what proves a message or an
    /// entry came from a node of this cluster. Required with `redis` or `nats`.
    pub(crate) keys: Option<Arc<ClusterKeys>>,
}

/// Who failed: the engine (down, slow) — retrying later is safe for every call here.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("redis: {0}")]
    Redis(String),
    #[error("nats: {0}")]
    Nats(String),
    #[error("{0} did not answer within {DEADLINE:?}")]
    Timeout(&'static str),
    /// An entry of the shared tier failed its seal (why, and its name): someone other than a
    /// node wrote it. Not the engine's health: it answered.
    #[error("the shared-tier entry {1} failed its seal ({0})")]
    Unsealed(&'static str, String),
}

/// Up or down, with the reason, logged when it changes.
#[derive(Debug)]
pub(crate) struct Health {
    engine: &'static str,
    down: std::sync::Mutex<Option<String>>,
}

impl Health {
    fn new(engine: &'static str, down: Option<String>) -> Self {
        Self {
            engine,
            down: std::sync::Mutex::new(down),
        }
    }

    fn set(&self, down: Option<String>) {
        let mut state = self.down.lock().unwrap_or_else(|p| p.into_inner());
        match (&*state, &down) {
            (None, Some(reason)) => {
                tracing::error!(engine = self.engine, reason = %reason, "cluster engine down");
            }
            (Some(_), None) => tracing::info!(engine = self.engine, "cluster engine back"),
            _ => {}
        }
        *state = down;
    }

    /// Why the engine is down; `None` when it is up.
    pub(crate) fn down(&self) -> Option<String> {
        self.down.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The node's links to the cluster's engines.
#[derive(Debug)]
pub(crate) struct Cluster {
    pub(crate) tier: Option<Tier>,
    pub(crate) bus: Option<Bus>,
}

impl Cluster {
    /// Links to the configured engines (without waiting for them: a node starts while they
    /// are down). A malformed URL is an error.
    pub async fn connect(settings: ClusterSettings) -> anyhow::Result<Arc<Self>> {
        let tier = match (&settings.redis, &settings.keys) {
            (Some(url), Some(keys)) => Some(Tier::connect(url, &settings.name, keys.clone())?),
            (Some(_), None) => anyhow::bail!("[cluster] redis needs the cluster key (key_env)"),
            (None, _) => None,
        };
        let bus = match (&settings.nats, &settings.keys) {
            (Some(url), Some(keys)) => {
                Some(Bus::connect(url, &settings.name, &settings.node_id, keys.clone()).await?)
            }
            (Some(_), None) => anyhow::bail!("[cluster] nats needs the cluster key (key_env)"),
            (None, _) => None,
        };
        Ok(Arc::new(Self { tier, bus }))
    }

    /// Each configured engine that is down, with the reason.
    pub(crate) fn down(&self) -> Vec<(&'static str, String)> {
        let tier = self.tier.as_ref().and_then(|t| t.health.down());
        let bus = self.bus.as_ref().and_then(|b| b.health.down());
        [("redis", tier), ("nats", bus)]
            .into_iter()
            .filter_map(|(engine, down)| down.map(|d| (engine, d)))
            .collect()
    }
}
