//! Recordings: start (from now or from a moment in the past still in the buffer), stop, list,
//! get, delete. Replay is `/recordings/{id}/index.m3u8` (EVENT while open, VOD once stopped).

use axum::Json;
use axum::extract::{Path, Query, State};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::common::error::{ApiError, ApiJson};
use crate::http::common::routes;
use crate::http::common::state::AppState;
use crate::http::native::api::{ErrorBody, rfc3339_ms};
use crate::live::LiveError;
use crate::live::Lookup;
use crate::live::recordings::{RecordingRow, Recordings};

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecordingInfo {
    pub id: String,
    pub(crate) source_id: String,
    pub(crate) alias: String,
    pub(crate) description: String,
    /// RFC 3339.
    pub(crate) start: Option<String>,
    /// RFC 3339; absent while recording.
    pub(crate) end: Option<String>,
    pub(crate) open: bool,
    /// The replay playlist.
    pub(crate) playlist_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecordingList {
    pub(crate) recordings: Vec<RecordingInfo>,
}

fn info(r: RecordingRow) -> RecordingInfo {
    RecordingInfo {
        playlist_url: format!("/recordings/{}/index.m3u8", r.id),
        start: rfc3339_ms(r.start_ms),
        end: r.end_ms.and_then(rfc3339_ms),
        open: r.end_ms.is_none(),
        id: r.id,
        source_id: r.source_id,
        alias: r.alias,
        description: r.description,
    }
}

fn store(state: &AppState) -> Result<&Recordings, ApiError> {
    Ok(state.live()?.recordings()?)
}

/// The recording `id`, or a 404.
pub(crate) async fn find(state: &AppState, id: &str) -> Result<RecordingRow, ApiError> {
    Ok(store(state)?
        .get(id)
        .await?
        .ok_or_else(|| LiveError::NoRecording(id.to_owned()))?)
}

/// `start`: RFC 3339 or unix seconds.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum StartAt {
    #[serde(deserialize_with = "crate::http::common::json_values::i64")]
    Unix(i64),
    Text(String),
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartRecording {
    /// When to start: RFC 3339 or unix seconds; default now; may lie in the past.
    pub(crate) start: Option<StartAt>,
    #[serde(default)]
    pub(crate) alias: String,
    #[serde(default)]
    pub(crate) description: String,
}

pub(crate) fn start_ms(start: Option<StartAt>) -> Result<i64, ApiError> {
    let now = jiff::Timestamp::now().as_millisecond();
    let at = match start {
        None => return Ok(now),
        Some(StartAt::Unix(secs)) => secs
            .checked_mul(1000)
            .ok_or_else(|| ApiError::bad_request("start is out of range"))?,
        Some(StartAt::Text(text)) => text
            .parse::<jiff::Timestamp>()
            .map_err(|_| ApiError::bad_request("start must be RFC 3339 or unix seconds"))?
            .as_millisecond(),
    };
    if at > now + 60_000 {
        return Err(ApiError::bad_request("start is in the future"));
    }
    Ok(at)
}

/// Start recording a source.
#[utoipa::path(post, path = routes::SOURCE_RECORDINGS, tag = "live", request_body = StartRecording,
    params(("source" = String, Path, description = "id or name")),
    responses((status = 201, description = "created", body = RecordingInfo),
        (status = 400, description = "bad request: the message says what", body = ErrorBody),
        (status = 404, description = "no such source", body = ErrorBody)),
    security(("bearer" = ["write"])))]
pub(crate) async fn start_recording(
    State(state): State<AppState>,
    Path(source): Path<String>,
    ApiJson(req): ApiJson<StartRecording>,
) -> Result<(StatusCode, Json<RecordingInfo>), ApiError> {
    let live = state.live()?;
    let src = live.source(&source, Lookup::Standing).await?;
    let rec = live
        .start_recording(&src, start_ms(req.start)?, &req.alias, &req.description)
        .await?;
    Ok((StatusCode::CREATED, Json(info(rec))))
}

/// Stop a recording.
#[utoipa::path(post, path = routes::RECORDING_STOP, tag = "live",
    params(("id" = String, Path)),
    responses((status = 200, description = "OK", body = RecordingInfo),
        (status = 404, description = "no such recording", body = ErrorBody)),
    security(("bearer" = ["write"])))]
pub(crate) async fn stop_recording(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RecordingInfo>, ApiError> {
    find(&state, &id).await?;
    state
        .live()?
        .stop_recording(&id, jiff::Timestamp::now().as_millisecond())
        .await?;
    Ok(Json(info(find(&state, &id).await?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RecordingQuery {
    /// Only this source's recordings (id).
    source: Option<String>,
}

/// List recordings.
#[utoipa::path(get, path = routes::RECORDINGS, tag = "live", params(RecordingQuery),
    responses((status = 200, description = "OK", body = RecordingList)), security(("bearer" = ["read"]), ()))]
pub(crate) async fn list_recordings(
    State(state): State<AppState>,
    Query(q): Query<RecordingQuery>,
) -> Result<Json<RecordingList>, ApiError> {
    let source_id = match q.source {
        Some(s) => Some(match state.live()?.source(&s, Lookup::Current).await {
            Ok(row) => row.id.clone(),
            Err(LiveError::NoSource(_)) => s,
            Err(e) => return Err(e.into()),
        }),
        None => None,
    };
    let rows = store(&state)?.list(source_id.as_deref()).await?;
    Ok(Json(RecordingList {
        recordings: rows.into_iter().map(info).collect(),
    }))
}

/// A recording.
#[utoipa::path(get, path = routes::RECORDING, tag = "live", params(("id" = String, Path)),
    responses((status = 200, description = "OK", body = RecordingInfo),
        (status = 404, description = "no such recording", body = ErrorBody)),
    security(("bearer" = ["read"]), ()))]
pub(crate) async fn get_recording(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RecordingInfo>, ApiError> {
    Ok(Json(info(find(&state, &id).await?)))
}

/// Delete a recording (and the stored segments no other recording uses).
#[utoipa::path(delete, path = routes::RECORDING, tag = "live", params(("id" = String, Path)),
    responses((status = 204, description = "done; no body"),
        (status = 404, description = "no such recording", body = ErrorBody)),
    security(("bearer" = ["write"])))]
pub(crate) async fn delete_recording(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    find(&state, &id).await?;
    state.live()?.delete_recording(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
