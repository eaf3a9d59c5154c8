//! Multi-rendition sources: an ABR ladder pushed by real ffmpeg (`-var_stream_map`,
//! `-master_pl_name`), with each video rendition carrying its audio or with a separate audio
//! rendition, is served as a multivariant playlist keeping ffmpeg's attributes; every rendition
//! is its own valid media playlist whose segments decode at that rendition's resolution and
//! belong to no other; a recording replays as a multivariant VOD; bad pushes are refused.

use crate::common;

use std::collections::HashSet;
use std::time::Duration;

use common::live::{assert_valid_playlist, create_source, media_sequence};
use common::{TestServer, get_text, poll_until, run_tool, sha256};

const LADDER: &str = "[0:v]split=2[a][b];[b]scale=320:180[b2]";

/// Pushes `seconds` of a two-rung ladder (640x360 and 320x180) with ffmpeg, `map` its
/// `-var_stream_map`; with `separate_audio`, one audio stream instead of one per rung.
fn push_ladder(url: String, seconds: u32, map: &'static str, separate_audio: bool) {
    let audio_maps = if separate_audio {
        "-map 1:a"
    } else {
        "-map 1:a -map 1:a"
    };
    let args = format!(
        "-v error -re -f lavfi -i testsrc2=size=640x360:rate=25 -f lavfi -i sine -t {seconds} \
         -filter_complex {LADDER} -map [a] -map [b2] {audio_maps} -c:v libx264 -preset ultrafast \
         -g 50 -c:a aac -f hls -hls_time 2 -hls_list_size 5 -method PUT -master_pl_name master.m3u8"
    );
    let mut args: Vec<String> = args.split_whitespace().map(str::to_owned).collect();
    args.extend(["-var_stream_map".to_owned(), map.to_owned(), url]);
    let (ok, _, err) = run_tool(
        "ffmpeg",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(ok, "ffmpeg push failed: {err}");
}

fn master(text: &str) -> m3u8_rs::MasterPlaylist {
    match m3u8_rs::parse_playlist_res(text.as_bytes()) {
        Ok(m3u8_rs::Playlist::MasterPlaylist(p)) => p,
        other => panic!("not a multivariant playlist ({other:?}): {text}"),
    }
}

/// `ffprobe`'s `entries` of the first stream `stream` selects in `url`, as CSV (off the runtime: the server
/// answering it runs on this test's runtime).
async fn probe(url: &str, stream: &str, entries: &str) -> String {
    let args = [
        "-v",
        "error",
        "-select_streams",
        stream,
        "-show_entries",
        entries,
        "-of",
        "csv=p=0",
        url,
    ]
    .map(str::to_owned);
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        run_tool(
            "ffprobe",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    })
    .await
    .expect("join");
    assert!(ok, "ffprobe {url}: {err}");
    // MPEG-TS lists its streams again under its program: the first line is the stream's.
    out.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_owned()
}

