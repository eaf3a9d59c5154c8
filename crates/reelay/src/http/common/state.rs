//! What the handlers share: one [`AppState`], an `Arc` around [`Services`], so the clone axum
//! makes for every request is one reference count, not a struct of a dozen fields.
//!
//! [`Services`] is built by `node.rs` (or a test) with plain fields, then frozen into the state.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyPool;

use crate::auth::Auth;
use crate::cache::{CacheSettings, ChunkCache};
use crate::defaults::server;
use crate::http::common::error::ApiError;
use crate::live::{Live, LiveError};
use crate::metrics::Metrics;
use crate::relay::control::Control;
use crate::relay::edges::Edges;
use crate::storage::Buckets;

/// Request limits the handlers enforce.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted request head (target + header lines), enforced exactly.
    pub max_header_bytes: usize,
    /// Largest upload.
    pub max_upload: u64,
    /// Longest wait for the next chunk of a request body.
    pub body_timeout: Duration,
    /// Origins allowed to call this node from a browser; empty: same origin only.
    pub cors_origins: Vec<http::HeaderValue>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: server::MAX_HEADER_BYTES,
            max_upload: server::MAX_UPLOAD,
            body_timeout: server::BODY_TIMEOUT,
            cors_origins: Vec::new(),
        }
    }
}

/// Everything a node serves with.
#[derive(Debug)]
pub struct Services {
    pub buckets: Buckets,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    pub auth: Arc<Auth>,
    pub db: AnyPool,
    /// The live relay; `None` when disabled.
    pub live: Option<Arc<Live>>,
    /// Edge nodes that forward to this node.
    pub edges: Arc<Edges>,
    /// An edge node: ready only while its link to the control node is up.
    pub edge: bool,
    /// `Cache-Control` of media responses, by bucket; a bucket not here answers `no-cache`.
    pub cache_control: std::collections::HashMap<String, http::HeaderValue>,
    /// `/readyz`'s last round of S3 probes: when, and what was down (`http/native/health.rs`).
    pub s3_probes: tokio::sync::Mutex<Option<(std::time::Instant, Vec<serde_json::Value>)>>,
}

impl Services {
    /// Services over `buckets`, with default limits and fresh metrics.
    pub fn new(buckets: Buckets, auth: Auth, db: AnyPool) -> Self {
        let metrics = Arc::new(Metrics::default());
        metrics.register_buckets(&buckets);
        Self {
            buckets,
            metrics,
            limits: Limits::default(),
            auth: Arc::new(auth),
            edges: Arc::new(Edges::new(db.clone(), Default::default())),
            db,
            live: None,
            cache_control: Default::default(),
            edge: false,
            s3_probes: Default::default(),
        }
    }

    /// Puts remote buckets behind a chunk cache of `settings` (counted in these metrics).
    pub fn enable_cache(&mut self, settings: CacheSettings) {
        let cache = ChunkCache::new(settings, self.metrics.cache.clone());
        self.buckets.set_cache(cache);
    }
}

/// The handlers' state: cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }

    /// The live relay, or 404 on a node without one.
    pub fn live(&self) -> Result<&Live, ApiError> {
        self.0.live.as_deref().ok_or_else(|| {
            LiveError::NotConfigured("live relay is not enabled on this node").into()
        })
    }

    /// The control node's side of the relay.
    pub(crate) fn control(&self) -> Result<Control<'_>, ApiError> {
        Ok(Control {
            live: self.live()?,
            edges: &self.0.edges,
            metrics: &self.0.metrics.relay,
        })
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}
