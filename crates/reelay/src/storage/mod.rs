//! Storage backends: where object bytes and metadata come from.
//!
//! A closed set, dispatched by enum (no trait objects, no boxed futures): today `fs`; S3 and
//! HTTP origins join as variants of [`Bucket`] and [`OpenObject`]. Every backend answers the
//! same three questions — open an object (metadata + a handle), stream a span of it, list keys —
//! and reports failures as [`StorageError`], which says who failed and whether a retry is safe.

pub mod frames;
pub mod fs;
pub mod key;

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
    pub last_modified: SystemTime,
    pub content_type: &'static str,
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    pub key: String,
    pub size: u64,
    pub last_modified: SystemTime,
    pub content_type: &'static str,
}

/// A backend failure. `NotFound`/`Forbidden` are final; `Io` may be retried.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("no such object")]
    NotFound,
    #[error("the backend denied access")]
    Forbidden,
    #[error("backend I/O failed: {0}")]
    Io(#[from] io::Error),
}

/// A configured bucket.
#[derive(Debug)]
pub enum Bucket {
    Fs(fs::FsBucket),
}

/// An opened object, ready to stream spans from.
#[derive(Debug, Clone)]
pub enum OpenObject {
    Fs(fs::FsObject),
}

impl Bucket {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Fs(_) => "fs",
        }
    }

    /// Opens `key` and returns its metadata and a handle for reading spans.
    pub async fn open(&self, key: &ObjectKey) -> Result<OpenObject, StorageError> {
        match self {
            // Opening a local file is a few microseconds when its inode is cached, like nginx
            // we do it on the runtime thread; data reads have their own non-blocking path.
            Self::Fs(bucket) => bucket.open_object(key).map(OpenObject::Fs),
        }
    }

    /// Lists objects under `prefix`, after `cursor`, at most `limit`; `true` if more remain.
    pub async fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<ListEntry>, bool), StorageError> {
        match self {
            Self::Fs(bucket) => {
                let root = bucket.root().to_owned();
                let (prefix, cursor) = (prefix.to_owned(), cursor.map(str::to_owned));
                tokio::task::spawn_blocking(move || {
                    fs::list_tree(&root, &prefix, cursor.as_deref(), limit)
                })
                .await
                .map_err(io::Error::other)?
                .map_err(StorageError::Io)
            }
        }
    }
}

impl OpenObject {
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Self::Fs(o) => &o.meta,
        }
    }

    /// Streams bytes `start..end` (end exclusive, within the object).
    pub fn read(
        &self,
        start: u64,
        end: u64,
        budget: &ReadBudget,
    ) -> BoxStream<'static, io::Result<Bytes>> {
        match self {
            Self::Fs(o) => Box::pin(frames::read_span(
                o.file.clone(),
                start,
                end,
                budget.clone(),
            )),
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
