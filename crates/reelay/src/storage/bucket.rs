//! The one storage type: a [`Bucket`] is a backend (fs, S3, origin; a closed set dispatched
//! by enum) with the registry's [`Reads`]; an [`OpenObject`] is an opened object of it, ready to
//! stream spans through the right read path.

use std::io;
use std::sync::Arc;

use super::error::{PutError, StorageError};
use super::key::ObjectKey;
use super::object::{ListPage, ObjectMeta};
use super::reads::Reads;
use super::{fs, origin, s3};
use crate::stream::{BodyStream, ByteStream};
use crate::zero_copy::FileSink;
use prometheus_client::metrics::counter::Counter;

/// A backend, as configured.
#[derive(Debug)]
pub enum Backend {
    Fs(fs::FsBucket),
    S3(s3::S3Bucket),
    Origin(origin::OriginBucket),
}

/// A bucket: its backend and how its bytes are read. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Bucket {
    backend: Arc<Backend>,
    reads: Reads,
    /// Bytes this bucket's remote reads took from the backend (resolved once per bucket).
    read_bytes: Counter,
}

/// An opened object, ready to stream spans from. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OpenObject {
    handle: Handle,
    reads: Reads,
    read_bytes: Counter,
}

#[derive(Debug, Clone)]
enum Handle {
    Fs(fs::FsObject),
    S3(s3::S3Object),
    Origin(origin::OriginObject),
}

impl Backend {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Fs(_) => "fs",
            Self::S3(_) => "s3",
            Self::Origin(_) => "origin",
        }
    }
}

fn read_only() -> StorageError {
    StorageError::Conflict("an origin bucket is read-only".into())
}

impl Bucket {
    pub fn new(backend: Backend, reads: Reads) -> Self {
        Self {
            backend: Arc::new(backend),
            reads,
            read_bytes: Counter::default(),
        }
    }

    /// A bucket on a backend the registry keeps, counting its backend bytes in `read_bytes`.
    pub(super) fn shared(backend: Arc<Backend>, reads: Reads, read_bytes: Counter) -> Self {
        Self {
            backend,
            reads,
            read_bytes,
        }
    }

    /// A bucket over a local folder.
    pub fn fs(root: &std::path::Path, reads: Reads) -> io::Result<Self> {
        Ok(Self::new(Backend::Fs(fs::FsBucket::open(root)?), reads))
    }

    pub(crate) fn backend(&self) -> &Backend {
        &self.backend
    }

    pub(crate) fn kind(&self) -> &'static str {
        self.backend.kind()
    }

    /// Opens `key` and returns its metadata and a handle for reading spans.
    pub(crate) async fn open(&self, key: &ObjectKey) -> Result<OpenObject, StorageError> {
        let handle = match self.backend() {
            // Opening a local file is a few microseconds when its inode is cached, like nginx
            // we do it on the runtime thread; data reads have their own non-blocking path.
            Backend::Fs(bucket) => Handle::Fs(bucket.open_object(key)?),
            // Boxed: a remote open's future is large, and a local open's caller would otherwise
            // carry room for it (moved with every future that awaits this one).
            Backend::S3(bucket) => Handle::S3(Box::pin(bucket.open_object(key)).await?),
            Backend::Origin(bucket) => Handle::Origin(Box::pin(bucket.open_object(key)).await?),
        };
        Ok(OpenObject {
            handle,
            reads: self.reads.clone(),
            read_bytes: self.read_bytes.clone(),
        })
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
        match self.backend() {
            Backend::Fs(bucket) => {
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
            Backend::S3(bucket) => bucket.list(prefix, delimiter, cursor, limit).await,
            // An origin is HTTP: it has no listing to offer.
            Backend::Origin(_) => Ok(ListPage::default()),
        }
    }

    /// Stores `body` as `key` (at most `max` bytes), replacing any existing object atomically.
    pub(crate) async fn put(
        &self,
        key: &ObjectKey,
        body: BodyStream,
        max: u64,
    ) -> Result<(), PutError> {
        let body = crate::stream::Limited::new(body, max);
        match self.backend() {
            Backend::Fs(b) => b.put(key, body).await,
            Backend::S3(b) => {
                let content_type = reelay_http::content_type_for(key.as_str());
                b.put(key, body, content_type).await
            }
            Backend::Origin(_) => Err(read_only().into()),
        }
    }

    /// Deletes `key`; `NotFound` if it does not exist.
    pub(crate) async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        match self.backend() {
            Backend::Fs(b) => b.delete(key),
            Backend::S3(b) => b.delete(key).await,
            Backend::Origin(_) => Err(read_only()),
        }
    }

    /// Whether the bucket holds no object.
    pub(crate) async fn is_empty(&self) -> Result<bool, StorageError> {
        let page = self.list("", None, None, 1).await?;
        Ok(page.objects.is_empty() && page.prefixes.is_empty())
    }
}

impl OpenObject {
    pub(crate) fn meta(&self) -> &ObjectMeta {
        match &self.handle {
            Handle::Fs(o) => &o.meta,
            Handle::S3(o) => &o.meta,
            Handle::Origin(o) => &o.meta,
        }
    }

    /// The same object served as `content_type` (fMP4 segments are `video/mp4` to players).
    pub(crate) fn with_content_type(mut self, content_type: &'static str) -> Self {
        let meta = match &mut self.handle {
            Handle::Fs(o) => &mut o.meta,
            Handle::S3(o) => &mut o.meta,
            Handle::Origin(o) => &mut o.meta,
        };
        meta.content_type = content_type.into();
        self
    }

    /// Streams bytes `start..end` (end exclusive, within the object): fs bytes in budgeted
    /// frames, remote bytes through the chunk cache when there is one; a response whose
    /// connection takes file spans gives its `sink` ([`crate::zero_copy`]), which only local
    /// files use.
    pub(crate) fn read_to(&self, start: u64, end: u64, sink: Option<&FileSink>) -> ByteStream {
        match &self.handle {
            Handle::Fs(o) => self.reads.local(o, start, end, sink),
            Handle::S3(o) => {
                let (object, counter) = (o.clone(), self.read_bytes.clone());
                let fetch = Arc::new(move |s, e| counted(object.read(s, e), counter.clone()));
                self.reads
                    .remote(|| o.identity(), o.meta.size, fetch, start, end)
            }
            Handle::Origin(o) => {
                let (object, counter) = (o.clone(), self.read_bytes.clone());
                let fetch = Arc::new(move |s, e| counted(object.read(s, e), counter.clone()));
                self.reads
                    .remote(|| o.identity(), o.meta.size, fetch, start, end)
            }
        }
    }
}

/// `stream`, its bytes counted in `counter` as they pass.
fn counted(stream: ByteStream, counter: Counter) -> ByteStream {
    use futures_util::StreamExt;
    Box::pin(stream.inspect(move |item| {
        if let Ok(bytes) = item {
            counter.inc_by(bytes.len() as u64);
        }
    }))
}
