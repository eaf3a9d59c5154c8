//! Where tokens live: the metadata database (created through the API) and the config file
//! (`[[token]]` entries, by hash). Verified tokens are cached briefly so a request costs no
//! query; revocation through this node takes effect at once, elsewhere within [`CACHE_TTL`].
//!
//! Whether the node is closed — whether any token was ever made, here or by another node on the
//! same database — is read from the database too, at most every [`CLOSED_TTL`] until it is
//! true, and then it stays true: revoking the last token does not open a node again
//! ([`TokenStore::reopen`] is the explicit act that does).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::AnyPool;

use super::token::{PresentedToken, Role, digest_eq, hash_secret, new_token};
use crate::db::now_unix;

/// How long a verification result is reused.
pub(crate) const CACHE_TTL: Duration = Duration::from_secs(10);

/// How long "no token was ever made" is believed before the database is asked again.
pub const CLOSED_TTL: Duration = Duration::from_secs(2);

/// A token row (never the secret).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub(crate) role: String,
    #[serde(skip)]
    pub(crate) secret_hash: String,
    pub(crate) created_at: i64,
    pub(crate) revoked_at: Option<i64>,
}

/// A token given in the config file.
#[derive(Debug, Clone)]
pub struct ConfigToken {
    pub id: String,
    pub name: String,
    pub(crate) role: Role,
    pub(crate) secret_hash: String,
}

/// A token id's stored (hash, role), or `None` if unknown or revoked.
type CachedVerdict = Option<(String, Role)>;

/// Most token ids whose verdict is remembered (known or not): an attacker sending random ids
/// evicts the least recently used, never grows the cache, and pays a query for each new id.
const CACHE_CAPACITY: u64 = 10_000;

#[derive(Debug)]
pub struct TokenStore {
    pool: AnyPool,
    config: Vec<ConfigToken>,
    cache: moka::sync::Cache<String, CachedVerdict>,
    any_tokens: AtomicBool,
    /// A token was made at some point (sticky).
    closed: AtomicBool,
    /// When the database last said no token was ever made.
    open_checked: Mutex<Option<Instant>>,
}

impl TokenStore {
    pub async fn new(pool: AnyPool, config: Vec<ConfigToken>) -> sqlx::Result<Self> {
        let store = Self {
            pool,
            config,
            cache: moka::sync::Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(CACHE_TTL)
                .build(),
            any_tokens: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            open_checked: Mutex::new(None),
        };
        store.refresh_any().await?;
        store.closed().await;
        Ok(store)
    }

    /// Whether any usable token exists (when none does, a loopback node is open).
    pub fn any_tokens(&self) -> bool {
        self.any_tokens.load(Ordering::Relaxed)
    }

    /// Whether a token was ever made (config tokens count): then the node is closed. Asked of
    /// the database at most every [`CLOSED_TTL`] while the answer is no. A database that cannot
    /// answer leaves the last answer standing (logged): no token can be made while it is down,
    /// so an open node stays open for what it can still serve and a closed one stays closed.
    pub async fn closed(&self) -> bool {
        if self.known_closed() {
            return true;
        }
        let checked = *self.open_checked.lock().unwrap_or_else(|p| p.into_inner());
        if checked.is_some_and(|at| at.elapsed() < CLOSED_TTL) {
            return false;
        }
        let made: sqlx::Result<(i64,)> = sqlx::query_as("SELECT COUNT(*) FROM tokens")
            .fetch_one(&self.pool)
            .await;
        match made {
            Ok((0,)) => {
                *self.open_checked.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                false
            }
            Ok(_) => {
                self.closed.store(true, Ordering::Relaxed);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, open = checked.is_some(),
                    "cannot ask whether tokens exist; the last answer stands");
                if checked.is_some() {
                    // Asked again (and logged) once per CLOSED_TTL, not on every request.
                    *self.open_checked.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(Instant::now());
                }
                checked.is_none()
            }
        }
    }

    /// Whether this node already knows it is closed (no database question).
    pub(crate) fn known_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed) || !self.config.is_empty()
    }

    /// Opens a closed node again: forgets every revoked token. Refused (`Ok(false)`) while a
    /// token is still active or the config file lists one.
    pub async fn reopen(&self) -> sqlx::Result<bool> {
        self.refresh_any().await?;
        if self.any_tokens() {
            return Ok(false);
        }
        sqlx::query("DELETE FROM tokens WHERE revoked_at IS NOT NULL")
            .execute(&self.pool)
            .await?;
        self.closed.store(false, Ordering::Relaxed);
        *self.open_checked.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(true)
    }

    async fn refresh_any(&self) -> sqlx::Result<()> {
        let (active,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM tokens WHERE revoked_at IS NULL")
                .fetch_one(&self.pool)
                .await?;
        self.any_tokens
            .store(active > 0 || !self.config.is_empty(), Ordering::Relaxed);
        Ok(())
    }

    /// Creates a token; returns its row and its text (shown once).
    pub async fn create(&self, name: &str, role: Role) -> sqlx::Result<(TokenRow, String)> {
        let (id, text, secret_hash) = new_token().map_err(sqlx::Error::Io)?;
        let row = TokenRow {
            id,
            name: name.to_owned(),
            role: role.as_str().to_owned(),
            secret_hash,
            created_at: now_unix(),
            revoked_at: None,
        };
        sqlx::query("INSERT INTO tokens (id, name, role, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&row.id)
            .bind(&row.name)
            .bind(&row.role)
            .bind(&row.secret_hash)
            .bind(row.created_at)
            .execute(&self.pool)
            .await?;
        self.closed.store(true, Ordering::Relaxed);
        self.refresh_any().await?;
        Ok((row, text))
    }

    pub async fn list(&self) -> sqlx::Result<Vec<TokenRow>> {
        sqlx::query_as("SELECT id, name, role, secret_hash, created_at, revoked_at FROM tokens ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
    }

    /// Revokes `id`; false if there is no such active token.
    pub async fn revoke(&self, id: &str) -> sqlx::Result<bool> {
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now_unix())
                .bind(id)
                .execute(&self.pool)
                .await?;
        self.cache.invalidate(id);
        self.refresh_any().await?;
        Ok(done.rows_affected() > 0)
    }

    /// The role of a presented token, if it is genuine and not revoked.
    pub(crate) async fn verify(&self, token: &PresentedToken<'_>) -> sqlx::Result<Option<Role>> {
        let hash = hash_secret(token.secret);
        if let Some(c) = self.config.iter().find(|c| c.id == token.id) {
            return Ok(digest_eq(&c.secret_hash, &hash).then_some(c.role));
        }
        let entry = self.lookup(token.id).await?;
        Ok(entry.and_then(|(stored, role)| digest_eq(&stored, &hash).then_some(role)))
    }

    /// Whether token `id` exists and is not revoked (the signer of a signed URL).
    pub(crate) async fn is_active(&self, id: &str) -> sqlx::Result<bool> {
        if self.config.iter().any(|c| c.id == id) {
            return Ok(true);
        }
        Ok(self.lookup(id).await?.is_some())
    }

    /// Token `id`'s stored (hash, role) if active, from the cache when read within
    /// [`CACHE_TTL`] — an unknown id too, so repeating one costs no query.
    async fn lookup(&self, id: &str) -> sqlx::Result<Option<(String, Role)>> {
        if let Some(entry) = self.cache.get(id) {
            return Ok(entry);
        }
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT secret_hash, role FROM tokens WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let entry = row.and_then(|(h, r)| Role::parse(&r).map(|role| (h, role)));
        self.cache.insert(id.to_owned(), entry.clone());
        Ok(entry)
    }
}
