//! Live HTTP routes: ingest from encoders, and playlists and segments for viewers.
//!
//! Ingest (`PUT|POST /ingest/{source}/{file}`, `DELETE` likewise) authenticates with the
//! source's own ingest token (`Authorization: Bearer rli_…` or `?token=rli_…`), except on an
//! open loopback node. Segment bodies stream to a hidden temporary file and are committed by a
//! rename when the body ends (ffmpeg may close without reading our answer); playlists are parsed
//! strictly (400 on anything hostile). Viewers (`GET /live/{source}/…`) authorize like media:
//! a token, a public node, or a signature over `/live/{source}/`, which the playlist's URIs carry.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use reelay_hls::{is_plain_name, parse_ingest_playlist};
use tokio::io::AsyncWriteExt;

use super::sources::{SourceRow, ingest_token_matches};
use crate::app::AppState;
use crate::error::ApiError;
use crate::storage::{ObjectKey, OpenObject, StorageError};

const PLAYLIST_CACHE_CONTROL: &str = "max-age=1";
const SEGMENT_CACHE_CONTROL: &str = "public, max-age=86400, immutable";

pub(crate) fn live(state: &AppState) -> Result<&super::Live, ApiError> {
    state
        .live
        .as_deref()
        .ok_or_else(|| ApiError::not_found("live relay is not enabled on this node"))
}

async fn source(state: &AppState, id_or_name: &str) -> Result<SourceRow, ApiError> {
    live(state)?
        .sources
        .find(id_or_name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no source {id_or_name:?}")))
}

pub(crate) fn presented_token(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    from_header.or_else(|| {
        url::form_urlencoded::parse(query?.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    })
}

fn check_ingest_token(
    state: &AppState,
    source: &SourceRow,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(), ApiError> {
    let open = state.auth.loopback && !state.auth.tokens.any_tokens();
    match presented_token(headers, query) {
        Some(t) if ingest_token_matches(source, &t) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "not this source's ingest token",
        )),
        None if open => Ok(()),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "ingest needs the source's token",
        )),
    }
}

async fn read_limited(
    body: Body,
    max: usize,
    timeout: std::time::Duration,
) -> Result<Vec<u8>, ApiError> {
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(timeout, stream.next()).await {
            Err(_) => return Err(StorageError::ClientTimeout(timeout).into()),
            Ok(None) => return Ok(out),
            Ok(Some(Err(e))) => return Err(StorageError::ClientBody(e.to_string()).into()),
            Ok(Some(Ok(chunk))) => {
                if out.len() + chunk.len() > max {
                    return Err(StorageError::TooLarge { limit: max as u64 }.into());
                }
                out.extend_from_slice(&chunk);
            }
        }
    }
}

/// Streams a segment body into `incoming/.{file}.part`, then renames it to `incoming/{file}`.
pub(crate) async fn store_upload(
    dir: &std::path::Path,
    file: &str,
    body: Body,
    max: u64,
    timeout: std::time::Duration,
) -> Result<(), ApiError> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(StorageError::Io)?;
    let part = dir.join(format!(".{file}.part"));
    let mut out = tokio::fs::File::create(&part)
        .await
        .map_err(StorageError::Io)?;
    let mut stream = body.into_data_stream();
    let mut total = 0u64;
    let result: Result<(), ApiError> = async {
        loop {
            let chunk: Bytes = match tokio::time::timeout(timeout, stream.next()).await {
                Err(_) => return Err(StorageError::ClientTimeout(timeout).into()),
                Ok(None) => return Ok(()),
                Ok(Some(Err(e))) => return Err(StorageError::ClientBody(e.to_string()).into()),
                Ok(Some(Ok(chunk))) => chunk,
            };
            total += chunk.len() as u64;
            if total > max {
                return Err(StorageError::TooLarge { limit: max }.into());
            }
            out.write_all(&chunk).await.map_err(StorageError::Io)?;
        }
    }
    .await;
    if let Err(e) = result {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(e);
    }
    out.flush().await.map_err(StorageError::Io)?;
    drop(out);
    tokio::fs::rename(&part, dir.join(file))
        .await
        .map_err(StorageError::Io)?;
    Ok(())
}

