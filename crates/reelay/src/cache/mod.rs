//! The chunk cache: remote backends' bytes in aligned chunks, shared by every viewer.
//!
//! An object is cut into chunks of `chunk_size` bytes (the last one shorter), keyed by the
//! object's identity — source, key and ETag, so a changed object never meets old chunks — and
//! the chunk index. Whole chunks live in a byte-weighted moka cache (TinyLFU admission, LRU
//! eviction) bounded by `memory`.
//!
//! A miss starts a [`fill::Fill`]: one spawned task fetches the chunk from the backend while
//! every reader that wants it meanwhile — the first and any that join — streams its bytes as
//! they arrive. The task belongs to no viewer, so the chunk still completes and is cached if the
//! first one leaves. It inserts the finished chunk into the cache *before* unregistering the
//! fill, so a newcomer always finds one or the other: one backend read per chunk, however many
//! viewers arrive at once.
//!
//! Reading a span also starts fills for up to `readahead` chunks after the current one, within
//! the span, so a sequential viewer rarely waits on the backend. Local fs buckets do not come
//! through here: the page cache already does this job for them.
//!
//! The cache knows nothing of storage: it is handed an [`ObjectId`], a size and a [`Fetch`]
//! (the backend's own ranged read), and `storage::reads` decides which reads come through it.

pub(crate) mod fill;
pub mod shared;

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream;
use moka::notification::RemovalCause;
use prometheus_client::metrics::counter::Counter;

use crate::stream::ByteStream;
use fill::{Fill, FillReader};

/// Counters of the chunk cache (registered with the node's metrics).
#[derive(Debug, Clone, Default)]
pub struct CacheCounters {
    pub(crate) hits: Counter,
    pub(crate) misses: Counter,
    /// Readers that joined a fill already under way (single-flight).
    pub(crate) joins: Counter,
    /// Fills started by read-ahead.
    pub(crate) prefetches: Counter,
    pub(crate) backend_bytes: Counter,
    pub(crate) served_bytes: Counter,
    pub(crate) evictions: Counter,
    /// Shared tier: chunks found there, chunks not found there, fills this node claimed,
    /// fills waited on (another node's), engine errors.
    pub(crate) shared_hits: Counter,
    pub(crate) shared_misses: Counter,
    pub(crate) shared_fills: Counter,
    pub(crate) shared_waits: Counter,
    pub(crate) shared_errors: Counter,
}

/// Which object (and which version of it) chunks belong to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ObjectId {
    /// The backend: `s3:profile/bucket`, `origin:https://host/base/`.
    pub(crate) source: String,
    pub(crate) key: String,
    /// The validator the bytes are pinned to.
    pub(crate) etag: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChunkKey {
    object: Arc<ObjectId>,
    index: u64,
}

/// Fetches uncached bytes `start..end` from the backend, pinned to the object's version.
pub(crate) type Fetch = Arc<dyn Fn(u64, u64) -> ByteStream + Send + Sync>;

/// Sizes of the cache.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// Bytes of chunks kept in memory.
    pub memory: u64,
    pub chunk_size: u64,
    /// Chunks fetched ahead of a sequential reader.
    pub readahead: u64,
    /// The tier shared with other nodes (`[cache] shared`), if any.
    pub shared: Option<Arc<shared::Tier>>,
}

pub struct ChunkCache {
    settings: CacheSettings,
    chunks: moka::sync::Cache<ChunkKey, Bytes>,
    fills: Mutex<HashMap<ChunkKey, Arc<Fill>>>,
    counters: CacheCounters,
}

impl std::fmt::Debug for ChunkCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkCache")
            .field("settings", &self.settings)
            .field("entries", &self.chunks.entry_count())
            .finish_non_exhaustive()
    }
}

/// A read of one object: what every chunk of the span needs.
#[derive(Clone)]
struct Read {
    cache: Arc<ChunkCache>,
    object: Arc<ObjectId>,
    size: u64,
    fetch: Fetch,
    last_index: u64,
}

impl ChunkCache {
    pub fn new(settings: CacheSettings, counters: CacheCounters) -> Arc<Self> {
        let evictions = counters.evictions.clone();
        let chunks = moka::sync::Cache::builder()
            .max_capacity(settings.memory)
            .weigher(|_key: &ChunkKey, chunk: &Bytes| {
                u32::try_from(chunk.len()).unwrap_or(u32::MAX)
            })
            .eviction_listener(move |_key, _chunk, cause| {
                if cause == RemovalCause::Size {
                    evictions.inc();
                }
            })
            .build();
        Arc::new(Self {
            settings,
            chunks,
            fills: Mutex::new(HashMap::new()),
            counters,
        })
    }

