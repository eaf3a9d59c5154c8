//! Property tests: every playlist the builder renders passes the RFC checker and parses back to
//! the same segments; no input makes the ingest parser panic.

use proptest::prelude::*;
use reelay_hls::{
    MediaPlaylist, PlaylistKind, PlaylistSegment, check_media_playlist, parse_ingest_playlist,
};

fn segment() -> impl Strategy<Value = PlaylistSegment> {
    (
        0u32..100_000,
        1u64..=60_000,
        any::<bool>(),
        proptest::option::of(0i64..4_000_000_000_000),
        proptest::option::of(0u8..3),
    )
        .prop_map(|(n, ms, disc, pdt, map)| PlaylistSegment {
            uri: format!("seg{n}.m4s"),
            duration_ms: ms,
            discontinuity: disc,
            program_date_time_ms: pdt,
            map_uri: map.map(|m| format!("init{m}.mp4")),
        })
}

fn kind() -> impl Strategy<Value = PlaylistKind> {
    prop_oneof![
        Just(PlaylistKind::Live),
        Just(PlaylistKind::Event),
        Just(PlaylistKind::Vod)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn rendered_playlists_conform_and_round_trip(
        segments in proptest::collection::vec(segment(), 0..40),
        kind in kind(),
        media_sequence in 0u64..1_000_000_000,
        floor in 1u64..10,
    ) {
        let playlist = MediaPlaylist { kind, media_sequence, discontinuity_sequence: 0, target_floor: floor, segments: segments.clone() };
        let text = playlist.render();
        prop_assert_eq!(check_media_playlist(&text), Vec::<String>::new(), "{}", text);
        let parsed = parse_ingest_playlist(text.as_bytes()).expect("our own output parses");
        prop_assert_eq!(parsed.media_sequence, media_sequence);
        prop_assert_eq!(parsed.segments.len(), segments.len());
        for (i, (got, want)) in parsed.segments.iter().zip(&segments).enumerate() {
            prop_assert_eq!(&got.uri, &want.uri);
            prop_assert_eq!(got.duration_ms, want.duration_ms);
            prop_assert_eq!(got.discontinuity, want.discontinuity && i > 0);
        }
        prop_assert_eq!(parsed.ended, kind == PlaylistKind::Vod);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = parse_ingest_playlist(&bytes);
        let mut with_header = b"#EXTM3U\n".to_vec();
        with_header.extend_from_slice(&bytes);
        let _ = parse_ingest_playlist(&with_header);
        let _ = check_media_playlist(&String::from_utf8_lossy(&bytes));
    }
}
