//! Scoped edges (issue 33, part 4), as a hostile edge would try them: an edge token feeds only
//! the sources an operator named for it, never a source an encoder feeds directly, and its
//! sequence numbers stay near the stream's; whatever is refused leaves no file behind.

use crate::common;

use common::TestServer;
use common::live::{create_source, push_synthetic};
use serde_json::{Value, json};

/// PUTs segment `msn` of `source` (an id) as edge `token` would; the status.
async fn forward(server: &TestServer, token: &str, source: &str, msn: &str) -> u16 {
    reqwest::Client::new()
        .put(server.url(&format!("/api/v1/edge/sources/{source}/segments/{msn}.ts")))
        .bearer_auth(token)
        .header("reelay-duration-ms", "1000")
        .header("reelay-pdt-ms", "1900000000000")
        .header("reelay-live", "1")
        .body(vec![0x47u8; 188])
        .send()
        .await
        .expect("forward")
        .status()
        .as_u16()
}

async fn send(server: &TestServer, method: reqwest::Method, path: &str, body: Value) -> Value {
    let resp = reqwest::Client::new()
        .request(method, server.url(path))
        .json(&body)
        .send()
        .await
        .expect("request");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.expect("json")
}

/// The names of the sources in edge `token`'s desired state.
async fn desired(server: &TestServer, token: &str) -> Vec<String> {
    let state: Value = reqwest::Client::new()
        .get(server.url("/api/v1/edge/state"))
        .bearer_auth(token)
        .send()
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    state["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| s["name"].as_str().expect("name").to_owned())
        .collect()
}

/// Creates edge `name` allowed to feed `sources` (names); its token.
async fn make_edge(server: &TestServer, name: &str, sources: &[&str]) -> String {
    let body = json!({ "name": name, "sources": sources });
    let edge = send(server, reqwest::Method::POST, "/api/v1/edges", body).await;
    assert_eq!(edge["sources"], json!(sources));
    edge["token"].as_str().expect("token").to_owned()
}

fn id_of(source: &Value) -> String {
    source["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn an_edge_feeds_only_the_sources_an_operator_named_for_it() {
    let server = TestServer::start(|_| {}).await;
    let cam = id_of(&create_source(&server, "cam").await);
    let other = id_of(&create_source(&server, "other").await);
    let token = make_edge(&server, "e1", &["cam"]).await;
    assert_eq!(desired(&server, &token).await, ["cam"]);
    assert_eq!(forward(&server, &token, &cam, "0").await, 201);
    assert_eq!(
        forward(&server, &token, &other, "0").await,
        403,
        "not its source"
    );
    let widened = send(
        &server,
        reqwest::Method::PATCH,
        "/api/v1/edges/e1",
        json!({"sources": ["cam", other]}),
    )
    .await;
    assert_eq!(widened["sources"], json!(["cam", "other"]));
    assert_eq!(forward(&server, &token, &other, "0").await, 201);
    send(
        &server,
        reqwest::Method::PATCH,
        "/api/v1/edges/e1",
        json!({"sources": []}),
    )
    .await;
    assert!(desired(&server, &token).await.is_empty());
    assert_eq!(
        forward(&server, &token, &cam, "1").await,
        403,
        "no longer its source"
    );
    // Released: another edge named for it may feed it now.
    let next = make_edge(&server, "e2", &["cam"]).await;
    assert_eq!(forward(&server, &next, &cam, "1").await, 201);
    let unknown = reqwest::Client::new()
        .patch(server.url("/api/v1/edges/e2"))
        .json(&json!({"sources": ["nosuch"]}))
        .send()
        .await
        .expect("patch");
    assert_eq!(unknown.status(), 404);
    // Names no source or edge can have are no source or edge, without a database error.
    for (method, path, body) in [
        (
            reqwest::Method::PATCH,
            "/api/v1/edges/e2",
            json!({"sources": ["a\u{0}b"]}),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/edges",
            json!({"name": "e3", "sources": ["\u{0}"]}),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/sources",
            json!({"name": "cam3", "edge": "e\u{0}"}),
        ),
    ] {
        let resp = reqwest::Client::new()
            .request(method, server.url(path))
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 404, "{path} {body}");
    }
}

#[tokio::test]
async fn a_source_an_encoder_feeds_directly_is_never_claimed_by_an_edge() {
    let server = TestServer::start(|_| {}).await;
    let cam = id_of(&create_source(&server, "cam").await);
    let token = make_edge(&server, "e1", &["cam"]).await;
    push_synthetic(&server.url(""), "cam", 0, &["index0.ts", "index1.ts"]).await;
    assert_eq!(
        forward(&server, &token, &cam, "5").await,
        403,
        "fed directly"
    );
    assert!(desired(&server, &token).await.is_empty());
    // The operator giving it to the edge again is the explicit act that hands it over.
    send(
        &server,
        reqwest::Method::PATCH,
        "/api/v1/edges/e1",
        json!({"sources": ["cam"]}),
    )
    .await;
    assert_eq!(forward(&server, &token, &cam, "5").await, 201);
}

/// Every file under the server's folders named `forwarded`.
fn forwarded_files(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if dir.file_name().is_some_and(|n| n == "forwarded") {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test]
async fn a_huge_forwarded_sequence_number_is_refused_and_refusals_leave_no_file() {
    let server = TestServer::start(|_| {}).await;
    let source = create_source(&server, "cam").await;
    let cam = id_of(&source);
    let token = common::live::create_edge(&server, "e1").await;
    assert_eq!(forward(&server, &token, &cam, "0").await, 201);
    for msn in ["9223372036854775806", "10002", "99999999999"] {
        assert_eq!(forward(&server, &token, &cam, msn).await, 400, "{msn}");
    }
    let info: Value = reqwest::get(server.url("/api/v1/sources/cam"))
        .await
        .expect("source")
        .json()
        .await
        .expect("json");
    assert_eq!(
        info["next_msn"], 1,
        "the refused numbers raised nothing: {info}"
    );
    assert_eq!(
        forward(&server, &token, &cam, "1").await,
        201,
        "the stream goes on"
    );
    assert_eq!(
        forward(&server, &token, &cam, "10001").await,
        201,
        "within the bound"
    );
    // Renditions past a source's limit are refused after their bodies arrived: removed too.
    let mut refused = 0;
    for n in 0..20 {
        let status = reqwest::Client::new()
            .put(server.url(&format!("/api/v1/edge/sources/{cam}/segments/2.ts")))
            .bearer_auth(&token)
            .header("reelay-duration-ms", "1000")
            .header("reelay-pdt-ms", "1900000000000")
            .header("reelay-live", "1")
            .header("reelay-rendition", format!("stream_{n}"))
            .body(vec![0x47u8; 188])
            .send()
            .await
            .expect("forward")
            .status();
        if status.is_client_error() {
            refused += 1;
        }
    }
    assert!(refused >= 4, "the rendition limit refused {refused}");
    assert_eq!(
        forwarded_files(server.dir.path()),
        Vec::<std::path::PathBuf>::new()
    );
}
