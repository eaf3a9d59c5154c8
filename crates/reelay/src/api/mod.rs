//! The JSON API under `/api/v1`, described by OpenAPI at `/openapi.json` (browsable at `/docs`).
//! One module per resource; every failure is `{"error":{"code","message"}}` through
//! [`ApiError`]; what each route requires is in `auth::requirement`.

pub mod access;
pub mod buckets;
pub mod edges;
pub mod objects;
pub mod recordings;
pub mod sources;

use std::time::SystemTime;

use axum::Router;
use axum::routing::{get, post};
use http::Uri;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::ApiError;
use crate::relay::control;

/// The body of every API error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `not_found`, `conflict`, `too_large`, `unauthorized`, …
    pub code: String,
    pub message: String,
}

/// RFC 3339 (UTC, whole seconds) for API responses.
pub fn rfc3339(t: SystemTime) -> Option<String> {
    jiff::Timestamp::try_from(t)
        .ok()
        .map(|ts| ts.round(jiff::Unit::Second).unwrap_or(ts).to_string())
}

/// RFC 3339 of a unix time.
pub fn rfc3339_unix(secs: i64) -> Option<String> {
    jiff::Timestamp::from_second(secs)
        .ok()
        .map(|t| t.to_string())
}

/// The API routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/buckets",
            get(buckets::list_buckets).post(buckets::create_bucket),
        )
        .route(
            "/api/v1/buckets/{bucket}",
            axum::routing::delete(buckets::delete_bucket),
        )
        .route(
            "/api/v1/buckets/{bucket}/objects",
            get(objects::list_objects),
        )
        .route(
            "/api/v1/buckets/{bucket}/objects/{*key}",
            get(objects::object_metadata)
                .put(objects::put_object)
                .delete(objects::delete_object),
        )
        .route(
            "/api/v1/tokens",
            get(access::list_tokens).post(access::create_token),
        )
        .route(
            "/api/v1/tokens/{id}",
            axum::routing::delete(access::revoke_token),
        )
        .route("/api/v1/sign", post(access::sign))
        .route(
            "/api/v1/sources",
            get(sources::list_sources).post(sources::create_source),
        )
        .route(
            "/api/v1/sources/{source}",
            get(sources::get_source)
                .patch(sources::patch_source)
                .delete(sources::delete_source),
        )
        .route(
            "/api/v1/sources/{source}/streaming",
            axum::routing::put(sources::set_streaming),
        )
        .route(
            "/api/v1/sources/{source}/recordings",
            post(recordings::start_recording),
        )
        .route("/api/v1/recordings", get(recordings::list_recordings))
        .route(
            "/api/v1/recordings/{id}",
            get(recordings::get_recording).delete(recordings::delete_recording),
        )
        .route(
            "/api/v1/recordings/{id}/stop",
            post(recordings::stop_recording),
        )
        .route(
            "/api/v1/edges",
            get(edges::list_edges).post(edges::create_edge),
        )
        .route(
            "/api/v1/edges/{edge}",
            get(edges::get_edge).delete(edges::delete_edge),
        )
        .route("/api/v1/edge/register", post(control::register))
        .route("/api/v1/edge/state", get(control::state))
        .route(
            "/api/v1/edge/sources/{source}/segments/{file}",
            axum::routing::put(control::put_segment),
        )
        .route(
            "/api/v1/edge/sources/{source}/init/{file}",
            axum::routing::put(control::put_init),
        )
}

/// Any unknown route.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}
