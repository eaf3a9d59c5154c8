//! The edge registry on the control node: edges are created by an operator (who gets the
//! edge's token once; only its SHA-256 is stored) and are online while heard from. An edge is
//! heard from at least once per interval (its long-poll returns after one), so it is declared
//! offline only after `missed` intervals plus a margin of silence — never after one late poll.
//!
//! Last contact is kept in the database (written at most twice per interval per edge), and
//! online/offline is computed from that row alone, so every control node sharing the
//! database reports the same state whichever node the edge talks to.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use sqlx::AnyPool;

use crate::auth::token::hash_secret;
use crate::db::{now_ms, now_unix};

/// When an edge counts as offline (`[edges]`).
#[derive(Debug, Clone)]
pub struct Liveness {
    /// How often an edge must be heard from.
    pub(crate) interval: Duration,
    /// Intervals missed before it is offline.
    pub(crate) missed: u32,
    /// Slack on top, for slow networks.
    pub(crate) margin: Duration,
    /// Stop the open recordings of an edge's sources when it goes offline (otherwise they stay
    /// open until it returns or an operator stops them).
    pub(crate) stop_recordings: bool,
}

impl Default for Liveness {
    fn default() -> Self {
        Self {
            interval: crate::defaults::edges::INTERVAL,
            missed: crate::defaults::edges::MISSED_INTERVALS,
            margin: crate::defaults::edges::MARGIN,
            stop_recordings: false,
        }
    }
}

impl Liveness {
    /// The silence after which an edge is offline.
    pub(crate) fn deadline(&self) -> Duration {
        self.interval
            .saturating_mul(self.missed.max(1))
            .saturating_add(self.margin)
    }

