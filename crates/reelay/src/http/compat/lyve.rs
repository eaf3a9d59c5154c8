//! The Lyve Cloud video middleware's routes, with its request and success shapes, so its
//! clients work unchanged: `GET /list_buckets`, `GET /list_objects?bucket=`,
//! `POST /create_bucket?bucket_name=`, `POST /files_upload` (a form: `file`, `file_name`,
//! `bucket`); `/watch` is the media module's. What differs from the seed, deliberately:
//! reelay's auth (reads need a read token off loopback, uploads a write token, bucket creation
//! an admin token, as the native routes), its precise 4xx/5xx with JSON errors where the seed
//! answered 500 with the store's text, and `/list_objects` answering the listing (the seed
//! printed it and answered `null`).

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::common::error::ApiError;
use crate::http::common::multipart::{Form, Target};
use crate::http::common::routes;
use crate::http::common::state::AppState;
use crate::http::native::api::{ErrorBody, buckets, objects, rfc3339};

/// Most objects one `/list_objects` answer carries (the native API pages past this).
pub(crate) const MAX_LISTED: usize = 10_000;

/// A bucket as boto3's `list_buckets()` gives it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LyveBucket {
    pub name: String,
    /// RFC 3339, when known.
    pub(crate) creation_date: Option<String>,
}

/// An object as boto3's `objects.all()` gives it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LyveObject {
    pub(crate) key: String,
    pub(crate) size: u64,
    /// RFC 3339.
    pub(crate) last_modified: Option<String>,
}

/// Lyve: the buckets, as boto3 lists them.
#[utoipa::path(get, path = routes::LYVE_LIST_BUCKETS, operation_id = "lyve_list_buckets", tag = "compatibility",
    responses((status = 200, description = "OK", body = Vec<LyveBucket>), (status = 401, description = "credentials missing, unknown or revoked", body = ErrorBody)),
    security(("bearer" = ["read"]), ()))]
pub(crate) async fn list_buckets(State(state): State<AppState>) -> Json<Vec<LyveBucket>> {
    let buckets = state.buckets.list().into_iter().map(|b| LyveBucket {
        creation_date: b.created.and_then(rfc3339),
        name: b.name,
    });
    Json(buckets.collect())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct BucketQuery {
    bucket: String,
}

/// Lyve: a bucket's objects (at most 10,000; the native API pages through any number).
#[utoipa::path(get, path = routes::LYVE_LIST_OBJECTS, operation_id = "lyve_list_objects", tag = "compatibility", params(BucketQuery),
    responses((status = 200, description = "OK", body = Vec<LyveObject>), (status = 400, description = "bad request: the message says what", body = ErrorBody),
        (status = 404, description = "no such bucket, object or token", body = ErrorBody), (status = 502, description = "the storage backend failed", body = ErrorBody)),
    security(("bearer" = ["read"]), ()))]
pub(crate) async fn list_objects(
    State(state): State<AppState>,
    query: Result<Query<BucketQuery>, QueryRejection>,
) -> Result<Json<Vec<LyveObject>>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let bucket = objects::bucket(&state, &q.bucket)?;
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let limit = (MAX_LISTED - listed.len()).min(objects::MAX_LIST_LIMIT);
        let page = bucket.list("", None, cursor.as_deref(), limit).await?;
        listed.extend(page.objects.into_iter().map(|e| LyveObject {
            last_modified: e.last_modified.and_then(rfc3339),
            key: e.key,
            size: e.size,
        }));
        cursor = page.next_cursor;
        if cursor.is_none() || listed.len() >= MAX_LISTED {
            return Ok(Json(listed));
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CreateQuery {
    bucket_name: String,
}

/// Lyve: create a bucket (a folder under the data directory); answers `"Success"`.
#[utoipa::path(post, path = routes::LYVE_CREATE_BUCKET, operation_id = "lyve_create_bucket", tag = "compatibility", params(CreateQuery),
    responses((status = 200, description = "created", body = String, content_type = "application/json"), (status = 400, description = "bad request: the message says what", body = ErrorBody),
        (status = 409, description = "conflicts with the current state", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
pub(crate) async fn create_bucket(
    State(state): State<AppState>,
    query: Result<Query<CreateQuery>, QueryRejection>,
) -> Result<Json<&'static str>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    buckets::create_local(&state, &q.bucket_name)?;
    Ok(Json("Success"))
}

/// The seed's form: `file`, `file_name`, `bucket`.
pub(crate) const LYVE_FORM: Form = Form {
    file_field: "file",
    bucket_field: Some("bucket"),
    key_fields: &["file_name"],
};

/// Lyve: upload a file from a form (`file`, `file_name`, `bucket`), streamed; `"Success"`.
#[utoipa::path(post, path = routes::LYVE_FILES_UPLOAD, operation_id = "lyve_files_upload", tag = "compatibility",
    request_body(content_type = "multipart/form-data", description = "fields `file`, `file_name`, `bucket`"),
    responses((status = 200, description = "stored", body = String, content_type = "application/json"), (status = 400, description = "bad request: the message says what", body = ErrorBody),
        (status = 404, description = "no such bucket, object or token", body = ErrorBody), (status = 408, description = "the request body stalled", body = ErrorBody),
        (status = 409, description = "conflicts with the current state", body = ErrorBody),
        (status = 413, description = "larger than the upload limit", body = ErrorBody), (status = 415, description = "not multipart/form-data", body = ErrorBody),
        (status = 502, description = "the storage backend failed", body = ErrorBody)),
    security(("bearer" = ["write"])))]
pub(crate) async fn files_upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<&'static str>, ApiError> {
    objects::form_upload(&state, &headers, body, LYVE_FORM, Target::default()).await?;
    Ok(Json("Success"))
}
