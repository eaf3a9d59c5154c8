//! The web UI in a real browser: Debian's Chromium driven by playwright-core (installed by
//! `scripts/install-test-deps`), against the real binary. Each test runs one scenario of
//! `tests/browser/run.mjs`; screenshots land in `target/tmp/browser/` (the README's come from
//! there).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{Proc, make_token, run_tool, serve_media_dir};

fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser")
}

/// Runs a scenario; panics with the browser's account of what went wrong.
fn scenario(name: &str, node: &Proc, arg: Option<&str>) {
    scenario_with(name, node, arg, &[]);
}

fn scenario_with(name: &str, node: &Proc, arg: Option<&str>, more: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/run.mjs");
    let (base, out) = (node.url(""), artifacts());
    let mut args = vec![
        script.to_str().expect("path"),
        name,
        &base,
        out.to_str().expect("path"),
    ];
    args.extend(arg);
    args.extend(more);
    let (ok, stdout, stderr) = run_tool("node", &args);
    assert!(ok, "browser scenario {name} failed:\n{stdout}\n{stderr}");
}

/// ffmpeg arguments for `seconds` of 640x360 test pattern with a tone, H.264/AAC, a keyframe a
/// second, then `output` (format options and target).
fn test_pattern(seconds: u32, output: &[&str]) -> Vec<String> {
    let head = format!(
        "-v error -f lavfi -i testsrc2=size=640x360:rate=25 -f lavfi -i sine=frequency=440 \
         -t {seconds} -c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 25 -c:a aac"
    );
    let mut args: Vec<String> = head.split_whitespace().map(str::to_owned).collect();
    args.extend(output.iter().map(|a| (*a).to_owned()));
    args
}

/// A node serving `DIR/media` (with a 20 s clip, `clip.mp4`) as the bucket `media`.
fn start_node(dir: &Path) -> Proc {
    std::fs::create_dir_all(dir.join("media")).expect("media dir");
    let clip = dir.join("media/clip.mp4");
    let args = test_pattern(
        20,
        &["-movflags", "+faststart", clip.to_str().expect("path")],
    );
    let (ok, _, err) = run_tool(
        "ffmpeg",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(ok, "ffmpeg: {err}");
    serve_media_dir(dir)
}

#[test]
fn the_library_plays_an_mp4_and_seeking_to_half_continues_from_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start_node(dir.path());
    scenario("play", &node, None);
}

#[test]
fn the_docs_page_renders_every_operation_from_the_nodes_own_assets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = serve_media_dir(dir.path());
    scenario("docs", &node, None);
}

#[test]
fn a_20_mb_upload_through_the_ui_reports_progress_and_is_listed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start_node(dir.path());
    let file = dir.path().join("upload-20mb.bin");
    std::fs::write(&file, common::pattern(20 << 20)).expect("write");
    scenario("upload", &node, file.to_str());
    let stored = std::fs::read(dir.path().join("media/upload-20mb.bin")).expect("uploaded file");
    assert!(
        stored == common::pattern(20 << 20),
        "the stored bytes are the file's"
    );
}

#[test]
fn plain_html_forms_upload_to_the_lyve_route_and_the_native_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = serve_media_dir(dir.path());
    let file = dir.path().join("form-clip.mp4");
    std::fs::write(&file, common::pattern(3 << 20)).expect("write");
    scenario("form", &node, file.to_str());
    for stored in ["media/from-lyve-form.mp4", "media/form-clip.mp4"] {
        let bytes = std::fs::read(dir.path().join(stored)).expect(stored);
        assert!(
            bytes == common::pattern(3 << 20),
            "{stored} holds the file's bytes"
        );
    }
}

