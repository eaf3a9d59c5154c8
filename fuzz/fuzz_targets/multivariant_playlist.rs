//! Fuzzes the multivariant playlist parser: any bytes; accepted playlists have at least one
//! variant, at most MAX_RENDITIONS renditions, and only plain `*.m3u8` names; rendering one and
//! parsing it again gives it back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_hls::multivariant::MAX_RENDITIONS;
use reelay_hls::{is_rendition_name, parse_multivariant};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(playlist) = parse_multivariant(bytes) {
        assert!(!playlist.variants.is_empty());
        assert!(playlist.renditions().len() <= MAX_RENDITIONS);
        assert!(playlist.renditions().iter().all(|n| is_rendition_name(n)));
        assert_eq!(parse_multivariant(playlist.render().as_bytes()), Ok(playlist));
    }
});
