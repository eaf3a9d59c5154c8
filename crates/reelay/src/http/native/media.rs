//! Media routes: `GET|HEAD /media/{bucket}/{*key}` and `GET|HEAD /watch?v={key}&bucket={bucket}`.
//!
//! The handler is a thin shell around the pure core: resolve the bucket and key, open the object
//! (metadata + handle), ask [`reelay_http::evaluate`] what to send, and stream exactly that.
//! Bodies are streams of budgeted frames read on demand, so memory does not grow with range
//! size, and a client that goes away drops the stream and stops the reads.

use std::borrow::Cow;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use reelay_http::{
    ByteSpan, Outcome, Piece, Representation, disposition, evaluate, multipart_content_type,
    multipart_layout, range::unsatisfied_content_range,
};
use serde::Deserialize;

use crate::http::common::error::MediaError;
use crate::http::common::reply::MediaBody;
use crate::http::common::routes;
use crate::http::common::state::AppState;
use crate::random;
use crate::storage::{ObjectKey, ObjectMeta, OpenObject};
use crate::stream::ByteStream;
use crate::zero_copy::FileSink;

/// Revalidate on every use: objects in a bucket can change, and validators make it cheap.
const MEDIA_CACHE_CONTROL: &str = "no-cache";

/// `GET|HEAD /media/{bucket}/{*key}`.
#[utoipa::path(get, path = routes::MEDIA, tag = "media",
    params(("bucket" = String, Path), ("key" = String, Path, description = "may contain `/`"),
        ("Range" = Option<String>, Header, description = "e.g. `bytes=0-1023`; several ranges give multipart/byteranges"),
        ("exp" = Option<u64>, Query, description = "signed URL expiry (unix seconds)"),
        ("kid" = Option<String>, Query, description = "signed URL key id"),
        ("by" = Option<String>, Query, description = "signed URL signer (a token id)"),
        ("sig" = Option<String>, Query, description = "signed URL signature"),
        ("pfx" = Option<String>, Query, description = "signed URL prefix scope"),
        ("download" = Option<String>, Query, description = "answer as an attachment (`Content-Disposition`), named after the key or this value")),
    responses((status = 200, description = "the whole object"),
        (status = 206, description = "the requested range(s)"),
        (status = 304, description = "not modified"), (status = 404, description = "no such object"),
        (status = 412, description = "precondition failed"), (status = 416, description = "range not satisfiable")),
    security(("bearer" = ["read"]), ()))]
pub(crate) async fn media_by_path(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    sink: Option<Extension<FileSink>>,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<DownloadQuery>, QueryRejection>,
) -> Response {
    let request = Request::new(&method, &headers, sink.as_deref());
    let result = match (path, query) {
        (Ok(Path((bucket, key))), Ok(Query(q))) => {
            answer_object(&state, &request, &bucket, &key, q.download.as_deref()).await
        }
        (Err(rejection), _) => Err(MediaError::bad_request(rejection.body_text())),
        (_, Err(rejection)) => Err(MediaError::bad_request(rejection.body_text())),
    };
    result.map_or_else(IntoResponse::into_response, |r| r.map(Body::from))
}

/// `?download[=NAME]`: answer as an attachment, named NAME or after the key's last segment.
#[derive(Debug, Deserialize)]
pub(crate) struct DownloadQuery {
    download: Option<String>,
}

/// The seed-compatible query form.
#[derive(Debug, Deserialize)]
pub(crate) struct WatchQuery {
    v: String,
    bucket: Option<String>,
    download: Option<String>,
}

/// `GET|HEAD /watch?v={key}&bucket={bucket}`; `bucket` may be left out when only one media
/// bucket exists ([`crate::storage::Buckets::default_media`]).
#[utoipa::path(get, path = routes::WATCH, tag = "compatibility",
    description = "The Lyve Cloud video middleware's playback URL: the same answers as `/media/{bucket}/{key}`.",
    params(("v" = String, Query, description = "the object's key"),
        ("bucket" = Option<String>, Query, description = "may be left out when there is one media bucket"),
        ("Range" = Option<String>, Header, description = "e.g. `bytes=0-1023`"),
        ("download" = Option<String>, Query, description = "answer as an attachment, named after the key or this value"),
        ("exp" = Option<u64>, Query, description = "signed URL expiry (unix seconds)"),
        ("kid" = Option<String>, Query, description = "signed URL key id"),
        ("by" = Option<String>, Query, description = "signed URL signer (a token id)"),
        ("sig" = Option<String>, Query, description = "signed URL signature"),
        ("pfx" = Option<String>, Query, description = "signed URL prefix scope")),
    responses((status = 200, description = "the whole object"),
        (status = 206, description = "the requested range(s)"),
        (status = 304, description = "not modified"),
        (status = 400, description = "no key, or no bucket when there are several"),
        (status = 404, description = "no such object"),
        (status = 412, description = "precondition failed"), (status = 416, description = "range not satisfiable")),
    security(("bearer" = ["read"]), ()))]
