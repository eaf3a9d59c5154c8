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

use super::error::ApiError;
use super::live;
use super::state::AppState;
use crate::zero_copy::FileSink;

/// The native file name for a LiveMix one: any playlist name is the index playlist.
fn native(file: String) -> String {
    if file.ends_with(".m3u8") {
        "index.m3u8".to_owned()
    } else {
        file
    }
}

/// `GET|HEAD /v1/vod/live/{source}/{file}`.
pub async fn vod_live(
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

/// `GET|HEAD /v1/vod/recording/{id}/{file}`.
pub async fn vod_recording(
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
