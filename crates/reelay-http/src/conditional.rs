//! Conditional requests (RFC 9110 §13) and the one entry point, [`evaluate`], that combines
//! preconditions with range handling in the order of §13.2.2:
//!
//! 1. `If-Match` (strong) else `If-Unmodified-Since` → 412 when false;
//! 2. `If-None-Match` (weak) → 304 for GET/HEAD, 412 otherwise, when false;
//!    else `If-Modified-Since` (GET/HEAD only) → 304 when false;
//! 3. `If-Range` (GET with Range only; strong ETag or exact, strong date) → Range ignored when false;
//! 4. `Range` (GET only) → 206 / multipart / 416, or ignored.
//!
//! Dates are compared at one-second resolution, as HTTP-dates carry no more.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, Method, header};

use crate::etag::{EntityTag, EtagCondition};
use crate::range::{ByteSpan, RangeDecision, parse_range_header, resolve};

/// What the server knows of the selected representation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Representation<'a> {
    pub len: u64,
    pub etag: Option<&'a EntityTag>,
    pub last_modified: Option<SystemTime>,
}

/// The response to send, before any byte is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 200 with the whole representation.
    Full,
    /// 206 with one span.
    Partial(ByteSpan),
    /// 206 `multipart/byteranges`.
    Multipart(Vec<ByteSpan>),
    /// 304.
    NotModified,
    /// 412.
    PreconditionFailed,
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Seconds since the epoch, the resolution of HTTP-dates (times before 1970 count as 0).
fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d: Duration| d.as_secs())
}

/// Parses the single HTTP-date of a header; `None` when absent, repeated or invalid.
fn single_date(headers: &HeaderMap, name: header::HeaderName) -> Option<u64> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let parsed = httpdate::parse_http_date(value.to_str().ok()?).ok()?;
    Some(epoch_secs(parsed))
}

fn etag_condition(headers: &HeaderMap, name: header::HeaderName) -> Option<EtagCondition> {
    let lines = headers.get_all(name);
    let mut lines = lines.iter().map(|v| v.as_bytes()).peekable();
    lines.peek()?;
    Some(EtagCondition::parse(lines))
}

/// Step 1 and 2 of §13.2.2; `None` means "proceed".
fn preconditions(method: &Method, headers: &HeaderMap, rep: &Representation) -> Option<Outcome> {
    let last_modified = rep.last_modified.map(epoch_secs);
    if let Some(cond) = etag_condition(headers, header::IF_MATCH) {
        if !cond.matches(rep.etag, true) {
            return Some(Outcome::PreconditionFailed);
        }
    } else if let (Some(date), Some(lm)) = (
        single_date(headers, header::IF_UNMODIFIED_SINCE),
        last_modified,
    ) && lm > date
    {
        return Some(Outcome::PreconditionFailed);
    }
    let safe = method == Method::GET || method == Method::HEAD;
    if let Some(cond) = etag_condition(headers, header::IF_NONE_MATCH) {
        if cond.matches(rep.etag, false) {
            return Some(if safe {
                Outcome::NotModified
            } else {
                Outcome::PreconditionFailed
            });
        }
    } else if safe
        && let (Some(date), Some(lm)) = (
            single_date(headers, header::IF_MODIFIED_SINCE),
            last_modified,
        )
        && lm <= date
    {
        return Some(Outcome::NotModified);
    }
    None
}

/// `If-Range` (§13.1.5): true when the Range may be honoured.
fn if_range_holds(headers: &HeaderMap, rep: &Representation, now: SystemTime) -> bool {
    let Some(value) = headers.get(header::IF_RANGE) else {
        return true;
    };
    let bytes = value.as_bytes().trim_ascii();
    if bytes.starts_with(b"\"") || bytes.starts_with(b"W/") {
        let Some(tag) = EntityTag::parse(bytes) else {
            return false;
        };
        return rep.etag.is_some_and(|cur| cur.strong_eq(&tag));
    }
    let Some(date) = value
        .to_str()
        .ok()
        .and_then(|s| httpdate::parse_http_date(s).ok())
    else {
        return false;
    };
    // A date validates only if it equals Last-Modified and that Last-Modified is strong: the
    // representation was last changed at least one second before now (§8.8.2.2).
    rep.last_modified.is_some_and(|lm| {
        let lm = epoch_secs(lm);
        lm == epoch_secs(date) && lm < epoch_secs(now)
    })
}