pub(crate) async fn media_by_query(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    sink: Option<Extension<FileSink>>,
    query: Result<Query<WatchQuery>, QueryRejection>,
) -> Response {
    let request = Request::new(&method, &headers, sink.as_deref());
    let result = match query {
        Ok(Query(q)) => match q.bucket.or_else(|| state.buckets.default_media()) {
            Some(bucket) => {
                answer_object(&state, &request, &bucket, &q.v, q.download.as_deref()).await
            }
            None => Err(MediaError::bad_request(
                "the bucket parameter is required when several media buckets exist",
            )),
        },
        Err(rejection) => Err(MediaError::bad_request(rejection.body_text())),
    };
    result.map_or_else(IntoResponse::into_response, |r| r.map(Body::from))
}

/// The answer to `request` for `key` of bucket `bucket_name` (`download`: as an attachment).
/// The media routes' handlers and the direct path ([`crate::http::transport::direct`]) both answer with it.
pub(crate) async fn answer_object(
    state: &AppState,
    request: &Request<'_>,
    bucket_name: &str,
    key: &str,
    download: Option<&str>,
) -> Result<http::Response<MediaBody>, MediaError> {
    let key = ObjectKey::parse(key)?;
    let disposition = download
        .map(|name| attachment_for(name, &key))
        .transpose()?;
    let bucket = state
        .buckets
        .get(bucket_name)
        .ok_or_else(MediaError::no_such_bucket)?;
    let object = bucket.open(&key).await?;
    let cache_control = state
        .cache_control
        .get(bucket_name)
        .cloned()
        .unwrap_or(HeaderValue::from_static(MEDIA_CACHE_CONTROL));
    let mut response = answer_opened(request, &object, cache_control);
    if let Some(value) = disposition {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// `Content-Disposition: attachment` named `name`, or after the key's last segment when
/// `name` is empty (`?download` alone).
fn attachment_for(name: &str, key: &ObjectKey) -> Result<HeaderValue, MediaError> {
    let name = match name {
        "" => key.as_str().rsplit('/').next().unwrap_or(key.as_str()),
        name => name,
    };
    let value =
        disposition::attachment(name).map_err(|e| MediaError::bad_request(e.to_string()))?;
    HeaderValue::from_str(&value).map_err(|_| MediaError::bad_request("unusable download name"))
}

/// What of a request a media response depends on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    pub(crate) method: &'a Method,
    pub(crate) headers: &'a HeaderMap,
    /// The connection's file sink, when it sends file spans itself.
    pub(crate) sink: Option<&'a FileSink>,
}

impl<'a> Request<'a> {
    pub fn new(method: &'a Method, headers: &'a HeaderMap, sink: Option<&'a FileSink>) -> Self {
        Self {
            method,
            headers,
            sink,
        }
    }
}

/// Answers `request` for an opened object: evaluates conditionals and ranges and streams what
/// they select. Shared by media, live segments and recordings.
pub(crate) fn serve_opened(
    request: &Request<'_>,
    object: &OpenObject,
    cache_control: HeaderValue,
) -> Response {
    answer_opened(request, object, cache_control).map(Body::from)
}

/// [`serve_opened`]'s response, its body not yet boxed.
pub(crate) fn answer_opened(
    request: &Request<'_>,
    object: &OpenObject,
    cache_control: HeaderValue,
) -> http::Response<MediaBody> {
    let meta = object.meta();
    let rep = Representation {
        len: meta.size,
        etag: Some(&meta.etag),
        last_modified: meta.last_modified,
    };
    let outcome = evaluate(request.method, request.headers, &rep, SystemTime::now());
    respond(request, outcome, object, cache_control)
}

/// Headers every media response carries, whatever its status, into `h`.
fn validator_headers(h: &mut HeaderMap, object: &OpenObject, cache_control: HeaderValue) {
    let meta = object.meta();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CACHE_CONTROL, cache_control);
    if let Some(v) = owned_value(meta.etag.field_value()) {
        h.insert(header::ETAG, v);
    }
    if let Some(v) = meta.last_modified.and_then(last_modified_value) {
        h.insert(header::LAST_MODIFIED, v);
    }
    // An HTML or SVG file in a bucket must not run script in reelay's origin.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

fn content_type_value(meta: &ObjectMeta) -> HeaderValue {
    let value = match &meta.content_type {
        // The table's own strings: no copy.
        Cow::Borrowed(s) => HeaderValue::from_maybe_shared(Bytes::from_static(s.as_bytes())),
        Cow::Owned(s) => HeaderValue::from_str(s),
    };
    value.unwrap_or(HeaderValue::from_static(
        reelay_http::content_type::DEFAULT_CONTENT_TYPE,
    ))
}

fn header_value(s: String) -> HeaderValue {
    owned_value(s).unwrap_or(HeaderValue::from_static(""))
}

/// `s` as a header value without copying it.
fn owned_value(s: String) -> Option<HeaderValue> {
    HeaderValue::from_maybe_shared(Bytes::from(s)).ok()
}

thread_local! {
    /// The last `Last-Modified` value made on this thread: playback asks for the same few
    /// objects over and over, and formatting an HTTP date costs more than the rest of the head.
    static LAST_MODIFIED: std::cell::RefCell<Option<(SystemTime, HeaderValue)>> =
        const { std::cell::RefCell::new(None) };
}

/// `Last-Modified: <lm as an HTTP date>`.
fn last_modified_value(lm: SystemTime) -> Option<HeaderValue> {
    LAST_MODIFIED.with(|cached| {
        let mut cached = cached.borrow_mut();
        if let Some((at, value)) = cached.as_ref()
            && *at == lm
        {
            return Some(value.clone());
        }
        let value = HeaderValue::from_str(&httpdate::fmt_http_date(lm)).ok()?;
        *cached = Some((lm, value.clone()));
        Some(value)
    })
}

/// Builds the response for `outcome`; bodies only for GET.
fn respond(
    request: &Request<'_>,
    outcome: Outcome,
    object: &OpenObject,
    cache_control: HeaderValue,
) -> http::Response<MediaBody> {
    let meta = object.meta();
    let mut response = http::Response::new(MediaBody::Empty);
    let headers = response.headers_mut();
    headers.reserve(12);
    validator_headers(headers, object, cache_control);
    let with_body = request.method == Method::GET;
    let sink = request.sink;
    let frames = |stream, len| MediaBody::Frames { stream, len };
    let (status, length, body) = match outcome {
        Outcome::Full => {
            headers.insert(header::CONTENT_TYPE, content_type_value(meta));
            let body = with_body.then(|| frames(object.read_to(0, meta.size, sink), meta.size));
            (StatusCode::OK, meta.size, body)
        }
        Outcome::Partial(span) => {
            headers.insert(header::CONTENT_TYPE, content_type_value(meta));
            headers.insert(
                header::CONTENT_RANGE,
                header_value(span.content_range(meta.size)),
            );
            let read = || frames(object.read_to(span.start, span.end, sink), span.len());
            (
                StatusCode::PARTIAL_CONTENT,
                span.len(),
                with_body.then(read),
            )
        }
        Outcome::Multipart(spans) => {
            let boundary = format!("reelay-{:016x}{:016x}", random::u64(), random::u64());
            let layout = multipart_layout(&spans, meta.size, &meta.content_type, &boundary);
            headers.insert(
                header::CONTENT_TYPE,
                header_value(multipart_content_type(&boundary)),
            );
            let len = layout.content_length;
            let body = with_body.then(|| frames(multipart_body(layout.pieces, object, sink), len));
            (StatusCode::PARTIAL_CONTENT, len, body)
        }
        Outcome::NotModified => {
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            return response;
        }
        Outcome::PreconditionFailed => {
            return short_text(
                response,
                StatusCode::PRECONDITION_FAILED,
                "precondition failed\n",
            );
        }
        Outcome::Unsatisfiable => {
            headers.insert(
                header::CONTENT_RANGE,
                header_value(unsatisfied_content_range(meta.size)),
            );
            return short_text(
                response,
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range not satisfiable\n",
            );
        }
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    *response.status_mut() = status;
    *response.body_mut() = body.unwrap_or(MediaBody::Empty);
    response
}

fn short_text(
    mut response: http::Response<MediaBody>,
    status: StatusCode,
    text: &'static str,
) -> http::Response<MediaBody> {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    *response.status_mut() = status;
    *response.body_mut() = MediaBody::text(text);
    response
}

/// Streams a multipart body: framing text and spans, in order, never all in memory.
fn multipart_body(pieces: Vec<Piece>, object: &OpenObject, sink: Option<&FileSink>) -> ByteStream {
    let (object, sink) = (object.clone(), sink.cloned());
    stream::iter(pieces)
        .flat_map(move |piece| match piece {
            Piece::Text(text) => stream::once(async move { Ok(Bytes::from(text)) }).boxed(),
            Piece::Data(ByteSpan { start, end }) => object.read_to(start, end, sink.as_ref()),
        })
        .boxed()
}
