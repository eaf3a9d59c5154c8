//! The command-line clients against a real node: `reelay upload` (streams files, re-running
//! skips what is already there whole, refuses clearly) and `reelay sign`.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{MEDIA_DIR_ARGS, make_token, pattern, serve_media_dir, start_binary};

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

/// `reelay sign PATH --expires FOR` against `server` with `token`: the printed URL.
fn sign(path: &str, expires: &str, server: &str, token: &str, cwd: &Path) -> String {
    let args = [
        "sign",
        path,
        "--expires",
        expires,
        "--server",
        server,
        "--token",
        token,
    ];
    let (ok, out, err) = reelay(&args, cwd);
    assert!(ok, "{err}");
    out.trim().to_owned()
}

/// The `exp` (seconds since 1970) of a signed URL.
fn expiry(url: &str) -> u64 {
    url.split(['?', '&'])
        .find_map(|p| p.strip_prefix("exp="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no exp in {url}"))
}

/// The status and the error message of a GET of `url` with no credential.
fn refused(url: &str) -> (u16, String) {
    let (status, body) = common::http_request("GET", url, None);
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let message = body["error"]["message"].as_str().unwrap_or("").to_owned();
    (status, message)
}

#[test]
fn sign_prints_a_url_that_plays_until_it_expires_and_not_when_altered() {
    // A closed node (it has a token): without a signature nothing plays, so what plays is the
    // signature's doing (an open loopback node plays any URL, signed or not).
    let dir = tempfile::tempdir().expect("tempdir");
    let (admin, entry) = make_token("admin");
    std::fs::write(dir.path().join("reelay.toml"), entry).expect("config");
    std::fs::create_dir_all(dir.path().join("media")).expect("media dir");
    std::fs::write(dir.path().join("media/clip.mp4"), b"not really a movie").expect("write");
    std::fs::write(dir.path().join("media/other.mp4"), b"another one").expect("write");
    let args = [&MEDIA_DIR_ARGS[..], &["--config", "reelay.toml"]].concat();
    let node = start_binary(&args, dir.path(), &[]);
    let server = node.url("");
    let bare = format!("{server}/media/media/clip.mp4");
    assert_eq!(refused(&bare).0, 401, "closed: no credential, no playback");

    let url = sign("/media/media/clip.mp4", "2s", &server, &admin, dir.path());
    assert!(
        url.starts_with(&format!("{bare}?")) && url.contains("sig="),
        "{url}"
    );
    let (status, body) = common::http_request("GET", &url, None);
    assert_eq!((status, body.as_slice()), (200, &b"not really a movie"[..]));
    // Altered: another path under the same query, a changed signature, a later expiry.
    let query = url.split_once('?').expect("query").1;
    let other = format!("{server}/media/media/other.mp4?{query}");
    let invalid = (403, "the signature is not valid".to_owned());
    assert_eq!(refused(&other), invalid, "{other}");
    let flipped = if url.ends_with('0') { "1" } else { "0" };
    let forged = format!("{}{flipped}", &url[..url.len() - 1]);
    assert_eq!(refused(&forged), invalid, "{forged}");
    let exp = expiry(&url);
    let later = url.replace(&format!("exp={exp}"), &format!("exp={}", exp + 3600));
    assert_eq!(refused(&later), invalid, "{later}");
    // Expired: once its second has passed, the same URL is refused.
    while common::now_secs() <= exp {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let expired = (403, "the signed URL has expired".to_owned());
    assert_eq!(refused(&url), expired, "{url}");
    let (ok, _, err) = reelay(
        &[
            "sign",
            "/media/media/clip.mp4",
            "--expires",
            "30d",
            "--server",
            &server,
            "--token",
            &admin,
        ],
        dir.path(),
    );
    assert!(!ok, "longer than 7 days is refused");
    assert!(err.contains("400"), "{err}");
}
