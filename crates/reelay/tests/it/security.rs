//! Path safety: traversal payloads, encoded separators, NUL, backslashes and symlinks leading
//! out of the bucket root are refused, and a canary file next to the root is never served.

use crate::common;

use std::os::unix::fs::symlink;

use common::{TestServer, raw_get, write_fixed};

const CANARY: &[u8] = b"CANARY-7f3a-do-not-serve";

async fn server() -> TestServer {
    TestServer::start(|dir| {
        write_fixed(&dir.join("canary.txt"), CANARY);
        write_fixed(&dir.join("media/video.mp4"), b"inside the root");
        write_fixed(&dir.join("media/sub/inner.mp4"), b"inner");
        write_fixed(&dir.join("other/secret.mp4"), CANARY);
        let root = dir.join("media");
        symlink(dir.join("canary.txt"), root.join("abs-link.mp4")).expect("symlink");
        symlink("../canary.txt", root.join("rel-link.mp4")).expect("symlink");
        symlink("/etc", root.join("etc-dir")).expect("symlink");
        symlink("../other", root.join("other-dir")).expect("symlink");
        symlink("sub/inner.mp4", root.join("inside-link.mp4")).expect("symlink");
    })
    .await
}

#[tokio::test]
async fn traversal_payloads_are_refused_and_never_leak_the_canary() {
    let server = server().await;
    let payloads = [
        "/media/media/../canary.txt",
        "/media/media/sub/../../canary.txt",
        "/media/media/%2e%2e/canary.txt",
        "/media/media/%2E%2E/canary.txt",
        "/media/media/..%2fcanary.txt",
        "/media/media/sub%2f..%2f..%2fcanary.txt",
        "/media/media/%252e%252e/canary.txt",
        "/media/media/..%5ccanary.txt",
        "/media/media/%5c..%5ccanary.txt",
        "/media/media/video.mp4%00.txt",
        "/media/media/%00",
        "/media/media//etc/passwd",
        "/media/media/%2fetc%2fpasswd",
        "/media/media/./video.mp4",
        "/media/..%2fcanary.txt",
        "/media/%2e%2e/canary.txt",
        "/media/media/abs-link.mp4",
        "/media/media/rel-link.mp4",
        "/media/media/etc-dir/passwd",
        "/media/media/other-dir/secret.mp4",
        "/media/media/sub",
        "/media/media/%ff%fe",
        "/watch?v=../canary.txt&bucket=media",
        "/watch?v=%2e%2e%2fcanary.txt&bucket=media",
        "/watch?v=video.mp4&bucket=..",
    ];
    let addr = server.addr;
    let results = tokio::task::spawn_blocking(move || payloads.map(|p| (p, raw_get(addr, p))))
        .await
        .expect("join");
    for (payload, resp) in results {
        assert!(
            resp.status == 400 || resp.status == 404,
            "{payload}: status {} (want 400 or 404)",
            resp.status
        );
        assert!(
            !resp.body.windows(CANARY.len()).any(|w| w == CANARY),
            "{payload}: leaked the canary"
        );
    }
}

#[tokio::test]
async fn encoded_dot_segments_and_control_characters_are_400() {
    let server = server().await;
    let addr = server.addr;
    let statuses = tokio::task::spawn_blocking(move || {
        [
            "/media/media/%2e%2e/canary.txt",
            "/media/media/..%2fcanary.txt",
            "/media/media/..%5ccanary.txt",
            "/media/media/a%00b",
            "/media/media//etc/passwd",
        ]
        .map(|p| raw_get(addr, p).status)
    })
    .await
    .expect("join");
    assert_eq!(statuses, [400; 5]);
}

#[tokio::test]
async fn symlinks_that_stay_inside_the_root_are_served() {
    let server = server().await;
    let addr = server.addr;
    let resp = tokio::task::spawn_blocking(move || raw_get(addr, "/media/media/inside-link.mp4"))
        .await
        .expect("join");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"inner");
}

#[tokio::test]
async fn literal_percent_names_are_files_not_escapes() {
    // `%252e%252e` decodes once to the literal name `%2e%2e`, which is an ordinary file name.
    let server = TestServer::start(|dir| {
        write_fixed(&dir.join("media/%2e%2e/file.mp4"), b"literal");
    })
    .await;
    let addr = server.addr;
    let resp =
        tokio::task::spawn_blocking(move || raw_get(addr, "/media/media/%252e%252e/file.mp4"))
            .await
            .expect("join");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"literal");
}
