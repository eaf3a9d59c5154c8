//! Cross-origin access for the configured origins only; with none, no CORS headers are sent
//! and browsers keep other sites' pages out. Preflights are answered here, before
//! authorization (browsers send no credentials with them).

use std::time::Duration;

use http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::observe::REQUEST_ID;

/// The CORS layer for `origins`.
pub fn layer(origins: &[HeaderValue]) -> CorsLayer {
    if origins.is_empty() {
        return CorsLayer::new();
    }
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::POST,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::RANGE,
            header::CONTENT_TYPE,
            header::IF_RANGE,
        ])
        .expose_headers([
            header::CONTENT_RANGE,
            header::CONTENT_LENGTH,
            header::ACCEPT_RANGES,
            header::ETAG,
            http::HeaderName::from_static(REQUEST_ID),
        ])
        .max_age(Duration::from_secs(600))
}