/// The source an ingest request is for, once its token and file name are checked.
async fn ingest_target(
    state: &AppState,
    source_name: &str,
    file: &str,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<SourceRow, ApiError> {
    let src = source(state, source_name).await?;
    check_ingest_token(state, &src, headers, query)?;
    if !is_plain_name(file) {
        return Err(ApiError::bad_request(
            "ingest file names are plain names like index3.ts",
        ));
    }
    Ok(src)
}

/// `PUT|POST /ingest/{source}/{file}`.
pub async fn ingest(
    State(state): State<AppState>,
    Path((source_name, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let src = ingest_target(&state, &source_name, &file, &headers, query.as_deref()).await?;
    let live = live(&state)?;
    let timeout = state.limits.body_timeout;
    if file.ends_with(".m3u8") {
        let bytes = read_limited(body, reelay_hls::ingest::MAX_PLAYLIST_BYTES, timeout).await?;
        let playlist =
            parse_ingest_playlist(&bytes).map_err(|e| ApiError::bad_request(e.to_string()))?;
        live.accept_playlist(&src, playlist).await?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    store_upload(
        &live.incoming_dir(&src.id),
        &file,
        body,
        live.settings.max_segment_bytes,
        timeout,
    )
    .await?;
    live.segment_arrived(&src).await?;
    Ok(StatusCode::CREATED.into_response())
}

/// `DELETE /ingest/{source}/{file}`: the encoder dropping a segment it no longer lists.
pub async fn ingest_delete(
    State(state): State<AppState>,
    Path((source_name, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let src = ingest_target(&state, &source_name, &file, &headers, query.as_deref()).await?;
    let _ = tokio::fs::remove_file(live(&state)?.incoming_dir(&src.id).join(&file)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A playlist answer (no body for HEAD).
fn playlist_response(method: &Method, text: String, cache_control: &'static str) -> Response {
    let body = if *method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(text)
    };
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.apple.mpegurl"),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        ),
    ];
    (headers, body).into_response()
}

/// The signature part of a viewer's query, to carry into the playlist's URIs.
fn signature_suffix(query: Option<&str>) -> String {
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| matches!(k.as_ref(), "exp" | "sig" | "pfx"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        return String::new();
    }
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish();
    format!("?{encoded}")
}

/// `GET|HEAD /live/{source}/{file}`: `index.m3u8` or a segment.
pub async fn view(
    State(state): State<AppState>,
    Path((source_name, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let src = source(&state, &source_name).await?;
    let live = live(&state)?;
    if file == "index.m3u8" {
        if src.streaming == 0 {
            return Err(ApiError::not_found("streaming is off for this source"));
        }
        let text = live
            .live_playlist(&src, &signature_suffix(query.as_deref()))
            .await?
            .ok_or_else(|| ApiError::not_found("no live segments yet"))?;
        return Ok(playlist_response(&method, text, PLAYLIST_CACHE_CONTROL));
    }
    let key = ObjectKey::parse(&file)?;
    let segments = live.segments(&src).await?;
    let mut object = segments.open_object(&key)?;
    if file.ends_with(".m4s") {
        object.meta.content_type = "video/mp4".into();
    }
    let object = OpenObject::Fs(object);
    Ok(crate::media::serve_opened(
        &state,
        &method,
        &headers,
        &object,
        SEGMENT_CACHE_CONTROL,
    ))
}

/// The folder a LiveMix `MPEG-TS-URI-Prefix` names, if it lies inside `root`.
fn livemix_dir(root: &std::path::Path, prefix: &str) -> Result<std::path::PathBuf, ApiError> {
    let refused = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the segment folder is outside the ingest root",
        )
    };
    let path = prefix
        .strip_prefix("file://")
        .ok_or_else(|| ApiError::bad_request("MPEG-TS-URI-Prefix must be a file:// URI"))?;
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| ApiError::bad_request("MPEG-TS-URI-Prefix is not UTF-8"))?;
    let dir = std::path::Path::new(decoded.as_ref())
        .canonicalize()
        .map_err(|_| refused())?;
    let root = root.canonicalize().map_err(|_| refused())?;
    if dir.starts_with(&root) && dir.is_dir() {
        Ok(dir)
    } else {
        Err(refused())
    }
}

/// Copies `dir/name` to `incoming/name`, refusing symlinks, committed by a rename.
fn copy_in(
    dir: &std::path::Path,
    incoming: &std::path::Path,
    name: &str,
    max: u64,
) -> Result<(), StorageError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut from = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(dir.join(name))
    {
        Ok(f) => f,
        // Not written yet (or a link we refuse): the playlist waits for it, as for uploads.
        Err(_) => return Ok(()),
    };
    if !from.metadata()?.is_file() {
        return Ok(());
    }
    if from.metadata()?.len() > max {
        return Err(StorageError::TooLarge { limit: max });
    }
    std::fs::create_dir_all(incoming)?;
    let part = incoming.join(format!(".{name}.part"));
    let mut to = std::fs::File::create(&part)?;
    std::io::copy(&mut from, &mut to)?;
    std::fs::rename(&part, incoming.join(name))?;
    Ok(())
}

/// `POST /v1/playlist` (LiveMix): the playlist in the body, `Video-Source-Name` naming the
/// source, `MPEG-TS-URI-Prefix: file:///dir` naming the folder its segments were written to.
pub async fn livemix_playlist(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let live = live(&state)?;
    let root = live.settings.ingest_root.clone().ok_or_else(|| {
        ApiError::not_found("LiveMix ingest is not configured ([live] ingest_root)")
    })?;
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let name = header_text("video-source-name")
        .ok_or_else(|| ApiError::bad_request("Video-Source-Name is required"))?;
    let prefix = header_text("mpeg-ts-uri-prefix")
        .ok_or_else(|| ApiError::bad_request("MPEG-TS-URI-Prefix is required"))?;
    let src = source(&state, &name).await?;
    check_ingest_token(&state, &src, &headers, query.as_deref())?;
    let dir = livemix_dir(&root, &prefix)?;
    let bytes = read_limited(
        body,
        reelay_hls::ingest::MAX_PLAYLIST_BYTES,
        state.limits.body_timeout,
    )
    .await?;
    let playlist =
        parse_ingest_playlist(&bytes).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let incoming = live.incoming_dir(&src.id);
    let max = live.settings.max_segment_bytes;
    for file in live.missing_files(&src, &playlist).await? {
        let (dir, incoming) = (dir.clone(), incoming.clone());
        tokio::task::spawn_blocking(move || copy_in(&dir, &incoming, &file, max))
            .await
            .map_err(|e| StorageError::Io(std::io::Error::other(e)))??;
    }
    live.accept_playlist(&src, playlist).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET|HEAD /recordings/{id}/{file}`: the replay playlist or a recorded segment.
pub async fn replay(
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let live = live(&state)?;
    let store = live
        .recordings
        .as_ref()
        .ok_or_else(|| ApiError::not_found("no recordings bucket is configured"))?;
    let rec = store
        .get(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no recording {id:?}")))?;
    if file == "index.m3u8" {
        let target = live
            .sources
            .find(&rec.source_id)
            .await?
            .map_or(2, |s| u64::try_from(s.target_duration).unwrap_or(2));
        let text = store
            .playlist(&rec, target, &signature_suffix(query.as_deref()))
            .await?;
        let cache = if rec.end_ms.is_some() {
            SEGMENT_CACHE_CONTROL
        } else {
            PLAYLIST_CACHE_CONTROL
        };
        return Ok(playlist_response(&method, text, cache));
    }
    if !is_plain_name(&file) {
        return Err(ApiError::bad_request("recording files are plain names"));
    }
    let key = ObjectKey::parse(&format!("{}/{file}", rec.source_id))?;
    let mut object = store.bucket.open(&key).await?;
    if file.ends_with(".m4s")
        && let OpenObject::Fs(o) = &mut object
    {
        o.meta.content_type = "video/mp4".into();
    }
    Ok(crate::media::serve_opened(
        &state,
        &method,
        &headers,
        &object,
        SEGMENT_CACHE_CONTROL,
    ))
}
