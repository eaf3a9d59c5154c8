//! The router: every route of the service in one place, built from one shared [`AppState`].
//! Tests drive it with `oneshot` or serve it on `127.0.0.1:0` through [`crate::server::serve`].
//!
//! Layers, outermost first: observability (request id, metrics), authorization
//! ([`crate::auth::authorize`]), request-head limit, then the route.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use axum::middleware;
use axum::routing::get;
use sqlx::AnyPool;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::{self, Auth};
use crate::observe::{self, Metrics};
use crate::storage::{Buckets, ReadBudget};
use crate::{api, limits, media, openapi, ui};

/// Request limits the handlers enforce.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted request head (target + header lines), enforced exactly.
    pub max_header_bytes: usize,
    /// Largest upload.
    pub max_upload: u64,
    /// Longest wait for the next chunk of a request body.
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: 64 << 10,
            max_upload: 10 << 30,
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// What handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub buckets: Arc<Buckets>,
    pub budget: ReadBudget,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    pub auth: Arc<Auth>,
    pub db: AnyPool,
}

impl AppState {
    /// State over `buckets` with a read budget of `read_budget` bytes, default limits and
    /// fresh metrics.
    pub fn new(buckets: Buckets, read_budget: usize, auth: Auth, db: AnyPool) -> Self {
        Self {
            buckets: Arc::new(buckets),
            budget: ReadBudget::new(read_budget),
            metrics: Arc::new(Metrics::default()),
            limits: Limits::default(),
            auth: Arc::new(auth),
            db,
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
    let docs = SwaggerUi::new("/docs").url("/openapi.json", openapi::ApiDoc::openapi());
    Router::new()
        .route(
            "/media/{bucket}/{*key}",
            get(media::media_by_path).head(media::media_by_path),
        )
        .route(
            "/watch",
            get(media::media_by_query).head(media::media_by_query),
        )
        .merge(api::routes())
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(|| async { "ready\n" }))
        .route("/metrics", get(observe::metrics_handler))
        .merge(ui::routes())
        .merge(docs)
        .fallback(api::not_found)
        .layer(middleware::from_fn_with_state(
            state.limits.max_header_bytes,
            limits::request_head_limit,
        ))
        .layer(middleware::from_fn_with_state(
            state.auth.clone(),
            auth::authorize,
        ))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            observe::track,
        ))
        .with_state(state)
}
