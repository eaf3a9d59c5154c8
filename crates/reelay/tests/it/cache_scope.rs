//! Caching that matches access (issue 33, part 5): an answer under a token or a signature is
//! `private` — media (through the direct path and the router), live playlists and segments,
//! recordings — and only what anyone may read keeps the `public` its handler wrote.

use crate::common;

use std::sync::Arc;

use common::live::{close, create_source, push_synthetic, sign_prefix, start_recording};
use common::{TestServer, write_fixed};

/// The `Cache-Control` of `GET path` with `bearer` (or none), after checking it is a 200.
async fn cache_control(server: &TestServer, path: &str, bearer: Option<&str>) -> String {
    let mut request = reqwest::Client::new().get(server.url(path));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let resp = request.send().await.expect("get");
    assert_eq!(resp.status(), 200, "{path}");
    resp.headers()["cache-control"]
        .to_str()
        .expect("text")
        .to_owned()
}

/// The first URI of the playlist at `path`.
async fn first_uri(server: &TestServer, path: &str, bearer: &str) -> String {
    let text = reqwest::Client::new()
        .get(server.url(path))
        .bearer_auth(bearer)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    text.lines()
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or_else(|| panic!("no URI in {text}"))
        .to_owned()
}

#[tokio::test]
async fn answers_under_a_token_or_a_signature_are_private_and_public_ones_stay_public() {
    let server = TestServer::start_configured(
        |dir| {
            write_fixed(&dir.join("m/a.mp4"), b"media");
            write_fixed(&dir.join("pub/a.mp4"), b"media");
        },
        |s| {
            Arc::get_mut(&mut s.auth)
                .expect("sole owner")
                .public_buckets
                .insert("pub".into());
            let cdn = http::HeaderValue::from_static("public, max-age=86400");
            s.cache_control.insert("pub".into(), cdn.clone());
            s.cache_control.insert("m".into(), cdn);
        },
    )
    .await;
    for name in ["shown", "hidden"] {
        create_source(&server, name).await;
        push_synthetic(&server.url(""), name, 0, &["index0.ts", "index1.ts"]).await;
    }
    let recording = start_recording(&server.url(""), "hidden", "{}").await;
    let made_public = reqwest::Client::new()
        .patch(server.url("/api/v1/sources/shown"))
        .header("content-type", "application/json")
        .body(r#"{"public":true}"#)
        .send()
        .await
        .expect("patch");
    assert_eq!(made_public.status(), 200);
    let admin = close(&server).await;
    let token = Some(admin.as_str());

    // Under a token: private, the client's own caching kept.
    assert_eq!(
        cache_control(&server, "/media/m/a.mp4", token).await,
        "private, max-age=86400"
    );
    assert_eq!(
        cache_control(&server, "/live/hidden/index.m3u8", token).await,
        "private, max-age=1"
    );
    assert_eq!(
        cache_control(&server, "/live/hidden/0.ts", token).await,
        "private, max-age=86400, immutable"
    );
    let replay = format!("/recordings/{recording}/index.m3u8");
    assert!(
        cache_control(&server, &replay, token)
            .await
            .starts_with("private")
    );
    let segment = first_uri(&server, &replay, &admin).await;
    let segment = format!("/recordings/{recording}/{segment}");
    assert!(
        !cache_control(&server, &segment, token)
            .await
            .contains("public")
    );

    // Under a signature: private too.
    let signed = sign_prefix(&server, "/live/hidden/", token).await;
    assert_eq!(
        cache_control(&server, &format!("/live/hidden/0.ts?{signed}"), None).await,
        "private, max-age=86400, immutable"
    );
    let media = sign_prefix(&server, "/media/m/", token).await;
    assert_eq!(
        cache_control(&server, &format!("/media/m/a.mp4?{media}"), None).await,
        "private, max-age=86400"
    );

    // Anyone's: what the handler wrote.
    assert_eq!(
        cache_control(&server, "/media/pub/a.mp4", None).await,
        "public, max-age=86400"
    );
    assert_eq!(
        cache_control(&server, "/live/shown/0.ts", None).await,
        "public, max-age=86400, immutable"
    );
    // The same public segment fetched with a token is answered under it: private.
    assert!(
        cache_control(&server, "/live/shown/0.ts", token)
            .await
            .starts_with("private")
    );
}
