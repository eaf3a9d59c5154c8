//! The shared tier under the chunk cache (`[cache] shared`): chunks of remote objects kept in
//! an engine every node reaches, so N nodes cost the backend one read per chunk, and a node
//! that joins starts warm.
//!
//! Cross-node single flight is a short-lived claim in the engine (`SET NX` with a TTL): the
//! node whose fill misses the tier claims the chunk and fetches it from the backend, then
//! stores it and releases the claim; a node that finds the chunk claimed polls the tier every
//! [`POLL`] until it appears, the claim lapses (its holder died: this node claims it) or
//! [`MAX_WAIT`] has passed (it fetches itself: a slow backend costs a second read, never a
//! viewer's timeout). Chosen over rendezvous hashing to an owner node because it needs no
//! membership list and a node's death costs at most one claim TTL.
//!
//! An entry is stored under the SHA-256 of the chunk's identity (source, key, ETag, chunk size,
//! index) and sealed under the cluster key (`crate::keyed`: a MAC over that name and the bytes,
//! a digest per 64 KiB block), because whoever can write to the engine could otherwise put any
//! bytes behind a name anyone can compute. An entry that fails its seal, or has the wrong
//! length, is never served: it is counted (`reelay_cluster_rejected_total{reason="tier"}`),
//! deleted and the chunk fetched again. A read of part of a chunk verifies the head and the
//! blocks it covers. An engine that fails is logged once (and counted); the node then fills
//! from the backend itself, as without a tier. Resolver answers use the same engine and the
//! same seal ([`Tier::get_sealed`], [`Tier::put_sealed`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use prometheus_client::metrics::counter::Counter;
use sha2::{Digest, Sha256};

use super::{CacheCounters, ChunkKey};
use crate::keyed::{ClusterKeys, SpanPlan, open_entry, open_span, seal_entry};

/// How often a node waiting on another's fill looks for the chunk.
pub(crate) const POLL: Duration = Duration::from_millis(10);
/// Longest a node waits on another's fill before fetching itself.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(20);
/// How long a claim holds if its node dies before releasing it.
pub(crate) const CLAIM_TTL: Duration = Duration::from_secs(30);

/// An engine holding chunks for every node (Redis, memcached). Errors are for the log.
pub trait SharedChunks: Send + Sync + std::fmt::Debug {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, String>>;
    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), String>>;
    /// Takes `key` for `ttl` unless it is taken; `true` when this call took it.
    fn claim<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool, String>>;
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), String>>;
    /// Bytes `start..end` of the value at `key`, with its first `head` bytes and its length:
    /// what a partial read needs to check an entry without moving all of it. The default
    /// moves the whole value (memcached has no ranged get); Redis reads only the span.
    fn get_span<'a>(
        &'a self,
        key: &'a str,
        head: usize,
        start: usize,
        end: usize,
    ) -> BoxFuture<'a, Result<Option<Span>, String>> {
        Box::pin(async move {
            Ok(self.get(key).await?.map(|v| Span {
                head: v.slice(..head.min(v.len())),
                len: v.len(),
                body: v.slice(start.min(v.len())..end.min(v.len())),
            }))
        })
    }
    /// Largest value the engine stores, if it has a limit.
    fn max_value(&self) -> Option<u64>;
}

/// Part of a stored value: its first bytes, its whole length and the asked span.
#[derive(Debug, Clone)]
pub struct Span {
    pub(crate) head: Bytes,
    pub(crate) len: usize,
    pub(crate) body: Bytes,
}

/// The tier as the cache uses it.
#[derive(Debug)]
pub struct Tier {
    pub(crate) engine: Arc<dyn SharedChunks>,
    pub(crate) ttl: Duration,
    pub(crate) chunk_size: u64,
    down: AtomicBool,
    keys: Arc<ClusterKeys>,
    /// Entries that failed their seal (`reelay_cluster_rejected_total{reason="tier"}`).
    rejected: Counter,
}

/// Where a fill's bytes come from.
#[derive(Debug)]
pub(crate) enum Source {
    /// Found in the tier (validated).
    Tier(Bytes),
    /// From the backend; `claimed`: this node holds the claim (release it when done).
    Backend { claimed: bool },
}

impl Tier {
    /// A tier on `engine` whose entries are sealed under `keys`; entries that fail count in
    /// `rejected`.
    pub fn new(
        engine: Arc<dyn SharedChunks>,
        (ttl, chunk_size): (Duration, u64),
        keys: Arc<ClusterKeys>,
        rejected: Counter,
    ) -> Self {
        Self {
            engine,
            ttl,
            chunk_size,
            down: AtomicBool::new(false),
            keys,
            rejected,
        }
    }

    /// Whether the engine's last call failed.
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    fn digest(&self, key: &ChunkKey) -> [u8; 32] {
        let o = &key.object;
        let mut h = Sha256::new();
        for part in [o.source.as_bytes(), o.key.as_bytes(), o.etag.as_bytes()] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.update(self.chunk_size.to_be_bytes());
        h.update(key.index.to_be_bytes());
        h.finalize().into()
    }

    /// The entry's name (also what its seal says it is), and its claim's.
    fn names(&self, key: &ChunkKey) -> (String, String) {
        let hex = crate::hex::encode(&self.digest(key));
        (format!("chunk:{hex}"), format!("fill:{hex}"))
    }

    /// The chunk in `value` (the entry `entry`) if its seal and length hold; otherwise it is
    /// counted, logged and deleted.
    async fn open(&self, entry: &str, value: &Bytes, expected: usize) -> Option<Bytes> {
        let opened = open_entry(&self.keys, entry.as_bytes(), value).and_then(|v| {
            if v.len() == expected {
                Ok(v)
            } else {
                Err("length")
            }
        });
        self.believed(entry, opened).await
    }

