//! Three control nodes behind nginx (round robin), an edge sending through nginx, ffmpeg
//! pushing to the edge: what a viewer, a recording and a direct push see across the cluster.

use std::collections::HashMap;
use std::time::Duration;

use crate::common::cluster::{assert_bus_carried, start_cluster_edge, start_nodes};
use crate::common::nginx::Nginx;
use crate::common::relay::{
    durations_ms, get_text, post_json, push_with_copy, recording_playlist, segment_files,
};
use crate::common::{self, poll_until, run_tool};

/// nginx balancing over `nodes`, round robin, streaming both ways, holding long-polls.
fn balancer(nodes: &[&common::Proc]) -> Nginx {
    let servers: String = nodes
        .iter()
        .map(|n| format!("server {};", n.addr))
        .collect();
    Nginx::start_with(
        &format!("upstream reelay {{ {servers} }}"),
        // The nodes are open (loopback, no token) to requests naming this machine: the
        // balancer passes on the client's `Host`, 127.0.0.1:PORT.
        "location / { proxy_pass http://reelay; proxy_http_version 1.1; \
         proxy_set_header Host $http_host; proxy_set_header Connection \"\"; proxy_buffering off; proxy_request_buffering off; \
         client_max_body_size 0; proxy_read_timeout 60s; }",
    )
}

fn header_value(text: &str, tag: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(tag))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {tag} in {text}"))
}

/// Reloads `url` `reloads` times, a second apart: every reload is a valid playlist whose
/// sequence numbers never go back and whose segments keep their duration; each segment, got
/// through `url`'s host (so from any node), is ffmpeg's file `local/index<msn>.ts`.
async fn watch(url: &str, reloads: usize, local: &std::path::Path) {
    let base = url.rsplit_once('/').expect("base").0.to_owned();
    let (mut last_seq, mut last_disc) = (0, 0);
    let mut durations: HashMap<String, String> = HashMap::new();
    for _ in 0..reloads {
        let (status, text) = get_text(url.to_owned()).await;
        assert_eq!(status, 200, "{text}");
        common::live::assert_valid_playlist(&text);
        let (seq, disc) = (
            header_value(&text, "#EXT-X-MEDIA-SEQUENCE:"),
            header_value(&text, "#EXT-X-DISCONTINUITY-SEQUENCE:"),
        );
        assert!(seq >= last_seq && disc >= last_disc, "went back:\n{text}");
        (last_seq, last_disc) = (seq, disc);
        let lines: Vec<&str> = text.lines().collect();
        for pair in lines.windows(2) {
            if let Some(d) = pair[0].strip_prefix("#EXTINF:") {
                let file = pair[1].to_owned();
                let known = durations
                    .entry(file.clone())
                    .or_insert_with(|| d.to_owned());
                assert_eq!(known, d, "{file} changed its duration");
            }
        }
        for file in segment_files(&text) {
            let msn: u64 = file.trim_end_matches(".ts").parse().expect("msn");
            let got = reqwest::get(format!("{base}/{file}")).await.expect("get");
            assert_eq!(got.status(), 200, "{file}");
            let bytes = got.bytes().await.expect("bytes");
            let original = std::fs::read(local.join(format!("index{msn}.ts"))).expect("copy");
            assert!(bytes == original, "{file} differs from ffmpeg's");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_behind_a_balancer_serve_one_continuous_stream_and_one_recording() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let (_db, _ns, nodes) = start_nodes(dir, &["a", "b", "c"]);
    let lb = balancer(&nodes.iter().collect::<Vec<_>>());
    let edge = start_cluster_edge(dir, &lb.base(""), &[lb.base("")]).await;
    let local = dir.join("ffmpeg-out");
    let ffmpeg = push_with_copy(edge.url("/ingest/cam/index.m3u8"), local.clone(), 30, false);
    poll_until("4 s of live stream", Duration::from_secs(30), || {
        let url = nodes[2].url("/live/cam/index.m3u8");
        async move {
            let (_, text) = get_text(url).await;
            segment_files(&text)
                .contains(&"3.ts".to_owned())
                .then_some(())
        }
    })
    .await;
    // A recording started through B, while the viewer reloads through the balancer…
    let rec = post_json(nodes[1].url("/api/v1/sources/cam/recordings"), "{}").await;
    let id = rec["id"].as_str().expect("id").to_owned();
    watch(&lb.base("/live/cam/index.m3u8"), 20, &local).await;
    // The balancer spreads the edge's segments: each node learnt others' on the bus.
    for node in &nodes {
        assert_bus_carried(node, "live", 1).await;
    }
    // …stopped through C, replays completely from A and decodes.
    let stopped = post_json(nodes[2].url(&format!("/api/v1/recordings/{id}/stop")), "").await;
    assert_eq!(stopped["open"], false, "{stopped}");
    let vod = recording_playlist(&nodes[0], &id).await;
    common::live::assert_valid_playlist(&vod);
    let files = segment_files(&vod);
    let first: u64 = files[0].trim_end_matches(".ts").parse().expect("msn");
    let expected: Vec<String> = (first..first + files.len() as u64)
        .map(|m| format!("{m}.ts"))
        .collect();
    assert_eq!(files, expected, "contiguous: {vod}");
    assert!(durations_ms(&vod).iter().sum::<f64>() >= 18.0, "{vod}");
    let url = nodes[0].url(&format!("/recordings/{id}/index.m3u8"));
    let (ok, _, err) = tokio::task::spawn_blocking(move || {
        run_tool("ffmpeg", &["-v", "error", "-i", &url, "-f", "null", "-"])
    })
    .await
    .expect("join");
    assert!(ok && err.trim().is_empty(), "decoding the replay: {err}");
    tokio::task::spawn_blocking(move || ffmpeg.join())
        .await
        .expect("join")
        .expect("ffmpeg");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_pushing_to_one_node_is_watchable_on_every_node() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let (_db, _ns, nodes) = start_nodes(dir, &["a", "b", "c"]);
    post_json(nodes[0].url("/api/v1/sources"), r#"{"name":"cam"}"#).await;
    let ingest = nodes[0].url("/ingest/cam/index.m3u8");
    let push = tokio::spawn(common::live::push(ingest, 14, "-method PUT"));
    for node in &nodes[1..] {
        poll_until(
            "two segments on another node",
            Duration::from_secs(30),
            || {
                let url = node.url("/live/cam/index.m3u8");
                async move {
                    let (_, text) = get_text(url).await;
                    (segment_files(&text).len() >= 2).then_some(())
                }
            },
        )
        .await;
    }
    let (on_b, on_c) = (
        get_text(nodes[1].url("/live/cam/index.m3u8")).await.1,
        get_text(nodes[2].url("/live/cam/index.m3u8")).await.1,
    );
    common::live::assert_valid_playlist(&on_b);
    assert_eq!(
        segment_files(&on_b)[0],
        segment_files(&on_c)[0],
        "{on_b}\n{on_c}"
    );
    for node in &nodes[1..] {
        assert_bus_carried(node, "live", 2).await;
    }
    for node in &nodes[1..] {
        let url = node.url("/live/cam/index.m3u8");
        common::live::decode_live(url, 3)
            .await
            .unwrap_or_else(|e| panic!("decoding on {}: {e}", node.addr));
    }
    push.await.expect("ffmpeg");
}
