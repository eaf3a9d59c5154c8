//! Live sources: create (the ingest token is shown once), list, get, change, delete, and turn
//! streaming on or off. URLs take a source's id or its name.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::common::error::{ApiError, ApiJson};
use crate::http::common::routes;
use crate::http::common::state::AppState;
use crate::http::native::api::{ErrorBody, rfc3339_ms, rfc3339_unix};
use crate::live::Lookup;
use crate::live::sources::SourceRow;
use crate::live::verbs::{NewSource, SourceChange};

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SourceInfo {
    pub id: String,
    pub name: String,
    pub(crate) description: String,
    /// Seconds.
    pub(crate) target_duration: i64,
    pub(crate) streaming: bool,
    /// Its live playlist, segments and recordings play without a token (`[live] public = true`
    /// makes every source so, whatever this says).
    pub(crate) public: bool,
    /// The next media sequence number to be assigned.
    pub(crate) next_msn: i64,
    pub(crate) created_at: Option<String>,
    /// Where encoders push: `PUT {ingest_url}/index.m3u8` and its segments.
    pub(crate) ingest_url: String,
    /// The live playlist.
    pub(crate) live_url: String,
    /// Present only in the answer that created the source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ingest_token: Option<String>,
    /// The edge node it comes through (name); absent when pushed to this node directly.
    pub(crate) edge: Option<String>,
    /// Whether that edge is online.
    pub(crate) edge_online: Option<bool>,
    /// When the newest segment in the buffer ends, RFC 3339; absent when there is none.
    pub(crate) last_segment_at: Option<String>,
    /// The renditions with buffered segments (one per pushed playlist); present on answers
    /// about one source or the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) renditions: Option<Vec<RenditionInfo>>,
}

/// A live rendition.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RenditionInfo {
    /// Its playlist name without `.m3u8`; its playlist is `/live/{source}/{name}/index.m3u8`.
    pub name: String,
    /// Measured over the buffered segments, bits per second.
    pub(crate) measured_bitrate: u64,
    /// `WIDTHxHEIGHT`, from the encoder's multivariant playlist.
    pub(crate) resolution: Option<String>,
    pub(crate) codecs: Option<String>,
    /// An audio (or subtitles) rendition of a group, not a variant.
    pub(crate) media: bool,
    /// Average segment duration over the buffer, milliseconds.
    pub(crate) segment_ms: u64,
    /// Its segments are far longer or shorter than the other variants' (players switching to
    /// or from it stall or skip): the encoder's ladder needs fixing.
    pub(crate) misaligned: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SourceList {
    pub(crate) sources: Vec<SourceInfo>,
}

fn info(row: SourceRow, token: Option<String>) -> SourceInfo {
    SourceInfo {
        ingest_url: format!("/ingest/{}", row.name),
        live_url: format!("/live/{}/index.m3u8", row.name),
        created_at: rfc3339_unix(row.created_at),
        streaming: row.streaming != 0,
        public: row.public != 0,
        id: row.id,
        name: row.name,
        description: row.description,
        target_duration: row.target_duration,
        next_msn: row.next_msn,
        ingest_token: token,
        edge: None,
        edge_online: None,
        last_segment_at: None,
        renditions: None,
    }
}

/// [`info`] with the source's edge and freshness, which need lookups.
async fn full_info(state: &AppState, row: SourceRow) -> Result<SourceInfo, ApiError> {
    let live = state.live()?;
    let edge = match &row.edge_id {
        Some(id) => state.edges.find(id).await?,
        None => None,
    };
    let last = live.last_segment_end_ms(&row.id).await?;
    let renditions = live
        .rendition_summaries(&row)
        .await?
        .into_iter()
        .map(|r| RenditionInfo {
            name: r.name,
            measured_bitrate: r.measured_bitrate,
            resolution: r.resolution.map(|(w, h)| format!("{w}x{h}")),
            codecs: r.codecs,
            media: r.media,
            segment_ms: r.segment_ms,
            misaligned: r.misaligned,
        })
        .collect();
    let mut out = info(row, None);
    out.renditions = Some(renditions);
    out.edge_online = edge.as_ref().map(|e| state.edges.online(e));
    out.edge = edge.map(|e| e.name);
    out.last_segment_at = last.and_then(rfc3339_ms);
    Ok(out)
}

async fn find(state: &AppState, source: &str) -> Result<SourceRow, ApiError> {
    let row = state.live()?.source(source, Lookup::Standing).await?;
    Ok(Arc::unwrap_or_clone(row))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateSource {
    pub name: String,
    #[serde(default)]
    pub(crate) description: String,
    /// Target segment length, seconds (default 2).
    #[serde(
        default,
        deserialize_with = "crate::http::common::json_values::opt_i64"
    )]
    pub(crate) target_duration: Option<i64>,
    /// Watchable (live and recordings) without a token (default false).
    #[serde(default)]
    pub(crate) public: bool,
    /// The edge (name or id) that feeds it: added to the sources that edge may feed.
    pub(crate) edge: Option<String>,
}

