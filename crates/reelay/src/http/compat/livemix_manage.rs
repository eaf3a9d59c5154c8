//! LiveMix's management routes, so its dashboards and scripts keep working: sources
//! (`POST|GET /v1/source`, `GET|DELETE /v1/source/{id}`, `PUT /v1/source/{id}/streaming?new_state=`)
//! and recordings (`POST|GET /v1/source/{id}/recording`, `GET /v1/recording`,
//! `GET|DELETE /v1/recording/{id}`, `POST /v1/recording/{id}/stop`), with LiveMix's field names
//! (`segment_len`, `segment_length`, `start_time_epoch`, `start_ts`, `active: 1|-1`) and its
//! envelope: `{"success": true, "request_id": …, <payload>}`.
//!
//! What differs from the seed, deliberately: reelay's auth (reads need a read token off loopback,
//! changes a write token, creating and deleting sources an admin token, as the native routes);
//! not-found is 404 and a bad value 400 (LiveMix answered 500 for both, and took any
//! `new_state` but `true` as "off"); a missing `start_time_epoch` means now (LiveMix started
//! such recordings in 1970); errors keep the envelope, `{"success": false, "request_id",
//! "error": {"code": <HTTP status>, "message", "detail": <reelay's error code>}}`, and never
//! carry backend text. `{id}` takes a source's id or its name. State changes posted by another
//! site's page are refused as on every form-reachable route.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::HeaderMap;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::http::common::error::ApiError;
use crate::http::common::routes;
use crate::http::common::state::AppState;
use crate::http::compat::livemix_envelope::{
    LmBase, LmErrorAnswer, LmRecordingAnswer, LmRecordingsAnswer, LmSource, LmSourceAnswer,
    LmSourcesAnswer, answer, base, lm_recording, lm_source,
};
use crate::http::native::api::recordings::{StartAt, find as find_recording, start_ms};
use crate::live::Lookup;
use crate::live::sources::SourceRow;
use crate::live::verbs::NewSource;

/// A JSON body, or a 400 that says what is wrong with it.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map(|crate::http::common::json_values::Object(value)| value)
        .map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
}

fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

async fn full_source(state: &AppState, row: SourceRow) -> Result<LmSource, ApiError> {
    let last = state.live()?.last_segment_end_ms(&row.id).await?;
    Ok(lm_source(row, last, None))
}

/// `POST /v1/source`: LiveMix's `NewVideoSourceRequest`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LmNewSource {
    pub name: String,
    /// Target segment length, seconds, ≥ 1 (`segment_length`, the answer's name, also works).
    #[serde(
        alias = "segment_length",
        deserialize_with = "crate::http::common::json_values::i64"
    )]
    pub segment_len: i64,
    pub description: Option<String>,
    /// The encoder-side playlist URI LiveMix recorded; accepted and not used (encoders push).
    #[expect(
        dead_code,
        reason = "LiveMix's clients send it; encoders push, so it is not used"
    )]
    pub playlist: Option<String>,
}

/// LiveMix: define a video source (answers 200, as LiveMix did; the token is shown once).
#[utoipa::path(post, path = routes::LIVEMIX_SOURCES, operation_id = "livemix_define_source", tag = "compatibility",
    request_body = LmNewSource,
    responses((status = 200, description = "defined", body = LmSourceAnswer),
        (status = 400, description = "a missing or bad value", body = LmErrorAnswer),
        (status = 409, description = "the name is taken", body = LmErrorAnswer)),
    security(("bearer" = ["admin"])))]
pub(crate) async fn define_source(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        if body.is_empty() {
            return Err(ApiError::bad_request(
                "no payload provided to define a new video source",
            ));
        }
        let req: LmNewSource = parse(&body)?;
        if req.segment_len < 1 {
            return Err(ApiError::bad_request("segment_len must be at least 1"));
        }
        let live = state.live()?;
        let description = req.description.unwrap_or_default();
        let new = NewSource {
            name: &req.name,
            description: &description,
            target_duration: req.segment_len,
            public: false,
        };
        let (row, token) = live.create_source(new).await?;
        Ok::<_, ApiError>(LmSourceAnswer {
            base: base(&headers),
            source: lm_source(row, None, Some(token)),
        })
    };
    answer(&headers, result.await)
}

/// LiveMix: list the video sources.
#[utoipa::path(get, path = routes::LIVEMIX_SOURCES, operation_id = "livemix_list_sources", tag = "compatibility",
    responses((status = 200, description = "OK", body = LmSourcesAnswer)), security(("bearer" = ["read"]), ()))]
