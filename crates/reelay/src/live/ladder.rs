//! Ladders, as values: a rendition's measured bitrate, the encoder's multivariant playlist cut
//! to the renditions that are live, one derived when there is none, and the text served (each
//! rendition at `{rendition}/index.m3u8`). Pure: the live view and recordings' replay use it.

use reelay_hls::{Multivariant, Variant, parse_multivariant};

use super::segment::SegmentRow;

/// A rendition with segments in the buffer, and when its newest one ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Buffered {
    pub name: String,
    pub(crate) end_ms: i64,
}

/// A rendition's measured bitrate, bits per second: (peak segment, average).
pub(crate) fn bitrates(segments: &[SegmentRow]) -> (u64, u64) {
    let rate =
        |bytes: i64, ms: i64| u64::try_from(bytes.saturating_mul(8_000) / ms.max(1)).unwrap_or(0);
    let peak = segments
        .iter()
        .map(|s| rate(s.bytes, s.duration_ms))
        .max()
        .unwrap_or(0);
    let (bytes, ms) = segments.iter().fold((0i64, 0i64), |(b, d), s| {
        (b.saturating_add(s.bytes), d.saturating_add(s.duration_ms))
    });
    (peak.max(1), rate(bytes, ms).max(1))
}

/// A rendition's average segment duration, milliseconds (0 without segments).
pub(crate) fn average_segment_ms(segments: &[SegmentRow]) -> u64 {
    let total: i64 = segments.iter().map(|s| s.duration_ms).sum();
    let count = i64::try_from(segments.len()).unwrap_or(i64::MAX).max(1);
    u64::try_from(total / count).unwrap_or(0)
}

/// Which of `averages` (rendition, average segment ms) disagree with the ladder: more than half
/// again, or less than two thirds, of the median. Players switching between such renditions
/// stall or skip (RFC 8216 §6.2.4 wants segments aligned across a ladder).
pub(crate) fn misaligned(averages: &[(String, u64)]) -> Vec<String> {
    let mut sorted: Vec<u64> = averages
        .iter()
        .map(|(_, ms)| *ms)
        .filter(|ms| *ms > 0)
        .collect();
    sorted.sort_unstable();
    let Some(&median) = sorted.get(sorted.len() / 2) else {
        return Vec::new();
    };
    averages
        .iter()
        .filter(|(_, ms)| *ms > 0 && (ms * 2 > median * 3 || ms * 3 < median * 2))
        .map(|(name, _)| name.clone())
        .collect()
}

/// The encoder's multivariant playlist cut down to the renditions in `live`: variants and
/// media playlists of other renditions are left out, and a group left empty is no longer
/// referenced. `None` when no variant is left.
pub(crate) fn restrict(pushed: &Multivariant, live: &[String]) -> Option<Multivariant> {
    let is_live = |uri: &str| live.iter().any(|r| uri.strip_suffix(".m3u8") == Some(r));
    let mut out = pushed.clone();
    out.media.retain(|m| m.uri.as_deref().is_none_or(is_live));
    out.variants.retain(|v| is_live(&v.uri));
    let has_group = |g: &Option<String>, media: &[reelay_hls::Media]| {
        g.as_ref()
            .is_some_and(|g| media.iter().any(|m| m.group_id == *g))
    };
    let media = out.media.clone();
    for v in &mut out.variants {
        if !has_group(&v.audio, &media) {
            v.audio = None;
        }
        if !has_group(&v.subtitles, &media) {
            v.subtitles = None;
        }
    }
    (!out.variants.is_empty()).then_some(out)
}

/// A multivariant playlist over `live` renditions with their measured (peak, average) rates.
pub(crate) fn derive(live: &[(String, (u64, u64))]) -> Multivariant {
    Multivariant {
        media: Vec::new(),
        variants: live
            .iter()
            .map(|(name, (peak, average))| Variant {
                uri: format!("{name}.m3u8"),
                bandwidth: *peak,
                average_bandwidth: Some(*average),
                codecs: None,
                resolution: None,
                frame_rate: None,
                audio: None,
                subtitles: None,
            })
            .collect(),
        independent_segments: false,
    }
}

