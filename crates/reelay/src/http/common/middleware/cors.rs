//! Cross-origin access for the configured origins only. With none (the default) there is no
//! CORS layer at all: no CORS headers are sent, a preflight is an ordinary `OPTIONS` (405), and
//! browsers keep other sites' pages out — and the requests that make up nearly all traffic pay
//! nothing for it. With origins, preflights are answered here, before authorization (browsers
//! send no credentials with them), and every response says `Vary: Origin`.

use std::time::Duration;

use http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::http::common::middleware::observe::REQUEST_ID;

/// The CORS layer for `origins`; `None` when there are none.
pub(crate) fn layer(origins: &[HeaderValue]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
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
        .max_age(Duration::from_secs(600));
    Some(layer)
}
