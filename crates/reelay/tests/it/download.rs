//! `?download[=NAME]` on media routes: `Content-Disposition: attachment` with an RFC 8187
//! `filename*` (UTF-8 names work), on plain and signed URLs and with ranges, never a way to
//! inject a header.

use crate::common;

use common::app::TestApp;
use common::write_fixed;
use http::Method;
use reelay::auth::sign::{OPEN_SIGNER, signed_query};

async fn app() -> TestApp {
    TestApp::start(|dir| {
        write_fixed(&dir.join("m/show/Ep 1.mp4"), b"episode one");
        write_fixed(&dir.join("m/café.mp4"), b"coffee");
    })
    .await
}

#[tokio::test]
async fn download_alone_names_the_attachment_after_the_keys_last_segment() {
    let app = app().await;
    let whole = app
        .call(Method::GET, "/media/m/show/Ep%201.mp4?download")
        .await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body.as_ref(), b"episode one");
    assert_eq!(
        whole.header("content-disposition"),
        Some("attachment; filename=\"Ep 1.mp4\"; filename*=UTF-8''Ep%201.mp4")
    );
    let plain = app.call(Method::GET, "/media/m/show/Ep%201.mp4").await;
    assert_eq!(plain.header("content-disposition"), None, "only when asked");
    assert_eq!(
        plain.header("cache-control"),
        Some("no-cache"),
        "the default"
    );
    let watched = app
        .call(Method::GET, "/watch?v=show/Ep%201.mp4&bucket=m&download=")
        .await;
    assert_eq!(watched.status, 200);
    assert!(watched.header("content-disposition").is_some());
}

#[tokio::test]
async fn a_utf8_name_works_on_a_signed_url_and_with_a_range() {
    let app = app().await;
    let path = "/media/m/café.mp4";
    let exp = 4_000_000_000u64;
    let query = signed_query(&app.state.auth.signing, path, exp, OPEN_SIGNER, false);
    let name = "%C3%9Cn%C3%AFc%C3%B8d%C3%A9%20film.mp4"; // "Ünïcødé film.mp4"
    let url = format!("/media/m/caf%C3%A9.mp4?{query}&download={name}");
    let request = common::app::request(Method::GET, &url)
        .header("range", "bytes=0-2")
        .body(axum::body::Body::empty())
        .expect("request");
    let answer = app.send(request).await;
    assert_eq!(answer.status, 206);
    assert_eq!(answer.body.as_ref(), b"cof");
    assert_eq!(
        answer.header("content-disposition"),
        Some(
            "attachment; filename=\"_n_c_d_ film.mp4\"; \
             filename*=UTF-8''%C3%9Cn%C3%AFc%C3%B8d%C3%A9%20film.mp4"
        )
    );
    let own = app
        .call(
            Method::GET,
            &format!("/media/m/caf%C3%A9.mp4?{query}&download"),
        )
        .await;
    assert_eq!(
        own.header("content-disposition"),
        Some("attachment; filename=\"caf_.mp4\"; filename*=UTF-8''caf%C3%A9.mp4")
    );
}

#[tokio::test]
async fn a_name_cannot_inject_a_header_and_an_overlong_one_is_refused() {
    let app = app().await;
    let evil = "/media/m/show/Ep%201.mp4?download=x%22%3B%20filename%3Devil.exe%0D%0ASet-Cookie%3A%20a%3D1";
    let answer = app.call(Method::GET, evil).await;
    assert_eq!(answer.status, 200);
    assert!(answer.headers.get("set-cookie").is_none());
    let value = answer.header("content-disposition").expect("disposition");
    assert!(value.bytes().all(|b| (b' '..=b'~').contains(&b)), "{value}");
    assert_eq!(value.matches('"').count(), 2, "{value}");
    let long = format!("/media/m/show/Ep%201.mp4?download={}", "a".repeat(256));
    let refused = app.call(Method::GET, &long).await;
    assert_eq!(refused.status, 400);
    assert!(String::from_utf8_lossy(&refused.body).contains("longer than 255 bytes"));
}
