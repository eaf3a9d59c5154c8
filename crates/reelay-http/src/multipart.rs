//! `multipart/byteranges` framing (RFC 9110 §14.6), computed up front so the response can carry an
//! exact `Content-Length` and the body can be streamed piece by piece without building it.

use crate::range::ByteSpan;

/// One piece of a multipart body: framing text, or a span of the representation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Data(ByteSpan),
}

/// The pieces of a multipart body in order, and their total length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartLayout {
    pub pieces: Vec<Piece>,
    pub content_length: u64,
}

/// The `Content-Type` of a multipart response with `boundary`.
pub fn multipart_content_type(boundary: &str) -> String {
    format!("multipart/byteranges; boundary={boundary}")
}

/// Lays out `spans` of a representation of `complete_len` bytes and type `content_type`.
///
/// `boundary` must be 1-70 boundary characters (the caller makes a random one).
pub fn multipart_layout(
    spans: &[ByteSpan],
    complete_len: u64,
    content_type: &str,
    boundary: &str,
) -> MultipartLayout {
    let mut pieces = Vec::with_capacity(spans.len() * 2 + 1);
    let mut content_length = 0u64;
    for (i, span) in spans.iter().enumerate() {
        let lead = if i == 0 { "" } else { "\r\n" };
        let head = format!(
            "{lead}--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
            span.content_range(complete_len)
        );
        content_length += head.len() as u64 + span.len();
        pieces.push(Piece::Text(head));
        pieces.push(Piece::Data(*span));
    }
    let tail = format!("\r\n--{boundary}--\r\n");
    content_length += tail.len() as u64;
    pieces.push(Piece::Text(tail));
    MultipartLayout {
        pieces,
        content_length,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_length_matches_rendered_body() {
        let spans = [ByteSpan { start: 0, end: 2 }, ByteSpan { start: 5, end: 9 }];
        let data = b"0123456789";
        let layout = multipart_layout(&spans, 10, "video/mp4", "XYZ");
        let mut body = Vec::new();
        for piece in &layout.pieces {
            match piece {
                Piece::Text(t) => body.extend_from_slice(t.as_bytes()),
                Piece::Data(s) => body.extend_from_slice(&data[s.start as usize..s.end as usize]),
            }
        }
        assert_eq!(body.len() as u64, layout.content_length);
        let text = String::from_utf8(body).expect("utf8");
        assert_eq!(
            text,
            "--XYZ\r\nContent-Type: video/mp4\r\nContent-Range: bytes 0-1/10\r\n\r\n01\
             \r\n--XYZ\r\nContent-Type: video/mp4\r\nContent-Range: bytes 5-8/10\r\n\r\n5678\
             \r\n--XYZ--\r\n"
        );
    }
}
