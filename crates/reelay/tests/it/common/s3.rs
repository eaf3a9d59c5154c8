//! A real S3 server for tests: `s3s-fs` (installed by `scripts/install-test-deps`), started on a
//! port it picks itself; readiness is its "server is running at" line. Objects are plain files
//! under `dir/<bucket>/<key>`, so tests can set mtimes and replace objects directly.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use reelay::storage::s3::{ProfileSettings, S3Bucket, S3Profile};

pub const ACCESS_KEY: &str = "reelay-test-access";
pub const SECRET_KEY: &str = "reelay-test-secret-0123456789";

pub struct S3Server {
    pub dir: tempfile::TempDir,
    pub endpoint: String,
    port: u16,
    child: Option<Child>,
}

fn spawn(root: &std::path::Path, port: u16) -> (Child, String) {
    let mut child = Command::new("s3s-fs")
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .arg(root)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("s3s-fs must be installed (scripts/install-test-deps): {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !sent && let Some(i) = line.find("server is running at ") {
                let url = line[i + "server is running at ".len()..].trim().to_owned();
                let _ = tx.send(url);
                sent = true;
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("s3s-fs announced its address");
    (child, url)
}

impl S3Server {
    /// Starts s3s-fs over a fresh directory with the given buckets created.
    pub fn start(buckets: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for b in buckets {
            std::fs::create_dir_all(dir.path().join(b)).expect("bucket dir");
        }
        let (child, endpoint) = spawn(dir.path(), 0);
        let port = endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port");
        Self {
            dir,
            endpoint,
            port,
            child: Some(child),
        }
    }

    /// The file behind `bucket/key`.
    /// A node config file: listen on a free port, data in `data`, and bucket `s3` on this
    /// server's bucket `media`.
    pub fn node_config(&self) -> String {
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\n\
             [[s3]]\nname = \"local\"\nendpoint = \"{}\"\naccess_key = \"{ACCESS_KEY}\"\nsecret_key = \"{SECRET_KEY}\"\n\
             [[bucket]]\nname = \"s3\"\ns3 = \"local\"\ns3_bucket = \"media\"\n",
            self.endpoint
        )
    }

    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.dir.path().join(bucket).join(key)
    }

    /// Kills the server (SIGKILL) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.kill();
        let (child, _) = spawn(self.dir.path(), self.port);
        self.child = Some(child);
    }

    /// Profile settings for this server (short timeouts so fault tests finish quickly).
    pub fn profile(&self, secret: &str) -> ProfileSettings {
        ProfileSettings {
            name: "test".into(),
            endpoint: self.endpoint.parse().expect("endpoint url"),
            region: "us-east-1".into(),
            path_style: true,
            credentials: Some((ACCESS_KEY.into(), secret.into())),
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(3),
            part_size: 8 << 20,
            meta_ttl: Duration::from_secs(5),
        }
    }

    /// A reelay bucket over `remote` on this server.
    pub fn bucket(&self, settings: ProfileSettings, remote: &str) -> S3Bucket {
        let profile = Arc::new(S3Profile::new(settings).expect("profile"));
        S3Bucket::new(profile, remote).expect("bucket")
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP proxy in front of a store, counting what crosses it: bytes from the store,
/// connections closed from reelay's side, and every request reelay made (`METHOD target`).
pub struct StoreProxy {
    pub endpoint: String,
    pub from_store: Arc<std::sync::atomic::AtomicU64>,
    pub closed: Arc<std::sync::atomic::AtomicUsize>,
    requests: Arc<std::sync::Mutex<Vec<String>>>,
}

impl StoreProxy {
    /// The requests the store was sent so far, in the order they went out (per connection).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("requests").clone()
    }

    /// Starts a proxy in front of an `s3` server and returns it with the profile settings
    /// that reach the store through it.
    pub async fn in_front_of(s3: &S3Server) -> (Self, ProfileSettings) {
        let proxy = Self::start(&s3.endpoint).await;
        let mut settings = s3.profile(SECRET_KEY);
        settings.endpoint = proxy.endpoint.parse().expect("url");
        (proxy, settings)
    }

    pub async fn start(upstream: &str) -> Self {
        use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let from_store = Arc::new(AtomicU64::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (bytes, ends, log) = (from_store.clone(), closed.clone(), requests.clone());
        let target = upstream.trim_start_matches("http://").to_owned();
        tokio::spawn(async move {
            while let Ok((mut from_reelay, _)) = listener.accept().await {
                let (target, bytes, ends) = (target.clone(), bytes.clone(), ends.clone());
                let mut reader = super::wire::RequestReader::new(log.clone());
                tokio::spawn(async move {
                    let Ok(mut to_store) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut rr, mut rw) = from_reelay.split();
                    let (mut sr, mut sw) = to_store.split();
                    let upward = async {
                        let mut buf = vec![0u8; 64 << 10];
                        while let Ok(n) = rr.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                            reader.feed(&buf[..n]);
                            if sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        // reelay's side ended: it closed (or reset) the connection.
                        ends.fetch_add(1, Ordering::SeqCst);
                    };
                    let downward = async {
                        let mut buf = vec![0u8; 64 << 10];
                        while let Ok(n) = sr.read(&mut buf).await {
                            if n == 0 || rw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                            bytes.fetch_add(n as u64, Ordering::SeqCst);
                        }
                    };
                    tokio::select! {
                        () = upward => {}
                        () = downward => {}
                    }
                });
            }
        });
        Self {
            endpoint,
            from_store,
            closed,
            requests,
        }
    }
}
