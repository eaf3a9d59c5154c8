//! `Range` header parsing and resolution (RFC 9110 §14.1-14.2).
//!
//! Two pure steps, kept apart so each can be tested and fuzzed on its own:
//! 1. [`parse_range_header`] turns header bytes into [`RangeSpec`]s, or says why the header must be
//!    ignored (other unit, bad syntax, too many ranges). Numbers too large for `u64` saturate: a
//!    first-pos that large is unsatisfiable and a last-pos that large is clamped, exactly as if the
//!    number had been representable.
//! 2. [`resolve`] meets the specs with a representation length and decides what to send: the whole
//!    representation, one span, several coalesced spans, or 416.
//!
//! Abuse policy (RFC 9110 §14.2 lets a server ignore such sets): more than [`MAX_RANGES`] specs,
//! or specs whose lengths add up to more than the representation, are answered with the full
//! representation (200), never with N copies of the same bytes.

use std::fmt;

/// The largest number of range-specs reelay honours in one header; more and the header is ignored.
pub const MAX_RANGES: usize = 16;

/// One `range-spec` as the client wrote it, before it meets a representation length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// `first-pos "-" [ last-pos ]`; `last` is inclusive and `>= first`.
    FromTo { first: u64, last: Option<u64> },
    /// `"-" suffix-length`: the last `n` bytes.
    Suffix(u64),
}

/// Why a `Range` header is ignored. Every variant means "answer as if there were no Range".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeParseError {
    /// The range unit is not `bytes` (e.g. `items=0-5`).
    OtherUnit,
    /// The header does not follow the `ranges-specifier` grammar.
    Malformed,
    /// More than [`MAX_RANGES`] range-specs.
    TooMany,
}

/// A non-empty, satisfiable byte span `start..end` (end exclusive) inside a representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSpan {
    pub start: u64,
    pub end: u64,
}

impl ByteSpan {
    /// Number of bytes in the span (never zero for spans produced by [`resolve`]).
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// True for an empty span; [`resolve`] never produces one.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// The `Content-Range` value for this span of a representation of `complete_len` bytes.
    pub fn content_range(&self, complete_len: u64) -> String {
        // Written by hand: it is on every 206, and `format!` costs several times as much.
        let mut digits = itoa::Buffer::new();
        let mut out = String::with_capacity(64);
        out.push_str("bytes ");
        out.push_str(digits.format(self.start));
        out.push('-');
        out.push_str(digits.format(self.end.saturating_sub(1)));
        out.push('/');
        out.push_str(digits.format(complete_len));
        out
    }
}

impl fmt::Display for ByteSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end.saturating_sub(1))
    }
}

/// The `Content-Range` value of a 416 response.
pub fn unsatisfied_content_range(complete_len: u64) -> String {
    format!("bytes */{complete_len}")
}

