//! The routes edge nodes call (register, long-poll the desired state, forward segments, init
//! sections and Low-Latency parts), authenticated with the edge's own token; the relay logic is
//! `relay::control`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use crate::http::common::error::ApiError;
use crate::http::common::middleware::auth::presented_token;
use crate::http::common::routes;
use crate::http::common::state::AppState;
use crate::http::native::api::ErrorBody;
use crate::live::forwarded::Forwarded;
use crate::relay::control::Control;
use crate::relay::edges::EdgeRow;
use crate::relay::protocol::{
    DesiredState, PartMeta, Registered, SegmentMeta, rendition_from_headers,
};

/// The edge presenting its token, noted as heard from.
async fn edge(control: &Control<'_>, headers: &HeaderMap) -> Result<EdgeRow, ApiError> {
    let token = presented_token(headers, None);
    Ok(control.authenticate(token.as_deref()).await?)
}

fn status_of(outcome: Forwarded) -> StatusCode {
    match outcome {
        Forwarded::Stored => StatusCode::CREATED,
        Forwarded::AlreadyHad => StatusCode::OK,
    }
}

/// Edge protocol: register (an edge's first call, and after each reconnect).
#[utoipa::path(post, path = routes::EDGE_REGISTER, tag = "edge protocol",
    responses((status = 200, description = "registered", body = Registered),
        (status = 401, description = "not an edge token", body = ErrorBody)),
    security(("bearer" = ["edge"])))]
pub(crate) async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Registered>, ApiError> {
    let control = state.control()?;
    let row = edge(&control, &headers).await?;
    tracing::info!(edge = row.name, "edge registered");
    Ok(Json(Registered {
        edge_id: row.id,
        name: row.name,
        interval_ms: control.interval_ms(),
    }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct StateQuery {
    version: Option<String>,
}

/// `GET /api/v1/edge/state?version=V`: answers at once if the state is not `V`, otherwise when
/// it changes or after one interval.
#[utoipa::path(get, path = routes::EDGE_STATE, tag = "edge protocol",
    params(("version" = Option<String>, Query, description = "the version the edge has")),
    responses((status = 200, description = "the desired state (long-poll)", body = DesiredState),
        (status = 401, description = "not an edge token", body = ErrorBody)),
    security(("bearer" = ["edge"])))]
pub(crate) async fn state(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<StateQuery>,
) -> Result<Json<DesiredState>, ApiError> {
    let control = state.control()?;
    let row = edge(&control, &headers).await?;
    let next = control
        .next_state(&row.id, query.version.as_deref())
        .await?;
    Ok(Json(next))
}

/// Edge protocol: forward a segment, idempotent by (source, rendition, msn). Headers
/// `reelay-duration-ms`, `reelay-pdt-ms` (required), `reelay-discontinuity`, `reelay-live`
/// (0/1), `reelay-map`, `reelay-rendition` (default `index`).
#[utoipa::path(put, path = routes::EDGE_SEGMENT, tag = "edge protocol",
    params(("source" = String, Path, description = "source id"),
        ("file" = String, Path, description = "<msn>.ts or <msn>.m4s"),
        ("reelay-duration-ms" = i64, Header, description = "its duration, milliseconds"),
        ("reelay-pdt-ms" = i64, Header, description = "when it was produced (its EXT-X-PROGRAM-DATE-TIME), milliseconds since 1970"),
        ("reelay-discontinuity" = Option<String>, Header, description = "1: a discontinuity before it"),
        ("reelay-live" = Option<String>, Header, description = "1: it joins the live window (0: sent late, for a recording only)"),
        ("reelay-map" = Option<String>, Header, description = "its init section (forwarded before it)"),
        ("reelay-rendition" = Option<String>, Header, description = "the rendition (default index)")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "stored"), (status = 200, description = "already stored"),
        (status = 400, description = "a bad name or header", body = ErrorBody),
        (status = 401, description = "not an edge token", body = ErrorBody),
        (status = 409, description = "another edge's source, or its init section is missing", body = ErrorBody),
        (status = 413, description = "larger than live.max_segment", body = ErrorBody)),
    security(("bearer" = ["edge"])))]