/// Evaluates preconditions and `Range` for `method` on `rep`, at time `now`.
pub fn evaluate(
    method: &Method,
    headers: &HeaderMap,
    rep: &Representation,
    now: SystemTime,
) -> Outcome {
    if let Some(outcome) = preconditions(method, headers, rep) {
        return outcome;
    }
    if method != Method::GET {
        return Outcome::Full;
    }
    let Some(range) = headers.get(header::RANGE) else {
        return Outcome::Full;
    };
    if !if_range_holds(headers, rep, now) {
        return Outcome::Full;
    }
    let Ok(specs) = parse_range_header(range.as_bytes()) else {
        return Outcome::Full;
    };
    match resolve(&specs, rep.len) {
        RangeDecision::Full => Outcome::Full,
        RangeDecision::Partial(span) => Outcome::Partial(span),
        RangeDecision::Multipart(spans) => Outcome::Multipart(spans),
        RangeDecision::Unsatisfiable => Outcome::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const LM: u64 = 1_700_000_000;

    static V1: std::sync::LazyLock<EntityTag> =
        std::sync::LazyLock::new(|| EntityTag::strong("v1").expect("tag"));

    fn rep() -> Representation<'static> {
        Representation {
            len: 100,
            etag: Some(&V1),
            last_modified: Some(UNIX_EPOCH + Duration::from_secs(LM)),
        }
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(LM + 3600)
    }

    fn date(secs: u64) -> String {
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
    }

    fn eval(method: Method, pairs: &[(&str, &str)]) -> Outcome {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            headers.append(
                header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        evaluate(&method, &headers, &rep(), now())
    }

    fn get(pairs: &[(&str, &str)]) -> Outcome {
        eval(Method::GET, pairs)
    }

    fn partial(start: u64, end: u64) -> Outcome {
        Outcome::Partial(ByteSpan { start, end })
    }

    #[test]
    fn if_match_uses_strong_comparison() {
        assert_eq!(get(&[("if-match", "\"v1\"")]), Outcome::Full);
        assert_eq!(
            get(&[("if-match", "W/\"v1\"")]),
            Outcome::PreconditionFailed
        );
        assert_eq!(get(&[("if-match", "\"v2\"")]), Outcome::PreconditionFailed);
        assert_eq!(get(&[("if-match", "*")]), Outcome::Full);
    }

    #[test]
    fn if_unmodified_since_is_ignored_when_if_match_is_present() {
        let old = date(LM - 10);
        assert_eq!(
            get(&[("if-unmodified-since", &old)]),
            Outcome::PreconditionFailed
        );
        assert_eq!(
            get(&[("if-match", "\"v1\""), ("if-unmodified-since", &old)]),
            Outcome::Full
        );
        assert_eq!(get(&[("if-unmodified-since", &date(LM))]), Outcome::Full);
    }

    #[test]
    fn if_none_match_gives_304_on_get_and_412_otherwise() {
        assert_eq!(get(&[("if-none-match", "W/\"v1\"")]), Outcome::NotModified);
        assert_eq!(
            eval(Method::HEAD, &[("if-none-match", "*")]),
            Outcome::NotModified
        );
        assert_eq!(
            eval(Method::PUT, &[("if-none-match", "*")]),
            Outcome::PreconditionFailed
        );
        assert_eq!(get(&[("if-none-match", "\"v2\"")]), Outcome::Full);
    }

    #[test]
    fn if_modified_since_is_ignored_when_if_none_match_is_present() {
        let later = date(LM + 10);
        assert_eq!(get(&[("if-modified-since", &later)]), Outcome::NotModified);
        assert_eq!(
            get(&[("if-none-match", "\"v2\""), ("if-modified-since", &later)]),
            Outcome::Full
        );
        assert_eq!(get(&[("if-modified-since", &date(LM - 1))]), Outcome::Full);
        assert_eq!(get(&[("if-modified-since", "yesterday")]), Outcome::Full);
    }

    #[test]
    fn preconditions_come_before_range() {
        assert_eq!(
            get(&[("if-match", "\"v2\""), ("range", "bytes=0-1")]),
            Outcome::PreconditionFailed
        );
        assert_eq!(
            get(&[("if-none-match", "\"v1\""), ("range", "bytes=500-")]),
            Outcome::NotModified
        );
    }

    #[test]
    fn if_range_with_etag_is_strong() {
        assert_eq!(
            get(&[("range", "bytes=0-1"), ("if-range", "\"v1\"")]),
            partial(0, 2)
        );
        assert_eq!(
            get(&[("range", "bytes=0-1"), ("if-range", "W/\"v1\"")]),
            Outcome::Full
        );
        assert_eq!(
            get(&[("range", "bytes=0-1"), ("if-range", "\"v2\"")]),
            Outcome::Full
        );
    }

    #[test]
    fn if_range_with_date_must_match_exactly() {
        assert_eq!(
            get(&[("range", "bytes=0-1"), ("if-range", &date(LM))]),
            partial(0, 2)
        );
        assert_eq!(
            get(&[("range", "bytes=0-1"), ("if-range", &date(LM + 1))]),
            Outcome::Full
        );
        assert_eq!(
            get(&[("range", "bytes=0-1"), ("if-range", "garbage")]),
            Outcome::Full
        );
    }

    #[test]
    fn if_range_date_is_weak_when_modified_within_the_current_second() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_static("bytes=0-1"));
        headers.insert(
            header::IF_RANGE,
            HeaderValue::from_str(&date(LM)).expect("date"),
        );
        let now = UNIX_EPOCH + Duration::from_millis(LM * 1000 + 500);
        assert_eq!(evaluate(&Method::GET, &headers, &rep(), now), Outcome::Full);
    }

    #[test]
    fn range_is_ignored_on_head_and_unsatisfiable_gives_416() {
        assert_eq!(eval(Method::HEAD, &[("range", "bytes=0-1")]), Outcome::Full);
        assert_eq!(get(&[("range", "bytes=100-")]), Outcome::Unsatisfiable);
        assert_eq!(get(&[("range", "items=0-1")]), Outcome::Full);
    }
}
