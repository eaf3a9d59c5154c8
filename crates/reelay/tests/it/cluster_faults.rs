//! Cluster engines failing under a live stream: Redis and NATS of the test's own, killed and
//! brought back while an encoder pushes to node A and a viewer watches node B.

use std::time::Duration;

use crate::common::cluster::{
    Engine, Namespace, assert_bus_carried, bus_received, start_node_with,
};
use crate::common::relay::{get_text, post_json, segment_files};
use crate::common::{self, Proc, live::push_synthetic, poll_until};

/// Polls `/readyz` until it says `ready` (or, not ready, names `engine`).
async fn wait_ready(node: &Proc, ready: bool, engine: &str) {
    poll_until("/readyz to change", Duration::from_secs(10), || {
        let url = node.url("/readyz");
        async move {
            let (status, text) = get_text(url).await;
            let matches = if ready {
                status == 200
            } else {
                status == 503 && text.contains(&format!("\"engine\":\"{engine}\""))
            };
            matches.then_some(())
        }
    })
    .await;
}

/// Waits (at most `limit`) until B lists A's newest segment and serves it.
async fn b_follows_a(a: &Proc, b: &Proc, limit: Duration) {
    poll_until("node B to follow node A", limit, || async {
        let (_, on_a) = get_text(a.url("/live/cam/index.m3u8")).await;
        let newest = segment_files(&on_a).last()?.clone();
        let (_, on_b) = get_text(b.url("/live/cam/index.m3u8")).await;
        if !segment_files(&on_b).contains(&newest) {
            return None;
        }
        let (status, _) = get_text(b.url(&format!("/live/cam/{newest}"))).await;
        (status == 200).then_some(())
    })
    .await;
}

/// A segment A accepts from now on (after Redis went away), once B lists it too: B's answer.
async fn b_lists_but_cannot_fetch(a: &Proc, b: &Proc) -> (u16, String) {
    let (_, on_a) = get_text(a.url("/live/cam/index.m3u8")).await;
    let before = segment_files(&on_a).last().cloned();
    let newest = poll_until(
        "A to accept a newer segment",
        Duration::from_secs(10),
        || {
            let before = before.clone();
            async move {
                let (_, on_a) = get_text(a.url("/live/cam/index.m3u8")).await;
                let newest = segment_files(&on_a).last()?.clone();
                (Some(&newest) != before.as_ref()).then_some(newest)
            }
        },
    )
    .await;
    poll_until("B to list A's newest", Duration::from_secs(5), || async {
        let (_, on_b) = get_text(b.url("/live/cam/index.m3u8")).await;
        segment_files(&on_b).contains(&newest).then_some(())
    })
    .await;
    get_text(b.url(&format!("/live/cam/{newest}"))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_and_nats_going_away_crash_no_node_and_playback_resumes_when_they_return() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let db = common::metadata::for_dir(&dir.join("cluster"));
    let ns = Namespace::new();
    let mut engines = [("redis", Engine::redis()), ("nats", Engine::nats())];
    let cluster = ns.config_on(&engines[0].1.url(), &engines[1].1.url());
    let a = start_node_with(dir, "a", &db, &cluster);
    let b = start_node_with(dir, "b", &db, &cluster);
    post_json(
        a.url("/api/v1/sources"),
        r#"{"name":"cam","target_duration":1}"#,
    )
    .await;
    let base = a.url("");
    let pusher = tokio::spawn(async move {
        for i in 0u64.. {
            push_synthetic(&base, "cam", i, &[format!("s{i}.ts").as_str()]).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    for node in [&a, &b] {
        wait_ready(node, true, "").await;
    }
    b_follows_a(&a, &b, Duration::from_secs(10)).await;
    assert_bus_carried(&b, "live", 1).await;
    for (name, engine) in &mut engines {
        let announced = bus_received(&b, "live").await;
        engine.kill();
        for node in [&a, &b] {
            wait_ready(node, false, name).await;
            assert_eq!(get_text(node.url("/healthz")).await.0, 200, "{name} down");
            let (status, text) = get_text(node.url("/live/cam/index.m3u8")).await;
            assert_eq!(
                status, 200,
                "{name} down, the playlist is still served: {text}"
            );
        }
        if *name == "redis" {
            // A segment A accepted while Redis is away is listed on B but not fetchable
            // there: B says so precisely (and retrying later is safe).
            let (status, body) = b_lists_but_cannot_fetch(&a, &b).await;
            assert_eq!(status, 503, "{body}");
            assert!(body.contains("cluster_unavailable"), "{body}");
        } else {
            // Without announcements, B's window follows the database.
            b_follows_a(&a, &b, Duration::from_secs(5)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await; // away a while longer
        engine.resume();
        b_follows_a(&a, &b, Duration::from_secs(5)).await;
        for node in [&a, &b] {
            wait_ready(node, true, name).await;
        }
        // Announcements come again (after NATS: the clients reconnected by themselves).
        let again = bus_received(&b, "live").await.max(announced) + 1;
        assert_bus_carried(&b, "live", again).await;
    }
    assert!(
        !pusher.is_finished(),
        "the encoder's pushes kept being accepted"
    );
    pusher.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_leaves_vod_and_live_viewing_up_and_the_node_recovers() {
    let mut pg = Engine::postgres();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let clip = common::pattern(300_000);
    common::write_fixed(&dir.join("media/clip.mp4"), &clip);
    let db = common::metadata::TestDb::external(pg.url());
    let node = common::start_binary_on(&common::process::MEDIA_DIR_ARGS, dir, db);
    post_json(
        node.url("/api/v1/sources"),
        r#"{"name":"cam","target_duration":1}"#,
    )
    .await;
    push_synthetic(&node.url(""), "cam", 0, &["s0.ts", "s1.ts"]).await;
    let (_, live_before) = get_text(node.url("/live/cam/index.m3u8")).await;
    wait_ready(&node, true, "").await;

    pg.kill();
    wait_ready(&node, false, "database").await;
    let vod = reqwest::get(node.url("/media/media/clip.mp4"))
        .await
        .expect("vod");
    assert_eq!(vod.status(), 200, "VOD is served from storage");
    assert!(vod.bytes().await.expect("bytes") == clip);
    let (status, live) = get_text(node.url("/live/cam/index.m3u8")).await;
    assert_eq!(
        (status, live.as_str()),
        (200, live_before.as_str()),
        "the live window stays"
    );
    assert_eq!(get_text(node.url("/live/cam/1.ts")).await.0, 200);
    // Taking a sequence number needs the database: the encoder is told, precisely.
    let client = reqwest::Client::new();
    let seg = client
        .put(node.url("/ingest/cam/s2.ts"))
        .body(vec![0x47u8; 1880]);
    assert_eq!(seg.send().await.expect("segment").status(), 201);
    let playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:2\n#EXTINF:2,\ns2.ts\n";
    let refused = client
        .put(node.url("/ingest/cam/index.m3u8"))
        .body(playlist)
        .send()
        .await
        .expect("playlist");
    assert_eq!(refused.status(), 503);
    let body: serde_json::Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], "database_unavailable", "{body}");

    pg.resume();
    wait_ready(&node, true, "").await;
    push_synthetic(&node.url(""), "cam", 3, &["s3.ts"]).await;
    let (_, after) = get_text(node.url("/live/cam/index.m3u8")).await;
    assert!(
        segment_files(&after).len() > segment_files(&live_before).len(),
        "{after}"
    );
}
