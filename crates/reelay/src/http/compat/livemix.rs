//! LiveMix's viewer URLs, so its players and dashboards keep working: `GET|HEAD
//! /v1/vod/live/{source}/{any}.m3u8` is the source's live playlist and
//! `/v1/vod/recording/{id}/{any}.m3u8` a recording's replay playlist, whatever the playlist file
//! is called (LiveMix answered any `.m3u8` name); the segment URIs in them are relative, so
//! players fetch segments through the same prefix, which serves them as `/live/…` and
//! `/recordings/…` do. Authorization, public sources and signed prefixes are those of the
//! native routes. (`POST /v1/playlist`, LiveMix's ingest, is in `live.rs`.)

use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, Method};

use crate::http::common::error::ApiError;
use crate::http::common::routes;
use crate::http::common::state::AppState;
use crate::http::native::api::ErrorBody;
use crate::http::native::live;
use crate::zero_copy::FileSink;

/// The native file name for a LiveMix one: any playlist name is the index playlist.
fn native(file: String) -> String {
    if file.ends_with(".m3u8") {
        "index.m3u8".to_owned()
    } else {
        file
    }
}

/// LiveMix: a source's live playlist (any `.m3u8` name) or one of its segments.
#[utoipa::path(get, path = routes::LIVEMIX_VOD_LIVE, operation_id = "livemix_vod_live", tag = "compatibility",
    params(("source" = String, Path, description = "id or name"),
        ("file" = String, Path, description = "`vid.m3u8` (any `.m3u8` name) or a segment it lists"),
        ("exp" = Option<u64>, Query, description = "signed URL expiry (unix seconds)"),
        ("kid" = Option<String>, Query, description = "signed URL key id"),
        ("by" = Option<String>, Query, description = "signed URL signer (a token id)"),
        ("sig" = Option<String>, Query, description = "signed URL signature"),
        ("pfx" = Option<String>, Query, description = "signed URL prefix scope")),
    responses((status = 200, description = "the playlist or segment"),
        (status = 400, description = "a file name that is not a plain name", body = ErrorBody),
        (status = 404, description = "no such source, or nothing buffered yet", body = ErrorBody)),
    security(("bearer" = ["read"]), ()))]
pub(crate) async fn vod_live(
    state: State<AppState>,
    Path((source, file)): Path<(String, String)>,
    query: RawQuery,
    method: Method,
    headers: HeaderMap,
    sink: Option<Extension<FileSink>>,
) -> Result<Response, ApiError> {
    live::view(
        state,
        Path((source, native(file))),
        query,
        method,
        headers,
        sink,
    )
    .await
}

/// LiveMix: a recording's replay playlist (any `.m3u8` name) or one of its segments.
#[utoipa::path(get, path = routes::LIVEMIX_VOD_RECORDING, operation_id = "livemix_vod_recording", tag = "compatibility",
    params(("id" = String, Path, description = "recording id"),
        ("file" = String, Path, description = "`vid.m3u8` (any `.m3u8` name) or a segment it lists"),
        ("exp" = Option<u64>, Query, description = "signed URL expiry (unix seconds)"),
        ("kid" = Option<String>, Query, description = "signed URL key id"),
        ("by" = Option<String>, Query, description = "signed URL signer (a token id)"),
        ("sig" = Option<String>, Query, description = "signed URL signature"),
        ("pfx" = Option<String>, Query, description = "signed URL prefix scope")),
    responses((status = 200, description = "the playlist or segment"),
        (status = 400, description = "a file name that is not a plain name", body = ErrorBody),
        (status = 404, description = "no such recording or segment", body = ErrorBody)),
    security(("bearer" = ["read"]), ()))]
pub(crate) async fn vod_recording(
    state: State<AppState>,
    Path((id, file)): Path<(String, String)>,
    query: RawQuery,
    method: Method,
    headers: HeaderMap,
    sink: Option<Extension<FileSink>>,
) -> Result<Response, ApiError> {
    live::replay(
        state,
        Path((id, native(file))),
        query,
        method,
        headers,
        sink,
    )
    .await
}
