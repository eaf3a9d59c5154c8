//! Authorization beyond the route matrix (`auth_matrix.rs`): revoked tokens and per-token roles,
//! signed URLs and prefixes, CORS, and — on a non-loopback bind, as a real process — no
//! state-changing operation of the OpenAPI document reachable without a token.

use crate::common;

use std::time::Duration;

use axum::body::Body;
use common::app::{TestApp, request};
use common::{start_binary, write_fixed};
use http::Method;
use reelay::auth::Role;

#[tokio::test]
async fn revoked_tokens_stop_working_and_roles_are_enforced_per_token() {
    let server = TestApp::start(|dir| write_fixed(&dir.join("m/a.mp4"), b"media")).await;
    let store = &server.state.auth.tokens;
    let (row, text) = store.create("temp", Role::Admin).await.expect("token");
    let with = |method: Method, path: &str, authorization: &str| {
        request(method, path)
            .header("authorization", authorization)
            .body(Body::empty())
            .expect("request")
    };
    let bearer = format!("Bearer {text}");
    let list = || with(Method::GET, "/api/v1/tokens", &bearer);
    let listed = server.send(list()).await;
    assert_eq!(listed.status, 200);
    let listed = String::from_utf8_lossy(&listed.body).into_owned();
    assert!(!listed.contains(&text[17..]), "the secret is never listed");
    let revoke = with(
        Method::DELETE,
        &format!("/api/v1/tokens/{}", row.id),
        &bearer,
    );
    assert_eq!(server.send(revoke).await.status, 204);
    assert_eq!(server.send(list()).await.status, 401);
    let garbage = server
        .send(with(Method::GET, "/healthz", "Bearer not-a-token"))
        .await;
    assert_eq!(
        garbage.status, 401,
        "a wrong credential is refused even on public routes"
    );
}

#[tokio::test]
async fn signed_urls_from_the_api_play_in_a_plain_get_and_cover_prefixes() {
    let server = TestApp::start(|dir| {
        write_fixed(&dir.join("m/show/ep1.mp4"), b"episode one");
        write_fixed(&dir.join("m/other.mp4"), b"other");
    })
    .await;
    let (_, admin) = server
        .state
        .auth
        .tokens
        .create("a", Role::Admin)
        .await
        .expect("token");
    let sign = |body: &'static str| {
        let req = request(Method::POST, "/api/v1/sign")
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("request");
        server.send(req)
    };
    let signed = sign(r#"{"path":"/media/m/show/","prefix":true,"expires_in":60}"#)
        .await
        .json();
    let url = signed["url"].as_str().expect("url");
    let (base, query) = url.split_once('?').expect("query");
    assert_eq!(base, "/media/m/show/");
    let ok = server
        .call(Method::GET, &format!("/media/m/show/ep1.mp4?{query}"))
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body.as_ref(), b"episode one");
    let outside = server
        .call(Method::GET, &format!("/media/m/other.mp4?{query}"))
        .await;
    assert_eq!(
        outside.status, 403,
        "a prefix signature does not reach outside its folder"
    );
    for bad in [
        r#"{"path":"/api/v1/tokens"}"#,
        r#"{"path":"/media/m/show/","prefix":false}"#,
        r#"{"path":"/media/m/a.mp4","expires_in":0}"#,
        r#"{"path":"/media/m/a.mp4","expires_in":99999999}"#,
        r#"{"path":"/media/m/a.mp4?x=1"}"#,
    ] {
        assert_eq!(sign(bad).await.status, 400, "{bad}");
    }
}

