//! Helpers for edge/control tests: a control node and an edge as real processes, ffmpeg pushing
//! to the edge with a byte-identical local copy, polling, playlist parsing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::{Proc, poll_until, run_tool, start_binary};

/// A control node's config: a short liveness interval so tests see an edge go offline soon.
pub const CONTROL_CONFIG: &str = "[edges]\ninterval = \"500ms\"\nmargin = \"250ms\"\n";

pub struct Relay {
    /// Both nodes' data: bind it (`dir: _dir`, not `..`) or it is deleted at once.
    pub dir: tempfile::TempDir,
    pub control: Proc,
    pub edge: Proc,
    pub edge_token: String,
}

pub fn start_control(dir: &Path, listen: &str) -> Proc {
    if !dir.join("control.toml").exists() {
        std::fs::write(dir.join("control.toml"), CONTROL_CONFIG).expect("config");
    }
    let args = [
        "serve",
        "--listen",
        listen,
        "--data",
        "control",
        "--config",
        "control.toml",
    ];
    start_binary(&args, dir, &[])
}

pub async fn post_json(url: String, body: &str) -> Value {
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("post");
    assert!(resp.status().is_success(), "{}", resp.status());
    resp.json().await.expect("json")
}

pub use super::get_text;

/// Starts a control node, an edge for it and a source `cam` the edge knows.
pub async fn start_relay() -> Relay {
    start_relay_with(CONTROL_CONFIG).await
}

pub async fn start_relay_with(control_config: &str) -> Relay {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("control.toml"), control_config).expect("config");
    let control = start_control(dir.path(), "127.0.0.1:0");
    let edge = post_json(control.url("/api/v1/edges"), r#"{"name":"site-a"}"#).await;
    let edge_token = edge["token"].as_str().expect("token").to_owned();
    post_json(
        control.url("/api/v1/sources"),
        r#"{"name":"cam","target_duration":1,"edge":"site-a"}"#,
    )
    .await;
    let edge = start_edge(dir.path(), &control, &edge_token).await;
    Relay {
        dir,
        control,
        edge,
        edge_token,
    }
}

/// Starts an edge node (data in `dir/edge`, config `dir/edge.toml` when there is one) for
/// `control`, and waits until it knows `cam`.
pub async fn start_edge(dir: &Path, control: &Proc, token: &str) -> Proc {
    let control_url = control.url("");
    let mut args = vec![
        "edge",
        "--control",
        &control_url,
        "--token",
        token,
        "--listen",
        "127.0.0.1:0",
        "--data",
        "edge",
    ];
    if dir.join("edge.toml").exists() {
        args.extend(["--config", "edge.toml"]);
    }
    let edge = start_binary(&args, dir, &[]);
    let source_on_edge = edge.url("/api/v1/sources/cam");
    poll_until(
        "the edge to learn the source",
        Duration::from_secs(20),
        || {
            let url = source_on_edge.clone();
            async move { (get_text(url).await.0 == 200).then_some(()) }
        },
    )
    .await;
    edge
}

/// ffmpeg pushing `seconds` of 1-second segments to the edge by PUT, and writing the very same
/// segments to `local` (the tee muxer feeds both from one encoder: byte-identical files).
pub fn push_with_copy(
    edge_ingest: String,
    local: PathBuf,
    seconds: u32,
    fmp4: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        std::fs::create_dir_all(&local).expect("local dir");
        let kind = if fmp4 { ":hls_segment_type=fmp4" } else { "" };
        let tee = format!(
            "[f=hls:hls_time=1:method=PUT{kind}]{edge_ingest}|[f=hls:hls_time=1:hls_list_size=0{kind}]{}",
            local.join("index.m3u8").display()
        );
        let seconds = seconds.to_string();
        let args = [
            "-v",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine",
            "-t",
            &seconds,
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-f",
            "tee",
            &tee,
        ];
        let (ok, _, err) = run_tool("ffmpeg", &args);
        assert!(ok, "ffmpeg failed: {err}");
    })
}

pub fn segment_files(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split('?').next().unwrap_or(l).to_owned())
        .collect()
}

pub fn durations_ms(playlist: &str) -> Vec<f64> {
    playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .filter_map(|v| v.trim_end_matches(',').parse::<f64>().ok())
        .collect()
}

/// A recording's replay playlist (asserting it is served).
pub async fn recording_playlist(control: &Proc, id: &str) -> String {
    let (status, text) = get_text(control.url(&format!("/recordings/{id}/index.m3u8"))).await;
    assert_eq!(status, 200, "{text}");
    text
}

pub fn pdt_ms(playlist: &str) -> Vec<i64> {
    playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:"))
        .map(|t| t.parse::<jiff::Timestamp>().expect("date").as_millisecond())
        .collect()
}

/// Waits until `node`'s live playlist of `cam` ends with `last`; the playlist.
pub async fn listed(node: &Proc, last: &'static str) -> String {
    let url = node.url("/live/cam/index.m3u8");
    poll_until("the segment listed", Duration::from_secs(20), move || {
        let url = url.clone();
        async move {
            let (_, text) = get_text(url).await;
            segment_files(&text)
                .last()
                .is_some_and(|f| f == last)
                .then_some(text)
        }
    })
    .await
}
