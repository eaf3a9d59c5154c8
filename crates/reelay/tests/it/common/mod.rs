//! Test harness: a real reelay server on 127.0.0.1:0 over temporary buckets, a raw HTTP/1.1
//! client for requests that ordinary clients would normalise, and helpers to check bodies.
#![allow(dead_code)]

pub mod app;
pub mod live;
pub mod matrix;
pub mod nginx;
pub mod relay;
pub mod s3;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use reelay::http::{AppState, ServerOptions, Services, app, serve};
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

/// Services over `buckets` with a real SQLite database under `dir`; `loopback` decides whether
/// the node may run open (no tokens).
pub async fn test_services(dir: &Path, buckets: Buckets, loopback: bool) -> Services {
    let url = format!("sqlite://{}?mode=rwc", dir.join("reelay.db").display());
    let db = reelay::db::connect(&url).await.expect("database");
    let tokens = reelay::auth::TokenStore::new(db.clone(), Vec::new())
        .await
        .expect("token store");
    let auth = reelay::auth::Auth {
        tokens,
        signing_key: b"test-signing-key-0123456789abcdef".to_vec(),
        loopback,
        public_buckets: Default::default(),
    };
    let mut services = Services::new(buckets, auth, db.clone());
    let mut live = live_on(&services, dir, LiveSettings::default());
    let rec_dir = dir.join("recordings-bucket");
    std::fs::create_dir_all(&rec_dir).expect("recordings dir");
    let rec_bucket = reelay::storage::Bucket::fs(&rec_dir, services.buckets.reads().clone())
        .expect("recordings bucket");
    live.recordings = Some(reelay::live::recordings::Recordings {
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
    stop: Option<oneshot::Sender<()>>,
}

impl TestServer {
    /// Serves each sub-folder of a fresh temp dir as a bucket; `setup` fills the dir first.
    pub async fn start(setup: impl FnOnce(&Path)) -> Self {
        Self::start_with(setup, |router| router).await
    }

    /// Like [`start`], with a hook to wrap the router (e.g. to observe requests).
    pub async fn start_with(
        setup: impl FnOnce(&Path),
        wrap: impl FnOnce(Router) -> Router,
    ) -> Self {
        Self::start_full(setup, wrap, ServerOptions::default()).await
    }

    /// Like [`start`], with connection limits of the test's choosing.
    pub async fn start_with_options(setup: impl FnOnce(&Path), options: ServerOptions) -> Self {
        Self::start_full(setup, |router| router, options).await
    }

    async fn start_full(
        setup: impl FnOnce(&Path),
        wrap: impl FnOnce(Router) -> Router,
        options: ServerOptions,
    ) -> Self {
        Self::start_custom(setup, |_| {}, wrap, options).await
    }

    /// Serves fs buckets from `setup` plus whatever `add` puts in the bucket set.
    pub async fn start_with_buckets(
        setup: impl FnOnce(&Path),
        add: impl FnOnce(&mut Buckets),
    ) -> Self {
        Self::start_custom(setup, add, |router| router, ServerOptions::default()).await
    }

    /// Serves the buckets `add` makes, with the state adjusted by `configure`.
    pub async fn start_with_buckets_configured(
        add: impl FnOnce(&mut Buckets),
        configure: impl FnOnce(&mut Services),
    ) -> Self {
        Self::start_inner(
            |_| {},
            add,
            configure,
            |router| router,
            ServerOptions::default(),
        )
        .await
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
            |router| router,
            ServerOptions::default(),
        )
        .await
    }

    async fn start_custom(
        setup: impl FnOnce(&Path),
        add: impl FnOnce(&mut Buckets),
        wrap: impl FnOnce(Router) -> Router,
        options: ServerOptions,
    ) -> Self {
        Self::start_inner(setup, add, |_| {}, wrap, options).await
    }

    async fn start_inner(
        setup: impl FnOnce(&Path),
        add: impl FnOnce(&mut Buckets),
        configure: impl FnOnce(&mut Services),
        wrap: impl FnOnce(Router) -> Router,
        options: ServerOptions,
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        setup(dir.path());
        let buckets = folder_buckets(dir.path(), add);
        let mut services = test_services(dir.path(), buckets, true).await;
        configure(&mut services);
        let state = AppState::new(services);
        let router = wrap(app(state.clone()));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(serve(listener, router, options, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            state,
            dir,
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

/// [`poll_until`] for a condition that needs no await.
pub async fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    poll_until(what, limit, || {
        std::future::ready(condition().then_some(()))
    })
    .await
}

/// A response read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `GET {target}` exactly as written (no normalisation) and reads the whole response.
/// Blocking; call from `spawn_blocking` or a plain test.
pub fn raw_get(addr: SocketAddr, target: &str) -> RawResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    parse_raw_response(&raw)
}

fn parse_raw_response(raw: &[u8]) -> RawResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// One part of a `multipart/byteranges` body.
#[derive(Debug, PartialEq, Eq)]
pub struct Part {
    pub content_type: String,
    pub content_range: String,
    pub body: Vec<u8>,
}

/// Parses a `multipart/byteranges` body strictly: delimiters, part headers, CRLFs, close.
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Vec<Part> {
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .expect("multipart content type");
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body
        .strip_prefix(delimiter.as_bytes())
        .expect("body starts with the delimiter");
    loop {
        if rest == b"--\r\n" {
            return parts;
        }
        rest = rest.strip_prefix(b"\r\n").expect("CRLF after delimiter");
        let head_end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("part head");
        let head = String::from_utf8(rest[..head_end].to_vec()).expect("utf8 head");
        let mut content_type = String::new();
        let mut content_range = String::new();
        for line in head.split("\r\n") {
            let (k, v) = line.split_once(": ").expect("header line");
            match k {
                "Content-Type" => content_type = v.to_owned(),
                "Content-Range" => content_range = v.to_owned(),
                other => panic!("unexpected part header {other}"),
            }
        }
        let data = &rest[head_end + 4..];
        let next = format!("\r\n{delimiter}");
        let end = data
            .windows(next.len())
            .position(|w| w == next.as_bytes())
            .expect("next delimiter");
        parts.push(Part {
            content_type,
            content_range,
            body: data[..end].to_vec(),
        });
        rest = &data[end + next.len()..];
    }
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

/// Runs a real-process command and returns (success, stdout, stderr); panics if the tool is
/// missing, so a missing install step fails the test instead of skipping it, and kills it after
/// [`TOOL_DEADLINE`] so a stuck tool fails the test instead of hanging the run.
pub fn run_tool(program: &str, args: &[&str]) -> (bool, String, String) {
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} must be installed (scripts/install-test-deps): {e}"));
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = std::time::Instant::now() + TOOL_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{program} {args:?} ran longer than {TOOL_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.success(),
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    )
}

/// Longest a test's external tool may run.
pub const TOOL_DEADLINE: Duration = Duration::from_secs(120);

/// A `reelay` process started by a test; killed if still running when dropped.
pub struct Proc {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    pub stderr_lines: std::sync::mpsc::Receiver<String>,
}

/// Starts the real binary with `args` (in `cwd`) and waits for its `listening on` line.
pub fn start_binary(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Proc {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_reelay"))
        .args(args)
        .current_dir(cwd)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn reelay");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let _ = line_tx.send(line.unwrap_or_default());
        }
    });
    let (err_tx, stderr_lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let _ = err_tx.send(line.unwrap_or_default());
        }
    });
    let line = line_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("reelay printed its listening line");
    let addr = line
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("socket address");
    Proc {
        child,
        addr,
        stderr_lines,
    }
}

