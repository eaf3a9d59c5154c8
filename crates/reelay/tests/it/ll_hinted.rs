//! The preload hint's part, fetched while it arrives: its response starts with the part's
//! first bytes and streams the rest as the encoder sends them (RFC 8216bis §4.4.5.3), and a
//! part whose upload fails is cut short, never ended as if whole. The segment is a real
//! ffmpeg DASH segment (fMP4 fragments of 0.25 s), uploaded by hand a piece at a time so the
//! test decides when each byte arrives.

use crate::common;

use std::time::Duration;

use bytes::Bytes;
use common::live::create_source;
use common::{TestServer, get_text, poll_until, run_tool};
use reelay_hls::fmp4::{FragmentCutter, parse_init};
use tokio::sync::mpsc;

use super::low_latency::{assert_ll, hinted};

/// ffmpeg's DASH output for 2 s of video: (init section, first segment).
fn dash_segment(dir: &std::path::Path) -> (Vec<u8>, Vec<u8>) {
    let mpd = dir.join("manifest.mpd");
    let args = format!(
        "-v error -f lavfi -i testsrc2=size=320x240:rate=25 -t 4 -c:v libx264 -preset ultrafast \
         -g 50 -f dash -seg_duration 2 -frag_duration 0.25 -frag_type duration -use_template 1 \
         -use_timeline 0 {}",
        mpd.display()
    );
    let args: Vec<&str> = args.split_whitespace().collect();
    let (ok, _, err) = run_tool("ffmpeg", &args);
    assert!(ok, "ffmpeg: {err}");
    let read = |name: &str| std::fs::read(dir.join(name)).expect(name);
    (read("init-stream0.m4s"), read("chunk-stream0-00001.m4s"))
}

/// The fragments of `segment` as (offset, len), cut as reelay cuts them.
fn fragments(init: &[u8], segment: &[u8]) -> Vec<(usize, usize)> {
    let mut cutter = FragmentCutter::new(parse_init(init));
    let cut = cutter.feed(segment).expect("the segment cuts as fMP4");
    cut.iter()
        .map(|f| (f.offset as usize, f.len as usize))
        .collect()
}

/// An upload of `path` whose body is what is sent on the returned sender (an `Err` aborts it).
fn open_upload(
    url: String,
) -> (
    mpsc::UnboundedSender<Result<Bytes, std::io::Error>>,
    tokio::task::JoinHandle<Option<u16>>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let upload = tokio::spawn(async move {
        let sent = reqwest::Client::new()
            .put(url)
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await;
        sent.ok().map(|r| r.status().as_u16())
    });
    (tx, upload)
}

/// Reads from `resp` until `n` bytes are in (10 s at most).
async fn read_exactly(resp: &mut reqwest::Response, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} bytes came", got.len()))
            .expect("the body")
            .unwrap_or_else(|| panic!("the body ended after {} of {n} bytes", got.len()));
        got.extend_from_slice(&chunk);
    }
    got
}

/// Waits for the rendition's LL playlist to hint part `want` and returns that part's URL.
async fn hint_url(server: &TestServer, want: (u64, u64)) -> String {
    let playlist = server.url("/live/hint/media_0/index.m3u8");
    poll_until("the hint", Duration::from_secs(10), || {
        let playlist = playlist.clone();
        async move {
            let (status, text) = get_text(playlist).await;
            if status != 200 || !text.contains("#EXT-X-PRELOAD-HINT") {
                return None;
            }
            assert_ll(&text);
            (hinted(&text) == want).then_some(())
        }
    })
    .await;
    server.url(&format!("/live/hint/media_0/p{}-{}.m4s", want.0, want.1))
}

#[tokio::test]
async fn the_hinted_part_streams_its_bytes_as_they_arrive_and_a_failed_one_is_cut_short() {
    let server = TestServer::start(|_| {}).await;
    create_source(&server, "hint").await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let (init, segment) = dash_segment(tmp.path());
    let cut = fragments(&init, &segment);
    assert!(cut.len() >= 3, "fragments: {cut:?}");
    let status = reqwest::Client::new()
        .put(server.url("/ingest/hint/init-stream0.m4s"))
        .body(init.clone())
        .send()
        .await
        .expect("init")
        .status();
    assert!(status.is_success(), "{status}");

    // A first segment whole: the LL playlist lists a window of at least one segment.
    let status = reqwest::Client::new()
        .put(server.url("/ingest/hint/chunk-stream0-00001.m4s"))
        .body(segment.clone())
        .send()
        .await
        .expect("first segment")
        .status();
    assert!(status.is_success(), "{status}");
    let msn = poll_until("the LL playlist", Duration::from_secs(10), || {
        let url = server.url("/live/hint/media_0/index.m3u8");
        async move {
            let (status, text) = get_text(url).await;
            (status == 200 && text.contains("#EXT-X-PRELOAD-HINT")).then(|| hinted(&text).0)
        }
    })
    .await;

    // The next segment: fragment 0 whole and half of fragment 1.
    let (tx, upload) = open_upload(server.url("/ingest/hint/chunk-stream0-00002.m4s"));
    let (start1, len1) = cut[1];
    let half = start1 + len1 / 2;
    tx.send(Ok(Bytes::copy_from_slice(&segment[..half])))
        .expect("send");
    let url = hint_url(&server, (msn, 1)).await;
    let mut resp = tokio::time::timeout(Duration::from_secs(10), reqwest::get(&url))
        .await
        .expect("the hinted part answers before it is whole")
        .expect("get");
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("content-length").is_none());
    assert_eq!(resp.headers()["content-type"], "video/mp4");
    let first = read_exactly(&mut resp, half - start1).await;
    assert_eq!(first, &segment[start1..half], "the bytes in so far");

    // The rest of the segment: the part completes, the response ends with exactly its bytes.
    tx.send(Ok(Bytes::copy_from_slice(&segment[half..])))
        .expect("send");
    drop(tx);
    let mut whole = first;
    while let Some(chunk) = resp.chunk().await.expect("the rest of the part") {
        whole.extend_from_slice(&chunk);
    }
    assert_eq!(whole, &segment[start1..start1 + len1]);
    let stored = upload.await.expect("upload task");
    assert!(
        stored.is_some_and(|s| (200..300).contains(&s)),
        "{stored:?}"
    );
    let again = reqwest::get(&url).await.expect("get again");
    assert_eq!(again.headers()["content-length"], len1.to_string().as_str());
    assert_eq!(
        again.bytes().await.expect("body"),
        &segment[start1..start1 + len1]
    );

    // The next segment's first part, half sent, then its upload fails: the hinted response
    // stops with an error, not a clean end.
    let (tx, upload) = open_upload(server.url("/ingest/hint/chunk-stream0-00003.m4s"));
    let (_, len0) = cut[0];
    tx.send(Ok(Bytes::copy_from_slice(&segment[..len0 / 2])))
        .expect("send");
    let url = hint_url(&server, (msn + 1, 0)).await;
    let mut resp = reqwest::get(&url).await.expect("get");
    assert_eq!(resp.status(), 200);
    let first = read_exactly(&mut resp, len0 / 2).await;
    assert_eq!(first, &segment[..len0 / 2]);
    tx.send(Err(std::io::Error::other("the encoder died")))
        .expect("send");
    let mut ended = None;
    for _ in 0..100 {
        match tokio::time::timeout(Duration::from_secs(10), resp.chunk()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) => ended = Some("cleanly"),
            Ok(Err(_)) => ended = Some("with an error"),
            Err(_) => ended = Some("never"),
        }
        break;
    }
    assert_eq!(ended, Some("with an error"));
    let _ = upload.await;
}
