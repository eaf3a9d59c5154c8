//! The Lyve Cloud video middleware's client calls, as its code makes them (FastAPI routes:
//! `GET /list_buckets`, `GET /list_objects?bucket=`, `POST /create_bucket?bucket_name=`,
//! `POST /files_upload` with form fields `file`, `file_name`, `bucket`, `GET /watch?v=&bucket=`),
//! answered with the seed's shapes; bad forms get precise JSON errors; a 100 MB form upload
//! streams with bounded memory; the native API takes a form too.

use crate::common;

use axum::body::Body;
use common::app::{TestApp, request};
use common::s3::S3Server;
use common::write_fixed;
use http::Method;

const BOUNDARY: &str = "----lyve-test-7d1f";

/// One form field: (name, file name for a file field, value).
type Field<'a> = (&'a str, Option<&'a str>, &'a [u8]);

fn form(fields: &[Field<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file, value) in fields {
        let file = file
            .map(|f| format!("; filename=\"{f}\""))
            .unwrap_or_default();
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"{file}\r\n")
                .as_bytes(),
        );
        if file.is_empty() {
            body.extend_from_slice(b"\r\n");
        } else {
            body.extend_from_slice(b"Content-Type: video/mp4\r\n\r\n");
        }
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn post_form(app: &TestApp, path: &str, body: Vec<u8>) -> common::app::Answer {
    let req = request(Method::POST, path)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(body))
        .expect("request");
    app.send(req).await
}

