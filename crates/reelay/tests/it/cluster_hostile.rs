//! The cluster bus as an attacker reaches it: a plain NATS client, no credentials, no headers,
//! publishing on a node's subjects what a forger would (issue 33). Each message is refused,
//! counted under its reason (`reelay_cluster_rejected_total{reason}`), and changes nothing:
//! no file outside the live folder is touched, no playlist lists what the node did not store.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::cluster::{nats_url, start_nodes};
use crate::common::relay::{get_text, post_json, segment_files};
use crate::common::{self, Proc, live::push_synthetic, poll_until};

/// Publishes `body` on `subject` as anyone who reaches the NATS port can, and waits for the
/// server's PONG (so the message has been taken).
fn nats_pub(subject: &str, body: &[u8]) {
    let url = nats_url();
    let addr = url.trim_start_matches("nats://");
    let stream = TcpStream::connect(addr).expect("NATS");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("INFO");
    let mut s = stream;
    write!(
        s,
        "CONNECT {{\"verbose\":false}}\r\nPUB {subject} {}\r\n",
        body.len()
    )
    .expect("pub");
    s.write_all(body).expect("body");
    s.write_all(b"\r\nPING\r\n").expect("ping");
    loop {
        line.clear();
        reader.read_line(&mut line).expect("PONG");
        assert!(!line.starts_with("-ERR"), "{line}");
        if line.starts_with("PONG") {
            return;
        }
    }
}

/// A segment announcement as a node would send it, with `row`'s fields changed by `edit`.
fn announcement(id: &str, msn: i64, file: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut note = json!({
        "row": {"source_id": id, "rendition": "index", "msn": msn, "file": file,
                "duration_ms": 2000, "discontinuity": 0, "pdt_ms": 1_800_000_000_000i64,
                "map_file": null, "bytes": 1880},
        "discontinuities": 0,
    });
    edit(&mut note);
    serde_json::to_vec(&note).expect("json")
}

/// A part message: its description's length, the description, the part's bytes.
fn part_message(id: &str, rendition: &str) -> Vec<u8> {
    let note = json!({"source": id, "rendition": rendition, "msn": 0, "index": 0,
                      "duration_ms": 250, "independent": true, "gone": false});
    let meta = serde_json::to_vec(&note).expect("json");
    let mut out = u32::try_from(meta.len())
        .expect("len")
        .to_be_bytes()
        .to_vec();
    out.extend(meta);
    out.extend(b"moof+mdat");
    out
}

async fn rejected(node: &Proc, reason: &str) -> u64 {
    let sample = format!("reelay_cluster_rejected_total{{reason=\"{reason}\"}}");
    common::metric(node.url("/metrics"), &sample).await
}

/// Waits until `node` has refused `count` messages for `reason`.
async fn until_rejected(node: &Proc, reason: &str, count: u64) {
    poll_until(
        &format!("{count} refused for {reason}"),
        Duration::from_secs(10),
        || async move { (rejected(node, reason).await >= count).then_some(()) },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_bus_messages_are_refused_counted_and_change_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_db, ns, nodes) = start_nodes(tmp.path(), &["a"]);
    let a = &nodes[0];
    let source = post_json(
        a.url("/api/v1/sources"),
        r#"{"name":"cam","target_duration":2}"#,
    )
    .await;
    let id = source["id"].as_str().expect("id").to_owned();
    push_synthetic(&a.url(""), "cam", 0, &["s0.ts", "s1.ts", "s2.ts"]).await;
    let (_, before) = get_text(a.url("/live/cam/index.m3u8")).await;
    assert_eq!(segment_files(&before), ["0.ts", "1.ts", "2.ts"], "{before}");
    let canary = tmp.path().join("canary.txt");
    std::fs::write(&canary, b"not the node's").expect("canary");
    let live = format!("{}.live.{id}", ns.name);

    // Issue 33's file deletion: an absolute name, at a sequence number pruned at once.
    let deletion = announcement(&id, -1, canary.to_str().expect("utf8"), |_| {});
    nats_pub(&live, &deletion);
    // A playlist injection, a way-out sequence number, a hidden map, a foreign subject.
    let injection = announcement(
        &id,
        3,
        "3.ts\n#EXT-X-ENDLIST\nhttp://evil.example/x.ts",
        |_| {},
    );
    nats_pub(&live, &injection);
    let huge = 9_223_372_036_854_775_806i64;
    nats_pub(
        &live,
        &announcement(&id, huge, &format!("{huge}.ts"), |_| {}),
    );
    let traversal = announcement(&id, 3, "3.ts", |n| n["row"]["map_file"] = json!("../../x"));
    nats_pub(&live, &traversal);
    let other = format!("{}.live.src_0123456789ab", ns.name);
    nats_pub(&other, &announcement(&id, 3, "3.ts", |_| {}));
    // A well-shaped row of a source nobody made, and garbage.
    let unknown = announcement("src_ffffffffffff", 3, "3.ts", |_| {});
    nats_pub(&format!("{}.live.src_ffffffffffff", ns.name), &unknown);
    nats_pub(&live, b"{not json");
    for (reason, count) in [
        ("file", 2),
        ("number", 1),
        ("map", 1),
        ("subject", 1),
        ("unknown source", 1),
        ("decode", 1),
    ] {
        until_rejected(a, reason, count).await;
    }

    // A flood of part messages for made-up renditions of a real source: the node keeps parts
    // for at most as many renditions as a source may have, and refuses the rest.
    let parts = format!("{}.part.{id}", ns.name);
    for i in 0..20 {
        nats_pub(&parts, &part_message(&id, &format!("made_up_{i}")));
    }
    nats_pub(
        &format!("{}.part.src_ffffffffffff", ns.name),
        &part_message("src_ffffffffffff", "x"),
    );
    until_rejected(a, "renditions", 4).await;
    until_rejected(a, "unknown source", 2).await;

    let (_, after) = get_text(a.url("/live/cam/index.m3u8")).await;
    assert_eq!(after, before, "the playlist is what the node stored");
    // Pruning runs as the window moves on: the canary outside the live folder stays.
    let names: Vec<String> = (3..20).map(|i| format!("s{i}.ts")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    push_synthetic(&a.url(""), "cam", 3, &names).await;
    let (_, moved) = get_text(a.url("/live/cam/index.m3u8")).await;
    assert!(
        !segment_files(&moved).contains(&"0.ts".to_owned()),
        "pruned: {moved}"
    );
    assert!(
        !moved.contains("evil") && !moved.contains(&huge.to_string()),
        "{moved}"
    );
    assert_eq!(
        std::fs::read(&canary).expect("the canary"),
        b"not the node's"
    );
}
