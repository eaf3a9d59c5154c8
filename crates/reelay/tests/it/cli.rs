//! The real binary: `reelay serve` startup, configuration errors, and graceful shutdown.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{pattern, run_binary, sha256, start_binary, write_fixed};

#[test]
fn serve_with_no_folders_creates_the_data_dir_and_prints_the_real_port() {
    let cwd = tempfile::tempdir().expect("tempdir");
    let mut proc = start_binary(&["serve", "--listen", "127.0.0.1:0"], cwd.path(), &[]);
    assert_ne!(proc.addr.port(), 0, "the printed port is the bound one");
    assert!(cwd.path().join("reelay-data/buckets").is_dir());
    let body = get_text(&proc.url("/healthz"));
    assert_eq!(body, "ok\n");
    proc.terminate();
    assert!(
        proc.wait_exit(Duration::from_secs(15)).success(),
        "exit 0 on SIGTERM"
    );
}

/// The body of a plain GET, as text.
fn get_text(url: &str) -> String {
    let (status, body) = common::http_request("GET", url, None);
    assert_eq!(status, 200, "GET {url}");
    String::from_utf8(body).expect("utf8")
}

#[test]
fn folders_on_the_command_line_become_buckets_and_env_sets_the_listen_address() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write_fixed(&tmp.path().join("Movies/clip.mp4"), b"movie bytes");
    let movies = tmp.path().join("Movies");
    let proc = start_binary(
        &["serve", movies.to_str().expect("utf8"), "--data", "d"],
        tmp.path(),
        &[("REELAY_LISTEN", "127.0.0.1:0")],
    );
    assert_eq!(get_text(&proc.url("/media/Movies/clip.mp4")), "movie bytes");
}

#[test]
fn one_folder_served_lets_watch_leave_out_the_bucket_and_two_need_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write_fixed(&tmp.path().join("Videos/clip.mp4"), b"one folder");
    write_fixed(&tmp.path().join("More/other.mp4"), b"another");
    let videos = tmp.path().join("Videos");
    let more = tmp.path().join("More");
    let (videos, more) = (videos.to_str().expect("utf8"), more.to_str().expect("utf8"));
    // `reelay serve ~/Videos`: the recordings bucket is there too, and does not count.
    let one = start_binary(
        &["serve", videos, "--listen", "127.0.0.1:0"],
        tmp.path(),
        &[],
    );
    assert_eq!(get_text(&one.url("/watch?v=clip.mp4")), "one folder");
    let two = start_binary(
        &[
            "serve",
            videos,
            more,
            "--listen",
            "127.0.0.1:0",
            "--data",
            "d2",
        ],
        tmp.path(),
        &[],
    );
    let (status, body) = common::http_request("GET", &two.url("/watch?v=clip.mp4"), None);
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("bucket parameter"));
    assert_eq!(
        get_text(&two.url("/watch?v=other.mp4&bucket=More")),
        "another"
    );
}

#[test]
fn json_logs_are_one_object_a_line_with_the_request_id() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("r.toml"), "[log]\nformat = \"json\"\n").expect("config");
    let proc = start_binary(
        &["serve", "--listen", "127.0.0.1:0", "--config", "r.toml"],
        tmp.path(),
        &[("REELAY_LOG", "debug")],
    );
    let mut s = TcpStream::connect(proc.addr).expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: json-log-check-1\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    assert!(
        answer.contains("x-request-id: json-log-check-1"),
        "{answer}"
    );
    let mut seen = Vec::new();
    let line = loop {
        let line = proc
            .stderr_lines
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no line with the request id in:\n{}", seen.join("\n")));
        let value: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not one JSON object a line ({e}): {line}"));
        if value["span"]["id"] == "json-log-check-1" {
            break value;
        }
        seen.push(line);
    };
    assert_eq!(line["span"]["path"], "/healthz");
    assert!(
        line["level"].is_string() && line["timestamp"].is_string(),
        "{line}"
    );
}

/// `GET path` with `X-Request-Id: id` on `addr`, read to the end.
fn get_with_id(addr: std::net::SocketAddr, path: &str, id: &str) {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: {id}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
}

/// The next stderr line of `proc` that contains `want` (panicking with what it saw when none
/// comes within 10 s).
fn next_line_with(proc: &common::Proc, want: &str) -> String {
    let mut seen = Vec::new();
    loop {
        let line = proc
            .stderr_lines
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no line with {want} in:\n{}", seen.join("\n")));
        if line.contains(want) {
            return line;
        }
        seen.push(line);
    }
}

