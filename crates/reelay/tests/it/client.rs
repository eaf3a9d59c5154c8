//! The command-line clients against a real node: `reelay upload` (streams files, re-running
//! skips what is already there whole, refuses clearly) and `reelay sign`.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{pattern, serve_media_dir};

/// Runs the binary; returns (success, stdout, stderr).
fn reelay(args: &[&str], cwd: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_reelay"))
        .args(args)
        .current_dir(cwd)
        .env_remove("REELAY_TOKEN")
        .output()
        .expect("run reelay");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn upload_streams_files_into_a_folder_and_a_rerun_skips_what_is_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = serve_media_dir(dir.path());

    let server = node.url("");
    let (a, b) = (dir.path().join("a.bin"), dir.path().join("b b.mp4"));
    std::fs::write(&a, pattern(3 << 20)).expect("write");
    std::fs::write(&b, pattern(1000)).expect("write");
    let (a, b) = (a.to_str().expect("path"), b.to_str().expect("path"));
    let (ok, out, err) = reelay(
        &["upload", a, b, "media/in/here", "--server", &server],
        dir.path(),
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("uploaded 3145728 bytes"), "{out}");
    let stored = std::fs::read(dir.path().join("media/in/here/a.bin")).expect("uploaded");
    assert!(stored == pattern(3 << 20));
    assert_eq!(
        std::fs::read(dir.path().join("media/in/here/b b.mp4"))
            .expect("uploaded")
            .len(),
        1000
    );

    let (ok, out, _) = reelay(
        &["upload", a, b, "media/in/here", "--server", &server],
        dir.path(),
    );
    assert!(ok);
    assert_eq!(out.matches("already there").count(), 2, "{out}");

    let (ok, _, err) = reelay(&["upload", a, "nope/x", "--server", &server], dir.path());
    assert!(!ok);
    assert!(
        err.contains("404"),
        "a missing bucket is a clear error: {err}"
    );
}

#[test]
fn sign_prints_a_url_that_plays_until_it_expires() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = serve_media_dir(dir.path());
    std::fs::write(dir.path().join("media/clip.mp4"), b"not really a movie").expect("write");

    let server = node.url("");
    let (ok, out, err) = reelay(
        &[
            "sign",
            "/media/media/clip.mp4",
            "--expires",
            "90s",
            "--server",
            &server,
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    let url = out.trim();
    assert!(
        url.starts_with(&format!("{server}/media/media/clip.mp4?")) && url.contains("sig="),
        "{url}"
    );
    let (status, body) = common::http_request("GET", url, None);
    assert_eq!(status, 200);
    assert_eq!(body, b"not really a movie");
    let (ok, _, err) = reelay(
        &[
            "sign",
            "/media/media/clip.mp4",
            "--expires",
            "30d",
            "--server",
            &server,
        ],
        dir.path(),
    );
    assert!(!ok, "longer than 7 days is refused");
    assert!(err.contains("400"), "{err}");
}
