//! The authorization matrix: every route × {no credential, read, write, admin token, valid,
//! tampered and expired signature} gives the right status, in process through the router
//! (`oneshot`). The other authorization properties are in `auth.rs`.

use crate::common;

use axum::body::Body;
use common::app::{TestApp, request};
use common::write_fixed;
use http::Method;
use reelay::auth::Role;
use reelay::auth::sign::{SigningKeys, signed_query};

const KEY: &[u8] = b"test-signing-key-0123456789abcdef";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cred {
    None,
    Read,
    Write,
    Admin,
    Signed,
    Tampered,
    Expired,
}

const CREDS: [Cred; 7] = [
    Cred::None,
    Cred::Read,
    Cred::Write,
    Cred::Admin,
    Cred::Signed,
    Cred::Tampered,
    Cred::Expired,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Public,
    Read,
    Write,
    Admin,
}

/// The status class the matrix expects: 2xx (`Ok`), 401 or 403.
#[derive(Debug, PartialEq, Eq)]
enum Want {
    Ok,
    Unauthorized,
    Forbidden,
}

fn want(need: Need, media: bool, cred: Cred) -> Want {
    match (need, cred) {
        (Need::Public, _) => Want::Ok,
        (_, Cred::None) => Want::Unauthorized,
        (_, Cred::Tampered | Cred::Expired) => Want::Forbidden,
        (Need::Read, Cred::Signed) if media => Want::Ok,
        (_, Cred::Signed) => Want::Forbidden,
        (Need::Read, _) => Want::Ok,
        (Need::Write, Cred::Read) => Want::Forbidden,
        (Need::Write, _) => Want::Ok,
        (Need::Admin, Cred::Admin) => Want::Ok,
        (Need::Admin, _) => Want::Forbidden,
    }
}

struct Call {
    method: Method,
    path: String,
    body: Option<&'static str>,
    need: Need,
    media: bool,
}

