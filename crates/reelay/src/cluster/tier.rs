//! The shared live tier on Redis: whole segments and init sections under
//! `<cluster>:live:<source id>/<file>`, each with a time to live (the live buffer's), written
//! once by the node that accepted it and read by the others on their first request for it.
//! The connection manager reconnects by itself with backoff; each call has a deadline.

use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{ClusterError, DEADLINE, Health};

#[derive(Clone)]
pub struct Tier {
    conn: ConnectionManager,
    prefix: String,
    pub health: std::sync::Arc<Health>,
}

impl std::fmt::Debug for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tier")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl Tier {
    /// A lazily connected tier at `url` (`redis://host:port/db`).
    pub fn connect(url: &str, cluster: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("[cluster] redis URL is not valid: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(DEADLINE))
            .set_response_timeout(Some(DEADLINE))
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| anyhow::anyhow!("[cluster] redis: {e}"))?;
        Ok(Self {
            conn,
            prefix: format!("{cluster}:live:"),
            health: std::sync::Arc::new(Health::new("redis", None)),
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

    /// Stores `bytes` as `name` for `ttl`.
    pub async fn put(&self, name: &str, bytes: &[u8], ttl: Duration) -> Result<(), ClusterError> {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(name)).arg(bytes).arg("PX").arg(ttl_ms);
        let result = tokio::time::timeout(DEADLINE, cmd.query_async::<()>(&mut conn)).await;
        self.outcome(result)
    }

    /// The bytes stored as `name`, if any.
    pub async fn get(&self, name: &str) -> Result<Option<Bytes>, ClusterError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key(name));
        let result =
            tokio::time::timeout(DEADLINE, cmd.query_async::<Option<Vec<u8>>>(&mut conn)).await;
        self.outcome(result).map(|v| v.map(Bytes::from))
    }

    /// Whether Redis answers now (for `/readyz`; also updates the health).
    pub async fn ping(&self) -> Result<(), ClusterError> {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("PING");
        let result = tokio::time::timeout(DEADLINE, cmd.query_async::<String>(&mut conn)).await;
        self.outcome(result).map(|_| ())
    }
}
