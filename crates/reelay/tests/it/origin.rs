//! HTTP origin buckets against a real nginx: the range/conditional matrix (plain, cached, and
//! through an origin that ignores Range), a changed object aborting, and the SSRF guard —
//! internal addresses from host names or resolver answers, redirects off the origin, hostile ids.

use crate::common;

use std::time::Duration;

use common::matrix::{LEN, run_matrix};
use common::nginx::Nginx;
use common::{TestServer, pattern, sha256, write_fixed};
use futures_util::StreamExt;
use reelay::cache::CacheSettings;
use reelay::storage::origin::resolver::ResolverSlots;
use reelay::storage::origin::{OriginBucket, OriginSettings};
use reelay::storage::{Backend, Origin};

const NGINX_EXTRA: &str = "location /norange/ { max_ranges 0; }\n\
    location /gone/ { return 410; }\n\
    location = /out.mp4 { return 302 http://localhost:PORT/v.mp4; }\n\
    location = /in.mp4 { return 302 /v.mp4; }";

fn settings(name: &str, base: Option<String>) -> OriginSettings {
    OriginSettings {
        name: name.into(),
        base: base.map(|b| b.parse().expect("url")),
        allow: Vec::new(),
        allow_internal: false,
        resolver: None,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        meta_ttl: Duration::from_secs(5),
        proxy: None,
        resolver_slots: Default::default(),
    }
}

async fn reelay_with(buckets: Vec<OriginSettings>, cache: Option<CacheSettings>) -> TestServer {
    TestServer::start_with_buckets_configured(
        move |b| {
            for s in buckets {
                let name = s.name.clone();
                let bucket = OriginBucket::new(s).expect("origin bucket");
                b.insert(&name, Backend::Origin(bucket), Origin::Config, None)
                    .expect("insert");
            }
        },
        move |services| {
            if let Some(c) = cache {
                services.enable_cache(c);
            }
        },
    )
    .await
}

fn nginx_with(file: &[u8]) -> Nginx {
    let nginx = Nginx::start(NGINX_EXTRA);
    write_fixed(&nginx.file("v.mp4"), file);
    write_fixed(&nginx.file("norange/v.mp4"), file);
    nginx
}

#[tokio::test]
async fn origin_buckets_pass_the_matrix_plain_cached_and_when_the_origin_ignores_range() {
    let file = pattern(LEN);
    let nginx = nginx_with(&file);
    let plain = reelay_with(vec![settings("o", Some(nginx.base("/")))], None).await;
    assert!(run_matrix(&plain.url("/media/o/v.mp4"), &file).await >= 40);
    let small_chunks = CacheSettings {
        memory: 1 << 20,
        chunk_size: 16 << 10,
        readahead: 1,
        shared: None,
    };
    let cached = reelay_with(
        vec![
            settings("o", Some(nginx.base("/"))),
            settings("n", Some(nginx.base("/norange/"))),
        ],
        Some(small_chunks),
    )
    .await;
    for _ in 0..2 {
        assert!(run_matrix(&cached.url("/media/o/v.mp4"), &file).await >= 40);
    }
    // nginx with max_ranges 0 answers every range with 200 and the whole file.
    let direct = reqwest::Client::new()
        .get(nginx.base("/norange/v.mp4"))
        .header("range", "bytes=0-9")
        .send()
        .await
        .expect("direct");
    assert_eq!(direct.status(), 200, "the origin really ignores Range");
    assert!(run_matrix(&plain.url("/media/o/v.mp4"), &file).await >= 40);
    let ignoring = reelay_with(vec![settings("n", Some(nginx.base("/norange/")))], None).await;
    assert!(run_matrix(&ignoring.url("/media/n/v.mp4"), &file).await >= 40);
    assert!(run_matrix(&cached.url("/media/n/v.mp4"), &file).await >= 40);
}

