//! The JSON API under `/api/v1`, described by OpenAPI at `/openapi.json` (browsable at `/docs`).
//! One module per resource; every failure is `{"error":{"code","message"}}` through
//! `http::error::ApiError`; what each route requires is in `http::routes::requirement`.

pub(crate) mod access;
pub mod buckets;
pub(crate) mod edges;
pub(crate) mod objects;
pub(crate) mod recordings;
pub(crate) mod sources;

use std::time::SystemTime;

use serde::Serialize;
use utoipa::ToSchema;

/// The body of every API error.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    pub(crate) error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable, machine-readable: `not_found`, `conflict`, `too_large`, `unauthorized`, …
    pub(crate) code: String,
    pub(crate) message: String,
}

/// RFC 3339 (UTC, whole seconds) for API responses.
pub(crate) fn rfc3339(t: SystemTime) -> Option<String> {
    jiff::Timestamp::try_from(t)
        .ok()
        .map(|ts| ts.round(jiff::Unit::Second).unwrap_or(ts).to_string())
}

/// RFC 3339 of a unix time in milliseconds.
pub(crate) fn rfc3339_ms(ms: i64) -> Option<String> {
    jiff::Timestamp::from_millisecond(ms)
        .ok()
        .map(|t| t.to_string())
}

/// RFC 3339 of a unix time.
pub(crate) fn rfc3339_unix(secs: i64) -> Option<String> {
    jiff::Timestamp::from_second(secs)
        .ok()
        .map(|t| t.to_string())
}