fn segment_uris(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Reloads every rendition's playlist while the push runs: each stays valid and its media
/// sequence never goes back.
async fn watch_renditions(server: &TestServer, renditions: &[&str], reloads: usize) {
    let mut last = vec![0u64; renditions.len()];
    for _ in 0..reloads {
        for (i, r) in renditions.iter().enumerate() {
            let (status, text) = get_text(server.url(&format!("/live/abr/{r}/index.m3u8"))).await;
            if status != 200 {
                continue; // not every rendition has a segment yet
            }
            assert_valid_playlist(&text);
            let msn = media_sequence(&text);
            assert!(msn >= last[i], "{r}: media sequence went back: {text}");
            last[i] = msn;
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
}

#[tokio::test]
async fn an_abr_ladder_is_served_as_a_multivariant_playlist_and_recorded_per_rendition() {
    let server = TestServer::start(|_| {}).await;
    create_source(&server, "abr").await;
    let url = server.url("/ingest/abr/stream_%v.m3u8");
    let push = tokio::task::spawn_blocking(move || push_ladder(url, 12, "v:0,a:0 v:1,a:1", false));
    // Until ffmpeg's own multivariant playlist arrives (it may come after the first media
    // playlists), the node serves one with measured bandwidths only: wait for ffmpeg's.
    let multivariant = poll_until("a multivariant playlist", Duration::from_secs(30), || {
        let url = server.url("/live/abr/index.m3u8");
        async move {
            let (status, text) = get_text(url).await;
            (status == 200
                && text.matches("STREAM-INF").count() == 2
                && text.matches("RESOLUTION=").count() == 2)
                .then_some(text)
        }
    })
    .await;
    let start = common::now_secs() - 2;
    let body = format!(r#"{{"start":{start}}}"#);
    let id = common::live::start_recording(&server.url(""), "abr", &body).await;
    watch_renditions(&server, &["stream_0", "stream_1"], 8).await;
    push.await.expect("join");

    // The multivariant playlist keeps what ffmpeg said of each variant.
    assert_ladder_attributes(&multivariant);
    check_ladder_renditions(&server.url(""), "abr").await;
    stop_and_check_replay(&server.url(""), &id).await;
}

/// Each rendition's segments decode at its own resolution and belong to no other.
async fn check_ladder_renditions(base: &str, source: &str) {
    let mut seen = HashSet::new();
    for (rendition, size) in [("stream_0", "640,360"), ("stream_1", "320,180")] {
        let (_, text) = get_text(format!("{base}/live/{source}/{rendition}/index.m3u8")).await;
        assert_valid_playlist(&text);
        let uris = segment_uris(&text);
        assert!(uris.len() >= 3, "{rendition}: {text}");
        for uri in uris {
            let seg = format!("{base}/live/{source}/{rendition}/{uri}");
            assert_eq!(
                probe(&seg, "v:0", "stream=width,height").await,
                size,
                "{seg}"
            );
            let bytes = reqwest::get(&seg)
                .await
                .expect("get")
                .bytes()
                .await
                .expect("body");
            assert!(
                seen.insert(sha256(&bytes)),
                "{seg} also belongs to another rendition"
            );
        }
    }
}

/// Stops recording `id`; it replays as a multivariant VOD whose renditions each decode at
/// their resolution, with the duration their playlist lists.
async fn stop_and_check_replay(base: &str, id: &str) {
    let stopped = reqwest::Client::new()
        .post(format!("{base}/api/v1/recordings/{id}/stop"))
        .send()
        .await
        .expect("stop");
    assert_eq!(stopped.status(), 200);
    let (_, replay) = get_text(format!("{base}/recordings/{id}/index.m3u8")).await;
    let replay_variants = master(&replay).variants;
    assert_eq!(replay_variants.len(), 2, "{replay}");
    for (variant, size) in replay_variants.iter().zip(["640,360", "320,180"]) {
        let url = format!("{base}/recordings/{id}/{}", variant.uri);
        let (status, text) = get_text(url.clone()).await;
        assert_eq!(status, 200, "{url}");
        assert!(text.contains("#EXT-X-ENDLIST"), "{text}");
        let listed: f64 = text
            .lines()
            .filter_map(|l| l.strip_prefix("#EXTINF:"))
            .filter_map(|v| v.trim_end_matches(',').parse::<f64>().ok())
            .sum();
        let decoded: f64 = probe(&url, "v:0", "format=duration")
            .await
            .parse()
            .expect("duration");
        assert!(
            (decoded - listed).abs() < 0.5,
            "{url}: {decoded} s decoded, {listed} s listed"
        );
        assert_eq!(probe(&url, "v:0", "stream=width,height").await, size);
    }
}

/// The two variants of the ladder, with what ffmpeg said of them.
fn assert_ladder_attributes(multivariant: &str) {
    let parsed = master(multivariant);
    let variants: Vec<_> = parsed
        .variants
        .iter()
        .map(|v| {
            (
                v.uri.clone(),
                v.resolution.map(|r| (r.width, r.height)),
                v.codecs.clone(),
            )
        })
        .collect();
    assert_eq!(
        variants,
        [
            (
                "stream_0/index.m3u8".to_owned(),
                Some((640, 360)),
                Some("avc1.42c01e,mp4a.40.2".to_owned())
            ),
            (
                "stream_1/index.m3u8".to_owned(),
                Some((320, 180)),
                Some("avc1.42c00c,mp4a.40.2".to_owned())
            ),
        ],
        "{multivariant}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abr_ladder_through_an_edge_is_served_and_recorded_by_the_control() {
    let relay = common::relay::start_relay().await;
    let url = relay.edge.url("/ingest/cam/stream_%v.m3u8");
    let push = tokio::task::spawn_blocking(move || push_ladder(url, 12, "v:0,a:0 v:1,a:1", false));
    let base = relay.control.url("");
    let multivariant = poll_until("the ladder on the control", Duration::from_secs(30), || {
        let url = format!("{base}/live/cam/index.m3u8");
        async move {
            let (status, text) = get_text(url).await;
            (status == 200
                && text.contains("RESOLUTION=320x180")
                && text.contains("RESOLUTION=640x360"))
            .then_some(text)
        }
    })
    .await;
    assert_ladder_attributes(&multivariant);
    let start = common::now_secs() - 2;
    let rec = common::relay::post_json(
        format!("{base}/api/v1/sources/cam/recordings"),
        &format!(r#"{{"start":{start}}}"#),
    )
    .await;
    let id = rec["id"].as_str().expect("recording id").to_owned();
    push.await.expect("join");
    // The last segments reach the control a moment after ffmpeg ends.
    poll_until("both renditions to settle", Duration::from_secs(20), || {
        let base = base.clone();
        async move {
            let mut ready = true;
            for r in ["stream_0", "stream_1"] {
                let (status, text) = get_text(format!("{base}/live/cam/{r}/index.m3u8")).await;
                ready &= status == 200 && segment_uris(&text).len() >= 3;
            }
            ready.then_some(())
        }
    })
    .await;
    check_ladder_renditions(&base, "cam").await;
    stop_and_check_replay(&base, &id).await;
}

#[tokio::test]
async fn a_separate_audio_rendition_is_an_audio_group_of_the_ladder() {
    let server = TestServer::start(|_| {}).await;
    create_source(&server, "abr").await;
    let url = server.url("/ingest/abr/stream_%v.m3u8");
    let map = "v:0,agroup:aud v:1,agroup:aud a:0,agroup:aud";
    let push = tokio::task::spawn_blocking(move || push_ladder(url, 8, map, true));
    let text = poll_until("an audio group", Duration::from_secs(30), || {
        let url = server.url("/live/abr/index.m3u8");
        async move {
            let (status, text) = get_text(url).await;
            (status == 200 && text.contains("#EXT-X-MEDIA:TYPE=AUDIO")).then_some(text)
        }
    })
    .await;
    watch_renditions(&server, &["stream_0", "stream_1", "stream_2"], 4).await;
    push.await.expect("join");
    let parsed = master(&text);
    let audio: Vec<_> = parsed
        .alternatives
        .iter()
        .map(|a| (a.group_id.clone(), a.name.clone(), a.uri.clone(), a.default))
        .collect();
    assert_eq!(
        audio,
        [(
            "group_aud".to_owned(),
            "audio_2".to_owned(),
            Some("stream_2/index.m3u8".to_owned()),
            true
        )],
        "{text}"
    );
    assert!(
        parsed
            .variants
            .iter()
            .all(|v| v.audio.as_deref() == Some("group_aud")),
        "{text}"
    );
    let (_, audio_playlist) = get_text(server.url("/live/abr/stream_2/index.m3u8")).await;
    assert_valid_playlist(&audio_playlist);
    let first = &segment_uris(&audio_playlist)[0];
    let seg = server.url(&format!("/live/abr/stream_2/{first}"));
    assert_eq!(probe(&seg, "a:0", "stream=codec_type").await, "audio");
    assert_eq!(
        probe(&seg, "v", "stream=codec_type").await,
        "",
        "no video in the audio rendition"
    );
}

async fn put(server: &TestServer, path: &str, body: Vec<u8>) -> (u16, String) {
    let resp = reqwest::Client::new()
        .put(server.url(path))
        .body(body)
        .send()
        .await
        .expect("put");
    (resp.status().as_u16(), resp.text().await.expect("text"))
}

fn media_playlist(names: &[String]) -> Vec<u8> {
    let mut text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n".to_owned();
    for name in names {
        text.push_str(&format!("#EXTINF:2.000000,\n{name}\n"));
    }
    text.into_bytes()
}

#[tokio::test]
async fn bad_rendition_pushes_are_refused_and_unpushed_variants_are_not_listed() {
    let server = TestServer::start(|_| {}).await;
    create_source(&server, "abr").await;
    // One segment for stream_0 only.
    assert_eq!(
        put(&server, "/ingest/abr/s0_0.ts", vec![0x47; 1880])
            .await
            .0,
        201
    );
    let playlist = media_playlist(&["s0_0.ts".to_owned()]);
    assert_eq!(
        put(&server, "/ingest/abr/stream_0.m3u8", playlist.clone())
            .await
            .0,
        204
    );
    // A multivariant playlist naming stream_0 and a stream_9 that never comes.
    let pushed = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nstream_0.m3u8\n\
                  #EXT-X-STREAM-INF:BANDWIDTH=200000,RESOLUTION=320x180\nstream_9.m3u8\n";
    assert_eq!(
        put(&server, "/ingest/abr/master.m3u8", pushed.into())
            .await
            .0,
        204
    );
    let (status, text) = get_text(server.url("/live/abr/index.m3u8")).await;
    assert_eq!(status, 200);
    let variants = master(&text).variants;
    assert_eq!(variants.len(), 1, "only what was pushed is listed: {text}");
    assert_eq!(variants[0].uri, "stream_0/index.m3u8");

    for (path, body, want) in [
        ("/ingest/abr/a%2Fb.m3u8", playlist.clone(), 400),
        ("/ingest/abr/x.y.m3u8", playlist.clone(), 400),
        (
            "/ingest/abr/master.m3u8",
            b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n../../x.m3u8\n".to_vec(),
            400,
        ),
        (
            "/ingest/abr/master.m3u8",
            b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"none\"\nstream_0.m3u8\n".to_vec(),
            400,
        ),
    ] {
        let (status, body) = put(&server, path, body).await;
        assert_eq!(status, want, "{path}: {body}");
    }
    // A playlist the multivariant does not list: the ladder changed, its description is dropped
    // (one rendition again: a media playlist at the source's URL).
    assert_eq!(
        put(&server, "/ingest/abr/other.m3u8", media_playlist(&[]))
            .await
            .0,
        204
    );
    let (_, text) = get_text(server.url("/live/abr/index.m3u8")).await;
    assert!(
        text.contains("#EXTINF") && text.contains("stream_0/"),
        "{text}"
    );
    // Viewers asking for renditions that do not exist get 404 and create nothing (the count
    // below would show it).
    for path in ["/live/abr/nope/index.m3u8", "/live/abr/nope/0.ts"] {
        assert_eq!(get_text(server.url(path)).await.0, 404, "{path}");
    }
    // At most 16 renditions: the 17th is refused (stream_0 and other count).
    for i in 2..16 {
        let (status, body) =
            put(&server, &format!("/ingest/abr/r{i}.m3u8"), playlist.clone()).await;
        assert_eq!(status, 204, "rendition {i}: {body}");
    }
    let (status, body) = put(&server, "/ingest/abr/r16.m3u8", playlist).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("at most 16 renditions"), "{body}");
}

#[tokio::test]
async fn a_rendition_out_of_step_with_the_ladder_is_shown_as_such() {
    let server = TestServer::start(|_| {}).await;
    create_source(&server, "abr").await;
    for (rendition, seconds) in [("low", 2), ("mid", 2), ("odd", 6)] {
        let segment = format!("{rendition}0.ts");
        assert_eq!(
            put(&server, &format!("/ingest/abr/{segment}"), vec![0x47; 1880])
                .await
                .0,
            201
        );
        let text = format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:{seconds}\n#EXT-X-MEDIA-SEQUENCE:0\n\
             #EXTINF:{seconds}.000000,\n{segment}\n"
        );
        let (status, body) = put(
            &server,
            &format!("/ingest/abr/{rendition}.m3u8"),
            text.into(),
        )
        .await;
        assert_eq!(status, 204, "{body}");
    }
    let source: serde_json::Value = reqwest::get(server.url("/api/v1/sources/abr"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let flagged: Vec<(String, bool, u64)> = source["renditions"]
        .as_array()
        .expect("renditions")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().expect("name").to_owned(),
                r["misaligned"].as_bool().expect("flag"),
                r["segment_ms"].as_u64().expect("ms"),
            )
        })
        .collect();
    assert_eq!(
        flagged,
        [
            ("low".to_owned(), false, 2000),
            ("mid".to_owned(), false, 2000),
            ("odd".to_owned(), true, 6000)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_separate_audio_rendition_through_an_edge_keeps_its_group_on_the_control() {
    let relay = common::relay::start_relay().await;
    let url = relay.edge.url("/ingest/cam/stream_%v.m3u8");
    let map = "v:0,agroup:aud v:1,agroup:aud a:0,agroup:aud";
    let push = tokio::task::spawn_blocking(move || push_ladder(url, 8, map, true));
    let base = relay.control.url("");
    let text = poll_until(
        "the audio group on the control",
        Duration::from_secs(30),
        || {
            let url = format!("{base}/live/cam/index.m3u8");
            async move {
                let (status, text) = get_text(url).await;
                (status == 200 && text.contains("URI=\"stream_2/index.m3u8\"")).then_some(text)
            }
        },
    )
    .await;
    push.await.expect("join");
    let parsed = master(&text);
    assert_eq!(parsed.alternatives.len(), 1, "{text}");
    assert_eq!(parsed.alternatives[0].group_id, "group_aud");
    let (_, audio) = get_text(format!("{base}/live/cam/stream_2/index.m3u8")).await;
    assert_valid_playlist(&audio);
    let first = &segment_uris(&audio)[0];
    let seg = format!("{base}/live/cam/stream_2/{first}");
    assert_eq!(probe(&seg, "a:0", "stream=codec_type").await, "audio");
}

#[tokio::test]
async fn a_signed_prefix_plays_the_multivariant_playlist_and_everything_it_names() {
    let server = TestServer::start(|_| {}).await;
    create_source(&server, "abr").await;
    for rendition in ["hi", "lo"] {
        let segment = format!("{rendition}0.ts");
        assert_eq!(
            put(&server, &format!("/ingest/abr/{segment}"), vec![0x47; 1880])
                .await
                .0,
            201
        );
        let playlist = media_playlist(&[segment]);
        assert_eq!(
            put(&server, &format!("/ingest/abr/{rendition}.m3u8"), playlist)
                .await
                .0,
            204
        );
    }
    // A token closes the node: from now on only credentials play.
    let query = common::live::close_and_sign_prefix(&server, "/live/abr/").await;
    assert_eq!(get_text(server.url("/live/abr/index.m3u8")).await.0, 401);
    let (status, top) = get_text(server.url(&format!("/live/abr/index.m3u8?{query}"))).await;
    assert_eq!(status, 200, "{top}");
    let variants = master(&top).variants;
    assert_eq!(variants.len(), 2, "{top}");
    for variant in variants {
        assert!(
            variant.uri.ends_with(&format!("?{query}")),
            "{}",
            variant.uri
        );
        let (status, playlist) = get_text(server.url(&format!("/live/abr/{}", variant.uri))).await;
        assert_eq!(status, 200, "{playlist}");
        let rendition = variant.uri.split('/').next().expect("rendition");
        for uri in segment_uris(&playlist) {
            assert!(uri.ends_with(&format!("?{query}")), "{uri}");
            let resp = reqwest::get(server.url(&format!("/live/abr/{rendition}/{uri}")))
                .await
                .expect("get");
            assert_eq!(resp.status(), 200, "{rendition}/{uri}");
        }
    }
}
