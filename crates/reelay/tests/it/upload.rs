//! Streaming uploads and deletes on fs and S3 buckets, size limits, interrupted uploads that
//! leave nothing visible, and bucket lifecycle through the API.

use crate::common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::s3::{S3Server, SECRET_KEY, StoreProxy};
use common::wire::query_param;
use common::{TestServer, pattern, sha256, write_fixed};

async fn put(server: &TestServer, path: &str, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .put(server.url(path))
        .body(body)
        .send()
        .await
        .expect("put")
}

async fn get_bytes(server: &TestServer, path: &str) -> (u16, Vec<u8>) {
    let resp = reqwest::get(server.url(path)).await.expect("get");
    let status = resp.status().as_u16();
    (status, resp.bytes().await.expect("body").to_vec())
}

/// Sends a PUT exactly as written and returns the status.
fn raw_put(addr: std::net::SocketAddr, path: &str, body: &[u8]) -> u16 {
    use std::io::Read;
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "PUT {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("head");
    s.write_all(body).expect("body");
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    raw.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status")
}

/// Sends the head of a PUT and half its body, then hangs up.
fn abandon_upload(addr: std::net::SocketAddr, path: &str, len: usize) {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "PUT {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len}\r\n\r\n"
    )
    .expect("head");
    s.write_all(&pattern(len / 2)).expect("half the body");
    drop(s);
}

#[tokio::test]
async fn fs_uploads_stream_in_replace_atomically_and_delete() {
    let server =
        TestServer::start(|dir| std::fs::create_dir_all(dir.join("m")).expect("mkdir")).await;
    let first = pattern(3 << 20);
    let resp = put(
        &server,
        "/api/v1/buckets/m/objects/shows/ep1.mp4",
        first.clone(),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let info: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(info["size"], 3 << 20);
    assert_eq!(info["content_type"], "video/mp4");
    assert_eq!(
        get_bytes(&server, "/media/m/shows/ep1.mp4").await,
        (200, first)
    );
    let second = b"replaced".to_vec();
    assert_eq!(
        put(
            &server,
            "/api/v1/buckets/m/objects/shows/ep1.mp4",
            second.clone()
        )
        .await
        .status(),
        201
    );
    assert_eq!(
        get_bytes(&server, "/media/m/shows/ep1.mp4").await,
        (200, second)
    );
    let client = reqwest::Client::new();
    let del = client
        .delete(server.url("/api/v1/buckets/m/objects/shows/ep1.mp4"))
        .send()
        .await
        .expect("delete");
    assert_eq!(del.status(), 204);
    assert_eq!(get_bytes(&server, "/media/m/shows/ep1.mp4").await.0, 404);
    let again = client
        .delete(server.url("/api/v1/buckets/m/objects/shows/ep1.mp4"))
        .send()
        .await
        .expect("delete");
    assert_eq!(again.status(), 404);
}

#[tokio::test]
async fn uploads_over_the_limit_are_413_and_leave_nothing() {
    let server = TestServer::start_configured(
        |dir| std::fs::create_dir_all(dir.join("m")).expect("mkdir"),
        |state| state.limits.max_upload = 1 << 20,
    )
    .await;
    // Declared too large: refused before reading.
    let resp = put(
        &server,
        "/api/v1/buckets/m/objects/big.mp4",
        pattern((1 << 20) + 1),
    )
    .await;
    assert_eq!(resp.status(), 413);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "too_large");
    // Undeclared (chunked) and too large: refused while streaming.
    let chunks =
        futures_util::stream::iter((0..3).map(|_| Ok::<_, std::io::Error>(pattern(512 << 10))));
    let resp = reqwest::Client::new()
        .put(server.url("/api/v1/buckets/m/objects/big.mp4"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 413);
    assert_eq!(get_bytes(&server, "/media/m/big.mp4").await.0, 404);
    let tmp = server.path("m/.reelay-tmp");
    assert_eq!(
        std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0),
        0,
        "temp files removed"
    );
}

#[tokio::test]
async fn an_interrupted_fs_upload_leaves_no_partial_object() {
    let server =
        TestServer::start(|dir| std::fs::create_dir_all(dir.join("m")).expect("mkdir")).await;
    let addr = server.addr;
    tokio::task::spawn_blocking(move || {
        abandon_upload(addr, "/api/v1/buckets/m/objects/cut.mp4", 4 << 20)
    })
    .await
    .expect("join");
    let tmp = server.path("m/.reelay-tmp");
    common::wait_until("the temp file is removed", Duration::from_secs(10), || {
        std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0) == 0
    })
    .await;
    assert_eq!(get_bytes(&server, "/media/m/cut.mp4").await.0, 404);
    assert!(!server.path("m/cut.mp4").exists());
}

