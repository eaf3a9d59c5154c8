//! Objects: list (prefix, delimiter, cursor, limit), metadata, streaming upload, delete.
//!
//! Uploads stream the request body straight to the backend (a temp file renamed into place, or
//! an S3 multipart upload): never the whole object in memory, never a partial object visible.
//! `Content-Length` over the limit is refused before a byte is read; a body without one is
//! counted as it arrives. A body that stalls for `body_timeout` fails with 408.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::common::error::ApiError;
use crate::http::common::multipart::{self, Form, Stored, Target};
use crate::http::common::routes;
use crate::http::common::state::AppState;
use crate::http::native::api::{ErrorBody, rfc3339};
use crate::storage::{Bucket, ObjectKey};
use crate::stream::BodyError;

/// Largest page of a listing.
pub(crate) const MAX_LIST_LIMIT: usize = crate::rules::LIST_LIMIT.max as usize;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only keys starting with this.
    #[serde(default)]
    prefix: String,
    /// Group keys by this separator (usually `/`) into `prefixes`.
    delimiter: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// 1-1000 (default 1000).
    limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ObjectInfo {
    pub(crate) key: String,
    pub(crate) size: u64,
    pub(crate) content_type: String,
    /// RFC 3339.
    pub(crate) last_modified: Option<String>,
    /// Present on single-object answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) etag: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ObjectList {
    pub(crate) objects: Vec<ObjectInfo>,
    /// With a delimiter: the "folders" on this page.
    pub(crate) prefixes: Vec<String>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub(crate) next_cursor: Option<String>,
}

pub(crate) fn bucket(state: &AppState, name: &str) -> Result<Bucket, ApiError> {
    state
        .buckets
        .get(name)
        .ok_or_else(|| ApiError::not_found(format!("no bucket named {name:?}")))
}

/// List objects.
#[utoipa::path(get, path = routes::OBJECTS, tag = "objects",
    params(("bucket" = String, Path), ListQuery),
    responses((status = 200, description = "OK", body = ObjectList), (status = 400, description = "bad request: the message says what", body = ErrorBody),
        (status = 404, description = "no such bucket, object or token", body = ErrorBody), (status = 502, description = "the storage backend failed", body = ErrorBody)),
    security(("bearer" = ["read"]), ()))]
pub(crate) async fn list_objects(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ObjectList>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = q.limit.unwrap_or(MAX_LIST_LIMIT);
    let admitted = i64::try_from(limit).is_ok_and(|l| crate::rules::LIST_LIMIT.admits(l));
    if !admitted {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIST_LIMIT}"
        )));
    }
    let page = bucket(&state, &name)?
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
            etag: None,
        })
        .collect();
    Ok(Json(ObjectList {
        objects,
        prefixes: page.prefixes,
        next_cursor: page.next_cursor,
    }))
}

async fn metadata(b: &Bucket, key: &ObjectKey) -> Result<ObjectInfo, ApiError> {
    let object = b.open(key).await?;
    let meta = object.meta();
    Ok(ObjectInfo {
        key: key.as_str().to_owned(),
        size: meta.size,
        content_type: meta.content_type.to_string(),
        last_modified: meta.last_modified.and_then(rfc3339),
        etag: Some(meta.etag.to_string()),
    })
}

/// An object's metadata.
#[utoipa::path(get, path = routes::OBJECT, tag = "objects",
    params(("bucket" = String, Path), ("key" = String, Path, description = "may contain `/`")),
    responses((status = 200, description = "OK", body = ObjectInfo), (status = 404, description = "no such bucket, object or token", body = ErrorBody)),
    security(("bearer" = ["read"]), ()))]
pub(crate) async fn object_metadata(
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
) -> Result<Json<ObjectInfo>, ApiError> {
    let key = ObjectKey::parse(&key)?;
    let b = bucket(&state, &name)?;
    Ok(Json(metadata(&b, &key).await?))
}

