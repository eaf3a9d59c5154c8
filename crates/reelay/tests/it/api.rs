//! Ops endpoints, request ids, the JSON listing API, JSON errors, the embedded UI — in process,
//! through the router — and body streaming behaviour over a real socket (bounded buffers
//! released when a client goes away).

use crate::common;

use std::time::Duration;

use axum::body::Body;
use common::app::{Answer, TestApp, request};
use common::{TestServer, pattern, write_fixed};
use futures_util::StreamExt;
use http::Method;

async fn app() -> TestApp {
    TestApp::start(|dir| {
        for name in ["a.mp4", "b.mp3", "c.webm", "d/e.mkv", "d/f.m3u8", ".hidden"] {
            write_fixed(&dir.join("lib").join(name), name.as_bytes());
        }
        std::fs::create_dir_all(dir.join("empty")).expect("mkdir");
    })
    .await
}

async fn get(app: &TestApp, path: &str) -> Answer {
    app.call(Method::GET, path).await
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = app().await;
    for path in ["/healthz", "/readyz"] {
        assert_eq!(get(&app, path).await.status, 200, "{path}");
    }
    assert_eq!(get(&app, "/media/lib/a.mp4").await.body.as_ref(), b"a.mp4");
    let text = String::from_utf8(get(&app, "/metrics").await.body.to_vec()).expect("utf8");
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
    let tasks = text
        .lines()
        .find_map(|l| l.strip_prefix("reelay_runtime_alive_tasks "))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(
        tasks.is_some(),
        "the runtime's task count is exported: {text}"
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = app().await;
    for path in [
        "/healthz",
        "/media/lib/a.mp4",
        "/media/lib/missing.mp4",
        "/nope",
        "/",
    ] {
        let id = get(&app, path).await.header("x-request-id").map(str::len);
        assert_eq!(id, Some(16), "{path}");
    }
    let with_id = |id: &'static str| {
        request(Method::GET, "/healthz")
            .header("x-request-id", id)
            .body(Body::empty())
            .expect("request")
    };
    let kept = app.send(with_id("abc-123")).await;
    assert_eq!(
        kept.header("x-request-id"),
        Some("abc-123"),
        "a sane incoming id is kept"
    );
    let replaced = app.send(with_id("bad id with spaces")).await;
    assert_ne!(replaced.header("x-request-id"), Some("bad id with spaces"));
}

#[tokio::test]
async fn buckets_and_objects_are_listed_with_stable_pages() {
    let app = app().await;
    let buckets = get(&app, "/api/v1/buckets").await.json();
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
        let mut url = "/api/v1/buckets/lib/objects?limit=2".to_owned();
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page = get(&app, &url).await.json();
        for o in page["objects"].as_array().expect("objects") {
            keys.push(o["key"].as_str().expect("key").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(keys, ["a.mp4", "b.mp3", "c.webm", "d/e.mkv", "d/f.m3u8"]);
    let folders = get(&app, "/api/v1/buckets/lib/objects?delimiter=/&limit=3")
        .await
        .json();
    assert_eq!(folders["objects"].as_array().expect("objects").len(), 3);
    assert_eq!(folders["next_cursor"], "c.webm");
    let folders = get(
        &app,
        "/api/v1/buckets/lib/objects?delimiter=/&cursor=c.webm",
    )
    .await
    .json();
    assert_eq!(folders["prefixes"], serde_json::json!(["d/"]));
    assert_eq!(folders["objects"], serde_json::json!([]));
    assert_eq!(folders["next_cursor"], serde_json::Value::Null);
    let page = get(&app, "/api/v1/buckets/lib/objects?prefix=d/")
        .await
        .json();
    assert_eq!(
        page["objects"][1]["content_type"],
        "application/vnd.apple.mpegurl"
    );
    assert_eq!(page["objects"][0]["size"], 7);
}

fn json_error(answer: &Answer) -> (u16, String) {
    let body = answer.json();
    let code = body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_owned();
    assert!(body["error"]["message"].is_string(), "error.message");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    (answer.status, code)
}

#[tokio::test]
async fn api_errors_are_json_with_precise_statuses() {
    let app = app().await;
    let cases = [
        ("/api/v1/buckets/nope/objects", 404, "not_found"),
        ("/api/v1/buckets/lib/objects?limit=0", 400, "bad_request"),
        ("/api/v1/buckets/lib/objects?limit=x", 400, "bad_request"),
        ("/api/v1/buckets/lib/objects/.env", 400, "bad_key"),
        ("/no/such/route", 404, "not_found"),
    ];
    for (path, status, code) in cases {
        let answer = get(&app, path).await;
        assert_eq!(json_error(&answer), (status, code.to_owned()), "{path}");
    }
}

#[tokio::test]
async fn media_types_follow_the_extension_and_missing_objects_are_404() {
    let app = app().await;
    for (key, ct) in [
        ("a.mp4", "video/mp4"),
        ("b.mp3", "audio/mpeg"),
        ("c.webm", "video/webm"),
        ("d/e.mkv", "video/x-matroska"),
        ("d/f.m3u8", "application/vnd.apple.mpegurl"),
    ] {
        let head = app.call(Method::HEAD, &format!("/media/lib/{key}")).await;
        assert_eq!(head.header("content-type"), Some(ct), "{key}");
        assert!(head.body.is_empty(), "HEAD has no body");
    }
    assert_eq!(get(&app, "/media/lib/missing.mp4").await.status, 404);
    assert_eq!(get(&app, "/media/nobucket/a.mp4").await.status, 404);
    assert_eq!(
        get(&app, "/media/lib/d").await.status,
        404,
        "a directory is not an object"
    );
}

#[tokio::test]
async fn the_web_ui_is_served_from_the_binary() {
    let app = app().await;
    let page = get(&app, "/").await;
    assert!(
        page.header("content-type")
            .is_some_and(|ct| ct.starts_with("text/html"))
    );
    let csp = page.header("content-security-policy").expect("csp");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let html = String::from_utf8_lossy(&page.body);
    assert!(
        html.contains("/ui/app.js") && !html.contains("https://"),
        "{html}"
    );
    let js = get(&app, "/ui/app.js").await;
    assert!(
        js.header("content-type")
            .is_some_and(|ct| ct.starts_with("text/javascript"))
    );
    assert!(String::from_utf8_lossy(&js.body).contains("from './core.js'"));
    for (file, needle) in [
        ("player.js", "el(audio ? 'audio' : 'video'"),
        ("library.js", "xhr.upload.onprogress"),
        ("live.js", "/streaming"),
        ("vendor/hls.light.min.js", "isSupported"),
    ] {
        let resp = get(&app, &format!("/ui/{file}")).await;
        assert_eq!(resp.status, 200, "{file}");
        assert!(
            String::from_utf8_lossy(&resp.body).contains(needle),
            "{file}"
        );
    }
    for outside in ["/ui/../Cargo.toml", "/ui/%2e%2e/Cargo.toml", "/Cargo.toml"] {
        assert_eq!(get(&app, outside).await.status, 404, "{outside}");
    }
}

#[tokio::test]
async fn a_client_that_disconnects_releases_its_read_buffers() {
    // The copy path, whose frames hold the budget (sendfile bodies hold none).
    let options = reelay::http::ServerOptions {
        sendfile: false,
        ..Default::default()
    };
    let server = TestServer::start_with_options(
        |dir| write_fixed(&dir.join("big/movie.mp4"), &pattern(40 << 20)),
        options,
    )
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
