//! The control node's side of the relay: the routes edges call (register, long-poll the desired
//! state, forward segments and init sections), authenticated with the edge's own token, and the
//! liveness sweeper. The operator's routes for edges are in `api::edges`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::edges::{EdgeRow, now_ms};
use super::protocol::{
    DesiredState, EdgeRecording, EdgeSource, Registered, SegmentMeta, is_init_name,
    parse_segment_file,
};
use crate::app::AppState;
use crate::error::ApiError;
use crate::live::Live;
use crate::live::forwarded::{Forwarded, ForwardedSegment};
use crate::live::http::{live, presented_token, store_upload};
use crate::live::sources::SourceRow;

/// The edge presenting its token, noted as heard from.
async fn edge(state: &AppState, headers: &HeaderMap) -> Result<EdgeRow, ApiError> {
    let live = live(state)?;
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
    let token =
        presented_token(headers, None).ok_or_else(|| unauthorized("edges present their token"))?;
    let row = live
        .edges
        .authenticate(&token)
        .await?
        .ok_or_else(|| unauthorized("unknown edge token"))?;
    live.edges.touch(&row.id).await?;
    Ok(row)
}

fn interval_ms(live: &Live) -> u64 {
    u64::try_from(live.edges.liveness.interval.as_millis()).unwrap_or(u64::MAX)
}

/// Edge protocol: register (an edge's first call, and after each reconnect).
#[utoipa::path(post, path = "/api/v1/edge/register", tag = "edge protocol",
    responses((status = 200, description = "registered", body = Registered),
        (status = 401, description = "not an edge token", body = crate::api::ErrorBody)),
    security(("bearer" = [])))]
pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Registered>, ApiError> {
    let row = edge(&state, &headers).await?;
    tracing::info!(edge = row.name, "edge registered");
    Ok(Json(Registered {
        edge_id: row.id,
        name: row.name,
        interval_ms: interval_ms(live(&state)?),
    }))
}

/// The desired state for edge `edge_id`: the sources it may carry and their recordings.
pub async fn desired_state(live: &Live, edge_id: &str) -> Result<DesiredState, ApiError> {
    let sources: Vec<SourceRow> = live
        .sources
        .list()
        .await?
        .into_iter()
        .filter(|s| s.edge_id.as_deref().is_none_or(|e| e == edge_id))
        .collect();
    // A stopped recording stays listed while an edge may still hold its segments.
    let horizon = live.settings.buffer.saturating_mul(6);
    let since = now_ms().saturating_sub(i64::try_from(horizon.as_millis()).unwrap_or(i64::MAX));
    let recordings = match &live.recordings {
        Some(r) => r.open_or_ended_since(since).await?,
        None => Vec::new(),
    };
    let recordings = recordings
        .into_iter()
        .filter(|r| sources.iter().any(|s| s.id == r.source_id))
        .map(|r| EdgeRecording {
            id: r.id,
            source_id: r.source_id,
            start_ms: r.start_ms,
            end_ms: r.end_ms,
        })
        .collect();
    let sources = sources
        .into_iter()
        .map(|s| EdgeSource {
            id: s.id,
            name: s.name,
            description: s.description,
            target_duration: s.target_duration,
            ingest_token_hash: s.ingest_token_hash,
            streaming: s.streaming != 0,
            next_msn: s.next_msn,
            created_at: s.created_at,
        })
        .collect();
    Ok(DesiredState::new(interval_ms(live), sources, recordings))
}

#[derive(Debug, Deserialize)]
pub struct StateQuery {
    version: Option<String>,
}

/// `GET /api/v1/edge/state?version=V`: answers at once if the state is not `V`, otherwise when
/// it changes or after one interval. Changes made through this node wake it at once; changes
/// through another node sharing the database are seen within a second.
#[utoipa::path(get, path = "/api/v1/edge/state", tag = "edge protocol",
    params(("version" = Option<String>, Query, description = "the version the edge has")),
    responses((status = 200, description = "the desired state (long-poll)", body = DesiredState),
        (status = 401, description = "not an edge token", body = crate::api::ErrorBody)),
    security(("bearer" = [])))]
pub async fn state(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<StateQuery>,
) -> Result<Json<DesiredState>, ApiError> {
    let row = edge(&state, &headers).await?;
    let live = live(&state)?;
    let deadline = tokio::time::Instant::now() + live.edges.liveness.interval;
    let mut changes = live.watch_changes();
    loop {
        changes.mark_unchanged();
        let current = desired_state(live, &row.id).await?;
        if query.version.as_deref() != Some(current.version.as_str())
            || tokio::time::Instant::now() >= deadline
        {
            // No touch here: the edge may have died while its poll was held (the handler runs
            // on), and its last contact is when it asked.
            return Ok(Json(current));
        }
        let wake = deadline.min(tokio::time::Instant::now() + Duration::from_secs(1));
        let _ = tokio::time::timeout_at(wake, changes.changed()).await;
    }
}

/// The source an edge forwards for, bound to that edge on first use.
async fn forwarding_source(
    live: &Live,
    edge: &EdgeRow,
    source_id: &str,
) -> Result<SourceRow, ApiError> {
    let source = live
        .sources
        .find(source_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no source {source_id:?}")))?;
    match live.sources.bind_edge(&source.id, &edge.id).await? {
        Some(bound) if bound != edge.id => Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("source {} comes through another edge", source.name),
        )),
        _ => Ok(source),
    }
}

