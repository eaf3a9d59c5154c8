//! The router: every route of the service in one place, built from one shared [`AppState`].
//! Tests drive it with `oneshot` or serve it on `127.0.0.1:0` through [`crate::server::serve`].
//!
//! Layers, outermost first: observability (request id, metrics), CORS, panic guard, authorization
//! ([`crate::auth::authorize`]), request-head limit, then the route.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use axum::middleware;
use axum::routing::get;
use sqlx::AnyPool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::auth::{self, Auth};
use crate::cache::{CacheSettings, ChunkCache};
use crate::observe::{self, Metrics};
use crate::storage::{Buckets, ReadBudget};
use crate::{api, limits, live, media, openapi, ui};

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
            max_header_bytes: 64 << 10,
            max_upload: 10 << 30,
            body_timeout: Duration::from_secs(30),
            cors_origins: Vec::new(),
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
    /// The chunk cache for remote buckets; `None` when disabled.
    pub cache: Option<Arc<ChunkCache>>,
    /// The live relay; `None` when disabled.
    pub live: Option<Arc<crate::live::Live>>,
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
            cache: None,
            live: None,
        }
    }
}

impl AppState {
    /// Turns the chunk cache on with `settings` (counters in this state's metrics).
    pub fn with_cache(mut self, settings: CacheSettings) -> Self {
        self.cache = Some(ChunkCache::new(settings, self.metrics.cache.clone()));
        self
    }
}

impl FromRef<AppState> for Arc<Metrics> {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

/// Builds the application router.
pub fn app(state: AppState) -> Router {
    // No validator badge: the docs page must not make the browser call anything off this node.
    let docs = SwaggerUi::new("/docs")
        .url("/openapi.json", openapi::ApiDoc::openapi())
        .config(Config::new(["/openapi.json"]).validator_url("none"));
    Router::new()
        .route(
            "/media/{bucket}/{*key}",
            get(media::media_by_path).head(media::media_by_path),
        )
        .route(
            "/watch",
            get(media::media_by_query).head(media::media_by_query),
        )
        .route(
            "/ingest/{source}/{file}",
            axum::routing::put(live::http::ingest)
                .post(live::http::ingest)
                .delete(live::http::ingest_delete),
        )
        .route(
            "/live/{source}/{file}",
            get(live::http::view).head(live::http::view),
        )
        .route(
            "/v1/playlist",
            axum::routing::post(live::http::livemix_playlist),
        )
        .route(
            "/recordings/{id}/{file}",
            get(live::http::replay).head(live::http::replay),
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
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(cors(&state.limits.cors_origins))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            observe::track,
        ))
        .with_state(state)
}

/// Cross-origin access for the configured origins only; with none, no CORS headers are sent
/// and browsers keep other sites' pages out. Preflights are answered here, before
/// authorization (browsers send no credentials with them).
fn cors(origins: &[http::HeaderValue]) -> CorsLayer {
    use http::{Method, header};
    if origins.is_empty() {
        return CorsLayer::new();
    }
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::POST,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::RANGE,
            header::CONTENT_TYPE,
            header::IF_RANGE,
        ])
        .expose_headers([
            header::CONTENT_RANGE,
            header::CONTENT_LENGTH,
            header::ACCEPT_RANGES,
            header::ETAG,
            http::HeaderName::from_static("x-request-id"),
        ])
        .max_age(Duration::from_secs(600))
}

/// A handler panic is a bug: log it loudly and answer 500 instead of dropping the connection.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown");
    tracing::error!(panic = detail, "a request handler panicked");
    axum::response::IntoResponse::into_response(crate::error::ApiError::new(
        http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
    ))
}
