//! The RFC 9110 range/conditional matrix, shared by every backend's tests: status, headers and
//! exact body bytes (sha256) per case; multipart bodies parsed and checked part by part.

use std::ops::Range;

use reqwest::Method;

use super::{FIXED_MTIME, http_date, parse_multipart, sha256};

/// Length of the file the matrix runs against.
pub const LEN: usize = 100_003;

#[derive(Debug, Clone)]
enum Expect {
    /// The body equals these bytes of the file (200 or 206 single range).
    Bytes(Range<usize>),
    /// No body.
    Empty,
    /// A multipart body with these parts, in order.
    Parts(Vec<Range<usize>>),
    /// A short text body (errors).
    Text,
}

struct Case {
    name: &'static str,
    method: Method,
    headers: Vec<(&'static str, String)>,
    status: u16,
    expect: Expect,
}

fn case(name: &'static str, headers: &[(&'static str, &str)], status: u16, expect: Expect) -> Case {
    Case {
        name,
        method: Method::GET,
        headers: headers.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        status,
        expect,
    }
}

fn head(name: &'static str, headers: &[(&'static str, &str)], status: u16) -> Case {
    Case {
        method: Method::HEAD,
        ..case(name, headers, status, Expect::Empty)
    }
}

fn matrix(etag: &str) -> Vec<Case> {
    use Expect::*;
    let n = LEN;
    let lm = http_date(FIXED_MTIME);
    let older = http_date(FIXED_MTIME - 3600);
    let newer = http_date(FIXED_MTIME + 3600);
    let weak = format!("W/{etag}");
    let seventeen = format!("bytes={}", vec!["0-0"; 17].join(","));
    let sixteen_same = format!("bytes={}", vec!["0-9"; 16].join(","));
    let s = |v: String| -> &'static str { Box::leak(v.into_boxed_str()) };
    vec![
        case("no range gives the whole file", &[], 200, Bytes(0..n)),
        head("head gives headers only", &[], 200),
        case("first byte", &[("range", "bytes=0-0")], 206, Bytes(0..1)),
        case(
            "first hundred bytes",
            &[("range", "bytes=0-99")],
            206,
            Bytes(0..100),
        ),
        case(
            "open-ended range",
            &[("range", "bytes=100-")],
            206,
            Bytes(100..n),
        ),
        case(
            "suffix range",
            &[("range", "bytes=-100")],
            206,
            Bytes(n - 100..n),
        ),
        case(
            "zero suffix is unsatisfiable",
            &[("range", "bytes=-0")],
            416,
            Text,
        ),
        case(
            "start at length is unsatisfiable",
            &[("range", s(format!("bytes={n}-")))],
            416,
            Text,
        ),
        case(
            "range past the end is unsatisfiable",
            &[("range", s(format!("bytes={}-{}", n + 5, n + 10)))],
            416,
            Text,
        ),
        case(
            "last-pos past the end is clamped",
            &[("range", s(format!("bytes=0-{}", n + 1000)))],
            206,
            Bytes(0..n),
        ),
        case(
            "last byte by offset",
            &[("range", s(format!("bytes={}-", n - 1)))],
            206,
            Bytes(n - 1..n),
        ),
        case(
            "suffix longer than the file gives it all",
            &[("range", s(format!("bytes=-{}", n * 2)))],
            206,
            Bytes(0..n),
        ),
        case(
            "unit is case-insensitive",
            &[("range", "BYTES=0-9")],
            206,
            Bytes(0..10),
        ),
        case(
            "unknown unit is ignored",
            &[("range", "items=0-5")],
            200,
            Bytes(0..n),
        ),
        case(
            "reversed range is ignored",
            &[("range", "bytes=5-1")],
            200,
            Bytes(0..n),
        ),
        case(
            "letters are ignored",
            &[("range", "bytes=abc")],
            200,
            Bytes(0..n),
        ),
        case(
            "empty set is ignored",
            &[("range", "bytes=")],
            200,
            Bytes(0..n),
        ),
        case(
            "garbage is ignored",
            &[("range", "garbage")],
            200,
            Bytes(0..n),
        ),
        case(
            "huge last-pos saturates",
            &[("range", "bytes=10-99999999999999999999999")],
            206,
            Bytes(10..n),
        ),
        case(
            "two ranges give multipart",
            &[("range", "bytes=0-9,20-29")],
            206,
            Parts(vec![0..10, 20..30]),
        ),
        case(
            "adjacent ranges coalesce",
            &[("range", "bytes=0-9,10-19")],
            206,
            Bytes(0..20),
        ),
        case(
            "overlapping ranges coalesce",
            &[("range", "bytes=0-50,25-75")],
            206,
            Bytes(0..76),
        ),
        case(
            "multipart parts are sorted",
            &[("range", "bytes=90-99,0-9")],
            206,
            Parts(vec![0..10, 90..100]),
        ),
        case(
            "unsatisfiable spec among satisfiable ones is dropped",
            &[("range", s(format!("bytes=0-9,{n}-")))],
            206,
            Bytes(0..10),
        ),
        case(
            "more than sixteen ranges gives the whole file",
            &[("range", s(seventeen))],
            200,
            Bytes(0..n),
        ),
        case(
            "ranges adding up past the length give the whole file",
            &[("range", "bytes=0-,0-")],
            200,
            Bytes(0..n),
        ),
        case(
            "a repeated small range coalesces to one",
            &[("range", s(sixteen_same))],
            206,
            Bytes(0..10),
        ),
        case(
            "prefix and suffix give multipart",
            &[("range", "bytes=0-9,-10")],
            206,
            Parts(vec![0..10, n - 10..n]),
        ),
        case(
            "three parts with whitespace and empty elements",
            &[("range", "bytes=0-0 , ,5-6,\t300-310")],
            206,
            Parts(vec![0..1, 5..7, 300..311]),
        ),
        head("range on head is ignored", &[("range", "bytes=0-9")], 200),
        case(
            "if-range with the etag honours the range",
            &[("range", "bytes=0-9"), ("if-range", etag)],
            206,
            Bytes(0..10),
        ),
        case(
            "if-range with another etag sends everything",
            &[("range", "bytes=0-9"), ("if-range", "\"other\"")],
            200,
            Bytes(0..n),
        ),
        case(
            "if-range with a weak etag sends everything",
            &[("range", "bytes=0-9"), ("if-range", s(weak.clone()))],
            200,
            Bytes(0..n),
        ),
        case(
            "if-range with the exact date honours the range",
            &[("range", "bytes=0-9"), ("if-range", s(lm.clone()))],
            206,
            Bytes(0..10),
        ),
        case(
            "if-range with an older date sends everything",
            &[("range", "bytes=0-9"), ("if-range", s(older.clone()))],
            200,
            Bytes(0..n),
        ),
        case(
            "if-range with a newer date sends everything",
            &[("range", "bytes=0-9"), ("if-range", s(newer.clone()))],
            200,
            Bytes(0..n),
        ),
        case(
            "if-none-match with the etag is 304",
            &[("if-none-match", etag)],
            304,
            Empty,
        ),
        case(
            "if-none-match star is 304",
            &[("if-none-match", "*")],
            304,
            Empty,
        ),
        case(
            "if-none-match with another etag is 200",
            &[("if-none-match", "\"other\", \"x\"")],
            200,
            Bytes(0..n),
        ),
        case(
            "if-none-match compares weakly",
            &[("if-none-match", s(weak.clone()))],
            304,
            Empty,
        ),
        case(
            "if-none-match in a list",
            &[("if-none-match", s(format!("\"a\", {etag}")))],
            304,
            Empty,
        ),
        case(
            "if-modified-since at last-modified is 304",
            &[("if-modified-since", s(lm.clone()))],
            304,
            Empty,
        ),
        case(
            "if-modified-since before last-modified is 200",
            &[("if-modified-since", s(older.clone()))],
            200,
            Bytes(0..n),
        ),
        case(
            "invalid if-modified-since is ignored",
            &[("if-modified-since", "yesterday")],
            200,
            Bytes(0..n),
        ),
        case(
            "if-match with the etag is 200",
            &[("if-match", etag)],
            200,
            Bytes(0..n),
        ),
        case(
            "if-match with another etag is 412",
            &[("if-match", "\"other\"")],
            412,
            Text,
        ),
        case(
            "if-match with a weak etag is 412",
            &[("if-match", s(weak))],
            412,
            Text,
        ),
        case(
            "if-match star is 200",
            &[("if-match", "*")],
            200,
            Bytes(0..n),
        ),
        case(
            "if-unmodified-since before last-modified is 412",
            &[("if-unmodified-since", s(older.clone()))],
            412,
            Text,
        ),
        case(
            "if-unmodified-since after last-modified is 200",
            &[("if-unmodified-since", s(newer.clone()))],
            200,
            Bytes(0..n),
        ),
        case(
            "if-match wins over if-unmodified-since",
            &[("if-match", etag), ("if-unmodified-since", s(older))],
            200,
            Bytes(0..n),
        ),
        case(
            "if-none-match wins over if-modified-since",
            &[
                ("if-none-match", "\"other\""),
                ("if-modified-since", s(newer)),
            ],
            200,
            Bytes(0..n),
        ),
        case(
            "304 comes before range",
            &[("if-none-match", etag), ("range", "bytes=0-9")],
            304,
            Empty,
        ),
        case(
            "412 comes before range",
            &[("if-match", "\"other\""), ("range", "bytes=0-9")],
            412,
            Text,
        ),
        case(
            "412 comes before 416",
            &[
                ("if-match", "\"other\""),
                ("range", s(format!("bytes={n}-"))),
            ],
            412,
            Text,
        ),
        head(
            "head with if-none-match is 304",
            &[("if-none-match", etag)],
            304,
        ),
    ]
}

