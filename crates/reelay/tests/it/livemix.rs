//! LiveMix-compatible ingest: `POST /v1/playlist` naming a folder inside the ingest root;
//! traversal and symlinks refused; real ffmpeg `-method POST` as LiveMix's README runs it, into
//! the all-in-one node and into an edge, watched through LiveMix's viewer URLs.

use crate::common;

use std::path::PathBuf;
use std::time::Duration;

use common::live::{create_source, playlist};
use common::relay::{segment_files, start_control, start_edge};
use common::{TestServer, get_text, run_tool};

/// A server whose live relay runs with `settings`.
async fn server_with(settings: reelay::live::LiveSettings) -> TestServer {
    TestServer::start_configured(
        |_| {},
        move |state| {
            let dir = tempfile::tempdir().expect("tempdir").keep();
            state.live = Some(std::sync::Arc::new(common::live_on(state, &dir, settings)));
        },
    )
    .await
}

/// ffmpeg as LiveMix's README runs it: segments written to `folder`, each playlist POSTed to
/// `url` (`/v1/playlist`), with LiveMix's headers when `headers` is given. The segment files.
async fn ffmpeg_post(url: String, folder: PathBuf, headers: Option<String>) -> Vec<PathBuf> {
    std::fs::create_dir_all(&folder).expect("mkdir");
    let segments = folder.join("seg%d.ts").display().to_string();
    let listed = folder.clone();
    tokio::task::spawn_blocking(move || {
        let mut args: Vec<String> = "-v error -f lavfi -i testsrc2=size=320x240:rate=25 -t 4 \
             -c:v libx264 -preset ultrafast -g 25 -f hls -hls_time 1 -hls_list_size 0 -method POST"
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        args.extend(["-hls_segment_filename".to_owned(), segments]);
        if let Some(h) = headers {
            args.extend(["-headers".to_owned(), h]);
        }
        args.push(url);
        let (ok, _, err) = run_tool(
            "ffmpeg",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert!(ok, "ffmpeg: {err}");
    })
    .await
    .expect("join");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&listed)
        .expect("folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "ts"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    files
}

/// Waits until `base`'s LiveMix viewer playlist of `cam` lists `count` segments, then checks
/// every listed segment is byte for byte one of the encoder's `files`.
async fn watch_matches(base: String, files: &[PathBuf]) {
    let url = format!("{base}/v1/vod/live/cam/vid.m3u8");
    let count = files.len();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let text = loop {
        let (status, text) = get_text(url.clone()).await;
        if status == 200 && segment_files(&text).len() == count {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for the {count} segments of {files:?} to be listed; \
             the last answer was {status}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    common::live::assert_valid_playlist(&text);
    let local: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("segment"))
        .collect();
    for name in segment_files(&text) {
        let resp = reqwest::get(format!("{base}/v1/vod/live/cam/{name}"))
            .await
            .expect("segment");
        assert_eq!(resp.status(), 200, "{name}");
        let bytes = resp.bytes().await.expect("bytes");
        assert!(
            local.iter().any(|l| l[..] == bytes[..]),
            "{name} is an encoder's segment"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_posting_without_headers_uses_the_configured_livemix_source_and_folder() {
    let root = tempfile::tempdir().expect("root");
    let folder = root.path().join("cam");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let prefix = format!("file://{}", folder.display());
    let settings = reelay::live::LiveSettings {
        ingest_root: Some(root.path().to_owned()),
        livemix_source: Some("cam".into()),
        livemix_prefix: Some(prefix),
        ..Default::default()
    };
    let server = server_with(settings).await;
    create_source(&server, "cam").await;
    let files = ffmpeg_post(server.url("/v1/playlist"), folder, None).await;
    watch_matches(server.url(""), &files).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_posting_livemix_headers_to_an_edge_plays_on_the_control_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("encoder");
    std::fs::create_dir_all(&root).expect("root");
    let config = format!("[live]\ningest_root = \"{}\"\n", root.display());
    std::fs::write(dir.path().join("edge.toml"), config).expect("edge config");
    let control = start_control(dir.path(), "127.0.0.1:0");
    let edge = common::relay::post_json(control.url("/api/v1/edges"), r#"{"name":"site-a"}"#).await;
    let token = edge["token"].as_str().expect("token").to_owned();
    let source = r#"{"name":"cam","target_duration":1,"edge":"site-a"}"#;
    common::relay::post_json(control.url("/api/v1/sources"), source).await;
    let edge = start_edge(dir.path(), &control, &token).await;
    let folder = root.join("camera-0");
    let headers = format!(
        "Video-Source-Name: cam\r\nMPEG-TS-URI-Prefix: file://{}\r\n",
        folder.display()
    );
    let files = ffmpeg_post(edge.url("/v1/playlist"), folder, Some(headers)).await;
    watch_matches(control.url(""), &files).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn livemix_playlists_read_segments_from_inside_the_ingest_root_only() {
    let root = tempfile::tempdir().expect("root");
    let settings = reelay::live::LiveSettings {
        ingest_root: Some(root.path().to_owned()),
        ..Default::default()
    };
    let server = server_with(settings).await;
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

/// ffmpeg does not wait for the answer to one playlist POST before sending the next: an encoder
/// faster than real time (or a slow server) has several of them in flight at once, each
/// listing one segment more. Whatever order they are taken in, every segment is listed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn livemix_playlists_posted_at_once_as_ffmpeg_does_list_every_segment_once() {
    const SEGMENTS: usize = 8;
    let root = tempfile::tempdir().expect("root");
    let settings = reelay::live::LiveSettings {
        ingest_root: Some(root.path().to_owned()),
        window: SEGMENTS,
        ..Default::default()
    };
    let server = server_with(settings).await;
    let client = reqwest::Client::new();
    for round in 0..12 {
        let name = format!("cam{round}");
        create_source(&server, &name).await;
        let folder = root.path().join(&name);
        std::fs::create_dir_all(&folder).expect("mkdir");
        let mut text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n".to_owned();
        let mut bodies = Vec::new();
        for i in 0..SEGMENTS {
            let mut bytes = vec![0x47u8; 188 * 10];
            bytes[1] = u8::try_from(i).expect("small");
            std::fs::write(folder.join(format!("seg{i}.ts")), bytes).expect("segment");
            text.push_str(&format!("#EXTINF:1.000000,\nseg{i}.ts\n"));
            bodies.push(text.clone());
        }
        let posts = bodies.into_iter().map(|body| {
            client
                .post(server.url("/v1/playlist"))
                .header("video-source-name", &name)
                .header("mpeg-ts-uri-prefix", format!("file://{}", folder.display()))
                .body(body)
                .send()
        });
        for resp in futures_util::future::join_all(posts).await {
            let resp = resp.expect("post");
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            assert_eq!(status, 204, "round {round}: {text}");
        }
        let text = playlist(&server, &name).await;
        let listed = segment_files(&text);
        assert_eq!(listed.len(), SEGMENTS, "round {round}:\n{text}");
        let mut seen = std::collections::HashSet::new();
        for file in &listed {
            let bytes = reqwest::get(server.url(&format!("/live/{name}/{file}")))
                .await
                .expect("segment")
                .bytes()
                .await
                .expect("bytes");
            assert!(seen.insert(bytes[1]), "round {round}: {file} listed twice");
        }
    }
}
