//! Low-Latency HLS from an unmodified ffmpeg: its streaming DASH muxer (`-streaming 1 -ldash 1
//! -hls_playlist 1 -method PUT`) pushes each segment as one upload whose fMP4 fragments arrive
//! as they are encoded; reelay publishes each fragment as a part at once. Every playlist
//! fetched is checked with the LL rule checker; blocking reloads, the preload hint, delta
//! updates, rendition reports, the 400 and 503 rules, and each part's bytes against its
//! finished segment.

use crate::common;

use std::time::Duration;

use common::live::create_source;
use common::{TestServer, get_text, poll_until, run_tool};
use reelay_hls::check_ll_media_playlist;

/// ffmpeg pushing `seconds` of 320x240 video and audio as streaming DASH with HLS playlists,
/// in real time: 2 s segments of 0.25 s fragments.
pub(crate) fn push_streaming_dash(url: String, seconds: u32) {
    push_dash(url, seconds, true);
}

/// The same push, of video alone when `audio` is false (one rendition, `media_0`).
fn push_dash(url: String, seconds: u32, audio: bool) {
    let (audio_in, audio_out) = if audio {
        ("-f lavfi -i sine", "-c:a aac")
    } else {
        ("", "")
    };
    let args = format!(
        "-v error -re -f lavfi -i testsrc2=size=320x240:rate=25 {audio_in} -t {seconds} \
         -c:v libx264 -preset ultrafast -tune zerolatency -g 50 {audio_out} -f dash -seg_duration 2 \
         -frag_duration 0.25 -frag_type duration -streaming 1 -ldash 1 -use_template 1 \
         -use_timeline 0 -hls_playlist 1 -write_prft 1 -utc_timing_url https://time.example/?iso \
         -method PUT {url}"
    );
    let args: Vec<&str> = args.split_whitespace().collect();
    let (ok, _, err) = run_tool("ffmpeg", &args);
    assert!(ok, "ffmpeg push failed: {err}");
}

/// Waits until the playlist at `url` is LL (it has a preload hint).
async fn until_ll(url: &str) {
    poll_until("an LL playlist", Duration::from_secs(30), || {
        let url = url.to_owned();
        async move {
            let (status, text) = get_text(url).await;
            (status == 200 && text.contains("#EXT-X-PRELOAD-HINT")).then_some(())
        }
    })
    .await;
}

/// Fails the test unless `text` keeps every LL-HLS rule.
pub(crate) fn assert_ll(text: &str) {
    assert_eq!(
        check_ll_media_playlist(text),
        Vec::<String>::new(),
        "{text}"
    );
}

/// The preload hint's part: (msn, index).
pub(crate) fn hinted(text: &str) -> (u64, u64) {
    let line = text
        .lines()
        .find(|l| l.starts_with("#EXT-X-PRELOAD-HINT:"))
        .unwrap_or_else(|| panic!("no preload hint in {text}"));
    let uri = line
        .split("URI=\"")
        .nth(1)
        .and_then(|r| r.split(['"', '?']).next());
    reelay::live::ll::view::parse_part_uri(uri.unwrap_or(""))
        .unwrap_or_else(|| panic!("hint {line}"))
}

/// Complete segments listed with all their parts (the first part is `-0`): (segment URI,
/// part URIs).
pub(crate) fn segments_with_parts(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut parts: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(attrs) = line.strip_prefix("#EXT-X-PART:") {
            let uri = attrs
                .split("URI=\"")
                .nth(1)
                .and_then(|r| r.split('"').next());
            parts.push(uri.unwrap_or("").to_owned());
        } else if !line.starts_with('#') && !line.is_empty() {
            let taken = std::mem::take(&mut parts);
            if taken.first().is_some_and(|p| p.ends_with("-0.m4s")) {
                out.push((line.to_owned(), taken));
            }
        }
    }
    out
}

pub(crate) async fn get_bytes(url: String) -> (u16, Vec<u8>) {
    let resp = reqwest::get(url).await.expect("get");
    let status = resp.status().as_u16();
    (status, resp.bytes().await.expect("body").to_vec())
}

