//! The control node's side of the edge protocol, driven directly over HTTP: edge tokens,
//! strict segment descriptions, idempotent uploads keyed by (source, msn), sources bound to one
//! edge, the live window after a gap, backfill into recordings only, and the desired state's
//! long-poll.

use crate::common;

use std::time::Duration;

use common::TestServer;
use common::live::{create_edge, create_source};
use serde_json::Value;

const NOW_MS: i64 = 1_900_000_000_000;

/// PUTs segment `msn` of `source` as an edge would; returns the status.
async fn forward(
    server: &TestServer,
    token: &str,
    source: &str,
    msn: i64,
    pdt_ms: i64,
    live: bool,
) -> u16 {
    reqwest::Client::new()
        .put(server.url(&format!("/api/v1/edge/sources/{source}/segments/{msn}.ts")))
        .bearer_auth(token)
        .header("reelay-duration-ms", "1000")
        .header("reelay-pdt-ms", pdt_ms.to_string())
        .header("reelay-live", if live { "1" } else { "0" })
        .body(vec![0x47u8; 188 * (msn as usize + 1)])
        .send()
        .await
        .expect("forward")
        .status()
        .as_u16()
}

async fn text(url: String) -> String {
    reqwest::get(url)
        .await
        .expect("get")
        .text()
        .await
        .expect("text")
}

async fn json(url: String) -> Value {
    reqwest::get(url)
        .await
        .expect("get")
        .json()
        .await
        .expect("json")
}

