//! S3-compatible buckets against a real S3 server (s3s-fs): the same range/conditional matrix as
//! fs buckets, listing, error mapping, and faults — a store killed mid-body, an object replaced
//! between ranged reads, a store unreachable at start that later comes back.

use crate::common;

use std::time::{Duration, Instant};

use common::matrix::{LEN, run_matrix};
use common::s3::{S3Server, SECRET_KEY, StoreProxy};
use common::wire::query_param;
use common::{TestServer, pattern, sha256, write_fixed};
use futures_util::StreamExt;

async fn reelay_over(s3: &S3Server, settings: reelay::storage::s3::ProfileSettings) -> TestServer {
    let bucket = s3.bucket(settings, "media");
    TestServer::start_with_buckets(|_| {}, move |b| b.add_s3("s3", bucket).expect("add")).await
}

#[tokio::test]
async fn s3_buckets_pass_the_same_range_and_conditional_matrix() {
    let s3 = S3Server::start(&["media"]);
    let file = pattern(LEN);
    write_fixed(&s3.object_path("media", "dir/video.mp4"), &file);
    let server = reelay_over(&s3, s3.profile(SECRET_KEY)).await;
    let cases = run_matrix(&server.url("/media/s3/dir/video.mp4"), &file).await;
    assert!(cases >= 40);
}

