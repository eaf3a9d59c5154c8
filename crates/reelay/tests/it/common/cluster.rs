//! A cluster's namespace on the machine's shared engines (Redis on 127.0.0.1:6379, NATS with
//! JetStream on 127.0.0.1:4222): a random `[cluster] name`, so runs never share keys or
//! subjects, whose Redis keys are deleted when the test lets go of it; control nodes of a
//! cluster as real processes.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::metadata::TestDb;
use super::relay::get_text;
use super::{Proc, poll_until, start_binary_on};

/// The shared engines (overridable for other machines).
pub fn redis_url() -> String {
    std::env::var("REELAY_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned())
}

pub fn nats_url() -> String {
    std::env::var("REELAY_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// The cluster key of every test cluster (hex, 32 bytes).
pub const TEST_CLUSTER_KEY: &str =
    "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";

/// [`TEST_CLUSTER_KEY`] as a node holds it.
pub fn test_keys() -> Arc<reelay::cluster::ClusterKeys> {
    let key = reelay::hex::decode(TEST_CLUSTER_KEY).expect("hex");
    Arc::new(reelay::cluster::ClusterKeys::new(key, None))
}

#[derive(Debug)]
pub struct Namespace {
    pub name: String,
    redis: String,
}

impl Namespace {
    pub fn new() -> Self {
        Self {
            name: reelay::random::id("t").expect("random"),
            redis: redis_url(),
        }
    }

    /// The `[cluster]` section of a node of this cluster on the shared engines.
    pub fn config(&self) -> String {
        self.config_on(&self.redis, &nats_url())
    }

    /// The `[cluster]` section of a node of this cluster on the engines at these URLs.
    pub fn config_on(&self, redis: &str, nats: &str) -> String {
        format!(
            "[cluster]\nname = \"{}\"\nredis = \"{redis}\"\nnats = \"{nats}\"\nkey = \"{TEST_CLUSTER_KEY}\"\n",
            self.name
        )
    }

    fn connection(&self) -> redis::Connection {
        redis::Client::open(self.redis.as_str())
            .and_then(|c| c.get_connection())
            .unwrap_or_else(|e| panic!("Redis is unreachable at {} ({e})", self.redis))
    }

    /// The keys this cluster has in Redis.
    pub fn keys(&self) -> Vec<String> {
        redis::cmd("KEYS")
            .arg(format!("{}:*", self.name))
            .query(&mut self.connection())
            .expect("KEYS")
    }

    /// The raw value at `key` (a whole Redis key), as anyone who reaches Redis reads it.
    pub fn raw_get(&self, key: &str) -> Vec<u8> {
        redis::cmd("GET")
            .arg(key)
            .query::<Option<Vec<u8>>>(&mut self.connection())
            .expect("GET")
            .unwrap_or_else(|| panic!("no value at {key}"))
    }

    /// Writes `value` at `key` (a whole Redis key, kept for ten minutes), as anyone who
    /// reaches Redis can.
    pub fn raw_set(&self, key: &str, value: &[u8]) {
        redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("EX")
            .arg(600)
            .query::<()>(&mut self.connection())
            .expect("SET");
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let keys = self.keys();
        if keys.is_empty() {
            return;
        }
        if let Ok(mut conn) =
            redis::Client::open(self.redis.as_str()).and_then(|c| c.get_connection())
        {
            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}

/// Config of a control node of a cluster: short liveness intervals (an offline edge's
/// recordings stop), the shared recordings folder `rec` under `shared`, `cluster`.
pub fn control_config(shared: &std::path::Path, cluster: &str) -> String {
    format!(
        "[edges]\ninterval = \"500ms\"\nmargin = \"250ms\"\noffline_stops_recordings = true\n\
         [live]\nrecordings_bucket = \"rec\"\nrecordings_shared = true\n\
         {cluster}[[bucket]]\nname = \"rec\"\nfs = \"{}\"\n",
        shared.join("rec").display()
    )
}

/// Control node `name` (data in `dir/name`) of the cluster `ns` on the shared engines.
pub fn start_node(dir: &std::path::Path, name: &str, db: &Arc<TestDb>, ns: &Namespace) -> Proc {
    start_node_with(dir, name, db, &ns.config())
}

/// Control node `name` with the `[cluster]` section `cluster`, once its `/readyz` says every
/// engine it is configured with is connected: a test on a cluster never starts on a bus or a
/// tier that is not there (it would pass on the database fallback without them).
pub fn start_node_with(dir: &std::path::Path, name: &str, db: &Arc<TestDb>, cluster: &str) -> Proc {
    let node = start_node_unready(dir, name, db, cluster);
    wait_ready_blocking(&node);
    node
}

/// Waits (blocking, at most 20 s) until `node`'s `/readyz` answers 200; fails with what it
/// says is down.
fn wait_ready_blocking(node: &Proc) {
    let url = node.url("/readyz");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = super::http_request("GET", &url, None);
        if status == 200 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "node {} never became ready: {status} {}",
            node.addr,
            String::from_utf8_lossy(&body)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Messages of `kind` (`live`, `part`, `changes`) that `node` took from the bus.
pub async fn bus_received(node: &Proc, kind: &str) -> u64 {
    let sample = format!("reelay_cluster_bus_messages_received_total{{kind=\"{kind}\"}}");
    super::metric(node.url("/metrics"), &sample).await
}

/// Waits until `node` has taken at least `at_least` messages of `kind` from the bus: the
/// proof that the bus, not the database fallback, carried what the test saw.
pub async fn assert_bus_carried(node: &Proc, kind: &str, at_least: u64) {
    poll_until(
        &format!("{at_least} {kind} messages on the bus to {}", node.addr),
        Duration::from_secs(10),
        || async move { (bus_received(node, kind).await >= at_least).then_some(()) },
    )
    .await;
}

/// Control node `name`, started without waiting for its engines.
fn start_node_unready(dir: &std::path::Path, name: &str, db: &Arc<TestDb>, cluster: &str) -> Proc {
    std::fs::create_dir_all(dir.join(name)).expect("node dir");
    std::fs::create_dir_all(dir.join("rec")).expect("recordings dir");
    let config = format!("{name}.toml");
    std::fs::write(dir.join(&config), control_config(dir, cluster)).expect("config");
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        name,
        "--config",
        &config,
    ];
    start_binary_on(&args, dir, db.clone())
}

pub async fn edge_online(node: &Proc) -> bool {
    let (status, text) = get_text(node.url("/api/v1/edges/site-a")).await;
    assert_eq!(status, 200, "{text}");
    let edge: Value = serde_json::from_str(&text).expect("json");
    edge["online"].as_bool().expect("online")
}

/// A Redis, NATS or PostgreSQL server of the test's own on a free port, to kill and bring
/// back.
pub struct Engine {
    child: Option<std::process::Child>,
    pub port: u16,
    kind: &'static str,
    argv: Vec<String>,
    dir: tempfile::TempDir,
}

fn sbin(program: &str) -> String {
    let path = format!("/usr/sbin/{program}");
    if std::path::Path::new(&path).exists() {
        path
    } else {
        program.to_owned()
    }
}

/// Debian's PostgreSQL server programs (`/usr/lib/postgresql/<version>/bin`).
fn postgres_bin(program: &str) -> String {
    let mut versions: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server programs must be installed (/usr/lib/postgresql)")
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin").join(program))
        .filter(|p| p.exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("a PostgreSQL version")
        .display()
        .to_string()
}

/// `argv` run as the `postgres` user when the tests run as root (the server refuses root).
fn as_postgres(argv: Vec<String>) -> Vec<String> {
    if rustix::process::getuid().is_root() {
        [
            vec![
                "runuser".into(),
                "-u".into(),
                "postgres".into(),
                "--".into(),
            ],
            argv,
        ]
        .concat()
    } else {
        argv
    }
}

fn run_to_end(argv: &[String]) {
    let out = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Engine {
    pub fn redis() -> Self {
        let port = super::free_port();
        let args = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ];
        let argv = [
            vec![sbin("redis-server")],
            args.iter().map(|s| (*s).to_owned()).collect(),
        ]
        .concat();
        Self::start("redis", argv, port, tempfile::tempdir().expect("tempdir"))
    }

    pub fn nats() -> Self {
        let port = super::free_port();
        let argv = vec![
            sbin("nats-server"),
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ];
        Self::start("nats", argv, port, tempfile::tempdir().expect("tempdir"))
    }

    /// memcached with an item limit of `item_limit` (`-I`, e.g. `4m`).
    pub fn memcached(item_limit: &str) -> Self {
        let port = super::free_port();
        let mut argv = vec![sbin("memcached")];
        if rustix::process::getuid().is_root() {
            argv.extend(["-u".into(), "root".into()]);
        }
        for a in [
            "-l",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-m",
            "128",
            "-I",
            item_limit,
        ] {
            argv.push(a.to_owned());
        }
        Self::start(
            "memcached",
            argv,
            port,
            tempfile::tempdir().expect("tempdir"),
        )
    }

    /// A fresh PostgreSQL cluster (trust auth, user postgres, no fsync) of the test's own.
    pub fn postgres() -> Self {
        let port = super::free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data").display().to_string();
        if rustix::process::getuid().is_root() {
            run_to_end(&[
                "chown".into(),
                "postgres".into(),
                dir.path().display().to_string(),
            ]);
        }
        let init = vec![
            postgres_bin("initdb"),
            "-D".into(),
            data.clone(),
            "-A".into(),
            "trust".into(),
            "-U".into(),
            "postgres".into(),
            "-N".into(),
        ];
        run_to_end(&as_postgres(init));
        let argv = vec![
            postgres_bin("postgres"),
            "-D".into(),
            data,
            "-p".into(),
            port.to_string(),
            "-k".into(),
            dir.path().display().to_string(),
            "-c".into(),
            "listen_addresses=127.0.0.1".into(),
            "-c".into(),
            "fsync=off".into(),
        ];
        Self::start("postgres", as_postgres(argv), port, dir)
    }

    fn start(kind: &'static str, argv: Vec<String>, port: u16, dir: tempfile::TempDir) -> Self {
        let mut engine = Self {
            child: None,
            port,
            kind,
            argv,
            dir,
        };
        engine.resume();
        engine
    }

    pub fn url(&self) -> String {
        match self.kind {
            "redis" => format!("redis://127.0.0.1:{}/0", self.port),
            "nats" => format!("nats://127.0.0.1:{}", self.port),
            "memcached" => format!("memcached://127.0.0.1:{}", self.port),
            _ => format!("postgres://postgres@127.0.0.1:{}/postgres", self.port),
        }
    }

    /// Kills it (SIGKILL: no goodbye to its clients; PostgreSQL's backends go with their
    /// server when it is killed through `runuser`, whose process group this is).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let group = rustix::process::Pid::from_child(&child);
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it (again) on its port and waits until it accepts connections.
    pub fn resume(&mut self) {
        use std::os::unix::process::CommandExt;
        let child = std::process::Command::new(&self.argv[0])
            .args(&self.argv[1..])
            .current_dir(self.dir.path())
            .process_group(0)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{} must be installed (scripts/install-test-deps): {e}",
                    self.kind
                )
            });
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "{} did not start",
                self.kind
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A cluster of control nodes named `names` on one database and namespace, under `dir`.
pub fn start_nodes(dir: &std::path::Path, names: &[&str]) -> (Arc<TestDb>, Namespace, Vec<Proc>) {
    let db = super::metadata::for_dir(&dir.join("cluster"));
    let ns = Namespace::new();
    let nodes = names.iter().map(|n| start_node(dir, n, &db, &ns)).collect();
    (db, ns, nodes)
}

/// Registers edge `site-a` and source `cam` (1 s target) through `api`, starts the edge (data
/// in `dir/edge`) with one `--control` per URL of `controls`, and waits until it knows `cam`.
pub async fn start_cluster_edge(dir: &std::path::Path, api: &str, controls: &[String]) -> Proc {
    use super::relay::post_json;
    let edge = post_json(format!("{api}/api/v1/edges"), r#"{"name":"site-a"}"#).await;
    let token = edge["token"].as_str().expect("token").to_owned();
    let source = r#"{"name":"cam","target_duration":1,"edge":"site-a"}"#;
    post_json(format!("{api}/api/v1/sources"), source).await;
    let mut args = vec!["edge"];
    for control in controls {
        args.extend(["--control", control.as_str()]);
    }
    args.extend([
        "--token",
        &token,
        "--listen",
        "127.0.0.1:0",
        "--data",
        "edge",
    ]);
    let edge = super::start_binary(&args, dir, &[]);
    poll_until("the edge to know cam", Duration::from_secs(20), || {
        let url = edge.url("/api/v1/sources/cam");
        async move { (get_text(url).await.0 == 200).then_some(()) }
    })
    .await;
    edge
}