#[tokio::test]
async fn cold_concurrent_viewers_cost_the_origin_one_read() {
    let file = pattern(8 << 20);
    let nginx = nginx_with(&file);
    let cache = CacheSettings {
        memory: 64 << 20,
        chunk_size: 1 << 20,
        readahead: 2,
        shared: None,
    };
    let server = reelay_with(vec![settings("o", Some(nginx.base("/")))], Some(cache)).await;
    common::concurrent_viewers(&[server.url("/media/o/v.mp4")], 20, &sha256(&file)).await;
    // Once: the whole object came from the origin (at least), and not twice (at most).
    let sent = nginx.body_bytes_sent_at_least(file.len() as u64).await;
    assert!(
        sent as f64 <= file.len() as f64 * 1.05,
        "the origin sent {sent} bytes"
    );
}

#[tokio::test]
async fn an_object_changed_at_the_origin_aborts_instead_of_mixing() {
    // Far larger than loopback socket buffers, so the server is mid-object at the change.
    let old = pattern(32 << 20);
    let nginx = nginx_with(&old);
    let cache = CacheSettings {
        memory: 64 << 20,
        chunk_size: 1 << 20,
        readahead: 0,
        shared: None,
    };
    let server = reelay_with(vec![settings("o", Some(nginx.base("/")))], Some(cache)).await;
    let resp = reqwest::get(server.url("/media/o/v.mp4"))
        .await
        .expect("get");
    let mut body = resp.bytes_stream();
    let mut received = body.next().await.expect("chunk").expect("bytes").to_vec();
    let new: Vec<u8> = old.iter().map(|b| b.wrapping_add(3)).collect();
    std::fs::write(nginx.file("v.mp4.tmp"), &new).expect("write");
    std::fs::rename(nginx.file("v.mp4.tmp"), nginx.file("v.mp4")).expect("replace");
    let failed = common::drain_until_error(&mut body, &mut received).await;
    assert!(failed, "a response spanning the change completed");
    assert_eq!(
        sha256(&received),
        sha256(&old[..received.len()]),
        "only old bytes"
    );
    let missing = reqwest::get(server.url("/media/o/missing.mp4"))
        .await
        .expect("get");
    assert_eq!(missing.status(), 404);
}

/// Bucket `r` whose resolver is the Python program `script` (given the id), allowed to answer
/// URLs on `nginx`.
fn python_resolver(nginx: &Nginx, script: String) -> OriginSettings {
    let mut bucket = settings("r", None);
    bucket.allow = vec![nginx.base("").trim_end_matches('/').to_owned()];
    bucket.allow_internal = true;
    bucket.resolver = Some((
        vec!["python3".into(), "-c".into(), script, "{id}".into()],
        Duration::from_secs(5),
        Duration::from_secs(600),
    ));
    bucket
}

fn resolver_bucket(name: &str, answer: &str, allow: &[&str]) -> OriginSettings {
    OriginSettings {
        allow: allow.iter().map(|s| (*s).to_owned()).collect(),
        resolver: Some((
            vec!["/bin/echo".into(), format!("{answer}{{id}}")],
            Duration::from_secs(5),
            Duration::from_secs(60),
        )),
        ..settings(name, None)
    }
}