#[test]
fn text_logs_name_the_request_once_and_a_span_directive_picks_out_one_request() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // A plain level list: the request's tag, no span.
    let plain = start_binary(
        &["serve", "--listen", "127.0.0.1:0", "--data", "d1"],
        tmp.path(),
        &[("REELAY_LOG", "debug")],
    );
    get_with_id(plain.addr, "/healthz", "text-log-1");
    let line = next_line_with(&plain, "responded");
    assert!(
        line.contains(" DEBUG request{id=text-log-1 method=GET path=/healthz}: "),
        "{line}"
    );
    assert_eq!(line.matches("request{").count(), 1, "{line}");
    // A span directive: the debug lines of the one request it names, printed from its span.
    let picked = start_binary(
        &["serve", "--listen", "127.0.0.1:0", "--data", "d2"],
        tmp.path(),
        &[("REELAY_LOG", "info,reelay[request{id=picked-2}]=debug")],
    );
    get_with_id(picked.addr, "/healthz", "other-3");
    get_with_id(picked.addr, "/healthz", "picked-2");
    // other-3 was answered first: had it logged at debug, its line would come first.
    let line = next_line_with(&picked, "responded");
    assert!(
        line.contains("request{id=picked-2 method=GET path=/healthz}"),
        "{line}"
    );
    assert_eq!(line.matches("request{").count(), 1, "{line}");
}

#[test]
fn config_file_buckets_are_served() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write_fixed(&tmp.path().join("srv/a.mp4"), b"from config");
    let cfg = tmp.path().join("reelay.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\n[[bucket]]\nname = \"cfg\"\nfs = \"{}\"\n\
             cache_control = \"public, max-age=86400\"\n",
            tmp.path().join("srv").display()
        ),
    )
    .expect("write config");
    let proc = start_binary(&["serve", "--config", "reelay.toml"], tmp.path(), &[]);
    assert_eq!(get_text(&proc.url("/media/cfg/a.mp4")), "from config");
    // The bucket's Cache-Control, for a CDN in front (others answer no-cache).
    let answer = common::raw_get(proc.addr, "/media/cfg/a.mp4");
    assert_eq!(
        answer.header("cache-control"),
        Some("public, max-age=86400")
    );
}

#[test]
fn configuration_mistakes_are_clear_startup_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("typo.toml"), "listn = \"127.0.0.1:0\"\n").expect("write");
    std::fs::write(
        tmp.path().join("size.toml"),
        "[server]\nread_budget = \"12 parsecs\"\n",
    )
    .expect("write");
    std::fs::write(tmp.path().join("nofs.toml"), "[[bucket]]\nname = \"x\"\n").expect("write");
    std::fs::write(
        tmp.path().join("cors.toml"),
        "[server]\ncors_origins = [\"*\"]\n",
    )
    .expect("write");
    std::fs::write(tmp.path().join("s3.toml"), "[[s3]]\nname = \"p\"\nendpoint = \"http://127.0.0.1:9\"\naccess_key_env = \"REELAY_TEST_UNSET_VAR\"\nsecret_key = \"x\"\n").expect("write");
    std::fs::write(
        tmp.path().join("cc.toml"),
        "[[bucket]]\nname = \"x\"\nfs = \".\"\ncache_control = \"public\\nSet-Cookie: a=1\"\n",
    )
    .expect("write");
    std::fs::write(tmp.path().join("log.toml"), "[log]\nformat = \"xml\"\n").expect("write");
    // A cluster engine without the cluster key: nothing from the bus could be believed.
    std::fs::write(
        tmp.path().join("keyless.toml"),
        "[cluster]\nnats = \"nats://127.0.0.1:9\"\n",
    )
    .expect("write");
    // A shared chunk tier without it: its entries could not be sealed.
    std::fs::write(
        tmp.path().join("keylesstier.toml"),
        "[cache]\nshared = \"redis://127.0.0.1:9\"\n",
    )
    .expect("write");
    std::fs::write(
        tmp.path().join("previousonly.toml"),
        format!("[cluster]\nprevious_key = \"{}\"\n", "ab".repeat(32)),
    )
    .expect("write");
    std::fs::write(
        tmp.path().join("shortkey.toml"),
        "[cluster]\nredis = \"redis://127.0.0.1:9\"\nkey = \"abcd\"\n",
    )
    .expect("write");
    // A cluster recording into each node's own folder would lose segments (issue 33).
    let redis =
        std::env::var("REELAY_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    std::fs::write(
        tmp.path().join("localrec.toml"),
        format!(
            "[cluster]\nredis = \"{redis}\"\nkey = \"{}\"\n",
            "ab".repeat(32)
        ),
    )
    .expect("write");
    std::fs::write(
        tmp.path().join("hosts.toml"),
        "[server]\nhosts = [\"a.example:80\"]\n",
    )
    .expect("write");
    std::fs::write(
        tmp.path().join("proxy.toml"),
        "[[bucket]]\nname = \"o\"\norigin = \"https://cdn.example/\"\nproxy = \"ftp://p\"\n",
    )
    .expect("write");
    std::fs::create_dir_all(tmp.path().join("a/same")).expect("mkdir");
    std::fs::create_dir_all(tmp.path().join("b/same")).expect("mkdir");
    let cases: [(&[&str], &str); 17] = [
        (
            &["serve", "--config", "keylesstier.toml"],
            "[cache] shared is set but the cluster key is not",
        ),
        (
            &["serve", "--config", "localrec.toml"],
            "[live] recordings_bucket \"recordings\" is a folder of this node",
        ),
        (&["serve", "--config", "hosts.toml"], "server.hosts"),
        (&["serve", "--config", "proxy.toml"], "proxy"),
        (
            &["serve", "--config", "previousonly.toml"],
            "previous_key needs a key",
        ),
        (&["serve", "--config", "keyless.toml"], "[cluster] key_env"),
        (&["serve", "--config", "shortkey.toml"], "at least 32 bytes"),
        (&["serve", "--config", "cors.toml"], "server.cors_origins"),
        (&["serve", "--config", "cc.toml"], "is not a header value"),
        (&["serve", "--config", "log.toml"], "log.format"),
        (&["serve", "--config", "s3.toml"], "REELAY_TEST_UNSET_VAR"),
        (&["serve", "--config", "typo.toml"], "listn"),
        (&["serve", "--config", "size.toml"], "server.read_budget"),
        (
            &["serve", "--config", "nofs.toml"],
            "needs exactly one backend",
        ),
        (&["serve", "--listen", "localhost"], "is not IP:PORT"),
        (
            &["serve", "--listen", "127.0.0.1:0", "no/such/folder"],
            "no such folder",
        ),
        (
            &["serve", "--listen", "127.0.0.1:0", "a/same", "b/same"],
            "defined twice",
        ),
    ];
    for (args, needle) in cases {
        let (ok, stderr) = run_binary(args, tmp.path());
        assert!(!ok, "{args:?} must fail");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn sigterm_lets_an_in_flight_download_finish_and_stops_accepting() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = pattern(24 << 20);
    write_fixed(&tmp.path().join("data/buckets/m/big.mp4"), &file);
    let mut proc = start_binary(
        &["serve", "--listen", "127.0.0.1:0", "--data", "data"],
        tmp.path(),
        &[],
    );
    let mut s = TcpStream::connect(proc.addr).expect("connect");
    write!(
        s,
        "GET /media/m/big.mp4 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut first = [0u8; 4096];
    let n = s.read(&mut first).expect("first bytes");
    assert!(n > 0);
    proc.terminate();
    proc.wait_for_log("shutting down");
    assert!(
        TcpStream::connect(proc.addr).is_err(),
        "no new connections after SIGTERM"
    );
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).expect("rest of the body");
    let mut all = first[..n].to_vec();
    all.extend_from_slice(&rest);
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    assert_eq!(
        sha256(&all[split..]),
        sha256(&file),
        "the whole file arrived"
    );
    assert!(proc.wait_exit(Duration::from_secs(15)).success());
}

