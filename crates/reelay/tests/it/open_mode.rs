//! Open mode is open to this machine only (issue 33, part 3), tested as an attacker would try
//! it: a DNS-rebound `Host`, proxy headers, `[server] hosts`, cross-site state changes on every
//! route that changes state, a node closed by another node on the same database, a node whose
//! last token was revoked, and the start-up warning.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use common::app::{TestApp, request};
use common::{TestServer, write_fixed};
use http::Method;
use reelay::auth::access::{Hosts, PROXY_HEADERS};

fn make_token(host: &str) -> http::Request<Body> {
    request(Method::POST, "/api/v1/tokens")
        .header("host", host)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"name":"x","role":"admin"}"#))
        .expect("request")
}

async fn token_count(app: &TestApp) -> usize {
    app.state.auth.tokens.list().await.expect("tokens").len()
}

#[tokio::test]
async fn a_rebound_host_or_a_proxy_header_gets_no_admin_token_from_an_open_node() {
    let app = TestApp::start(|_| {}).await;
    for host in [
        "attacker.example:18080",
        "attacker.example",
        "127.0.0.2:8080",
        "",
    ] {
        let answer = app.send(make_token(host)).await;
        assert_eq!(answer.status, 401, "Host: {host:?}");
        assert_eq!(answer.json()["error"]["code"], "unauthorized");
    }
    for header in PROXY_HEADERS {
        let mut req = make_token("localhost:8080");
        req.headers_mut()
            .insert(header, http::HeaderValue::from_static("203.0.113.7"));
        assert_eq!(app.send(req).await.status, 401, "{header}");
    }
    assert_eq!(token_count(&app).await, 0, "no token was made");
    let local = app.send(make_token("127.0.0.1:8080")).await;
    assert_eq!(
        local.status, 201,
        "the same request from this machine is served"
    );
}

#[tokio::test]
async fn an_open_nodes_ingest_takes_no_push_naming_another_host() {
    let app = TestApp::start(|_| {}).await;
    let create = request(Method::POST, "/api/v1/sources")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"name":"cam"}"#))
        .expect("request");
    assert_eq!(app.send(create).await.status, 201);
    let push = |host: &'static str| {
        request(Method::PUT, "/ingest/cam/seg0.ts")
            .header("host", host)
            .body(Body::from(vec![0x47; 188]))
            .expect("request")
    };
    let rebound = app.send(push("attacker.example")).await;
    assert_eq!(rebound.status, 401);
    assert_eq!(app.send(push("localhost")).await.status, 201);
}

#[tokio::test]
async fn with_server_hosts_set_other_hosts_are_misdirected_and_listed_names_are_local() {
    let app = TestApp::start_configured(
        |dir| write_fixed(&dir.join("m/a.mp4"), b"media"),
        |s| {
            Arc::get_mut(&mut s.auth).expect("sole owner").hosts =
                Hosts::new(&["media.example".into()]).expect("hosts");
        },
    )
    .await;
    let get = |path: &str, host: &str| {
        request(Method::GET, path)
            .header("host", host)
            .body(Body::empty())
            .expect("request")
    };
    for path in ["/healthz", "/media/m/a.mp4", "/api/v1/buckets"] {
        let answer = app.send(get(path, "other.example:8080")).await;
        assert_eq!(answer.status, 421, "{path}");
        assert_eq!(answer.json()["error"]["code"], "misdirected");
        let absolute = app
            .send(get("http://other.example/healthz", "media.example"))
            .await;
        assert_eq!(
            absolute.status, 421,
            "an absolute URI's authority is the host"
        );
    }
    assert_eq!(
        app.send(get("/media/m/a.mp4", "MEDIA.example:443"))
            .await
            .status,
        200
    );
    assert_eq!(
        app.send(get("/media/m/a.mp4", "[::1]:8080")).await.status,
        200
    );
    assert_eq!(
        app.send(make_token("media.example")).await.status,
        201,
        "listed is local"
    );
}

