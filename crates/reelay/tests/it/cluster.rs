//! Several control nodes on one metadata database (SQLite, and Postgres in the Postgres pass):
//! what they share must stay correct when they race.

use std::collections::BTreeSet;

use crate::common::{self, TestServer, live::push_synthetic};

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
    let found = lb.source("cam").await.expect("node B sees the source");

    // Sequence numbers taken concurrently on both nodes are all different.
    la.sources
        .ensure_rendition(&found.id, "index")
        .await
        .expect("row");
    let takes = (0..40).map(|i| {
        let live = if i % 2 == 0 { la.clone() } else { lb.clone() };
        let id = found.id.clone();
        tokio::spawn(async move { live.sources.take_msn(&id, "index").await.expect("msn") })
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
