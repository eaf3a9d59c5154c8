//! The cluster bus as an attacker reaches it: a plain NATS client, no credentials, publishing
//! on a node's subjects what a forger would (issue 33). Without the cluster key a message is
//! refused for its seal, its age or as a replay; with it (a node's bug, a leaked key) it is
//! still checked field by field. Each refusal is counted under its reason
//! (`reelay_cluster_rejected_total{reason}`) and changes nothing: no file outside the live
//! folder is touched, no playlist lists what the node did not store.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::cluster::{TEST_CLUSTER_KEY, nats_url, start_nodes};
use crate::common::relay::{get_text, post_json, segment_files};
use crate::common::{self, Proc, live::push_synthetic, poll_until};

/// A raw NATS connection: what anyone who reaches the port has.
struct Raw {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Raw {
    fn connect() -> Self {
        let url = nats_url();
        let stream = TcpStream::connect(url.trim_start_matches("nats://")).expect("NATS");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut raw = Self {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            writer: stream,
        };
        let info = raw.line();
        assert!(info.starts_with("INFO"), "{info}");
        raw.send(b"CONNECT {\"verbose\":false,\"headers\":true}\r\n");
        raw
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("a line from NATS");
        line
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to NATS");
    }

    /// Sends PING and reads to its PONG: what was sent before has been taken.
    fn flush(&mut self) {
        self.send(b"PING\r\n");
        loop {
            let line = self.line();
            assert!(!line.starts_with("-ERR"), "{line}");
            if line.starts_with("PONG") {
                return;
            }
        }
    }

    /// Publishes `body` on `subject` with `headers` (none: a plain PUB).
    fn publish(&mut self, subject: &str, headers: &[(&str, String)], body: &[u8]) {
        if headers.is_empty() {
            self.send(format!("PUB {subject} {}\r\n", body.len()).as_bytes());
        } else {
            let mut head = "NATS/1.0\r\n".to_owned();
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let total = head.len() + body.len();
            self.send(format!("HPUB {subject} {} {total}\r\n{head}", head.len()).as_bytes());
        }
        self.send(body);
        self.send(b"\r\n");
        self.flush();
    }