#[test]
fn a_non_loopback_node_creates_an_admin_token_and_refuses_every_anonymous_state_change() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write_fixed(&tmp.path().join("data/buckets/m/a.mp4"), b"media");
    write_fixed(&tmp.path().join("public/a.mp4"), b"public media");
    let config = format!(
        "listen = \"0.0.0.0:0\"\ndata_dir = \"data\"\n[[bucket]]\nname = \"pub\"\nfs = \"{}\"\npublic = true\n",
        tmp.path().join("public").display()
    );
    std::fs::write(tmp.path().join("r.toml"), config).expect("config");
    let proc = start_binary(&["serve", "--config", "r.toml"], tmp.path(), &[]);
    let mut token = None;
    while token.is_none() {
        let line = proc
            .stderr_lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the admin token is printed");
        token = line
            .split_whitespace()
            .find(|w| w.starts_with("rly_"))
            .map(str::to_owned);
    }
    let token = token.expect("token");
    let base = format!("http://127.0.0.1:{}", proc.addr.port());
    let doc: serde_json::Value = serde_json::from_slice(
        &common::http_request("GET", &format!("{base}/openapi.json"), None).1,
    )
    .expect("openapi json");
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["post", "put", "delete", "patch"] {
            if item.get(method).is_none() {
                continue;
            }
            for bucket in ["m", "pub"] {
                let concrete = path
                    .replace("{bucket}", bucket)
                    .replace("{key}", "a.mp4")
                    .replace("{id}", "000000000000");
                let (status, _) = common::http_request(method, &format!("{base}{concrete}"), None);
                assert_eq!(status, 401, "{method} {concrete} without a token");
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 14,
        "only {checked} state-changing operations found"
    );
    let get = |path: &str| common::http_request("GET", &format!("{base}{path}"), None);
    assert_eq!(
        get("/media/pub/a.mp4"),
        (200, b"public media".to_vec()),
        "a public bucket plays"
    );
    assert_eq!(get("/api/v1/buckets/pub/objects").0, 200, "and lists");
    assert_eq!(get("/media/m/a.mp4").0, 401, "a private bucket does not");
    assert_eq!(get("/api/v1/buckets").0, 401);
    let (status, _) = common::http_request(
        "DELETE",
        &format!("{base}/api/v1/buckets/m/objects/a.mp4"),
        Some(&token),
    );
    assert_eq!(status, 204, "the printed admin token works");
}

#[tokio::test]
async fn cors_is_same_origin_by_default_and_allows_only_configured_origins() {
    let closed = TestApp::start(|dir| write_fixed(&dir.join("m/a.mp4"), b"media")).await;
    let open = TestApp::start_configured(
        |dir| write_fixed(&dir.join("m/a.mp4"), b"media"),
        |state| {
            state.limits.cors_origins = vec![http::HeaderValue::from_static("https://app.example")]
        },
    )
    .await;
    async fn preflight(app: &TestApp, origin: &'static str) -> common::app::Answer {
        let req = request(Method::OPTIONS, "/media/m/a.mp4")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "range")
            .body(Body::empty())
            .expect("request");
        app.send(req).await
    }
    let allowed =
        |a: &common::app::Answer| a.header("access-control-allow-origin").map(str::to_owned);
    assert_eq!(
        allowed(&preflight(&closed, "https://app.example").await),
        None
    );
    assert_eq!(
        allowed(&preflight(&open, "https://app.example").await).as_deref(),
        Some("https://app.example")
    );
    assert_eq!(
        allowed(&preflight(&open, "https://evil.example").await),
        None
    );
    let get = open
        .send(
            request(Method::GET, "/media/m/a.mp4")
                .header("origin", "https://app.example")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(allowed(&get).as_deref(), Some("https://app.example"));
    let exposed = get
        .header("access-control-expose-headers")
        .expect("exposed headers");
    assert!(exposed.contains("content-range"), "{exposed}");
}