#[tokio::test]
async fn upload_keys_cannot_escape_through_symlinks_or_hidden_names() {
    let server = TestServer::start(|dir| {
        std::fs::create_dir_all(dir.join("m")).expect("mkdir");
        std::fs::create_dir_all(dir.join("outside")).expect("mkdir");
        std::os::unix::fs::symlink(dir.join("outside"), dir.join("m/link")).expect("symlink");
    })
    .await;
    let resp = put(
        &server,
        "/api/v1/buckets/m/objects/link/evil.mp4",
        b"x".to_vec(),
    )
    .await;
    assert_eq!(resp.status(), 409);
    assert!(
        !server.path("outside/evil.mp4").exists(),
        "nothing was written outside the bucket"
    );
    let addr = server.addr;
    let keys = [
        ".reelay-tmp/x.mp4",
        ".git/config",
        "a/../b.mp4",
        "a/%2e%2e/b.mp4",
        "a%2f..%2fb.mp4",
    ];
    for key in keys {
        // Sent as written: ordinary clients would normalise the dot segments away.
        let path = format!("/api/v1/buckets/m/objects/{key}");
        let status = tokio::task::spawn_blocking(move || raw_put(addr, &path, b"x"))
            .await
            .expect("join");
        assert_eq!(status, 400, "{key}");
    }
    assert!(!server.path("b.mp4").exists() && !server.path("m/b.mp4").exists());
}

/// A store, a proxy in front of it that logs what reelay asks of it, and a node with the
/// bucket `s3` (5 MiB parts) on the store through the proxy.
async fn s3_server_and_reelay() -> (S3Server, StoreProxy, TestServer) {
    let s3 = S3Server::start(&["media"]);
    let (proxy, mut settings) = StoreProxy::in_front_of(&s3).await;
    settings.part_size = 5 << 20;
    let bucket = s3.bucket(settings, "media");
    let server =
        TestServer::start_with_buckets(|_| {}, move |b| b.add_s3("s3", bucket).expect("add")).await;
    (s3, proxy, server)
}

/// What the store was asked to change of `key` (`METHOD target`, signatures and all; reads
/// such as the HEAD after an upload left out), in order.
fn writes_of(proxy: &StoreProxy, key: &str) -> Vec<String> {
    let path = format!("/media/{key}");
    proxy
        .requests()
        .into_iter()
        .filter(|r| !r.starts_with("GET ") && !r.starts_with("HEAD "))
        .filter(|r| r.split(' ').nth(1).and_then(|t| t.split('?').next()) == Some(&path))
        .collect()
}

/// The requests of one upload, in the words of the S3 API: `PutObject`,
/// `CreateMultipartUpload`, `UploadPart <n>`, `CompleteMultipartUpload`,
/// `AbortMultipartUpload`, or the method and target of anything else.
fn s3_operations(requests: &[String]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            let (method, target) = r.split_once(' ').expect("method and target");
            let part = query_param(target, "partNumber");
            let upload = query_param(target, "uploadId").is_some();
            match (method, part, upload) {
                ("POST", None, false) if query_param(target, "uploads").is_some() => {
                    "CreateMultipartUpload".to_owned()
                }
                ("PUT", Some(n), true) => format!("UploadPart {n}"),
                ("POST", None, true) => "CompleteMultipartUpload".to_owned(),
                ("DELETE", None, true) => "AbortMultipartUpload".to_owned(),
                ("PUT", None, false) => "PutObject".to_owned(),
                _ => r.clone(),
            }
        })
        .collect()
}

