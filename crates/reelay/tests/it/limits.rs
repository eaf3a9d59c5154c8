//! Every network wait has a limit: silent and slow request heads, oversized heads, and clients
//! that stop reading are all cut off; ordinary keep-alive still works.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{TestServer, pattern, write_fixed};
use reelay::http::ServerOptions;

/// Short timeouts; the copy path, whose frames the stalled-reader test watches in the read
/// budget (`sendfile.rs` has the same test for sendfile bodies, which hold no frames).
fn options() -> ServerOptions {
    ServerOptions {
        header_timeout: Duration::from_millis(500),
        write_timeout: Duration::from_millis(500),
        sendfile: false,
        ..ServerOptions::default()
    }
}

async fn server() -> TestServer {
    TestServer::start_with_options(
        |dir| {
            write_fixed(&dir.join("m/small.mp4"), b"small");
            write_fixed(&dir.join("m/big.mp4"), &pattern(48 << 20));
        },
        options(),
    )
    .await
}

/// Reads until EOF or error; returns bytes read and how long the server took to close.
fn read_until_closed(mut s: TcpStream) -> (Vec<u8>, Duration) {
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => panic!("server never closed"),
            Err(_) => break,
        }
    }
    (out, start.elapsed())
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_header_timeout() {
    let server = server().await;
    let addr = server.addr;
    let (bytes, waited) = tokio::task::spawn_blocking(move || {
        read_until_closed(TcpStream::connect(addr).expect("connect"))
    })
    .await
    .expect("join");
    assert!(
        waited >= Duration::from_millis(400),
        "closed after {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
    assert!(
        bytes.is_empty() || bytes.starts_with(b"HTTP/1.1 408"),
        "{bytes:?}"
    );
}

#[tokio::test]
async fn a_request_head_sent_too_slowly_is_cut_off() {
    let server = server().await;
    let addr = server.addr;
    let waited = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            .expect("write");
        read_until_closed(s).1
    })
    .await
    .expect("join");
    assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
}

#[tokio::test]
async fn an_oversized_request_head_gets_431() {
    let server = server().await;
    let addr = server.addr;
    let response = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        let filler = "a".repeat(100 * 1024);
        let _ = write!(
            s,
            "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Filler: {filler}\r\n\r\n"
        );
        read_until_closed(s).0
    })
    .await
    .expect("join");
    assert!(
        response.starts_with(b"HTTP/1.1 431"),
        "{:?}",
        String::from_utf8_lossy(&response)
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_and_its_buffers_freed() {
    let server = server().await;
    let full = server.state.buckets.reads().budget().available_bytes();
    let mut s = TcpStream::connect(server.addr).expect("connect");
    s.write_all(b"GET /media/m/big.mp4 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write");
    // Never read: socket buffers fill, the server's writes stall, the write timeout fires.
    // No event marks either step from outside, so poll each effect with a deadline.
    let budget = server.state.buckets.reads().budget();
    common::wait_until(
        "the server takes frames for the body",
        Duration::from_secs(10),
        || budget.available_bytes() < full,
    )
    .await;
    common::wait_until(
        "the stalled connection frees its frames",
        Duration::from_secs(10),
        || budget.available_bytes() == full,
    )
    .await;
    let (bytes, _) = tokio::task::spawn_blocking(move || read_until_closed(s))
        .await
        .expect("join");
    assert!(
        bytes.len() < 48 << 20,
        "the body was cut short ({} bytes)",
        bytes.len()
    );
}

#[tokio::test]
async fn keep_alive_connections_serve_several_requests() {
    let server = server().await;
    let client = reqwest::Client::new();
    for _ in 0..5 {
        let body = client
            .get(server.url("/media/m/small.mp4"))
            .send()
            .await
            .expect("get")
            .bytes()
            .await
            .expect("body");
        assert_eq!(body.as_ref(), b"small");
    }
    // Five answers, one connection: the node accepted only the first.
    assert_eq!(server.state.metrics.connections.accepted.get(), 1);
}

/// A kept-alive connection that has had one answer (so the server counts it open).
fn answered_connection(addr: std::net::SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write");
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).expect("read");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    s
}

#[tokio::test]
async fn connections_over_max_connections_get_503_with_retry_after_and_are_counted() {
    // The default header timeout (10 s), so the idle kept-alive connections stay open.
    let options = ServerOptions {
        max_connections: 2,
        ..ServerOptions::default()
    };
    let server = TestServer::start_with_options(|_| {}, options).await;
    let addr = server.addr;
    let meters = server.state.metrics.connections.clone();
    let (first, second, refused) = tokio::task::spawn_blocking(move || {
        let first = answered_connection(addr);
        let second = answered_connection(addr);
        let mut third = TcpStream::connect(addr).expect("connect");
        third
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut answer = Vec::new();
        third
            .read_to_end(&mut answer)
            .expect("the refusal, then the end");
        (first, second, String::from_utf8_lossy(&answer).into_owned())
    })
    .await
    .expect("join");
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("Retry-After: 1\r\n"), "{refused}");
    let body = refused.split("\r\n\r\n").nth(1).expect("body");
    let json: serde_json::Value = serde_json::from_str(body).expect("a JSON body of its length");
    assert_eq!(json["error"]["code"], "busy");
    assert_eq!(meters.refused.get(), 1);
    assert_eq!(meters.open.get(), 2);
    drop((first, second));
    common::wait_until(
        "the closed connections to be let go",
        Duration::from_secs(10),
        || meters.open.get() == 0,
    )
    .await;
    let after = tokio::task::spawn_blocking(move || drop(answered_connection(addr)));
    after
        .await
        .expect("a connection is served again once under the cap");
}
