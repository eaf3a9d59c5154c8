//! The sources registry in the metadata database. A source has a unique name and an id
//! (`src_…`); URLs accept either. Its ingest token is shown once and stored as a SHA-256 hash.
//! A source has renditions (one per playlist pushed; [`PRIMARY`] for `index.m3u8`), each with
//! its own media sequence numbers, taken one at a time with an atomic update of its row in
//! `renditions`, so they never go backwards — not across restarts, nor across nodes sharing
//! the DB.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sqlx::AnyPool;

use super::error::LiveError;
use crate::auth::token::{digest_eq, hash_secret};
use crate::db::now_unix;

/// The rendition of `index.m3u8`, of LiveMix pushes and of everything edges forward.
pub(crate) const PRIMARY: &str = "index";

/// Most renditions one source may have.
pub(crate) const MAX_RENDITIONS: i64 = reelay_hls::multivariant::MAX_RENDITIONS as i64;

/// How long a source's row read for a viewer stands before it is read again
/// ([`Lookup::Viewing`]).
pub(crate) const VIEW_FRESH: Duration = Duration::from_secs(1);

/// A query for sources' rows, with their primary rendition's counters, ending in `$tail`.
macro_rules! select_sources {
    ($tail:literal) => {
        concat!(
            "SELECT s.id, s.name, s.description, s.target_duration, s.ingest_token_hash, \
             s.streaming, COALESCE(r.next_msn, 0) AS next_msn, \
             COALESCE(r.discontinuities, 0) AS discontinuities, s.created_at, s.edge_id, \
             s.multivariant, s.public, s.fed_directly FROM sources s \
             LEFT JOIN renditions r ON r.source_id = s.id AND r.name = 'index' ",
            $tail
        )
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SourceRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub target_duration: i64,
    pub ingest_token_hash: String,
    pub streaming: i64,
    pub next_msn: i64,
    pub discontinuities: i64,
    pub created_at: i64,
    /// The edge node this source's segments come through; `None`: pushed here, or not yet.
    pub edge_id: Option<String>,
    /// The multivariant playlist the encoder last pushed (validated when it was).
    pub multivariant: Option<String>,
    /// Anyone may watch it live and its recordings without a token (1) or not (0).
    pub public: i64,
    /// An encoder pushed to it directly (1): no edge may claim it.
    pub fed_directly: i64,
}

/// Source names: like bucket names, and never shaped like an id.
pub(crate) fn validate_name(name: &str) -> Result<(), LiveError> {
    let ok = crate::storage::validate_bucket_name(name).is_ok() && !name.starts_with("src_");
    ok.then_some(()).ok_or_else(|| {
        LiveError::Invalid(
            "source names are 1-63 of A-Z a-z 0-9 . _ -, not starting with . or src_".into(),
        )
    })
}

/// The longest target duration a source can have, seconds.
pub(crate) const MAX_TARGET_DURATION: i64 = crate::rules::TARGET_DURATION.max;

/// Target segment lengths accepted, seconds.
pub(crate) fn validate_target(target: i64) -> Result<(), LiveError> {
    crate::rules::TARGET_DURATION
        .admits(target)
        .then_some(())
        .ok_or_else(|| LiveError::Invalid("target_duration must be 1-30 seconds".into()))
}

/// How a source is looked up: the one policy, chosen by what the answer decides.
///
/// Every lookup takes an id (`src_…`) or a name; what can be neither is no source without
/// asking the database (`Live::source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The database, every time, failing with it: what acts on a source's stored state at this
    /// moment (an edge forwarding a source's segments, a recording's replay).
    Current,
    /// The database; while it is unreachable, the row last read for that id or name stands in,
    /// so viewers keep their live window (whatever writes still needs the database and fails
    /// with it). For two seconds after a failure it stands in at once; then one request at a
    /// time probes the database again. Ingest, the edge protocol and the management API.
    Standing,
    /// [`Lookup::Standing`] for viewers' reads — playlists, parts and segments, several a second
    /// per Low-Latency viewer — and for what the cluster tells about a source: a row read less
    /// than [`VIEW_FRESH`] ago is used as it is. Changes made through this node are seen at
    /// once (each write forgets the row); changes made on another node sharing the database
    /// within [`VIEW_FRESH`].
    Viewing,
}

/// Rows as last read, by the id or name asked for, and when.
type Known = HashMap<String, (Arc<SourceRow>, Instant)>;

