//! LiveMix's shapes for `livemix_manage`: a source and a recording as LiveMix described them,
//! built from reelay's rows, and the envelope every answer comes in —
//! `{"success": true, "request_id", <payload>}`, or for a failure
//! `{"success": false, "request_id", "error": {"code": <HTTP status>, "message", "detail"}}`
//! with the status and message of reelay's error table (never backend text).

use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::common::error::ApiError;
use crate::http::common::middleware::observe::REQUEST_ID;
use crate::http::native::api::{rfc3339_ms, rfc3339_unix};
use crate::live::recordings::RecordingRow;
use crate::live::sources::SourceRow;

/// LiveMix's `1` (yes) / `-1` (no).
fn flag(on: bool) -> i8 {
    if on { 1 } else { -1 }
}

/// A video source as LiveMix described it (plus reelay's `public`, viewer URL and, once, token).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LmSource {
    pub id: String,
    pub name: String,
    /// Target segment length, seconds.
    pub(crate) segment_length: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    /// `1` streaming, `-1` not.
    pub(crate) streaming: i8,
    /// When its newest buffered segment ends (RFC 3339); null when there is none.
    pub(crate) local_time: Option<String>,
    pub(crate) created_at: Option<String>,
    pub(crate) updated_at: Option<String>,
    /// Watchable without a token.
    pub(crate) public: bool,
    /// The live playlist, LiveMix's viewer URL.
    pub(crate) playlist_url: String,
    /// The source's ingest token: only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ingest_token: Option<String>,
}

/// A recording session as LiveMix described it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LmRecording {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    /// The source's id.
    pub(crate) source: String,
    /// RFC 3339.
    pub(crate) start_ts: Option<String>,
    /// RFC 3339; null while it records.
    pub(crate) end_ts: Option<String>,
    /// `1` recording, `-1` stopped.
    pub(crate) active: i8,
    pub(crate) created_at: Option<String>,
    pub(crate) updated_at: Option<String>,
    /// Its replay playlist, LiveMix's viewer URL.
    pub(crate) playlist_url: String,
}

fn some_text(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

pub(super) fn lm_source(row: SourceRow, last_ms: Option<i64>, token: Option<String>) -> LmSource {
    let created = rfc3339_unix(row.created_at);
    LmSource {
        playlist_url: format!("/v1/vod/live/{}/vid.m3u8", row.name),
        segment_length: row.target_duration,
        description: some_text(row.description),
        streaming: flag(row.streaming != 0),
        local_time: last_ms.and_then(rfc3339_ms),
        updated_at: created.clone(),
        created_at: created,
        public: row.public != 0,
        id: row.id,
        name: row.name,
        ingest_token: token,
    }
}

pub(super) fn lm_recording(row: RecordingRow) -> LmRecording {
    let created = rfc3339_unix(row.created_at);
    LmRecording {
        playlist_url: format!("/v1/vod/recording/{}/vid.m3u8", row.id),
        alias: some_text(row.alias),
        description: some_text(row.description),
        start_ts: rfc3339_ms(row.start_ms),
        end_ts: row.end_ms.and_then(rfc3339_ms),
        active: flag(row.end_ms.is_none()),
        updated_at: row.end_ms.and_then(rfc3339_ms).or_else(|| created.clone()),
        created_at: created,
        source: row.source_id,
        id: row.id,
    }
}

/// `{"success": true, "request_id": …}`, LiveMix's answer without a payload.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LmBase {
    pub(crate) success: bool,
    /// The request's id (its `X-Request-ID` header, and in reelay's logs).
    pub(crate) request_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LmSourceAnswer {
    #[serde(flatten)]
    pub(crate) base: LmBase,
    pub(crate) source: LmSource,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LmSourcesAnswer {
    #[serde(flatten)]
    pub(crate) base: LmBase,
    pub(crate) sources: Vec<LmSource>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LmRecordingAnswer {
    #[serde(flatten)]
    pub(crate) base: LmBase,
    pub(crate) recording: LmRecording,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LmRecordingsAnswer {
    #[serde(flatten)]
    pub(crate) base: LmBase,
    pub(crate) recordings: Vec<LmRecording>,
}

/// A failure in LiveMix's envelope.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LmErrorAnswer {
    #[serde(flatten)]
    pub(crate) base: LmBase,
    pub(crate) error: LmErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LmErrorDetail {
    /// The HTTP status, as LiveMix gave it.
    pub(crate) code: u16,
    pub(crate) message: String,
    /// reelay's stable error code: `not_found`, `bad_request`, `conflict`, …
    pub(crate) detail: String,
}

/// The id the request middleware gave this request (it sets the header on every request).
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

pub(super) fn base(headers: &HeaderMap) -> LmBase {
    LmBase {
        success: true,
        request_id: request_id(headers),
    }
}

/// `result` as LiveMix's envelope: the payload with status 200, or the error with its status.
pub(super) fn answer<T: Serialize>(headers: &HeaderMap, result: Result<T, ApiError>) -> Response {
    match result {
        Ok(payload) => axum::Json(payload).into_response(),
        Err(e) => {
            let verdict = e.verdict;
            let body = LmErrorAnswer {
                base: LmBase {
                    success: false,
                    request_id: request_id(headers),
                },
                error: LmErrorDetail {
                    code: verdict.status.as_u16(),
                    message: verdict.message.into_owned(),
                    detail: verdict.code.to_owned(),
                },
            };
            (verdict.status, axum::Json(body)).into_response()
        }
    }
}