/// Upload an object (streamed; replaces any existing object atomically).
#[utoipa::path(put, path = routes::OBJECT, tag = "objects",
    params(("bucket" = String, Path), ("key" = String, Path, description = "may contain `/`")),
    request_body(content = Option<Vec<u8>>, content_type = "application/octet-stream",
        description = "the object's bytes; none (no body, or `Content-Length: 0`) makes an empty object"),
    responses((status = 201, description = "created", body = ObjectInfo), (status = 400, description = "bad request: the message says what", body = ErrorBody),
        (status = 408, description = "the request body stalled", body = ErrorBody), (status = 409, description = "conflicts with the current state", body = ErrorBody),
        (status = 413, description = "larger than the upload limit", body = ErrorBody), (status = 502, description = "the storage backend failed", body = ErrorBody)),
    security(("bearer" = ["write"])))]
pub(crate) async fn put_object(
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ObjectInfo>), ApiError> {
    let key = ObjectKey::parse(&key)?;
    let b = bucket(&state, &name)?;
    let max = state.limits.max_upload;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max) {
        return Err(BodyError::TooLarge { limit: max }.into());
    }
    let body = crate::http::common::body::stream(body, state.limits.body_timeout);
    b.put(&key, body, max).await?;
    Ok((StatusCode::CREATED, Json(metadata(&b, &key).await?)))
}

/// The native form: `file` (its file name is the key unless a `key` field names one).
pub(crate) const NATIVE_FORM: Form = Form {
    file_field: "file",
    bucket_field: None,
    key_fields: &["key"],
};

/// Upload an object from a `multipart/form-data` form (an HTML form, `curl -F`), streamed.
#[utoipa::path(post, path = routes::OBJECTS, tag = "objects",
    params(("bucket" = String, Path)),
    request_body(content_type = "multipart/form-data", description = "a `file` field, and optionally `key` (default: the file's name)"),
    responses((status = 201, description = "created", body = ObjectInfo), (status = 400, description = "bad request: the message says what", body = ErrorBody),
        (status = 408, description = "the request body stalled", body = ErrorBody), (status = 409, description = "conflicts with the current state", body = ErrorBody),
        (status = 413, description = "larger than the upload limit", body = ErrorBody),
        (status = 415, description = "not multipart/form-data", body = ErrorBody), (status = 502, description = "the storage backend failed", body = ErrorBody)),
    security(("bearer" = ["write"])))]
pub(crate) async fn post_form(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ObjectInfo>), ApiError> {
    bucket(&state, &name)?;
    let target = Target {
        bucket: Some(name),
        key: None,
    };
    let stored = form_upload(&state, &headers, body, NATIVE_FORM, target).await?;
    Ok((
        StatusCode::CREATED,
        Json(metadata(&stored.bucket, &stored.key).await?),
    ))
}

/// Streams the file of the form in `body` to where `form`'s fields and `target` say.
pub(crate) async fn form_upload(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    form: Form,
    target: Target,
) -> Result<Stored, ApiError> {
    let boundary = multipart::boundary(headers)?;
    let max = state.limits.max_upload;
    let body = crate::http::common::body::stream(body, state.limits.body_timeout);
    let spool_dir = state
        .buckets
        .data_dir()
        .map_or_else(std::env::temp_dir, |d| d.join(".uploads"));
    let resolve = |name: &str| bucket(state, name);
    // The form's framing is a little larger than its file.
    let limit = max.saturating_add(64 << 10);
    multipart::upload(body, boundary, form, target, &resolve, limit, &spool_dir).await
}

/// Delete an object.
#[utoipa::path(delete, path = routes::OBJECT, tag = "objects",
    params(("bucket" = String, Path), ("key" = String, Path, description = "may contain `/`")),
    responses((status = 204, description = "done; no body"), (status = 404, description = "no such bucket, object or token", body = ErrorBody),
        (status = 409, description = "the key runs through an object (a file where the key has a folder)", body = ErrorBody)),
    security(("bearer" = ["write"])))]
pub(crate) async fn delete_object(
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let key = ObjectKey::parse(&key)?;
    bucket(&state, &name)?.delete(&key).await?;
    Ok(StatusCode::NO_CONTENT)
}