#[tokio::test]
async fn s3_uploads_use_multipart_for_large_objects_and_single_puts_for_small_ones() {
    let (_s3, proxy, server) = s3_server_and_reelay().await;
    let small = b"tiny object".to_vec();
    assert_eq!(
        put(
            &server,
            "/api/v1/buckets/s3/objects/small.mp3",
            small.clone()
        )
        .await
        .status(),
        201
    );
    assert_eq!(
        s3_operations(&writes_of(&proxy, "small.mp3")),
        ["PutObject"],
        "one PUT for a small object"
    );
    assert_eq!(
        get_bytes(&server, "/media/s3/small.mp3").await,
        (200, small)
    );
    let large = pattern(12 << 20); // three parts of 5 MiB
    let chunks = futures_util::stream::iter(
        large
            .chunks(300_000)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let resp = reqwest::Client::new()
        .put(server.url("/api/v1/buckets/s3/objects/dir/large.mp4"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 201);
    assert_eq!(
        s3_operations(&writes_of(&proxy, "dir/large.mp4")),
        [
            "CreateMultipartUpload",
            "UploadPart 1",
            "UploadPart 2",
            "UploadPart 3",
            "CompleteMultipartUpload"
        ],
        "12 MiB in 5 MiB parts"
    );
    let (status, body) = get_bytes(&server, "/media/s3/dir/large.mp4").await;
    assert_eq!(status, 200);
    assert_eq!(sha256(&body), sha256(&large));
    let del = reqwest::Client::new()
        .delete(server.url("/api/v1/buckets/s3/objects/dir/large.mp4"))
        .send()
        .await
        .expect("delete");
    assert_eq!(del.status(), 204);
    assert_eq!(get_bytes(&server, "/media/s3/dir/large.mp4").await.0, 404);
}

#[tokio::test]
async fn an_interrupted_s3_upload_is_aborted_and_never_visible() {
    let (s3, proxy, server) = s3_server_and_reelay().await;
    let addr = server.addr;
    tokio::task::spawn_blocking(move || {
        abandon_upload(addr, "/api/v1/buckets/s3/objects/cut.mp4", 16 << 20)
    })
    .await
    .expect("join");
    // The multipart upload is aborted in the background: the store is told so.
    let operations = common::poll_until("the abort", Duration::from_secs(10), || {
        let operations = s3_operations(&writes_of(&proxy, "cut.mp4"));
        std::future::ready(
            operations
                .contains(&"AbortMultipartUpload".to_owned())
                .then_some(operations),
        )
    })
    .await;
    assert_eq!(
        operations.first().map(String::as_str),
        Some("CreateMultipartUpload"),
        "{operations:?}"
    );
    assert!(
        !operations.contains(&"CompleteMultipartUpload".to_owned()),
        "{operations:?}"
    );
    // And the object never appears.
    let list: serde_json::Value = reqwest::Client::new()
        .get(server.url("/api/v1/buckets/s3/objects"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(
        list["objects"],
        serde_json::json!([]),
        "a partial object became visible"
    );
    assert!(!s3.object_path("media", "cut.mp4").exists());
}

#[tokio::test]
async fn buckets_are_created_and_deleted_through_the_api() {
    let s3 = S3Server::start(&[]);
    let profile = std::sync::Arc::new(
        reelay::storage::s3::S3Profile::new(s3.profile(SECRET_KEY)).expect("profile"),
    );
    let server = TestServer::start_with_buckets(
        |dir| write_fixed(&dir.join("operator/a.mp4"), b"x"),
        move |b| b.add_profile(profile),
    )
    .await;
    let client = reqwest::Client::new();
    let create = |body: &'static str| {
        client
            .post(server.url("/api/v1/buckets"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let delete = |name: &str| {
        client
            .delete(server.url(&format!("/api/v1/buckets/{name}")))
            .send()
    };
    assert_eq!(
        create(r#"{"name":"films"}"#).await.expect("post").status(),
        201
    );
    assert_eq!(
        create(r#"{"name":"films"}"#).await.expect("post").status(),
        409
    );
    assert_eq!(
        create(r#"{"name":".bad"}"#).await.expect("post").status(),
        400
    );
    assert_eq!(
        create(r#"{"name":"x","s3":"nope"}"#)
            .await
            .expect("post")
            .status(),
        400
    );
    let no_json = client
        .post(server.url("/api/v1/buckets"))
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(no_json.status(), 415, "a body without a JSON content type");
    assert_eq!(
        put(
            &server,
            "/api/v1/buckets/films/objects/a.mp4",
            b"x".to_vec()
        )
        .await
        .status(),
        201
    );
    assert_eq!(
        delete("films").await.expect("delete").status(),
        409,
        "not empty"
    );
    reqwest::Client::new()
        .delete(server.url("/api/v1/buckets/films/objects/a.mp4"))
        .send()
        .await
        .expect("delete");
    assert_eq!(delete("films").await.expect("delete").status(), 204);
    assert!(!server.path("films").exists());
    assert_eq!(
        delete("operator").await.expect("delete").status(),
        409,
        "the operator's bucket stays"
    );
    assert_eq!(delete("nothing").await.expect("delete").status(), 404);

    let resp = create(r#"{"name":"remote","s3":"test","s3_bucket":"remote-store"}"#)
        .await
        .expect("post");
    assert_eq!(resp.status(), 201);
    assert!(
        s3.dir.path().join("remote-store").is_dir(),
        "the bucket exists in the store"
    );
    assert_eq!(
        put(
            &server,
            "/api/v1/buckets/remote/objects/v.mp4",
            b"on s3".to_vec()
        )
        .await
        .status(),
        201
    );
    assert_eq!(
        get_bytes(&server, "/media/remote/v.mp4").await,
        (200, b"on s3".to_vec())
    );
    let rows: Vec<(String,)> = sqlx::query_as("SELECT name FROM buckets")
        .fetch_all(&server.state.db)
        .await
        .expect("rows");
    assert_eq!(
        rows,
        [("remote".to_owned(),)],
        "recorded for the next start"
    );
    reqwest::Client::new()
        .delete(server.url("/api/v1/buckets/remote/objects/v.mp4"))
        .send()
        .await
        .expect("delete");
    assert_eq!(delete("remote").await.expect("delete").status(), 204);
    assert!(!s3.dir.path().join("remote-store").exists());
}

/// Found by the API fuzzer: two DELETEs of one bucket at once, the second finding its folder
/// gone under it, answered 500 `backend_io`. A bucket deleted under a request is gone: 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_deleted_twice_at_once_is_deleted_once_and_then_not_found() {
    let server = TestServer::start(|_| {}).await;
    let client = reqwest::Client::new();
    let create = |name: &str| {
        client
            .post(server.url("/api/v1/buckets"))
            .header("content-type", "application/json")
            .body(format!(r#"{{"name":"{name}"}}"#))
            .send()
    };
    let delete = |name: &str| {
        client
            .delete(server.url(&format!("/api/v1/buckets/{name}")))
            .send()
    };
    // The folder gone between the lookup and the removal, as the losing DELETE sees it.
    assert_eq!(create("gone").await.expect("post").status(), 201);
    std::fs::remove_dir(server.path("gone")).expect("remove the folder");
    let resp = delete("gone").await.expect("delete");
    assert_eq!(
        resp.status(),
        404,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    // And raced for real: one 204, the rest 404, never a 5xx.
    for round in 0..10 {
        let name = format!("raced-{round}");
        assert_eq!(create(&name).await.expect("post").status(), 201);
        let (a, b) = tokio::join!(delete(&name), delete(&name));
        let mut statuses = [a.expect("delete").status(), b.expect("delete").status()];
        statuses.sort();
        assert_eq!(statuses.map(|s| s.as_u16()), [204, 404], "{name}");
    }
}

/// Found by the API fuzzer: the node's live recordings bucket (empty until something is
/// recorded) could be deleted, leaving recordings nowhere to go.
#[tokio::test]
async fn the_live_recordings_bucket_cannot_be_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = common::serve_media_dir(dir.path());
    let resp = reqwest::Client::new()
        .delete(node.url("/api/v1/buckets/recordings"))
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 409);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("records")),
        "{body}"
    );
    assert!(dir.path().join("data/buckets/recordings").is_dir());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_upload_to_s3_streams_with_bounded_memory() {
    let s3 = S3Server::start(&["media"]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = s3.node_config();
    std::fs::write(tmp.path().join("r.toml"), config).expect("config");
    let proc = common::start_binary(&["serve", "--config", "r.toml"], tmp.path(), &[]);
    let before = common::peak_rss_bytes(proc.child.id());
    const LEN: usize = 100 << 20;
    const CHUNK: usize = 256 << 10;
    // Generated on the fly: the client holds no more than one chunk either.
    let chunks = futures_util::stream::iter(
        (0..LEN / CHUNK).map(|i| Ok::<_, std::io::Error>(vec![(i % 251) as u8; CHUNK])),
    );
    let resp = reqwest::Client::new()
        .put(proc.url("/api/v1/buckets/s3/objects/big.mp4"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("put");
    assert_eq!(
        resp.status(),
        201,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    let stored = std::fs::metadata(s3.object_path("media", "big.mp4")).expect("stored");
    assert_eq!(stored.len(), LEN as u64);
    let peak = common::peak_rss_bytes(proc.child.id());
    eprintln!("reelay peak RSS {} MiB during a 100 MB upload", peak >> 20);
    assert!(
        peak < 64 << 20,
        "reelay peaked at {} MiB (from {} MiB) for a 100 MB upload",
        peak >> 20,
        before >> 20
    );
}
