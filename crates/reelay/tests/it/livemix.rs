//! LiveMix-compatible ingest: `POST /v1/playlist` naming a folder inside the ingest root;
//! traversal and symlinks refused.

use crate::common;

use common::live::{create_source, playlist};
use common::{TestServer, run_tool};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn livemix_playlists_read_segments_from_inside_the_ingest_root_only() {
    let root = tempfile::tempdir().expect("root");
    let root_path = root.path().to_owned();
    let server = TestServer::start_configured(
        |_| {},
        move |state| {
            let settings = reelay::live::LiveSettings {
                ingest_root: Some(root_path),
                ..Default::default()
            };
            let dir = tempfile::tempdir().expect("tempdir").keep();
            state.live = Some(std::sync::Arc::new(common::live_on(state, &dir, settings)));
        },
    )
    .await;
    create_source(&server, "cam").await;
    let folder = root.path().join("cam");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let playlist_file = folder.join("index.m3u8");
    let target = playlist_file.to_str().expect("utf8").to_owned();
    tokio::task::spawn_blocking(move || {
        let args: Vec<String> =
            "-v error -f lavfi -i testsrc2=size=320x240:rate=25 -t 5 -c:v libx264 \
             -preset ultrafast -g 50 -f hls -hls_time 2 -hls_list_size 0"
                .split_whitespace()
                .map(str::to_owned)
                .chain([target])
                .collect();
        let (ok, _, err) = run_tool(
            "ffmpeg",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert!(ok, "ffmpeg: {err}");
    })
    .await
    .expect("join");
    let client = reqwest::Client::new();
    let post = |prefix: String, body: Vec<u8>| {
        client
            .post(server.url("/v1/playlist"))
            .header("video-source-name", "cam")
            .header("mpeg-ts-uri-prefix", prefix)
            .body(body)
            .send()
    };
    let body = std::fs::read(&playlist_file).expect("playlist");
    let resp = post(format!("file://{}", folder.display()), body.clone())
        .await
        .expect("post");
    assert_eq!(resp.status(), 204);
    let text = playlist(&server, "cam").await;
    common::live::assert_valid_playlist(&text);
    assert_eq!(
        text.lines().filter(|l| l.ends_with(".ts")).count(),
        3,
        "{text}"
    );
    for outside in [
        "file:///tmp".to_owned(),
        format!("file://{}/cam/../..", root.path().display()),
        "http://example.com/".to_owned(),
    ] {
        let status = post(outside.clone(), body.clone())
            .await
            .expect("post")
            .status()
            .as_u16();
        assert!(status == 403 || status == 400, "{outside}: {status}");
    }
    // A segment that is a symlink to a file outside the root is never read.
    let evil = root.path().join("evil");
    std::fs::create_dir_all(&evil).expect("mkdir");
    std::os::unix::fs::symlink("/etc/hostname", evil.join("index0.ts")).expect("symlink");
    create_source(&server, "evil").await;
    let resp = client
        .post(server.url("/v1/playlist"))
        .header("video-source-name", "evil")
        .header("mpeg-ts-uri-prefix", format!("file://{}", evil.display()))
        .body("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nindex0.ts\n")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 204);
    let none = reqwest::get(server.url("/live/evil/index.m3u8"))
        .await
        .expect("get");
    assert_eq!(none.status(), 404, "the linked file was not taken in");
}
