//! The JSON API (read-only so far): buckets and their objects, for the web UI and for scripts.
//! Every failure is `{"error":{"code","message"}}` through [`ApiError`].

use std::time::SystemTime;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use http::Uri;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::error::ApiError;

/// Largest page of a listing.
pub const MAX_LIST_LIMIT: usize = 1000;

#[derive(Debug, Serialize)]
pub struct BucketInfo {
    name: String,
    kind: &'static str,
}

#[derive(Debug, Serialize)]
pub struct BucketList {
    buckets: Vec<BucketInfo>,
}

/// `GET /api/v1/buckets`.
pub async fn list_buckets(State(state): State<AppState>) -> Json<BucketList> {
    let buckets = state
        .buckets
        .iter()
        .map(|(name, b)| BucketInfo {
            name: name.to_owned(),
            kind: b.kind(),
        })
        .collect();
    Json(BucketList { buckets })
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    prefix: String,
    delimiter: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct ObjectInfo {
    key: String,
    size: u64,
    content_type: String,
    /// RFC 3339, UTC.
    last_modified: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ObjectList {
    objects: Vec<ObjectInfo>,
    /// With a delimiter: the "folders" on this page.
    prefixes: Vec<String>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// RFC 3339 (UTC, seconds) for API responses.
pub fn rfc3339(t: SystemTime) -> Option<String> {
    jiff::Timestamp::try_from(t)
        .ok()
        .map(|ts| ts.round(jiff::Unit::Second).unwrap_or(ts).to_string())
}

/// `GET /api/v1/buckets/{bucket}/objects?prefix=&cursor=&limit=`.
pub async fn list_objects(
    State(state): State<AppState>,
    Path(bucket): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ObjectList>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = q.limit.unwrap_or(MAX_LIST_LIMIT);
    if limit == 0 || limit > MAX_LIST_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIST_LIMIT}"
        )));
    }
    let b = state
        .buckets
        .get(&bucket)
        .ok_or_else(|| ApiError::not_found(format!("no bucket named {bucket:?}")))?;
    let page = b
        .list(
            &q.prefix,
            q.delimiter.as_deref(),
            q.cursor.as_deref(),
            limit,
        )
        .await?;
    let objects = page
        .objects
        .into_iter()
        .map(|e| ObjectInfo {
            last_modified: e.last_modified.and_then(rfc3339),
            key: e.key,
            size: e.size,
            content_type: e.content_type.into_owned(),
        })
        .collect();
    Ok(Json(ObjectList {
        objects,
        prefixes: page.prefixes,
        next_cursor: page.next_cursor,
    }))
}

/// Any unknown route.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}
