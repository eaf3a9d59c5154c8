//! The control node's side of forwarded Low-Latency parts, driven over HTTP as an edge would:
//! parts published the moment they come (a held blocking reload wakes), in order or refused,
//! closed when their segment is listed, withdrawn when the edge's upload failed, and the same
//! token, binding and header rules as every other edge upload.

use crate::common;

use std::time::Duration;

use common::TestServer;
use common::live::{create_edge, create_source};
use reelay_hls::check_ll_media_playlist;

/// Bytes of part `index` of segment `msn`: recognisable, 1000 of them.
fn part_bytes(msn: u64, index: u64) -> Vec<u8> {
    vec![(msn * 16 + index) as u8; 1000]
}

struct Edge<'a> {
    server: &'a TestServer,
    token: String,
    source: String,
}

impl<'a> Edge<'a> {
    /// Edge `site-a` of `server`, feeding a new source `cam`.
    async fn for_cam(server: &'a TestServer) -> Self {
        let created = create_source(server, "cam").await;
        Edge {
            server,
            token: create_edge(server, "site-a").await,
            source: created["id"].as_str().expect("id").to_owned(),
        }
    }

    /// PUTs part `index` of segment `msn` of `media_0` (500 ms, independent when first).
    async fn part(&self, msn: u64, index: u64) -> u16 {
        let url = format!(
            "/api/v1/edge/sources/{}/parts/p{msn}-{index}.m4s",
            self.source
        );
        reqwest::Client::new()
            .put(self.server.url(&url))
            .bearer_auth(&self.token)
            .header("reelay-duration-ms", "500")
            .header("reelay-independent", if index == 0 { "1" } else { "0" })
            .header("reelay-rendition", "media_0")
            .body(part_bytes(msn, index))
            .send()
            .await
            .expect("part")
            .status()
            .as_u16()
    }

    /// PUTs segment `msn` of `media_0`: its three parts' bytes, 1500 ms.
    async fn segment(&self, msn: u64) -> u16 {
        let body: Vec<u8> = (0..3).flat_map(|i| part_bytes(msn, i)).collect();
        let url = format!("/api/v1/edge/sources/{}/segments/{msn}.m4s", self.source);
        reqwest::Client::new()
            .put(self.server.url(&url))
            .bearer_auth(&self.token)
            .header("reelay-duration-ms", "1500")
            .header(
                "reelay-pdt-ms",
                (1_900_000_000_000 + msn * 1500).to_string(),
            )
            .header("reelay-live", "1")
            .header("reelay-rendition", "media_0")
            .body(body)
            .send()
            .await
            .expect("segment")
            .status()
            .as_u16()
    }

    async fn withdraw(&self, msn: u64) -> u16 {
        let url = format!("/api/v1/edge/sources/{}/parts/{msn}", self.source);
        reqwest::Client::new()
            .delete(self.server.url(&url))
            .bearer_auth(&self.token)
            .header("reelay-rendition", "media_0")
            .send()
            .await
            .expect("delete")
            .status()
            .as_u16()
    }
}

async fn get(url: String) -> (u16, bytes::Bytes) {
    let resp = reqwest::get(url).await.expect("get");
    (resp.status().as_u16(), resp.bytes().await.expect("body"))
}

fn assert_ll(text: &str) {
    assert_eq!(
        check_ll_media_playlist(text),
        Vec::<String>::new(),
        "{text}"
    );
}

#[tokio::test]
async fn forwarded_parts_are_published_in_order_closed_by_their_segment_and_withdrawn() {
    let server = TestServer::start(|_| {}).await;
    let edge = Edge::for_cam(&server).await;
    let playlist = server.url("/live/cam/media_0/index.m3u8");
    assert_eq!(edge.segment(4).await, 201, "a segment to lay parts after");
    assert_eq!(edge.part(5, 1).await, 409, "a part before the first");
    assert_eq!(edge.part(5, 0).await, 204);
    assert_eq!(edge.part(5, 1).await, 204);
    assert_eq!(edge.part(5, 1).await, 409, "a part sent twice");
    let (status, text) = get(playlist.clone()).await;
    let text = String::from_utf8_lossy(&text).into_owned();
    assert_eq!(status, 200, "{text}");
    assert_ll(&text);
    assert!(
        text.contains("p5-1.m4s") && text.contains("URI=\"p5-2.m4s\""),
        "{text}"
    );
    let (status, bytes) = get(server.url("/live/cam/media_0/p5-1.m4s")).await;
    assert_eq!((status, bytes.as_ref()), (200, &part_bytes(5, 1)[..]));

    // A reload held for the next part is answered when the edge forwards it.
    let held = tokio::spawn(get(format!("{playlist}?_HLS_msn=5&_HLS_part=2")));
    common::until_held(&server).await;
    assert!(!held.is_finished(), "answered before the part came");
    assert_eq!(edge.part(5, 2).await, 204);
    let (status, woke) = tokio::time::timeout(Duration::from_secs(5), held)
        .await
        .expect("answered in time")
        .expect("join");
    let woke = String::from_utf8_lossy(&woke).into_owned();
    assert_eq!(status, 200, "{woke}");
    assert_ll(&woke);
    assert!(woke.contains("p5-2.m4s"), "{woke}");

    // The segment closes its parts: listed with all three, and a late part is refused.
    assert_eq!(edge.segment(5).await, 201);
    let (_, listed) = get(playlist.clone()).await;
    let listed = String::from_utf8_lossy(&listed).into_owned();
    assert_ll(&listed);
    assert!(listed.contains("\n5.m4s\n"), "{listed}");
    assert_eq!(edge.part(5, 3).await, 409);

    // An upload that failed at the edge takes its parts away.
    assert_eq!(edge.part(6, 0).await, 204);
    assert_eq!(get(server.url("/live/cam/media_0/p6-0.m4s")).await.0, 200);
    assert_eq!(edge.withdraw(6).await, 204);
    let (_, after) = get(playlist.clone()).await;
    let after = String::from_utf8_lossy(&after).into_owned();
    assert_ll(&after);
    let withdrawn = after
        .lines()
        .any(|l| l.starts_with("#EXT-X-PART:") && l.contains("p6-0.m4s"));
    assert!(!withdrawn, "a withdrawn part is not listed: {after}");
}

