//! Storage backends: where object bytes and metadata come from.
//!
//! A closed set, dispatched by enum (no trait objects, no boxed futures): today `fs`; S3 and
//! HTTP origins join as variants of [`Bucket`] and [`OpenObject`]. Every backend answers the
//! same three questions — open an object (metadata + a handle), stream a span of it, list keys —
//! and reports failures as [`StorageError`], which says who failed and whether a retry is safe.

pub mod frames;
pub mod fs;
pub mod key;
pub mod s3;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use reelay_http::EntityTag;

pub use frames::ReadBudget;
pub use key::{KeyError, ObjectKey, validate_bucket_name};

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
}

/// An opened object, ready to stream spans from.
#[derive(Debug, Clone)]
pub enum OpenObject {
    Fs(fs::FsObject),
    S3(s3::S3Object),
}

impl Bucket {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Fs(_) => "fs",
            Self::S3(_) => "s3",
        }
    }

    /// Opens `key` and returns its metadata and a handle for reading spans.
    pub async fn open(&self, key: &ObjectKey) -> Result<OpenObject, StorageError> {
        match self {
            // Opening a local file is a few microseconds when its inode is cached, like nginx
            // we do it on the runtime thread; data reads have their own non-blocking path.
            Self::Fs(bucket) => bucket.open_object(key).map(OpenObject::Fs),
            Self::S3(bucket) => bucket.open_object(key).await.map(OpenObject::S3),
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
        }
    }
}

impl OpenObject {
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Self::Fs(o) => &o.meta,
            Self::S3(o) => &o.meta,
        }
    }

    /// Streams bytes `start..end` (end exclusive, within the object).
    pub fn read(&self, start: u64, end: u64, budget: &ReadBudget) -> ByteStream {
        match self {
            Self::Fs(o) => Box::pin(frames::read_span(
                o.file.clone(),
                start,
                end,
                budget.clone(),
            )),
            Self::S3(o) => o.read(start, end),
        }
    }
}

/// All configured buckets by name.
#[derive(Debug, Default)]
pub struct Buckets {
    by_name: BTreeMap<String, Bucket>,
}

impl Buckets {
    /// Adds an fs bucket; fails on a duplicate name or an unreadable root.
    pub fn add_fs(&mut self, name: &str, root: &Path) -> anyhow::Result<()> {
        validate_bucket_name(name).map_err(|e| anyhow::anyhow!("bucket {name:?}: {e}"))?;
        if self.by_name.contains_key(name) {
            anyhow::bail!("bucket {name:?} is defined twice");
        }
        let bucket = fs::FsBucket::open(root)
            .map_err(|e| anyhow::anyhow!("bucket {name:?}: cannot open {}: {e}", root.display()))?;
        self.by_name.insert(name.to_owned(), Bucket::Fs(bucket));
        Ok(())
    }

    /// Adds an S3 bucket; fails on a duplicate name.
    pub fn add_s3(&mut self, name: &str, bucket: s3::S3Bucket) -> anyhow::Result<()> {
        validate_bucket_name(name).map_err(|e| anyhow::anyhow!("bucket {name:?}: {e}"))?;
        if self.by_name.contains_key(name) {
            anyhow::bail!("bucket {name:?} is defined twice");
        }
        self.by_name.insert(name.to_owned(), Bucket::S3(bucket));
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&Bucket> {
        self.by_name.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Bucket)> {
        self.by_name.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}