/// Every template of the router with its parameters filled in.
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closing brace") + start;
        out.push_str("p0");
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn every_state_changing_route_refuses_a_cross_site_request_without_a_token() {
    let app = TestApp::start(|dir| write_fixed(&dir.join("m/a.mp4"), b"media")).await;
    let before = app.call(Method::GET, "/api/v1/buckets").await.body;
    let mut tried = 0;
    let all = reelay::http::wiring::router::all_templates();
    for template in &all {
        for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            for (header, value) in [
                ("origin", "https://evil.example"),
                ("origin", "null"),
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-site", "same-site"),
            ] {
                let req = request(method.clone(), &concrete(template))
                    .header(header, value)
                    .header("content-type", "application/json")
                    .body(Body::from(r#"{"name":"p0","role":"admin"}"#))
                    .expect("request");
                let answer = app.send(req).await;
                assert_eq!(
                    answer.status, 403,
                    "{method} {template} with {header}: {value}"
                );
                assert_eq!(answer.json()["error"]["code"], "forbidden");
                tried += 1;
            }
        }
    }
    assert_eq!(tried, all.len() * 16);
    assert_eq!(token_count(&app).await, 0);
    assert_eq!(app.call(Method::GET, "/api/v1/buckets").await.body, before);
    assert_eq!(
        app.call(Method::GET, "/api/v1/sources").await.json()["sources"],
        serde_json::json!([])
    );
    // The node's own pages, and any caller with a token, are not cross-site.
    let own = request(Method::POST, "/api/v1/buckets")
        .header("host", "127.0.0.1:8080")
        .header("origin", "http://127.0.0.1:8080")
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"name":"own"}"#))
        .expect("request");
    assert_eq!(app.send(own).await.status, 201);
}

#[tokio::test]
async fn a_node_whose_last_token_is_revoked_stays_closed_until_reopened() {
    let app = TestApp::start(|_| {}).await;
    let made = app.send(make_token("localhost")).await;
    assert_eq!(made.status, 201);
    let (id, text) = (made.json()["id"].clone(), made.json()["token"].clone());
    let revoke = request(
        Method::DELETE,
        &format!("/api/v1/tokens/{}", id.as_str().expect("id")),
    )
    .header(
        "authorization",
        format!("Bearer {}", text.as_str().expect("token")),
    )
    .body(Body::empty())
    .expect("request");
    assert_eq!(app.send(revoke).await.status, 204);
    assert!(!app.state.auth.tokens.any_tokens(), "no token is active");
    let again = app.send(make_token("localhost")).await;
    assert_eq!(again.status, 401, "the node stayed closed");
    let restarted = reelay::auth::TokenStore::new(app.state.db.clone(), Vec::new())
        .await
        .expect("store");
    assert!(
        restarted.closed().await,
        "a restart on the same database stays closed too"
    );
    assert!(app.state.auth.tokens.reopen().await.expect("reopen"));
    assert_eq!(
        app.send(make_token("localhost")).await.status,
        201,
        "reopened explicitly"
    );
    assert!(
        !app.state.auth.tokens.reopen().await.expect("reopen"),
        "refused: a token is active"
    );
}

#[tokio::test]
async fn a_token_made_on_another_node_of_the_database_closes_this_one_within_the_ttl() {
    let a = TestServer::start(|_| {}).await;
    let b = TestServer::start_sharing(&a).await;
    let client = reqwest::Client::new();
    let tokens_on_b = || {
        client
            .get(format!("http://{}/api/v1/tokens", b.addr))
            .send()
    };
    assert_eq!(
        tokens_on_b().await.expect("b").status(),
        200,
        "b starts open"
    );
    a.state
        .auth
        .tokens
        .create("made on a", reelay::auth::Role::Admin)
        .await
        .expect("token");
    let made = Instant::now();
    let deadline = reelay::auth::store::CLOSED_TTL + Duration::from_secs(3);
    loop {
        let status = tokens_on_b().await.expect("b").status();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            made.elapsed() < deadline,
            "b still open {:?} later",
            made.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn an_open_node_says_so_at_start_naming_whom_it_is_open_to() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("reelay.toml");
    std::fs::write(&config, "[server]\nhosts = [\"media.lan\"]\n").expect("config");
    let proc = common::start_binary(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().expect("utf8"),
        ],
        dir.path(),
        &[],
    );
    let line = proc.wait_for_log("this node is OPEN");
    assert!(
        line.contains("localhost, 127.0.0.1, [::1], media.lan"),
        "{line}"
    );
    assert!(line.contains("POST /api/v1/tokens"), "{line}");
}
