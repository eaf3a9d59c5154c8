//! The web UI: static files compiled into the binary (no CDN, works offline), among them hls.js
//! vendored from npm (`web/vendor/update.sh`).

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};

use crate::http::common::error::ApiError;

/// `/ui/{file}` → (content type, body).
const FILES: &[(&str, &str, &str)] = &[
    ("app.js", JS, include_str!("../../../../../web/app.js")),
    ("core.js", JS, include_str!("../../../../../web/core.js")),
    (
        "library.js",
        JS,
        include_str!("../../../../../web/library.js"),
    ),
    (
        "player.js",
        JS,
        include_str!("../../../../../web/player.js"),
    ),
    ("live.js", JS, include_str!("../../../../../web/live.js")),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../../../../web/style.css"),
    ),
    (
        "vendor/hls.light.min.js",
        JS,
        include_str!("../../../../../web/vendor/hls.light.min.js"),
    ),
];
const JS: &str = "text/javascript; charset=utf-8";
const INDEX_HTML: &str = include_str!("../../../../../web/index.html");

/// Only our own scripts and styles; media from our own origin or hls.js's MediaSource (`blob:`),
/// hls.js's worker from a `blob:` URL.
const CSP: &str = "default-src 'self'; media-src 'self' blob:; worker-src 'self' blob:; \
                   img-src 'self' data:; object-src 'none'; base-uri 'none'; \
                   frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /`.
pub(crate) async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /ui/{file}`.
pub(crate) async fn file(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => asset(content_type, body),
        None => ApiError::not_found(format!("no UI file {file:?}")).into_response(),
    }
}