/// Edge protocol: forward a segment, idempotent by (source, msn). Headers `reelay-duration-ms`,
/// `reelay-pdt-ms` (required), `reelay-discontinuity`, `reelay-live` (0/1), `reelay-map`.
#[utoipa::path(put, path = "/api/v1/edge/sources/{source}/segments/{file}", tag = "edge protocol",
    params(("source" = String, Path, description = "source id"),
        ("file" = String, Path, description = "<msn>.ts or <msn>.m4s")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "stored"), (status = 200, description = "already stored"),
        (status = 400, description = "a bad name or header", body = crate::api::ErrorBody),
        (status = 401, description = "not an edge token", body = crate::api::ErrorBody),
        (status = 409, description = "another edge's source, or its init section is missing", body = crate::api::ErrorBody),
        (status = 413, description = "larger than live.max_segment", body = crate::api::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_segment(
    State(state): State<AppState>,
    Path((source_id, file)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let row = edge(&state, &headers).await?;
    let live = live(&state)?;
    let (msn, ext) = parse_segment_file(&file)
        .ok_or_else(|| ApiError::bad_request("segment files are <msn>.ts or <msn>.m4s"))?;
    let meta = SegmentMeta::from_headers(&headers).map_err(ApiError::bad_request)?;
    let source = forwarding_source(live, &row, &source_id).await?;
    let path = receive(&state, live, &source, &file, body).await?;
    let segment = ForwardedSegment {
        msn,
        ext: ext.to_owned(),
        duration_ms: meta.duration_ms,
        pdt_ms: meta.pdt_ms,
        discontinuity: meta.discontinuity,
        map_file: meta.map_file,
        live: meta.live,
    };
    Ok(status_of(
        live.accept_forwarded(&source, &segment, &path).await?,
    ))
}

/// Edge protocol: forward an fMP4 init section (before the segments naming it).
#[utoipa::path(put, path = "/api/v1/edge/sources/{source}/init/{file}", tag = "edge protocol",
    params(("source" = String, Path, description = "source id"),
        ("file" = String, Path, description = "init-<digits>.mp4")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "stored"), (status = 200, description = "already stored"),
        (status = 400, description = "a bad name", body = crate::api::ErrorBody),
        (status = 401, description = "not an edge token", body = crate::api::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_init(
    State(state): State<AppState>,
    Path((source_id, file)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let row = edge(&state, &headers).await?;
    let live = live(&state)?;
    if !is_init_name(&file) {
        return Err(ApiError::bad_request("init sections are init-<digits>.mp4"));
    }
    let source = forwarding_source(live, &row, &source_id).await?;
    let path = receive(&state, live, &source, &file, body).await?;
    Ok(status_of(
        live.accept_forwarded_init(&source, &file, &path).await?,
    ))
}

/// Streams a forwarded body to a uniquely named file (bounded like any segment); its path.
async fn receive(
    state: &AppState,
    live: &Live,
    source: &SourceRow,
    file: &str,
    body: Body,
) -> Result<std::path::PathBuf, ApiError> {
    let dir = live.forwarded_dir(&source.id);
    let part = format!("{}-{file}", crate::observe::random_u64());
    let (max, timeout) = (live.settings.max_segment_bytes, state.limits.body_timeout);
    store_upload(&dir, &part, body, max, timeout).await?;
    Ok(dir.join(part))
}

fn status_of(outcome: Forwarded) -> StatusCode {
    match outcome {
        Forwarded::Stored => StatusCode::CREATED,
        Forwarded::AlreadyHad => StatusCode::OK,
    }
}

/// Watches edges' liveness: logs each going offline or back online and, when configured,
/// stops the open recordings of an offline edge's sources at the moment it was last heard.
pub async fn sweep_liveness(live: Arc<Live>) {
    let mut offline = std::collections::HashSet::new();
    loop {
        tokio::time::sleep(live.edges.liveness.interval).await;
        let Ok(edges) = live.edges.list().await else {
            continue;
        };
        let online = edges.iter().filter(|e| live.edges.online(e)).count();
        live.metrics
            .edges_online
            .set(i64::try_from(online).unwrap_or(i64::MAX));
        for edge in edges {
            let online = live.edges.online(&edge);
            if online {
                if offline.remove(&edge.id) {
                    tracing::info!(edge = edge.name, "edge is back online");
                }
                continue;
            }
            if edge.last_seen_ms.is_none() || !offline.insert(edge.id.clone()) {
                continue;
            }
            tracing::warn!(edge = edge.name, last_seen_ms = ?edge.last_seen_ms, "edge is offline");
            if live.edges.liveness.stop_recordings {
                stop_recordings_of(&live, &edge).await;
            }
        }
    }
}

async fn stop_recordings_of(live: &Live, edge: &EdgeRow) {
    let (Some(recordings), Some(seen)) = (&live.recordings, edge.last_seen_ms) else {
        return;
    };
    let Ok(sources) = live.sources.list().await else {
        return;
    };
    for source in sources
        .iter()
        .filter(|s| s.edge_id.as_deref() == Some(&edge.id))
    {
        let Ok(open) = recordings.open_or_ended_since(i64::MAX).await else {
            continue;
        };
        for rec in open.iter().filter(|r| r.source_id == source.id) {
            if recordings.stop(&rec.id, seen).await.is_ok() {
                tracing::warn!(
                    recording = rec.id,
                    edge = edge.name,
                    "stopped: edge offline"
                );
            }
        }
    }
    live.changed();
}
