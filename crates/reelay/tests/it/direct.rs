//! The direct path (`http/transport/direct.rs`) against the router: the same requests to one node, served
//! once with the direct path in front (as `reelay serve` does) and once through the router
//! alone, get the same answers — status, every header but `Date` and `X-Request-Id`, and every
//! byte — over conditionals, ranges, errors, encodings, limits and credentials, for media and
//! for live renditions.

use crate::common;

use std::sync::Arc;

use common::{RoutedServer, TestServer, pattern, sha256, write_fixed};
use reelay::auth::Role;

/// One request: method, path and headers.
type Case = (&'static str, String, Vec<(&'static str, String)>);

fn get(path: &str, headers: &[(&'static str, &str)]) -> Case {
    let headers = headers.iter().map(|(n, v)| (*n, (*v).to_owned())).collect();
    ("GET", path.to_owned(), headers)
}

/// What a response is, for comparison: status, sorted headers, and the body's length and
/// digest, with a multipart boundary (random per response) replaced by a fixed one.
async fn fetch(
    client: &reqwest::Client,
    base: &str,
    case: &Case,
) -> (u16, Vec<String>, usize, String) {
    let (method, path, headers) = case;
    let mut req = client.request(method.parse().expect("method"), format!("{base}{path}"));
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    let boundary = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once("boundary="))
        .map(|(_, b)| b.to_owned());
    let normal = |s: &str| match &boundary {
        Some(b) => s.replace(b.as_str(), "BOUNDARY"),
        None => s.to_owned(),
    };
    let mut names: Vec<String> = resp
        .headers()
        .iter()
        .filter(|(name, _)| !["date", "x-request-id"].contains(&name.as_str()))
        .map(|(name, value)| normal(&format!("{name}: {}", value.to_str().unwrap_or("?"))))
        .collect();
    names.sort();
    let body = resp.bytes().await.expect("body");
    let body = match &boundary {
        Some(_) => normal(&String::from_utf8_lossy(&body)).into_bytes(),
        None => body.to_vec(),
    };
    (status, names, body.len(), sha256(&body))
}

/// Sends every case to both listeners and compares; returns the statuses seen.
async fn same_answers(direct: &TestServer, routed: &RoutedServer, cases: &[Case]) -> Vec<u16> {
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for case in cases {
        let a = fetch(&client, &direct.url(""), case).await;
        let b = fetch(&client, &routed.url(""), case).await;
        assert_eq!(a, b, "{} {} {:?}", case.0, case.1, case.2);
        statuses.push(a.0);
    }
    statuses
}

fn media(dir: &std::path::Path) {
    write_fixed(&dir.join("m/a.mp4"), &pattern(100_000));
    write_fixed(&dir.join("m/dir/b.ts"), &pattern(300_000));
    write_fixed(&dir.join("m/a b/é.mp4"), b"accented");
    write_fixed(&dir.join("m/page.html"), b"<script>alert(1)</script>");
    write_fixed(&dir.join("pub/open.mp4"), b"anyone");
}

#[tokio::test]
async fn the_direct_path_answers_ranges_and_conditionals_as_the_router_does() {
    let server = TestServer::start(media).await;
    let routed = RoutedServer::start(&server.state).await;
    let head = reqwest::get(server.url("/media/m/a.mp4"))
        .await
        .expect("get");
    let etag = head.headers()["etag"].to_str().expect("etag").to_owned();
    let modified = head.headers()["last-modified"]
        .to_str()
        .expect("date")
        .to_owned();
    let a = "/media/m/a.mp4";
    let mut cases = vec![
        get(a, &[]),
        ("HEAD", a.to_owned(), vec![]),
        ("HEAD", a.to_owned(), vec![("range", "bytes=0-9".into())]),
        get("/media/m/dir/b.ts", &[("range", "bytes=1000-99999")]),
        get("/media/m/a%20b/%C3%A9.mp4", &[]),
        get("/media/m/page.html", &[]),
        get("/media/m/empty-dir-name/", &[]),
    ];
    for range in [
        "bytes=0-99",
        "bytes=100-",
        "bytes=-50",
        "bytes=0-0",
        "bytes=99999-",
        "bytes=100000-",
        "bytes=0-1,5-9,20-",
        "bytes=0-10,5-20",
        "bytes=x",
        "items=0-1",
        "bytes=18446744073709551615-",
    ] {
        cases.push(get(a, &[("range", range)]));
    }
    for (name, value) in [
        ("if-none-match", etag.as_str()),
        ("if-none-match", "\"other\""),
        ("if-none-match", "*"),
        ("if-match", "\"nope\""),
        ("if-match", etag.as_str()),
        ("if-modified-since", modified.as_str()),
        ("if-unmodified-since", "Mon, 01 Jan 2001 00:00:00 GMT"),
        ("if-modified-since", "garbage"),
    ] {
        cases.push(get(a, &[(name, value)]));
    }
    cases.push(get(a, &[("if-range", &etag), ("range", "bytes=0-9")]));
    cases.push(get(a, &[("if-range", "\"old\""), ("range", "bytes=0-9")]));
    cases.push(get(a, &[("if-range", &modified), ("range", "bytes=0-9")]));
    let statuses = same_answers(&server, &routed, &cases).await;
    for want in [200, 206, 304, 412, 416] {
        assert!(statuses.contains(&want), "no {want} among {statuses:?}");
    }
}

#[tokio::test]
async fn the_direct_path_refuses_what_the_router_refuses() {
    let server = TestServer::start_configured(media, |services| {
        services.limits.max_header_bytes = 4096;
    })
    .await;
    let routed = RoutedServer::start(&server.state).await;
    let big = "x".repeat(5000);
    let cases = vec![
        get("/media/m/nope.mp4", &[]),
        get("/media/zz/a.mp4", &[]),
        get("/media/m/dir", &[]),
        get("/media/m/..%2F..%2Fetc%2Fpasswd", &[]),
        get("/media/m/%2e%2e/m/a.mp4", &[]),
        get("/media/m/dir/../a.mp4", &[]),
        get("/media/m/a.mp4%00", &[]),
        get("/media/m/%FF", &[]),
        get("/media/m//a.mp4", &[]),
        get("/media/m/a.mp4", &[("x-filler", &big)]),
        get("/media/m/a.mp4?download", &[]),
        ("DELETE", "/media/m/a.mp4".to_owned(), vec![]),
        ("OPTIONS", "/media/m/a.mp4".to_owned(), vec![]),
    ];
    let statuses = same_answers(&server, &routed, &cases).await;
    for want in [400, 404, 405, 431] {
        assert!(statuses.contains(&want), "no {want} among {statuses:?}");
    }
}

#[tokio::test]
async fn the_direct_path_asks_for_the_same_credentials_as_the_router() {
    let server = TestServer::start_configured(media, |services| {
        let auth = Arc::get_mut(&mut services.auth).expect("auth not shared yet");
        auth.public_buckets.insert("pub".to_owned());
    })
    .await;
    let tokens = &server.state.auth.tokens;
    let (_, read) = tokens.create("viewer", Role::Read).await.expect("token");
    assert!(
        !server.state.auth.node_open().await,
        "a token closes the node"
    );
    let routed = RoutedServer::start(&server.state).await;
    let bearer = format!("Bearer {read}");
    let cases = vec![
        get("/media/m/a.mp4", &[]),
        get("/media/m/a.mp4", &[("authorization", &bearer)]),
        get("/media/m/a.mp4", &[("authorization", "Bearer rly_wrong")]),
        get("/media/m/a.mp4", &[("authorization", "Basic Zm9vOmJhcg==")]),
        get("/media/pub/open.mp4", &[]),
        get(
            "/media/pub/open.mp4",
            &[("authorization", "Bearer rly_wrong")],
        ),
        get("/media/pub/missing.mp4", &[]),
    ];
    let statuses = same_answers(&server, &routed, &cases).await;
    assert_eq!(statuses, [401, 200, 401, 401, 200, 401, 404]);

    // Signed URLs, as a plain `<video src>` plays them.
    let sign = |body: &'static str| {
        let (url, bearer) = (server.url("/api/v1/sign"), bearer.clone());
        async move {
            let resp = reqwest::Client::new()
                .post(url)
                .header("authorization", bearer)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("sign");
            assert_eq!(resp.status(), 200);
            let signed: serde_json::Value = resp.json().await.expect("json");
            signed["url"].as_str().expect("url").to_owned()
        }
    };
    let one = sign(r#"{"path":"/media/m/a.mp4","expires_in":60}"#).await;
    let folder = sign(r#"{"path":"/media/m/dir/","prefix":true,"expires_in":60}"#).await;
    let query = |url: &str| url.split_once('?').expect("query").1.to_owned();
    let (one_q, folder_q) = (query(&one), query(&folder));
    let tampered = one_q.replace("sig=", "sig=0");
    let cases = vec![
        get(&one, &[]),
        get(&one, &[("range", "bytes=0-99")]),
        get(&format!("{one}&t=123"), &[]),
        get(&format!("/media/m/dir/b.ts?{folder_q}"), &[]),
        get(&format!("/media/m/a.mp4?{folder_q}"), &[]),
        get(&format!("/media/m/page.html?{one_q}"), &[]),
        get(&format!("/media/m/a.mp4?{tampered}"), &[]),
        get("/media/m/a.mp4?exp=1&sig=00", &[]),
        get(&format!("{one}&download"), &[]),
        get(&format!("{one}&sig=again"), &[]),
    ];
    let statuses = same_answers(&server, &routed, &cases).await;
    assert_eq!(statuses[..4], [200, 206, 200, 200], "{statuses:?}");
    assert!(
        statuses[4..8].iter().all(|s| *s == 401 || *s == 403),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn the_direct_path_is_counted_and_echoes_the_request_id_like_the_router() {
    let server = TestServer::start(media).await;
    let client = reqwest::Client::new();
    let resp = client
        .get(server.url("/media/m/a.mp4"))
        .header("range", "bytes=0-9")
        .header("x-request-id", "direct-check-1")
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.headers()["x-request-id"], "direct-check-1");
    assert_eq!(resp.bytes().await.expect("body").len(), 10);
    let missing = client
        .get(server.url("/media/m/none.mp4"))
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().contains_key("x-request-id"));
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for line in [
        r#"reelay_http_requests_total{route="/media/{bucket}/{*key}",status="206"} 1"#,
        r#"reelay_http_requests_total{route="/media/{bucket}/{*key}",status="404"} 1"#,
        r#"reelay_http_sent_bytes_total{route="/media/{bucket}/{*key}"}"#,
    ] {
        assert!(metrics.contains(line), "{line} missing from\n{metrics}");
    }
}

/// A live source `abr` with one rendition, `stream_0`, of one segment, pushed as an encoder
/// pushes it.
async fn push_one_rendition(server: &TestServer) {
    common::live::create_source(server, "abr").await;
    let client = reqwest::Client::new();
    let put = |path: &str, body: Vec<u8>| client.put(server.url(path)).body(body).send();
    let segment = put("/ingest/abr/s0_0.ts", pattern(18_800))
        .await
        .expect("put");
    assert_eq!(segment.status(), 201);
    let playlist =
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.0,\ns0_0.ts\n";
    let pushed = put("/ingest/abr/stream_0.m3u8", playlist.into())
        .await
        .expect("put");
    assert_eq!(pushed.status(), 204);
}

#[tokio::test]
async fn the_direct_path_answers_live_renditions_as_the_router_does() {
    let server = TestServer::start(|_| {}).await;
    push_one_rendition(&server).await;
    let routed = RoutedServer::start(&server.state).await;
    let (_, text) = common::get_text(server.url("/live/abr/stream_0/index.m3u8")).await;
    let uri = text
        .lines()
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or_else(|| panic!("no segment in {text}"))
        .to_owned();
    let segment = format!("/live/abr/stream_0/{uri}");
    let head = |path: &str| ("HEAD", path.to_owned(), vec![]);
    let cases = vec![
        get("/live/abr/stream_0/index.m3u8", &[]),
        head("/live/abr/stream_0/index.m3u8"),
        get("/live/abr/stream_0/index.m3u8?_HLS_msn=0&_HLS_part=0", &[]),
        get(&segment, &[]),
        get(&segment, &[("range", "bytes=100-199")]),
        get(&segment, &[("range", "bytes=0-0,-1")]),
        get(&segment, &[("range", "bytes=99999-")]),
        head(&segment),
        get("/live/abr/stream_0/p0-0.m4s", &[]),
        get("/live/abr/nope/index.m3u8", &[]),
        get("/live/none/stream_0/index.m3u8", &[]),
        get("/live/abr/stream_0/missing.ts", &[]),
        get("/live/abr/stream_0/..%2F..%2Fx.ts", &[]),
        get("/live/abr/stream_0/%FF.ts", &[]),
        get("/live/abr/stream_0/", &[]),
        ("DELETE", segment.clone(), vec![]),
    ];
    let statuses = same_answers(&server, &routed, &cases).await;
    assert_eq!(
        statuses[..8],
        [200, 200, 200, 200, 206, 206, 416, 200],
        "{statuses:?}"
    );
    assert!(statuses[8..].iter().all(|s| *s >= 400), "{statuses:?}");

    // Closed (a token exists): anonymous viewers are refused, token holders and signed URLs
    // are let in, the same way on both.
    let (_, read) = server
        .state
        .auth
        .tokens
        .create("viewer", Role::Read)
        .await
        .expect("token");
    let query = common::live::close_and_sign_prefix(&server, "/live/abr/").await;
    let bearer = format!("Bearer {read}");
    let cases = vec![
        get("/live/abr/stream_0/index.m3u8", &[]),
        get(
            "/live/abr/stream_0/index.m3u8",
            &[("authorization", &bearer)],
        ),
        get(&format!("/live/abr/stream_0/index.m3u8?{query}"), &[]),
        get(&format!("{segment}?{query}"), &[]),
        get(&segment, &[("authorization", "Bearer rly_wrong")]),
    ];
    let statuses = same_answers(&server, &routed, &cases).await;
    assert_eq!(statuses, [401, 200, 200, 200, 401]);

    // Metered under the live rendition's route on both paths, never the media route's.
    let (_, metrics) = common::get_text(server.url("/metrics")).await;
    let rendition =
        r#"reelay_http_requests_total{route="/live/{source}/{rendition}/{file}",status="200"}"#;
    assert!(metrics.contains(rendition), "{metrics}");
    let media = r#"reelay_http_requests_total{route="/media/{bucket}/{*key}""#;
    assert!(!metrics.contains(media), "{metrics}");
}