#[tokio::test]
async fn internal_addresses_and_foreign_redirects_are_refused() {
    let file = pattern(1000);
    let nginx = nginx_with(&file);
    let port = nginx.port;
    let by_name = format!("http://localhost:{port}/");
    let mut trusted_name = settings("trusted", Some(by_name.clone()));
    trusted_name.allow_internal = true;
    let buckets = vec![
        // A host name that resolves to loopback: refused unless explicitly allowed.
        settings("byname", Some(by_name)),
        trusted_name,
        // The origin configured as an address literal is explicit, and so allowed.
        settings("o", Some(nginx.base("/"))),
        resolver_bucket(
            "loop",
            &format!("http://127.0.0.1:{port}/"),
            &[&format!("http://127.0.0.1:{port}")],
        ),
        resolver_bucket(
            "meta",
            "http://169.254.169.254/latest/",
            &["http://169.254.169.254"],
        ),
        resolver_bucket(
            "v6",
            &format!("http://[::1]:{port}/"),
            &[&format!("http://[::1]:{port}")],
        ),
        resolver_bucket(
            "elsewhere",
            &format!("http://127.0.0.1:{port}/"),
            &["https://media.example.com"],
        ),
    ];
    let server = reelay_with(buckets, None).await;
    let status = |path: String| {
        let url = server.url(&path);
        async move { reqwest::get(url).await.expect("get").status().as_u16() }
    };
    assert_eq!(
        status("/media/byname/v.mp4".into()).await,
        502,
        "a name resolving to loopback"
    );
    assert_eq!(
        status("/media/trusted/v.mp4".into()).await,
        200,
        "allow_internal = true"
    );
    assert_eq!(status("/media/o/v.mp4".into()).await, 200);
    for bucket in ["loop", "meta", "v6", "elsewhere"] {
        assert_eq!(
            status(format!("/media/{bucket}/v.mp4")).await,
            400,
            "{bucket}: ids have no dots"
        );
        assert_eq!(
            status(format!("/media/{bucket}/abc")).await,
            502,
            "{bucket}: resolver answer refused"
        );
    }
    assert_eq!(
        status("/media/o/in.mp4".into()).await,
        200,
        "a redirect within the origin"
    );
    assert_eq!(
        status("/media/o/out.mp4".into()).await,
        502,
        "a redirect to another host"
    );
    let body = reqwest::get(server.url("/media/loop/abc"))
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(body.contains("refused"), "{body}");
}

/// AnyAudio's client asked for a late-resolved id and saved it under the track's title; here
/// that is `?download=TITLE` on the resolver bucket's URL (the quoted fallback name is the
/// title with `_` for each non-ASCII character; `filename*` carries it exactly).
#[tokio::test]
async fn a_resolved_id_downloads_under_a_utf8_title_with_its_bytes() {
    let nginx = nginx_with(&pattern(100));
    write_fixed(&nginx.file("song1"), b"resolved audio");
    let allow = nginx.base("");
    let mut bucket = resolver_bucket("yt", &nginx.base("/"), &[allow.trim_end_matches('/')]);
    bucket.allow_internal = true;
    let server = reelay_with(vec![bucket], None).await;
    let title = "D%C3%A9j%C3%A0%20vu%20%E2%80%93%20live.m4a"; // "Déjà vu – live.m4a"
    let resp = reqwest::get(server.url(&format!("/media/yt/song1?download={title}")))
        .await
        .expect("get");
    assert_eq!(resp.status(), 200);
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"D_j_ vu _ live.m4a\"; filename*=UTF-8''{title}")
    );
    assert_eq!(
        resp.bytes().await.expect("body").as_ref(),
        b"resolved audio"
    );
}

