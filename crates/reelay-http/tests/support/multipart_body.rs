//! Renders a multipart layout over a synthetic representation whose byte `i` is `byte_at(i)`.
//! Shared by the `multipart_props` test and the `multipart_byteranges` fuzz target.

use reelay_http::Piece;

/// Byte `i` of the synthetic representation.
pub fn byte_at(i: u64) -> u8 {
    (i % 251) as u8
}

/// The body the pieces send, framing and data.
pub fn render(pieces: &[Piece]) -> Vec<u8> {
    let mut body = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => body.extend_from_slice(t.as_bytes()),
            Piece::Data(s) => body.extend((s.start..s.end).map(byte_at)),
        }
    }
    body
}