#[tokio::test]
async fn s3_listing_pages_and_groups_by_delimiter() {
    let s3 = S3Server::start(&["media"]);
    for key in ["a.mp4", "b/c.mp4", "b/d.mp4", "e.mp3"] {
        write_fixed(&s3.object_path("media", key), key.as_bytes());
    }
    let server = reelay_over(&s3, s3.profile(SECRET_KEY)).await;
    let client = reqwest::Client::new();
    let get = |q: &str| {
        let url = server.url(&format!("/api/v1/buckets/s3/objects?{q}"));
        let client = client.clone();
        async move {
            client
                .get(url)
                .send()
                .await
                .expect("get")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        }
    };
    let page = get("delimiter=/").await;
    let keys: Vec<_> = page["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| o["key"].clone())
        .collect();
    assert_eq!(keys, ["a.mp4", "e.mp3"]);
    assert_eq!(page["prefixes"], serde_json::json!(["b/"]));
    let page = get("prefix=b/").await;
    assert_eq!(page["objects"].as_array().expect("objects").len(), 2);
    let first = get("limit=2").await;
    assert_eq!(first["objects"].as_array().expect("objects").len(), 2);
    let cursor = first["next_cursor"].as_str().expect("more pages");
    let second = get(&format!("limit=2&cursor={cursor}")).await;
    let keys: Vec<_> = second["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| o["key"].clone())
        .collect();
    assert_eq!(keys, ["b/d.mp4", "e.mp3"]);
}

#[tokio::test]
async fn s3_errors_map_to_clear_statuses_and_never_leak_credentials() {
    let s3 = S3Server::start(&["media"]);
    write_fixed(&s3.object_path("media", "a.mp4"), b"abc");
    let good = reelay_over(&s3, s3.profile(SECRET_KEY)).await;
    let resp = reqwest::get(good.url("/media/s3/missing.mp4"))
        .await
        .expect("get");
    assert_eq!(resp.status(), 404);

    let wrong_secret = "wrong-secret-must-not-appear";
    let bad = reelay_over(&s3, s3.profile(wrong_secret)).await;
    let resp = reqwest::get(bad.url("/media/s3/a.mp4")).await.expect("get");
    assert_eq!(resp.status(), 502);
    let body = resp.text().await.expect("body");
    assert!(body.contains("refused the credentials"), "{body}");
    for secret in [wrong_secret, "X-Amz-Signature", "<?xml", "<Error>"] {
        assert!(!body.contains(secret), "the error leaked {secret}: {body}");
    }
    let resp = reqwest::get(bad.url("/api/v1/buckets/s3/objects"))
        .await
        .expect("get");
    assert_eq!(resp.status(), 502);
    let json: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(json["error"]["code"], "backend_denied");
}

#[tokio::test]
async fn a_store_killed_mid_body_aborts_the_response() {
    let mut s3 = S3Server::start(&["media"]);
    let len = 48 << 20;
    write_fixed(&s3.object_path("media", "big.mp4"), &pattern(len));
    let server = reelay_over(&s3, s3.profile(SECRET_KEY)).await;
    let resp = reqwest::get(server.url("/media/s3/big.mp4"))
        .await
        .expect("get");
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut received = body
        .next()
        .await
        .expect("first chunk")
        .expect("bytes")
        .len();
    s3.kill();
    let started = Instant::now();
    let mut failed = false;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => received += c.len(),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(
        failed,
        "the client saw a clean end after {received} of {len} bytes"
    );
    assert!(
        received < len,
        "the whole body arrived although the store died"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "abort took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_object_replaced_between_ranged_reads_aborts_and_never_mixes_versions() {
    let s3 = S3Server::start(&["media"]);
    // Far larger than loopback socket buffers, so the server is still mid-object when the
    // test replaces it; several upstream GETs per response.
    let old = pattern(32 << 20);
    let path = s3.object_path("media", "v.mp4");
    write_fixed(&path, &old);
    let mut settings = s3.profile(SECRET_KEY);
    settings.part_size = 1 << 20;
    let server = reelay_over(&s3, settings).await;
    let resp = reqwest::get(server.url("/media/s3/v.mp4"))
        .await
        .expect("get");
    let mut body = resp.bytes_stream();
    let mut received = body
        .next()
        .await
        .expect("first chunk")
        .expect("bytes")
        .to_vec();
    let new: Vec<u8> = old.iter().map(|b| b.wrapping_add(1)).collect();
    std::fs::write(&path, &new).expect("replace the object");
    let failed = common::drain_until_error(&mut body, &mut received).await;
    assert!(failed, "the response completed across a change of object");
    assert_eq!(
        sha256(&received),
        sha256(&old[..received.len()]),
        "only old bytes were sent"
    );
    // The next request sees the new object whole.
    let again = reqwest::get(server.url("/media/s3/v.mp4"))
        .await
        .expect("get");
    assert_eq!(sha256(&again.bytes().await.expect("body")), sha256(&new));
}

#[tokio::test]
async fn a_store_unreachable_at_start_gives_502_and_not_ready_and_recovers_when_it_returns() {
    let mut s3 = S3Server::start(&["media"]);
    write_fixed(&s3.object_path("media", "a.mp4"), b"hello");
    s3.kill();
    let server = reelay_over(&s3, s3.profile(SECRET_KEY)).await;
    let resp = reqwest::get(server.url("/media/s3/a.mp4"))
        .await
        .expect("get");
    assert_eq!(resp.status(), 502);
    let body = resp.text().await.expect("body");
    assert!(body.contains("unreachable"), "{body}");
    // Readiness says so, naming the profile and nothing of the endpoint.
    let (status, text) = common::get_text(server.url("/readyz")).await;
    assert_eq!(status, 503, "{text}");
    let ready: serde_json::Value = serde_json::from_str(&text).expect("json");
    let down = ready["down"].as_array().expect("a list");
    assert_eq!(down.len(), 1, "{text}");
    assert_eq!(
        (&down[0]["engine"], &down[0]["profile"]),
        (&"s3".into(), &"test".into())
    );
    assert!(
        !text.contains("127.0.0.1"),
        "no address in a public answer: {text}"
    );
    assert_eq!(
        common::get_text(server.url("/healthz")).await.0,
        200,
        "still alive"
    );
    s3.restart();
    let resp = reqwest::get(server.url("/media/s3/a.mp4"))
        .await
        .expect("get");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.expect("body").as_ref(), b"hello");
    // Readiness follows within a probe round (its answer stands for S3_PROBE_TTL).
    let ready = server.url("/readyz");
    common::poll_until("/readyz to say ready", Duration::from_secs(10), || {
        let url = ready.clone();
        async move { (common::get_text(url).await == (200, "ready\n".into())).then_some(()) }
    })
    .await;
}

/// `/readyz` is public: however often it is called, the store sees one listing per round.
#[tokio::test]
async fn readiness_calls_share_one_s3_probe_per_round() {
    let s3 = S3Server::start(&["media"]);
    let (proxy, settings) = StoreProxy::in_front_of(&s3).await;
    let server = reelay_over(&s3, settings).await;
    // One-key listings (ListObjectsV2), the probe's request; nothing else lists here.
    let listings = || {
        let requests = proxy.requests();
        let probes = requests
            .iter()
            .filter(|r| r.starts_with("GET ") && query_param(r, "list-type") == Some("2"));
        probes.count()
    };
    let before = listings();
    let ready = || common::get_text(server.url("/readyz"));
    let many = futures_util::future::join_all((0..50).map(|_| ready())).await;
    assert!(many.iter().all(|(status, _)| *status == 200), "{many:?}");
    assert_eq!(listings() - before, 1, "50 concurrent calls, one round");
    // A TTL has no readiness signal: wait it out, then one call makes exactly one round.
    tokio::time::sleep(reelay::http::native::health::S3_PROBE_TTL + Duration::from_millis(100))
        .await;
    assert_eq!(ready().await.0, 200);
    assert_eq!(
        listings() - before,
        2,
        "a stale round is probed again, once"
    );
}

#[tokio::test]
async fn a_viewer_leaving_mid_body_stops_the_upstream_read() {
    use std::sync::atomic::Ordering;
    const LEN: u64 = 48 << 20;
    let s3 = S3Server::start(&["media"]);
    write_fixed(&s3.object_path("media", "big.mp4"), &pattern(LEN as usize));
    let proxy = StoreProxy::start(&s3.endpoint).await;
    let (closed, from_store) = (proxy.closed.clone(), proxy.from_store.clone());
    let mut settings = s3.profile(SECRET_KEY);
    settings.endpoint = proxy.endpoint.parse().expect("url");
    let server = reelay_over(&s3, settings).await;
    let resp = reqwest::get(server.url("/media/s3/big.mp4"))
        .await
        .expect("get");
    let mut body = resp.bytes_stream();
    assert!(!body.next().await.expect("chunk").expect("bytes").is_empty());
    let before = closed.load(Ordering::SeqCst);
    drop(body);
    // The part being read is abandoned: its connection is closed (unless the viewer left just
    // as a part ended, when no read is in flight and the idle connection stays pooled).
    let deadline = Instant::now() + Duration::from_secs(5);
    while closed.load(Ordering::SeqCst) == before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Either way reelay stops reading: what crossed is what sat in buffers, far from the whole
    // object, and it no longer grows. (Sleeps here measure that nothing happens.)
    let settled = from_store.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = from_store.load(Ordering::SeqCst);
    assert_eq!(
        after, settled,
        "reelay kept reading from the store after the viewer left"
    );
    assert!(
        after < LEN / 2,
        "{after} of {LEN} bytes were read for a viewer who left"
    );
}
