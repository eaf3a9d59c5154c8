//! Fuzzes the ingest playlist parser: any bytes; parsed segments always have plain names and
//! bounded durations.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_hls::{ingest, is_plain_name, parse_ingest_playlist};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(playlist) = parse_ingest_playlist(bytes) {
        assert!(playlist.segments.len() <= ingest::MAX_SEGMENTS);
        for s in &playlist.segments {
            assert!(is_plain_name(&s.uri));
            assert!(s.duration_ms > 0 && s.duration_ms <= ingest::MAX_SEGMENT_MS);
        }
    }
});