/// `POST /api/v1/sign` for `path` (with `bearer`, or none on an open node): the signed URL.
async fn sign_on(app: &TestApp, path: &str, bearer: Option<&str>) -> String {
    let mut req = request(Method::POST, "/api/v1/sign").header("content-type", "application/json");
    if let Some(token) = bearer {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let answer = app
        .send(
            req.body(Body::from(format!(r#"{{"path":"{path}"}}"#)))
                .expect("request"),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.json()["url"].as_str().expect("url").to_owned()
}

#[tokio::test]
async fn a_signed_url_stops_working_when_the_token_that_signed_it_is_revoked() {
    let app = TestApp::start(|dir| write_fixed(&dir.join("m/a.mp4"), b"media")).await;
    let made_open = sign_on(&app, "/media/m/a.mp4", None).await;
    assert!(made_open.contains("by=open"), "{made_open}");
    assert_eq!(app.call(Method::GET, &made_open).await.status, 200);
    let store = &app.state.auth.tokens;
    let (signer, text) = store.create("signer", Role::Read).await.expect("token");
    let (_, other) = store.create("other", Role::Read).await.expect("token");
    let by_open = app.call(Method::GET, &made_open).await;
    assert_eq!(
        by_open.status, 403,
        "signed on the open node, which is closed now"
    );
    let url = sign_on(&app, "/media/m/a.mp4", Some(&text)).await;
    assert!(url.contains(&format!("by={}", signer.id)), "{url}");
    let kept = sign_on(&app, "/media/m/a.mp4", Some(&other)).await;
    assert_eq!(app.call(Method::GET, &url).await.status, 200);
    assert!(store.revoke(&signer.id).await.expect("revoke"));
    let revoked = app.call(Method::GET, &url).await;
    assert_eq!(revoked.status, 403);
    assert!(
        revoked.json()["error"]["message"]
            .as_str()
            .expect("message")
            .contains("revoked")
    );
    assert_eq!(
        app.call(Method::GET, &kept).await.status,
        200,
        "another signer's URL plays"
    );
    let forged = url.replace(&signer.id, &other[4..16]);
    assert_eq!(
        app.call(Method::GET, &forged).await.status,
        403,
        "the signer is signed"
    );
}

#[tokio::test]
async fn a_signing_key_rotation_keeps_old_urls_playing_until_the_old_key_is_dropped() {
    use reelay::auth::sign::{SigningKeys, key_id};
    const OLD: &[u8] = b"test-signing-key-0123456789abcdef";
    const NEW: &[u8] = b"a-newer-signing-key-0123456789abc";
    let fixture = |dir: &std::path::Path| write_fixed(&dir.join("m/a.mp4"), b"media");
    let with_keys = |previous: Option<&[u8]>| {
        let keys = SigningKeys::new(NEW.to_vec(), previous.map(<[u8]>::to_vec));
        move |s: &mut reelay::http::Services| {
            std::sync::Arc::get_mut(&mut s.auth)
                .expect("sole owner")
                .signing = keys;
        }
    };
    let before = TestApp::start(fixture).await;
    let old_url = sign_on(&before, "/media/m/a.mp4", None).await;
    assert!(
        old_url.contains(&format!("kid={}", key_id(OLD))),
        "{old_url}"
    );
    let rotated = TestApp::start_configured(fixture, with_keys(Some(OLD))).await;
    assert_eq!(rotated.call(Method::GET, &old_url).await.status, 200);
    let new_url = sign_on(&rotated, "/media/m/a.mp4", None).await;
    assert!(
        new_url.contains(&format!("kid={}", key_id(NEW))),
        "the new key signs"
    );
    assert_eq!(rotated.call(Method::GET, &new_url).await.status, 200);
    let after = TestApp::start_configured(fixture, with_keys(None)).await;
    assert_eq!(after.call(Method::GET, &old_url).await.status, 403);
    assert_eq!(after.call(Method::GET, &new_url).await.status, 200);
}

#[tokio::test]
async fn an_unknown_bearer_id_costs_no_database_query_when_repeated() {
    let app = TestApp::start(|dir| write_fixed(&dir.join("m/a.mp4"), b"media")).await;
    let (_, admin) = app
        .state
        .auth
        .tokens
        .create("admin", Role::Admin)
        .await
        .expect("token");
    let bearer = |token: String| {
        request(Method::GET, "/media/m/a.mp4")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request")
    };
    let unknown = format!("rly_{}_{}", "a".repeat(12), "b".repeat(64));
    assert_eq!(app.send(bearer(unknown.clone())).await.status, 401);
    assert_eq!(app.send(bearer(admin.clone())).await.status, 200);
    // With the database gone, only what was asked before can be answered.
    app.state.db.close().await;
    assert_eq!(
        app.send(bearer(unknown)).await.status,
        401,
        "remembered: no query"
    );
    assert_eq!(app.send(bearer(admin)).await.status, 200, "remembered too");
    let fresh = format!("rly_{}_{}", "c".repeat(12), "b".repeat(64));
    let asked = app.send(bearer(fresh)).await;
    assert_eq!(asked.status, 503, "a new id needs the database");
    assert_eq!(asked.header("retry-after"), Some("1"));
}