/// What to send for a `Range` request once the specs meet the representation length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeDecision {
    /// 200 with the whole representation (Range ignored).
    Full,
    /// 206 with one span.
    Partial(ByteSpan),
    /// 206 `multipart/byteranges` with two or more disjoint, non-adjacent, ascending spans.
    Multipart(Vec<ByteSpan>),
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_ows(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_ows(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// RFC 9110 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses `1*DIGIT`, saturating at `u64::MAX`; `None` if empty or not all digits.
fn parse_digits(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |acc, d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

fn parse_spec(spec: &[u8]) -> Result<RangeSpec, RangeParseError> {
    let dash = spec
        .iter()
        .position(|&b| b == b'-')
        .ok_or(RangeParseError::Malformed)?;
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    if first.is_empty() {
        return parse_digits(last)
            .map(RangeSpec::Suffix)
            .ok_or(RangeParseError::Malformed);
    }
    let first = parse_digits(first).ok_or(RangeParseError::Malformed)?;
    if last.is_empty() {
        return Ok(RangeSpec::FromTo { first, last: None });
    }
    let last = parse_digits(last).ok_or(RangeParseError::Malformed)?;
    if last < first {
        // RFC 9110 §14.1.1: such a range-spec is invalid, and so is the whole header.
        return Err(RangeParseError::Malformed);
    }
    Ok(RangeSpec::FromTo {
        first,
        last: Some(last),
    })
}

/// Parses a `Range` field value (`ranges-specifier`).
///
/// The unit is compared case-insensitively; empty list elements are accepted (RFC 9110 §5.6.1),
/// but at least one range-spec must be present.
pub fn parse_range_header(value: &[u8]) -> Result<Vec<RangeSpec>, RangeParseError> {
    let value = trim_ows(value);
    let eq = value
        .iter()
        .position(|&b| b == b'=')
        .ok_or(RangeParseError::Malformed)?;
    let (unit, set) = (&value[..eq], &value[eq + 1..]);
    if unit.is_empty() || !unit.iter().all(|&b| is_tchar(b)) {
        return Err(RangeParseError::Malformed);
    }
    if !unit.eq_ignore_ascii_case(b"bytes") {
        return Err(RangeParseError::OtherUnit);
    }
    let mut specs = Vec::new();
    for element in set.split(|&b| b == b',').map(trim_ows) {
        if element.is_empty() {
            continue;
        }
        if specs.len() == MAX_RANGES {
            return Err(RangeParseError::TooMany);
        }
        specs.push(parse_spec(element)?);
    }
    if specs.is_empty() {
        return Err(RangeParseError::Malformed);
    }
    Ok(specs)
}

/// The span a single spec selects in a representation of `len` bytes, if satisfiable.
pub fn spec_span(spec: RangeSpec, len: u64) -> Option<ByteSpan> {
    let span = match spec {
        RangeSpec::FromTo { first, last } => {
            let end = last.map_or(len, |last| last.saturating_add(1).min(len));
            ByteSpan { start: first, end }
        }
        RangeSpec::Suffix(n) => ByteSpan {
            start: len.saturating_sub(n),
            end: len,
        },
    };
    (span.start < span.end).then_some(span)
}

/// Sorts spans and merges those that overlap or touch.
pub fn coalesce(mut spans: Vec<ByteSpan>) -> Vec<ByteSpan> {
    spans.sort_unstable();
    let mut merged: Vec<ByteSpan> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(prev) if span.start <= prev.end => prev.end = prev.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// Decides the response to `specs` for a representation of `len` bytes.
pub fn resolve(specs: &[RangeSpec], len: u64) -> RangeDecision {
    if len == 0 {
        // RFC 9110 §14.1.1: only a non-zero suffix-range is satisfiable on an empty
        // representation, and a 206 cannot describe zero bytes, so that case is a plain 200.
        let any_suffix = specs
            .iter()
            .any(|s| matches!(s, RangeSpec::Suffix(n) if *n > 0));
        return if any_suffix {
            RangeDecision::Full
        } else {
            RangeDecision::Unsatisfiable
        };
    }
    let spans: Vec<ByteSpan> = specs.iter().filter_map(|&s| spec_span(s, len)).collect();
    if spans.is_empty() {
        return RangeDecision::Unsatisfiable;
    }
    let requested = spans
        .iter()
        .try_fold(0u64, |acc, s| acc.checked_add(s.len()));
    if requested.is_none_or(|total| total > len) {
        return RangeDecision::Full;
    }
    let mut merged = coalesce(spans);
    if merged.len() == 1 {
        return RangeDecision::Partial(merged.remove(0));
    }
    RangeDecision::Multipart(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Vec<RangeSpec>, RangeParseError> {
        parse_range_header(s.as_bytes())
    }

    fn decide(header: &str, len: u64) -> RangeDecision {
        match parse(header) {
            Ok(specs) => resolve(&specs, len),
            Err(_) => RangeDecision::Full,
        }
    }

    fn span(start: u64, end: u64) -> ByteSpan {
        ByteSpan { start, end }
    }

    #[test]
    fn parses_the_three_spec_forms() {
        assert_eq!(
            parse("bytes=0-9, 10-, -5"),
            Ok(vec![
                RangeSpec::FromTo {
                    first: 0,
                    last: Some(9)
                },
                RangeSpec::FromTo {
                    first: 10,
                    last: None
                },
                RangeSpec::Suffix(5),
            ])
        );
    }

    #[test]
    fn unit_is_case_insensitive_and_other_units_are_ignored() {
        assert!(parse("BYTES=0-1").is_ok());
        assert_eq!(parse("items=0-5"), Err(RangeParseError::OtherUnit));
    }

    #[test]
    fn malformed_headers_are_reported() {
        for bad in [
            "bytes=",
            "bytes=,",
            "bytes",
            "=0-1",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=1",
            "bytes=-",
            "bytes=--1",
            "bytes=0-1-2",
            "bytes =0-1",
            "bytes=+1-2",
            "bytes=1 -2",
        ] {
            assert_eq!(parse(bad), Err(RangeParseError::Malformed), "{bad}");
        }
    }

    #[test]
    fn empty_list_elements_are_accepted() {
        assert_eq!(parse("bytes=, 0-1 ,,").map(|v| v.len()), Ok(1));
    }

    #[test]
    fn more_than_max_ranges_is_too_many() {
        let header = format!("bytes={}", vec!["0-0"; MAX_RANGES + 1].join(","));
        assert_eq!(parse(&header), Err(RangeParseError::TooMany));
        let header = format!("bytes={}", vec!["0-0"; MAX_RANGES].join(","));
        assert!(parse(&header).is_ok());
    }

    #[test]
    fn huge_numbers_saturate() {
        assert_eq!(
            decide("bytes=0-99999999999999999999999", 100),
            RangeDecision::Partial(span(0, 100))
        );
        assert_eq!(
            decide("bytes=99999999999999999999999-", 100),
            RangeDecision::Unsatisfiable
        );
        assert_eq!(
            decide("bytes=-99999999999999999999999", 100),
            RangeDecision::Partial(span(0, 100))
        );
    }

    #[test]
    fn single_ranges_resolve() {
        assert_eq!(decide("bytes=0-0", 10), RangeDecision::Partial(span(0, 1)));
        assert_eq!(decide("bytes=5-", 10), RangeDecision::Partial(span(5, 10)));
        assert_eq!(decide("bytes=-3", 10), RangeDecision::Partial(span(7, 10)));
        assert_eq!(
            decide("bytes=8-20", 10),
            RangeDecision::Partial(span(8, 10))
        );
        assert_eq!(decide("bytes=0-", 10), RangeDecision::Partial(span(0, 10)));
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(decide("bytes=10-", 10), RangeDecision::Unsatisfiable);
        assert_eq!(decide("bytes=-0", 10), RangeDecision::Unsatisfiable);
        assert_eq!(decide("bytes=10-20,30-", 10), RangeDecision::Unsatisfiable);
    }

    #[test]
    fn unsatisfiable_specs_are_dropped_when_others_are_satisfiable() {
        assert_eq!(
            decide("bytes=20-30,0-1", 10),
            RangeDecision::Partial(span(0, 2))
        );
    }

    #[test]
    fn overlapping_and_adjacent_ranges_coalesce() {
        assert_eq!(
            decide("bytes=0-1,2-3", 10),
            RangeDecision::Partial(span(0, 4))
        );
        assert_eq!(
            decide("bytes=5-7,0-1,6-8", 10),
            RangeDecision::Multipart(vec![span(0, 2), span(5, 9)])
        );
    }

    #[test]
    fn abusive_sets_get_the_full_representation() {
        assert_eq!(decide("bytes=0-,0-", 10), RangeDecision::Full);
        assert_eq!(decide("bytes=0-8,1-9", 10), RangeDecision::Full);
        assert_eq!(
            decide("bytes=0-4,5-9", 10),
            RangeDecision::Partial(span(0, 10))
        );
    }

    #[test]
    fn zero_length_representations() {
        assert_eq!(decide("bytes=0-", 0), RangeDecision::Unsatisfiable);
        assert_eq!(decide("bytes=-5", 0), RangeDecision::Full);
        assert_eq!(decide("bytes=-0", 0), RangeDecision::Unsatisfiable);
    }

    #[test]
    fn content_range_values() {
        assert_eq!(span(0, 10).content_range(100), "bytes 0-9/100");
        assert_eq!(
            span(u64::MAX - 1, u64::MAX).content_range(u64::MAX),
            "bytes 18446744073709551614-18446744073709551614/18446744073709551615"
        );
        assert_eq!(unsatisfied_content_range(100), "bytes */100");
    }
}
