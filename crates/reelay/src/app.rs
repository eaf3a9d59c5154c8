//! The router: every route of the service in one place, built from one shared [`AppState`].
//! Tests drive it with `oneshot` or serve it on `127.0.0.1:0` through [`crate::server::serve`].

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::middleware;
use axum::routing::get;

use crate::observe::{self, Metrics};
use crate::storage::{Buckets, ReadBudget};
use crate::{api, limits, media, ui};

/// What handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub buckets: Arc<Buckets>,
    pub budget: ReadBudget,
    pub metrics: Arc<Metrics>,
    /// Largest accepted request head (target + header lines), enforced exactly.
    pub max_header_bytes: usize,
}

impl AppState {
    /// State over `buckets` with a read budget of `read_budget` bytes and fresh metrics.
    pub fn new(buckets: Buckets, read_budget: usize) -> Self {
        Self {
            buckets: Arc::new(buckets),
            budget: ReadBudget::new(read_budget),
            metrics: Arc::new(Metrics::default()),
            max_header_bytes: 64 << 10,
        }
    }
}

impl FromRef<AppState> for Arc<Metrics> {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

/// Builds the application router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(
            "/media/{bucket}/{*key}",
            get(media::media_by_path).head(media::media_by_path),
        )
        .route(
            "/watch",
            get(media::media_by_query).head(media::media_by_query),
        )
        .route("/api/v1/buckets", get(api::list_buckets))
        .route("/api/v1/buckets/{bucket}/objects", get(api::list_objects))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(|| async { "ready\n" }))
        .route("/metrics", get(observe::metrics_handler))
        .merge(ui::routes())
        .fallback(api::not_found)
        .layer(middleware::from_fn_with_state(
            state.max_header_bytes,
            limits::request_head_limit,
        ))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            observe::track,
        ))
        .with_state(state)
}