#[derive(Debug, Clone)]
pub struct Sources {
    db: AnyPool,
    /// Rows as last read and when, by the id or name asked for (see [`Lookup::Standing`] and
    /// [`Lookup::Viewing`]); shared, so a viewer's request takes a reference, not a copy of
    /// every field.
    known: Arc<Mutex<Known>>,
    /// When reading a source last failed for want of the database.
    trouble: Arc<Mutex<Option<Instant>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

impl Sources {
    pub fn new(db: AnyPool) -> Self {
        Self {
            db,
            known: Arc::default(),
            trouble: Arc::default(),
        }
    }

    /// The source with this id or name, read as `how` says (the one lookup policy: see
    /// [`Lookup`]).
    pub(crate) async fn lookup(
        &self,
        id_or_name: &str,
        how: Lookup,
    ) -> sqlx::Result<Option<Arc<SourceRow>>> {
        match how {
            Lookup::Current => Ok(self.find(id_or_name).await?.map(Arc::new)),
            Lookup::Standing => self.standing(id_or_name).await,
            Lookup::Viewing => {
                if let Some((row, at)) = lock(&self.known).get(id_or_name)
                    && at.elapsed() < VIEW_FRESH
                {
                    return Ok(Some(Arc::clone(row)));
                }
                self.standing(id_or_name).await
            }
        }
    }

    /// [`Lookup::Standing`]: the database, or while it is unreachable the row last read.
    async fn standing(&self, id_or_name: &str) -> sqlx::Result<Option<Arc<SourceRow>>> {
        let known = || {
            lock(&self.known)
                .get(id_or_name)
                .map(|(row, _)| Arc::clone(row))
        };
        let troubled = {
            let mut trouble = lock(&self.trouble);
            let recent = trouble.is_some_and(|t| t.elapsed() < Duration::from_secs(2));
            if trouble.is_some() && !recent {
                *trouble = Some(Instant::now()); // this request probes; the others wait not
            }
            recent
        };
        if troubled && let Some(row) = known() {
            return Ok(Some(row));
        }
        let found = match self.find(id_or_name).await {
            Ok(found) => found.map(Arc::new),
            Err(e) => {
                *lock(&self.trouble) = Some(Instant::now());
                return known().map(Some).ok_or(e);
            }
        };
        *lock(&self.trouble) = None;
        if let Some(row) = &found {
            let mut known = lock(&self.known);
            if known.len() > 4096 {
                known.clear(); // bounded: the ids and names asked for are the client's
            }
            known.insert(id_or_name.to_owned(), (Arc::clone(row), Instant::now()));
        }
        Ok(found)
    }

    /// Forgets what is known of source `id` (deleted, or changed: read it again).
    pub(crate) fn forget(&self, id: &str) {
        lock(&self.known).retain(|_, (row, _)| row.id != id);
    }

    /// Creates a source; returns it and its ingest token (shown once).
    pub async fn create(
        &self,
        name: &str,
        description: &str,
        target: i64,
    ) -> Result<(SourceRow, String), LiveError> {
        validate_name(name)?;
        validate_target(target)?;
        let id = crate::random::id("src_")?;
        let token = format!("rli_{}", crate::hex::encode(&crate::random::bytes::<24>()?));
        let row = SourceRow {
            id,
            name: name.to_owned(),
            description: description.to_owned(),
            target_duration: target,
            ingest_token_hash: hash_secret(&token),
            streaming: 1,
            next_msn: 0,
            discontinuities: 0,
            created_at: now_unix(),
            edge_id: None,
            multivariant: None,
            public: 0,
            fed_directly: 0,
        };
        let insert = sqlx::query(
            "INSERT INTO sources (id, name, description, target_duration, ingest_token_hash, streaming, \
             next_msn, discontinuities, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8)",
        )
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.description)
        .bind(row.target_duration)
        .bind(&row.ingest_token_hash)
        .bind(row.streaming)
        .bind(row.next_msn)
        .bind(row.created_at)
        .execute(&self.db)
        .await;
        match insert {
            Err(e) if unique_violation(&e) => Err(LiveError::NameTaken(name.to_owned())),
            Err(e) => Err(e.into()),
            Ok(_) => Ok((row, token)),
        }
    }

