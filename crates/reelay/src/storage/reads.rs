//! How bytes leave a backend, decided once by the bucket registry for every bucket it hands out:
//! local files are read in frames under the process-wide [`ReadBudget`]; remote objects (S3,
//! origins) are read through the chunk cache when one is configured — the cache decorates the
//! backend's own ranged read ([`Fetch`]) — and straight from the backend otherwise. Callers ask
//! an [`super::OpenObject`] for a span and never see which path it took.

use std::sync::Arc;

use crate::cache::{ChunkCache, Fetch, ObjectId};
use crate::stream::ByteStream;
use crate::zero_copy::FileSink;

use super::frames::{self, ReadBudget};
use super::fs::FsObject;

/// The read policy of a registry: the byte budget and the optional chunk cache.
#[derive(Debug, Clone)]
pub struct Reads {
    budget: ReadBudget,
    cache: Option<Arc<ChunkCache>>,
}

impl Reads {
    pub fn new(budget: ReadBudget, cache: Option<Arc<ChunkCache>>) -> Self {
        Self { budget, cache }
    }

    pub fn budget(&self) -> &ReadBudget {
        &self.budget
    }

    pub(crate) fn cache(&self) -> Option<&Arc<ChunkCache>> {
        self.cache.as_ref()
    }

    /// Bytes `start..end` of a local file, in budgeted frames (or, given the connection's
    /// `sink`, cached spans as placeholders it sends itself).
    pub(super) fn local(
        &self,
        object: &FsObject,
        start: u64,
        end: u64,
        sink: Option<&FileSink>,
    ) -> ByteStream {
        Box::pin(frames::read_span(
            object.file.clone(),
            start,
            end,
            self.budget.clone(),
            sink.cloned(),
        ))
    }

    /// Bytes `start..end` of a remote object of `size` bytes: from the cache (filled through
    /// `fetch`) or, without one, from `fetch` directly.
    pub(super) fn remote(
        &self,
        identity: impl FnOnce() -> ObjectId,
        size: u64,
        fetch: Fetch,
        start: u64,
        end: u64,
    ) -> ByteStream {
        match &self.cache {
            Some(cache) => cache.read(Arc::new(identity()), size, fetch, start, end),
            None => fetch(start, end),
        }
    }
}

impl Default for Reads {
    /// The default budget (`[server] read_budget`) and no cache.
    fn default() -> Self {
        Self::new(ReadBudget::new(crate::defaults::server::READ_BUDGET), None)
    }
}
