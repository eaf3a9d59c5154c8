//! Edge and control as two real processes on loopback, with real ffmpeg pushing to the edge:
//! live through the edge, a recording started in the past that survives the control node
//! being killed for 15 s, and edge liveness.

use crate::common;

use std::time::{Duration, Instant};

use common::relay::{
    CONTROL_CONFIG, Relay, durations_ms, get_text, pdt_ms, post_json, push_with_copy,
    recording_playlist, segment_files, start_control, start_edge, start_relay, start_relay_with,
};
use common::{poll_until, run_tool};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_hls_flows_through_the_edge_to_the_control_playlist() {
    let relay = start_relay().await;
    let local = relay.dir.path().join("ffmpeg-out");
    let ffmpeg = push_with_copy(
        relay.edge.url("/ingest/cam/index.m3u8"),
        local.clone(),
        6,
        false,
    );
    let playlist_url = relay.control.url("/live/cam/index.m3u8");
    let probe_url = playlist_url.clone();
    // ffprobe reads the live playlist on the control node while ffmpeg still pushes.
    let text = poll_until(
        "three live segments on the control",
        Duration::from_secs(30),
        || {
            let url = playlist_url.clone();
            async move {
                let (status, text) = get_text(url).await;
                (status == 200 && segment_files(&text).len() >= 3).then_some(text)
            }
        },
    )
    .await;
    common::live::assert_valid_playlist(&text);
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        run_tool(
            "ffprobe",
            &[
                "-v",
                "error",
                "-show_entries",
                "stream=codec_type",
                "-of",
                "csv=p=0",
                &probe_url,
            ],
        )
    })
    .await
    .expect("join");
    assert!(ok, "ffprobe: {err}");
    assert!(out.contains("video") && out.contains("audio"), "{out}");
    tokio::task::spawn_blocking(move || ffmpeg.join())
        .await
        .expect("join")
        .expect("ffmpeg");
    let final_text = poll_until("the last segment", Duration::from_secs(10), || {
        let url = relay.control.url("/live/cam/index.m3u8");
        async move {
            let (_, text) = get_text(url).await;
            segment_files(&text)
                .last()
                .is_some_and(|f| f == "5.ts")
                .then_some(text)
        }
    })
    .await;
    for file in segment_files(&final_text) {
        let msn: usize = file.trim_end_matches(".ts").parse().expect("msn");
        let forwarded = reqwest::get(relay.control.url(&format!("/live/cam/{file}")))
            .await
            .expect("get");
        assert_eq!(forwarded.headers()["content-type"], "video/mp2t");
        let bytes = forwarded.bytes().await.expect("bytes");
        let original = std::fs::read(local.join(format!("index{msn}.ts"))).expect("ffmpeg's file");
        assert!(
            bytes == original,
            "segment {msn} differs from what ffmpeg wrote"
        );
    }
    // The relay's metrics say the same on both sides.
    let metric = |text: &str, name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /metrics"))
    };
    let (_, edge_metrics) = get_text(relay.edge.url("/metrics")).await;
    let (_, control_metrics) = get_text(relay.control.url("/metrics")).await;
    assert_eq!(metric(&edge_metrics, "reelay_edge_link_up"), 1.0);
    assert!(metric(&edge_metrics, "reelay_edge_segments_forwarded_live_total") >= 6.0);
    assert!(metric(&edge_metrics, "reelay_live_segments_ingested_total") >= 6.0);
    assert!(metric(&control_metrics, "reelay_live_segments_received_total") >= 6.0);
    assert!(metric(&control_metrics, "reelay_live_segment_lag_seconds_count") >= 6.0);
    assert_eq!(
        metric(&control_metrics, "reelay_edges_online"),
        1.0,
        "{control_metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fmp4_init_sections_are_forwarded_before_their_segments() {
    let relay = start_relay().await;
    let local = relay.dir.path().join("ffmpeg-out");
    let ffmpeg = push_with_copy(relay.edge.url("/ingest/cam/index.m3u8"), local, 4, true);
    tokio::task::spawn_blocking(move || ffmpeg.join())
        .await
        .expect("join")
        .expect("ffmpeg");
    let text = poll_until(
        "fMP4 segments on the control",
        Duration::from_secs(15),
        || {
            let url = relay.control.url("/live/cam/index.m3u8");
            async move {
                let (status, text) = get_text(url).await;
                (status == 200 && segment_files(&text).len() >= 3).then_some(text)
            }
        },
    )
    .await;
    common::live::assert_valid_playlist(&text);
    let map = text
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MAP:URI=\""))
        .map(|m| m.trim_end_matches('"').to_owned())
        .expect("EXT-X-MAP");
    let init = reqwest::get(relay.control.url(&format!("/live/cam/{map}")))
        .await
        .expect("init");
    assert_eq!(init.status(), 200);
    let decoded = common::live::decode_live(relay.control.url("/live/cam/index.m3u8"), 2).await;
    assert!(
        decoded.is_ok(),
        "decoding the forwarded fMP4 failed: {decoded:?}"
    );
}

