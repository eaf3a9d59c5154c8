//! Recordings with real ffmpeg: started in the past, replayed as EVENT then VOD,
//! byte-identical to what was received, decoded, deleted.

use crate::common;

use std::time::Duration;

use common::live::{create_source, push};
use common::{TestServer, run_tool};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_started_in_the_past_replays_as_event_then_vod() {
    let server = TestServer::start(|_| {}).await;
    create_source(&server, "cam").await;
    let pusher = tokio::spawn(push(
        server.url("/ingest/cam/index.m3u8"),
        12,
        "-method PUT",
    ));
    // Wait until a few segments are buffered (no event marks this; poll with a deadline).
    let url = server.url("/live/cam/index.m3u8");
    common::poll_until("three live segments", Duration::from_secs(30), || {
        let url = url.clone();
        async move {
            let resp = reqwest::get(url).await.ok()?;
            let three = resp.status() == 200 && resp.text().await.ok()?.matches(".ts").count() >= 3;
            three.then_some(())
        }
    })
    .await;
    let client = reqwest::Client::new();
    let start = common::now_secs() - 4;
    let created: serde_json::Value = client
        .post(server.url("/api/v1/sources/cam/recordings"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"start":{start},"alias":"door"}}"#))
        .send()
        .await
        .expect("start")
        .json()
        .await
        .expect("json");
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["open"], true);
    let replay = |suffix: &str| server.url(&format!("/recordings/{id}/{suffix}"));
    let open = reqwest::get(replay("index.m3u8"))
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(
        open.contains("#EXT-X-PLAYLIST-TYPE:EVENT") && !open.contains("#EXT-X-ENDLIST"),
        "{open}"
    );
    assert!(
        open.matches(".ts").count() >= 2,
        "buffered segments from before the start call: {open}"
    );
    pusher.await.expect("ffmpeg");
    let stopped = client
        .post(server.url(&format!("/api/v1/recordings/{id}/stop")))
        .send()
        .await
        .expect("stop");
    assert_eq!(stopped.status(), 200);
    let vod = reqwest::get(replay("index.m3u8"))
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    common::live::assert_valid_playlist(&vod);
    assert!(
        vod.contains("#EXT-X-PLAYLIST-TYPE:VOD") && vod.ends_with("#EXT-X-ENDLIST\n"),
        "{vod}"
    );
    let files: Vec<&str> = vod.lines().filter(|l| l.ends_with(".ts")).collect();
    assert!(files.len() >= 4, "{vod}");
    for file in &files {
        let recorded = reqwest::get(replay(file))
            .await
            .expect("get")
            .bytes()
            .await
            .expect("body");
        let live = reqwest::get(server.url(&format!("/live/cam/{file}")))
            .await
            .expect("get")
            .bytes()
            .await
            .expect("body");
        assert!(!recorded.is_empty());
        assert_eq!(
            common::sha256(&recorded),
            common::sha256(&live),
            "{file} recorded as received"
        );
    }
    let listed: serde_json::Value = reqwest::get(server.url("/api/v1/recordings?source=cam"))
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["recordings"].as_array().expect("list").len(), 1);
    let url = replay("index.m3u8");
    let (ok, _, err) = tokio::task::spawn_blocking(move || {
        run_tool("ffmpeg", &["-v", "error", "-i", &url, "-f", "null", "-"])
    })
    .await
    .expect("join");
    assert!(ok && err.trim().is_empty(), "ffmpeg decode: {err}");
    let deleted = client
        .delete(server.url(&format!("/api/v1/recordings/{id}")))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        reqwest::get(replay(files[0])).await.expect("get").status(),
        404
    );
}
