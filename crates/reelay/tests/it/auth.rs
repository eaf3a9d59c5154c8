//! The authorization matrix: every route × {no credential, read, write, admin token, valid,
//! tampered and expired signature} gives the right status; and on a non-loopback bind, no
//! state-changing operation of the OpenAPI document is reachable without a token.

use crate::common;

use std::time::Duration;

use common::{TestServer, start_binary, write_fixed};
use reelay::auth::Role;
use reelay::auth::sign::signature;
use reqwest::Method;

const KEY: &[u8] = b"test-signing-key-0123456789abcdef";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cred {
    None,
    Read,
    Write,
    Admin,
    Signed,
    Tampered,
    Expired,
}

const CREDS: [Cred; 7] = [
    Cred::None,
    Cred::Read,
    Cred::Write,
    Cred::Admin,
    Cred::Signed,
    Cred::Tampered,
    Cred::Expired,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Public,
    Read,
    Write,
    Admin,
}

/// The status class the matrix expects: 2xx (`Ok`), 401 or 403.
#[derive(Debug, PartialEq, Eq)]
enum Want {
    Ok,
    Unauthorized,
    Forbidden,
}

fn want(need: Need, media: bool, cred: Cred) -> Want {
    match (need, cred) {
        (Need::Public, _) => Want::Ok,
        (_, Cred::None) => Want::Unauthorized,
        (_, Cred::Tampered | Cred::Expired) => Want::Forbidden,
        (Need::Read, Cred::Signed) if media => Want::Ok,
        (_, Cred::Signed) => Want::Forbidden,
        (Need::Read, _) => Want::Ok,
        (Need::Write, Cred::Read) => Want::Forbidden,
        (Need::Write, _) => Want::Ok,
        (Need::Admin, Cred::Admin) => Want::Ok,
        (Need::Admin, _) => Want::Forbidden,
    }
}

struct Call {
    method: Method,
    path: String,
    body: Option<&'static str>,
    need: Need,
    media: bool,
}