    /// Whether the shared tier's last call failed (`None`: no shared tier).
    pub(crate) fn shared_down(&self) -> Option<bool> {
        self.settings.shared.as_ref().map(|t| t.is_down())
    }

    /// Streams bytes `start..end` of `object` (of `size` bytes), fetching missing chunks with
    /// `fetch`.
    pub(crate) fn read(
        self: &Arc<Self>,
        object: Arc<ObjectId>,
        size: u64,
        fetch: Fetch,
        start: u64,
        end: u64,
    ) -> ByteStream {
        if start >= end {
            return Box::pin(stream::empty());
        }
        let cs = self.settings.chunk_size;
        let read = Read {
            cache: self.clone(),
            object,
            size,
            fetch,
            last_index: (end - 1) / cs,
        };
        Box::pin(
            stream::iter(start / cs..=(end - 1) / cs).flat_map(move |index| {
                let chunk_start = index * cs;
                let from = start.max(chunk_start) - chunk_start;
                let to = end.min(chunk_start + cs) - chunk_start;
                read.chunk(index, from as usize, to as usize)
            }),
        )
    }

    fn chunk_bounds(&self, index: u64, size: u64) -> (u64, u64) {
        let start = index * self.settings.chunk_size;
        (start, size.min(start + self.settings.chunk_size))
    }

    /// The fill for `key`: the running one (joined) or a new one (started).
    fn fill_for(
        self: &Arc<Self>,
        key: &ChunkKey,
        read: &Read,
        prefetch: bool,
    ) -> Option<Arc<Fill>> {
        let mut fills = self.fills.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(fill) = fills.get(key) {
            if !prefetch {
                self.counters.joins.inc();
            }
            return Some(fill.clone());
        }
        if self.chunks.contains_key(key) {
            return None;
        }
        let fill = Fill::new();
        fills.insert(key.clone(), fill.clone());
        drop(fills);
        if prefetch {
            self.counters.prefetches.inc();
        } else {
            self.counters.misses.inc();
        }
        let (start, end) = self.chunk_bounds(key.index, read.size);
        let task = FillTask {
            cache: self.clone(),
            key: key.clone(),
            fill: fill.clone(),
            stream: (read.fetch)(start, end),
            expected: (end - start) as usize,
        };
        tokio::spawn(task.run());
        Some(fill)
    }
}

impl Read {
    fn key(&self, index: u64) -> ChunkKey {
        ChunkKey {
            object: self.object.clone(),
            index,
        }
    }

    /// Bytes `from..to` of chunk `index`, from the cache or a fill; starts read-ahead.
    fn chunk(&self, index: u64, from: usize, to: usize) -> ByteStream {
        let cache = &self.cache;
        let ahead_end = self.last_index.min(index + cache.settings.readahead);
        for next in index + 1..=ahead_end {
            cache.fill_for(&self.key(next), self, true);
        }
        let key = self.key(index);
        if let Some(chunk) = cache.chunks.get(&key) {
            cache.counters.hits.inc();
            cache.counters.served_bytes.inc_by((to - from) as u64);
            return Box::pin(stream::once(async move {
                Ok(chunk.slice(from..to.min(chunk.len())))
            }));
        }
        if let Some(tier) = self.span_worth_reading(&key, from, to) {
            return self.span_from_tier(tier, key, from, to);
        }
        self.fill_chunk(index, key, from, to)
    }

    /// The shared tier, when a read of part of a chunk should take just that part from it:
    /// no fill of the chunk is under way here (join it instead), and this node's memory has
    /// no room to keep the whole chunk (a node with room takes it whole, once).
    fn span_worth_reading(
        &self,
        key: &ChunkKey,
        from: usize,
        to: usize,
    ) -> Option<Arc<shared::Tier>> {
        let cache = &self.cache;
        // While the tier is down the fill path alone probes it (and falls back at once).
        let tier = cache.settings.shared.as_ref().filter(|t| !t.is_down())?;
        let (start, end) = cache.chunk_bounds(key.index, self.size);
        let whole = from == 0 && to as u64 == end - start;
        let room =
            cache.chunks.weighted_size() + cache.settings.chunk_size <= cache.settings.memory;
        let filling = || {
            cache
                .fills
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(key)
        };
        (!whole && !room && !filling()).then(|| tier.clone())
    }

