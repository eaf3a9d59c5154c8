//! Test harness: a real reelay server on 127.0.0.1:0 over temporary buckets ([`TestServer`]),
//! the router in process ([`app`]), the one poll-until helper, and content helpers; raw HTTP in
//! [`raw`], real processes in [`process`], per-feature helpers in the other modules.
#![allow(dead_code)]

pub mod app;
pub mod cluster;
pub mod live;
pub mod matrix;
pub mod metadata;
pub mod nginx;
pub mod process;
pub mod raw;
pub mod relay;
pub mod s3;
pub mod wire;

pub use process::{
    MEDIA_DIR_ARGS, Proc, make_token, run_binary, run_tool, run_tool_in, serve_media_dir,
    start_binary, start_binary_on,
};
pub use raw::{http_request, parse_multipart, raw_get};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use reelay::http::{AppState, Front, ServerOptions, Services, app, serve};
use reelay::live::{Live, LiveSettings};
use reelay::storage::Buckets;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Modification time given to generated files, so date conditions are deterministic.
pub const FIXED_MTIME: u64 = 1_600_000_000;

/// Deterministic, non-repeating-looking content of `len` bytes.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(7919) ^ (i >> 8).wrapping_mul(31)) as u8)
        .collect()
}

pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `bytes` to `path` and sets its mtime to [`FIXED_MTIME`].
pub fn write_fixed(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, bytes).expect("write");
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open");
    file.set_modified(UNIX_EPOCH + Duration::from_secs(FIXED_MTIME))
        .expect("set mtime");
}

/// A live relay on `services`' database and reads, buffering under `dir`.
pub fn live_on(services: &Services, dir: &Path, settings: LiveSettings) -> Live {
    Live::new(
        services.db.clone(),
        dir,
        settings,
        services.buckets.reads().clone(),
    )
}

/// Replaces the node's live relay with one on `settings` (under a new folder), counted on the
/// node's metrics and recording where the one it replaces recorded, as `node.rs` wires them.
pub fn replace_live(services: &mut Services, settings: LiveSettings) {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let recordings = services
        .live
        .as_ref()
        .and_then(|l| l.recordings().ok().cloned());
    let mut live = live_on(services, &dir, settings).with_metrics(services.metrics.live.clone());
    if let Some(recordings) = recordings {
        live = live.with_recordings(recordings);
    }
    services.live = Some(std::sync::Arc::new(live));
}

/// Services over `buckets` with a real database for `dir` (SQLite, or Postgres in the
/// Postgres pass: hold [`metadata::for_dir`] as long as the services); `loopback` decides
/// whether the node may run open (no tokens).
pub async fn test_services(dir: &Path, buckets: Buckets, loopback: bool) -> Services {
    let url = metadata::for_dir(dir).url.clone();
    test_services_on(&url, dir, buckets, loopback).await
}

/// [`test_services`] on the metadata database at `url`.
pub async fn test_services_on(url: &str, dir: &Path, buckets: Buckets, loopback: bool) -> Services {
    let db = reelay::db::connect(url).await.expect("database");
    let tokens = reelay::auth::TokenStore::new(db.clone(), Vec::new())
        .await
        .expect("token store");
    let auth = reelay::auth::Auth {
        tokens,
        signing: reelay::auth::sign::SigningKeys::new(
            b"test-signing-key-0123456789abcdef".to_vec(),
            None,
        ),
        loopback,
        public_buckets: Default::default(),
        hosts: Default::default(),
    };
    let mut services = Services::new(buckets, auth, db.clone());
    // Counted on the node's metrics, as `node.rs` wires them.
    let live = live_on(&services, dir, LiveSettings::default())
        .with_metrics(services.metrics.live.clone());
    let rec_dir = dir.join("recordings-bucket");
    std::fs::create_dir_all(&rec_dir).expect("recordings dir");
    let rec_bucket = reelay::storage::Bucket::fs(&rec_dir, services.buckets.reads().clone())
        .expect("recordings bucket");
    let live = live.with_recordings(reelay::live::recordings::Recordings {
        db,
        bucket: rec_bucket,
    });
    services.live = Some(std::sync::Arc::new(live));
    services
}

