//! A real nginx (Debian package) as an HTTP origin for tests: foreground process on a free
//! loopback port, serving a temp folder; its access log records each response's body bytes.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Nginx {
    pub root: tempfile::TempDir,
    prefix: tempfile::TempDir,
    pub port: u16,
    child: Child,
}

fn nginx_binary() -> &'static str {
    if std::path::Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

impl Nginx {
    /// Starts nginx; `extra` is added inside its `server { }` block (`PORT` is replaced).
    pub fn start(extra: &str) -> Self {
        Self::start_with("", extra)
    }

    /// Like [`Nginx::start`], with `http_extra` in the `http { }` block (an `upstream`).
    pub fn start_with(http_extra: &str, extra: &str) -> Self {
        let root = tempfile::tempdir().expect("root");
        let prefix = tempfile::tempdir().expect("prefix");
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
            probe.local_addr().expect("addr").port()
        };
        let p = prefix.path().display();
        let conf = format!(
            "worker_processes 1;\ndaemon off;\nmaster_process off;\npid {p}/nginx.pid;\n\
             error_log {p}/error.log warn;\nevents {{ worker_connections 1024; }}\n\
             http {{\n  include /etc/nginx/mime.types;\n  log_format bytes '$body_bytes_sent';\n\
             access_log {p}/access.log bytes;\n  sendfile on;\n  client_body_temp_path {p}/cb;\n\
             proxy_temp_path {p}/px;\n  fastcgi_temp_path {p}/fc;\n  uwsgi_temp_path {p}/uw;\n\
             scgi_temp_path {p}/sc;\n  {http_extra}\n  server {{\n    listen 127.0.0.1:{port};\n    root {};\n    {}\n  }}\n}}\n",
            root.path().display(),
            extra.replace("PORT", &port.to_string())
        );
        let conf_path = prefix.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("conf");
        let child = Command::new(nginx_binary())
            .args([
                "-c",
                conf_path.to_str().expect("utf8"),
                "-p",
                &p.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("nginx must be installed (scripts/install-test-deps): {e}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            root,
            prefix,
            port,
            child,
        }
    }

    pub fn base(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn file(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// Body bytes nginx has sent, from its access log: one line per response, written when
    /// the response ends (no log yet is no response yet: 0).
    pub fn body_bytes_sent(&self) -> u64 {
        let log = self.prefix.path().join("access.log");
        let text = match std::fs::read_to_string(&log) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return 0,
            Err(e) => panic!("{}: {e}", log.display()),
        };
        text.lines()
            .map(|l| {
                l.trim()
                    .parse::<u64>()
                    .unwrap_or_else(|e| panic!("access log line {l:?}: {e}"))
            })
            .sum()
    }

    /// Waits (at most 10 s) until nginx's access log accounts for at least `at_least` body
    /// bytes — its responses are logged as they end, a moment after the client read them —
    /// and returns what it accounts for then.
    pub async fn body_bytes_sent_at_least(&self, at_least: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let sent = self.body_bytes_sent();
            if sent >= at_least {
                return sent;
            }
            assert!(
                Instant::now() < deadline,
                "nginx logged {sent} body bytes, fewer than the {at_least} its clients received"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
