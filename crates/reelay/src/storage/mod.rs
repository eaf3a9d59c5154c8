//! Storage backends: where object bytes and metadata come from.
//!
//! A closed set, dispatched by enum (no trait objects, no boxed futures): today `fs`; S3 and
//! HTTP origins join as variants of [`Bucket`] and [`OpenObject`]. Every backend answers the
//! same three questions — open an object (metadata + a handle), stream a span of it, list keys —
//! and reports failures as [`StorageError`], which says who failed and whether a retry is safe.

pub mod frames;
pub mod fs;
pub mod fs_write;
pub mod http_meta;
pub mod key;
pub mod meta_cache;
pub mod origin;
pub mod registry;
pub mod retry;
pub mod s3;

use std::borrow::Cow;
use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use reelay_http::EntityTag;

pub use frames::ReadBudget;

use crate::cache::{ChunkCache, Fetch};
pub use key::{KeyError, ObjectKey, validate_bucket_name};
pub use registry::{BucketInfo, Buckets, Origin};

/// What every backend knows of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub size: u64,
    pub etag: EntityTag,
    pub last_modified: Option<SystemTime>,
    /// By extension; for unknown extensions, what the backend says (if anything).
    pub content_type: Cow<'static, str>,
}

/// A stream of object bytes; an `Err` item aborts the response.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    pub key: String,
    pub size: u64,
    pub last_modified: Option<SystemTime>,
    pub content_type: Cow<'static, str>,
}

/// One page of a listing: objects and, with a delimiter, the "folders" (common prefixes).
/// Both are in key order; `next_cursor` (the last key or prefix of this page) is absent on
/// the last page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ListEntry>,
    pub prefixes: Vec<String>,
    pub next_cursor: Option<String>,
}

/// A backend failure: who failed, and whether trying again may help.
///
/// `NotFound` and `Forbidden` are answers about the object (404/403). The `Backend*` variants
/// mean the store itself failed (reelay answers 502/504 and never echoes the store's raw
/// response, URL or credentials). `Changed` means the object was replaced while being read:
/// the response is aborted rather than mixing two versions.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("no such object")]
    NotFound,
    #[error("access denied")]
    Forbidden,
    #[error("the storage backend denied access: {0}")]
    BackendDenied(String),
    #[error("the storage backend is unreachable: {0}")]
    BackendUnavailable(String),
    #[error("the storage backend timed out: {0}")]
    BackendTimeout(String),
    #[error("the storage backend failed: {0}")]
    Backend(String),
    #[error("the object changed while it was being read")]
    Changed,
    #[error("the upload is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    Conflict(String),
    #[error("the request body failed: {0}")]
    ClientBody(String),
    #[error("the request body stalled for longer than {0:?}")]
    ClientTimeout(std::time::Duration),
    #[error("backend I/O failed: {0}")]
    Io(#[from] io::Error),
}

impl StorageError {
    /// Whether the same request may succeed if tried again.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::BackendUnavailable(_) | Self::BackendTimeout(_) | Self::Backend(_)
        )
    }
}

/// A configured bucket.
#[derive(Debug)]
pub enum Bucket {
    Fs(fs::FsBucket),
    S3(s3::S3Bucket),
    Origin(origin::OriginBucket),
}

/// An opened object, ready to stream spans from.
#[derive(Debug, Clone)]
pub enum OpenObject {
    Fs(fs::FsObject),
    S3(s3::S3Object),
    Origin(origin::OriginObject),
}

impl Bucket {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Fs(_) => "fs",
            Self::S3(_) => "s3",
            Self::Origin(_) => "origin",
        }
    }

    /// Opens `key` and returns its metadata and a handle for reading spans.
    pub async fn open(&self, key: &ObjectKey) -> Result<OpenObject, StorageError> {
        match self {
            // Opening a local file is a few microseconds when its inode is cached, like nginx
            // we do it on the runtime thread; data reads have their own non-blocking path.
            Self::Fs(bucket) => bucket.open_object(key).map(OpenObject::Fs),
            Self::S3(bucket) => bucket.open_object(key).await.map(OpenObject::S3),
            Self::Origin(bucket) => bucket.open_object(key).await.map(OpenObject::Origin),
        }
    }

    /// Lists objects under `prefix` after `cursor`, grouped by `delimiter`, at most `limit`
    /// entries (objects and prefixes together), in key order.
    pub async fn list(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, StorageError> {
        match self {
            Self::Fs(bucket) => {
                let root = bucket.root().to_owned();
                let query = fs::ListQuery {
                    prefix: prefix.to_owned(),
                    delimiter: delimiter.map(str::to_owned),
                    cursor: cursor.map(str::to_owned),
                    limit,
                };
                tokio::task::spawn_blocking(move || fs::list_tree(&root, &query))
                    .await
                    .map_err(io::Error::other)?
                    .map_err(StorageError::Io)
            }
            Self::S3(bucket) => bucket.list(prefix, delimiter, cursor, limit).await,
            // An origin is HTTP: it has no listing to offer.
            Self::Origin(_) => Ok(ListPage::default()),
        }
    }
}

fn read_only() -> StorageError {
    StorageError::Conflict("an origin bucket is read-only".into())
}

impl Bucket {
    /// Stores `body` as `key` (at most `max` bytes), replacing any existing object atomically.
    pub async fn put<S>(&self, key: &ObjectKey, body: S, max: u64) -> Result<(), StorageError>
    where
        S: futures_util::Stream<Item = Result<Bytes, StorageError>> + Unpin,
    {
        match self {
            Self::Fs(b) => b.put(key, body, max).await,
            Self::S3(b) => {
                let content_type = reelay_http::content_type_for(key.as_str());
                b.put(key, body, max, content_type).await
            }
            Self::Origin(_) => Err(read_only()),
        }
    }

    /// Deletes `key`; `NotFound` if it does not exist.
    pub async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        match self {
            Self::Fs(b) => b.delete(key),
            Self::S3(b) => b.delete(key).await,
            Self::Origin(_) => Err(read_only()),
        }
    }

    /// Whether the bucket holds no object.
    pub async fn is_empty(&self) -> Result<bool, StorageError> {
        let page = self.list("", None, None, 1).await?;
        Ok(page.objects.is_empty() && page.prefixes.is_empty())
    }
}

impl OpenObject {
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Self::Fs(o) => &o.meta,
            Self::S3(o) => &o.meta,
            Self::Origin(o) => &o.meta,
        }
    }

    /// Streams bytes `start..end` (end exclusive, within the object).
    /// Remote objects go through `cache` when there is one; fs objects never do.
    pub fn read(
        &self,
        start: u64,
        end: u64,
        budget: &ReadBudget,
        cache: Option<&Arc<ChunkCache>>,
    ) -> ByteStream {
        match (self, cache) {
            (Self::Fs(o), _) => Box::pin(frames::read_span(
                o.file.clone(),
                start,
                end,
                budget.clone(),
            )),
            (Self::S3(o), Some(cache)) => {
                let object = o.clone();
                let fetch: Fetch = Arc::new(move |s, e| object.read(s, e));
                cache.read(Arc::new(o.identity()), o.meta.size, fetch, start, end)
            }
            (Self::S3(o), None) => o.read(start, end),
            (Self::Origin(o), Some(cache)) => {
                let object = o.clone();
                let fetch: Fetch = Arc::new(move |s, e| object.read(s, e));
                cache.read(Arc::new(o.identity()), o.meta.size, fetch, start, end)
            }
            (Self::Origin(o), None) => o.read(start, end),
        }
    }
}