#[tokio::test]
async fn an_ffmpeg_streaming_push_is_served_as_ll_hls_with_blocking_reloads_and_exact_parts() {
    let server = TestServer::start(|_| {}).await;
    create_source(&server, "ll").await;
    let url = server.url("/ingest/ll/manifest.mpd");
    let push = tokio::task::spawn_blocking(move || push_streaming_dash(url, 12));
    let playlist = server.url("/live/ll/media_0/index.m3u8");
    let first = poll_until("an LL playlist", Duration::from_secs(30), || {
        let url = playlist.clone();
        async move {
            let (status, text) = get_text(url).await;
            (status == 200 && text.contains("#EXT-X-PART:")).then_some(text)
        }
    })
    .await;
    assert_ll(&first);
    assert!(first.contains("CAN-BLOCK-RELOAD=YES"), "{first}");

    // A blocking reload for a part not published yet — the first of the segment after the
    // one arriving now, asked early in that one (a second or more ahead) — is held, and
    // answered once the part is published, listing it.
    let msn = poll_until("a hint early in a segment", Duration::from_secs(10), || {
        let url = playlist.clone();
        async move {
            let (msn, part) = hinted(&get_text(url).await.1);
            (1..=4).contains(&part).then_some(msn)
        }
    })
    .await;
    let blocked = format!("{playlist}?_HLS_msn={}&_HLS_part=0", msn + 1);
    assert_eq!(common::held_requests(&server), 0);
    let reload = tokio::spawn(get_text(blocked));
    common::until_held(&server).await;
    let (status, text) = reload.await.expect("join");
    assert_eq!(status, 200, "{text}");
    assert_ll(&text);
    assert!(text.contains(&format!("p{}-0.m4s", msn + 1)), "{text}");
    assert_eq!(common::held_requests(&server), 0, "no longer held");
    // The next hinted part, asked for before it exists, is answered when it is.
    let (next_msn, next_part) = hinted(&text);
    let part_url = server.url(&format!("/live/ll/media_0/p{next_msn}-{next_part}.m4s"));
    let (status, bytes) = get_bytes(part_url).await;
    assert_eq!(status, 200);
    assert!(bytes.len() > 100, "{} bytes", bytes.len());

    // The audio rendition is reported in the video's playlist, and is LL itself.
    assert!(
        text.contains("#EXT-X-RENDITION-REPORT:URI=\"../media_1/index.m3u8\""),
        "{text}"
    );
    let (status, audio) = get_text(server.url("/live/ll/media_1/index.m3u8")).await;
    assert_eq!(status, 200, "{audio}");
    assert_ll(&audio);

    // RFC 8216bis 6.2.5.2: a part without a segment, and a point too far ahead, are 400s.
    let bad = [
        format!("{playlist}?_HLS_part=1"),
        format!("{playlist}?_HLS_msn={}", next_msn + 5),
        format!("{playlist}?_HLS_msn=1&_HLS_part=x"),
        format!("{playlist}?_HLS_skip=MAYBE"),
    ];
    for url in bad {
        let (status, body) = get_text(url.clone()).await;
        assert_eq!(status, 400, "{url}: {body}");
    }

    // Each part of a complete segment is that segment's bytes, in order.
    let complete = poll_until(
        "a segment listed with its parts",
        Duration::from_secs(20),
        || {
            let url = playlist.clone();
            async move {
                let (_, text) = get_text(url).await;
                assert_ll(&text);
                segments_with_parts(&text).into_iter().next()
            }
        },
    )
    .await;
    let (segment, parts) = complete;
    let mut joined = Vec::new();
    for p in &parts {
        let (status, bytes) = get_bytes(server.url(&format!("/live/ll/media_0/{p}"))).await;
        assert_eq!(status, 200, "{p}");
        joined.extend(bytes);
    }
    let (status, whole) = get_bytes(server.url(&format!("/live/ll/media_0/{segment}"))).await;
    assert_eq!(status, 200);
    assert_eq!(joined.len(), whole.len(), "{segment}: {parts:?}");
    assert!(joined == whole, "the parts of {segment} are not its bytes");

    // A delta update keeps the rules; a classic client reads the same URL as a media playlist.
    let (_, delta) = get_text(format!("{playlist}?_HLS_skip=YES")).await;
    assert_ll(&delta);
    let (_, classic) = get_text(playlist.clone()).await;
    assert!(
        matches!(
            m3u8_rs::parse_playlist_res(classic.as_bytes()),
            Ok(m3u8_rs::Playlist::MediaPlaylist(p)) if !p.segments.is_empty()
        ),
        "{classic}"
    );
    push.await.expect("ffmpeg");

    // The stream has ended: waiting for the segment after next is a 503 after three target
    // durations.
    let (_, last) = get_text(playlist.clone()).await;
    let (end_msn, _) = hinted(&last);
    let started = std::time::Instant::now();
    let (status, body) = get_text(format!("{playlist}?_HLS_msn={}", end_msn + 1)).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_low_latency_segment_without_its_init_section_is_refused_and_nothing_is_listed() {
    let server = TestServer::start(|_| {}).await;
    create_source(&server, "noinit").await;
    let resp = reqwest::Client::new()
        .put(server.url("/ingest/noinit/chunk-stream0-00001.m4s"))
        .body(vec![0u8; 64])
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("init-stream0.m4s")),
        "{body}"
    );
    let (status, _) = get_text(server.url("/live/noinit/media_0/index.m3u8")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_encoders_producer_reference_time_becomes_the_program_date_time() {
    // ffmpeg's streaming DASH output with producer reference times (it writes `prft` boxes
    // only with a UTC timing URL), its first segment's clock set to 2020-01-01T00:00:00Z.
    let dir = tempfile::tempdir().expect("tempdir");
    let args = "-v error -f lavfi -i testsrc2=size=320x240:rate=25 -t 2 -c:v libx264 \
                -preset ultrafast -g 50 -f dash -seg_duration 2 -frag_duration 0.25 \
                -frag_type duration -streaming 1 -ldash 1 -use_template 1 -use_timeline 0 \
                -write_prft 1 -utc_timing_url https://time.example/?iso";
    let manifest = dir.path().join("manifest.mpd");
    let mut args: Vec<&str> = args.split_whitespace().collect();
    args.push(manifest.to_str().expect("path"));
    let (ok, _, err) = run_tool("ffmpeg", &args);
    assert!(ok, "ffmpeg: {err}");
    let init = std::fs::read(dir.path().join("init-stream0.m4s")).expect("init");
    let mut chunk = std::fs::read(dir.path().join("chunk-stream0-00001.m4s")).expect("chunk");
    let at = chunk
        .windows(4)
        .position(|w| w == b"prft")
        .expect("a prft box");
    let ntp = (1_577_836_800u64 + 2_208_988_800) << 32;
    chunk[at + 12..at + 20].copy_from_slice(&ntp.to_be_bytes());

    let server = TestServer::start(|_| {}).await;
    create_source(&server, "clock").await;
    let client = reqwest::Client::new();
    for (file, body) in [
        ("init-stream0.m4s", init),
        ("chunk-stream0-00001.m4s", chunk),
    ] {
        let url = server.url(&format!("/ingest/clock/{file}"));
        let resp = client.put(url).body(body).send().await.expect("put");
        assert!(resp.status().is_success(), "{file}: {}", resp.status());
    }
    let (status, text) = get_text(server.url("/live/clock/media_0/index.m3u8")).await;
    assert_eq!(status, 200, "{text}");
    assert_ll(&text);
    assert!(
        text.contains("#EXT-X-PROGRAM-DATE-TIME:2020-01-01T00:00:00.000Z"),
        "{text}"
    );
}

/// Every URI an LL playlist names: its URI lines and its `URI="…"` attributes.
fn uris(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        if !line.is_empty() && !line.starts_with('#') {
            out.push(line.to_owned());
        }
        for attr in line.split("URI=\"").skip(1) {
            out.push(attr.split('"').next().unwrap_or("").to_owned());
        }
    }
    out
}

