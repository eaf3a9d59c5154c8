//! The shared tier as an attacker reaches it: whoever can write to Redis puts any bytes under
//! any key (issue 33). Every entry is sealed under the cluster key, so an entry with a changed
//! byte, one moved from another name, one sealed under another key and one in the unkeyed
//! layout of before are never served — not as a whole chunk, not as a span of one, not as a
//! live segment or an init section (resolver answers: `shared_cache.rs`). Each is counted
//! (`reelay_cluster_rejected_total{reason="tier"}`); a chunk is fetched again from its store,
//! a live segment is a 503 to retry and is never kept by the node.

use std::time::Duration;

use reelay::cluster::ClusterKeys;
use reelay::keyed::{head_len, seal_entry};

use crate::common::cluster::{Namespace, redis_url, start_nodes};
use crate::common::relay::{get_text, post_json, segment_files};
use crate::common::{Proc, concurrent_viewers, metric, poll_until, sha256};
use crate::shared_cache::{MIB, SMALL, Store, assert_range, metric_sum, urls};

const TIER_REJECTED: &str = r#"reelay_cluster_rejected_total{reason="tier"}"#;

/// Every chunk entry of `ns` (whole Redis keys, sorted) with its value.
fn chunk_entries(ns: &Namespace) -> Vec<(String, Vec<u8>)> {
    let mut keys: Vec<String> = ns
        .keys()
        .into_iter()
        .filter(|k| k.contains(":cache:chunk:"))
        .collect();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let v = ns.raw_get(&k);
            (k, v)
        })
        .collect()
}

/// A key no node has.
fn stranger() -> ClusterKeys {
    ClusterKeys::new(vec![0x66; 32], None)
}

