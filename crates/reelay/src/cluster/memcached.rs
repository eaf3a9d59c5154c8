//! The chunk cache's shared tier on memcached (`[cache] shared = "memcached://host:port"`),
//! through `memcache-async` (the ASCII protocol over a tokio stream) and a small pool of
//! connections of our own: a connection that fails or times out is dropped, the next call
//! opens a new one. Claims are `add` with an expiry (refused when the key exists). The item
//! limit (`-I`, 1 MB by default) is read from `stats settings` at start, so a chunk that would
//! not fit is refused then, not silently on every store.

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use memcache_async::ascii::Protocol;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::DEADLINE;

type Conn = Protocol<TcpStream>;

pub struct MemcachedChunks {
    addr: String,
    prefix: String,
    idle: tokio::sync::Mutex<Vec<Conn>>,
    item_max: u64,
}

impl std::fmt::Debug for MemcachedChunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemcachedChunks")
            .field("addr", &self.addr)
            .field("item_max", &self.item_max)
            .finish()
    }
}

/// Most idle connections kept.
const POOL: usize = 16;

impl MemcachedChunks {
    /// Connects to `url` (`memcached://host:port`) and reads its item limit; keys go under
    /// `<cluster>:cache:`.
    pub async fn connect(url: &str, cluster: &str) -> anyhow::Result<Self> {
        let addr = url
            .strip_prefix("memcached://")
            .map(|a| a.trim_end_matches('/').to_owned())
            .filter(|a| !a.is_empty() && !a.contains('/'))
            .ok_or_else(|| anyhow::anyhow!("[cache] shared: expected memcached://host:port"))?;
        let item_max = item_size_max(&addr)
            .await
            .map_err(|e| anyhow::anyhow!("[cache] shared: memcached at {addr}: {e}"))?;
        Ok(Self {
            addr,
            prefix: format!("{cluster}:cache:"),
            idle: tokio::sync::Mutex::new(Vec::new()),
            item_max,
        })
    }

    async fn call<T>(
        &self,
        op: impl for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, std::io::Result<T>>,
    ) -> Result<T, String> {
        let pooled = self.idle.lock().await.pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => match tokio::time::timeout(DEADLINE, TcpStream::connect(&self.addr)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    Protocol::new(stream)
                }
                Ok(Err(e)) => return Err(e.to_string()),
                Err(_) => return Err(format!("no connection within {DEADLINE:?}")),
            },
        };
        match tokio::time::timeout(DEADLINE, op(&mut conn)).await {
            Ok(Ok(v)) => {
                let mut idle = self.idle.lock().await;
                if idle.len() < POOL {
                    idle.push(conn);
                }
                Ok(v)
            }
            // A connection that failed or stalled mid-answer is not reused.
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {DEADLINE:?}")),
        }
    }
}

/// `item_size_max` from `stats settings`.
async fn item_size_max(addr: &str) -> std::io::Result<u64> {
    let work = async {
        let mut stream = BufReader::new(TcpStream::connect(addr).await?);
        stream.get_mut().write_all(b"stats settings\r\n").await?;
        let mut line = String::new();
        loop {
            line.clear();
            if stream.read_line(&mut line).await? == 0 || line.starts_with("END") {
                return Err(std::io::Error::other("no item_size_max in stats settings"));
            }
            if let Some(v) = line.trim_end().strip_prefix("STAT item_size_max ") {
                return v.parse().map_err(std::io::Error::other);
            }
        }
    };
    tokio::time::timeout(DEADLINE, work)
        .await
        .map_err(|_| std::io::Error::other("no answer"))?
}

/// memcached expiries are whole seconds, at most 30 days (beyond that memcached reads the
/// number as a unix time, in the past).
fn seconds(d: Duration) -> u32 {
    const MAX: u64 = 30 * 24 * 3600;
    u32::try_from(d.as_secs().clamp(1, MAX)).unwrap_or(1)
}

impl crate::cache::shared::SharedChunks for MemcachedChunks {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, String>> {
        let key = format!("{}{key}", self.prefix);
        Box::pin(self.call(move |c| {
            Box::pin(async move {
                match c.get(&key).await {
                    Ok(v) => Ok(Some(Bytes::from(v))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e),
                }
            })
        }))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), String>> {
        let key = format!("{}{key}", self.prefix);
        Box::pin(
            self.call(move |c| Box::pin(async move { c.set(&key, &value, seconds(ttl)).await })),
        )
    }

    fn claim<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool, String>> {
        let key = format!("{}{key}", self.prefix);
        Box::pin(self.call(move |c| {
            Box::pin(async move {
                match c.add(&key, b"1", seconds(ttl)).await {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                    Err(e) => Err(e),
                }
            })
        }))
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), String>> {
        let key = format!("{}{key}", self.prefix);
        Box::pin(self.call(move |c| Box::pin(async move { c.delete(&key).await })))
    }

    fn max_value(&self) -> Option<u64> {
        Some(self.item_max)
    }
}