/// Creates a live source on `node` from the JSON `body`.
async fn create_source(node: &Proc, body: &'static str) {
    let created = reqwest::Client::new()
        .post(node.url("/api/v1/sources"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("create source");
    assert_eq!(created.status(), 201);
}

/// ffmpeg pushing a live test pattern; killed when dropped.
struct Encoder(Child);

impl Drop for Encoder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_preview_plays_with_hls_js_and_a_recording_replays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start_node(dir.path());
    create_source(&node, r#"{"name":"cam","target_duration":1}"#).await;
    let encoder = Command::new("ffmpeg")
        .arg("-re")
        .args(test_pattern(
            120,
            &["-f", "hls", "-hls_time", "1", "-method", "PUT"],
        ))
        .arg(node.url("/ingest/cam/index.m3u8"))
        .stdin(Stdio::null())
        .spawn()
        .expect("ffmpeg must be installed (scripts/install-test-deps)");
    let _encoder = Encoder(encoder);
    tokio::task::block_in_place(|| scenario("live", &node, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_js_plays_an_abr_ladder_and_its_recording_and_the_page_lists_the_renditions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start_node(dir.path());
    create_source(&node, r#"{"name":"abr"}"#).await;
    let encoder = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25",
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440", "-t", "120"])
        .args(["-filter_complex", "[0:v]split=2[a][b];[b]scale=320:180[b2]"])
        .args(["-map", "[a]", "-map", "[b2]", "-map", "1:a", "-map", "1:a"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "25",
        ])
        .args([
            "-c:a",
            "aac",
            "-f",
            "hls",
            "-hls_time",
            "1",
            "-hls_list_size",
            "6",
        ])
        .args([
            "-var_stream_map",
            "v:0,a:0 v:1,a:1",
            "-master_pl_name",
            "master.m3u8",
        ])
        .args(["-method", "PUT"])
        .arg(node.url("/ingest/abr/stream_%v.m3u8"))
        .stdin(Stdio::null())
        .spawn()
        .expect("ffmpeg must be installed (scripts/install-test-deps)");
    let _encoder = Encoder(encoder);
    tokio::task::block_in_place(|| scenario("ladder", &node, None));
}

#[test]
fn uploads_without_permission_or_over_the_limit_say_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (read, read_entry) = make_token("read");
    let (write, write_entry) = make_token("write");
    let config = format!("[server]\nmax_upload = \"1MiB\"\n\n{read_entry}\n{write_entry}\n");
    std::fs::write(dir.path().join("reelay.toml"), config).expect("config");
    std::fs::create_dir_all(dir.path().join("media")).expect("media");
    let args = [
        "serve",
        "media",
        "--listen",
        "127.0.0.1:0",
        "--data",
        "data",
        "--config",
        "reelay.toml",
    ];
    let node = common::start_binary(&args, dir.path(), &[]);
    let file = dir.path().join("two-mib.bin");
    std::fs::write(&file, common::pattern(2 << 20)).expect("write");
    scenario_with("denied", &node, file.to_str(), &[&read, &write]);
    assert!(
        !dir.path().join("media/two-mib.bin").exists(),
        "nothing was stored"
    );
}

/// ffmpeg's streaming DASH push (LL-HLS parts), in real time, for `seconds`.
fn streaming_dash_push(node: &Proc, source: &str, seconds: u32) -> Encoder {
    let output = [
        "-f",
        "dash",
        "-seg_duration",
        "2",
        "-frag_duration",
        "0.25",
        "-frag_type",
        "duration",
        "-streaming",
        "1",
        "-ldash",
        "1",
        "-use_template",
        "1",
        "-use_timeline",
        "0",
        "-hls_playlist",
        "1",
        "-method",
        "PUT",
    ];
    let mut args = test_pattern(seconds, &output);
    // A keyframe every segment, no B-frame delay.
    let at = args.iter().position(|a| a == "-g").expect("-g") + 1;
    args[at] = "50".into();
    args.extend(["-tune".into(), "zerolatency".into()]);
    let child = Command::new("ffmpeg")
        .arg("-re")
        .args(&args)
        .arg(node.url(&format!("/ingest/{source}/manifest.mpd")))
        .stdin(Stdio::null())
        .spawn()
        .expect("ffmpeg must be installed (scripts/install-test-deps)");
    Encoder(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_js_plays_a_low_latency_stream_for_20_s_in_low_latency_and_classic_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start_node(dir.path());
    create_source(&node, r#"{"name":"ll"}"#).await;
    let _encoder = streaming_dash_push(&node, "ll", 120);
    common::poll_until("LL parts", std::time::Duration::from_secs(30), || {
        let url = node.url("/live/ll/media_0/index.m3u8");
        async move {
            let (status, text) = common::get_text(url).await;
            (status == 200 && text.contains("#EXT-X-PART:")).then_some(())
        }
    })
    .await;
    tokio::task::block_in_place(|| {
        scenario_with("hlsplay", &node, Some("ll"), &["20"]);
        scenario_with("hlsplay", &node, Some("classic"), &["20"]);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_js_plays_a_low_latency_push_into_an_edge_through_the_control_for_20_s() {
    let relay = common::relay::start_relay().await;
    let _encoder = streaming_dash_push(&relay.edge, "cam", 120);
    common::poll_until(
        "LL parts on the control",
        std::time::Duration::from_secs(30),
        || {
            let url = relay.control.url("/live/cam/media_0/index.m3u8");
            async move {
                let (status, text) = common::get_text(url).await;
                (status == 200 && text.contains("#EXT-X-PART:")).then_some(())
            }
        },
    )
    .await;
    tokio::task::block_in_place(|| {
        let url = "/live/cam/index.m3u8";
        scenario_with("hlsplay", &relay.control, Some("ll"), &["20", url]);
        scenario_with("hlsplay", &relay.control, Some("classic"), &["20", url]);
    });
}
