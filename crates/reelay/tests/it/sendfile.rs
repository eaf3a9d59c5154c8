//! Local-file bodies sent with `sendfile` over real sockets: the same bytes as the copy path for
//! whole bodies, single ranges and multipart ranges, several responses on one connection, and
//! the guarantees of the copy path kept — a file truncated mid-body aborts the response, a
//! client that stops reading is disconnected after the write timeout.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{TestServer, pattern, write_fixed};
use reelay::http::ServerOptions;

const SIZE: usize = 3 * 1024 * 1024 + 123;

async fn server(sendfile: bool) -> TestServer {
    let options = ServerOptions {
        sendfile,
        write_timeout: Duration::from_millis(500),
        ..ServerOptions::default()
    };
    TestServer::start_with_options(
        |dir| {
            write_fixed(&dir.join("m/clip.mp4"), &pattern(SIZE));
            write_fixed(&dir.join("m/big.mp4"), &pattern(48 << 20));
        },
        options,
    )
    .await
}

/// Requests one client makes on its kept-alive connection, as (Range header, expected status).
fn requests() -> Vec<(Option<&'static str>, u16)> {
    vec![
        (None, 200),
        (Some("bytes=0-0"), 206),
        (Some("bytes=100-300000"), 206),
        (Some("bytes=262144-1310719"), 206),
        (Some("bytes=-20000"), 206),
        (Some("bytes=3000000-"), 206),
        (Some("bytes=0-99999,200000-500000"), 206),
        (None, 200),
    ]
}

/// Every response's status and body, in order, on one connection.
async fn fetch_all(server: &TestServer) -> Vec<(u16, Vec<u8>)> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .expect("client");
    let mut out = Vec::new();
    for (range, _) in requests() {
        let mut request = client.get(server.url("/media/m/clip.mp4"));
        if let Some(range) = range {
            request = request.header("range", range);
        }
        let response = request.send().await.expect("get");
        let status = response.status().as_u16();
        out.push((status, response.bytes().await.expect("body").to_vec()));
    }
    out
}

#[tokio::test]
async fn sendfile_bodies_are_byte_exact_for_whole_bodies_ranges_and_multipart_on_one_connection() {
    let (zero_copy, copy) = (server(true).await, server(false).await);
    let with = fetch_all(&zero_copy).await;
    let without = fetch_all(&copy).await;
    // This test's nodes' own counters (other tests' servers in this process count apart).
    let (meters, copy_meters) = (
        &zero_copy.state.metrics.connections,
        &copy.state.metrics.connections,
    );
    assert_eq!(meters.accepted.get(), 1, "all on one connection");
    assert_eq!(copy_meters.sendfile_bytes.get(), 0, "the copy path copies");
    let file = pattern(SIZE);
    for (i, (range, status)) in requests().into_iter().enumerate() {
        assert_eq!(with[i].0, status, "{range:?}");
        assert_eq!(without[i].0, status, "{range:?}");
        assert!(
            same_boundaries(&with[i].1) == same_boundaries(&without[i].1),
            "{range:?}: sendfile and copy differ"
        );
    }
    let multipart = &with[6].1;
    assert!(contains(multipart, &file[..100_000]) && contains(multipart, &file[200_000..500_001]));
    assert_eq!(with[0].1, file);
    assert_eq!(with[2].1, &file[100..300_001]);
    assert_eq!(with[3].1, &file[262_144..1_310_720]);
    assert_eq!(with[4].1, &file[SIZE - 20_000..]);
    // The two whole bodies went by sendfile but for a tail shorter than a span worth it
    // (`SENDFILE_MIN`), and nothing went by sendfile that is not file data of these bodies.
    let data: usize = [SIZE, 1, 299_901, 1_048_576, 20_000, SIZE - 3_000_000]
        .iter()
        .chain(&[100_000, 300_001, SIZE])
        .sum();
    let sent = meters.sendfile_bytes.get();
    let whole = 2 * (SIZE - reelay::storage::frames::SENDFILE_MIN);
    assert!(
        (whole as u64..=data as u64).contains(&sent),
        "{sent} bytes went by sendfile: at least {whole} of the whole bodies, at most the {data} \
         bytes of file data"
    );
}

/// `body` with each multipart boundary (`reelay-` and 32 hex digits, random per response)
/// replaced by one fixed text.
fn same_boundaries(body: &[u8]) -> Vec<u8> {
    let (mark, len) = (b"--reelay-", b"--reelay-".len() + 32);
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i..].starts_with(mark) && body.len() >= i + len {
            out.extend_from_slice(b"--reelay-BOUNDARY");
            i += len;
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Reads the response head from `s`; returns its text and the body bytes read with it.
fn read_head(s: &mut TcpStream) -> (String, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let n = s.read(&mut buf).expect("read head");
        assert!(n > 0, "closed before the head");
        got.extend_from_slice(&buf[..n]);
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let body = got.split_off(end + 4);
            return (String::from_utf8_lossy(&got).into_owned(), body);
        }
    }
}

/// Reads until the server closes; the number of bytes read.
fn drain(s: &mut TcpStream) -> usize {
    let mut total = 0;
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return total,
            Ok(n) => total += n,
        }
    }
}

#[tokio::test]
async fn a_file_truncated_while_sent_with_sendfile_ends_the_response_as_an_error() {
    let server = server(true).await;
    let path = server.dir.path().join("m/big.mp4");
    let addr = server.addr;
    let (head, body) = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s.write_all(b"GET /media/m/big.mp4 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .expect("write");
        let (head, mut body) = read_head(&mut s);
        let mut buf = vec![0u8; 1 << 20];
        s.read_exact(&mut buf).expect("the first MiB");
        body.extend_from_slice(&buf);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open")
            .set_len(8 << 20)
            .expect("truncate");
        (head, body.len() + drain(&mut s))
    })
    .await
    .expect("join");
    assert!(head.contains("content-length: 50331648"), "{head}");
    assert!(
        body < 48 << 20,
        "the response ended early ({body} of {} bytes), not as a clean whole body",
        48 << 20
    );
    let sent = server.state.metrics.connections.sendfile_bytes.get();
    assert!(
        sent >= 1 << 20,
        "the first MiB went by sendfile ({sent} bytes did)"
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_a_sendfile_body_is_disconnected() {
    let server = server(true).await;
    let addr = server.addr;
    let meters = server.state.metrics.connections.clone();
    // The head proves the server is answering this connection; then the client stops reading.
    let s = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s.write_all(b"GET /media/m/big.mp4 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .expect("write");
        let (head, _) = read_head(&mut s);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        s
    })
    .await
    .expect("join");
    // The socket buffers fill, sendfile would block, the write timeout fires and the guard
    // ends the connection (counted on this node; the runtime's task count is no signal: other
    // tests' and the database pool's tasks come and go).
    common::wait_until(
        "the stalled connection to be cut",
        Duration::from_secs(10),
        || meters.write_stalls.get() == 1,
    )
    .await;
    assert!(meters.sendfile_bytes.get() > 0, "sent by sendfile");
    let read = tokio::task::spawn_blocking(move || {
        let mut s = s;
        drain(&mut s)
    })
    .await
    .expect("join");
    assert!(read < 48 << 20, "the body was cut short ({read} bytes)");
}
