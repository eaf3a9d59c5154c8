//! Real processes for tests: external tools (ffmpeg, ffprobe, node…) with a deadline, and the
//! reelay binary itself, started on `127.0.0.1:0` and read for its `listening on` line.

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// Runs a real-process command and returns (success, stdout, stderr); panics if the tool is
/// missing, so a missing install step fails the test instead of skipping it, and kills it after
/// [`TOOL_DEADLINE`] so a stuck tool fails the test instead of hanging the run.
pub fn run_tool(program: &str, args: &[&str]) -> (bool, String, String) {
    run_tool_in(program, args, &[], Path::new("."))
}

/// [`run_tool`] in the directory `cwd` (for a tool that leaves files where it runs), with `env`
/// added to its environment.
pub fn run_tool_in(
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    cwd: &Path,
) -> (bool, String, String) {
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(cwd)
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
    /// Its metadata database (dropped after the process is).
    pub metadata: std::sync::Arc<super::metadata::TestDb>,
    pub addr: SocketAddr,
    pub stderr_lines: std::sync::mpsc::Receiver<String>,
}

/// The directory a node started with `args` in `cwd` keeps its state in (its `--data`, else
/// `cwd`): the key of its metadata database.
pub fn state_dir(args: &[&str], cwd: &Path) -> std::path::PathBuf {
    args.iter()
        .position(|a| *a == "--data")
        .and_then(|i| args.get(i + 1))
        .map_or_else(|| cwd.to_owned(), |d| cwd.join(d))
}

/// Starts the real binary with `args` (in `cwd`) and waits for its `listening on` line.
/// In the Postgres pass the node's metadata database is the one held for its state directory.
pub fn start_binary(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Proc {
    let metadata = super::metadata::for_dir(&state_dir(args, cwd));
    let shared = !super::metadata::postgres();
    start_binary_inner(args, cwd, env, metadata, shared)
}

/// Starts the real binary on the metadata database `metadata` (a node of a cluster).
pub fn start_binary_on(
    args: &[&str],
    cwd: &Path,
    metadata: std::sync::Arc<super::metadata::TestDb>,
) -> Proc {
    start_binary_inner(args, cwd, &[], metadata, false)
}

fn start_binary_inner(
    args: &[&str],
    cwd: &Path,
    env: &[(&str, &str)],
    metadata: std::sync::Arc<super::metadata::TestDb>,
    default_url: bool,
) -> Proc {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut command = Command::new(env!("CARGO_BIN_EXE_reelay"));
    if !default_url {
        command.env("REELAY_METADATA_URL", &metadata.url);
    }
    let mut child = command
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
        metadata,
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

    /// Waits for a stderr line containing `needle`; returns it.
    pub fn wait_for_log(&self, needle: &str) -> String {
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
                return line;
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
    start_binary(&MEDIA_DIR_ARGS, dir, &[])
}

/// The arguments of [`serve_media_dir`].
pub const MEDIA_DIR_ARGS: [&str; 6] = [
    "serve",
    "media",
    "--listen",
    "127.0.0.1:0",
    "--data",
    "data",
];

/// A token of `role` made by `reelay token`: (the secret, its `[[token]]` config entry).
pub fn make_token(role: &str) -> (String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reelay"))
        .args(["token", "--role", role])
        .output()
        .expect("reelay token");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let secret = text
        .split_whitespace()
        .find(|w| w.starts_with("rly_"))
        .expect("a token")
        .to_owned();
    let entry = text[text.find("[[token]]").expect("entry")..].to_owned();
    (secret, entry)
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
