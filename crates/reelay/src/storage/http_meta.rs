//! Object metadata from HTTP response headers, shared by the S3 and origin backends.

use std::time::SystemTime;

use http::{HeaderMap, header};
use reelay_http::{EntityTag, content_type::DEFAULT_CONTENT_TYPE, content_type_for};

use super::error::StorageError;
use super::object::ObjectMeta;

/// Metadata plus the validators exactly as the backend sent them (for conditional requests).
#[derive(Debug, Clone)]
pub(crate) struct RemoteMeta {
    pub(crate) meta: ObjectMeta,
    pub(crate) raw_etag: Option<String>,
    pub(crate) raw_last_modified: Option<String>,
}

/// Reads size, validators and type. `size` overrides `Content-Length` (e.g. from a
/// `Content-Range` total). Without a strong ETag, a strong validator is made from size and
/// modification time.
pub(crate) fn parse(
    key: &str,
    headers: &HeaderMap,
    size: Option<u64>,
) -> Result<RemoteMeta, StorageError> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let size = size
        .or_else(|| text(header::CONTENT_LENGTH).and_then(|v| v.parse().ok()))
        .ok_or_else(|| StorageError::Backend(format!("{key}: the backend gave no length")))?;
    let raw_etag = text(header::ETAG).map(str::to_owned);
    let raw_last_modified = text(header::LAST_MODIFIED).map(str::to_owned);
    let last_modified = raw_last_modified
        .as_deref()
        .and_then(|v| httpdate::parse_http_date(v).ok());
    let etag = raw_etag
        .as_deref()
        .and_then(|e| EntityTag::parse(e.as_bytes()))
        .filter(|e| !e.weak)
        .unwrap_or_else(|| {
            let secs = last_modified
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            EntityTag {
                weak: false,
                opaque: format!("r-{size:x}-{secs:x}"),
            }
        });
    let by_extension = content_type_for(key);
    let content_type = match text(header::CONTENT_TYPE) {
        Some(stored) if by_extension == DEFAULT_CONTENT_TYPE => stored.to_owned().into(),
        _ => by_extension.into(),
    };
    Ok(RemoteMeta {
        meta: ObjectMeta {
            size,
            etag,
            last_modified,
            content_type,
        },
        raw_etag,
        raw_last_modified,
    })
}

/// The total of a `Content-Range: bytes a-b/total` value.
pub(crate) fn content_range_total(value: &str) -> Option<u64> {
    value.rsplit_once('/')?.1.trim().parse().ok()
}