#[tokio::test]
async fn part_uploads_keep_the_edge_protocols_rules() {
    let server = TestServer::start(|_| {}).await;
    let created = create_source(&server, "cam").await;
    let id = created["id"].as_str().expect("id").to_owned();
    let token = create_edge(&server, "site-a").await;
    let other = create_edge(&server, "site-b").await;
    let put = |path: String, token: Option<String>, headers: Vec<(&'static str, &'static str)>| {
        let mut req = reqwest::Client::new()
            .put(server.url(&path))
            .body(vec![1u8; 100]);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (name, value) in headers {
            req = req.header(name, value);
        }
        async move { req.send().await.expect("put").status().as_u16() }
    };
    let part = |file: &str| format!("/api/v1/edge/sources/{id}/parts/{file}");
    let ok = vec![("reelay-duration-ms", "250")];
    assert_eq!(put(part("p1-0.m4s"), None, ok.clone()).await, 401);
    assert_eq!(
        put(part("p1-0.m4s"), Some("rly_x".into()), ok.clone()).await,
        401
    );
    assert_eq!(
        put(part("p1.m4s"), Some(token.clone()), ok.clone()).await,
        400
    );
    assert_eq!(
        put(part("1.m4s"), Some(token.clone()), ok.clone()).await,
        400
    );
    assert_eq!(
        put(part("p1-0.m4s"), Some(token.clone()), vec![]).await,
        400
    );
    let long = vec![("reelay-duration-ms", "10001")];
    assert_eq!(put(part("p1-0.m4s"), Some(token.clone()), long).await, 400);
    let bad = vec![("reelay-duration-ms", "250"), ("reelay-rendition", "../x")];
    assert_eq!(put(part("p1-0.m4s"), Some(token.clone()), bad).await, 400);
    assert_eq!(
        put(part("p1-0.m4s"), Some(token.clone()), ok.clone()).await,
        204
    );
    assert_eq!(
        put(part("p1-1.m4s"), Some(other), ok.clone()).await,
        409,
        "the source came through site-a"
    );
    let gone = "/api/v1/edge/sources/nope/parts/p1-0.m4s".to_owned();
    assert_eq!(put(gone, Some(token.clone()), ok.clone()).await, 404);
    // Parts are for live viewers: none while the source does not stream.
    let off = reqwest::Client::new()
        .put(server.url(&format!("/api/v1/sources/{id}/streaming")))
        .header("content-type", "application/json")
        .body(r#"{"enabled":false}"#)
        .send()
        .await
        .expect("streaming off");
    assert!(off.status().is_success(), "{}", off.status());
    assert_eq!(put(part("p1-1.m4s"), Some(token), ok).await, 409);
}

#[tokio::test]
async fn blocking_reloads_beyond_the_nodes_cap_get_503_with_retry_after_and_are_counted() {
    let server = TestServer::start_configured(
        |_| {},
        |s| {
            let settings = reelay::live::LiveSettings {
                max_held: 1,
                ..Default::default()
            };
            common::replace_live(s, settings);
        },
    )
    .await;
    let edge = Edge::for_cam(&server).await;
    let playlist = server.url("/live/cam/media_0/index.m3u8");
    assert_eq!(edge.segment(4).await, 201);
    assert_eq!(edge.part(5, 0).await, 204);
    let blocking = format!("{playlist}?_HLS_msn=5&_HLS_part=1");
    let held = tokio::spawn(get(blocking.clone()));
    common::until_held(&server).await;
    let over = reqwest::get(blocking).await.expect("reload");
    assert_eq!(over.status(), 503);
    assert_eq!(over.headers()["retry-after"], "1");
    let body: serde_json::Value = over.json().await.expect("json");
    assert_eq!(body["error"]["code"], "busy");
    assert_eq!(server.state.metrics.live.held_refused.get(), 1);
    assert!(!held.is_finished(), "the held reload is still held");
    assert_eq!(edge.part(5, 1).await, 204);
    let (status, _) = tokio::time::timeout(Duration::from_secs(5), held)
        .await
        .expect("answered in time")
        .expect("join");
    assert_eq!(status, 200, "the one within the cap is answered");
}
