//! The live relay's routes: encoders' pushes and viewers' playlists and segments.
//!
//! Ingest (`PUT|POST /ingest/{source}/{file}`, `DELETE` likewise, LiveMix's `POST /v1/playlist`)
//! authenticates with the source's own ingest token (`Authorization: Bearer rli_…` or
//! `?token=rli_…`), except a local push to an open node; what is pushed goes to `live::ingest`.
//! Viewers (`GET /live/{source}/…`, `GET /recordings/{id}/…`) authorize like media: a token, an
//! open node, or a signature over `/live/{source}/`, which the playlist's URIs carry.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use reelay_hls::is_plain_name;

use crate::auth::{Auth, Principal};
use crate::http::common::error::ApiError;
use crate::http::common::middleware::auth::presented_token;
use crate::http::common::state::AppState;
use crate::http::native::api::ErrorBody;
use crate::http::native::media::{Request, serve_opened};
use crate::http::{common::routes, native::live_ll};
use crate::live::ingest::Ingested;
use crate::live::ll::view::parse_part_uri;
use crate::live::recordings::{RecordingRow, Recordings};
use crate::live::sources::{SourceRow, ingest_token_matches};
use crate::live::{Live, LiveError, Lookup, rendition_file};
use crate::storage::ObjectKey;
use crate::zero_copy::FileSink;

const PLAYLIST_CACHE_CONTROL: &str = "max-age=1";
const SEGMENT_CACHE_CONTROL: &str = "public, max-age=86400, immutable";

/// Whether the authorization layer found the request local to an open node
/// ([`crate::auth::Auth::open_to`]): then an ingest needs no token.
type Opened = Option<Extension<Principal>>;

fn is_open(opened: &Opened) -> bool {
    matches!(opened, Some(Extension(Principal::Open)))
}

/// Unless open, an ingest without any token is a 401 before anything is looked up.
fn refuse_anonymous(open: bool, presented: Option<&str>) -> Result<(), ApiError> {
    if presented.is_none() {
        Auth::check_ingest(None, open, |_| false)?;
    }
    Ok(())
}

/// The source named in an ingest request, once the encoder's token (`presented`) is checked.
async fn ingest_source(
    state: &AppState,
    open: bool,
    source_name: &str,
    presented: Option<&str>,
) -> Result<SourceRow, ApiError> {
    refuse_anonymous(open, presented)?;
    let src = state.live()?.source(source_name, Lookup::Standing).await?;
    Auth::check_ingest(presented, open, |t| ingest_token_matches(&src, t))?;
    Ok(Arc::unwrap_or_clone(src))
}

