//! The Low-Latency HLS side of a rendition's routes (`/live/{source}/{rendition}/…`): the LL
//! playlist with blocking reload and delta updates, and its parts (`p{msn}-{index}.m4s`). The
//! waiting and the playlist are the live layer's (`live/ll/view.rs`); this module reads the
//! query and sets the headers.
//!
//! `Cache-Control`, as RFC 8216bis §6.2.5 leaves to servers and a CDN in front needs: a
//! blocking reload's URL names the point it waited for, so its answer stays right for six
//! target durations; a plain reload may be cached for one second, like classic playlists;
//! parts never change once published.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, header};
use reelay_hls::parse_ll_query;

use crate::http::common::error::ApiError;
use crate::live::Live;
use crate::live::ll::view::PartAnswer;
use crate::live::sources::{MAX_TARGET_DURATION, SourceRow};

const PART_CACHE_CONTROL: &str = "public, max-age=86400, immutable";

/// The LL playlist of `rendition`, or `None` when it publishes no parts (the classic playlist
/// answers). `_HLS_` parameters the RFC calls invalid are a 400, as is a point too far ahead.
pub(crate) async fn playlist(
    live: &Live,
    src: &SourceRow,
    rendition: &str,
    query: Option<&str>,
    suffix: &str,
    method: &Method,
) -> Result<Option<Response>, ApiError> {
    let parsed = parse_ll_query(query);
    if !live.ll().is_low_latency(&src.id, rendition) {
        return Ok(None);
    }
    let q = parsed.map_err(|e| ApiError::bad_request(e.to_string()))?;
    let Some(answer) = live.ll_playlist(src, rendition, q, suffix).await? else {
        return Ok(None);
    };
    let cache = if q.block.is_some() {
        blocked_cache_control(answer.target_duration)
    } else {
        HeaderValue::from_static("max-age=1")
    };
    // HEAD: no body, and the length a GET would have (RFC 9110 §8.6).
    let length = HeaderValue::from(answer.text.len());
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(answer.text.clone())
    };
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.apple.mpegurl"),
        ),
        (header::CACHE_CONTROL, cache),
        (header::CONTENT_LENGTH, length),
    ];
    Ok(Some((headers, body).into_response()))
}

/// `Cache-Control` of a blocking reload's answer: `public, max-age` of six target durations
/// (made once per target duration a source can have, not per answer: a publication answers
/// every held reload at once).
fn blocked_cache_control(target_duration: u64) -> HeaderValue {
    static MADE: std::sync::OnceLock<Vec<HeaderValue>> = std::sync::OnceLock::new();
    let value = |target: u64| {
        let secs = target.saturating_mul(6);
        HeaderValue::from_str(&format!("public, max-age={secs}"))
            .unwrap_or(HeaderValue::from_static("max-age=1"))
    };
    let longest = MAX_TARGET_DURATION.unsigned_abs();
    let made = MADE.get_or_init(|| (0..=longest).map(value).collect());
    usize::try_from(target_duration)
        .ok()
        .and_then(|t| made.get(t).cloned())
        .unwrap_or_else(|| value(target_duration))
}

/// Part `index` of segment `msn`: its bytes, once published (see `Live::ll_part`), or, for a
/// GET of the part arriving now, its bytes as they arrive (no `Content-Length`: chunked, and
/// cut short, never ended cleanly, if the part does not complete). A HEAD waits for the whole
/// part, to give its length.
pub(crate) async fn part(
    live: &Live,
    src: &SourceRow,
    rendition: &str,
    at: (u64, u64),
    method: &Method,
) -> Result<Response, ApiError> {
    let head = method == Method::HEAD;
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(PART_CACHE_CONTROL),
    );
    let body = match live.ll_part(src, rendition, at, !head).await? {
        PartAnswer::Whole(part) => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(part.bytes.len()));
            if head {
                Body::empty()
            } else {
                Body::from(part.bytes)
            }
        }
        PartAnswer::Arriving(bytes) => Body::from_stream(bytes),
    };
    Ok((headers, body).into_response())
}
