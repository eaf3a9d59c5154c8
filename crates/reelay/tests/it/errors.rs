//! Errors as clients see them when something behind reelay fails: a status that says who failed,
//! the JSON error body on API routes, and never the backend's, the database's or the operating
//! system's own text (hosts, ports, paths, SQL errors) — that goes to the log, with the request id.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use common::app::{Answer, TestApp, request};
use common::write_fixed;
use http::Method;
use reelay::storage::s3::{ProfileSettings, S3Bucket, S3Profile};

/// Fails the test if `answer` mentions any of `secrets`.
fn assert_no_detail(answer: &Answer, secrets: &[&str]) {
    let body = String::from_utf8_lossy(&answer.body);
    for secret in secrets {
        assert!(
            !body.contains(secret),
            "the error body leaked {secret:?}: {body}"
        );
    }
}

/// A profile whose endpoint accepts no connection.
fn unreachable_profile() -> (ProfileSettings, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let settings = ProfileSettings {
        name: "gone".into(),
        endpoint: format!("http://127.0.0.1:{port}").parse().expect("url"),
        region: "us-east-1".into(),
        path_style: true,
        credentials: Some(("key".into(), "secret-never-shown".into())),
        connect_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_secs(1),
        part_size: 8 << 20,
        meta_ttl: Duration::from_secs(5),
    };
    (settings, port)
}