pub(crate) async fn list_sources(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let result = async {
        let rows = state.live()?.sources().list().await?;
        let mut sources = Vec::with_capacity(rows.len());
        for row in rows {
            sources.push(full_source(&state, row).await?);
        }
        Ok::<_, ApiError>(LmSourcesAnswer {
            base: base(&headers),
            sources,
        })
    };
    answer(&headers, result.await)
}

/// LiveMix: a video source.
#[utoipa::path(get, path = routes::LIVEMIX_SOURCE, operation_id = "livemix_get_source", tag = "compatibility",
    params(("id" = String, Path, description = "id or name")),
    responses((status = 200, description = "OK", body = LmSourceAnswer),
        (status = 404, description = "no such source", body = LmErrorAnswer)),
    security(("bearer" = ["read"]), ()))]
pub(crate) async fn get_source(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let row = state.live()?.source(&id, Lookup::Standing).await?;
        Ok::<_, ApiError>(LmSourceAnswer {
            base: base(&headers),
            source: full_source(&state, Arc::unwrap_or_clone(row)).await?,
        })
    };
    answer(&headers, result.await)
}

/// LiveMix: delete a video source and its buffer.
#[utoipa::path(delete, path = routes::LIVEMIX_SOURCE, operation_id = "livemix_delete_source", tag = "compatibility",
    params(("id" = String, Path, description = "id or name")),
    responses((status = 200, description = "deleted", body = LmBase),
        (status = 404, description = "no such source", body = LmErrorAnswer)),
    security(("bearer" = ["admin"])))]
pub(crate) async fn delete_source(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let live = state.live()?;
        let row = live.source(&id, Lookup::Standing).await?;
        live.delete_source(&row.id).await?;
        Ok::<_, ApiError>(base(&headers))
    };
    answer(&headers, result.await)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamingQuery {
    /// `true` or `false`; anything else is a 400.
    new_state: Option<String>,
}

/// LiveMix: turn a source's streaming through this node on or off.
#[utoipa::path(put, path = routes::LIVEMIX_SOURCE_STREAMING, operation_id = "livemix_set_streaming", tag = "compatibility",
    params(("id" = String, Path, description = "id or name"), StreamingQuery),
    responses((status = 200, description = "changed", body = LmBase),
        (status = 400, description = "new_state is missing or not true/false", body = LmErrorAnswer),
        (status = 404, description = "no such source", body = LmErrorAnswer)),
    security(("bearer" = ["write"])))]
pub(crate) async fn set_streaming(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Result<Query<StreamingQuery>, QueryRejection>,
) -> Response {
    let result = async {
        let on = match query(q)?.new_state.as_deref() {
            Some("true") => true,
            Some("false") => false,
            Some(_) => return Err(ApiError::bad_request("new_state must be true or false")),
            None => return Err(ApiError::bad_request("new_state is required")),
        };
        let live = state.live()?;
        let row = live.source(&id, Lookup::Standing).await?;
        live.set_streaming(&row.id, on).await?;
        Ok::<_, ApiError>(base(&headers))
    };
    answer(&headers, result.await)
}

/// `POST /v1/source/{id}/recording`: LiveMix's `StartNewRecordingRequest` (all optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LmNewRecording {
    pub(crate) alias: Option<String>,
    pub(crate) description: Option<String>,
    /// Unix seconds; may lie in the past (what is still buffered is kept); absent or 0: now.
    #[serde(
        default,
        deserialize_with = "crate::http::common::json_values::opt_i64"
    )]
    pub(crate) start_time_epoch: Option<i64>,
}

/// LiveMix: start recording a source.
#[utoipa::path(post, path = routes::LIVEMIX_SOURCE_RECORDINGS, operation_id = "livemix_start_recording", tag = "compatibility",
    request_body(content = Option<LmNewRecording>, description = "optional: no body starts recording now"),
    params(("id" = String, Path, description = "source id or name")),
    responses((status = 200, description = "started", body = LmRecordingAnswer),
        (status = 400, description = "a bad value", body = LmErrorAnswer),
        (status = 404, description = "no such source", body = LmErrorAnswer)),
    security(("bearer" = ["write"])))]
