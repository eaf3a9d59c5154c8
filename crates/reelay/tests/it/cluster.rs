//! Several control nodes on one metadata database (SQLite, and Postgres in the Postgres pass):
//! what they share must stay correct when they race, and an edge given every node's URL moves
//! to another when its node dies.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common::cluster::{
    assert_bus_carried, bus_received, edge_online, start_cluster_edge, start_nodes,
};
use crate::common::relay::{get_text, listed, post_json, recording_playlist, segment_files};
use crate::common::{self, TestServer, live::push_synthetic, poll_until};

/// Every (rendition, msn) of source `id` in the database's live buffer.
async fn buffered_msns(server: &TestServer, id: &str) -> Vec<i64> {
    sqlx::query_as::<_, (i64,)>("SELECT msn FROM live_segments WHERE source_id = $1 ORDER BY msn")
        .bind(id)
        .fetch_all(&server.state.db)
        .await
        .expect("segments")
        .into_iter()
        .map(|(m,)| m)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_racing_on_one_source_never_share_a_sequence_number() {
    let a = TestServer::start(|_| {}).await;
    let b = TestServer::start_sharing(&a).await;
    let source = common::live::create_source(&a, "cam").await;
    let id = source["id"].as_str().expect("id").to_owned();
    let (la, lb) = (a.state.live.clone(), b.state.live.clone());
    let (la, lb) = (la.expect("live on A"), lb.expect("live on B"));
    let found = lb
        .source("cam", reelay::live::Lookup::Current)
        .await
        .expect("node B sees the source");

    // Sequence numbers taken concurrently on both nodes are all different.
    la.sources()
        .ensure_rendition(&found.id, "index")
        .await
        .expect("row");
    let takes = (0..40).map(|i| {
        let live = if i % 2 == 0 { la.clone() } else { lb.clone() };
        let id = found.id.clone();
        tokio::spawn(async move { live.sources().take_msn(&id, "index").await.expect("msn") })
    });
    let mut taken = BTreeSet::new();
    for take in takes {
        assert!(
            taken.insert(take.await.expect("join")),
            "a number taken twice"
        );
    }
    assert_eq!(taken, (0..40).collect::<BTreeSet<u64>>());

    // Two encoders pushing the same source to different nodes, with a recording open: every
    // segment gets its own number, one buffer row and one recording row.
    let rec = reqwest::Client::new()
        .post(a.url("/api/v1/sources/cam/recordings"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("record");
    assert_eq!(rec.status(), 201);
    let rec: serde_json::Value = rec.json().await.expect("json");
    let rec_id = rec["id"].as_str().expect("id").to_owned();
    let push = |base: String, prefix: &'static str| async move {
        for i in 0..8u64 {
            let name = format!("{prefix}{i}.ts");
            push_synthetic(&base, "cam", i, &[name.as_str()]).await;
        }
    };
    tokio::join!(push(a.url(""), "a"), push(b.url(""), "b"));
    let msns = buffered_msns(&a, &id).await;
    assert_eq!(msns, (40..56).collect::<Vec<i64>>(), "one row per segment");
    let recorded: Vec<(i64,)> =
        sqlx::query_as("SELECT msn FROM recording_segments WHERE recording_id = $1 ORDER BY msn")
            .bind(&rec_id)
            .fetch_all(&b.state.db)
            .await
            .expect("recorded");
    let recorded: Vec<i64> = recorded.into_iter().map(|(m,)| m).collect();
    assert_eq!(recorded, msns, "every segment recorded once");
    for node in [&a, &b] {
        let text = common::live::playlist(node, "cam").await;
        common::live::assert_valid_playlist(&text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_moves_to_another_control_node_when_its_node_is_killed_and_loses_no_recorded_segment()
 {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("rec")).expect("rec");
    let (_db, _ns, mut nodes) = start_nodes(dir, &["a", "b"]);
    let (b, a) = (nodes.pop().expect("b"), nodes.pop().expect("a"));
    let edge = start_cluster_edge(dir, &a.url(""), &[a.url(""), b.url("")]).await;
    let base = format!("http://{}", edge.addr);
    let names = ["s0.ts", "s1.ts", "s2.ts", "s3.ts", "s4.ts", "s5.ts"];
    push_synthetic(&base, "cam", 0, &names[..3]).await;
    let on_a = listed(&a, "2.ts").await;
    assert_eq!(
        listed(&b, "2.ts").await,
        on_a,
        "both nodes serve the same playlist"
    );
    assert_bus_carried(&b, "live", 3).await;
    let (status, _) = get_text(b.url("/live/cam/1.ts")).await;
    assert_eq!(status, 200, "node B serves a segment node A accepted");
    assert!(
        edge_online(&a).await && edge_online(&b).await,
        "both nodes see it online"
    );

    // A switch made through B reaches the edge, whose long-poll A holds: B announces it on
    // the bus and A wakes the poll (A's database re-read would find it too, a second later).
    let changes_before = bus_received(&a, "changes").await;
    let off = reqwest::Client::new()
        .put(b.url("/api/v1/sources/cam/streaming"))
        .header("content-type", "application/json")
        .body(r#"{"enabled":false}"#)
        .send()
        .await
        .expect("switch");
    assert_eq!(off.status(), 200);
    poll_until(
        "the edge to see streaming off",
        Duration::from_secs(5),
        || {
            let url = edge.url("/api/v1/sources/cam");
            async move {
                let (_, text) = get_text(url).await;
                let source: serde_json::Value = serde_json::from_str(&text).ok()?;
                (source["streaming"] == false).then_some(())
            }
        },
    )
    .await;
    assert_bus_carried(&a, "changes", changes_before + 1).await;
    let on = reqwest::Client::new()
        .put(b.url("/api/v1/sources/cam/streaming"))
        .header("content-type", "application/json")
        .body(r#"{"enabled":true}"#)
        .send()
        .await
        .expect("switch");
    assert_eq!(on.status(), 200);

    // Recorded through B (from a minute ago: all of the buffer) while the edge talks to A,
    // which then dies without a goodbye.
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60);
    let body = format!(r#"{{"start":"{start}"}}"#);
    let rec = post_json(b.url("/api/v1/sources/cam/recordings"), &body).await;
    let id = rec["id"].as_str().expect("id").to_owned();
    drop(a);
    push_synthetic(&base, "cam", 0, &names).await;
    // Moving within three intervals, it never goes offline on the surviving node.
    let moved = Instant::now();
    while moved.elapsed() < Duration::from_secs(3) {
        assert!(edge_online(&b).await, "offline after {:?}", moved.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Live goes on from B (segments that arrive after a newer one go to recordings only).
    listed(&b, "5.ts").await;

    let stopped = post_json(b.url(&format!("/api/v1/recordings/{id}/stop")), "").await;
    assert_eq!(stopped["open"], false, "{stopped}");
    let vod = recording_playlist(&b, &id).await;
    common::live::assert_valid_playlist(&vod);
    // From a minute ago: the whole buffer, the three segments from before the kill (0-2)
    // and the three after (3-5), none lost.
    let files = segment_files(&vod);
    let expected: Vec<String> = (0..=5).map(|m| format!("{m}.ts")).collect();
    assert_eq!(
        files, expected,
        "every segment, from before the kill and after: {vod}"
    );
    for file in &files {
        let (status, _) = get_text(b.url(&format!("/recordings/{id}/{file}"))).await;
        assert_eq!(status, 200, "{file}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_first_node_of_a_cluster_makes_the_first_admin_token() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let db = common::metadata::for_dir(&dir.join("cluster"));
    let start = |name: &str| {
        std::fs::create_dir_all(dir.join(name)).expect("dir");
        let args = ["serve", "--listen", "0.0.0.0:0", "--data", name];
        common::start_binary_on(&args, dir, db.clone())
    };
    // Both start at once on a fresh database: exactly one makes (and prints) a token.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| start("a"));
        let b = s.spawn(|| start("b"));
        (a.join().expect("a"), b.join().expect("b"))
    });
    // (stderr is read by a thread of its own: give it a moment to catch up)
    let printed = |node: &common::Proc| {
        std::iter::from_fn(|| {
            node.stderr_lines
                .recv_timeout(Duration::from_millis(500))
                .ok()
        })
        .any(|l| l.trim_start().starts_with("rly_"))
    };
    assert_eq!(
        u8::from(printed(&a)) + u8::from(printed(&b)),
        1,
        "one first admin token"
    );
    let (tokens,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tokens")
        .fetch_one(&reelay::db::connect(&db.url).await.expect("db"))
        .await
        .expect("count");
    assert_eq!(tokens, 1);
    let (status, _) = get_text(format!("http://127.0.0.1:{}/api/v1/tokens", b.addr.port())).await;
    assert_eq!(status, 401, "node B is closed too");
}

#[tokio::test]
async fn a_lease_is_held_by_one_node_until_it_lapses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let held = common::metadata::for_dir(dir.path());
    let db = reelay::db::connect(&held.url).await.expect("db");
    let lease = |holder: &'static str, ttl: i64| {
        let db = db.clone();
        async move {
            reelay::db::try_lease(&db, "sweeper", holder, ttl)
                .await
                .expect("lease")
        }
    };
    assert!(lease("a", 60_000).await, "a takes it");
    assert!(!lease("b", 60_000).await, "b waits");
    assert!(lease("a", -1).await, "a renews it (to lapse at once)");
    assert!(lease("b", 60_000).await, "b takes the lapsed lease over");
    assert!(!lease("a", 60_000).await, "a waits");
    let other = reelay::db::try_lease(&db, "other", "a", 60_000).await;
    assert!(other.expect("lease"), "leases are by name");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_of_a_cluster_declares_an_edge_offline_and_stops_its_recordings() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let (_db, _ns, nodes) = start_nodes(dir, &["a", "b", "c"]);
    let controls: Vec<String> = nodes.iter().map(|n| n.url("")).collect();
    let mut edge = start_cluster_edge(dir, &controls[0], &controls).await;
    push_synthetic(&format!("http://{}", edge.addr), "cam", 0, &["s0.ts"]).await;
    listed(&nodes[1], "0.ts").await;
    let rec = post_json(nodes[2].url("/api/v1/sources/cam/recordings"), "{}").await;
    let id = rec["id"].as_str().expect("id").to_owned();
    let _ = edge.child.kill();
    let _ = edge.child.wait();
    poll_until("the recording to stop", Duration::from_secs(15), || {
        let url = nodes[1].url(&format!("/api/v1/recordings/{id}"));
        async move {
            let (_, text) = get_text(url).await;
            text.contains("\"open\":false").then_some(())
        }
    })
    .await;
    // Every node sees it offline; one of them (the sweeper lease's holder) said so and acted,
    // and no other did in the sweeps that came after.
    for node in &nodes {
        assert!(!edge_online(node).await, "online on {}", node.addr);
    }
    let sweeps = "reelay_edge_liveness_sweeps_total";
    for node in &nodes {
        // Two more rounds begun: one more done whole since the recording stopped.
        let after = common::metric(node.url("/metrics"), sweeps).await + 2;
        poll_until("two more sweeps", Duration::from_secs(10), || async move {
            (common::metric(node.url("/metrics"), sweeps).await >= after).then_some(())
        })
        .await;
    }
    let declared = nodes
        .iter()
        .filter(|n| {
            n.stderr_lines
                .try_iter()
                .any(|l| l.contains("edge is offline"))
        })
        .count();
    assert_eq!(declared, 1, "nodes that declared the edge offline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_turned_off_on_one_node_stops_playing_on_another_within_about_a_second() {
    let a = TestServer::start(|_| {}).await;
    let b = TestServer::start_sharing(&a).await;
    common::live::create_source(&a, "cam").await;
    push_synthetic(&a.url(""), "cam", 0, &["index0.ts"]).await;
    let playlist = b.url("/live/cam/index.m3u8");
    // Node B reads the source for its viewer (and keeps the row for a second).
    let (_, before) = get_text(playlist.clone()).await;
    assert!(!before.contains("streaming is off"), "{before}");
    let resp = reqwest::Client::new()
        .put(a.url("/api/v1/sources/cam/streaming"))
        .header("content-type", "application/json")
        .body(r#"{"enabled":false}"#)
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 200);
    let changed = Instant::now();
    poll_until(
        "node B to see streaming off",
        Duration::from_secs(5),
        || {
            let url = playlist.clone();
            async move {
                let (status, body) = get_text(url).await;
                (status == 404 && body.contains("streaming is off")).then_some(())
            }
        },
    )
    .await;
    // Within the one second a viewer's row stands (`Lookup::Viewing`), plus the
    // polling and a loaded machine's slack.
    assert!(
        changed.elapsed() < Duration::from_secs(3),
        "{:?}",
        changed.elapsed()
    );
}