async fn source_id(server: &TestServer, name: &str) -> String {
    create_source(server, name).await["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

#[tokio::test]
async fn edge_routes_need_the_edges_own_token() {
    let server = TestServer::start(|_| {}).await;
    let id = source_id(&server, "cam").await;
    // Open on loopback for people, but never for edges: an edge always presents its token.
    assert_eq!(forward(&server, "", &id, 0, NOW_MS, true).await, 401);
    assert_eq!(
        forward(&server, "rle_0000", &id, 0, NOW_MS, true).await,
        401
    );
    let resp = reqwest::Client::new()
        .post(server.url("/api/v1/edge/register"))
        .send()
        .await
        .expect("register");
    assert_eq!(resp.status(), 401);
    let token = create_edge(&server, "e1").await;
    let resp = reqwest::Client::new()
        .post(server.url("/api/v1/edge/register"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("register");
    assert_eq!(resp.status(), 200);
    let edges: Value = json(server.url("/api/v1/edges")).await;
    assert_eq!(edges["edges"][0]["online"], true, "{edges}");
    assert!(
        edges["edges"][0].get("token").is_none(),
        "the token is shown once"
    );
}

#[tokio::test]
async fn segment_descriptions_are_checked_strictly() {
    let server = TestServer::start(|_| {}).await;
    let id = source_id(&server, "cam").await;
    let token = create_edge(&server, "e1").await;
    let put = |file: &'static str, duration: &'static str| {
        let (url, token) = (
            server.url(&format!("/api/v1/edge/sources/{id}/segments/{file}")),
            token.clone(),
        );
        async move {
            let resp = reqwest::Client::new()
                .put(url)
                .bearer_auth(token)
                .header("reelay-duration-ms", duration)
                .header("reelay-pdt-ms", "5")
                .body("x")
                .send()
                .await
                .expect("put");
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or_default();
            (status, body)
        }
    };
    for (file, duration) in [
        ("x.ts", "1000"),
        ("1.exe", "1000"),
        ("1.ts", "0"),
        ("1.ts", "99999999999999999999"),
    ] {
        let (status, body) = put(file, duration).await;
        assert_eq!(status, 400, "{file} {duration}: {body}");
        assert_eq!(body["error"]["code"], "bad_request");
    }
    let resp = reqwest::Client::new()
        .put(server.url(&format!("/api/v1/edge/sources/{id}/init/..%2Fescape.mp4")))
        .bearer_auth(&token)
        .body("x")
        .send()
        .await
        .expect("init");
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn uploads_are_idempotent_by_source_and_sequence_number() {
    let server = TestServer::start(|_| {}).await;
    let id = source_id(&server, "cam").await;
    let token = create_edge(&server, "e1").await;
    assert_eq!(forward(&server, &token, &id, 0, NOW_MS, true).await, 201);
    assert_eq!(
        forward(&server, &token, &id, 0, NOW_MS, true).await,
        200,
        "a re-send is not stored twice"
    );
    assert_eq!(
        forward(&server, &token, &id, 1, NOW_MS + 1000, true).await,
        201
    );
    let text = text(server.url("/live/cam/index.m3u8")).await;
    assert_eq!(
        text.lines()
            .filter(|l| l.ends_with(".ts"))
            .collect::<Vec<_>>(),
        ["0.ts", "1.ts"],
        "{text}"
    );
    let seg = reqwest::get(server.url("/live/cam/1.ts"))
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(seg.len(), 188 * 2);
    let source: Value = json(server.url("/api/v1/sources/cam")).await;
    assert_eq!(
        source["next_msn"], 2,
        "the control's numbering follows the edge's"
    );
}

#[tokio::test]
async fn a_source_comes_through_one_edge() {
    let server = TestServer::start(|_| {}).await;
    let id = source_id(&server, "cam").await;
    let first = create_edge(&server, "e1").await;
    let second = create_edge(&server, "e2").await;
    assert_eq!(forward(&server, &first, &id, 0, NOW_MS, true).await, 201);
    assert_eq!(forward(&server, &second, &id, 1, NOW_MS, true).await, 409);
}

#[tokio::test]
async fn after_a_gap_the_live_window_restarts_with_a_discontinuity() {
    let server = TestServer::start(|_| {}).await;
    let id = source_id(&server, "cam").await;
    let token = create_edge(&server, "e1").await;
    for msn in [0, 1, 2, 7, 8] {
        assert_eq!(
            forward(&server, &token, &id, msn, NOW_MS + msn * 1000, true).await,
            201
        );
    }
    let text = text(server.url("/live/cam/index.m3u8")).await;
    common::live::assert_valid_playlist(&text);
    assert!(
        text.contains("#EXT-X-MEDIA-SEQUENCE:7\n"),
        "numbers stay true: {text}"
    );
    assert!(
        text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"),
        "the discontinuity before 7 is counted: {text}"
    );
    assert!(!text.contains("\n2.ts"), "{text}");
}

#[tokio::test]
async fn backfilled_segments_go_to_recordings_only() {
    let server = TestServer::start(|_| {}).await;
    let id = source_id(&server, "cam").await;
    let token = create_edge(&server, "e1").await;
    let now = jiff::Timestamp::now().as_millisecond();
    let start = now - 60_000;
    let resp = reqwest::Client::new()
        .post(server.url("/api/v1/sources/cam/recordings"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"start": {}}}"#, start / 1000))
        .send()
        .await
        .expect("record");
    assert_eq!(resp.status(), 201);
    let rec: Value = resp.json().await.expect("json");
    let rec_id = rec["id"].as_str().expect("id").to_owned();
    // Live resumes at the newest (10), then the outage's segments arrive oldest first.
    assert_eq!(
        forward(&server, &token, &id, 10, start + 10_000, true).await,
        201
    );
    for msn in 0..10 {
        assert_eq!(
            forward(&server, &token, &id, msn, start + msn * 1000, false).await,
            201
        );
    }
    assert_eq!(
        forward(&server, &token, &id, 3, start + 3000, false).await,
        201,
        "recordings dedupe too"
    );
    let live = text(server.url("/live/cam/index.m3u8")).await;
    assert_eq!(
        live.lines()
            .filter(|l| l.ends_with(".ts"))
            .collect::<Vec<_>>(),
        ["10.ts"],
        "{live}"
    );
    let replay = text(server.url(&format!("/recordings/{rec_id}/index.m3u8"))).await;
    let files: Vec<&str> = replay.lines().filter(|l| l.ends_with(".ts")).collect();
    let expected: Vec<String> = (0..=10).map(|m| format!("{m}.ts")).collect();
    assert_eq!(files, expected, "{replay}");
    assert!(
        !replay.contains("#EXT-X-DISCONTINUITY\n"),
        "contiguous: {replay}"
    );
}

#[tokio::test]
async fn the_desired_state_long_poll_answers_at_once_on_change() {
    let server = TestServer::start(|_| {}).await;
    let token = create_edge(&server, "e1").await;
    let client = reqwest::Client::new();
    let poll = |version: Option<String>| {
        let mut url = server.url("/api/v1/edge/state");
        if let Some(v) = version {
            url.push_str(&format!("?version={v}"));
        }
        let req = client.get(url).bearer_auth(&token);
        async move {
            req.send()
                .await
                .expect("poll")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let first = poll(None).await;
    assert_eq!(first["sources"].as_array().expect("sources").len(), 0);
    let version = first["version"].as_str().expect("version").to_owned();
    let waiting = tokio::spawn(poll(Some(version.clone())));
    // The control counts long-polls that are waiting for a change: wait for this one.
    common::poll_until("the long-poll to wait", Duration::from_secs(5), || {
        let url = server.url("/metrics");
        async move {
            let text = reqwest::get(url).await.ok()?.text().await.ok()?;
            let held = text.lines().find_map(|l| {
                l.strip_prefix("reelay_edge_state_polls_held ")?
                    .trim()
                    .parse::<i64>()
                    .ok()
            })?;
            (held >= 1).then_some(())
        }
    })
    .await;
    // A source made for this edge is a change of its desired state.
    let made = client
        .post(server.url("/api/v1/sources"))
        .header("content-type", "application/json")
        .body(r#"{"name":"cam","edge":"e1"}"#)
        .send()
        .await
        .expect("create");
    assert_eq!(made.status(), 201);
    let changed = waiting.await.expect("join");
    // Parked polls also re-read the database every second (changes made through another
    // node); the change made here wakes it at once: it is counted as woken by the change.
    let woken = server.state.metrics.relay.polls_woken.get();
    assert_eq!(
        woken, 1,
        "woken by the change, not by the once-a-second re-read"
    );
    assert_ne!(changed["version"], version.as_str());
    assert_eq!(changed["sources"][0]["name"], "cam");
    assert!(
        changed["sources"][0]["ingest_token_hash"]
            .as_str()
            .is_some_and(|h| h.len() == 64)
    );
}

/// PUTs segment `msn` of `rendition` of `source` live; returns the status.
async fn forward_rendition(
    server: &TestServer,
    token: &str,
    source: &str,
    rendition: &str,
    msn: i64,
) -> u16 {
    reqwest::Client::new()
        .put(server.url(&format!("/api/v1/edge/sources/{source}/segments/{msn}.ts")))
        .bearer_auth(token)
        .header("reelay-duration-ms", "1000")
        .header("reelay-pdt-ms", (NOW_MS + msn * 1000).to_string())
        .header("reelay-live", "1")
        .header("reelay-rendition", rendition)
        .body(vec![0x47u8; 188])
        .send()
        .await
        .expect("forward")
        .status()
        .as_u16()
}

#[tokio::test]
async fn forwarded_renditions_are_idempotent_by_rendition_and_number() {
    let server = TestServer::start(|_| {}).await;
    let id = source_id(&server, "cam").await;
    let token = create_edge(&server, "e1").await;
    for (rendition, msn, want) in [
        ("index", 0, 201),
        ("stream_1", 0, 201),
        ("stream_1", 1, 201),
        ("stream_1", 1, 200),
        ("../x", 2, 400),
        ("a.b", 2, 400),
    ] {
        let got = forward_rendition(&server, &token, &id, rendition, msn).await;
        assert_eq!(got, want, "{rendition} {msn}");
    }
    let playlist = text(server.url("/live/cam/stream_1/index.m3u8")).await;
    assert!(
        playlist.contains("\n0.ts\n") && playlist.contains("\n1.ts\n"),
        "{playlist}"
    );
    // Two renditions and no multivariant pushed: one is derived.
    let top = text(server.url("/live/cam/index.m3u8")).await;
    assert!(
        top.contains("index/index.m3u8") && top.contains("stream_1/index.m3u8"),
        "{top}"
    );
    // The desired state tells an edge each rendition's floor.
    let state = reqwest::Client::new()
        .get(server.url("/api/v1/edge/state"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("state")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(state["sources"][0]["next_msn"], 1);
    assert_eq!(
        state["sources"][0]["renditions"],
        serde_json::json!([{"name": "stream_1", "next_msn": 2}])
    );
    // A multivariant playlist from the edge is kept (and a media playlist refused there).
    let put_multivariant = |body: &'static str| {
        reqwest::Client::new()
            .put(server.url(&format!("/api/v1/edge/sources/{id}/multivariant")))
            .bearer_auth(&token)
            .body(body)
            .send()
    };
    let ladder = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=320x180\nstream_1.m3u8\n";
    assert_eq!(put_multivariant(ladder).await.expect("put").status(), 204);
    let bad = "#EXTM3U\n#EXTINF:2,\na.ts\n";
    assert_eq!(put_multivariant(bad).await.expect("put").status(), 400);
    let top = text(server.url("/live/cam/index.m3u8")).await;
    assert!(
        top.contains("RESOLUTION=320x180\nstream_1/index.m3u8"),
        "{top}"
    );
    assert!(
        !top.contains("index/index.m3u8"),
        "not in the ladder: {top}"
    );
}