    /// Bytes `from..to` of a chunk read from the shared tier alone (GETRANGE on Redis); a
    /// chunk the tier does not hold is filled as usual.
    fn span_from_tier(
        &self,
        tier: Arc<shared::Tier>,
        key: ChunkKey,
        from: usize,
        to: usize,
    ) -> ByteStream {
        let read = self.clone();
        Box::pin(
            stream::once(async move {
                let (start, end) = read.cache.chunk_bounds(key.index, read.size);
                let counters = &read.cache.counters;
                match tier
                    .span(&key, (end - start) as usize, (from, to), counters)
                    .await
                {
                    Some(bytes) => {
                        counters.served_bytes.inc_by(bytes.len() as u64);
                        let one: ByteStream = Box::pin(stream::once(async move { Ok(bytes) }));
                        one
                    }
                    None => read.fill_chunk(key.index, key, from, to),
                }
            })
            .flatten(),
        )
    }

    /// Bytes `from..to` of chunk `index` through a fill (joined or started).
    fn fill_chunk(&self, index: u64, key: ChunkKey, from: usize, to: usize) -> ByteStream {
        let cache = &self.cache;
        let reader = match cache.fill_for(&key, self, false) {
            Some(fill) => fill.reader(from, to),
            // Cached between the two looks: read it now.
            None => return self.chunk(index, from, to),
        };
        let served = cache.counters.served_bytes.clone();
        Box::pin(stream::unfold(reader, move |mut reader: FillReader| {
            let served = served.clone();
            async move {
                match reader.next().await? {
                    Ok(bytes) => {
                        served.inc_by(bytes.len() as u64);
                        Some((Ok(bytes), reader))
                    }
                    Err(message) => Some((Err(io::Error::other(message)), reader)),
                }
            }
        }))
    }
}

/// The task that fetches one chunk.
struct FillTask {
    cache: Arc<ChunkCache>,
    key: ChunkKey,
    fill: Arc<Fill>,
    stream: ByteStream,
    expected: usize,
}

impl FillTask {
    async fn run(mut self) {
        let tier = self.cache.settings.shared.clone();
        let mut claimed = false;
        if let Some(tier) = &tier {
            match tier
                .locate(&self.key, self.expected, &self.cache.counters)
                .await
            {
                shared::Source::Tier(chunk) => {
                    self.fill.push(chunk);
                    let chunk = self.fill.finish();
                    self.cache.chunks.insert(self.key.clone(), chunk);
                    self.unregister();
                    return;
                }
                shared::Source::Backend { claimed: c } => claimed = c,
            }
        }
        match self.fetch().await {
            Some(chunk) => {
                if let Some(tier) = &tier {
                    tier.store(&self.key, &chunk, claimed, &self.cache.counters)
                        .await;
                }
            }
            None if claimed => {
                if let Some(tier) = &tier {
                    tier.release(&self.key).await;
                }
            }
            None => {}
        }
    }

    /// Fetches the chunk from the backend into the fill; the whole chunk when it succeeded.
    async fn fetch(&mut self) -> Option<Bytes> {
        let mut received = 0usize;
        while let Some(item) = self.stream.next().await {
            match item {
                Ok(bytes) => {
                    received += bytes.len();
                    self.cache.counters.backend_bytes.inc_by(bytes.len() as u64);
                    self.fill.push(bytes);
                }
                Err(e) => {
                    tracing::warn!(error = %e, key = self.key.object.key, index = self.key.index, "chunk fetch failed");
                    self.fill.fail(&e.to_string());
                    self.unregister();
                    return None;
                }
            }
        }
        if received != self.expected {
            self.fill
                .fail("the backend sent a chunk of the wrong length");
            self.unregister();
            return None;
        }
        let chunk = self.fill.finish();
        self.cache.chunks.insert(self.key.clone(), chunk.clone());
        self.unregister();
        Some(chunk)
    }

    fn unregister(&self) {
        let mut fills = self.cache.fills.lock().unwrap_or_else(|p| p.into_inner());
        fills.remove(&self.key);
    }
}
