//! Ops endpoints, request ids, the JSON listing API, JSON errors, the embedded UI, and body
//! streaming behaviour (bounded buffers released when a client goes away).

use crate::common;

use std::time::Duration;

use common::{TestServer, pattern, write_fixed};
use futures_util::StreamExt;

async fn server() -> TestServer {
    TestServer::start(|dir| {
        for name in ["a.mp4", "b.mp3", "c.webm", "d/e.mkv", "d/f.m3u8", ".hidden"] {
            write_fixed(&dir.join("lib").join(name), name.as_bytes());
        }
        std::fs::create_dir_all(dir.join("empty")).expect("mkdir");
    })
    .await
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let server = server().await;
    let client = reqwest::Client::new();
    for path in ["/healthz", "/readyz"] {
        let resp = client.get(server.url(path)).send().await.expect("get");
        assert_eq!(resp.status(), 200, "{path}");
    }
    let body = client
        .get(server.url("/media/lib/a.mp4"))
        .send()
        .await
        .expect("get");
    assert_eq!(body.bytes().await.expect("body").as_ref(), b"a.mp4");
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("get");
    let text = metrics.text().await.expect("text");
    assert!(
        text.contains(
            r#"reelay_http_requests_total{route="/media/{bucket}/{*key}",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains("reelay_http_time_to_first_byte_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains(r#"reelay_http_sent_bytes_total{route="/media/{bucket}/{*key}"} 5"#),
        "{text}"
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let server = server().await;
    let client = reqwest::Client::new();
    for path in [
        "/healthz",
        "/media/lib/a.mp4",
        "/media/lib/missing.mp4",
        "/nope",
        "/",
    ] {
        let resp = client.get(server.url(path)).send().await.expect("get");
        let id = resp.headers().get("x-request-id").expect("x-request-id");
        assert_eq!(id.len(), 16, "{path}");
    }
    let resp = client
        .get(server.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .expect("get");
    assert_eq!(
        resp.headers()["x-request-id"],
        "abc-123",
        "a sane incoming id is kept"
    );
    let resp = client
        .get(server.url("/healthz"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .expect("get");
    assert_ne!(resp.headers()["x-request-id"], "bad id with spaces");
}

#[tokio::test]
async fn buckets_and_objects_are_listed_with_stable_pages() {
    let server = server().await;
    let client = reqwest::Client::new();
    let buckets: serde_json::Value = client
        .get(server.url("/api/v1/buckets"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let names: Vec<_> = buckets["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(|b| {
            (
                b["name"].clone(),
                b["kind"].clone(),
                b["created"].is_string(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("empty".into(), "fs".into(), true),
            ("lib".into(), "fs".into(), true)
        ]
    );
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = server.url("/api/v1/buckets/lib/objects?limit=2");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: serde_json::Value = client
            .get(url)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        for o in page["objects"].as_array().expect("objects") {
            keys.push(o["key"].as_str().expect("key").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(keys, ["a.mp4", "b.mp3", "c.webm", "d/e.mkv", "d/f.m3u8"]);
    let folders: serde_json::Value = client
        .get(server.url("/api/v1/buckets/lib/objects?delimiter=/&limit=3"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(folders["objects"].as_array().expect("objects").len(), 3);
    assert_eq!(folders["next_cursor"], "c.webm");
    let folders: serde_json::Value = client
        .get(server.url("/api/v1/buckets/lib/objects?delimiter=/&cursor=c.webm"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(folders["prefixes"], serde_json::json!(["d/"]));
    assert_eq!(folders["objects"], serde_json::json!([]));
    assert_eq!(folders["next_cursor"], serde_json::Value::Null);
    let page: serde_json::Value = client
        .get(server.url("/api/v1/buckets/lib/objects?prefix=d/"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(
        page["objects"][1]["content_type"],
        "application/vnd.apple.mpegurl"
    );
    assert_eq!(page["objects"][0]["size"], 7);
}

async fn json_error(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.expect("json error body");
    let code = body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_owned();
    assert!(body["error"]["message"].is_string(), "error.message");
    (status, code)
}

#[tokio::test]
async fn api_errors_are_json_with_precise_statuses() {
    let server = server().await;
    let client = reqwest::Client::new();
    let cases = [
        ("/api/v1/buckets/nope/objects", 404, "not_found"),
        ("/api/v1/buckets/lib/objects?limit=0", 400, "bad_request"),
        ("/api/v1/buckets/lib/objects?limit=x", 400, "bad_request"),
        ("/api/v1/buckets/lib/objects/.env", 400, "bad_key"),
        ("/no/such/route", 404, "not_found"),
    ];
    for (path, status, code) in cases {
        let resp = client.get(server.url(path)).send().await.expect("get");
        assert_eq!(json_error(resp).await, (status, code.to_owned()), "{path}");
    }
}

#[tokio::test]
async fn media_types_follow_the_extension_and_missing_objects_are_404() {
    let server = server().await;
    let client = reqwest::Client::new();
    for (key, ct) in [
        ("a.mp4", "video/mp4"),
        ("b.mp3", "audio/mpeg"),
        ("c.webm", "video/webm"),
        ("d/e.mkv", "video/x-matroska"),
        ("d/f.m3u8", "application/vnd.apple.mpegurl"),
    ] {
        let resp = client
            .head(server.url(&format!("/media/lib/{key}")))
            .send()
            .await
            .expect("head");
        assert_eq!(resp.headers()["content-type"], ct, "{key}");
    }
    let resp = client
        .get(server.url("/media/lib/missing.mp4"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 404);
    let resp = client
        .get(server.url("/media/nobucket/a.mp4"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 404);
    let resp = client
        .get(server.url("/media/lib/d"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 404, "a directory is not an object");
}

#[tokio::test]
async fn the_web_ui_is_served_from_the_binary() {
    let server = server().await;
    let client = reqwest::Client::new();
    let page = client.get(server.url("/")).send().await.expect("get");
    assert!(
        page.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/html")
    );
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let html = page.text().await.expect("html");
    assert!(
        html.contains("/ui/app.js") && !html.contains("https://"),
        "{html}"
    );
    let js = client
        .get(server.url("/ui/app.js"))
        .send()
        .await
        .expect("get");
    assert!(
        js.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/javascript")
    );
    assert!(js.text().await.expect("js").contains("from './core.js'"));
    for (file, needle) in [
        ("player.js", "el(audio ? 'audio' : 'video'"),
        ("library.js", "xhr.upload.onprogress"),
        ("live.js", "/streaming"),
        ("vendor/hls.light.min.js", "isSupported"),
    ] {
        let resp = client
            .get(server.url(&format!("/ui/{file}")))
            .send()
            .await
            .expect("get");
        assert_eq!(resp.status(), 200, "{file}");
        assert!(resp.text().await.expect("js").contains(needle), "{file}");
    }
    let missing = client
        .get(server.url("/ui/../Cargo.toml"))
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn a_client_that_disconnects_releases_its_read_buffers() {
    let server = TestServer::start(|dir| {
        write_fixed(&dir.join("big/movie.mp4"), &pattern(40 << 20));
    })
    .await;
    let full = server.state.buckets.reads().budget().available_bytes();
    let resp = reqwest::get(server.url("/media/big/movie.mp4"))
        .await
        .expect("get");
    let mut stream = resp.bytes_stream();
    let first = stream.next().await.expect("a frame").expect("bytes");
    assert!(!first.is_empty());
    assert!(
        server.state.buckets.reads().budget().available_bytes() < full,
        "frames are in flight"
    );
    drop(stream);
    // No event marks "the server saw the reset", so wait for the effect, with a deadline.
    let budget = server.state.buckets.reads().budget();
    common::wait_until("the read buffers' release", Duration::from_secs(10), || {
        budget.available_bytes() >= full
    })
    .await;
}
