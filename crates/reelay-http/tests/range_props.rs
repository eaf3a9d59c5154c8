//! Property tests: the range engine equals a byte-bitmap reference model, and no header bytes
//! make the parser or the evaluator panic.

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, Method, header};
use proptest::prelude::*;
use reelay_http::{
    ByteSpan, EntityTag, MAX_RANGES, Outcome, RangeDecision, RangeSpec, Representation, evaluate,
    parse_range_header, resolve,
};

/// The reference model: mark every selected byte, then read the runs back.
fn model(specs: &[RangeSpec], len: u64) -> RangeDecision {
    if specs.len() > MAX_RANGES {
        return RangeDecision::Full;
    }
    let mut marked = vec![false; len as usize];
    let mut requested = 0u64;
    let mut any_suffix = false;
    for spec in specs {
        let (lo, hi) = match *spec {
            RangeSpec::FromTo { first, last } => (first, last.map_or(len, |l| (l + 1).min(len))),
            RangeSpec::Suffix(n) => {
                any_suffix |= n > 0;
                (len.saturating_sub(n), len)
            }
        };
        for i in lo..hi {
            marked[i as usize] = true;
        }
        requested += hi.saturating_sub(lo);
    }
    if len == 0 {
        return if any_suffix {
            RangeDecision::Full
        } else {
            RangeDecision::Unsatisfiable
        };
    }
    if requested == 0 {
        return RangeDecision::Unsatisfiable;
    }
    if requested > len {
        return RangeDecision::Full;
    }
    let mut runs = Vec::new();
    let mut i = 0u64;
    while i < len {
        if marked[i as usize] {
            let start = i;
            while i < len && marked[i as usize] {
                i += 1;
            }
            runs.push(ByteSpan { start, end: i });
        } else {
            i += 1;
        }
    }
    match runs.len() {
        1 => RangeDecision::Partial(runs[0]),
        _ => RangeDecision::Multipart(runs),
    }
}

fn spec_strategy() -> impl Strategy<Value = RangeSpec> {
    prop_oneof![
        (0u64..260, proptest::option::of(0u64..260)).prop_map(|(a, b)| RangeSpec::FromTo {
            first: a,
            last: b.map(|b| a + b),
        }),
        (0u64..260).prop_map(RangeSpec::Suffix),
    ]
}

fn render(specs: &[RangeSpec]) -> String {
    let parts: Vec<String> = specs
        .iter()
        .map(|s| match s {
            RangeSpec::FromTo {
                first,
                last: Some(l),
            } => format!("{first}-{l}"),
            RangeSpec::FromTo { first, last: None } => format!("{first}-"),
            RangeSpec::Suffix(n) => format!("-{n}"),
        })
        .collect();
    format!("bytes={}", parts.join(" , "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn resolution_equals_the_reference_model(
        specs in proptest::collection::vec(spec_strategy(), 1..20),
        len in 0u64..250,
    ) {
        let header = render(&specs);
        let got = match parse_range_header(header.as_bytes()) {
            Ok(parsed) => {
                prop_assert_eq!(&parsed, &specs);
                resolve(&parsed, len)
            }
            Err(_) => {
                prop_assert!(specs.len() > MAX_RANGES);
                RangeDecision::Full
            }
        };
        prop_assert_eq!(got, model(&specs, len));
    }

    #[test]
    fn resolved_spans_are_inside_sorted_and_disjoint(
        specs in proptest::collection::vec(spec_strategy(), 1..16),
        len in 1u64..250,
    ) {
        let spans = match resolve(&specs, len) {
            RangeDecision::Partial(s) => vec![s],
            RangeDecision::Multipart(v) => v,
            _ => vec![],
        };
        let total: u64 = spans.iter().map(ByteSpan::len).sum();
        prop_assert!(total <= len);
        for pair in spans.windows(2) {
            prop_assert!(pair[0].end < pair[1].start, "{:?}", pair);
        }
        for s in &spans {
            prop_assert!(s.start < s.end && s.end <= len);
        }
    }

    #[test]
    fn arbitrary_range_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), len in any::<u64>()) {
        if let Ok(specs) = parse_range_header(&bytes) {
            let _ = resolve(&specs, len);
        }
    }

    #[test]
    fn arbitrary_conditional_headers_never_panic(
        values in proptest::collection::vec(proptest::collection::vec(32u8..127, 0..60), 6),
        len in any::<u64>(),
    ) {
        let names = [header::RANGE, header::IF_RANGE, header::IF_MATCH, header::IF_NONE_MATCH,
                     header::IF_MODIFIED_SINCE, header::IF_UNMODIFIED_SINCE];
        let mut headers = HeaderMap::new();
        for (name, value) in names.into_iter().zip(&values) {
            if let Ok(v) = HeaderValue::from_bytes(value) {
                headers.insert(name, v);
            }
        }
        let tag = EntityTag::strong("x");
        let rep = Representation {
            len,
            etag: tag.as_ref(),
            last_modified: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        };
        let outcome = evaluate(&Method::GET, &headers, &rep, UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        if let Outcome::Partial(s) = outcome {
            prop_assert!(s.end <= len);
        }
    }
}
