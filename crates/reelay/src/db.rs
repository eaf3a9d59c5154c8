//! The metadata database: SQLite under the data directory by default, Postgres at scale, through
//! sqlx's `Any` driver so there is one code path (queries use `$1` placeholders, which both
//! accept). Migrations are compiled into the binary and applied at start.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use futures_util::future::BoxFuture;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, SqlSafeStr};

/// Every migration, in order. Never edit one that has shipped: add a new one.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "tokens and buckets",
        include_str!("../migrations/0001_tokens_and_buckets.sql"),
    ),
    (
        2,
        "live sources",
        include_str!("../migrations/0002_live.sql"),
    ),
    (
        3,
        "recordings",
        include_str!("../migrations/0003_recordings.sql"),
    ),
    (4, "edges", include_str!("../migrations/0004_edges.sql")),
    (
        5,
        "renditions",
        include_str!("../migrations/0005_renditions.sql"),
    ),
    (
        6,
        "edge renditions",
        include_str!("../migrations/0006_edge_renditions.sql"),
    ),
    (7, "leases", include_str!("../migrations/0007_leases.sql")),
    (
        8,
        "public sources",
        include_str!("../migrations/0008_public_sources.sql"),
    ),
    (
        9,
        "edge scope",
        include_str!("../migrations/0009_edge_scope.sql"),
    ),
];

#[derive(Debug)]
struct Embedded;

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> BoxFuture<'s, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        description.into(),
                        MigrationType::Simple,
                        sql.into_sql_str(),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Opens the database at `url` and brings its schema up to date.
