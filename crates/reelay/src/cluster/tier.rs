//! The shared live tier on Redis: whole segments and init sections under
//! `<cluster>:live:<source id>/<file>`, each with a time to live (the live buffer's), written
//! once by the node that accepted it and read by the others on their first request for it.
//! Each is sealed under the cluster key as `live:<source id>/<file>` (`crate::keyed`): one that
//! fails its seal is [`ClusterError::Unsealed`], never handed on. The connection manager
//! reconnects by itself with backoff; each call has a deadline.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::cache::shared::Span;
use crate::keyed::{ClusterKeys, open_entry, seal_entry};

use super::{ClusterError, DEADLINE, Health};

#[derive(Clone)]
pub struct Tier {
    conn: ConnectionManager,
    prefix: String,
    pub(crate) health: std::sync::Arc<Health>,
    keys: Arc<ClusterKeys>,
}

impl std::fmt::Debug for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tier")
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// A lazily connected, self-reconnecting connection to `url`.
fn manager(url: &str) -> anyhow::Result<ConnectionManager> {
    let client = redis::Client::open(url)
        .map_err(|e| anyhow::anyhow!("[cluster] redis URL is not valid: {e}"))?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(DEADLINE))
        .set_response_timeout(Some(DEADLINE))
        .set_min_delay(Duration::from_millis(100))
        .set_max_delay(Duration::from_secs(1));
    ConnectionManager::new_lazy_with_config(client, config)
        .map_err(|e| anyhow::anyhow!("[cluster] redis: {e}"))
}

impl Tier {
    /// A lazily connected tier at `url` (`redis://host:port/db`), its entries sealed under
    /// `keys`.
    pub fn connect(url: &str, cluster: &str, keys: Arc<ClusterKeys>) -> anyhow::Result<Self> {
        Ok(Self {
            conn: manager(url)?,
            prefix: format!("{cluster}:live:"),
            health: Arc::new(Health::new("redis", None)),
            keys,
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn outcome<T>(
        &self,
        result: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, ClusterError> {
        let result = match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(ClusterError::Redis(e.to_string())),
            Err(_) => Err(ClusterError::Timeout("redis")),
        };
        self.health
            .set(result.as_ref().err().map(ToString::to_string));
        result
    }

    /// What an entry's seal says it is.
    fn identity(name: &str) -> String {
        format!("live:{name}")
    }

    /// Stores `bytes` as `name` for `ttl`, sealed.
    pub(crate) async fn put(
        &self,
        name: &str,
        bytes: &[u8],
        ttl: Duration,
    ) -> Result<(), ClusterError> {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let entry = seal_entry(&self.keys, Self::identity(name).as_bytes(), bytes);
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(name)).arg(entry).arg("PX").arg(ttl_ms);
        let result = tokio::time::timeout(DEADLINE, cmd.query_async::<()>(&mut conn)).await;
        self.outcome(result)
    }

    /// The bytes stored as `name`, if any; [`ClusterError::Unsealed`] when the entry there
    /// fails its seal.
    pub async fn get(&self, name: &str) -> Result<Option<Bytes>, ClusterError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key(name));
        let result =
            tokio::time::timeout(DEADLINE, cmd.query_async::<Option<Vec<u8>>>(&mut conn)).await;
        let Some(entry) = self.outcome(result)? else {
            return Ok(None);
        };
        open_entry(
            &self.keys,
            Self::identity(name).as_bytes(),
            &Bytes::from(entry),
        )
        .map(Some)
        .map_err(|why| ClusterError::Unsealed(why, name.to_owned()))
    }

    /// Whether Redis answers now (for `/readyz`; also updates the health).
    pub(crate) async fn ping(&self) -> Result<(), ClusterError> {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("PING");
        let result = tokio::time::timeout(DEADLINE, cmd.query_async::<String>(&mut conn)).await;
        self.outcome(result).map(|_| ())
    }
}

/// The chunk cache's shared tier on Redis (`[cache] shared`): keys under `<prefix>` as the
/// cache names them, claims by `SET NX PX`.
#[derive(Clone)]
pub struct RedisChunks {
    conn: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisChunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisChunks")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl RedisChunks {
    /// A lazily connected tier at `url`, keys under `<cluster>:cache:`.
    pub fn connect(url: &str, cluster: &str) -> anyhow::Result<Self> {
        Ok(Self {
            conn: manager(url)?,
            prefix: format!("{cluster}:cache:"),
        })
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, String> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(DEADLINE, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {DEADLINE:?}")),
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl crate::cache::shared::SharedChunks for RedisChunks {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, String>> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(format!("{}{key}", self.prefix));
        Box::pin(async move {
            self.query::<Option<Vec<u8>>>(cmd)
                .await
                .map(|v| v.map(Bytes::from))
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), String>> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(format!("{}{key}", self.prefix))
            .arg(value.as_ref())
            .arg("PX")
            .arg(ms(ttl));
        Box::pin(async move { self.query::<()>(cmd).await })
    }

    fn claim<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool, String>> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(format!("{}{key}", self.prefix))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ms(ttl));
        Box::pin(async move { self.query::<Option<String>>(cmd).await.map(|v| v.is_some()) })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), String>> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(format!("{}{key}", self.prefix));
        Box::pin(async move { self.query::<()>(cmd).await })
    }

    fn get_span<'a>(
        &'a self,
        key: &'a str,
        head: usize,
        start: usize,
        end: usize,
    ) -> BoxFuture<'a, Result<Option<Span>, String>> {
        // One round trip: the length (0: no such key), the header and the span. Not in a
        // MULTI (it costs Redis two more commands per read): every value ever stored under a
        // key is the same chunk, so a value replaced between the three reads is still right,
        // and one deleted meanwhile reads as short and is fetched again.
        let key = format!("{}{key}", self.prefix);
        let mut pipe = redis::pipe();
        pipe.cmd("STRLEN")
            .arg(&key)
            .cmd("GETRANGE")
            .arg(&key)
            .arg(0)
            .arg(head.saturating_sub(1))
            .cmd("GETRANGE")
            .arg(&key)
            .arg(start)
            .arg(end.saturating_sub(1));
        Box::pin(async move {
            if head == 0 || end <= start {
                return Err("an empty span was asked".into());
            }
            let mut conn = self.conn.clone();
            let answer = pipe.query_async::<(usize, Vec<u8>, Vec<u8>)>(&mut conn);
            match tokio::time::timeout(DEADLINE, answer).await {
                Ok(Ok((0, _, _))) => Ok(None),
                Ok(Ok((len, h, body))) => Ok(Some(Span {
                    head: Bytes::from(h),
                    len,
                    body: Bytes::from(body),
                })),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {DEADLINE:?}")),
            }
        })
    }

    fn max_value(&self) -> Option<u64> {
        Some(512 << 20) // Redis's largest string
    }
}
