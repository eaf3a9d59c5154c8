//! Buckets: list, create (a folder under the data directory, or a bucket on an S3 profile),
//! delete when empty. Buckets defined by the operator (config file, command line) are listed
//! but never deleted through the API.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::now_unix;
use crate::http::common::error::{ApiError, ApiJson};
use crate::http::common::routes;
use crate::http::common::state::AppState;
use crate::http::native::api::{ErrorBody, rfc3339};
use crate::storage::s3::S3Bucket;
use crate::storage::{
    Backend, BucketInfo as RegistryInfo, Origin, StorageError, validate_bucket_name,
};

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BucketInfo {
    pub name: String,
    /// `fs` or `s3`.
    pub(crate) kind: &'static str,
    /// `data_dir`, `config` or `api`.
    pub(crate) origin: &'static str,
    /// RFC 3339, when known.
    pub(crate) created: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BucketList {
    pub buckets: Vec<BucketInfo>,
}

fn info(b: RegistryInfo) -> BucketInfo {
    BucketInfo {
        origin: match b.origin {
            Origin::DataDir => "data_dir",
            Origin::Config => "config",
            Origin::Api => "api",
        },
        created: b.created.and_then(rfc3339),
        kind: b.kind,
        name: b.name,
    }
}

/// List buckets.
#[utoipa::path(get, path = routes::BUCKETS, tag = "buckets",
    responses((status = 200, description = "OK", body = BucketList), (status = 401, description = "credentials missing, unknown or revoked", body = ErrorBody)),
    security(("bearer" = ["read"]), ()))]
pub(crate) async fn list_buckets(State(state): State<AppState>) -> Json<BucketList> {
    let buckets = state.buckets.list().into_iter().map(info).collect();
    Json(BucketList { buckets })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBucket {
    /// 1-63 of `A-Z a-z 0-9 . _ -`, not starting with `.`.
    pub name: String,
    /// An `[[s3]]` profile to create the bucket on; omitted: a folder under the data directory.
    pub(crate) s3: Option<String>,
    /// The bucket's name in the store (default: `name`).
    pub(crate) s3_bucket: Option<String>,
}

/// Create a bucket.
#[utoipa::path(post, path = routes::BUCKETS, tag = "buckets", request_body = CreateBucket,
    responses((status = 201, description = "created", body = BucketInfo), (status = 400, description = "bad request: the message says what", body = ErrorBody),
        (status = 409, description = "conflicts with the current state", body = ErrorBody), (status = 502, description = "the storage backend failed", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
pub(crate) async fn create_bucket(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateBucket>,
) -> Result<(StatusCode, Json<BucketInfo>), ApiError> {
    validate_new(&state, &req.name)?;
    match req.s3 {
        None => create_fs_bucket(&state, &req.name)?,
        Some(profile_name) => {
            let profile = state.buckets.profile(&profile_name).ok_or_else(|| {
                ApiError::bad_request(format!("no S3 profile named {profile_name:?}"))
            })?;
            let remote = req.s3_bucket.unwrap_or_else(|| req.name.clone());
            let bucket = S3Bucket::new(profile, &remote)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            bucket.create_remote().await?;
            sqlx::query("INSERT INTO buckets (name, kind, profile, remote, created_at) VALUES ($1, 's3', $2, $3, $4)")
                .bind(&req.name)
                .bind(&profile_name)
                .bind(&remote)
                .bind(now_unix())
                .execute(&state.db)
                .await?;
            state
                .buckets
                .insert(
                    &req.name,
                    Backend::S3(bucket),
                    Origin::Api,
                    Some(std::time::SystemTime::now()),
                )
                .map_err(|e| conflict(e.to_string()))?;
        }
    }
    let created = state
        .buckets
        .list()
        .into_iter()
        .find(|b| b.name == req.name);
    let created = created.ok_or_else(|| ApiError::not_found("the bucket vanished"))?;
    Ok((StatusCode::CREATED, Json(info(created))))
}

/// A valid name no bucket has yet.
fn validate_new(state: &AppState, name: &str) -> Result<(), ApiError> {
    validate_bucket_name(name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if state.buckets.get(name).is_some() {
        return Err(conflict(format!("bucket {name:?} already exists")));
    }
    Ok(())
}

/// Creates bucket `name` as a folder under the data directory (the compatibility routes').
pub(crate) fn create_local(state: &AppState, name: &str) -> Result<(), ApiError> {
    validate_new(state, name)?;
    create_fs_bucket(state, name)
}

fn conflict(message: String) -> ApiError {
    ApiError::conflict(message)
}

fn create_fs_bucket(state: &AppState, name: &str) -> Result<(), ApiError> {
    let dir = state
        .buckets
        .data_dir()
        .ok_or_else(|| ApiError::bad_request("this node has no data directory for buckets"))?
        .join(name);
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(conflict(format!("bucket {name:?} already exists")));
        }
        Err(e) => return Err(StorageError::Io(e).into()),
    }
    state
        .buckets
        .add_fs_from(name, &dir, Origin::DataDir)
        .map_err(|e| conflict(e.to_string()))
}

/// Delete an empty bucket.
#[utoipa::path(delete, path = routes::BUCKET, tag = "buckets",
    params(("bucket" = String, Path)),
    responses((status = 204, description = "done; no body"), (status = 404, description = "no such bucket, object or token", body = ErrorBody), (status = 409, description = "conflicts with the current state", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
pub(crate) async fn delete_bucket(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let bucket = state
        .buckets
        .get(&name)
        .ok_or_else(|| ApiError::not_found(format!("no bucket named {name:?}")))?;
    if state.buckets.origin(&name) == Some(Origin::Config) {
        return Err(conflict(format!(
            "bucket {name:?} is defined by the operator's configuration"
        )));
    }
    if state.buckets.is_recordings(&name) {
        return Err(conflict(format!(
            "bucket {name:?} is where the live relay records"
        )));
    }
    // A bucket folder removed under this request (by a DELETE of the same bucket at the same
    // moment) is a bucket that is gone, not a failure of the disk.
    let gone = |e: ApiError| match bucket.backend() {
        Backend::Fs(fs) if !fs.root().exists() => {
            state.buckets.remove(&name);
            ApiError::not_found(format!("no bucket named {name:?}"))
        }
        _ => e,
    };
    if !bucket.is_empty().await.map_err(|e| gone(e.into()))? {
        return Err(conflict(format!("bucket {name:?} is not empty")));
    }
    match bucket.backend() {
        Backend::Fs(fs) => {
            let _ = std::fs::remove_dir_all(fs.root().join(crate::storage::fs_write::TMP_DIR));
            std::fs::remove_dir(fs.root()).map_err(|e| match e.kind() {
                std::io::ErrorKind::DirectoryNotEmpty => {
                    conflict(format!("bucket {name:?} is not empty"))
                }
                _ => gone(StorageError::Io(e).into()),
            })?;
        }
        Backend::Origin(_) => {}
        Backend::S3(s3) => {
            s3.delete_remote().await?;
            sqlx::query("DELETE FROM buckets WHERE name = $1")
                .bind(&name)
                .execute(&state.db)
                .await?;
        }
    }
    state.buckets.remove(&name);
    Ok(StatusCode::NO_CONTENT)
}