pub(crate) async fn put_segment(
    State(state): State<AppState>,
    Path((source_id, file)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let control = state.control()?;
    let row = edge(&control, &headers).await?;
    let meta = SegmentMeta::from_headers(&headers).map_err(ApiError::bad_request)?;
    let body = crate::http::common::body::stream(body, state.limits.body_timeout);
    let outcome = control
        .forward_segment(&row, &source_id, &file, meta, body)
        .await?;
    Ok(status_of(outcome))
}

/// Edge protocol: forward an fMP4 init section (before the segments naming it).
#[utoipa::path(put, path = routes::EDGE_INIT, tag = "edge protocol",
    params(("source" = String, Path, description = "source id"),
        ("file" = String, Path, description = "init-<digits>.mp4"),
        ("reelay-rendition" = Option<String>, Header, description = "the rendition (default index)")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "stored"), (status = 200, description = "already stored"),
        (status = 400, description = "a bad name", body = ErrorBody),
        (status = 401, description = "not an edge token", body = ErrorBody)),
    security(("bearer" = ["edge"])))]
pub(crate) async fn put_init(
    State(state): State<AppState>,
    Path((source_id, file)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let control = state.control()?;
    let row = edge(&control, &headers).await?;
    let rendition = rendition_from_headers(&headers).map_err(ApiError::bad_request)?;
    let body = crate::http::common::body::stream(body, state.limits.body_timeout);
    let outcome = control
        .forward_init(&row, &source_id, &rendition, &file, body)
        .await?;
    Ok(status_of(outcome))
}

/// Edge protocol: forward the multivariant playlist the encoder pushed to the edge.
#[utoipa::path(put, path = routes::EDGE_MULTIVARIANT, tag = "edge protocol",
    params(("source" = String, Path, description = "source id")),
    request_body(content = String, content_type = "application/vnd.apple.mpegurl"),
    responses((status = 204, description = "kept"),
        (status = 400, description = "not a valid multivariant playlist", body = ErrorBody),
        (status = 401, description = "not an edge token", body = ErrorBody)),
    security(("bearer" = ["edge"])))]
pub(crate) async fn put_multivariant(
    State(state): State<AppState>,
    Path(source_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let control = state.control()?;
    let row = edge(&control, &headers).await?;
    let body = crate::http::common::body::stream(body, state.limits.body_timeout);
    control.forward_multivariant(&row, &source_id, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Edge protocol: forward a Low-Latency part the moment the edge cuts it, before its segment.
/// Headers `reelay-duration-ms` (required), `reelay-independent` (0/1), `reelay-rendition`.
#[utoipa::path(put, path = routes::EDGE_PART, tag = "edge protocol",
    params(("source" = String, Path, description = "source id"),
        ("file" = String, Path, description = "p<msn>-<index>.m4s"),
        ("reelay-duration-ms" = i64, Header, description = "its duration, milliseconds"),
        ("reelay-independent" = Option<String>, Header, description = "1: it starts with a sync sample"),
        ("reelay-rendition" = Option<String>, Header, description = "the rendition (default index)")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 204, description = "published"),
        (status = 400, description = "a bad name or header", body = ErrorBody),
        (status = 401, description = "not an edge token", body = ErrorBody),
        (status = 409, description = "out of step, its segment already listed, the source not streaming or another edge's", body = ErrorBody),
        (status = 413, description = "larger than 16 MiB", body = ErrorBody)),
    security(("bearer" = ["edge"])))]
pub(crate) async fn put_part(
    State(state): State<AppState>,
    Path((source_id, file)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let control = state.control()?;
    let row = edge(&control, &headers).await?;
    let meta = PartMeta::from_headers(&headers).map_err(ApiError::bad_request)?;
    let body = crate::http::common::body::stream(body, state.limits.body_timeout);
    control
        .forward_part(&row, &source_id, &file, meta, body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Edge protocol: segment `{file}` (its number) of `reelay-rendition` failed at the edge; the
/// parts forwarded for it go.
#[utoipa::path(delete, path = routes::EDGE_PART, tag = "edge protocol",
    params(("source" = String, Path, description = "source id"),
        ("file" = String, Path, description = "the segment's number"),
        ("reelay-rendition" = Option<String>, Header, description = "the rendition (default index)")),
    responses((status = 204, description = "gone"),
        (status = 400, description = "a bad number or rendition", body = ErrorBody),
        (status = 401, description = "not an edge token", body = ErrorBody)),
    security(("bearer" = ["edge"])))]
pub(crate) async fn delete_part(
    State(state): State<AppState>,
    Path((source_id, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let control = state.control()?;
    let row = edge(&control, &headers).await?;
    let rendition = rendition_from_headers(&headers).map_err(ApiError::bad_request)?;
    control
        .abandon_part(&row, &source_id, &rendition, &file)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