/// Every route, with paths unique per credential where the call changes state.
fn calls(tag: &str) -> Vec<Call> {
    let c = |method: Method, path: String, body, need| Call {
        method,
        path,
        body,
        need,
        media: false,
    };
    vec![
        c(Method::GET, "/healthz".into(), None, Need::Public),
        c(Method::GET, "/readyz".into(), None, Need::Public),
        c(Method::GET, "/metrics".into(), None, Need::Public),
        c(Method::GET, "/".into(), None, Need::Public),
        c(Method::GET, "/ui/app.js".into(), None, Need::Public),
        c(Method::GET, "/openapi.json".into(), None, Need::Public),
        Call {
            media: true,
            ..c(Method::GET, "/media/m/a.mp4".into(), None, Need::Read)
        },
        Call {
            media: true,
            ..c(Method::HEAD, "/media/m/a.mp4".into(), None, Need::Read)
        },
        c(
            Method::GET,
            "/watch?v=a.mp4&bucket=m".into(),
            None,
            Need::Read,
        ),
        c(Method::GET, "/api/v1/buckets".into(), None, Need::Read),
        c(
            Method::GET,
            "/api/v1/buckets/m/objects".into(),
            None,
            Need::Read,
        ),
        c(
            Method::GET,
            "/api/v1/buckets/m/objects/a.mp4".into(),
            None,
            Need::Read,
        ),
        c(
            Method::POST,
            "/api/v1/sign".into(),
            Some(r#"{"path":"/media/m/a.mp4"}"#),
            Need::Read,
        ),
        c(
            Method::PUT,
            format!("/api/v1/buckets/m/objects/new-{tag}.mp4"),
            Some("x"),
            Need::Write,
        ),
        c(
            Method::DELETE,
            format!("/api/v1/buckets/m/objects/del-{tag}.mp4"),
            None,
            Need::Write,
        ),
        c(
            Method::POST,
            "/api/v1/buckets".into(),
            Some(leak(format!(r#"{{"name":"new-{tag}"}}"#))),
            Need::Admin,
        ),
        c(
            Method::DELETE,
            format!("/api/v1/buckets/gone-{tag}"),
            None,
            Need::Admin,
        ),
        c(Method::GET, "/api/v1/tokens".into(), None, Need::Admin),
        c(
            Method::POST,
            "/api/v1/tokens".into(),
            Some(r#"{"name":"t","role":"read"}"#),
            Need::Admin,
        ),
        c(
            Method::DELETE,
            format!("/api/v1/tokens/{}", "0".repeat(12)),
            None,
            Need::Admin,
        ),
    ]
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Adds the credential to the request.
fn with_cred(
    req: reqwest::RequestBuilder,
    cred: Cred,
    path: &str,
    tokens: &[String; 3],
) -> reqwest::RequestBuilder {
    let now = common::now_secs();
    let path_only = path.split('?').next().unwrap_or(path);
    let signed = |exp: u64, tamper: bool| {
        let mut sig = signature(KEY, path_only, exp);
        if tamper {
            let flipped = if sig.starts_with('0') { "1" } else { "0" };
            sig.replace_range(0..1, flipped);
        }
        req_query(exp, sig)
    };
    match cred {
        Cred::None => req,
        Cred::Read => req.bearer_auth(&tokens[0]),
        Cred::Write => req.bearer_auth(&tokens[1]),
        Cred::Admin => req.bearer_auth(&tokens[2]),
        Cred::Signed => req.query(&signed(now + 600, false)),
        Cred::Tampered => req.query(&signed(now + 600, true)),
        Cred::Expired => req.query(&signed(now - 10, false)),
    }
}

fn req_query(exp: u64, sig: String) -> [(&'static str, String); 2] {
    [("exp", exp.to_string()), ("sig", sig)]
}

#[tokio::test]
async fn every_route_and_credential_gives_the_right_status() {
    let server = TestServer::start(|dir| {
        write_fixed(&dir.join("m/a.mp4"), b"media");
        for cred in CREDS {
            write_fixed(&dir.join(format!("m/del-{cred:?}.mp4")), b"to delete");
            std::fs::create_dir_all(dir.join(format!("gone-{cred:?}"))).expect("mkdir");
        }
    })
    .await;
    // Buckets that already exist at start are the operator's; re-register the ones to delete
    // as data-dir buckets so the API may remove them.
    for cred in CREDS {
        let name = format!("gone-{cred:?}");
        server.state.buckets.remove(&name);
        let root = server.path(&name);
        server
            .state
            .buckets
            .add_fs_from(&name, &root, reelay::storage::Origin::DataDir)
            .expect("bucket");
    }
    let store = &server.state.auth.tokens;
    let mut tokens = Vec::new();
    for role in [Role::Read, Role::Write, Role::Admin] {
        tokens.push(store.create("matrix", role).await.expect("token").1);
    }
    let tokens: [String; 3] = tokens.try_into().expect("three tokens");
    let client = reqwest::Client::new();
    let mut failures = Vec::new();
    let mut cells = 0;
    for cred in CREDS {
        for call in calls(&format!("{cred:?}")) {
            let url = server.url(&call.path);
            let mut req = client.request(call.method.clone(), &url);
            if let Some(body) = call.body {
                req = req.header("content-type", "application/json").body(body);
            }
            let resp = with_cred(req, cred, &call.path, &tokens)
                .send()
                .await
                .expect("send");
            let status = resp.status().as_u16();
            let got = match status {
                200..=299 => Want::Ok,
                401 => Want::Unauthorized,
                403 => Want::Forbidden,
                // A 404 for revoking a token that does not exist means authorization passed.
                404 if call.path.starts_with("/api/v1/tokens/") => Want::Ok,
                _ => {
                    failures.push(format!(
                        "{cred:?} {} {}: unexpected {status}",
                        call.method, call.path
                    ));
                    continue;
                }
            };
            let expected = want(call.need, call.media, cred);
            if got != expected {
                failures.push(format!(
                    "{cred:?} {} {}: got {status}, want {expected:?}",
                    call.method, call.path
                ));
            }
            if status == 401 {
                assert_eq!(resp.headers()["www-authenticate"], "Bearer");
            }
            cells += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn revoked_tokens_stop_working_and_roles_are_enforced_per_token() {
    let server = TestServer::start(|dir| write_fixed(&dir.join("m/a.mp4"), b"media")).await;
    let store = &server.state.auth.tokens;
    let (row, text) = store.create("temp", Role::Admin).await.expect("token");
    let client = reqwest::Client::new();
    let list = |t: &str| {
        client
            .get(server.url("/api/v1/tokens"))
            .bearer_auth(t.to_owned())
            .send()
    };
    assert_eq!(list(&text).await.expect("get").status(), 200);
    let listed = list(&text).await.expect("get").text().await.expect("body");
    assert!(!listed.contains(&text[17..]), "the secret is never listed");
    let revoke = client
        .delete(server.url(&format!("/api/v1/tokens/{}", row.id)))
        .bearer_auth(&text)
        .send()
        .await
        .expect("delete");
    assert_eq!(revoke.status(), 204);
    assert_eq!(list(&text).await.expect("get").status(), 401);
    let garbage = client
        .get(server.url("/healthz"))
        .header("authorization", "Bearer not-a-token")
        .send()
        .await
        .expect("get");
    assert_eq!(
        garbage.status(),
        401,
        "a wrong credential is refused even on public routes"
    );
}

#[tokio::test]
async fn signed_urls_from_the_api_play_in_a_plain_get_and_cover_prefixes() {
    let server = TestServer::start(|dir| {
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
    let client = reqwest::Client::new();
    let sign = |body: &'static str| {
        client
            .post(server.url("/api/v1/sign"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let signed: serde_json::Value =
        sign(r#"{"path":"/media/m/show/","prefix":true,"expires_in":60}"#)
            .await
            .expect("sign")
            .json()
            .await
            .expect("json");
    let url = signed["url"].as_str().expect("url");
    let (base, query) = url.split_once('?').expect("query");
    assert_eq!(base, "/media/m/show/");
    let ok = reqwest::get(server.url(&format!("/media/m/show/ep1.mp4?{query}")))
        .await
        .expect("get");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.bytes().await.expect("body").as_ref(), b"episode one");
    let outside = reqwest::get(server.url(&format!("/media/m/other.mp4?{query}")))
        .await
        .expect("get");
    assert_eq!(
        outside.status(),
        403,
        "a prefix signature does not reach outside its folder"
    );
    for bad in [
        r#"{"path":"/api/v1/tokens"}"#,
        r#"{"path":"/media/m/show/","prefix":false}"#,
        r#"{"path":"/media/m/a.mp4","expires_in":0}"#,
        r#"{"path":"/media/m/a.mp4","expires_in":99999999}"#,
        r#"{"path":"/media/m/a.mp4?x=1"}"#,
    ] {
        assert_eq!(sign(bad).await.expect("sign").status(), 400, "{bad}");
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
    let closed = TestServer::start(|dir| write_fixed(&dir.join("m/a.mp4"), b"media")).await;
    let open = TestServer::start_configured(
        |dir| write_fixed(&dir.join("m/a.mp4"), b"media"),
        |state| {
            state.limits.cors_origins = vec![http::HeaderValue::from_static("https://app.example")]
        },
    )
    .await;
    let client = reqwest::Client::new();
    let preflight = |server: &TestServer, origin: &'static str| {
        client
            .request(Method::OPTIONS, server.url("/media/m/a.mp4"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "range")
            .send()
    };
    let resp = preflight(&closed, "https://app.example")
        .await
        .expect("preflight");
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    let resp = preflight(&open, "https://app.example")
        .await
        .expect("preflight");
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let resp = preflight(&open, "https://evil.example")
        .await
        .expect("preflight");
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    let get = client
        .get(open.url("/media/m/a.mp4"))
        .header("origin", "https://app.example")
        .send()
        .await
        .expect("get");
    assert_eq!(
        get.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let exposed = get.headers()["access-control-expose-headers"]
        .to_str()
        .expect("str")
        .to_owned();
    assert!(exposed.contains("content-range"), "{exposed}");
}
