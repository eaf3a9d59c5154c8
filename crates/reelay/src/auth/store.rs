//! Where tokens live: the metadata database (created through the API) and the config file
//! (`[[token]]` entries, by hash). Verified tokens are cached briefly so a request costs no
//! query; revocation through this node takes effect at once, elsewhere within [`CACHE_TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::AnyPool;

use super::token::{PresentedToken, Role, digest_eq, hash_secret, new_token};
use crate::db::now_unix;

/// How long a verification result is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(10);

/// A token row (never the secret).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub role: String,
    #[serde(skip)]
    pub secret_hash: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A token given in the config file.
#[derive(Debug, Clone)]
pub struct ConfigToken {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub secret_hash: String,
}

/// A token id's stored (hash, role), or `None` if unknown/revoked, and when it was read.
type CachedVerdict = (Option<(String, Role)>, Instant);

#[derive(Debug)]
pub struct TokenStore {
    pool: AnyPool,
    config: Vec<ConfigToken>,
    cache: Mutex<HashMap<String, CachedVerdict>>,
    any_tokens: AtomicBool,
}

impl TokenStore {
    pub async fn new(pool: AnyPool, config: Vec<ConfigToken>) -> sqlx::Result<Self> {
        let store = Self {
            pool,
            config,
            cache: Mutex::new(HashMap::new()),
            any_tokens: AtomicBool::new(false),
        };
        store.refresh_any().await?;
        Ok(store)
    }

    /// Whether any usable token exists (when none does, a loopback node is open).
    pub fn any_tokens(&self) -> bool {
        self.any_tokens.load(Ordering::Relaxed)
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
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        self.refresh_any().await?;
        Ok(done.rows_affected() > 0)
    }

    /// The role of a presented token, if it is genuine and not revoked.
    pub async fn verify(&self, token: &PresentedToken<'_>) -> sqlx::Result<Option<Role>> {
        let hash = hash_secret(token.secret);
        if let Some(c) = self.config.iter().find(|c| c.id == token.id) {
            return Ok(digest_eq(&c.secret_hash, &hash).then_some(c.role));
        }
        let cached = {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache
                .get(token.id)
                .filter(|(_, at)| at.elapsed() < CACHE_TTL)
                .map(|(v, _)| v.clone())
        };
        let entry = match cached {
            Some(entry) => entry,
            None => {
                let row: Option<(String, String)> = sqlx::query_as(
                    "SELECT secret_hash, role FROM tokens WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(token.id)
                .fetch_optional(&self.pool)
                .await?;
                let entry = row.and_then(|(h, r)| Role::parse(&r).map(|role| (h, role)));
                let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                if cache.len() > 10_000 {
                    cache.clear();
                }
                cache.insert(token.id.to_owned(), (entry.clone(), Instant::now()));
                entry
            }
        };
        Ok(entry.and_then(|(stored, role)| digest_eq(&stored, &hash).then_some(role)))
    }
}