    /// The source with this id or name, from the database ([`Lookup::Current`]).
    async fn find(&self, id_or_name: &str) -> sqlx::Result<Option<SourceRow>> {
        sqlx::query_as(select_sources!("WHERE s.id = $1 OR s.name = $1"))
            .bind(id_or_name)
            .fetch_optional(&self.db)
            .await
    }

    pub async fn list(&self) -> sqlx::Result<Vec<SourceRow>> {
        sqlx::query_as(select_sources!("ORDER BY s.name"))
            .fetch_all(&self.db)
            .await
    }

    /// Changes name, description and/or target of source `id`.
    pub(crate) async fn update(
        &self,
        id: &str,
        name: Option<&str>,
        description: Option<&str>,
        target: Option<i64>,
    ) -> Result<(), LiveError> {
        if let Some(n) = name {
            validate_name(n)?;
        }
        if let Some(t) = target {
            validate_target(t)?;
        }
        let result = sqlx::query(
            "UPDATE sources SET name = COALESCE($1, name), description = COALESCE($2, description), \
             target_duration = COALESCE($3, target_duration) WHERE id = $4",
        )
        .bind(name)
        .bind(description)
        .bind(target)
        .bind(id)
        .execute(&self.db)
        .await;
        match result {
            Err(e) if unique_violation(&e) => {
                Err(LiveError::NameTaken(name.unwrap_or_default().to_owned()))
            }
            Err(e) => Err(e.into()),
            Ok(_) => {
                self.forget(id);
                Ok(())
            }
        }
    }

    /// Marks source `id` as fed by an encoder directly, unless an edge feeds it: from then on
    /// no edge may claim it (an operator giving it to an edge clears the mark).
    pub(crate) async fn mark_fed_directly(&self, id: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE sources SET fed_directly = 1 WHERE id = $1 AND edge_id IS NULL")
            .bind(id)
            .execute(&self.db)
            .await?;
        self.forget(id);
        Ok(())
    }

    /// Makes source `id` public (watchable without a token) or not.
    pub(crate) async fn set_public(&self, id: &str, public: bool) -> sqlx::Result<()> {
        sqlx::query("UPDATE sources SET public = $1 WHERE id = $2")
            .bind(i64::from(public))
            .bind(id)
            .execute(&self.db)
            .await?;
        self.forget(id);
        Ok(())
    }

    pub(crate) async fn set_streaming(&self, id: &str, enabled: bool) -> sqlx::Result<()> {
        sqlx::query("UPDATE sources SET streaming = $1 WHERE id = $2")
            .bind(i64::from(enabled))
            .bind(id)
            .execute(&self.db)
            .await?;
        self.forget(id);
        Ok(())
    }

    pub(crate) async fn delete(&self, id: &str) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM renditions WHERE source_id = $1")
            .bind(id)
            .execute(&self.db)
            .await?;
        sqlx::query("DELETE FROM edge_sources WHERE source_id = $1")
            .bind(id)
            .execute(&self.db)
            .await?;
        sqlx::query("DELETE FROM sources WHERE id = $1")
            .bind(id)
            .execute(&self.db)
            .await?;
        self.forget(id);
        Ok(())
    }

    /// Counts one more discontinuity for `rendition` of source `id`.
    pub(crate) async fn add_discontinuity(&self, id: &str, rendition: &str) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE renditions SET discontinuities = discontinuities + 1 \
             WHERE source_id = $1 AND name = $2",
        )
        .bind(id)
        .bind(rendition)
        .execute(&self.db)
        .await
        .map(|_| ())
    }

    /// Takes the next media sequence number of `rendition` of source `id`.
    /// (The rendition's row exists: loading its channel made sure of it.)
    pub async fn take_msn(&self, id: &str, rendition: &str) -> sqlx::Result<u64> {
        let (next,): (i64,) = sqlx::query_as(
            "UPDATE renditions SET next_msn = next_msn + 1 WHERE source_id = $1 AND name = $2 \
             RETURNING next_msn",
        )
        .bind(id)
        .bind(rendition)
        .fetch_one(&self.db)
        .await?;
        Ok(u64::try_from(next - 1).unwrap_or(0))
    }

    /// The counters of `rendition` of source `id`: (next msn, discontinuities).
    pub(crate) async fn rendition_counters(
        &self,
        id: &str,
        rendition: &str,
    ) -> sqlx::Result<(i64, i64)> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT next_msn, discontinuities FROM renditions WHERE source_id = $1 AND name = $2",
        )
        .bind(id)
        .bind(rendition)
        .fetch_optional(&self.db)
        .await?;
        Ok(row.unwrap_or((0, 0)))
    }

    /// The names of source `id`'s renditions.
    pub(crate) async fn renditions(&self, id: &str) -> sqlx::Result<Vec<String>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT name FROM renditions WHERE source_id = $1 ORDER BY name")
                .bind(id)
                .fetch_all(&self.db)
                .await?;
        Ok(rows.into_iter().map(|(n,)| n).collect())
    }

    /// Makes sure source `id` has a row for `rendition` (counters at zero when new).
    pub async fn ensure_rendition(&self, id: &str, rendition: &str) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO renditions (source_id, name, next_msn, discontinuities) \
             VALUES ($1, $2, 0, 0) ON CONFLICT (source_id, name) DO NOTHING",
        )
        .bind(id)
        .bind(rendition)
        .execute(&self.db)
        .await
        .map(|_| ())
    }

    /// Forgets the multivariant playlist of source `id`.
    pub async fn clear_multivariant(&self, id: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE sources SET multivariant = NULL WHERE id = $1")
            .bind(id)
            .execute(&self.db)
            .await?;
        self.forget(id);
        Ok(())
    }

    /// Keeps the multivariant playlist the encoder pushed for source `id`.
    pub(crate) async fn set_multivariant(&self, id: &str, text: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE sources SET multivariant = $1 WHERE id = $2")
            .bind(text)
            .bind(id)
            .execute(&self.db)
            .await?;
        self.forget(id);
        Ok(())
    }
}