#[test]
fn the_grace_deadline_cuts_a_stalled_client_and_still_exits_zero() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write_fixed(
        &tmp.path().join("data/buckets/m/big.mp4"),
        &pattern(64 << 20),
    );
    std::fs::write(tmp.path().join("r.toml"), "shutdown_grace = \"1s\"\n").expect("write");
    let mut proc = start_binary(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data",
            "data",
            "--config",
            "r.toml",
        ],
        tmp.path(),
        &[],
    );
    let mut s = TcpStream::connect(proc.addr).expect("connect");
    write!(
        s,
        "GET /media/m/big.mp4 HTTP/1.1\r\nHost: localhost\r\n\r\n"
    )
    .expect("write");
    let mut first = [0u8; 1024];
    assert!(s.read(&mut first).expect("first bytes") > 0);
    assert!(
        first.starts_with(b"HTTP/1.1 200 "),
        "{}",
        String::from_utf8_lossy(&first)
    );
    // The client now stops reading: the server cannot finish within the grace period.
    proc.terminate();
    proc.wait_for_log("grace period over");
    assert!(proc.wait_exit(Duration::from_secs(15)).success());
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.len() < 64 << 20, "the body was cut short");
}

#[test]
fn a_token_made_by_reelay_token_works_from_the_config_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reelay"))
        .args(["token", "--role", "write", "--name", "kiosk"])
        .output()
        .expect("reelay token");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf8");
    let token = text
        .split_whitespace()
        .find(|w| w.starts_with("rly_"))
        .expect("the token")
        .to_owned();
    let entry = &text[text.find("[[token]]").expect("the config entry")..];
    assert!(!entry.contains(&token), "only the hash goes in the config");
    write_fixed(&tmp.path().join("data/buckets/m/a.mp4"), b"media");
    std::fs::write(
        tmp.path().join("r.toml"),
        format!("listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\n{entry}"),
    )
    .expect("config");
    let proc = start_binary(&["serve", "--config", "r.toml"], tmp.path(), &[]);
    let url = proc.url("/api/v1/buckets/m/objects/a.mp4");
    assert_eq!(
        common::http_request("DELETE", &url, None).0,
        401,
        "tokens exist: no open mode"
    );
    assert_eq!(
        common::http_request("GET", &proc.url("/api/v1/tokens"), Some(&token)).0,
        403,
        "write < admin"
    );
    assert_eq!(
        common::http_request("DELETE", &url, Some(&token)).0,
        204,
        "the config token works"
    );
}