/// `PUT|POST /ingest/{source}/{file}`.
pub(crate) async fn ingest(
    State(state): State<AppState>,
    Path((source_name, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    opened: Opened,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let presented = presented_token(&headers, query.as_deref());
    let src = ingest_source(&state, is_open(&opened), &source_name, presented.as_deref()).await?;
    let body = crate::http::common::body::stream(body, state.limits.body_timeout);
    Ok(match state.live()?.ingest(&src, &file, body).await? {
        Ingested::Playlist => StatusCode::NO_CONTENT,
        Ingested::Segment => StatusCode::CREATED,
    })
}

/// `DELETE /ingest/{source}/{file}`: the encoder dropping a segment it no longer lists.
pub(crate) async fn ingest_delete(
    State(state): State<AppState>,
    Path((source_name, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    opened: Opened,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let presented = presented_token(&headers, query.as_deref());
    let src = ingest_source(&state, is_open(&opened), &source_name, presented.as_deref()).await?;
    state.live()?.ingest_delete(&src, &file).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/playlist` (LiveMix): the playlist in the body, `Video-Source-Name` naming the
/// source, `MPEG-TS-URI-Prefix: file:///dir` naming the folder its segments were written to;
/// `[live] livemix_source` and `livemix_prefix` stand in for absent headers.
#[utoipa::path(post, path = routes::LIVEMIX_PLAYLIST, operation_id = "livemix_playlist", tag = "compatibility",
    request_body(content_type = "application/vnd.apple.mpegurl", description = "the encoder's media playlist"),
    params(("Video-Source-Name" = Option<String>, Header, description = "the source (default `[live] livemix_source`)"),
        ("MPEG-TS-URI-Prefix" = Option<String>, Header, description = "`file:///dir`, inside `[live] ingest_root` (default `[live] livemix_prefix`)")),
    responses((status = 204, description = "taken; its new segments were read from the folder"),
        (status = 400, description = "a missing header or a bad playlist", body = ErrorBody),
        (status = 403, description = "the folder is outside the ingest root", body = ErrorBody),
        (status = 404, description = "no such source, or LiveMix ingest is off", body = ErrorBody)),
    security(("bearer" = ["ingest"]), ()))]
pub(crate) async fn livemix_playlist(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    opened: Opened,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let presented = presented_token(&headers, query.as_deref());
    let open = is_open(&opened);
    refuse_anonymous(open, presented.as_deref())?;
    let settings = &state.live()?.settings();
    state.live()?.livemix_root()?;
    let header_text = |name: &str, default: &Option<String>| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| default.clone())
    };
    let name = header_text("video-source-name", &settings.livemix_source).ok_or_else(|| {
        ApiError::bad_request("Video-Source-Name is required (or [live] livemix_source)")
    })?;
    let prefix = header_text("mpeg-ts-uri-prefix", &settings.livemix_prefix).ok_or_else(|| {
        ApiError::bad_request("MPEG-TS-URI-Prefix is required (or [live] livemix_prefix)")
    })?;
    let src = ingest_source(&state, open, &name, presented.as_deref()).await?;
    let body = crate::http::common::body::stream(body, state.limits.body_timeout);
    state.live()?.livemix_playlist(&src, &prefix, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A playlist answer (no body for HEAD, and the length a GET would have, RFC 9110 §8.6).
fn playlist_response(method: &Method, text: String, cache_control: &'static str) -> Response {
    let length = HeaderValue::from(text.len());
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
        (header::CONTENT_LENGTH, length),
    ];
    (headers, body).into_response()
}

/// The signature part of a viewer's query, to carry into the playlist's URIs.
fn signature_suffix(query: Option<&str>) -> String {
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| matches!(k.as_ref(), "exp" | "kid" | "by" | "sig" | "pfx"))
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

/// The path parameters of a rendition route, checked: a rendition name and a plain file.
fn rendition_path(rendition: &str, file: &str) -> Result<String, ApiError> {
    if !reelay_hls::is_rendition_name(&format!("{rendition}.m3u8")) || !is_plain_name(file) {
        return Err(ApiError::bad_request(
            "renditions and their files are plain names",
        ));
    }
    Ok(rendition_file(rendition, file))
}

/// The source to play, refusing one whose streaming is off.
async fn playing(live: &Live, name: &str) -> Result<Arc<SourceRow>, ApiError> {
    let src = live.source(name, Lookup::Viewing).await?;
    if src.streaming == 0 {
        return Err(LiveError::NothingToPlay("streaming is off for this source").into());
    }
    Ok(src)
}

/// `GET|HEAD /live/{source}/{file}`: `index.m3u8` (the one rendition's media playlist, or a
/// multivariant playlist over several) or a segment of the primary rendition.
pub(crate) async fn view(
    State(state): State<AppState>,
    Path((source_name, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    sink: Option<Extension<FileSink>>,
) -> Result<Response, ApiError> {
    let live = state.live()?;
    if file == "index.m3u8" {
        let src = playing(live, &source_name).await?;
        let text = live
            .source_playlist(&src, &signature_suffix(query.as_deref()))
            .await?
            .ok_or(LiveError::NothingToPlay("no live segments yet"))?;
        return Ok(playlist_response(&method, text, PLAYLIST_CACHE_CONTROL));
    }
    let src = live.source(&source_name, Lookup::Viewing).await?;
    segment(
        live,
        &src,
        &file,
        &Request::new(&method, &headers, sink.as_deref()),
    )
    .await
}

/// `GET|HEAD /live/{source}/{rendition}/{file}`: a rendition's media playlist or segment.
pub(crate) async fn view_rendition(
    State(state): State<AppState>,
    Path((source, rendition, file)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    sink: Option<Extension<FileSink>>,
) -> Result<Response, ApiError> {
    let ask = RenditionAsk {
        source: &source,
        rendition: &rendition,
        file: &file,
        query: query.as_deref(),
        request: Request::new(&method, &headers, sink.as_deref()),
    };
    answer_rendition(&state, &ask).await
}

/// A request on `/live/{source}/{rendition}/{file}`, its path decoded (the router's handler and
/// the direct path both answer it with [`answer_rendition`]).
#[derive(Debug)]
pub(crate) struct RenditionAsk<'a> {
    pub(crate) source: &'a str,
    pub(crate) rendition: &'a str,
    pub(crate) file: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) request: Request<'a>,
}

/// A rendition's media playlist (LL when it publishes parts), part or segment.
pub(crate) async fn answer_rendition(
    state: &AppState,
    ask: &RenditionAsk<'_>,
) -> Result<Response, ApiError> {
    let live = state.live()?;
    let (rendition, file, method) = (ask.rendition, ask.file, ask.request.method);
    let path = rendition_path(rendition, file)?;
    if file == "index.m3u8" {
        let src = playing(live, ask.source).await?;
        let suffix = signature_suffix(ask.query);
        if let Some(ll) =
            live_ll::playlist(live, &src, rendition, ask.query, &suffix, method).await?
        {
            return Ok(ll);
        }
        let text = live
            .live_playlist(&src, rendition, "", &suffix)
            .await?
            .ok_or(LiveError::NothingToPlay("no live segments yet"))?;
        return Ok(playlist_response(method, text, PLAYLIST_CACHE_CONTROL));
    }
    let src = live.source(ask.source, Lookup::Viewing).await?;
    if let Some(at) = parse_part_uri(file) {
        return live_ll::part(live, &src, rendition, at, method).await;
    }
    segment(live, &src, &path, &ask.request).await
}

/// A buffered segment or init section, `path` under the source's segments.
async fn segment(
    live: &Live,
    src: &SourceRow,
    path: &str,
    request: &Request<'_>,
) -> Result<Response, ApiError> {
    let key = ObjectKey::parse(path)?;
    live.ensure_local(&src.id, key.as_str()).await?;
    let object = live.segments(src)?.open(&key).await?;
    let object = as_segment(object, path);
    Ok(serve_opened(
        request,
        &object,
        HeaderValue::from_static(SEGMENT_CACHE_CONTROL),
    ))
}

/// fMP4 media segments are `video/mp4` to players.
fn as_segment(object: crate::storage::OpenObject, file: &str) -> crate::storage::OpenObject {
    if file.ends_with(".m4s") {
        object.with_content_type("video/mp4")
    } else {
        object
    }
}

/// The recording `id`, and where it is stored.
async fn recording<'a>(
    live: &'a Live,
    id: &str,
) -> Result<(&'a Recordings, RecordingRow), ApiError> {
    let missing = || LiveError::NoRecording(id.to_owned());
    let store = live.recordings().ok().ok_or_else(missing)?;
    let rec = store.get(id).await?.ok_or_else(missing)?;
    Ok((store, rec))
}

/// A finished recording's playlists never change.
fn replay_cache(rec: &RecordingRow) -> &'static str {
    if rec.end_ms.is_some() {
        SEGMENT_CACHE_CONTROL
    } else {
        PLAYLIST_CACHE_CONTROL
    }
}

/// `GET|HEAD /recordings/{id}/{file}`: the replay playlist or a recorded segment.
pub(crate) async fn replay(
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    sink: Option<Extension<FileSink>>,
) -> Result<Response, ApiError> {
    let live = state.live()?;
    let (store, rec) = recording(live, &id).await?;
    if file == "index.m3u8" {
        let source = recording_source(live, &rec).await?;
        let target = target_duration(source.as_deref());
        let pushed = source.as_ref().and_then(|s| s.multivariant.as_deref());
        let suffix = signature_suffix(query.as_deref());
        let text = store.replay_playlist(&rec, target, pushed, &suffix).await?;
        return Ok(playlist_response(&method, text, replay_cache(&rec)));
    }
    if !is_plain_name(&file) {
        return Err(ApiError::bad_request("recording files are plain names"));
    }
    recorded(
        store,
        &rec,
        &file,
        &Request::new(&method, &headers, sink.as_deref()),
    )
    .await
}

/// `GET|HEAD /recordings/{id}/{rendition}/{file}`: a recorded rendition's playlist or segment.
pub(crate) async fn replay_rendition(
    State(state): State<AppState>,
    Path((id, rendition, file)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    sink: Option<Extension<FileSink>>,
) -> Result<Response, ApiError> {
    let live = state.live()?;
    let path = rendition_path(&rendition, &file)?;
    let (store, rec) = recording(live, &id).await?;
    if file == "index.m3u8" {
        let target = target_duration(recording_source(live, &rec).await?.as_deref());
        let suffix = signature_suffix(query.as_deref());
        let text = store
            .rendition_playlist(&rec, &rendition, target, &suffix)
            .await?;
        return Ok(playlist_response(&method, text, replay_cache(&rec)));
    }
    recorded(
        store,
        &rec,
        &path,
        &Request::new(&method, &headers, sink.as_deref()),
    )
    .await
}

/// A recorded segment or init section, `path` under the recording's source.
async fn recorded(
    store: &Recordings,
    rec: &RecordingRow,
    path: &str,
    request: &Request<'_>,
) -> Result<Response, ApiError> {
    let key = ObjectKey::parse(&format!("{}/{path}", rec.source_id))?;
    let object = as_segment(store.bucket.open(&key).await?, path);
    Ok(serve_opened(
        request,
        &object,
        HeaderValue::from_static(SEGMENT_CACHE_CONTROL),
    ))
}

/// The target duration of a recording's source (2 s when the source is gone).
fn target_duration(source: Option<&SourceRow>) -> u64 {
    source.map_or(2, |s| u64::try_from(s.target_duration).unwrap_or(2))
}

/// A recording's source as stored now, if it still exists (a recording outlives its source).
async fn recording_source(
    live: &Live,
    rec: &RecordingRow,
) -> Result<Option<Arc<SourceRow>>, LiveError> {
    match live.source(&rec.source_id, Lookup::Current).await {
        Ok(source) => Ok(Some(source)),
        Err(LiveError::NoSource(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