#[tokio::test]
async fn resolvers_run_without_a_shell_and_time_out() {
    let nginx = nginx_with(&pattern(100));
    write_fixed(&nginx.file("abc"), b"resolved media");
    let allow = nginx.base("");
    // The command's own arguments say what a shell would do with them: run `touch`, split at
    // `;` and spaces, expand `*`, drop quotes. It writes the arguments it got to a file.
    let state = tempfile::tempdir().expect("tempdir");
    let (argv_file, pwned) = (state.path().join("argv"), state.path().join("pwned"));
    let script = format!(
        "import sys, json\nopen({argv_file:?}, 'w').write(json.dumps(sys.argv[1:]))\n\
         print('{base}/' + sys.argv[1])",
        base = allow.trim_end_matches('/')
    );
    let shell_words = [
        "{id}".to_owned(),
        format!("$(touch {})", pwned.display()),
        "a;b".to_owned(),
        "*".to_owned(),
        "x y".to_owned(),
        "'q'".to_owned(),
    ];
    let mut ok = python_resolver(&nginx, script);
    if let Some((argv, _, _)) = ok.resolver.as_mut() {
        argv.truncate(3);
        argv.extend(shell_words.iter().cloned());
    }
    let mut slow = settings("slow", None);
    slow.allow = vec![allow.trim_end_matches('/').to_owned()];
    slow.allow_internal = true;
    slow.resolver = Some((
        vec![
            "python3".into(),
            "-c".into(),
            "import time; time.sleep(30)".into(),
            "{id}".into(),
        ],
        Duration::from_millis(500),
        Duration::from_secs(60),
    ));
    let server = reelay_with(vec![ok, slow], None).await;
    let resp = reqwest::get(server.url("/media/r/abc")).await.expect("get");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.bytes().await.expect("body").as_ref(),
        b"resolved media"
    );
    let got: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(&argv_file).expect("argv")).expect("json");
    let mut want = shell_words.to_vec();
    want[0] = "abc".to_owned();
    assert_eq!(
        got, want,
        "each argument as configured, only {{id}} replaced"
    );
    assert!(!pwned.exists(), "a shell ran the command substitution");
    // Ids that would be an option or a shell's business are refused before anything runs.
    for id in ["a%3Bid", "%24%28id%29", "-rf"] {
        let resp = reqwest::get(server.url(&format!("/media/r/{id}")))
            .await
            .expect("get");
        assert_eq!(resp.status(), 400, "{id}");
    }
    let started = std::time::Instant::now();
    let resp = reqwest::get(server.url("/media/slow/abc"))
        .await
        .expect("get");
    assert_eq!(resp.status(), 504);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the resolver was not cut off"
    );
}

#[tokio::test]
async fn a_resolved_url_that_the_origin_refuses_is_resolved_again() {
    let nginx = nginx_with(&pattern(100));
    write_fixed(&nginx.file("fresh/abc"), b"fresh media");
    let state = tempfile::tempdir().expect("tempdir");
    let counter = state.path().join("calls");
    // Answers a URL that has expired (410) the first time, a working one after that.
    let script = format!(
        "import sys, os\np = {counter:?}\nn = int(open(p).read()) if os.path.exists(p) else 0\n\
         open(p, 'w').write(str(n + 1))\n\
         print('{base}/' + ('gone' if n == 0 else 'fresh') + '/' + sys.argv[1])",
        base = nginx.base("").trim_end_matches('/')
    );
    let server = reelay_with(vec![python_resolver(&nginx, script)], None).await;
    let resp = reqwest::get(server.url("/media/r/abc")).await.expect("get");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.expect("body").as_ref(), b"fresh media");
    let calls = std::fs::read_to_string(&counter).expect("counter");
    assert_eq!(
        calls.trim(),
        "2",
        "resolved once, refused (410), resolved again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_requests_for_one_id_run_the_resolver_once() {
    let nginx = nginx_with(&pattern(100));
    write_fixed(&nginx.file("abc"), b"resolved media");
    let state = tempfile::tempdir().expect("tempdir");
    let calls = state.path().join("calls");
    // Slow enough that every request arrives while the first one is resolving.
    let script = format!(
        "import sys, time\nopen({calls:?}, 'a').write('call\\n')\ntime.sleep(0.5)\n\
         print('{base}/' + sys.argv[1])",
        base = nginx.base("").trim_end_matches('/')
    );
    let server = reelay_with(vec![python_resolver(&nginx, script)], None).await;
    let gets = (0..20).map(|_| {
        let url = server.url("/media/r/abc");
        tokio::spawn(async move {
            let resp = reqwest::get(url).await.expect("get");
            assert_eq!(resp.status(), 200);
            resp.bytes().await.expect("body")
        })
    });
    for get in gets.collect::<Vec<_>>() {
        assert_eq!(get.await.expect("join").as_ref(), b"resolved media");
    }
    let ran = std::fs::read_to_string(&calls).expect("calls");
    assert_eq!(
        ran.lines().count(),
        1,
        "the resolver ran {} times",
        ran.lines().count()
    );
}