#[tokio::test]
async fn a_database_failure_is_503_and_says_nothing_of_the_database() {
    let app = TestApp::start(|_| {}).await;
    let created = app
        .send(
            request(Method::POST, "/api/v1/sources")
                .header("content-type", "application/json")
                .body(Body::from(r#"{"name":"cam"}"#))
                .expect("request"),
        )
        .await;
    assert_eq!(created.status, 201);
    app.state.db.close().await;
    for (method, path) in [
        (Method::GET, "/api/v1/sources"),
        (Method::GET, "/api/v1/sources/cam"),
        (Method::GET, "/api/v1/recordings"),
        (Method::GET, "/live/cam/index.m3u8"),
        (Method::GET, "/api/v1/tokens"),
    ] {
        let answer = app.call(method, path).await;
        assert_eq!(answer.status, 503, "{path}: {:?}", answer.body);
        let json = answer.json();
        assert_eq!(json["error"]["code"], "database_unavailable", "{path}");
        assert_eq!(json["error"]["message"], "the metadata database failed");
        assert_no_detail(&answer, &["pool", "closed", "sqlx", "SQLite", "sqlite"]);
    }
    // LiveMix's routes say the same, in LiveMix's envelope.
    for path in ["/v1/source", "/v1/source/cam", "/v1/recording"] {
        let answer = app.call(Method::GET, path).await;
        assert_eq!(answer.status, 503, "{path}: {:?}", answer.body);
        let json = answer.json();
        assert_eq!(json["success"], false, "{path}");
        assert_eq!(json["error"]["code"], 503, "{path}");
        assert_eq!(json["error"]["detail"], "database_unavailable", "{path}");
        assert_eq!(json["error"]["message"], "the metadata database failed");
        assert_no_detail(&answer, &["pool", "closed", "sqlx", "SQLite", "sqlite"]);
    }
}

#[tokio::test]
async fn an_unreachable_store_is_502_without_its_address() {
    let (settings, port) = unreachable_profile();
    let bucket = S3Bucket::new(
        Arc::new(S3Profile::new(settings).expect("profile")),
        "media",
    )
    .expect("bucket");
    let app = TestApp::start_configured(
        |_| {},
        move |services| services.buckets.add_s3("s3", bucket).expect("add"),
    )
    .await;
    let port = port.to_string();
    let secrets = [
        "127.0.0.1",
        port.as_str(),
        "LIST",
        "HEAD",
        "secret-never-shown",
    ];
    let listed = app.call(Method::GET, "/api/v1/buckets/s3/objects").await;
    assert_eq!(listed.status, 502);
    assert_eq!(listed.json()["error"]["code"], "backend_unavailable");
    assert_no_detail(&listed, &secrets);
    let meta = app
        .call(Method::GET, "/api/v1/buckets/s3/objects/a.mp4")
        .await;
    assert_eq!(meta.status, 502);
    assert_no_detail(&meta, &secrets);
    let media = app.call(Method::GET, "/media/s3/a.mp4").await;
    assert_eq!(media.status, 502);
    assert_no_detail(&media, &secrets);
}

#[tokio::test]
async fn a_local_io_failure_is_500_without_the_path_or_the_os_error() {
    let app = TestApp::start(|dir| write_fixed(&dir.join("lib/a.mp4"), b"media")).await;
    let root = app.path("lib");
    std::fs::remove_dir_all(&root).expect("remove the bucket's folder under it");
    let listed = app.call(Method::GET, "/api/v1/buckets/lib/objects").await;
    assert_eq!(listed.status, 500, "{:?}", listed.body);
    let json = listed.json();
    assert_eq!(json["error"]["code"], "backend_io");
    assert_eq!(json["error"]["message"], "internal error");
    let root = root.display().to_string();
    assert_no_detail(&listed, &[root.as_str(), "No such file", "os error"]);
}

/// A router with one route whose handler panics, inside the real middleware stack.
fn panicking_router(app: &TestApp) -> axum::Router {
    let routes = axum::Router::new().route(
        "/boom",
        axum::routing::get(|| async {
            if true {
                panic!("the handler fell over at /secret/place");
            }
            "unreachable"
        }),
    );
    reelay::http::common::middleware::stack(routes, &app.state).with_state(app.state.clone())
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_with_the_request_id_and_no_panic_text() {
    for cors in [false, true] {
        let app = TestApp::start_configured(
            |_| {},
            |s| {
                if cors {
                    s.limits.cors_origins = vec!["https://site.example".parse().expect("origin")];
                }
            },
        )
        .await;
        let router = panicking_router(&app);
        let req = request(Method::GET, "/boom")
            .header("host", "localhost")
            .header("x-request-id", "boom-1")
            .body(Body::empty())
            .expect("request");
        let resp = tower::ServiceExt::oneshot(router, req)
            .await
            .expect("infallible");
        assert_eq!(resp.status(), 500, "cors {cors}");
        assert_eq!(resp.headers()["x-request-id"], "boom-1", "cors {cors}");
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .expect("body")
            .to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).expect("a JSON body");
        assert_eq!(json["error"]["code"], "internal", "{json}");
        let answer = Answer {
            status: 500,
            headers: Default::default(),
            body,
        };
        assert_no_detail(&answer, &["/secret/place", "fell over"]);
    }
}

#[tokio::test]
async fn with_the_database_gone_a_public_stream_still_plays_anonymously_and_a_private_one_stays_closed()
 {
    use common::live::{create_source, push_synthetic};
    let server = common::TestServer::start(|_| {}).await;
    for name in ["open", "closed"] {
        create_source(&server, name).await;
        push_synthetic(&server.url(""), name, 0, &["index0.ts", "index1.ts"]).await;
    }
    let client = reqwest::Client::new();
    let published = client
        .patch(server.url("/api/v1/sources/open"))
        .header("content-type", "application/json")
        .body(r#"{"public":true}"#)
        .send()
        .await
        .expect("patch");
    assert_eq!(published.status(), 200);
    let admin = common::live::close(&server).await;
    let anonymous = |path: &'static str| {
        let url = server.url(path);
        async move {
            let resp = reqwest::get(url).await.expect("get");
            let status = resp.status().as_u16();
            (status, resp.text().await.expect("body"))
        }
    };
    assert_eq!(anonymous("/live/open/index.m3u8").await.0, 200);
    assert_eq!(anonymous("/live/closed/index.m3u8").await.0, 401);

    server.state.db.close().await;
    // What was read before the outage still plays; nothing private opens; the node says why.
    let (status, playlist) = anonymous("/live/open/index.m3u8").await;
    assert_eq!(status, 200, "{playlist}");
    assert!(playlist.contains("0.ts"), "{playlist}");
    assert_eq!(anonymous("/live/open/0.ts").await.0, 200);
    for path in [
        "/live/closed/index.m3u8",
        "/live/closed/0.ts",
        "/live/nosuch/index.m3u8",
    ] {
        let (status, body) = anonymous(path).await;
        assert!(status == 401 || status == 503, "{path}: {status} {body}");
        assert!(
            !body.contains("sqlite") && !body.contains("pool"),
            "{path}: {body}"
        );
    }
    let with_token = client
        .get(server.url("/live/closed/index.m3u8"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("get");
    assert_eq!(with_token.status(), 503, "tokens cannot be checked");
    let (status, ready) = anonymous("/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert!(ready.contains("database"), "{ready}");
}
