//! An edge's ring buffer: bounded by bytes whatever holds its segments, and keeping past its age
//! limit the segments its hold asks for (those open recordings need and the control has not
//! confirmed).

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::TestServer;
use common::live::{create_source, push_synthetic};
use reelay::live::{Hold, LiveSettings, SegmentRow};

/// Holds every segment, as an edge does before it first hears from its control node.
#[derive(Debug)]
struct HoldAll;

impl Hold for HoldAll {
    fn holds(&self, _: &SegmentRow) -> bool {
        true
    }
    fn dropped(&self, _: &SegmentRow) {}
}

const SEGMENT: u64 = 188 * 10; // what push_synthetic sends

async fn server_with(settings: LiveSettings, hold: bool, dir: &std::path::Path) -> TestServer {
    let dir = dir.to_owned();
    TestServer::start_configured(
        |_| {},
        move |state| {
            let mut live = common::live_on(state, &dir, settings);
            if hold {
                live = live.with_hold(Arc::new(HoldAll));
            }
            state.live = Some(Arc::new(live));
        },
    )
    .await
}

async fn status(server: &TestServer, file: &str) -> u16 {
    reqwest::get(server.url(&format!("/live/cam/{file}")))
        .await
        .expect("get")
        .status()
        .as_u16()
}

#[tokio::test]
async fn held_segments_outlive_the_age_limit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let settings = LiveSettings {
        window: 2,
        buffer: Duration::ZERO, // everything outside the window is "old" at once
        ..LiveSettings::default()
    };
    let server = server_with(settings, true, tmp.path()).await;
    create_source(&server, "cam").await;
    let names: Vec<String> = (0..6).map(|i| format!("s{i}.ts")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    push_synthetic(&server.url(""), "cam", 0, &names).await;
    assert_eq!(status(&server, "0.ts").await, 200, "held, so kept");
}

#[tokio::test]
async fn without_a_hold_old_segments_go() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let settings = LiveSettings {
        window: 2,
        buffer: Duration::ZERO,
        ..LiveSettings::default()
    };
    let server = server_with(settings, false, tmp.path()).await;
    create_source(&server, "cam").await;
    push_synthetic(&server.url(""), "cam", 0, &["a.ts", "b.ts", "c.ts", "d.ts"]).await;
    assert_eq!(status(&server, "0.ts").await, 404);
    assert_eq!(status(&server, "3.ts").await, 200, "the window stays");
}

#[tokio::test]
async fn the_byte_budget_drops_the_oldest_even_when_held() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let settings = LiveSettings {
        window: 2,
        buffer_bytes: 4 * SEGMENT,
        ..LiveSettings::default()
    };
    let server = server_with(settings, true, tmp.path()).await;
    create_source(&server, "cam").await;
    let names: Vec<String> = (0..7).map(|i| format!("s{i}.ts")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    push_synthetic(&server.url(""), "cam", 0, &names).await;
    for msn in 0..3 {
        assert_eq!(
            status(&server, &format!("{msn}.ts")).await,
            404,
            "{msn} is over budget"
        );
    }
    for msn in 3..7 {
        assert_eq!(
            status(&server, &format!("{msn}.ts")).await,
            200,
            "{msn} fits"
        );
    }
}

#[tokio::test]
async fn a_ladder_shares_the_sources_byte_budget() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let settings = LiveSettings {
        window: 2,
        buffer_bytes: 4 * SEGMENT,
        ..LiveSettings::default()
    };
    let server = server_with(settings, true, tmp.path()).await;
    create_source(&server, "cam").await;
    let client = reqwest::Client::new();
    let mut playlists = [String::new(), String::new()];
    // Interleaved, as an encoder pushes a ladder: each push prunes its rendition.
    for i in 0..5 {
        for (r, rendition) in ["hi", "lo"].into_iter().enumerate() {
            let name = format!("{rendition}{i}.ts");
            let resp = client
                .put(server.url(&format!("/ingest/cam/{name}")))
                .body(vec![0x47u8; SEGMENT as usize])
                .send()
                .await
                .expect("segment");
            assert_eq!(resp.status(), 201);
            playlists[r].push_str(&format!("#EXTINF:2.000000,\n{name}\n"));
            let text = format!(
                "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n{}",
                playlists[r]
            );
            let resp = client
                .put(server.url(&format!("/ingest/cam/{rendition}.m3u8")))
                .body(text)
                .send()
                .await
                .expect("playlist");
            assert_eq!(resp.status(), 204);
        }
    }
    // 4 segments in all: 2 per rendition (the window), the older ones dropped though held.
    let kept = |rendition: &'static str| {
        let server = &server;
        async move {
            let mut kept = Vec::new();
            for msn in 0..5 {
                let url = server.url(&format!("/live/cam/{rendition}/{msn}.ts"));
                if reqwest::get(url).await.expect("get").status() == 200 {
                    kept.push(msn);
                }
            }
            kept
        }
    };
    assert_eq!(kept("hi").await, [3, 4]);
    assert_eq!(kept("lo").await, [3, 4]);
}
