//! Helpers for live tests: sources, ffmpeg pushes, synthetic pushes, playlists.

use super::{TestServer, run_tool};

pub async fn create_source(server: &TestServer, name: &str) -> serde_json::Value {
    let resp = reqwest::Client::new()
        .post(server.url("/api/v1/sources"))
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"name":"{name}","description":"test camera"}}"#
        ))
        .send()
        .await
        .expect("create source");
    assert_eq!(resp.status(), 201);
    resp.json().await.expect("json")
}

/// Registers edge `name` on `server`, allowed to feed every source `server` has now; its
/// token.
pub async fn create_edge(server: &TestServer, name: &str) -> String {
    let listed: serde_json::Value = reqwest::get(server.url("/api/v1/sources"))
        .await
        .expect("sources")
        .json()
        .await
        .expect("json");
    let sources: Vec<&serde_json::Value> = listed["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| &s["name"])
        .collect();
    let body = serde_json::json!({ "name": name, "sources": sources });
    let resp = reqwest::Client::new()
        .post(server.url("/api/v1/edges"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("create edge");
    assert_eq!(resp.status(), 201);
    let body: serde_json::Value = resp.json().await.expect("json");
    body["token"].as_str().expect("token").to_owned()
}

/// Pushes `seconds` of test pattern with ffmpeg's HLS muxer to `url` (extra args appended).
pub async fn push(url: String, seconds: u32, extra: &'static str) {
    let status = tokio::task::spawn_blocking(move || {
        let mut args: Vec<String> = format!(
            "-v error -re -f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine -t {seconds} \
             -c:v libx264 -preset ultrafast -g 50 -c:a aac -f hls -hls_time 2 {extra}"
        )
        .split_whitespace()
        .map(str::to_owned)
        .collect();
        args.push(url);
        let (ok, _, err) = run_tool(
            "ffmpeg",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        (ok, err)
    })
    .await
    .expect("join");
    assert!(status.0, "ffmpeg push failed: {}", status.1);
}

pub async fn playlist(server: &TestServer, source: &str) -> String {
    let resp = reqwest::get(server.url(&format!("/live/{source}/index.m3u8")))
        .await
        .expect("get");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.apple.mpegurl"
    );
    assert_eq!(resp.headers()["cache-control"], "max-age=1");
    resp.text().await.expect("text")
}

pub fn media_sequence(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|v| v.parse().ok())
        .expect("media sequence")
}

/// Pushes one synthetic segment and a playlist naming it, as an encoder would.
pub async fn push_synthetic(base: &str, source: &str, encoder_seq: u64, names: &[&str]) {
    let client = reqwest::Client::new();
    for name in names {
        let resp = client
            .put(format!("{base}/ingest/{source}/{name}"))
            .body(vec![0x47u8; 188 * 10])
            .send()
            .await
            .expect("segment");
        let status = resp.status();
        assert_eq!(
            status,
            201,
            "{name}: {}",
            resp.text().await.unwrap_or_default()
        );
    }
    let mut text = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{encoder_seq}\n"
    );
    for name in names {
        text.push_str(&format!("#EXTINF:2.000000,\n{name}\n"));
    }
    let resp = client
        .put(format!("{base}/ingest/{source}/index.m3u8"))
        .body(text)
        .send()
        .await
        .expect("playlist");
    assert_eq!(resp.status(), 204);
}

/// Parses `text` with m3u8-rs, an independent HLS parser: it must be a media playlist whose
/// segment count is what our checker counted. Returns the segment URIs.
pub fn parse_with_m3u8_rs(text: &str) -> Vec<String> {
    match m3u8_rs::parse_playlist_res(text.as_bytes()) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(p)) => {
            assert!(p.target_duration > 0, "{text}");
            for s in &p.segments {
                assert!(
                    s.duration.round() as u64 <= p.target_duration,
                    "EXTINF {} rounds above EXT-X-TARGETDURATION {}",
                    s.duration,
                    p.target_duration
                );
            }
            p.segments.into_iter().map(|s| s.uri).collect()
        }
        Ok(m3u8_rs::Playlist::MasterPlaylist(_)) => panic!("a master playlist: {text}"),
        Err(e) => panic!("m3u8-rs cannot parse it ({e:?}): {text}"),
    }
}

/// A media playlist valid by our RFC 8216 checker and by m3u8-rs, the two agreeing on its
/// segments.
pub fn assert_valid_playlist(text: &str) {
    assert_eq!(
        reelay_hls::check_media_playlist(text),
        Vec::<String>::new(),
        "{text}"
    );
    let uris: Vec<&str> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(parse_with_m3u8_rs(text), uris, "{text}");
}

/// Decodes `seconds` of a live playlist from its window's first segment with ffmpeg (a live
/// playlist never ends, hence the limit); returns ffmpeg's stderr, which must be empty.
pub async fn decode_live(url: String, seconds: u32) -> Result<(), String> {
    tokio::task::spawn_blocking(move || {
        let seconds = seconds.to_string();
        let args = [
            "-v",
            "error",
            "-live_start_index",
            "0",
            "-i",
            &url,
            "-t",
            &seconds,
            "-f",
            "null",
            "-",
        ];
        let (ok, _, err) = run_tool("ffmpeg", &args);
        if ok && err.trim().is_empty() {
            Ok(())
        } else {
            Err(err)
        }
    })
    .await
    .expect("join")
}

/// Closes `server`: an admin token now exists; returns it.
pub async fn close(server: &TestServer) -> String {
    let (_, admin) = server
        .state
        .auth
        .tokens
        .create("admin", reelay::auth::Role::Admin)
        .await
        .expect("token");
    admin
}

/// Closes `server` and signs the folder `prefix` with the admin token; returns the signed
/// URL's query (`exp=…&sig=…&pfx=…`).
pub async fn close_and_sign_prefix(server: &TestServer, prefix: &str) -> String {
    let admin = close(server).await;
    sign_prefix(server, prefix, Some(&admin)).await
}

/// Signs the folder `prefix` on `server` (with `bearer`, or none on an open node); returns the
/// signed URL's query (`exp=…&sig=…&pfx=…`).
pub async fn sign_prefix(server: &TestServer, prefix: &str, bearer: Option<&str>) -> String {
    let mut request = reqwest::Client::new()
        .post(server.url("/api/v1/sign"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"path":"{prefix}","prefix":true}}"#));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let signed: serde_json::Value = request
        .send()
        .await
        .expect("sign")
        .json()
        .await
        .expect("json");
    let url = signed["url"].as_str().expect("url");
    url.split_once('?').expect("query").1.to_owned()
}

/// Starts a recording of `source` on the node at `base` with the JSON `body`; its id.
pub async fn start_recording(base: &str, source: &str, body: &str) -> String {
    let rec: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/sources/{source}/recordings"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("record")
        .json()
        .await
        .expect("json");
    rec["id"].as_str().expect("recording id").to_owned()
}