async fn check_case(client: &reqwest::Client, url: &str, file: &[u8], etag: &str, c: &Case) {
    let mut req = client.request(c.method.clone(), url);
    for (k, v) in &c.headers {
        req = req.header(*k, v);
    }
    let resp = req.send().await.expect("request");
    let name = c.name;
    assert_eq!(resp.status().as_u16(), c.status, "{name}: status");
    let h = resp.headers().clone();
    let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(
        get("accept-ranges").as_deref(),
        Some("bytes"),
        "{name}: accept-ranges"
    );
    assert_eq!(get("etag").as_deref(), Some(etag), "{name}: etag");
    assert_eq!(
        get("last-modified"),
        Some(http_date(FIXED_MTIME)),
        "{name}: last-modified"
    );
    let body = resp.bytes().await.expect("body");
    match &c.expect {
        Expect::Bytes(r) => {
            assert_eq!(
                sha256(&body),
                sha256(&file[r.clone()]),
                "{name}: body bytes"
            );
            assert_eq!(
                get("content-length"),
                Some(r.len().to_string()),
                "{name}: length"
            );
            assert_eq!(
                get("content-type").as_deref(),
                Some("video/mp4"),
                "{name}: type"
            );
            let range = get("content-range");
            if c.status == 206 {
                let want = format!("bytes {}-{}/{LEN}", r.start, r.end - 1);
                assert_eq!(range, Some(want), "{name}: content-range");
            } else {
                assert_eq!(range, None, "{name}: no content-range on 200");
            }
        }
        Expect::Empty => {
            assert!(body.is_empty(), "{name}: empty body");
            if c.status == 200 {
                assert_eq!(
                    get("content-length"),
                    Some(LEN.to_string()),
                    "{name}: head length"
                );
            }
        }
        Expect::Parts(ranges) => {
            let ct = get("content-type").expect("content-type");
            assert_eq!(
                get("content-length"),
                Some(body.len().to_string()),
                "{name}: length"
            );
            let parts = parse_multipart(&ct, &body);
            assert_eq!(parts.len(), ranges.len(), "{name}: part count");
            for (part, r) in parts.iter().zip(ranges) {
                assert_eq!(part.content_type, "video/mp4", "{name}");
                let want = format!("bytes {}-{}/{LEN}", r.start, r.end - 1);
                assert_eq!(part.content_range, want, "{name}: part range");
                assert_eq!(
                    sha256(&part.body),
                    sha256(&file[r.clone()]),
                    "{name}: part bytes"
                );
            }
        }
        Expect::Text => {
            assert!(
                !body.is_empty() && body.len() < 100,
                "{name}: short text body"
            );
            if c.status == 416 {
                let want = format!("bytes */{LEN}");
                assert_eq!(
                    get("content-range"),
                    Some(want),
                    "{name}: 416 content-range"
                );
            }
        }
    }
}

/// Runs every case against `url`, which must serve `file` (of [`LEN`] bytes, last modified at
/// [`FIXED_MTIME`], type video/mp4). Returns the number of cases run.
pub async fn run_matrix(url: &str, file: &[u8]) -> usize {
    assert_eq!(file.len(), LEN);
    let client = reqwest::Client::new();
    let etag = client
        .head(url)
        .send()
        .await
        .expect("head")
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("etag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong etag: {etag}"
    );
    let etag: &'static str = Box::leak(etag.into_boxed_str());
    let cases = matrix(etag);
    for c in &cases {
        check_case(&client, url, file, etag, c).await;
    }
    cases.len()
}