#[tokio::test]
async fn a_signed_ll_playlist_carries_the_signature_on_every_uri_and_they_play_once_closed_when_a_token_signed_them()
 {
    let server = TestServer::start(|_| {}).await;
    create_source(&server, "sll").await;
    let url = server.url("/ingest/sll/manifest.mpd");
    let push = tokio::task::spawn_blocking(move || push_streaming_dash(url, 8));
    let playlist = server.url("/live/sll/media_0/index.m3u8");
    until_ll(&playlist).await;
    // Signed while the node is open (on loopback, no token), so the encoder still pushes.
    let query = &common::live::sign_prefix(&server, "/live/sll/", None).await;
    let (status, text) = get_text(format!("{playlist}?{query}")).await;
    assert_eq!(status, 200, "{text}");
    assert_ll(&text);
    let named = uris(&text);
    assert!(named.iter().any(|u| u.starts_with("p")), "{text}");
    assert!(named.iter().any(|u| u.starts_with("../media_1/")), "{text}");
    for uri in &named {
        assert!(uri.ends_with(&format!("?{query}")), "{uri} in {text}");
    }
    // Renderings are shared and bare: another signature gets its own on every URI, and an
    // unsigned reload none.
    let other = &common::live::sign_prefix(&server, "/live/", None).await;
    assert_ne!(query, other);
    let (_, text) = get_text(format!("{playlist}?{other}")).await;
    assert_ll(&text);
    for uri in uris(&text) {
        assert!(uri.ends_with(&format!("?{other}")), "{uri} in {text}");
    }
    let (_, text) = get_text(playlist.clone()).await;
    assert!(uris(&text).iter().all(|u| !u.contains('?')), "{text}");
    // The hinted part, asked for as the playlist names it, is answered when it is published.
    let hint = text
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-PRELOAD-HINT:"))
        .and_then(|a| a.split("URI=\"").nth(1)?.split('"').next())
        .expect("hint");
    let (status, bytes) = get_bytes(server.url(&format!("/live/sll/media_0/{hint}"))).await;
    assert_eq!((status, bytes.is_empty()), (200, false), "{hint}");
    push.await.expect("ffmpeg");

    // Closed now (an admin token exists): what the node signed while open stops working; what
    // a playlist signed by the admin token names plays, and the same part without the
    // signature does not.
    let admin = common::live::close(&server).await;
    let (status, _) = get_text(format!("{playlist}?{query}")).await;
    assert_eq!(status, 403, "signed while open, played once closed");
    let query = &common::live::sign_prefix(&server, "/live/sll/", Some(&admin)).await;
    let (status, text) = get_text(format!("{playlist}?{query}")).await;
    assert_eq!(status, 200, "{text}");
    let part = uris(&text)
        .into_iter()
        .find(|u| u.starts_with('p'))
        .expect("a part");
    let base = server.url("/live/sll/media_0/");
    assert_eq!(get_bytes(format!("{base}{part}")).await.0, 200, "{part}");
    let bare = part.split('?').next().unwrap_or("");
    assert_eq!(get_bytes(format!("{base}{bare}")).await.0, 401, "{bare}");
}