/// Rewrites each chunk entry of `ns` as someone who reaches Redis could, four ways in turn:
/// its chunk's byte `flip_at` changed, the next chunk's entry, forged bytes sealed under
/// another key, forged bytes behind the unkeyed digest entries carried before seals. Returns
/// how many entries there were.
fn spoil(ns: &Namespace, flip_at: usize) -> usize {
    let entries = chunk_entries(ns);
    let forged = vec![b'X'; MIB as usize];
    for (i, (key, value)) in entries.iter().enumerate() {
        let name = key.split_once(":cache:").expect("a cache key").1;
        let spoilt = match i % 4 {
            0 => {
                let mut v = value.clone();
                v[head_len(MIB as usize) + flip_at] ^= 0x01;
                v
            }
            1 => entries[(i + 1) % entries.len()].1.clone(),
            2 => seal_entry(&stranger(), name.as_bytes(), &forged),
            _ => {
                let digest = name.strip_prefix("chunk:").expect("a chunk name");
                let mut v = reelay::hex::decode(digest).expect("hex");
                v.extend_from_slice(&forged);
                v
            }
        };
        ns.raw_set(key, &spoilt);
    }
    entries.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_swapped_or_foreign_chunk_entries_are_never_served_whole_or_as_a_span() {
    let (store, file) = Store::with(SMALL).await;
    let ns = Namespace::new();
    let want = sha256(&file);
    let first = store.node(&redis_url(), &ns.name, 64 << 20).await;
    concurrent_viewers(&urls(&[first]), 1, &want).await;
    let n = spoil(&ns, 1500);
    assert_eq!(n, SMALL >> 20, "one entry per chunk");
    let before = store.sent();
    // A node that keeps whole chunks: each spoilt entry is refused once and fetched again.
    let whole = store.node(&redis_url(), &ns.name, 64 << 20).await;
    concurrent_viewers(
        std::slice::from_ref(&whole.url("/media/s3/v.mp4")),
        1,
        &want,
    )
    .await;
    assert_eq!(metric_sum(&[&whole], TIER_REJECTED).await, n as u64);
    assert!(
        store.sent() - before >= SMALL as u64,
        "the refused chunks were fetched again from the store"
    );
    // A node without room reads spans from the tier; each span covers the changed byte.
    assert_eq!(spoil(&ns, 1500), n);
    let spans = store.node(&redis_url(), &ns.name, 0).await;
    for i in 0..n {
        let start = i * MIB as usize + 1000;
        assert_range(&spans, &file, start, start + 99_999).await;
    }
    let refused = metric_sum(&[&spans], TIER_REJECTED).await;
    assert!(refused >= n as u64, "{refused} refused spans of {n}");
}

/// Pushes to `node`'s source `cam` an fMP4 stream: an init section and three segments, each
/// with bytes of its own.
async fn push_fmp4(node: &Proc) {
    let client = reqwest::Client::new();
    let files = [
        ("init.mp4", 9u8),
        ("s0.m4s", 0),
        ("s1.m4s", 1),
        ("s2.m4s", 2),
    ];
    for (name, fill) in files {
        let put = client
            .put(node.url(&format!("/ingest/cam/{name}")))
            .body(vec![fill; 3000])
            .send()
            .await
            .expect("put");
        assert_eq!(put.status(), 201, "{name}");
    }
    let mut playlist = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n\
                        #EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-MAP:URI=\"init.mp4\"\n"
        .to_owned();
    for name in ["s0.m4s", "s1.m4s", "s2.m4s"] {
        playlist.push_str(&format!("#EXTINF:2.000,\n{name}\n"));
    }
    let put = client
        .put(node.url("/ingest/cam/index.m3u8"))
        .body(playlist)
        .send()
        .await
        .expect("playlist");
    assert_eq!(put.status(), 204);
}

/// The files `node`'s playlist of `cam` names (the init section first), once it names three
/// segments.
async fn listed(node: &Proc) -> Vec<String> {
    poll_until("three segments listed", Duration::from_secs(10), || async {
        let (_, text) = get_text(node.url("/live/cam/index.m3u8")).await;
        let init = text
            .lines()
            .find_map(|l| l.strip_prefix("#EXT-X-MAP:URI=\""))
            .map(|rest| rest.trim_end_matches('"').to_owned())?;
        let segments = segment_files(&text);
        (segments.len() == 3).then(|| [vec![init], segments].concat())
    })
    .await
}

async fn fetch(node: &Proc, file: &str) -> (u16, Vec<u8>) {
    let response = reqwest::get(node.url(&format!("/live/cam/{file}")))
        .await
        .expect("get");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("body").to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_or_swapped_live_segment_or_init_section_is_a_503_and_never_kept() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_db, ns, nodes) = start_nodes(tmp.path(), &["a", "b"]);
    let (a, b) = (&nodes[0], &nodes[1]);
    let source = r#"{"name":"cam","target_duration":2}"#;
    let id = post_json(a.url("/api/v1/sources"), source).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    push_fmp4(a).await;
    let files = listed(b).await;
    let key_of = |file: &str| {
        ns.keys()
            .into_iter()
            .find(|k| k.contains(&format!(":live:{id}/")) && k.ends_with(&format!("/{file}")))
            .unwrap_or_else(|| panic!("{file} in the tier"))
    };
    let keys: Vec<String> = files.iter().map(|f| key_of(f)).collect();
    let genuine: Vec<Vec<u8>> = keys.iter().map(|k| ns.raw_get(k)).collect();
    // The init section with a changed byte; segment 0 sealed under another key; segment 1
    // with segment 2's entry; segment 2 as bytes with no seal at all.
    let mut changed = genuine[0].clone();
    *changed.last_mut().expect("bytes") ^= 0x01;
    let name = keys[1].split_once(":live:").expect("live key").1;
    let foreign = seal_entry(&stranger(), format!("live:{name}").as_bytes(), b"forged");
    let spoilt = [changed, foreign, genuine[3].clone(), b"forged".to_vec()];
    for (key, value) in keys.iter().zip(&spoilt) {
        ns.raw_set(key, value);
    }
    for file in &files {
        let (status, body) = fetch(b, file).await;
        let said = String::from_utf8_lossy(&body[..body.len().min(200)]);
        assert_eq!(status, 503, "{file}: {said}");
    }
    let refused = metric(b.url("/metrics"), TIER_REJECTED).await;
    assert_eq!(refused, 4, "each refused entry counted");
    // With the genuine entries back, b serves a's bytes: it kept nothing it refused.
    for (key, value) in keys.iter().zip(&genuine) {
        ns.raw_set(key, value);
    }
    for file in &files {
        let from_b = fetch(b, file).await;
        assert_eq!(from_b.0, 200, "{file}");
        assert_eq!(from_b, fetch(a, file).await, "{file}");
    }
}
