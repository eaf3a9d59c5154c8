//! Property tests of multivariant playlists: whatever valid ladder is rendered parses back to
//! itself; tag-shaped noise never panics the parser, and what it accepts is within its limits.

use proptest::prelude::*;
use reelay_hls::multivariant::MAX_RENDITIONS;
use reelay_hls::{Media, MediaType, Multivariant, Variant, is_rendition_name, parse_multivariant};

fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9 _.,-]{1,20}"
}

fn variant(i: usize, audio: bool) -> impl Strategy<Value = Variant> {
    (
        1u64..1_000_000_000,
        proptest::option::of(1u64..1_000_000_000),
        proptest::option::of("[a-z0-9.,]{1,40}"),
        proptest::option::of((1u32..=16_384, 1u32..=16_384)),
        proptest::option::of((1u32..240, 0u32..1000)),
    )
        .prop_map(
            move |(bandwidth, average, codecs, resolution, rate)| Variant {
                uri: format!("stream_{i}.m3u8"),
                bandwidth,
                average_bandwidth: average,
                codecs,
                resolution,
                frame_rate: rate.map(|(w, f)| format!("{w}.{f:03}")),
                audio: audio.then(|| "aud".to_owned()),
                subtitles: None,
            },
        )
}

fn ladder() -> impl Strategy<Value = Multivariant> {
    (
        1usize..8,
        any::<bool>(),
        text(),
        proptest::option::of("[a-z]{2}(-[A-Z]{2})?"),
    )
        .prop_flat_map(|(n, audio, name, language)| {
            let variants: Vec<_> = (0..n).map(|i| variant(i, audio)).collect();
            (
                variants,
                Just(audio),
                Just(name),
                Just(language),
                any::<bool>(),
            )
        })
        .prop_map(
            |(variants, audio, name, language, independent)| Multivariant {
                media: if audio {
                    vec![Media {
                        kind: MediaType::Audio,
                        group_id: "aud".into(),
                        name,
                        language,
                        default: true,
                        autoselect: true,
                        channels: Some("2".into()),
                        uri: Some("audio_0.m3u8".into()),
                    }]
                } else {
                    Vec::new()
                },
                variants,
                independent_segments: independent,
            },
        )
}

fn noise_line() -> impl Strategy<Value = String> {
    prop_oneof![
        "#EXT-X-STREAM-INF:[A-Z=0-9,\"x.-]{0,60}",
        "#EXT-X-MEDIA:[A-Z=0-9,\"_ -]{0,60}",
        "[a-z_0-9./]{1,20}",
        "#[A-Z-]{1,20}(:[ -~]{0,30})?",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn rendered_ladders_parse_back_to_themselves(ladder in ladder()) {
        let text = ladder.render();
        prop_assert_eq!(parse_multivariant(text.as_bytes()), Ok(ladder), "{}", text);
    }

    #[test]
    fn noise_never_panics_and_accepted_playlists_are_bounded(
        lines in proptest::collection::vec(noise_line(), 0..40)
    ) {
        let text = format!("#EXTM3U\n{}\n", lines.join("\n"));
        if let Ok(p) = parse_multivariant(text.as_bytes()) {
            prop_assert!(!p.variants.is_empty());
            prop_assert!(p.renditions().len() <= MAX_RENDITIONS);
            for name in p.renditions() {
                prop_assert!(is_rendition_name(name), "{}", name);
            }
        }
    }
}