#[tokio::test]
async fn a_lone_ll_rendition_is_offered_at_the_source_url_through_a_multivariant_playlist() {
    let server = TestServer::start(|_| {}).await;
    create_source(&server, "one").await;
    let url = server.url("/ingest/one/manifest.mpd");
    let push = tokio::task::spawn_blocking(move || push_dash(url, 6, false));
    until_ll(&server.url("/live/one/media_0/index.m3u8")).await;
    // Without the multivariant playlist ffmpeg pushed (as before it arrives, or once an
    // encoder's new ladder made it stale), the source URL of one rendition would be its
    // classic media playlist: an LL client there would get neither parts nor blocking reloads.
    let live = server.state.live().expect("live");
    let src = live
        .source("one", reelay::live::Lookup::Current)
        .await
        .expect("source");
    live.sources()
        .clear_multivariant(&src.id)
        .await
        .expect("cleared");
    let (status, text) = get_text(server.url("/live/one/index.m3u8")).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("#EXT-X-STREAM-INF:"), "{text}");
    let variant = text
        .lines()
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .expect("a variant");
    assert_eq!(variant, "media_0/index.m3u8", "{text}");
    let (status, text) = get_text(server.url(&format!("/live/one/{variant}"))).await;
    assert_eq!(status, 200, "{text}");
    assert_ll(&text);
    push.await.expect("ffmpeg");
}
