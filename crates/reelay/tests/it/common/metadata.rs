//! The metadata database a test runs on. `REELAY_TEST_METADATA=postgres` (set by
//! `scripts/test` for its second pass) puts every test on a fresh PostgreSQL database of its
//! own, created on first use and dropped (`WITH (FORCE)`) when the last holder lets go;
//! unset or `sqlite`, a SQLite file under the test's directory. One database per directory:
//! a test that restarts a node on the same directory holds the database across the restart
//! ([`for_dir`]). Postgres unreachable is a failure, never a skip.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use sqlx::{AnyConnection, Connection};

/// The server all test databases are made on (trust auth, user postgres).
fn admin_url() -> String {
    std::env::var("REELAY_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Whether this run puts tests on Postgres.
pub fn postgres() -> bool {
    match std::env::var("REELAY_TEST_METADATA").as_deref() {
        Err(_) | Ok("" | "sqlite") => false,
        Ok("postgres") => true,
        Ok(other) => panic!("REELAY_TEST_METADATA={other:?}: expected sqlite or postgres"),
    }
}

/// One test's metadata database.
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    /// The Postgres database to drop when done; `None` for SQLite.
    postgres: Option<String>,
}

impl TestDb {
    /// A database the test made itself (on a server of its own), dropped with that server.
    pub fn external(url: String) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            url,
            postgres: None,
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.postgres.take() {
            admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Runs one statement on the admin database, from a thread of its own (callable from sync
/// code, async tests and destructors alike).
fn admin(sql: String) {
    let url = admin_url();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            sqlx::any::install_default_drivers();
            let mut conn = AnyConnection::connect(&url).await.unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is unreachable at {url} ({e}); the Postgres pass needs it \
                     (tests never skip)"
                )
            });
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            let _ = conn.close().await;
        });
    })
    .join()
    .expect("admin statement");
}

/// A new database of this run's kind, for state under `dir`.
pub fn create(dir: &Path) -> TestDb {
    if !postgres() {
        std::fs::create_dir_all(dir).expect("database dir");
        return TestDb {
            url: format!("sqlite://{}?mode=rwc", dir.join("reelay.db").display()),
            postgres: None,
        };
    }
    let name = reelay::random::id("t_reelay_").expect("random");
    admin(format!("CREATE DATABASE {name}"));
    let base = admin_url();
    let url = match base.rfind('/') {
        Some(i) => format!("{}/{name}", &base[..i]),
        None => panic!("REELAY_TEST_POSTGRES has no database part: {base}"),
    };
    TestDb {
        url,
        postgres: Some(name),
    }
}

/// The database for `dir`: the one already held for it, or a new one.
pub fn for_dir(dir: &Path) -> Arc<TestDb> {
    static HELD: OnceLock<Mutex<HashMap<PathBuf, Weak<TestDb>>>> = OnceLock::new();
    let mut held = HELD
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    held.retain(|_, db| db.strong_count() > 0);
    if let Some(db) = held.get(dir).and_then(Weak::upgrade) {
        return db;
    }
    let db = Arc::new(create(dir));
    held.insert(dir.to_owned(), Arc::downgrade(&db));
    db
}
