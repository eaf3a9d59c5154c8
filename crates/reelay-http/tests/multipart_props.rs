//! Property tests of the `multipart/byteranges` layout (the stable twin of the
//! `multipart_byteranges` fuzz target): for any set of ranges the announced `Content-Length` is
//! exactly the rendered body, and the body parses back into the resolved spans and their bytes.

use proptest::prelude::*;
use reelay_http::{ByteSpan, Piece, RangeDecision, multipart_layout, parse_range_header, resolve};

#[path = "support/multipart_body.rs"]
mod multipart_body;
use multipart_body::{byte_at, render};

/// The parts of `body`, each `(Content-Range value, data)`, read by splitting on the boundary.
fn parts(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let text = body.iter().map(|b| char::from(*b)).collect::<String>();
    let close = format!("\r\n--{boundary}--\r\n");
    let inner = text.strip_suffix(&close).expect("closing delimiter");
    let inner = inner
        .strip_prefix(&format!("--{boundary}\r\n"))
        .expect("first delimiter");
    inner
        .split(&format!("\r\n--{boundary}\r\n"))
        .map(|part| {
            let (head, data) = part.split_once("\r\n\r\n").expect("part head");
            let range = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Range: "))
                .expect("Content-Range");
            (range.to_owned(), data.chars().map(|c| c as u8).collect())
        })
        .collect()
}

/// A representation length and a Range header of 2-7 ranges for it, each at most a
/// sixteenth of it (so their sum rarely exceeds the length, which would answer 200), some
/// starting past its end (unsatisfiable, dropped), suffixes, open ends and overlaps included.
fn length_and_header() -> impl Strategy<Value = (u64, String)> {
    (64u64..2_000).prop_flat_map(|len| {
        let most = len / 16;
        let spec = prop_oneof![
            (0..len + 20, 0..most).prop_map(|(a, n)| format!("{a}-{}", a + n)),
            (len - most..len + 5).prop_map(|a| format!("{a}-")),
            (1..most).prop_map(|n| format!("-{n}")),
        ];
        let header =
            proptest::collection::vec(spec, 2..8).prop_map(|s| format!("bytes={}", s.join(",")));
        (Just(len), header)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_multipart_body_is_its_content_length_and_parses_back_into_its_spans(
        (len, header) in length_and_header(),
        boundary_len in 1usize..=70,
    ) {
        let specs = parse_range_header(header.as_bytes()).expect("valid header");
        let multipart = match resolve(&specs, len) {
            RangeDecision::Multipart(spans) => Some(spans),
            _ => None,
        };
        // Headers that come to one range or none are another property's: rejected, not passed.
        prop_assume!(multipart.is_some());
        let spans = multipart.unwrap_or_default();
        let boundary = "b".repeat(boundary_len);
        let layout = multipart_layout(&spans, len, "video/mp4", &boundary);
        let body = render(&layout.pieces);
        prop_assert_eq!(body.len() as u64, layout.content_length);
        let got = parts(&body, &boundary);
        prop_assert_eq!(got.len(), spans.len());
        for ((range, data), span) in got.iter().zip(&spans) {
            prop_assert_eq!(range, &span.content_range(len));
            let want: Vec<u8> = (span.start..span.end).map(byte_at).collect();
            prop_assert_eq!(data, &want);
        }
    }

    #[test]
    fn huge_representations_lay_out_without_overflow(
        starts in proptest::collection::vec(0u64..u64::MAX / 4, 2..8),
    ) {
        let mut spans: Vec<ByteSpan> = starts.iter().map(|s| ByteSpan { start: *s, end: s + 1 }).collect();
        spans.sort_by_key(|s| s.start);
        spans.dedup_by_key(|s| s.start);
        let layout = multipart_layout(&spans, u64::MAX / 2, "video/mp4", "x");
        let data: u64 = spans.iter().map(ByteSpan::len).sum();
        let text: u64 = layout.pieces.iter().map(|p| match p {
            Piece::Text(t) => t.len() as u64,
            Piece::Data(_) => 0,
        }).sum();
        prop_assert_eq!(layout.content_length, data + text);
    }
}
