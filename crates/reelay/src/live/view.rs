//! What viewers get at a source's own URL (`/live/{source}/index.m3u8`): the media playlist of
//! its one live rendition, exactly as before renditions existed, or a multivariant playlist over
//! its live renditions — the encoder's own, its attributes kept, when it pushed one, otherwise
//! one derived from the buffer (bandwidths measured from the segments). Each rendition's media
//! playlist is at `{rendition}/index.m3u8` beside it. Recordings replay the same way.

use reelay_hls::{Multivariant, Variant, parse_multivariant};

use super::sources::{PRIMARY, SourceRow};
use super::{Live, LiveError, SegmentRow};

/// A rendition with segments in the buffer, and when its newest one ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buffered {
    pub name: String,
    pub end_ms: i64,
}

/// A rendition silent this much longer than the freshest one is no longer listed (an encoder
/// that changed its ladder, or one rendition that died).
const STALE_MS: i64 = 60_000;

/// A rendition's measured bitrate, bits per second: (peak segment, average).
pub fn bitrates(segments: &[SegmentRow]) -> (u64, u64) {
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

/// The encoder's multivariant playlist cut down to the renditions in `live`: variants and
/// media playlists of other renditions are left out, and a group left empty is no longer
/// referenced. `None` when no variant is left.
pub fn restrict(pushed: &Multivariant, live: &[String]) -> Option<Multivariant> {
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
pub fn derive(live: &[(String, (u64, u64))]) -> Multivariant {
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
pub fn multivariant_text(
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

/// What the API shows of a live rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenditionSummary {
    pub name: String,
    /// Average over the buffered window, bits per second.
    pub measured_bitrate: u64,
    /// From the pushed multivariant playlist, when it lists the rendition.
    pub resolution: Option<(u32, u32)>,
    pub codecs: Option<String>,
    /// An `EXT-X-MEDIA` rendition (audio, subtitles) rather than a variant.
    pub media: bool,
}

impl Live {
    /// The live renditions of `source`, with what is known of each.
    pub async fn rendition_summaries(
        &self,
        source: &SourceRow,
    ) -> Result<Vec<RenditionSummary>, LiveError> {
        let pushed = source
            .multivariant
            .as_deref()
            .and_then(|t| parse_multivariant(t.as_bytes()).ok());
        let mut out = Vec::new();
        for name in self.live_renditions(source).await? {
            let channel = self.channel(source, &name).await?;
            let (_, average) = bitrates(channel.lock().await.recent.make_contiguous());
            let uri = format!("{name}.m3u8");
            let variant = pushed
                .as_ref()
                .and_then(|p| p.variants.iter().find(|v| v.uri == uri));
            let media = pushed.as_ref().is_some_and(|p| {
                p.media
                    .iter()
                    .any(|m| m.uri.as_deref() == Some(uri.as_str()))
            });
            out.push(RenditionSummary {
                measured_bitrate: average,
                resolution: variant.and_then(|v| v.resolution),
                codecs: variant.and_then(|v| v.codecs.clone()),
                media,
                name,
            });
        }
        Ok(out)
    }

    /// The renditions of `source` a viewer is offered: those with buffered segments, less the
    /// ones gone silent (see [`STALE_MS`]).
    pub async fn live_renditions(&self, source: &SourceRow) -> Result<Vec<String>, LiveError> {
        let buffered = self.buffered_renditions(source).await?;
        let freshest = buffered.iter().map(|b| b.end_ms).max().unwrap_or(0);
        Ok(buffered
            .into_iter()
            .filter(|b| b.end_ms >= freshest.saturating_sub(STALE_MS))
            .map(|b| b.name)
            .collect())
    }

    /// The playlist at `/live/{source}/index.m3u8`; `None` before any segment.
    pub async fn source_playlist(
        &self,
        source: &SourceRow,
        suffix: &str,
    ) -> Result<Option<String>, LiveError> {
        let live = self.live_renditions(source).await?;
        match live.as_slice() {
            [] => Ok(None),
            [only] if source.multivariant.is_none() => {
                let prefix = if only == PRIMARY {
                    String::new()
                } else {
                    format!("{only}/")
                };
                self.live_playlist(source, only, &prefix, suffix).await
            }
            _ => {
                let mut rated = Vec::with_capacity(live.len());
                for name in live {
                    let channel = self.channel(source, &name).await?;
                    let rates = bitrates(channel.lock().await.recent.make_contiguous());
                    rated.push((name, rates));
                }
                let pushed = source.multivariant.as_deref();
                Ok(Some(multivariant_text(pushed, &rated, suffix)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