impl Sources {
    /// Binds source `id` to `edge_id` unless it is bound already; returns the edge it is
    /// bound to.
    pub(crate) async fn bind_edge(&self, id: &str, edge_id: &str) -> sqlx::Result<Option<String>> {
        sqlx::query("UPDATE sources SET edge_id = $1 WHERE id = $2 AND edge_id IS NULL")
            .bind(edge_id)
            .bind(id)
            .execute(&self.db)
            .await?;
        self.forget(id);
        let (bound,): (Option<String>,) =
            sqlx::query_as("SELECT edge_id FROM sources WHERE id = $1")
                .bind(id)
                .fetch_one(&self.db)
                .await?;
        Ok(bound)
    }

    /// Raises the next media sequence number of `rendition` of source `id` to at least `next`
    /// (never lowers it); the rendition gets a row if it has none.
    pub(crate) async fn raise_next_msn(
        &self,
        id: &str,
        rendition: &str,
        next: i64,
    ) -> sqlx::Result<()> {
        let raise = || {
            sqlx::query(
                "UPDATE renditions SET next_msn = CASE WHEN next_msn < $1 THEN $1 ELSE next_msn \
                 END WHERE source_id = $2 AND name = $3",
            )
            .bind(next)
            .bind(id)
            .bind(rendition)
            .execute(&self.db)
        };
        if raise().await?.rows_affected() == 0 {
            self.ensure_rendition(id, rendition).await?;
            raise().await?;
        }
        Ok(())
    }

    /// On an edge: makes the local row of a source mirror the control node's. Sequence numbers
    /// only move forward, so neither side ever reuses one.
    pub(crate) async fn mirror(&self, row: &SourceRow) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO sources (id, name, description, target_duration, ingest_token_hash, streaming, \
             next_msn, discontinuities, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description, \
             target_duration = excluded.target_duration, ingest_token_hash = excluded.ingest_token_hash, \
             streaming = excluded.streaming",
        )
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.description)
        .bind(row.target_duration)
        .bind(&row.ingest_token_hash)
        .bind(row.streaming)
        .bind(row.next_msn)
        .bind(row.created_at)
        .execute(&self.db)
        .await?;
        self.forget(&row.id);
        self.raise_next_msn(&row.id, PRIMARY, row.next_msn).await
    }

    /// Every rendition of source `id` with its next media sequence number.
    pub(crate) async fn rendition_floors(&self, id: &str) -> sqlx::Result<Vec<(String, i64)>> {
        sqlx::query_as("SELECT name, next_msn FROM renditions WHERE source_id = $1 ORDER BY name")
            .bind(id)
            .fetch_all(&self.db)
            .await
    }
}

/// Whether `presented` is the source's ingest token.
pub(crate) fn ingest_token_matches(source: &SourceRow, presented: &str) -> bool {
    presented.starts_with("rli_") && digest_eq(&hash_secret(presented), &source.ingest_token_hash)
}