/// `online` and `last_seen` of edge `site-a` on `control`.
async fn liveness(control: &common::Proc) -> (bool, jiff::Timestamp) {
    let (status, text) = get_text(control.url("/api/v1/edges/site-a")).await;
    assert_eq!(status, 200, "{text}");
    let edge: Value = serde_json::from_str(&text).expect("json");
    let online = edge["online"].as_bool().expect("online");
    let seen = edge["last_seen"].as_str().expect("last_seen").parse();
    (online, seen.expect("a time"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_goes_offline_after_three_missed_intervals_not_one() {
    // Interval 1 s, margin 500 ms: offline once 3.5 s have passed since its last contact.
    let config = "[edges]\ninterval = \"1s\"\nmargin = \"500ms\"\n";
    let mut relay = start_relay_with(config).await;
    assert!(liveness(&relay.control).await.0, "online while it polls");
    let _ = relay.edge.child.kill();
    let _ = relay.edge.child.wait();
    // Each answer is judged against the edge's last contact, by the clock of this machine
    // (the control's too): an answer given after `asked` saw at least `asked - last_seen`
    // without contact, and one read at `answered` at most that. So however slow the machine,
    // "online" asked 1.5 s after the last contact shows one missed interval is not enough,
    // and "offline" read before 3.5 s would show it came too soon.
    let (mut late_online, give_up) = (None, Instant::now() + Duration::from_secs(20));
    let offline_after = loop {
        assert!(Instant::now() < give_up, "the edge never went offline");
        let asked = jiff::Timestamp::now();
        let (online, seen) = liveness(&relay.control).await;
        if !online {
            break jiff::Timestamp::now().duration_since(seen);
        }
        if asked.duration_since(seen) >= jiff::SignedDuration::from_millis(1500) {
            late_online = Some(asked.duration_since(seen));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        offline_after >= jiff::SignedDuration::from_millis(3500),
        "offline {offline_after:?} after its last contact: too soon"
    );
    assert!(
        late_online.is_some(),
        "never seen online 1.5 s or more after its last contact"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_from_the_past_survives_the_control_node_down_for_15_seconds() {
    let Relay {
        dir, control, edge, ..
    } = start_relay().await;
    let local = dir.path().join("ffmpeg-out");
    let ffmpeg = push_with_copy(edge.url("/ingest/cam/index.m3u8"), local.clone(), 46, false);
    // Once 22 segments are live on the control, record from inside segment 2, about 20 s ago
    // (from the edge's buffer). The start is read off the stream's own timeline (segment 2's
    // PROGRAM-DATE-TIME), not the wall clock: an encoder slowed by a loaded machine puts fewer
    // than 20 segments in the last 20 s of wall time.
    let live_url = control.url("/live/cam/index.m3u8");
    let segment_2_starts = std::cell::Cell::new(None);
    let seen = &segment_2_starts;
    poll_until("22 s of live stream", Duration::from_secs(60), move || {
        let url = live_url.clone();
        async move {
            let (status, text) = get_text(url).await;
            if seen.get().is_none() {
                // Every segment carries its date, so the two lists pair up.
                seen.set(
                    segment_files(&text)
                        .into_iter()
                        .zip(pdt_ms(&text))
                        .find_map(|(file, pdt)| (file == "2.ts").then_some(pdt)),
                );
            }
            (status == 200
                && seen.get().is_some()
                && segment_files(&text).contains(&"21.ts".to_owned()))
            .then_some(())
        }
    })
    .await;
    let start_ms = segment_2_starts.get().expect("segment 2's date") + 1;
    let start = jiff::Timestamp::from_millisecond(start_ms)
        .expect("time")
        .to_string();
    let rec = post_json(
        control.url("/api/v1/sources/cam/recordings"),
        &format!(r#"{{"start":"{start}","alias":"outage"}}"#),
    )
    .await;
    let id = rec["id"].as_str().expect("id").to_owned();
    // Segments 2 to 21 at least, at once: the past comes from the buffer.
    let at_once = segment_files(&recording_playlist(&control, &id).await).len();
    assert!(at_once >= 20, "{at_once} segments recorded at once");

    // Kill the control node (no goodbye) for 15 s, then start it again on the same port.
    let addr = control.addr.to_string();
    let _database = control.metadata.clone(); // the restarted node finds its state
    drop(control);
    let down_since = std::time::Instant::now();
    // The edge keeps taking segments but says it is not ready: its link is down.
    let ready_url = edge.url("/readyz");
    poll_until(
        "the edge to report its control link down",
        Duration::from_secs(14),
        || {
            let url = ready_url.clone();
            async move {
                let (status, text) = get_text(url).await;
                (status == 503 && text.contains(r#""engine":"control link""#)).then_some(())
            }
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(15).saturating_sub(down_since.elapsed())).await;
    let control = start_control(dir.path(), &addr);
    poll_until(
        "the edge to be ready again",
        Duration::from_secs(20),
        || {
            let url = ready_url.clone();
            async move { (get_text(url).await.0 == 200).then_some(()) }
        },
    )
    .await;
    tokio::task::spawn_blocking(move || ffmpeg.join())
        .await
        .expect("join")
        .expect("ffmpeg");

    // ffmpeg's own copy says how many segments there are.
    let produced = std::fs::read_to_string(local.join("index.m3u8")).expect("ffmpeg playlist");
    let last_msn = segment_files(&produced).len() - 1;
    let last = format!("{last_msn}.ts");
    let text = poll_until("the backfill to complete", Duration::from_secs(60), || {
        let (control, id, last) = (&control, &id, &last);
        async move {
            let text = recording_playlist(control, id).await;
            let files = segment_files(&text);
            let first: usize = files.first()?.trim_end_matches(".ts").parse().ok()?;
            (files.last() == Some(last) && files.len() == last_msn + 1 - first).then_some(text)
        }
    })
    .await;
    // Every segment from the one covering the start to the last, contiguous.
    let files = segment_files(&text);
    let first: usize = files[0].trim_end_matches(".ts").parse().expect("msn");
    let expected: Vec<String> = (first..=last_msn).map(|m| format!("{m}.ts")).collect();
    assert_eq!(files, expected);
    let dates = pdt_ms(&text);
    let durations = durations_ms(&text);
    assert!(
        dates[0] <= start_ms && start_ms < dates[0] + (durations[0] * 1000.0) as i64 + 50,
        "the first segment covers the start"
    );
    assert!(!text.contains("#EXT-X-DISCONTINUITY\n"), "no gap: {text}");

    let stopped = post_json(control.url(&format!("/api/v1/recordings/{id}/stop")), "").await;
    assert_eq!(stopped["open"], false, "{stopped}");
    let vod = recording_playlist(&control, &id).await;
    assert!(
        vod.contains("#EXT-X-PLAYLIST-TYPE:VOD") && vod.ends_with("#EXT-X-ENDLIST\n"),
        "{vod}"
    );
    common::live::assert_valid_playlist(&vod);
    for file in &files {
        let msn: usize = file.trim_end_matches(".ts").parse().expect("msn");
        let stored = reqwest::get(control.url(&format!("/recordings/{id}/{file}")))
            .await
            .expect("get")
            .bytes()
            .await
            .expect("bytes");
        let original = std::fs::read(local.join(format!("index{msn}.ts"))).expect("ffmpeg's file");
        assert!(
            stored == original,
            "recorded segment {msn} differs from what ffmpeg wrote"
        );
    }
    // The replay decodes without error, for as long as the playlist says.
    let url = control.url(&format!("/recordings/{id}/index.m3u8"));
    let total: f64 = durations_ms(&vod).iter().sum();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        let (ok, _, err) = run_tool("ffmpeg", &["-v", "error", "-i", &url, "-f", "null", "-"]);
        assert!(ok && err.trim().is_empty(), "decoding the replay: {err}");
        run_tool(
            "ffprobe",
            &[
                "-v",
                "error",
                "-show_entries",
                "format=duration",
                "-of",
                "csv=p=0",
                &url,
            ],
        )
    })
    .await
    .expect("join");
    assert!(ok, "ffprobe: {err}");
    let probed: f64 = out.trim().parse().expect("duration");
    assert!(
        (probed - total).abs() < 1.0,
        "replay lasts {probed} s, the playlist says {total} s"
    );
    assert!(total >= 40.0, "{total} s recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_streaming_off_nothing_goes_live_but_recordings_still_fill_from_the_buffer() {
    let Relay {
        dir: _dir,
        control,
        edge,
        ..
    } = start_relay().await;
    let client = reqwest::Client::new();
    let set_streaming = |on: bool| {
        client
            .put(control.url("/api/v1/sources/cam/streaming"))
            .header("content-type", "application/json")
            .body(format!(r#"{{"enabled":{on}}}"#))
            .send()
    };
    assert_eq!(set_streaming(false).await.expect("put").status(), 200);
    let edge_sources = edge.url("/api/v1/sources/cam");
    poll_until(
        "the edge to hear streaming is off",
        Duration::from_secs(10),
        || {
            let url = edge_sources.clone();
            async move {
                let (_, text) = get_text(url).await;
                text.contains(r#""streaming":false"#).then_some(())
            }
        },
    )
    .await;
    let base = format!("http://{}", edge.addr);
    common::live::push_synthetic(&base, "cam", 0, &["a0.ts", "a1.ts", "a2.ts"]).await;
    let (status, text) = get_text(control.url("/live/cam/index.m3u8")).await;
    assert_eq!(status, 404, "nothing live while streaming is off: {text}");

    // A recording from a minute ago takes the edge's buffered segments.
    let start = jiff::Timestamp::now().as_second() - 60;
    let rec = post_json(
        control.url("/api/v1/sources/cam/recordings"),
        &format!(r#"{{"start":{start}}}"#),
    )
    .await;
    let id = rec["id"].as_str().expect("id").to_owned();
    poll_until(
        "the buffered segments in the recording",
        Duration::from_secs(20),
        || {
            let (control, id) = (&control, &id);
            async move {
                let files = segment_files(&recording_playlist(control, id).await);
                (files == ["0.ts", "1.ts", "2.ts"]).then_some(())
            }
        },
    )
    .await;
    let (status, _) = get_text(control.url("/live/cam/index.m3u8")).await;
    assert_eq!(status, 404, "recording-only segments do not go live");

    // Streaming on: the next segment goes live.
    assert_eq!(set_streaming(true).await.expect("put").status(), 200);
    common::live::push_synthetic(&base, "cam", 3, &["a3.ts"]).await;
    poll_until("the live segment", Duration::from_secs(20), || {
        let url = control.url("/live/cam/index.m3u8");
        async move {
            let (status, text) = get_text(url).await;
            (status == 200 && segment_files(&text).contains(&"3.ts".to_owned())).then_some(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_configured_an_offline_edges_recordings_stop_at_its_last_contact() {
    let config = format!("{CONTROL_CONFIG}offline_stops_recordings = true\n");
    let Relay {
        dir: _dir,
        control,
        mut edge,
        ..
    } = start_relay_with(&config).await;
    common::live::push_synthetic(&format!("http://{}", edge.addr), "cam", 0, &["a.ts"]).await;
    poll_until(
        "the segment on the control",
        Duration::from_secs(10),
        || {
            let url = control.url("/live/cam/0.ts");
            async move { (get_text(url).await.0 == 200).then_some(()) }
        },
    )
    .await;
    let rec = post_json(control.url("/api/v1/sources/cam/recordings"), "{}").await;
    let id = rec["id"].as_str().expect("id").to_owned();
    let (_, seen_before_kill) = liveness(&control).await;
    let _ = edge.child.kill();
    let _ = edge.child.wait();
    let killed = jiff::Timestamp::now();
    let stopped = poll_until("the recording to stop", Duration::from_secs(15), || {
        let url = control.url(&format!("/api/v1/recordings/{id}"));
        async move {
            let (_, text) = get_text(url).await;
            let rec: Value = serde_json::from_str(&text).expect("json");
            (rec["open"] == false).then_some(rec)
        }
    })
    .await;
    let end: jiff::Timestamp = stopped["end"].as_str().expect("end").parse().expect("time");
    // At the edge's last contact to the millisecond (not when it was noticed, seconds later):
    // no earlier than a contact seen before the kill, no later than the kill.
    let (_, last_seen) = liveness(&control).await;
    assert_eq!(end, last_seen, "stopped at the last contact");
    assert!(
        (seen_before_kill..=killed).contains(&end),
        "the last contact ({end}) is between one seen before the kill ({seen_before_kill}) \
         and the kill ({killed})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_that_lost_its_data_never_reuses_a_sequence_number() {
    let Relay {
        dir,
        control,
        edge,
        edge_token,
    } = start_relay().await;
    let push = |edge: &common::Proc, names: &'static [&'static str]| {
        let base = format!("http://{}", edge.addr);
        async move { common::live::push_synthetic(&base, "cam", 0, names).await }
    };
    let listed = |last: &'static str| common::relay::listed(&control, last);
    push(&edge, &["a0.ts", "a1.ts", "a2.ts"]).await;
    let before = listed("2.ts").await;
    // The edge dies and its disk is wiped; a new one starts with the same identity.
    drop(edge);
    std::fs::remove_dir_all(dir.path().join("edge")).expect("wipe the edge");
    let edge = start_edge(dir.path(), &control, &edge_token).await;
    push(&edge, &["b0.ts", "b1.ts"]).await;
    let after = listed("4.ts").await;
    common::live::assert_valid_playlist(&after);
    assert_eq!(
        segment_files(&after),
        ["0.ts", "1.ts", "2.ts", "3.ts", "4.ts"],
        "{before}\n{after}"
    );
    assert!(
        after.contains("#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME")
            && after.find("3.ts") > after.find("#EXT-X-DISCONTINUITY\n"),
        "a new stream after the restart starts with a discontinuity: {after}"
    );
}
