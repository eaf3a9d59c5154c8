//! Live HLS on the all-in-one node: real ffmpeg pushing MPEG-TS (PUT) and fMP4 (POST, with
//! deletes), playlists checked against RFC 8216 and read by ffprobe/ffmpeg, sequence numbers
//! that survive a restart, hostile input, ingest tokens, the sources API and signed viewing.

use crate::common;

use std::time::Duration;

use common::live::{create_source, media_sequence, playlist, push, push_synthetic};
use common::relay::segment_files;
use common::{TestServer, run_tool};
use reelay::auth::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_pushes_mpeg_ts_by_put_and_the_live_playlist_plays() {
    let server = TestServer::start(|_| {}).await;
    create_source(&server, "cam").await;
    push(server.url("/ingest/cam/index.m3u8"), 7, "-method PUT").await;
    let text = playlist(&server, "cam").await;
    common::live::assert_valid_playlist(&text);
    let segments: Vec<&str> = text.lines().filter(|l| l.ends_with(".ts")).collect();
    assert_eq!(
        segments,
        ["0.ts", "1.ts", "2.ts", "3.ts"],
        "every pushed segment, renamed: {text}"
    );
    assert!(text.contains("#EXT-X-PROGRAM-DATE-TIME:"));
    let seg = reqwest::get(server.url("/live/cam/0.ts"))
        .await
        .expect("segment");
    assert_eq!(seg.headers()["content-type"], "video/mp2t");
    assert!(
        seg.headers()["cache-control"]
            .to_str()
            .expect("str")
            .contains("immutable")
    );
    let url = server.url("/live/cam/index.m3u8");
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        run_tool(
            "ffprobe",
            &[
                "-v",
                "error",
                "-show_entries",
                "stream=codec_type",
                "-of",
                "compact",
                &url,
            ],
        )
    })
    .await
    .expect("join");
    assert!(ok, "ffprobe: {err}");
    assert!(
        out.contains("codec_type=video") && out.contains("codec_type=audio"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_pushes_fmp4_by_post_with_deletes_and_ffmpeg_decodes_it() {
    let server = TestServer::start(|_| {}).await;
    create_source(&server, "cam").await;
    push(
        server.url("/ingest/cam/index.m3u8"),
        7,
        "-method POST -hls_segment_type fmp4 -hls_list_size 2 -hls_flags delete_segments",
    )
    .await;
    let text = playlist(&server, "cam").await;
    common::live::assert_valid_playlist(&text);
    assert!(
        text.contains("#EXT-X-VERSION:7") && text.contains("#EXT-X-MAP:URI=\"init-"),
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.ends_with(".m4s")).count(),
        4,
        "{text}"
    );
    // From the window's first segment, less than the window: a live playlist never ends.
    let decoded = common::live::decode_live(server.url("/live/cam/index.m3u8"), 4).await;
    assert!(decoded.is_ok(), "ffmpeg decode: {decoded:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_sequence_numbers_never_go_backwards_across_a_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let args = ["serve", "--listen", "127.0.0.1:0", "--data", "data"];
    let mut first = common::start_binary(&args, tmp.path(), &[]);
    let base = format!("http://{}", first.addr);
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{base}/api/v1/sources"))
        .header("content-type", "application/json")
        .body(r#"{"name":"cam"}"#)
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);
    push_synthetic(&base, "cam", 0, &["index0.ts", "index1.ts", "index2.ts"]).await;
    let get = |base: String| async move {
        reqwest::get(format!("{base}/live/cam/index.m3u8"))
            .await
            .expect("get")
            .text()
            .await
            .expect("text")
    };
    let before = get(base.clone()).await;
    assert_eq!(media_sequence(&before), 0);
    assert!(before.contains("\n2.ts\n"), "{before}");
    first.terminate();
    assert!(first.wait_exit(Duration::from_secs(15)).success());
    let _database = first.metadata.clone(); // the restarted node finds its state
    drop(first);
    let second = common::start_binary(&args, tmp.path(), &[]);
    let base = format!("http://{}", second.addr);
    assert_eq!(
        get(base.clone()).await,
        before,
        "the window survives the restart"
    );
    // The encoder restarted too: its names and sequence start over.
    push_synthetic(
        &base,
        "cam",
        0,
        &[
            "index0.ts",
            "index1.ts",
            "index2.ts",
            "index3.ts",
            "index4.ts",
        ],
    )
    .await;
    let after = get(base).await;
    common::live::assert_valid_playlist(&after);
    assert!(media_sequence(&after) > media_sequence(&before), "{after}");
    assert!(
        after.contains("\n7.ts\n"),
        "numbers continue after 2: {after}"
    );
    assert!(
        after.contains("#EXT-X-DISCONTINUITY\n"),
        "the restart is a discontinuity: {after}"
    );
}

#[tokio::test]
async fn hostile_ingest_is_refused_without_harm() {
    let server = TestServer::start_configured(
        |_| {},
        |state| {
            let settings = reelay::live::LiveSettings {
                max_segment_bytes: 64 << 10,
                ..Default::default()
            };
            let dir = tempfile::tempdir().expect("tempdir").keep();
            state.live = Some(std::sync::Arc::new(common::live_on(state, &dir, settings)));
        },
    )
    .await;
    create_source(&server, "cam").await;
    let client = reqwest::Client::new();
    let put = |path: &str, body: Vec<u8>| client.put(server.url(path)).body(body).send();
    let hostile = [
        "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:99999999999999999999999\n".to_owned(),
        format!("#EXTM3U\n#{}\n", "A".repeat(1 << 20)),
        "#EXTM3U\n".to_owned() + &"#EXTINF:2,\na.ts\n".repeat(5000),
        "#EXTM3U\nindex0.ts\n".to_owned(),
        "#EXTM3U\n#EXTINF:-5,\na.ts\n".to_owned(),
        "#EXTM3U\n#EXTINF:2,\n../../etc/passwd\n".to_owned(),
    ];
    for text in hostile {
        let resp = put("/ingest/cam/index.m3u8", text.clone().into_bytes())
            .await
            .expect("put");
        let status = resp.status().as_u16();
        assert!(status == 400 || status == 413, "{status} for {:.60}", text);
    }
    let big = put("/ingest/cam/index0.ts", vec![0u8; (64 << 10) + 1])
        .await
        .expect("put");
    assert_eq!(big.status(), 413);
    for name in ["..%2fx.ts", ".hidden.ts", "a%20b.ts"] {
        let resp = put(&format!("/ingest/cam/{name}"), b"x".to_vec())
            .await
            .expect("put");
        assert_eq!(resp.status(), 400, "{name}");
    }
    assert_eq!(
        put("/ingest/nope/index.m3u8", b"#EXTM3U\n".to_vec())
            .await
            .expect("put")
            .status(),
        404
    );
    // The node is unharmed and the source still ingests.
    push_synthetic(&server.url(""), "cam", 0, &["index0.ts"]).await;
    assert!(playlist(&server, "cam").await.contains("\n0.ts\n"));
}

#[tokio::test]
async fn ingest_needs_the_source_token_once_auth_is_on() {
    let server = TestServer::start(|_| {}).await;
    let source = create_source(&server, "cam").await;
    let token = source["ingest_token"]
        .as_str()
        .expect("ingest token")
        .to_owned();
    let (_, admin) = server
        .state
        .auth
        .tokens
        .create("admin", Role::Admin)
        .await
        .expect("token");
    let client = reqwest::Client::new();
    let put = |auth: Option<String>, query: &str| {
        let mut req = client
            .put(server.url(&format!("/ingest/cam/index0.ts{query}")))
            .body("x");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        req.send()
    };
    assert_eq!(put(None, "").await.expect("put").status(), 401);
    assert_eq!(
        put(Some(format!("Bearer {admin}")), "")
            .await
            .expect("put")
            .status(),
        403
    );
    assert_eq!(
        put(Some("Bearer rli_wrong".into()), "")
            .await
            .expect("put")
            .status(),
        403
    );
    assert_eq!(
        put(Some(format!("Bearer {token}")), "")
            .await
            .expect("put")
            .status(),
        201
    );
    assert_eq!(
        put(None, &format!("?token={token}"))
            .await
            .expect("put")
            .status(),
        201
    );
    let view = reqwest::get(server.url("/live/cam/index.m3u8"))
        .await
        .expect("get");
    assert_eq!(view.status(), 401, "viewing needs credentials like media");
}

#[tokio::test]
async fn the_sources_api_manages_sources_by_id_or_name() {
    let server = TestServer::start(|_| {}).await;
    let created = create_source(&server, "cam").await;
    let id = created["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("src_"));
    let client = reqwest::Client::new();
    let json = |req: reqwest::RequestBuilder| async move {
        let resp = req.send().await.expect("send");
        (
            resp.status().as_u16(),
            resp.json::<serde_json::Value>().await.unwrap_or_default(),
        )
    };
    let (status, by_name) = json(client.get(server.url("/api/v1/sources/cam"))).await;
    assert_eq!((status, by_name["id"].as_str()), (200, Some(id.as_str())));
    assert!(
        by_name.get("ingest_token").is_none(),
        "the token is shown only at creation"
    );
    let dup = client
        .post(server.url("/api/v1/sources"))
        .header("content-type", "application/json")
        .body(r#"{"name":"cam"}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(dup.status(), 409);
    let (status, renamed) = json(
        client
            .patch(server.url(&format!("/api/v1/sources/{id}")))
            .header("content-type", "application/json")
            .body(r#"{"name":"door","target_duration":4}"#),
    )
    .await;
    assert_eq!(
        (
            status,
            renamed["name"].as_str(),
            renamed["target_duration"].as_i64()
        ),
        (200, Some("door"), Some(4))
    );
    push_synthetic(&server.url(""), "door", 0, &["index0.ts"]).await;
    assert!(
        playlist(&server, "door")
            .await
            .contains("#EXT-X-TARGETDURATION:4")
    );
    let (status, off) = json(
        client
            .put(server.url("/api/v1/sources/door/streaming"))
            .header("content-type", "application/json")
            .body(r#"{"enabled":false}"#),
    )
    .await;
    assert_eq!((status, off["streaming"].as_bool()), (200, Some(false)));
    let hidden = reqwest::get(server.url("/live/door/index.m3u8"))
        .await
        .expect("get");
    assert_eq!(hidden.status(), 404);
    let deleted = client
        .delete(server.url(&format!("/api/v1/sources/{id}")))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        client
            .get(server.url("/api/v1/sources/door"))
            .send()
            .await
            .expect("get")
            .status(),
        404
    );
}

#[tokio::test]
async fn a_signed_live_prefix_carries_into_the_playlist_uris() {
    let server = TestServer::start(|_| {}).await;
    create_source(&server, "cam").await;
    push_synthetic(&server.url(""), "cam", 0, &["index0.ts", "index1.ts"]).await;
    let query = common::live::close_and_sign_prefix(&server, "/live/cam/").await;
    let text = reqwest::get(server.url(&format!("/live/cam/index.m3u8?{query}")))
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    let segment = text
        .lines()
        .find(|l| l.starts_with("0.ts"))
        .expect("segment line")
        .to_owned();
    assert!(segment.contains("sig="), "{text}");
    let resp = reqwest::get(server.url(&format!("/live/cam/{segment}")))
        .await
        .expect("get");
    assert_eq!(
        resp.status(),
        200,
        "the segment URI from the playlist works without a token"
    );
}

/// `status` of a credential-less `GET path`.
async fn anonymous_status(server: &TestServer, path: &str) -> u16 {
    reqwest::get(server.url(path))
        .await
        .expect("get")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_public_source_and_its_recordings_play_without_a_token_and_a_private_one_does_not() {
    let server = TestServer::start(|_| {}).await;
    let client = reqwest::Client::new();
    let mut recordings = Vec::new();
    for name in ["open", "closed"] {
        create_source(&server, name).await;
        push_synthetic(&server.url(""), name, 0, &["index0.ts", "index1.ts"]).await;
        recordings.push(common::live::start_recording(&server.url(""), name, "{}").await);
    }
    let patched: serde_json::Value = client
        .patch(server.url("/api/v1/sources/open"))
        .header("content-type", "application/json")
        .body(r#"{"public":true}"#)
        .send()
        .await
        .expect("patch")
        .json()
        .await
        .expect("json");
    assert_eq!(patched["public"], true);
    // Closed from here on: an admin token exists.
    let (_, admin) = server
        .state
        .auth
        .tokens
        .create("admin", Role::Admin)
        .await
        .expect("token");
    assert_eq!(
        anonymous_status(&server, "/live/open/index.m3u8").await,
        200
    );
    assert_eq!(anonymous_status(&server, "/live/open/0.ts").await, 200);
    let (open_rec, closed_rec) = (&recordings[0], &recordings[1]);
    let replay = format!("/recordings/{open_rec}/index.m3u8");
    assert_eq!(anonymous_status(&server, &replay).await, 200);
    assert_eq!(
        anonymous_status(&server, "/live/closed/index.m3u8").await,
        401
    );
    assert_eq!(anonymous_status(&server, "/live/closed/0.ts").await, 401);
    let closed_replay = format!("/recordings/{closed_rec}/index.m3u8");
    assert_eq!(anonymous_status(&server, &closed_replay).await, 401);
    assert_eq!(
        anonymous_status(&server, "/live/nosuch/index.m3u8").await,
        401
    );
    let tampered = "/live/open/index.m3u8?exp=4000000000&sig=00";
    assert_eq!(
        anonymous_status(&server, tampered).await,
        403,
        "a bad signature is still refused"
    );
    let unpublished = client
        .patch(server.url("/api/v1/sources/open"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(r#"{"public":false}"#)
        .send()
        .await
        .expect("patch");
    assert_eq!(unpublished.status(), 200);
    assert_eq!(
        anonymous_status(&server, "/live/open/index.m3u8").await,
        401
    );
    assert_eq!(anonymous_status(&server, &replay).await, 401);
}

#[tokio::test]
async fn with_live_public_every_source_plays_without_a_token_but_stays_read_only() {
    let server = TestServer::start_configured(
        |_| {},
        |state| {
            let settings = reelay::live::LiveSettings {
                public: true,
                ..Default::default()
            };
            common::replace_live(state, settings);
        },
    )
    .await;
    create_source(&server, "cam").await;
    push_synthetic(&server.url(""), "cam", 0, &["index0.ts"]).await;
    server
        .state
        .auth
        .tokens
        .create("admin", Role::Admin)
        .await
        .expect("token");
    assert_eq!(anonymous_status(&server, "/live/cam/index.m3u8").await, 200);
    let delete = reqwest::Client::new()
        .delete(server.url("/api/v1/sources/cam"))
        .send()
        .await
        .expect("delete");
    assert_eq!(delete.status(), 401, "public is for watching only");
}

#[tokio::test]
async fn uploads_no_playlist_listed_for_two_minutes_are_removed_with_the_next_playlist_and_at_start()
 {
    let server = TestServer::start(|_| {}).await;
    let id = create_source(&server, "cam").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    push_synthetic(&server.url(""), "cam", 0, &["index0.ts"]).await;
    let live = server.state.live.as_ref().expect("live");
    let incoming = live.incoming_dir(&id);
    let write = |name: &str, age_secs: u64| {
        let path = incoming.join(name);
        std::fs::write(&path, b"stray").expect("write");
        let then = std::time::SystemTime::now() - Duration::from_secs(age_secs);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open")
            .set_modified(then)
            .expect("mtime");
        path
    };
    let stale = write("stray.ts", 200);
    let fresh = write("fresh.ts", 5);
    push_synthetic(&server.url(""), "cam", 1, &["index1.ts"]).await;
    assert!(
        !stale.exists(),
        "unlisted for over two minutes: removed with the playlist"
    );
    assert!(fresh.exists(), "a recent upload waits for its playlist");
    write("fresh.ts", 200);
    assert_eq!(live.clean_incoming(), 1, "the start-up sweep");
    assert!(!fresh.exists());
}

/// ffmpeg does not wait for the answer to one playlist before sending the next, so an older
/// playlist can arrive after a newer one: it is a late copy, not an encoder restart — no
/// discontinuity, and the playlists after it go on being taken.
#[tokio::test]
async fn a_playlist_older_than_the_last_taken_is_a_late_copy_not_an_encoder_restart() {
    let server = TestServer::start(|_| {}).await;
    create_source(&server, "cam").await;
    let base = server.url("");
    push_synthetic(
        &base,
        "cam",
        0,
        &["index0.ts", "index1.ts", "index2.ts", "index3.ts"],
    )
    .await;
    let client = reqwest::Client::new();
    let put = |name: &str, body: Vec<u8>| {
        client
            .put(format!("{base}/ingest/cam/{name}"))
            .body(body)
            .send()
    };
    let listing = |first: u64, names: &[&str]| {
        let mut text = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
        );
        for name in names {
            text.push_str(&format!("#EXTINF:2.000000,\n{name}\n"));
        }
        text.into_bytes()
    };
    let steps: [(Option<&str>, u64, [&str; 3]); 3] = [
        (
            Some("index4.ts"),
            2,
            ["index2.ts", "index3.ts", "index4.ts"],
        ),
        // The late copy: older than the playlist before it, every file in it taken.
        (None, 1, ["index1.ts", "index2.ts", "index3.ts"]),
        (
            Some("index5.ts"),
            3,
            ["index3.ts", "index4.ts", "index5.ts"],
        ),
    ];
    for (new, first, names) in steps {
        if let Some(new) = new {
            let resp = put(new, vec![0x47u8; 188 * 10]).await.expect("segment");
            assert_eq!(resp.status(), 201);
        }
        let resp = put("index.m3u8", listing(first, &names))
            .await
            .expect("playlist");
        assert_eq!(resp.status(), 204);
    }
    let text = playlist(&server, "cam").await;
    common::live::assert_valid_playlist(&text);
    assert_eq!(
        segment_files(&text),
        ["0.ts", "1.ts", "2.ts", "3.ts", "4.ts", "5.ts"],
        "every segment once, in order:\n{text}"
    );
    assert!(!text.contains("#EXT-X-DISCONTINUITY\n"), "{text}");
}
