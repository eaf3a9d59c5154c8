//! Raw HTTP/1.1 for tests: requests sent exactly as written (no client normalises the path or
//! adds headers), responses read off the socket, chunked and `multipart/byteranges` bodies
//! parsed strictly. Blocking: call from `spawn_blocking` or a plain test.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `GET {target}` exactly as written (no normalisation) and reads the whole response.
/// Blocking; call from `spawn_blocking` or a plain test.
pub fn raw_get(addr: SocketAddr, target: &str) -> RawResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    parse_raw_response(&raw)
}

fn parse_raw_response(raw: &[u8]) -> RawResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// One part of a `multipart/byteranges` body.
#[derive(Debug, PartialEq, Eq)]
pub struct Part {
    pub content_type: String,
    pub content_range: String,
    pub body: Vec<u8>,
}

/// Parses a `multipart/byteranges` body strictly: delimiters, part headers, CRLFs, close.
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Vec<Part> {
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .expect("multipart content type");
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body
        .strip_prefix(delimiter.as_bytes())
        .expect("body starts with the delimiter");
    loop {
        if rest == b"--\r\n" {
            return parts;
        }
        rest = rest.strip_prefix(b"\r\n").expect("CRLF after delimiter");
        let head_end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("part head");
        let head = String::from_utf8(rest[..head_end].to_vec()).expect("utf8 head");
        let mut content_type = String::new();
        let mut content_range = String::new();
        for line in head.split("\r\n") {
            let (k, v) = line.split_once(": ").expect("header line");
            match k {
                "Content-Type" => content_type = v.to_owned(),
                "Content-Range" => content_range = v.to_owned(),
                other => panic!("unexpected part header {other}"),
            }
        }
        let data = &rest[head_end + 4..];
        let next = format!("\r\n{delimiter}");
        let end = data
            .windows(next.len())
            .position(|w| w == next.as_bytes())
            .expect("next delimiter");
        parts.push(Part {
            content_type,
            content_range,
            body: data[..end].to_vec(),
        });
        rest = &data[end + next.len()..];
    }
}

/// A blocking HTTP/1.1 request, sent exactly as written, with an empty body and an optional
/// bearer token; returns the status and the body (de-chunked). For process tests.
pub fn http_request(method: &str, url: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").expect("http");
    let (host, path) = rest.split_at(rest.find('/').expect("path"));
    let mut s = TcpStream::connect(host).expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n",
        method.to_uppercase()
    )
    .expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let response = parse_raw_response(&raw);
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(&response.body)
    } else {
        response.body
    };
    (response.status, body)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size");
        let size = std::str::from_utf8(&body[..end])
            .ok()
            .and_then(|h| usize::from_str_radix(h.trim(), 16).ok())
            .expect("chunk size");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 4 + size..];
    }
}