/// The buckets `add` makes, then each sub-folder of `dir` as an fs bucket.
pub fn folder_buckets(dir: &Path, add: impl FnOnce(&mut Buckets)) -> Buckets {
    let mut buckets = Buckets::with_data_dir(dir.to_owned());
    add(&mut buckets);
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.file_name().into_string().expect("utf8"))
        .collect();
    names.sort();
    for name in names {
        buckets.add_fs(&name, &dir.join(&name)).expect("bucket");
    }
    buckets
}

/// A running server; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    pub dir: tempfile::TempDir,
    /// Its metadata database, kept while the server runs.
    pub metadata: std::sync::Arc<metadata::TestDb>,
    stop: Option<oneshot::Sender<()>>,
}

impl TestServer {
    /// Serves each sub-folder of a fresh temp dir as a bucket; `setup` fills the dir first.
    /// Served as `reelay serve` serves: the direct path (`http/transport/direct.rs`) in front of the router.
    pub async fn start(setup: impl FnOnce(&Path)) -> Self {
        Self::start_full(setup, Front::new, ServerOptions::default()).await
    }

    /// Like [`start`], with a hook to wrap the router (e.g. to observe requests). Every
    /// request goes through the wrapped router: no direct media path (`http/transport/direct.rs`), which
    /// would answer media requests beside it.
    pub async fn start_with(
        setup: impl FnOnce(&Path),
        wrap: impl FnOnce(Router) -> Router,
    ) -> Self {
        let front = |router, _: &AppState| Front::from(wrap(router));
        Self::start_full(setup, front, ServerOptions::default()).await
    }

    /// Like [`start`], with connection limits of the test's choosing.
    pub async fn start_with_options(setup: impl FnOnce(&Path), options: ServerOptions) -> Self {
        Self::start_full(setup, Front::new, options).await
    }

    async fn start_full(
        setup: impl FnOnce(&Path),
        front: impl FnOnce(Router, &AppState) -> Front,
        options: ServerOptions,
    ) -> Self {
        Self::start_custom(setup, |_| {}, front, options).await
    }

    /// Serves fs buckets from `setup` plus whatever `add` puts in the bucket set.
    pub async fn start_with_buckets(
        setup: impl FnOnce(&Path),
        add: impl FnOnce(&mut Buckets),
    ) -> Self {
        Self::start_custom(setup, add, Front::new, ServerOptions::default()).await
    }

    /// Serves the buckets `add` makes, with the state adjusted by `configure`.
    pub async fn start_with_buckets_configured(
        add: impl FnOnce(&mut Buckets),
        configure: impl FnOnce(&mut Services),
    ) -> Self {
        Self::start_inner(|_| {}, add, configure, Front::new, ServerOptions::default()).await
    }

    /// Like [`start`], with a hook to adjust the state (limits, …) before serving.
    pub async fn start_configured(
        setup: impl FnOnce(&Path),
        configure: impl FnOnce(&mut Services),
    ) -> Self {
        Self::start_inner(
            setup,
            |_| {},
            configure,
            Front::new,
            ServerOptions::default(),
        )
        .await
    }

    async fn start_custom(
        setup: impl FnOnce(&Path),
        add: impl FnOnce(&mut Buckets),
        front: impl FnOnce(Router, &AppState) -> Front,
        options: ServerOptions,
    ) -> Self {
        Self::start_inner(setup, add, |_| {}, front, options).await
    }

    async fn start_inner(
        setup: impl FnOnce(&Path),
        add: impl FnOnce(&mut Buckets),
        configure: impl FnOnce(&mut Services),
        front: impl FnOnce(Router, &AppState) -> Front,
        options: ServerOptions,
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let metadata = metadata::for_dir(dir.path());
        Self::start_on(dir, metadata, setup, add, configure, front, options).await
    }

