//! Low-Latency HLS beyond the node ffmpeg pushes to: through an edge (the edge forwards each
//! part as it cuts it) and across the nodes of a cluster (parts on the bus). Viewers follow the
//! stream with blocking reloads on a node the encoder does not push to, and see parts of the
//! segment still arriving, one by one, byte-equal to the segment they make.

use crate::common;
use crate::low_latency::{assert_ll, get_bytes, hinted, push_streaming_dash, segments_with_parts};

use std::time::Duration;

use common::cluster::{assert_bus_carried, start_nodes};
use common::relay::{post_json, start_relay};
use common::{get_text, poll_until};

/// EXT-X-PART lines after the last complete segment: parts of the segment still arriving.
fn open_parts(text: &str) -> usize {
    let tail = text
        .lines()
        .rev()
        .take_while(|l| l.starts_with('#'))
        .filter(|l| l.starts_with("#EXT-X-PART:"));
    tail.count()
}

/// Follows `base/media_0/index.m3u8` (a node's rendition URL prefix) with blocking reloads,
/// hint after hint, and checks what a low-latency viewer needs there: every playlist keeps the
/// LL rules; parts of the segment still arriving are listed before the segment is, one by one
/// (most reloads are answered while their segment is still arriving; how soon is measured by
/// `bench/ll-latency.sh`, not here); the parts of a finished segment are its bytes.
async fn follow_low_latency(base: &str) {
    let playlist = format!("{base}/media_0/index.m3u8");
    let first = poll_until("an LL playlist", Duration::from_secs(40), || {
        let url = playlist.clone();
        async move {
            let (status, text) = get_text(url).await;
            (status == 200 && text.contains("#EXT-X-PART:")).then_some(text)
        }
    })
    .await;
    assert_ll(&first);
    let (mut msn, mut part) = hinted(&first);
    let (mut most_open, mut within_segment) = (0, 0);
    for _ in 0..16 {
        let (status, text) = get_text(format!("{playlist}?_HLS_msn={msn}&_HLS_part={part}")).await;
        assert_eq!(status, 200, "{text}");
        assert_ll(&text);
        most_open = most_open.max(open_parts(&text));
        let (next_msn, next_part) = hinted(&text);
        // Woken with the segment still arriving: only parts published one by one can do that
        // (a segment's parts arriving with it would move the hint to the next segment).
        if next_msn == msn && next_part > part {
            within_segment += 1;
        }
        (msn, part) = (next_msn, next_part);
    }
    assert!(
        most_open >= 2 && within_segment >= 8,
        "parts come as they are cut, not with their segment: {most_open} open parts at most, \
         {within_segment} of 16 reloads answered within their segment"
    );
    let (segment, parts) = poll_until("a segment with its parts", Duration::from_secs(20), || {
        let url = playlist.clone();
        async move {
            let (_, text) = get_text(url).await;
            assert_ll(&text);
            segments_with_parts(&text).into_iter().next()
        }
    })
    .await;
    let mut joined = Vec::new();
    for p in &parts {
        let (status, bytes) = get_bytes(format!("{base}/media_0/{p}")).await;
        assert_eq!(status, 200, "{p}");
        joined.extend(bytes);
    }
    let (status, whole) = get_bytes(format!("{base}/media_0/{segment}")).await;
    assert_eq!(status, 200);
    assert!(joined == whole, "the parts of {segment} are not its bytes");
    let (status, audio) = get_text(format!("{base}/media_1/index.m3u8")).await;
    assert_eq!(status, 200, "{audio}");
    assert_ll(&audio);
}

#[tokio::test]
async fn a_streaming_push_into_an_edge_is_low_latency_on_the_control_part_by_part() {
    let common::relay::Relay {
        dir: _dir,
        control,
        edge,
        ..
    } = start_relay().await;
    let url = edge.url("/ingest/cam/manifest.mpd");
    let push = tokio::task::spawn_blocking(move || push_streaming_dash(url, 14));
    follow_low_latency(&control.url("/live/cam")).await;
    push.await.expect("ffmpeg");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_reload_on_one_cluster_node_wakes_when_another_publishes_the_part() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_db, _ns, nodes) = start_nodes(tmp.path(), &["a", "b"]);
    post_json(nodes[0].url("/api/v1/sources"), r#"{"name":"ll"}"#).await;
    let url = nodes[0].url("/ingest/ll/manifest.mpd");
    let push = tokio::task::spawn_blocking(move || push_streaming_dash(url, 14));
    follow_low_latency(&nodes[1].url("/live/ll")).await;
    // The parts B listed came to it on the bus (the database holds no parts).
    assert_bus_carried(&nodes[1], "part", 8).await;
    push.await.expect("ffmpeg");
}