/// A listener standing in for a proxy: every connection's first line, as they come.
fn proxy_trap() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = std::io::BufReader::new(stream);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = reader
                .get_mut()
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

#[test]
fn origin_fetches_ignore_proxies_in_the_environment_and_use_only_a_configured_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (trap, requests) = proxy_trap();
    let bucket = "[[bucket]]\nname = \"o\"\norigin = \"http://media.example/\"\n";
    std::fs::write(dir.path().join("env.toml"), bucket).expect("config");
    let env = [
        ("HTTP_PROXY", trap.as_str()),
        ("HTTPS_PROXY", trap.as_str()),
        ("ALL_PROXY", trap.as_str()),
        ("http_proxy", trap.as_str()),
    ];
    let node = common::start_binary(
        &["serve", "--listen", "127.0.0.1:0", "--config", "env.toml"],
        dir.path(),
        &env,
    );
    let (status, _) = common::http_request("GET", &node.url("/media/o/a.mp4"), None);
    assert!(
        status >= 500,
        "media.example is not reached directly here: {status}"
    );
    assert!(
        requests.try_recv().is_err(),
        "the proxy in the environment was not used"
    );
    drop(node);
    let explicit = format!("{bucket}proxy = \"{trap}\"\n");
    std::fs::write(dir.path().join("explicit.toml"), explicit).expect("config");
    let node = common::start_binary(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            "explicit.toml",
        ],
        dir.path(),
        &[],
    );
    let _ = common::http_request("GET", &node.url("/media/o/a.mp4"), None);
    let line = requests
        .recv_timeout(Duration::from_secs(10))
        .expect("the configured proxy was asked");
    assert!(line.contains("media.example"), "{line}");
}

/// Bucket `r` whose resolver is the shell `script` (with `{id}` in it), on `slots`.
fn shell_resolver(script: String, slots: &std::sync::Arc<ResolverSlots>) -> OriginSettings {
    let mut bucket = settings("r", None);
    bucket.allow = vec!["https://cdn.example".into()];
    bucket.resolver = Some((
        vec!["/bin/sh".into(), "-c".into(), script],
        Duration::from_secs(20),
        Duration::from_secs(600),
    ));
    bucket.resolver_slots = slots.clone();
    bucket
}

#[tokio::test]
async fn a_resolver_flood_waits_for_the_nodes_slots_then_gets_503_and_failures_are_remembered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = dir.path().join("runs");
    let slots = std::sync::Arc::new(ResolverSlots::new(1));
    // Each run is noted; `slow` takes 8 s, anything else fails at once.
    let script = format!(
        "echo {{id}} >> {runs}; [ {{id}} = slow ] && sleep 8; exit 1",
        runs = runs.display()
    );
    let server = reelay_with(vec![shell_resolver(script, &slots)], None).await;
    let slow = tokio::spawn(reqwest::get(server.url("/media/r/slow")));
    common::wait_until(
        "the slow run to take the slot",
        Duration::from_secs(10),
        || slots.running.get() == 1,
    )
    .await;
    let queued = reqwest::get(server.url("/media/r/other"))
        .await
        .expect("get");
    assert_eq!(
        queued.status(),
        503,
        "no slot came free within the queue's wait"
    );
    assert_eq!(queued.headers()["retry-after"], "1");
    let text = queued.text().await.expect("text");
    assert!(text.contains("resolver slot is busy"), "{text}");
    assert_eq!(slots.refused.get(), 1);
    let slow = slow.await.expect("join").expect("get");
    assert_eq!(slow.status(), 404, "the resolver failed");
    for _ in 0..3 {
        let again = reqwest::get(server.url("/media/r/slow"))
            .await
            .expect("get");
        assert_eq!(again.status(), 404, "the failure, remembered");
    }
    let noted = std::fs::read_to_string(&runs).expect("runs");
    assert_eq!(
        noted.lines().collect::<Vec<_>>(),
        ["slow"],
        "run once; the refused one never"
    );
}
