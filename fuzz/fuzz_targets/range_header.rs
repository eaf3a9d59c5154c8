//! Fuzzes the Range parser and resolver: any bytes, any length; resolved spans stay in bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_http::{RangeDecision, parse_range_header, resolve};

fuzz_target!(|input: (&[u8], u64)| {
    let (bytes, len) = input;
    if let Ok(specs) = parse_range_header(bytes) {
        match resolve(&specs, len) {
            RangeDecision::Partial(s) => assert!(s.start < s.end && s.end <= len),
            RangeDecision::Multipart(spans) => {
                for s in &spans {
                    assert!(s.start < s.end && s.end <= len);
                }
            }
            RangeDecision::Full | RangeDecision::Unsatisfiable => {}
        }
    }
});
