//! Media routes: `GET|HEAD /media/{bucket}/{*key}` and `GET|HEAD /watch?v={key}&bucket={bucket}`.
//!
//! The handler is a thin shell around the pure core: resolve the bucket and key, open the object
//! (metadata + handle), ask [`reelay_http::evaluate`] what to send, and stream exactly that.
//! Bodies are streams of budgeted frames read on demand, so memory does not grow with range
//! size, and a client that goes away drops the stream and stops the reads.

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

use super::error::MediaError;
use super::routes;
use super::state::AppState;
use crate::random;
use crate::storage::{ObjectKey, OpenObject};
use crate::stream::ByteStream;
use crate::zero_copy::FileSink;

/// Revalidate on every use: objects in a bucket can change, and validators make it cheap.
const MEDIA_CACHE_CONTROL: &str = "no-cache";

/// `GET|HEAD /media/{bucket}/{*key}`.
#[utoipa::path(get, path = routes::MEDIA, tag = "media",
    params(("bucket" = String, Path), ("key" = String, Path, description = "may contain `/`"),
        ("Range" = Option<String>, Header, description = "e.g. `bytes=0-1023`; several ranges give multipart/byteranges"),
        ("exp" = Option<u64>, Query, description = "signed URL expiry (unix seconds)"),
        ("sig" = Option<String>, Query, description = "signed URL signature"),
        ("pfx" = Option<String>, Query, description = "signed URL prefix scope"),
        ("download" = Option<String>, Query, description = "answer as an attachment (`Content-Disposition`), named after the key or this value")),
    responses((status = 200, description = "the whole object"),
        (status = 206, description = "the requested range(s)"),
        (status = 304, description = "not modified"), (status = 404, description = "no such object"),
        (status = 412, description = "precondition failed"), (status = 416, description = "range not satisfiable")),
    security(("bearer" = []), ()))]
pub async fn media_by_path(
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
            serve_object(&state, &request, &bucket, &key, q.download.as_deref()).await
        }
        (Err(rejection), _) => Err(MediaError::bad_request(rejection.body_text())),
        (_, Err(rejection)) => Err(MediaError::bad_request(rejection.body_text())),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `?download[=NAME]`: answer as an attachment, named NAME or after the key's last segment.
#[derive(Debug, Deserialize)]
pub struct DownloadQuery {
    download: Option<String>,
}

/// The seed-compatible query form.
#[derive(Debug, Deserialize)]
pub struct WatchQuery {
    v: String,
    bucket: Option<String>,
    download: Option<String>,
}

/// `GET|HEAD /watch?v={key}&bucket={bucket}`; `bucket` may be left out when only one media
/// bucket exists ([`crate::storage::Buckets::default_media`]).
pub async fn media_by_query(
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
                serve_object(&state, &request, &bucket, &q.v, q.download.as_deref()).await
            }
            None => Err(MediaError::bad_request(
                "the bucket parameter is required when several media buckets exist",
            )),
        },
        Err(rejection) => Err(MediaError::bad_request(rejection.body_text())),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn serve_object(
    state: &AppState,
    request: &Request<'_>,
    bucket_name: &str,
    key: &str,
    download: Option<&str>,
) -> Result<Response, MediaError> {
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
    let mut response = serve_opened(request, &object, cache_control);
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
pub struct Request<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    /// The connection's file sink, when it sends file spans itself.
    pub sink: Option<&'a FileSink>,
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
pub fn serve_opened(
    request: &Request<'_>,
    object: &OpenObject,
    cache_control: HeaderValue,
) -> Response {
    let meta = object.meta();
    let rep = Representation {
        len: meta.size,
        etag: Some(meta.etag.clone()),
        last_modified: meta.last_modified,
    };
    let outcome = evaluate(request.method, request.headers, &rep, SystemTime::now());
    let mut response = respond(request, outcome, object);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, cache_control);
    response
}

/// Headers every media response carries, whatever its status.
fn validator_headers(object: &OpenObject) -> HeaderMap {
    let meta = object.meta();
    let mut h = HeaderMap::new();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(MEDIA_CACHE_CONTROL),
    );
    if let Ok(v) = HeaderValue::from_str(&meta.etag.to_string()) {
        h.insert(header::ETAG, v);
    }
    if let Some(lm) = meta.last_modified
        && let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(lm))
    {
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
    h
}

fn content_type_value(content_type: &str) -> HeaderValue {
    HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static(
        reelay_http::content_type::DEFAULT_CONTENT_TYPE,
    ))
}

fn header_value(s: String) -> HeaderValue {
    HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static(""))
}

/// Builds the response for `outcome`; bodies only for GET.
fn respond(request: &Request<'_>, outcome: Outcome, object: &OpenObject) -> Response {
    let meta = object.meta();
    let mut headers = validator_headers(object);
    let with_body = request.method == Method::GET;
    let sink = request.sink;
    let (status, length, body) = match outcome {
        Outcome::Full => {
            headers.insert(header::CONTENT_TYPE, content_type_value(&meta.content_type));
            let body = with_body.then(|| object.read_to(0, meta.size, sink));
            (StatusCode::OK, meta.size, body)
        }
        Outcome::Partial(span) => {
            headers.insert(header::CONTENT_TYPE, content_type_value(&meta.content_type));
            headers.insert(
                header::CONTENT_RANGE,
                header_value(span.content_range(meta.size)),
            );
            let body = with_body.then(|| object.read_to(span.start, span.end, sink));
            (StatusCode::PARTIAL_CONTENT, span.len(), body)
        }
        Outcome::Multipart(spans) => {
            let boundary = format!("reelay-{:016x}{:016x}", random::u64(), random::u64());
            let layout = multipart_layout(&spans, meta.size, &meta.content_type, &boundary);
            headers.insert(
                header::CONTENT_TYPE,
                header_value(multipart_content_type(&boundary)),
            );
            let body = with_body.then(|| multipart_body(layout.pieces, object, sink));
            (StatusCode::PARTIAL_CONTENT, layout.content_length, body)
        }
        Outcome::NotModified => return (StatusCode::NOT_MODIFIED, headers).into_response(),
        Outcome::PreconditionFailed => {
            return short_text(
                StatusCode::PRECONDITION_FAILED,
                headers,
                "precondition failed\n",
            );
        }
        Outcome::Unsatisfiable => {
            headers.insert(
                header::CONTENT_RANGE,
                header_value(unsatisfied_content_range(meta.size)),
            );
            return short_text(
                StatusCode::RANGE_NOT_SATISFIABLE,
                headers,
                "range not satisfiable\n",
            );
        }
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    let body = body.map_or_else(Body::empty, Body::from_stream);
    (status, headers, body).into_response()
}

fn short_text(status: StatusCode, mut headers: HeaderMap, text: &'static str) -> Response {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    (status, headers, text).into_response()
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
