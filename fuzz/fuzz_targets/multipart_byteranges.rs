//! Fuzzes the `multipart/byteranges` layout: any Range header over any length; the announced
//! `Content-Length` is exactly the bytes the pieces render to, and the rendered body parses back
//! into the resolved spans, each with its `Content-Range` and its own bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_http::{ByteSpan, Piece, RangeDecision, multipart_layout, parse_range_header, resolve};

/// Largest representation whose body is rendered and parsed back (larger ones check arithmetic).
const RENDER_LIMIT: u64 = 1 << 16;

#[path = "../../crates/reelay-http/tests/support/multipart_body.rs"]
mod multipart_body;
use multipart_body::{byte_at, render};

/// Reads a rendered body back into `(Content-Range, data)` parts, panicking on bad framing.
fn parse_back(body: &[u8], boundary: &str, len: u64, spans: &[ByteSpan]) {
    let mut rest = body;
    for (i, span) in spans.iter().enumerate() {
        let lead = if i == 0 { "" } else { "\r\n" };
        let head = format!(
            "{lead}--{boundary}\r\nContent-Type: video/mp4\r\nContent-Range: bytes {}-{}/{len}\r\n\r\n",
            span.start,
            span.end - 1
        );
        rest = rest.strip_prefix(head.as_bytes()).expect("part head");
        let n = usize::try_from(span.len()).expect("span fits");
        let (data, tail) = rest.split_at(n);
        assert!(data.iter().zip(span.start..).all(|(b, i)| *b == byte_at(i)));
        rest = tail;
    }
    assert_eq!(rest, format!("\r\n--{boundary}--\r\n").as_bytes());
}

fuzz_target!(|input: (&[u8], u64, u8)| {
    let (header, len, boundary_len) = input;
    let len = if len % 4 == 0 { len } else { len % (RENDER_LIMIT + 1) };
    let Ok(specs) = parse_range_header(header) else { return };
    let RangeDecision::Multipart(spans) = resolve(&specs, len) else { return };
    let boundary = "b".repeat(usize::from(boundary_len % 70) + 1);
    let layout = multipart_layout(&spans, len, "video/mp4", &boundary);
    let text: u64 = layout
        .pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.len() as u64,
            Piece::Data(s) => s.len(),
        })
        .sum();
    assert_eq!(text, layout.content_length);
    if len <= RENDER_LIMIT {
        let body = render(&layout.pieces);
        assert_eq!(body.len() as u64, layout.content_length);
        parse_back(&body, &boundary, len, &spans);
    }
});