    /// `opened`, or (counted, logged, deleted) nothing.
    async fn believed(&self, entry: &str, opened: Result<Bytes, &str>) -> Option<Bytes> {
        match opened {
            Ok(v) => Some(v),
            Err(why) => {
                self.rejected.inc();
                tracing::warn!(entry, why, "a shared-tier entry failed its seal: dropped");
                let _ = self.engine.delete(entry).await;
                None
            }
        }
    }

    fn failed(&self, counters: &CacheCounters, what: &str, e: &str) {
        counters.shared_errors.inc();
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::error!(
                error = e,
                what,
                "shared cache tier unavailable: filling locally"
            );
        }
    }

    fn worked(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!("shared cache tier back");
        }
    }

    /// Finds the chunk in the tier, waits for another node's fill, or says to fetch it.
    pub(crate) async fn locate(
        &self,
        key: &ChunkKey,
        expected: usize,
        counters: &CacheCounters,
    ) -> Source {
        let (entry, claim) = self.names(key);
        let started = tokio::time::Instant::now();
        let mut waited = false;
        loop {
            match self.engine.get(&entry).await {
                Ok(Some(value)) => {
                    self.worked();
                    if let Some(chunk) = self.open(&entry, &value, expected).await {
                        counters.shared_hits.inc();
                        return Source::Tier(chunk);
                    }
                }
                Ok(None) => {
                    self.worked();
                    if !waited {
                        counters.shared_misses.inc();
                    }
                }
                Err(e) => {
                    self.failed(counters, "get", &e);
                    return Source::Backend { claimed: false };
                }
            }
            match self.engine.claim(&claim, CLAIM_TTL).await {
                Ok(true) => {
                    // Another node may have stored it and released its claim since the look
                    // above: look once more before going to the backend.
                    if let Ok(Some(value)) = self.engine.get(&entry).await
                        && let Some(chunk) = self.open(&entry, &value, expected).await
                    {
                        let _ = self.engine.delete(&claim).await;
                        counters.shared_hits.inc();
                        return Source::Tier(chunk);
                    }
                    counters.shared_fills.inc();
                    return Source::Backend { claimed: true };
                }
                Ok(false) if started.elapsed() < MAX_WAIT => {
                    if !std::mem::replace(&mut waited, true) {
                        counters.shared_waits.inc();
                    }
                    tokio::time::sleep(POLL).await;
                }
                Ok(false) => return Source::Backend { claimed: false },
                Err(e) => {
                    self.failed(counters, "claim", &e);
                    return Source::Backend { claimed: false };
                }
            }
        }
    }

    /// Bytes `from..to` of a chunk of `expected` bytes, if the tier holds it and the head and
    /// blocks covering the span verify; `None` (fill as usual) when it does not, the entry is
    /// bad (counted and dropped) or the engine failed.
    pub(crate) async fn span(
        &self,
        key: &ChunkKey,
        expected: usize,
        (from, to): (usize, usize),
        counters: &CacheCounters,
    ) -> Option<Bytes> {
        let (entry, _) = self.names(key);
        let plan = SpanPlan::new(expected, from, to)?;
        match self
            .engine
            .get_span(&entry, plan.head, plan.start, plan.end)
            .await
        {
            Ok(Some(span)) => {
                self.worked();
                let fetched = (&span.head[..], span.len, &span.body);
                let opened = open_span(&self.keys, entry.as_bytes(), &plan, fetched);
                let bytes = self.believed(&entry, opened).await?;
                counters.shared_hits.inc();
                Some(bytes)
            }
            Ok(None) => {
                self.worked();
                counters.shared_misses.inc();
                None
            }
            Err(e) => {
                self.failed(counters, "get", &e);
                None
            }
        }
    }

    /// Stores a chunk fetched from the backend (and releases this node's claim).
    pub async fn store(
        &self,
        key: &ChunkKey,
        chunk: &Bytes,
        claimed: bool,
        counters: &CacheCounters,
    ) {
        let (entry, claim) = self.names(key);
        let value = seal_entry(&self.keys, entry.as_bytes(), chunk);
        match self.engine.put(&entry, Bytes::from(value), self.ttl).await {
            Ok(()) => self.worked(),
            Err(e) => self.failed(counters, "put", &e),
        }
        if claimed {
            let _ = self.engine.delete(&claim).await;
        }
    }

    /// Releases a claim whose fill failed (another node may take it at once).
    pub(crate) async fn release(&self, key: &ChunkKey) {
        let (_, claim) = self.names(key);
        let _ = self.engine.delete(&claim).await;
    }

    /// The value stored as `name` by [`Tier::put_sealed`], if there is one whose seal holds
    /// (one that fails is counted, logged and deleted). Errors are the engine's.
    pub(crate) async fn get_sealed(&self, name: &str) -> Result<Option<Bytes>, String> {
        let Some(entry) = self.engine.get(name).await? else {
            return Ok(None);
        };
        let opened = open_entry(&self.keys, name.as_bytes(), &entry);
        Ok(self.believed(name, opened).await)
    }

    /// Stores `value` as `name`, sealed, for `ttl`.
    pub(crate) async fn put_sealed(
        &self,
        name: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), String> {
        let entry = seal_entry(&self.keys, name.as_bytes(), value);
        self.engine.put(name, Bytes::from(entry), ttl).await
    }

    /// Removes `name`.
    pub(crate) async fn delete(&self, name: &str) -> Result<(), String> {
        self.engine.delete(name).await
    }
}