    /// A second node of `other`'s cluster: its own directory, `other`'s metadata database.
    pub async fn start_sharing(other: &TestServer) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let metadata = other.metadata.clone();
        let options = ServerOptions::default();
        Self::start_on(dir, metadata, |_| {}, |_| {}, |_| {}, Front::new, options).await
    }

    async fn start_on(
        dir: tempfile::TempDir,
        metadata: std::sync::Arc<metadata::TestDb>,
        setup: impl FnOnce(&Path),
        add: impl FnOnce(&mut Buckets),
        configure: impl FnOnce(&mut Services),
        front: impl FnOnce(Router, &AppState) -> Front,
        options: ServerOptions,
    ) -> Self {
        setup(dir.path());
        let buckets = folder_buckets(dir.path(), add);
        let mut services = test_services_on(&metadata.url, dir.path(), buckets, true).await;
        configure(&mut services);
        let state = AppState::new(services);
        let front = front(app(state.clone()), &state);
        // Counted on this node's metrics, as `reelay serve` counts them.
        let options = ServerOptions {
            meters: state.metrics.connections.clone(),
            ..options
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(serve(listener, front, options, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            state,
            dir,
            metadata,
            stop: Some(stop),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

/// A second listener on a running server's state, serving through the router alone (no direct
/// media path): what the direct path's answers are compared against. Stops when dropped.
pub struct RoutedServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl RoutedServer {
    pub async fn start(state: &AppState) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel();
        let front = Front::from(app(state.clone()));
        tokio::spawn(serve(listener, front, ServerOptions::default(), async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for RoutedServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Polls `check` every 20 ms until it returns `Some`, failing the test after `limit`: for
/// effects that no event announces (a buffer freed, a segment listed). Where the system offers
/// a readiness signal, a test waits on that instead.
pub async fn poll_until<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `GET url`: the status and the body as text.
pub async fn get_text(url: String) -> (u16, String) {
    let resp = reqwest::get(url).await.expect("get");
    (resp.status().as_u16(), resp.text().await.expect("text"))
}

/// LL-HLS requests `server` holds now, waiting for their part or segment to be published.
pub fn held_requests(server: &TestServer) -> i64 {
    server
        .state
        .live
        .as_ref()
        .expect("live relay")
        .metrics()
        .held
        .get()
}

/// Waits until `server` holds at least one LL-HLS request: the proof that a request asked
/// for a point not yet published is waiting rather than answered.
pub async fn until_held(server: &TestServer) {
    wait_until("a request to be held", Duration::from_secs(10), || {
        held_requests(server) >= 1
    })
    .await;
}

/// The value of `sample` — a metric's name and label set as `/metrics` writes them, e.g.
/// `reelay_cluster_bus_messages_received_total{kind="live"}` — in the exposition at
/// `metrics_url`; 0 when the node has no such sample yet (a labelled counter appears on its
/// first count).
pub async fn metric(metrics_url: String, sample: &str) -> u64 {
    let (status, text) = get_text(metrics_url).await;
    assert_eq!(status, 200, "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
        .map_or(0, |v| {
            v.trim()
                .parse()
                .unwrap_or_else(|e| panic!("{sample} {v}: {e}"))
        })
}

/// [`poll_until`] for a condition that needs no await.
pub async fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    poll_until(what, limit, || {
        std::future::ready(condition().then_some(()))
    })
    .await
}

/// `now` as seconds since the epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

pub fn http_date(secs: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Reads the rest of a response body: the bytes, and whether it ended with an error (an
/// aborted response) rather than cleanly.
pub async fn drain_until_error(
    body: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    into: &mut Vec<u8>,
) -> bool {
    use futures_util::StreamExt;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => into.extend_from_slice(&c),
            Err(_) => return true,
        }
    }
    false
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
    probe.local_addr().expect("addr").port()
}

/// `viewers` concurrent whole-object GETs of `urls` (round robin); each body must hash to
/// `want` (a sha256 in hex).
pub async fn concurrent_viewers(urls: &[String], viewers: usize, want: &str) {
    let client = reqwest::Client::new();
    let gets: Vec<_> = (0..viewers)
        .map(|i| {
            let url = urls[i % urls.len()].clone();
            let (client, want) = (client.clone(), want.to_owned());
            tokio::spawn(async move {
                let body = client
                    .get(url)
                    .send()
                    .await
                    .expect("get")
                    .bytes()
                    .await
                    .expect("body");
                assert_eq!(sha256(&body), want, "a viewer got different bytes");
            })
        })
        .collect();
    for get in gets {
        get.await.expect("viewer");
    }
}

/// Peak resident memory of a process, from /proc.
pub fn peak_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM");
    kib * 1024
}
