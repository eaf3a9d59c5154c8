//! The fMP4 cutter on what ffmpeg's low-latency DASH muxer really writes (video and audio,
//! 2 s segments of 0.25 s fragments): fragments tile each segment exactly, whatever sizes the
//! bytes arrive in, with durations adding up to the segment's and sync samples found; no input
//! makes it panic or buffer without bound.

use std::path::PathBuf;
use std::process::Command;

use proptest::prelude::*;
use reelay_hls::fmp4::{Fmp4Error, Fragment, FragmentCutter, MAX_META_BOX, parse_init};

/// A fresh folder with 4 s of ffmpeg's streaming DASH output in it.
fn ffmpeg_dash() -> PathBuf {
    ffmpeg_dash_with("")
}

/// ffmpeg's streaming DASH output with `extra` options, in a fresh folder.
fn ffmpeg_dash_with(extra: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("reelay-fmp4-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let args = "-v error -f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine -t 4 \
                -c:v libx264 -preset ultrafast -g 25 -c:a aac -f dash -seg_duration 2 \
                -frag_duration 0.25 -frag_type duration -streaming 1 -ldash 1 -use_template 1 \
                -use_timeline 0";
    let out = Command::new("ffmpeg")
        .args(args.split_whitespace())
        .args(extra.split_whitespace())
        .arg("manifest.mpd")
        .current_dir(&dir)
        .output()
        .expect("ffmpeg must be installed (scripts/install-test-deps)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn cut(tracks: &[reelay_hls::fmp4::Track], bytes: &[u8], sizes: &[usize]) -> Vec<Fragment> {
    let mut cutter = FragmentCutter::new(tracks.to_vec());
    let mut fragments = Vec::new();
    let (mut at, mut i) = (0, 0);
    while at < bytes.len() {
        let n = sizes[i % sizes.len()].clamp(1, bytes.len() - at);
        fragments.extend(cutter.feed(&bytes[at..at + n]).expect("valid fMP4"));
        at += n;
        i += 1;
    }
    fragments
}

#[test]
fn ffmpeg_streaming_segments_cut_into_their_fragments_whatever_the_arrival_sizes() {
    let dir = ffmpeg_dash();
    for (stream, video) in [("stream0", true), ("stream1", false)] {
        let init = std::fs::read(dir.join(format!("init-{stream}.m4s"))).expect("init");
        let tracks = parse_init(&init);
        assert_eq!(tracks.len(), 1, "{stream}: {tracks:?}");
        let timescale = tracks[0].timescale;
        assert!(timescale > 0);
        for n in 1..=2 {
            let file = dir.join(format!("chunk-{stream}-{n:05}.m4s"));
            let bytes = std::fs::read(&file).expect("segment");
            let whole = cut(&tracks, &bytes, &[bytes.len()]);
            for sizes in [&[1usize][..], &[7, 100, 3], &[4096]] {
                assert_eq!(
                    cut(&tracks, &bytes, sizes),
                    whole,
                    "{file:?} fed by {sizes:?}"
                );
            }
            let mut end = 0;
            for f in &whole {
                assert_eq!(f.offset, end, "{file:?}: fragments tile the segment");
                end += f.len;
                assert!(f.duration_ms <= 300, "{file:?}: {f:?}");
            }
            assert_eq!(end, bytes.len() as u64, "{file:?}: to the last byte");
            assert!(
                (7..=9).contains(&whole.len()),
                "{file:?}: {} fragments",
                whole.len()
            );
            let total: u64 = whole.iter().map(|f| f.duration_ms).sum();
            assert!((1900..=2100).contains(&total), "{file:?}: {total} ms");
            assert!(whole[0].independent, "{file:?} starts with a sync sample");
            let sync = whole.iter().filter(|f| f.independent).count();
            if video {
                assert!(
                    sync < whole.len(),
                    "{file:?}: not every video part is independent"
                );
            } else {
                assert_eq!(
                    sync,
                    whole.len(),
                    "{file:?}: every audio part is independent"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_oversized_moof_and_broken_sizes_are_errors() {
    let mut huge = Vec::new();
    huge.extend_from_slice(
        &u32::try_from(MAX_META_BOX + 9)
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    huge.extend_from_slice(b"moof");
    let mut cutter = FragmentCutter::new(Vec::new());
    assert!(matches!(
        cutter.feed(&huge),
        Err(Fmp4Error::TooLarge { offset: 0 })
    ));
    let mut cutter = FragmentCutter::new(Vec::new());
    assert!(matches!(
        cutter.feed(&[0, 0, 0, 4, b'f', b'r', b'e', b'e']),
        Err(Fmp4Error::BadBox { .. })
    ));
    let mut cutter = FragmentCutter::new(Vec::new());
    let bad_moof = [0, 0, 0, 12, b'm', b'o', b'o', b'f', 1, 2, 3, 4];
    assert!(matches!(
        cutter.feed(&bad_moof),
        Err(Fmp4Error::BadFragment { offset: 0 })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_bytes_are_cut_or_refused_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut cutter = FragmentCutter::new(Vec::new());
        if let Ok(fragments) = cutter.feed(&bytes) {
            for f in fragments {
                prop_assert!(f.offset + f.len <= bytes.len() as u64);
            }
        }
        let _ = parse_init(&bytes);
    }
}

#[test]
fn ffmpeg_producer_reference_times_are_read_from_each_fragment() {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    // ffmpeg writes prft boxes only with a UTC timing URL for the manifest (any will do).
    let dir = ffmpeg_dash_with("-write_prft 1 -utc_timing_url https://time.example/?iso");
    let init = std::fs::read(dir.join("init-stream0.m4s")).expect("init");
    let tracks = parse_init(&init);
    let bytes = std::fs::read(dir.join("chunk-stream0-00002.m4s")).expect("segment");
    let fragments = cut(&tracks, &bytes, &[4096]);
    let times: Vec<i64> = fragments
        .iter()
        .filter_map(|f| f.producer_time_ms)
        .collect();
    assert_eq!(times.len(), fragments.len(), "{fragments:?}");
    for t in &times {
        assert!(
            (started - 5_000..started + 60_000).contains(t),
            "{t} vs {started}"
        );
    }
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    std::fs::remove_dir_all(dir).ok();
}
