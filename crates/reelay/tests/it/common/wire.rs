//! HTTP/1.1 requests read off a byte stream as it passes through a proxy: each request's
//! method and target, whatever the connection carries before and after it (kept-alive
//! requests, `Content-Length` and chunked bodies, `Expect: 100-continue`). Bodies are skipped
//! as they pass, never held. What a store was asked, request by request, is what tests of
//! "one probe per round" or "a multipart upload, then an abort" must count.

use std::sync::{Arc, Mutex};

/// Where the reader is in the stream.
#[derive(Debug, Clone, Copy)]
enum Wire {
    Head,
    Body(u64),
    ChunkSize,
    /// A chunk's data and its CRLF.
    ChunkData(u64),
    Trailers,
}

/// Reads requests off one connection's client-to-server bytes; appends `METHOD target` of
/// each to a log shared with the test.
#[derive(Debug)]
pub struct RequestReader {
    buf: Vec<u8>,
    wire: Wire,
    log: Arc<Mutex<Vec<String>>>,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl RequestReader {
    pub fn new(log: Arc<Mutex<Vec<String>>>) -> Self {
        Self {
            buf: Vec::new(),
            wire: Wire::Head,
            log,
        }
    }

    /// Takes the next bytes of the stream.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        while self.step() {}
    }

    /// One step; `false` when it needs more bytes.
    fn step(&mut self) -> bool {
        match self.wire {
            Wire::Head => {
                let Some(end) = find(&self.buf, b"\r\n\r\n") else {
                    return false;
                };
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                self.wire = self.request(&String::from_utf8_lossy(&head));
            }
            Wire::Body(n) | Wire::ChunkData(n) => {
                let take = n.min(self.buf.len() as u64);
                self.buf.drain(..take as usize);
                let left = n - take;
                self.wire = match (self.wire, left) {
                    (Wire::Body(_), 0) => Wire::Head,
                    (Wire::Body(_), _) => Wire::Body(left),
                    (_, 0) => Wire::ChunkSize,
                    _ => Wire::ChunkData(left),
                };
                return left == 0;
            }
            Wire::ChunkSize | Wire::Trailers => {
                let Some(end) = find(&self.buf, b"\r\n") else {
                    return false;
                };
                let line: Vec<u8> = self.buf.drain(..end + 2).collect();
                let line = String::from_utf8_lossy(&line[..end]).into_owned();
                self.wire = match self.wire {
                    Wire::Trailers if line.is_empty() => Wire::Head,
                    Wire::Trailers => Wire::Trailers,
                    _ => {
                        let size = line.split(';').next().unwrap_or("").trim();
                        match u64::from_str_radix(size, 16).expect("a chunk size") {
                            0 => Wire::Trailers,
                            n => Wire::ChunkData(n + 2),
                        }
                    }
                };
            }
        }
        true
    }

    /// Logs the request whose head is `head`; where its body, if any, goes.
    fn request(&self, head: &str) -> Wire {
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or("").split(' ');
        let (method, target) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
        self.log
            .lock()
            .expect("log")
            .push(format!("{method} {target}"));
        let header = |name: &str| {
            head.split("\r\n").skip(1).find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
        };
        if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            return Wire::ChunkSize;
        }
        match header("content-length").map(|v| v.parse::<u64>().expect("a length")) {
            Some(n) if n > 0 => Wire::Body(n),
            _ => Wire::Head,
        }
    }
}

/// The value of query parameter `name` in `target` (`/path?a=1&b=2`), if it has one; `Some("")`
/// for a bare name.
pub fn query_param<'a>(target: &'a str, name: &str) -> Option<&'a str> {
    let query = target.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        (n == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_read_across_kept_alive_bodies_chunked_bodies_and_split_reads() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut reader = RequestReader::new(log.clone());
        let stream = b"PUT /b/k?uploadId=1&partNumber=2 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
                       POST /b/k?uploads HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                       3;ext\r\nabc\r\n0\r\nx-trailer: 1\r\n\r\n\
                       GET /b?list-type=2 HTTP/1.1\r\nHost: s\r\n\r\n";
        for piece in stream.chunks(7) {
            reader.feed(piece);
        }
        let got = log.lock().expect("log").clone();
        assert_eq!(
            got,
            [
                "PUT /b/k?uploadId=1&partNumber=2",
                "POST /b/k?uploads",
                "GET /b?list-type=2"
            ]
        );
        assert_eq!(query_param(&got[0], "partNumber"), Some("2"));
        assert_eq!(query_param(&got[1], "uploads"), Some(""));
        assert_eq!(query_param(&got[2], "uploads"), None);
    }
}