/// Every route, with paths unique per credential where the call changes state.
fn calls(tag: &str) -> Vec<Call> {
    let c = |method: Method, path: String, body, need| Call {
        method,
        path,
        body,
        need,
        media: false,
    };
    vec![
        c(Method::GET, "/healthz".into(), None, Need::Public),
        c(Method::GET, "/readyz".into(), None, Need::Public),
        c(Method::GET, "/metrics".into(), None, Need::Public),
        c(Method::GET, "/".into(), None, Need::Public),
        c(Method::GET, "/ui/app.js".into(), None, Need::Public),
        c(Method::GET, "/openapi.json".into(), None, Need::Public),
        Call {
            media: true,
            ..c(Method::GET, "/media/m/a.mp4".into(), None, Need::Read)
        },
        Call {
            media: true,
            ..c(Method::HEAD, "/media/m/a.mp4".into(), None, Need::Read)
        },
        c(
            Method::GET,
            "/watch?v=a.mp4&bucket=m".into(),
            None,
            Need::Read,
        ),
        c(Method::GET, "/api/v1/buckets".into(), None, Need::Read),
        c(
            Method::GET,
            "/api/v1/buckets/m/objects".into(),
            None,
            Need::Read,
        ),
        c(
            Method::GET,
            "/api/v1/buckets/m/objects/a.mp4".into(),
            None,
            Need::Read,
        ),
        c(
            Method::POST,
            "/api/v1/sign".into(),
            Some(r#"{"path":"/media/m/a.mp4"}"#),
            Need::Read,
        ),
        c(
            Method::PUT,
            format!("/api/v1/buckets/m/objects/new-{tag}.mp4"),
            Some("x"),
            Need::Write,
        ),
        c(
            Method::DELETE,
            format!("/api/v1/buckets/m/objects/del-{tag}.mp4"),
            None,
            Need::Write,
        ),
        c(
            Method::POST,
            "/api/v1/buckets".into(),
            Some(leak(format!(r#"{{"name":"new-{tag}"}}"#))),
            Need::Admin,
        ),
        c(
            Method::DELETE,
            format!("/api/v1/buckets/gone-{tag}"),
            None,
            Need::Admin,
        ),
        c(Method::GET, "/list_buckets".into(), None, Need::Read),
        c(
            Method::GET,
            "/list_objects?bucket=m".into(),
            None,
            Need::Read,
        ),
        c(
            Method::POST,
            format!("/create_bucket?bucket_name=lyve-{tag}"),
            None,
            Need::Admin,
        ),
        c(
            Method::POST,
            "/files_upload".into(),
            Some(leak(form(&[
                ("bucket", None, "m"),
                ("file_name", None, &format!("lyve-{tag}.mp4")),
                ("file", Some("x.mp4"), "bytes"),
            ]))),
            Need::Write,
        ),
        c(
            Method::POST,
            "/api/v1/buckets/m/objects".into(),
            Some(leak(form(&[(
                "file",
                Some(&format!("form-{tag}.mp4")),
                "bytes",
            )]))),
            Need::Write,
        ),
        Call {
            media: true,
            ..c(
                Method::GET,
                "/v1/vod/live/cam/vid.m3u8".into(),
                None,
                Need::Read,
            )
        },
        Call {
            media: true,
            ..c(
                Method::GET,
                format!("{NO_VOD_RECORDING}/vid.m3u8"),
                None,
                Need::Read,
            )
        },
        c(Method::GET, "/v1/source".into(), None, Need::Read),
        c(
            Method::POST,
            "/v1/source".into(),
            Some(leak(format!(r#"{{"name":"lm-{tag}","segment_len":2}}"#))),
            Need::Admin,
        ),
        c(Method::GET, "/v1/source/cam".into(), None, Need::Read),
        c(
            Method::DELETE,
            format!("/v1/source/lmdel-{tag}"),
            None,
            Need::Admin,
        ),
        c(
            Method::PUT,
            "/v1/source/cam/streaming?new_state=true".into(),
            None,
            Need::Write,
        ),
        c(
            Method::POST,
            "/v1/source/cam/recording".into(),
            None,
            Need::Write,
        ),
        c(
            Method::GET,
            "/v1/source/cam/recording".into(),
            None,
            Need::Read,
        ),
        c(Method::GET, "/v1/recording".into(), None, Need::Read),
        c(Method::GET, NO_RECORDING.into(), None, Need::Read),
        c(
            Method::POST,
            format!("{NO_RECORDING}/stop"),
            None,
            Need::Write,
        ),
        c(Method::DELETE, NO_RECORDING.into(), None, Need::Write),
        c(Method::GET, "/api/v1/tokens".into(), None, Need::Admin),
        c(
            Method::POST,
            "/api/v1/tokens".into(),
            Some(r#"{"name":"t","role":"read"}"#),
            Need::Admin,
        ),
        c(
            Method::DELETE,
            format!("/api/v1/tokens/{}", "0".repeat(12)),
            None,
            Need::Admin,
        ),
    ]
}

/// A `multipart/form-data` body with the matrix's boundary: (name, file name, value) fields.
fn form(fields: &[(&str, Option<&str>, &str)]) -> String {
    let mut body = String::new();
    for (name, file, value) in fields {
        let file = file
            .map(|f| format!("; filename=\"{f}\""))
            .unwrap_or_default();
        body.push_str(&format!(
            "--{FORM_BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n{value}\r\n"
        ));
    }
    body + &format!("--{FORM_BOUNDARY}--\r\n")
}

const FORM_BOUNDARY: &str = "matrix-form";

/// A recording id that does not exist: a 404 for it means authorization passed.
const NO_RECORDING: &str = "/v1/recording/rec_none";
const NO_VOD_RECORDING: &str = "/v1/vod/recording/rec_none";

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// `call` as a request carrying `cred`.
fn with_cred(call: &Call, cred: Cred, tokens: &[String; 3]) -> http::Request<Body> {
    let now = common::now_secs();
    let path_only = call.path.split('?').next().unwrap_or(&call.path);
    let keys = SigningKeys::new(KEY.to_vec(), None);
    // Signed by the read token (`rly_<id>_<secret>`), which stays active.
    let by = &tokens[0][4..16];
    let signed = |exp: u64, tamper: bool| {
        let mut query = signed_query(&keys, path_only, exp, by, false);
        if tamper {
            let at = query.find("sig=").expect("sig") + 4;
            let flipped = if query[at..].starts_with('0') {
                "1"
            } else {
                "0"
            };
            query.replace_range(at..=at, flipped);
        }
        let joiner = if call.path.contains('?') { '&' } else { '?' };
        format!("{}{joiner}{query}", call.path)
    };
    let (uri, token) = match cred {
        Cred::None => (call.path.clone(), None),
        Cred::Read => (call.path.clone(), Some(&tokens[0])),
        Cred::Write => (call.path.clone(), Some(&tokens[1])),
        Cred::Admin => (call.path.clone(), Some(&tokens[2])),
        Cred::Signed => (signed(now + 600, false), None),
        Cred::Tampered => (signed(now + 600, true), None),
        Cred::Expired => (signed(now - 10, false), None),
    };
    let mut req = request(call.method.clone(), &uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let body = match call.body {
        Some(body) if body.starts_with(&format!("--{FORM_BOUNDARY}")) => {
            let content_type = format!("multipart/form-data; boundary={FORM_BOUNDARY}");
            req = req.header("content-type", content_type);
            Body::from(body)
        }
        Some(body) => {
            req = req.header("content-type", "application/json");
            Body::from(body)
        }
        None => Body::empty(),
    };
    req.body(body).expect("request")
}

#[tokio::test]
async fn every_route_and_credential_gives_the_right_status() {
    let server = TestApp::start(|dir| {
        write_fixed(&dir.join("m/a.mp4"), b"media");
        for cred in CREDS {
            write_fixed(&dir.join(format!("m/del-{cred:?}.mp4")), b"to delete");
            std::fs::create_dir_all(dir.join(format!("gone-{cred:?}"))).expect("mkdir");
        }
    })
    .await;
    // Buckets that already exist at start are the operator's; re-register the ones to delete
    // as data-dir buckets so the API may remove them.
    for cred in CREDS {
        let name = format!("gone-{cred:?}");
        server.state.buckets.remove(&name);
        let root = server.path(&name);
        server
            .state
            .buckets
            .add_fs_from(&name, &root, reelay::storage::Origin::DataDir)
            .expect("bucket");
    }
    let live = server.state.live().expect("live");
    let (_, ingest) = live.sources().create("cam", "", 2).await.expect("source");
    let playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\na0.ts\n";
    for (file, body) in [("a0.ts", "segment"), ("index.m3u8", playlist)] {
        let push = request(Method::PUT, &format!("/ingest/cam/{file}"))
            .header("authorization", format!("Bearer {ingest}"))
            .body(Body::from(body))
            .expect("request");
        assert!(server.send(push).await.status < 300, "{file} pushed");
    }
    for cred in CREDS {
        let name = format!("lmdel-{cred:?}");
        live.sources().create(&name, "", 2).await.expect("source");
    }
    let store = &server.state.auth.tokens;
    let mut tokens = Vec::new();
    for role in [Role::Read, Role::Write, Role::Admin] {
        tokens.push(store.create("matrix", role).await.expect("token").1);
    }
    let tokens: [String; 3] = tokens.try_into().expect("three tokens");
    let mut failures = Vec::new();
    let mut cells = 0;
    for cred in CREDS {
        for call in calls(&format!("{cred:?}")) {
            let resp = server.send(with_cred(&call, cred, &tokens)).await;
            let status = resp.status;
            let got = match status {
                200..=299 => Want::Ok,
                401 => Want::Unauthorized,
                403 => Want::Forbidden,
                // A 404 for revoking a token that does not exist means authorization passed.
                404 if call.path.starts_with("/api/v1/tokens/")
                    || call.path.starts_with(NO_RECORDING)
                    || call.path.starts_with(NO_VOD_RECORDING) =>
                {
                    Want::Ok
                }
                _ => {
                    failures.push(format!(
                        "{cred:?} {} {}: unexpected {status}",
                        call.method, call.path
                    ));
                    continue;
                }
            };
            let expected = want(call.need, call.media, cred);
            if got != expected {
                failures.push(format!(
                    "{cred:?} {} {}: got {status}, want {expected:?}",
                    call.method, call.path
                ));
            }
            if status == 401 {
                assert_eq!(resp.header("www-authenticate"), Some("Bearer"));
            }
            cells += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
