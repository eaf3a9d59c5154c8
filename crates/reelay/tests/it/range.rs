//! The RFC 9110 range and conditional matrix against a real server over an fs bucket, plus
//! `/watch`, empty files and multi-megabyte ranges.

use crate::common;

use common::matrix::{LEN, run_matrix};
use common::{TestServer, parse_multipart, pattern, sha256, write_fixed};

#[tokio::test]
async fn range_and_conditional_matrix_matches_rfc_9110() {
    let file = pattern(LEN);
    let server = TestServer::start(|dir| write_fixed(&dir.join("media/video.mp4"), &file)).await;
    let cases = run_matrix(&server.url("/media/media/video.mp4"), &file).await;
    assert!(cases >= 40, "the matrix has {cases} cases");
}

#[tokio::test]
async fn watch_route_serves_the_same_bytes_as_media() {
    let file = pattern(LEN);
    let server =
        TestServer::start(|dir| write_fixed(&dir.join("media/a b/video.mp4"), &file)).await;
    let client = reqwest::Client::new();
    let resp = client
        .get(server.url("/watch?v=a%20b/video.mp4&bucket=media"))
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .expect("watch");
    assert_eq!(resp.status(), 206);
    assert_eq!(
        resp.bytes().await.expect("body").as_ref(),
        &file[1000..2000]
    );
    // With a single bucket the bucket parameter may be left out.
    let resp = client
        .get(server.url("/watch?v=a%20b/video.mp4"))
        .send()
        .await
        .expect("watch");
    assert_eq!(resp.status(), 200);
    let resp = client
        .get(server.url("/watch"))
        .send()
        .await
        .expect("watch");
    assert_eq!(resp.status(), 400, "v is required");
}

#[tokio::test]
async fn empty_files_answer_ranges_per_rfc() {
    let server = TestServer::start(|dir| write_fixed(&dir.join("media/empty.mp4"), b"")).await;
    let client = reqwest::Client::new();
    let url = server.url("/media/media/empty.mp4");
    let resp = client
        .get(&url)
        .header("range", "bytes=0-")
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 416);
    assert_eq!(resp.headers()["content-range"], "bytes */0");
    let resp = client
        .get(&url)
        .header("range", "bytes=-5")
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-length"], "0");
    assert!(resp.bytes().await.expect("body").is_empty());
}

#[tokio::test]
async fn large_ranges_stream_exact_bytes_across_frames() {
    // Bigger than several read frames, with an odd start, to cross frame boundaries.
    let len = 3 * 1024 * 1024 + 17;
    let file = pattern(len);
    let server = TestServer::start(|dir| write_fixed(&dir.join("media/big.mp4"), &file)).await;
    let client = reqwest::Client::new();
    let resp = client
        .get(server.url("/media/media/big.mp4"))
        .header("range", "bytes=12345-3000000,3100000-")
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 206);
    let ct = resp.headers()["content-type"]
        .to_str()
        .expect("ct")
        .to_owned();
    let body = resp.bytes().await.expect("body");
    let parts = parse_multipart(&ct, &body);
    assert_eq!(sha256(&parts[0].body), sha256(&file[12345..3_000_001]));
    assert_eq!(sha256(&parts[1].body), sha256(&file[3_100_000..]));
}
