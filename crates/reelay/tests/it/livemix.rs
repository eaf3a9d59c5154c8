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

#[tokio::test]
async fn livemix_viewer_urls_play_the_live_playlist_and_recordings_under_any_playlist_name() {
    let server = TestServer::start(|_| {}).await;
    create_source(&server, "cam").await;
    common::live::push_synthetic(&server.url(""), "cam", 0, &["index0.ts", "index1.ts"]).await;
    let get = |path: String| {
        let url = server.url(&path);
        async move {
            let resp = reqwest::get(url).await.expect("get");
            let status = resp.status().as_u16();
            (status, resp.bytes().await.expect("body").to_vec())
        }
    };
    let native = playlist(&server, "cam").await;
    let (status, text) = get("/v1/vod/live/cam/vid.m3u8".into()).await;
    assert_eq!(status, 200);
    let text = String::from_utf8(text).expect("utf8");
    assert_eq!(text, native, "the same playlist as /live/cam/index.m3u8");
    let first = text
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .expect("a segment")
        .to_owned();
    assert!(!first.contains('/'), "relative segment URIs: {first}");
    let (status, bytes) = get(format!("/v1/vod/live/cam/{first}")).await;
    assert_eq!((status, bytes.len()), (200, 188 * 10));
    assert_eq!(get("/v1/vod/live/nosuch/vid.m3u8".into()).await.0, 404);
    let id = &common::live::start_recording(&server.url(""), "cam", "{}").await;
    let (status, text) = get(format!("/v1/vod/recording/{id}/vid.m3u8")).await;
    assert_eq!(status, 200);
    let text = String::from_utf8(text).expect("utf8");
    let native = get(format!("/recordings/{id}/index.m3u8")).await.1;
    assert_eq!(text.as_bytes(), native, "the same replay playlist");
    assert_eq!(get(format!("/v1/vod/recording/{id}/../x.ts")).await.0, 404);
    assert_eq!(
        get("/v1/vod/recording/rec_nosuch/vid.m3u8".into()).await.0,
        404
    );
}