    /// Whether an edge last heard from at `last_seen_ms` is online at `now_ms`.
    pub(crate) fn online(&self, last_seen_ms: Option<i64>, now_ms: i64) -> bool {
        let deadline = i64::try_from(self.deadline().as_millis()).unwrap_or(i64::MAX);
        last_seen_ms.is_some_and(|seen| now_ms.saturating_sub(seen) <= deadline)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EdgeRow {
    pub id: String,
    pub name: String,
    pub(crate) token_hash: String,
    pub(crate) created_at: i64,
    pub(crate) last_seen_ms: Option<i64>,
}

#[derive(Debug)]
pub struct Edges {
    db: AnyPool,
    pub(crate) liveness: Liveness,
    /// When each edge's last contact was last written to the database, by edge id.
    persisted: Mutex<HashMap<String, i64>>,
}

impl Edges {
    pub fn new(db: AnyPool, liveness: Liveness) -> Self {
        Self {
            db,
            liveness,
            persisted: Mutex::new(HashMap::new()),
        }
    }

    /// Creates an edge; returns it and its token (shown once).
    pub async fn create(&self, name: &str) -> Result<(EdgeRow, String), sqlx::Error> {
        let token = format!(
            "rle_{}",
            crate::hex::encode(&crate::random::bytes::<24>().map_err(sqlx::Error::Io)?)
        );
        let row = EdgeRow {
            id: crate::random::id("edg_").map_err(sqlx::Error::Io)?,
            name: name.to_owned(),
            token_hash: hash_secret(&token),
            created_at: now_unix(),
            last_seen_ms: None,
        };
        sqlx::query("INSERT INTO edges (id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&row.id)
            .bind(&row.name)
            .bind(&row.token_hash)
            .bind(row.created_at)
            .execute(&self.db)
            .await?;
        Ok((row, token))
    }

    pub async fn list(&self) -> sqlx::Result<Vec<EdgeRow>> {
        let rows: Vec<EdgeRow> = sqlx::query_as(
            "SELECT id, name, token_hash, created_at, last_seen_ms FROM edges ORDER BY name",
        )
        .fetch_all(&self.db)
        .await?;
        Ok(rows)
    }

    /// The edge with this id or name; what can be neither (a NUL, over 128 bytes) is no edge,
    /// without asking the database.
    pub(crate) async fn find(&self, id_or_name: &str) -> sqlx::Result<Option<EdgeRow>> {
        if id_or_name.is_empty() || id_or_name.len() > 128 || id_or_name.contains('\0') {
            return Ok(None);
        }
        let row: Option<EdgeRow> = sqlx::query_as(
            "SELECT id, name, token_hash, created_at, last_seen_ms FROM edges WHERE id = $1 OR name = $1",
        )
            .bind(id_or_name)
            .fetch_optional(&self.db)
            .await?;
        Ok(row)
    }

    /// The edge whose token this is.
    pub(crate) async fn authenticate(&self, token: &str) -> sqlx::Result<Option<EdgeRow>> {
        if !token.starts_with("rle_") || token.len() > 100 {
            return Ok(None);
        }
        let row: Option<EdgeRow> = sqlx::query_as(
            "SELECT id, name, token_hash, created_at, last_seen_ms FROM edges WHERE token_hash = $1",
        )
            .bind(hash_secret(token))
            .fetch_optional(&self.db)
            .await?;
        Ok(row)
    }

    pub(crate) async fn delete(&self, id: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE sources SET edge_id = NULL WHERE edge_id = $1")
            .bind(id)
            .execute(&self.db)
            .await?;
        sqlx::query("DELETE FROM edge_sources WHERE edge_id = $1")
            .bind(id)
            .execute(&self.db)
            .await?;
        sqlx::query("DELETE FROM edges WHERE id = $1")
            .bind(id)
            .execute(&self.db)
            .await?;
        self.persisted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        Ok(())
    }

    /// The ids of the sources edge `id` may feed.
    pub(crate) async fn scope(&self, id: &str) -> sqlx::Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT source_id FROM edge_sources WHERE edge_id = $1 ORDER BY source_id",
        )
        .bind(id)
        .fetch_all(&self.db)
        .await?;
        Ok(rows.into_iter().map(|(s,)| s).collect())
    }

    /// The names of the sources edge `id` may feed, in order.
    pub(crate) async fn scope_names(&self, id: &str) -> sqlx::Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT s.name FROM edge_sources e JOIN sources s ON s.id = e.source_id \
             WHERE e.edge_id = $1 ORDER BY s.name",
        )
        .bind(id)
        .fetch_all(&self.db)
        .await?;
        Ok(rows.into_iter().map(|(name,)| name).collect())
    }

    /// Adds source `source_id` to the sources edge `id` may feed.
    pub(crate) async fn add_to_scope(&self, id: &str, source_id: &str) -> sqlx::Result<()> {
        sqlx::query("INSERT INTO edge_sources (edge_id, source_id) VALUES ($1, $2)")
            .bind(id)
            .bind(source_id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Whether edge `id` may feed source `source_id`.
    pub(crate) async fn may_feed(&self, id: &str, source_id: &str) -> sqlx::Result<bool> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT source_id FROM edge_sources WHERE edge_id = $1 AND source_id = $2",
        )
        .bind(id)
        .bind(source_id)
        .fetch_optional(&self.db)
        .await?;
        Ok(row.is_some())
    }

    /// Makes `source_ids` the sources edge `id` may feed, in one transaction: a source it no
    /// longer may feed is released (another edge may bind it), and the operator's naming a
    /// source clears its `fed_directly` mark.
    pub(crate) async fn set_scope(&self, id: &str, source_ids: &[String]) -> sqlx::Result<()> {
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM edge_sources WHERE edge_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for source_id in source_ids {
            sqlx::query("INSERT INTO edge_sources (edge_id, source_id) VALUES ($1, $2)")
                .bind(id)
                .bind(source_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE sources SET fed_directly = 0 WHERE id = $1")
                .bind(source_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE sources SET edge_id = NULL WHERE edge_id = $1 \
             AND id NOT IN (SELECT source_id FROM edge_sources WHERE edge_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Notes that edge `id` was heard from now.
    pub(crate) async fn touch(&self, id: &str) -> sqlx::Result<()> {
        let now = now_ms();
        let every = i64::try_from(self.liveness.interval.as_millis() / 2).unwrap_or(i64::MAX);
        let persist = {
            let mut persisted = self.persisted.lock().unwrap_or_else(|p| p.into_inner());
            let last = persisted.entry(id.to_owned()).or_insert(i64::MIN);
            let due = now.saturating_sub(*last) >= every;
            if due {
                *last = now;
            }
            due
        };
        if persist {
            sqlx::query("UPDATE edges SET last_seen_ms = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&self.db)
                .await?;
        }
        Ok(())
    }

    pub(crate) fn online(&self, row: &EdgeRow) -> bool {
        self.liveness.online(row.last_seen_ms, now_ms())
    }

    /// Whether node `node` runs the liveness sweep now: one node of a cluster at a time holds
    /// the lease, renewed each interval; when it dies, another takes over within `missed`
    /// intervals.
    pub(crate) async fn lead_sweep(&self, node: &str) -> sqlx::Result<bool> {
        let ttl = self
            .liveness
            .interval
            .saturating_mul(self.liveness.missed.max(1));
        let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        crate::db::try_lease(&self.db, "edge-liveness-sweeper", node, ttl).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edge_is_offline_only_after_three_missed_intervals_and_the_margin() {
        let l = Liveness {
            interval: crate::defaults::edges::INTERVAL,
            missed: crate::defaults::edges::MISSED_INTERVALS,
            margin: crate::defaults::edges::MARGIN,
            stop_recordings: false,
        };
        let now = 1_000_000;
        assert!(
            l.online(Some(now - 5_001), now),
            "one late heartbeat is not offline"
        );
        assert!(l.online(Some(now - 17_000), now));
        assert!(!l.online(Some(now - 17_001), now));
        assert!(!l.online(None, now));
        assert!(
            l.online(Some(now + 10), now),
            "clock skew does not make it offline"
        );
    }
}