pub(crate) async fn start_recording(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        let req: LmNewRecording = if body.iter().all(u8::is_ascii_whitespace) {
            LmNewRecording::default()
        } else {
            parse(&body)?
        };
        let start = start_ms(req.start_time_epoch.filter(|&s| s != 0).map(StartAt::Unix))?;
        let live = state.live()?;
        let src = live.source(&id, Lookup::Standing).await?;
        let (alias, description) = (req.alias.unwrap_or_default(), req.description);
        let rec = live
            .start_recording(&src, start, &alias, &description.unwrap_or_default())
            .await?;
        Ok::<_, ApiError>(LmRecordingAnswer {
            base: base(&headers),
            recording: lm_recording(rec),
        })
    };
    answer(&headers, result.await)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ActiveQuery {
    /// Present (any non-empty value): only recordings still running.
    only_active: Option<String>,
}

/// LiveMix: a source's recordings.
#[utoipa::path(get, path = routes::LIVEMIX_SOURCE_RECORDINGS, operation_id = "livemix_source_recordings", tag = "compatibility",
    params(("id" = String, Path, description = "source id or name"), ActiveQuery),
    responses((status = 200, description = "OK", body = LmRecordingsAnswer),
        (status = 404, description = "no such source", body = LmErrorAnswer)),
    security(("bearer" = ["read"]), ()))]
pub(crate) async fn source_recordings(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Result<Query<ActiveQuery>, QueryRejection>,
) -> Response {
    let result = async {
        let only_active = query(q)?.only_active.is_some_and(|v| !v.is_empty());
        let live = state.live()?;
        let src = live.source(&id, Lookup::Standing).await?;
        let rows = live.recordings()?.list(Some(&src.id)).await?;
        let recordings = rows
            .into_iter()
            .filter(|r| !only_active || r.end_ms.is_none())
            .map(lm_recording)
            .collect();
        Ok::<_, ApiError>(LmRecordingsAnswer {
            base: base(&headers),
            recordings,
        })
    };
    answer(&headers, result.await)
}

/// LiveMix: every recording.
#[utoipa::path(get, path = routes::LIVEMIX_RECORDINGS, operation_id = "livemix_list_recordings", tag = "compatibility",
    responses((status = 200, description = "OK", body = LmRecordingsAnswer)), security(("bearer" = ["read"]), ()))]
pub(crate) async fn list_recordings(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let result = async {
        let rows = state.live()?.recordings()?.list(None).await?;
        Ok::<_, ApiError>(LmRecordingsAnswer {
            base: base(&headers),
            recordings: rows.into_iter().map(lm_recording).collect(),
        })
    };
    answer(&headers, result.await)
}

/// LiveMix: a recording.
#[utoipa::path(get, path = routes::LIVEMIX_RECORDING, operation_id = "livemix_get_recording", tag = "compatibility",
    params(("id" = String, Path)),
    responses((status = 200, description = "OK", body = LmRecordingAnswer),
        (status = 404, description = "no such recording", body = LmErrorAnswer)),
    security(("bearer" = ["read"]), ()))]
pub(crate) async fn get_recording(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        Ok::<_, ApiError>(LmRecordingAnswer {
            base: base(&headers),
            recording: lm_recording(find_recording(&state, &id).await?),
        })
    };
    answer(&headers, result.await)
}

/// LiveMix: stop a recording (`?force` is accepted: stopping never waits for the edge).
#[utoipa::path(post, path = routes::LIVEMIX_RECORDING_STOP, operation_id = "livemix_stop_recording", tag = "compatibility",
    params(("id" = String, Path)),
    responses((status = 200, description = "stopped (or already was)", body = LmBase),
        (status = 404, description = "no such recording", body = LmErrorAnswer)),
    security(("bearer" = ["write"])))]
pub(crate) async fn stop_recording(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        find_recording(&state, &id).await?;
        let live = state.live()?;
        let now = jiff::Timestamp::now().as_millisecond();
        live.stop_recording(&id, now).await?;
        Ok::<_, ApiError>(base(&headers))
    };
    answer(&headers, result.await)
}

/// LiveMix: delete a recording (and the stored segments no other recording uses).
#[utoipa::path(delete, path = routes::LIVEMIX_RECORDING, operation_id = "livemix_delete_recording", tag = "compatibility",
    params(("id" = String, Path)),
    responses((status = 200, description = "deleted", body = LmBase),
        (status = 404, description = "no such recording", body = LmErrorAnswer)),
    security(("bearer" = ["write"])))]
pub(crate) async fn delete_recording(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        find_recording(&state, &id).await?;
        let live = state.live()?;
        live.delete_recording(&id).await?;
        Ok::<_, ApiError>(base(&headers))
    };
    answer(&headers, result.await)
}