#[tokio::test]
async fn the_seeds_client_calls_get_the_seeds_answers() {
    let app = TestApp::start(|dir| write_fixed(&dir.join("m/a.mp4"), b"media")).await;
    let created = app
        .call(Method::POST, "/create_bucket?bucket_name=videos")
        .await;
    assert_eq!(created.status, 200);
    assert_eq!(created.json(), serde_json::json!("Success"));
    let buckets = app.call(Method::GET, "/list_buckets").await.json();
    let names: Vec<&str> = buckets
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|b| b["Name"].as_str())
        .collect();
    assert!(
        names.contains(&"videos") && names.contains(&"m"),
        "{buckets}"
    );
    // The seed's README order (file, then names) spools; names first stream straight in.
    let clip: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let file_first = form(&[
        ("file", Some("local.mp4"), &clip),
        ("file_name", None, b"clip.mp4"),
        ("bucket", None, b"videos"),
    ]);
    let uploaded = post_form(&app, "/files_upload", file_first).await;
    assert_eq!(uploaded.status, 200, "{:?}", uploaded.body);
    assert_eq!(uploaded.json(), serde_json::json!("Success"));
    let names_first = form(&[
        ("bucket", None, b"videos"),
        ("file_name", None, b"show/ep1.mp4"),
        ("file", Some("ep1.mp4"), b"episode one"),
    ]);
    assert_eq!(
        post_form(&app, "/files_upload", names_first).await.status,
        200
    );
    let listed = app.call(Method::GET, "/list_objects?bucket=videos").await;
    assert_eq!(listed.status, 200);
    let listed = listed.json();
    let keys: Vec<(&str, u64)> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|o| {
            (
                o["Key"].as_str().unwrap_or(""),
                o["Size"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(keys, [("clip.mp4", 300_000), ("show/ep1.mp4", 11)]);
    let watched = app
        .send(
            request(Method::GET, "/watch?v=clip.mp4&bucket=videos")
                .header("range", "bytes=1000-1999")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(watched.status, 206);
    assert_eq!(watched.body.as_ref(), &clip[1000..2000]);
    assert!(
        !app.path("reelay-data/.uploads").exists()
            || std::fs::read_dir(app.path("reelay-data/.uploads"))
                .expect("dir")
                .next()
                .is_none(),
        "no spool file is left behind"
    );
}

#[tokio::test]
async fn bad_forms_get_precise_json_errors_and_store_nothing() {
    let app = TestApp::start(|dir| write_fixed(&dir.join("m/a.mp4"), b"media")).await;
    let cases: [(&str, Vec<u8>, u16, &str); 5] = [
        (
            "unknown bucket",
            form(&[
                ("bucket", None, b"nope"),
                ("file_name", None, b"x.mp4"),
                ("file", Some("x"), b"x"),
            ]),
            404,
            "not_found",
        ),
        (
            "no file",
            form(&[("bucket", None, b"m"), ("file_name", None, b"x.mp4")]),
            400,
            "bad_request",
        ),
        (
            "traversal",
            form(&[
                ("bucket", None, b"m"),
                ("file_name", None, b"../x.mp4"),
                ("file", Some("x"), b"x"),
            ]),
            400,
            "bad_key",
        ),
        (
            "no bucket",
            form(&[("file_name", None, b"x.mp4"), ("file", Some("x"), b"x")]),
            400,
            "bad_request",
        ),
        (
            "cut short",
            form(&[
                ("bucket", None, b"m"),
                ("file_name", None, b"cut.mp4"),
                ("file", Some("x"), b"x"),
            ])[..120]
                .to_vec(),
            400,
            "bad_body",
        ),
    ];
    for (what, body, status, code) in cases {
        let answer = post_form(&app, "/files_upload", body).await;
        assert_eq!(answer.status, status, "{what}: {:?}", answer.body);
        assert_eq!(answer.json()["error"]["code"], code, "{what}");
    }
    let plain = app
        .send(
            request(Method::POST, "/files_upload")
                .header("content-type", "application/octet-stream")
                .body(Body::from("x"))
                .expect("request"),
        )
        .await;
    assert_eq!(plain.status, 415);
    assert_eq!(plain.json()["error"]["code"], "unsupported_media_type");
    assert!(!app.path("m/x.mp4").exists() && !app.path("m/cut.mp4").exists());
    let again = app.call(Method::POST, "/create_bucket?bucket_name=m").await;
    assert_eq!(again.status, 409);
    let bad = app
        .call(Method::POST, "/create_bucket?bucket_name=..")
        .await;
    assert_eq!(bad.status, 400);
    let missing = app.call(Method::GET, "/list_objects").await;
    assert_eq!(missing.status, 400);
}

#[tokio::test]
async fn a_form_posted_from_another_sites_page_is_refused_on_an_open_loopback_node() {
    let app = TestApp::start(|dir| write_fixed(&dir.join("m/a.mp4"), b"media")).await;
    let post = |origin: &'static str, path: &'static str, body: Vec<u8>| {
        let req = request(Method::POST, path)
            .header("host", "127.0.0.1:8080")
            .header("origin", origin)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(Body::from(body))
            .expect("request");
        app.send(req)
    };
    let fields = |key: &'static [u8]| {
        form(&[
            ("bucket", None, b"m"),
            ("file_name", None, key),
            ("file", Some("x"), b"x"),
        ])
    };
    let evil = post("https://evil.example", "/files_upload", fields(b"csrf.mp4")).await;
    assert_eq!(evil.status, 403);
    assert_eq!(evil.json()["error"]["code"], "forbidden");
    let opaque = post("null", "/api/v1/buckets/m/objects", fields(b"csrf.mp4")).await;
    assert_eq!(opaque.status, 403);
    let bucket = post(
        "https://evil.example",
        "/create_bucket?bucket_name=csrf",
        Vec::new(),
    )
    .await;
    assert_eq!(bucket.status, 403);
    assert!(!app.path("m/csrf.mp4").exists() && app.state.buckets.get("csrf").is_none());
    let own = post("http://127.0.0.1:8080", "/files_upload", fields(b"own.mp4")).await;
    assert_eq!(own.status, 200, "the node's own pages may post forms");
}

#[tokio::test]
async fn the_native_api_takes_a_form_named_after_its_file_or_its_key_field() {
    let app = TestApp::start(|dir| write_fixed(&dir.join("m/a.mp4"), b"media")).await;
    let named = post_form(
        &app,
        "/api/v1/buckets/m/objects",
        form(&[("file", Some("from-form.mp4"), b"form bytes")]),
    )
    .await;
    assert_eq!(named.status, 201, "{:?}", named.body);
    assert_eq!(named.json()["key"], "from-form.mp4");
    assert_eq!(named.json()["size"], 10);
    let keyed = post_form(
        &app,
        "/api/v1/buckets/m/objects",
        form(&[
            ("file", Some("ignored.mp4"), b"keyed"),
            ("key", None, b"dir/k.mp4"),
        ]),
    )
    .await;
    assert_eq!(keyed.status, 201, "{:?}", keyed.body);
    assert_eq!(
        std::fs::read(app.path("m/dir/k.mp4")).expect("stored"),
        b"keyed"
    );
    let unknown = post_form(
        &app,
        "/api/v1/buckets/nope/objects",
        form(&[("file", Some("x.mp4"), b"x")]),
    )
    .await;
    assert_eq!(unknown.status, 404);
}

/// A form of `len` generated bytes for `file`, as a stream: the client holds one chunk.
fn streamed_form(head: Vec<u8>, len: usize, tail: Vec<u8>) -> reqwest::Body {
    const CHUNK: usize = 256 << 10;
    let chunks = (0..len / CHUNK).map(|i| vec![(i % 251) as u8; CHUNK]);
    let parts = std::iter::once(head)
        .chain(chunks)
        .chain(std::iter::once(tail));
    reqwest::Body::wrap_stream(futures_util::stream::iter(
        parts.map(Ok::<_, std::io::Error>),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_form_upload_to_s3_streams_with_bounded_memory_in_either_field_order() {
    let s3 = S3Server::start(&["media"]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = s3.node_config();
    std::fs::write(tmp.path().join("r.toml"), config).expect("config");
    let proc = common::start_binary(&["serve", "--config", "r.toml"], tmp.path(), &[]);
    const LEN: usize = 100 << 20;
    let file_head = |name: &str| {
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: video/mp4\r\n\r\n"
        )
        .into_bytes()
    };
    let text = |name: &str, value: &str| {
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
    };
    let end = format!("--{BOUNDARY}--\r\n");
    // Names first: straight to the store. File first: through the spool.
    let direct = [text("bucket", "s3"), text("file_name", "direct.mp4")].concat();
    let mut direct = direct.into_bytes();
    direct.extend(file_head("a.mp4"));
    let spooled_tail = [
        "\r\n".to_owned(),
        text("file_name", "spooled.mp4"),
        text("bucket", "s3"),
        end.clone(),
    ];
    let bodies = [
        (direct, format!("\r\n{end}").into_bytes(), "direct.mp4"),
        (
            file_head("b.mp4"),
            spooled_tail.concat().into_bytes(),
            "spooled.mp4",
        ),
    ];
    let client = reqwest::Client::new();
    for (head, tail, key) in bodies {
        let resp = client
            .post(proc.url("/files_upload"))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(streamed_form(head, LEN, tail))
            .send()
            .await
            .expect("post");
        assert_eq!(
            resp.status(),
            200,
            "{}",
            resp.text().await.unwrap_or_default()
        );
        let stored = std::fs::metadata(s3.object_path("media", key)).expect("stored");
        assert_eq!(stored.len(), LEN as u64, "{key}");
    }
    let peak = common::peak_rss_bytes(proc.child.id());
    assert!(
        peak < 64 << 20,
        "reelay peaked at {} MiB for two 100 MB form uploads",
        peak >> 20
    );
    let spool = tmp.path().join("data/.uploads");
    let left = std::fs::read_dir(&spool).map_or(0, |d| d.count());
    assert_eq!(left, 0, "no spool file is left behind");
}