impl Proc {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for a stderr line containing `needle`.
    pub fn wait_for_log(&self, needle: &str) {
        let mut seen = Vec::new();
        loop {
            let line = self
                .stderr_lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|e| {
                    panic!(
                        "no log line containing {needle:?} ({e}); it logged:\n{}",
                        seen.join("\n")
                    )
                });
            if line.contains(needle) {
                return;
            }
            seen.push(line);
        }
    }

    /// Waits for the process to exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "reelay did not exit in {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            // The test failed: what the process logged is part of the story.
            let lines: Vec<String> = self.stderr_lines.try_iter().collect();
            eprintln!("--- reelay at {} logged:\n{}", self.addr, lines.join("\n"));
        }
    }
}

/// The real binary serving `dir/media` (created if missing) as the bucket `media`, open on
/// loopback, with its data under `dir/data`.
pub fn serve_media_dir(dir: &Path) -> Proc {
    std::fs::create_dir_all(dir.join("media")).expect("media dir");
    let args = [
        "serve",
        "media",
        "--listen",
        "127.0.0.1:0",
        "--data",
        "data",
    ];
    start_binary(&args, dir, &[])
}

/// Runs the binary to completion (for startup errors): (success, stderr).
pub fn run_binary(args: &[&str], cwd: &Path) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reelay"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run reelay");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A blocking HTTP/1.1 request, sent exactly as written, with an empty body and an optional
/// bearer token; returns the status and the body (de-chunked). For process tests.
pub fn http_request(method: &str, url: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").expect("http");
    let (host, path) = rest.split_at(rest.find('/').expect("path"));
    let mut s = TcpStream::connect(host).expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n",
        method.to_uppercase()
    )
    .expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let response = parse_raw_response(&raw);
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(&response.body)
    } else {
        response.body
    };
    (response.status, body)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size");
        let size = std::str::from_utf8(&body[..end])
            .ok()
            .and_then(|h| usize::from_str_radix(h.trim(), 16).ok())
            .expect("chunk size");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 4 + size..];
    }
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