/// The multivariant playlist to serve over `live` (each with its rates): the pushed one if any
/// of its renditions is live, else a derived one; URIs are `{rendition}/index.m3u8{suffix}`.
pub(crate) fn multivariant_text(
    pushed: Option<&str>,
    live: &[(String, (u64, u64))],
    suffix: &str,
) -> String {
    let names: Vec<String> = live.iter().map(|(n, _)| n.clone()).collect();
    let pushed = pushed.and_then(|text| parse_multivariant(text.as_bytes()).ok());
    let playlist = pushed
        .and_then(|p| restrict(&p, &names))
        .unwrap_or_else(|| derive(live));
    playlist
        .map_uris(|uri| {
            let stem = uri.strip_suffix(".m3u8").unwrap_or(uri);
            format!("{stem}/index.m3u8{suffix}")
        })
        .render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::sources::PRIMARY;

    const LADDER: &str = "#EXTM3U\n\
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"a\",DEFAULT=YES,URI=\"stream_2.m3u8\"\n\
        #EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,AUDIO=\"aud\"\nstream_0.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=320x180,AUDIO=\"aud\"\nstream_1.m3u8\n";

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_pushed_ladder_is_cut_to_the_live_renditions() {
        let pushed = parse_multivariant(LADDER.as_bytes()).expect("ladder");
        let all = restrict(&pushed, &names(&["stream_0", "stream_1", "stream_2"]));
        assert_eq!(all.as_ref(), Some(&pushed));
        let no_audio = restrict(&pushed, &names(&["stream_1"])).expect("one variant");
        assert_eq!(no_audio.variants.len(), 1);
        assert_eq!(no_audio.variants[0].resolution, Some((320, 180)));
        assert!(no_audio.media.is_empty() && no_audio.variants[0].audio.is_none());
        assert_eq!(restrict(&pushed, &names(&["stream_2"])), None);
    }

    #[test]
    fn served_multivariants_point_at_rendition_folders_and_carry_the_signature() {
        let live = vec![
            ("stream_0".to_owned(), (1000, 900)),
            ("stream_1".to_owned(), (500, 400)),
        ];
        let text = multivariant_text(Some(LADDER), &live, "?sig=x");
        assert!(text.contains("\nstream_0/index.m3u8?sig=x\n"), "{text}");
        assert!(
            text.contains("BANDWIDTH=900000,RESOLUTION=640x360"),
            "{text}"
        );
        let derived = multivariant_text(None, &live, "");
        assert!(
            derived.contains("BANDWIDTH=1000,AVERAGE-BANDWIDTH=900\nstream_0/index.m3u8\n"),
            "{derived}"
        );
    }

    #[test]
    fn renditions_far_from_the_ladders_segment_duration_are_misaligned() {
        let ladder = |pairs: &[(&str, u64)]| -> Vec<(String, u64)> {
            pairs.iter().map(|(n, ms)| ((*n).to_owned(), *ms)).collect()
        };
        assert!(misaligned(&ladder(&[("a", 2000), ("b", 2100), ("c", 1900)])).is_empty());
        assert_eq!(
            misaligned(&ladder(&[("a", 2000), ("b", 2000), ("c", 6000)])),
            ["c"]
        );
        assert_eq!(
            misaligned(&ladder(&[("a", 2000), ("b", 2000), ("c", 500)])),
            ["c"]
        );
        assert!(misaligned(&ladder(&[("a", 2000)])).is_empty());
    }

    #[test]
    fn bitrates_are_measured_from_bytes_and_durations() {
        let seg = |bytes, duration_ms| SegmentRow {
            source_id: "s".into(),
            rendition: PRIMARY.into(),
            msn: 0,
            file: "0.ts".into(),
            duration_ms,
            discontinuity: 0,
            pdt_ms: 0,
            map_file: None,
            bytes,
        };
        assert_eq!(
            bitrates(&[seg(250_000, 2000), seg(125_000, 2000)]),
            (1_000_000, 750_000)
        );
        assert_eq!(bitrates(&[]), (1, 1));
    }
}
