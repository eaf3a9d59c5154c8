//! Fuzzes the edge protocol's segment headers: any header lines; what `SegmentMeta::from_headers`
//! accepts has bounded numbers and an init-section name, and it survives `to_headers` and back
//! unchanged. Segment file names parse only as `<digits>.<ext>`.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use reelay::relay::protocol::{
    MAX_DURATION_MS, SEGMENT_EXTENSIONS, SegmentMeta, is_init_name, parse_segment_file, rendition_from_headers,
};

/// `name: value` lines, the way a request's headers arrive; lines that are not headers are dropped.
fn headers(bytes: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in bytes.split(|b| *b == b'\n').take(64) {
        let Some(colon) = line.iter().position(|b| *b == b':') else { continue };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            map.append(n, v);
        }
    }
    map
}

fuzz_target!(|bytes: &[u8]| {
    let map = headers(bytes);
    let _ = rendition_from_headers(&map);
    if let Ok(meta) = SegmentMeta::from_headers(&map) {
        assert!(meta.duration_ms >= 1 && meta.duration_ms <= MAX_DURATION_MS);
        assert!(meta.pdt_ms >= 0);
        assert!(meta.map_file.as_deref().is_none_or(is_init_name));
        let mut again = HeaderMap::new();
        for (name, value) in meta.to_headers() {
            again.append(name, HeaderValue::from_str(&value).expect("rendered header"));
        }
        assert_eq!(SegmentMeta::from_headers(&again), Ok(meta));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Some((msn, ext)) = parse_segment_file(text) {
            let (digits, rest) = text.split_once('.').expect("a dot");
            assert!(SEGMENT_EXTENSIONS.contains(&ext) && rest == ext);
            assert_eq!(digits.parse::<u64>(), Ok(msn));
        }
    }
});