    /// The next message on a subscription: its headers block and body.
    fn next_message(&mut self) -> (String, Vec<u8>) {
        loop {
            let line = self.line();
            if line.starts_with("PING") {
                self.send(b"PONG\r\n");
                continue;
            }
            let Some(rest) = line.strip_prefix("HMSG ") else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let (head, total): (usize, usize) = (
                fields[fields.len() - 2].parse().expect("header length"),
                fields[fields.len() - 1].parse().expect("total length"),
            );
            let mut bytes = vec![0u8; total + 2];
            std::io::Read::read_exact(&mut self.reader, &mut bytes).expect("message");
            let headers = String::from_utf8_lossy(&bytes[..head]).into_owned();
            return (headers, bytes[head..total].to_vec());
        }
    }
}

/// Publishes `body` on `subject` with no headers at all.
fn nats_pub(subject: &str, body: &[u8]) {
    Raw::connect().publish(subject, &[], body);
}

/// The headers of a message sealed as a node seals them, from node `forger`, sent at `time`.
fn sealed(key: &str, subject: &str, time: i64, body: &[u8]) -> Vec<(&'static str, String)> {
    let keys = reelay::cluster::ClusterKeys::new(reelay::hex::decode(key).expect("hex"), None);
    let time = time.to_string();
    let seal = reelay::cluster::seal_hex(&keys, subject, "forger", &time, body);
    vec![
        ("reelay-node", "forger".to_owned()),
        ("reelay-time", time),
        ("reelay-seal", seal),
    ]
}

/// Publishes `body` on `subject` sealed with the cluster's key, as a node would.
fn insider_pub(subject: &str, body: &[u8]) {
    let headers = sealed(
        TEST_CLUSTER_KEY,
        subject,
        jiff::Timestamp::now().as_millisecond(),
        body,
    );
    Raw::connect().publish(subject, &headers, body);
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
async fn sealed_messages_that_say_what_no_node_would_are_refused_by_field_and_change_nothing() {
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
    insider_pub(&live, &deletion);
    // A playlist injection, a way-out sequence number, a traversing map, a foreign subject.
    let injection = announcement(
        &id,
        3,
        "3.ts\n#EXT-X-ENDLIST\nhttp://evil.example/x.ts",
        |_| {},
    );
    insider_pub(&live, &injection);
    let huge = 9_223_372_036_854_775_806i64;
    insider_pub(
        &live,
        &announcement(&id, huge, &format!("{huge}.ts"), |_| {}),
    );
    let traversal = announcement(&id, 3, "3.ts", |n| n["row"]["map_file"] = json!("../../x"));
    insider_pub(&live, &traversal);
    let other = format!("{}.live.src_0123456789ab", ns.name);
    insider_pub(&other, &announcement(&id, 3, "3.ts", |_| {}));
    // A well-shaped row of a source nobody made, and garbage.
    let unknown = announcement("src_ffffffffffff", 3, "3.ts", |_| {});
    insider_pub(&format!("{}.live.src_ffffffffffff", ns.name), &unknown);
    insider_pub(&live, b"{not json");
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
        insider_pub(&parts, &part_message(&id, &format!("made_up_{i}")));
    }
    insider_pub(
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsealed_forged_stale_and_replayed_messages_are_refused_before_they_are_read() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_db, ns, nodes) = start_nodes(tmp.path(), &["a", "b"]);
    let (a, b) = (&nodes[0], &nodes[1]);
    let source = post_json(
        a.url("/api/v1/sources"),
        r#"{"name":"cam","target_duration":2}"#,
    )
    .await;
    let id = source["id"].as_str().expect("id").to_owned();
    push_synthetic(&a.url(""), "cam", 0, &["s0.ts"]).await;
    let live = format!("{}.live.{id}", ns.name);
    let canary = tmp.path().join("canary.txt");
    std::fs::write(&canary, b"not the node's").expect("canary");
    let deletion = announcement(&id, -1, canary.to_str().expect("utf8"), |_| {});

    // Issue 33's deletion as it was sent: no headers. Then sealed with another key, sealed
    // a minute ago, and sealed now but with a body other than the one sealed.
    nats_pub(&live, &deletion);
    let now = jiff::Timestamp::now().as_millisecond();
    let wrong_key = "ab".repeat(32);
    let mut raw = Raw::connect();
    raw.publish(&live, &sealed(&wrong_key, &live, now, &deletion), &deletion);
    raw.publish(
        &live,
        &sealed(TEST_CLUSTER_KEY, &live, now - 60_000, &deletion),
        &deletion,
    );
    let other_body = announcement(&id, 5, "5.ts", |_| {});
    raw.publish(
        &live,
        &sealed(TEST_CLUSTER_KEY, &live, now, &other_body),
        &deletion,
    );
    for node in [a, b] {
        until_rejected(node, "unsealed", 1).await;
        until_rejected(node, "seal", 2).await;
        until_rejected(node, "stale", 1).await;
    }

    // A real announcement, captured off the bus and sent again: B took it once, refuses it now.
    let mut spy = Raw::connect();
    spy.send(format!("SUB {live} 1\r\n").as_bytes());
    spy.flush();
    push_synthetic(&a.url(""), "cam", 1, &["s1.ts"]).await;
    let (headers, body) = spy.next_message();
    let pairs: Vec<(&str, String)> = headers
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n, v.to_owned()))
        .collect();
    assert!(pairs.iter().any(|(n, _)| *n == "reelay-seal"), "{headers}");
    raw.publish(&live, &pairs, &body);
    until_rejected(b, "replay", 1).await;

    let (_, listed) = get_text(b.url("/live/cam/index.m3u8")).await;
    assert_eq!(segment_files(&listed), ["0.ts", "1.ts"], "{listed}");
    assert_eq!(
        std::fs::read(&canary).expect("the canary"),
        b"not the node's"
    );
}