pub async fn connect(url: &str) -> anyhow::Result<AnyPool> {
    install_default_drivers();
    let sqlite = url.starts_with("sqlite:");
    let pool = AnyPoolOptions::new()
        .max_connections(if sqlite { 4 } else { 16 })
        .acquire_timeout(std::time::Duration::from_secs(5))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if sqlite {
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;")
                        .await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .with_context(|| format!("cannot open the metadata database {}", redact(url)))?;
    migrate(&pool, sqlite).await?;
    Ok(pool)
}

/// Brings the schema up to date. On Postgres the migrator holds an advisory lock, so nodes
/// starting together take turns; SQLite has no such lock, so a node that loses the race (a
/// table another process just made) tries again and then finds the migration applied.
async fn migrate(pool: &AnyPool, sqlite: bool) -> anyhow::Result<()> {
    let mut attempt = 0;
    loop {
        let result = Migrator::new(Embedded).await?.run(pool).await;
        match result {
            Ok(()) => return Ok(()),
            Err(e) if sqlite && attempt < 5 => {
                attempt += 1;
                tracing::debug!(error = %e, attempt, "migration raced another process; again");
                tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
            }
            Err(e) => return Err(e).context("cannot migrate the metadata database"),
        }
    }
}

/// Takes or renews the lease `name` for `holder` until `ttl_ms` from now; `false` when another
/// holder's lease has not lapsed. One statement (an upsert whose update only applies to a
/// lapsed or own lease), so two nodes racing for it never both win, on SQLite or Postgres.
pub async fn try_lease(db: &AnyPool, name: &str, holder: &str, ttl_ms: i64) -> sqlx::Result<bool> {
    let now = now_ms();
    let done = sqlx::query(
        "INSERT INTO leases (name, holder, until_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms \
         WHERE leases.until_ms < $4 OR leases.holder = excluded.holder",
    )
    .bind(name)
    .bind(holder)
    .bind(now.saturating_add(ttl_ms))
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Seconds since the epoch, as stored in the database.
pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Milliseconds since the epoch, as stored in the database.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PostgreSQL database of the test's own on the machine's server (`REELAY_TEST_POSTGRES`,
    /// as the integration tests read it), dropped when this is.
    struct TempPostgres {
        admin: String,
        name: String,
        url: String,
    }

    impl TempPostgres {
        async fn new() -> Self {
            let admin = std::env::var("REELAY_TEST_POSTGRES")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
            let name = format!("t_{:016x}", crate::random::u64());
            Self::admin_sql(&admin, format!("CREATE DATABASE {name}")).await;
            let mut url = url::Url::parse(&admin).expect("REELAY_TEST_POSTGRES is a URL");
            url.set_path(&name);
            let url = url.to_string();
            Self { admin, name, url }
        }

        async fn admin_sql(admin: &str, sql: String) {
            use sqlx::Connection;
            install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(admin)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL is unreachable at {admin}: {e}"));
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    impl Drop for TempPostgres {
        fn drop(&mut self) {
            let (admin, sql) = (
                self.admin.clone(),
                format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            );
            // From a thread of its own: a destructor cannot wait on the test's runtime.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(Self::admin_sql(&admin, sql));
            })
            .join();
        }
    }

    /// A database from before renditions keeps each source's numbering and buffer, as its
    /// primary rendition's.
    #[tokio::test]
    async fn on_sqlite_the_renditions_migrations_keep_numbering_buffers_recordings_and_confirmations()
     {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
        renditions_migrations_keep_rows(&url).await;
    }

    /// The same on PostgreSQL, which the Postgres pass of the integration tests only ever
    /// meets with every migration applied at once.
    #[tokio::test]
    async fn on_postgres_the_renditions_migrations_keep_numbering_buffers_recordings_and_confirmations()
     {
        let db = TempPostgres::new().await;
        renditions_migrations_keep_rows(&db.url).await;
    }

    async fn renditions_migrations_keep_rows(url: &str) {
        install_default_drivers();
        let pool = AnyPoolOptions::new().connect(url).await.expect("database");
        for &(_, _, sql) in &MIGRATIONS[..4] {
            sqlx::raw_sql(sql)
                .execute(&pool)
                .await
                .expect("old migration");
        }
        sqlx::raw_sql(
            "INSERT INTO sources (id, name, description, target_duration, ingest_token_hash, \
             streaming, next_msn, discontinuities, created_at) \
             VALUES ('src_1', 'cam', '', 2, 'h', 1, 7, 2, 0); \
             INSERT INTO live_segments VALUES ('src_1', 6, '6.ts', 2000, 0, 100, NULL, 188); \
             INSERT INTO recording_segments VALUES ('rec_1', 6, 'src_1/6.ts', 2000, 0, 100, NULL); \
             INSERT INTO edge_forwarded VALUES ('src_1', 5);",
        )
        .execute(&pool)
        .await
        .expect("old rows");
        for &(_, _, sql) in &MIGRATIONS[4..] {
            sqlx::raw_sql(sql)
                .execute(&pool)
                .await
                .expect("renditions migrations");
        }
        let rendition: (String, i64, i64) = sqlx::query_as(
            "SELECT name, next_msn, discontinuities FROM renditions WHERE source_id = 'src_1'",
        )
        .fetch_one(&pool)
        .await
        .expect("rendition");
        assert_eq!(rendition, ("index".to_owned(), 7, 2));
        let segment: (String, i64, String) =
            sqlx::query_as("SELECT rendition, msn, file FROM live_segments")
                .fetch_one(&pool)
                .await
                .expect("segment");
        assert_eq!(segment, ("index".to_owned(), 6, "6.ts".to_owned()));
        let recorded: (String, String, i64) =
            sqlx::query_as("SELECT rendition, object_key, bytes FROM recording_segments")
                .fetch_one(&pool)
                .await
                .expect("recorded");
        assert_eq!(recorded, ("index".to_owned(), "src_1/6.ts".to_owned(), 0));
        let confirmed: (String, i64) = sqlx::query_as("SELECT rendition, msn FROM edge_forwarded")
            .fetch_one(&pool)
            .await
            .expect("confirmed");
        assert_eq!(confirmed, ("index".to_owned(), 5));
    }
}