/// Create a live source.
#[utoipa::path(post, path = routes::SOURCES, tag = "live", request_body = CreateSource,
    responses((status = 201, description = "created", body = SourceInfo),
        (status = 400, description = "bad request: the message says what", body = ErrorBody),
        (status = 404, description = "no such edge", body = ErrorBody),
        (status = 409, description = "conflicts with the current state", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
pub(crate) async fn create_source(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateSource>,
) -> Result<(StatusCode, Json<SourceInfo>), ApiError> {
    let edge = match &req.edge {
        Some(edge) => Some(
            state
                .control()?
                .edges
                .find(edge)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no edge {edge:?}")))?,
        ),
        None => None,
    };
    let new = NewSource {
        name: &req.name,
        description: &req.description,
        target_duration: req.target_duration.unwrap_or(2),
        public: req.public,
    };
    let (row, token) = state.live()?.create_source(new).await?;
    if let Some(edge) = edge {
        state.control()?.give_source(&edge.id, &row.id).await?;
    }
    Ok((StatusCode::CREATED, Json(info(row, Some(token)))))
}

/// List live sources.
#[utoipa::path(get, path = routes::SOURCES, tag = "live",
    responses((status = 200, description = "OK", body = SourceList)), security(("bearer" = ["read"]), ()))]
pub(crate) async fn list_sources(
    State(state): State<AppState>,
) -> Result<Json<SourceList>, ApiError> {
    let rows = state.live()?.sources().list().await?;
    let mut sources = Vec::with_capacity(rows.len());
    for row in rows {
        sources.push(full_info(&state, row).await?);
    }
    Ok(Json(SourceList { sources }))
}

/// A live source.
#[utoipa::path(get, path = routes::SOURCE, tag = "live",
    params(("source" = String, Path, description = "id or name")),
    responses((status = 200, description = "OK", body = SourceInfo),
        (status = 404, description = "no such source", body = ErrorBody)),
    security(("bearer" = ["read"]), ()))]
pub(crate) async fn get_source(
    State(state): State<AppState>,
    Path(source): Path<String>,
) -> Result<Json<SourceInfo>, ApiError> {
    Ok(Json(full_info(&state, find(&state, &source).await?).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchSource {
    pub name: Option<String>,
    pub(crate) description: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::http::common::json_values::opt_i64"
    )]
    pub(crate) target_duration: Option<i64>,
    /// Watchable without a token.
    pub(crate) public: Option<bool>,
}

/// Change a live source.
#[utoipa::path(patch, path = routes::SOURCE, tag = "live", request_body = PatchSource,
    params(("source" = String, Path, description = "id or name")),
    responses((status = 200, description = "OK", body = SourceInfo),
        (status = 404, description = "no such source", body = ErrorBody),
        (status = 409, description = "the name is taken", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
pub(crate) async fn patch_source(
    State(state): State<AppState>,
    Path(source): Path<String>,
    ApiJson(req): ApiJson<PatchSource>,
) -> Result<Json<SourceInfo>, ApiError> {
    let row = find(&state, &source).await?;
    let change = SourceChange {
        name: req.name.as_deref(),
        description: req.description.as_deref(),
        target_duration: req.target_duration,
        public: req.public,
    };
    state.live()?.change_source(&row.id, change).await?;
    Ok(Json(info(find(&state, &row.id).await?, None)))
}

/// Delete a live source and its buffer.
#[utoipa::path(delete, path = routes::SOURCE, tag = "live",
    params(("source" = String, Path, description = "id or name")),
    responses((status = 204, description = "done; no body"),
        (status = 404, description = "no such source", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
pub(crate) async fn delete_source(
    State(state): State<AppState>,
    Path(source): Path<String>,
) -> Result<StatusCode, ApiError> {
    let row = find(&state, &source).await?;
    state.live()?.delete_source(&row.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Streaming {
    pub(crate) enabled: bool,
}

/// Turn a source's live streaming on or off.
#[utoipa::path(put, path = routes::SOURCE_STREAMING, tag = "live", request_body = Streaming,
    params(("source" = String, Path, description = "id or name")),
    responses((status = 200, description = "OK", body = SourceInfo),
        (status = 404, description = "no such source", body = ErrorBody)),
    security(("bearer" = ["write"])))]
pub(crate) async fn set_streaming(
    State(state): State<AppState>,
    Path(source): Path<String>,
    ApiJson(req): ApiJson<Streaming>,
) -> Result<Json<SourceInfo>, ApiError> {
    let row = find(&state, &source).await?;
    state.live()?.set_streaming(&row.id, req.enabled).await?;
    Ok(Json(info(find(&state, &row.id).await?, None)))
}
