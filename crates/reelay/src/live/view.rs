//! What viewers get at a source's own URL (`/live/{source}/index.m3u8`): the media playlist of
//! its one live rendition, exactly as before renditions existed, or a multivariant playlist over
//! its live renditions — the encoder's own, its attributes kept, when it pushed one, otherwise
//! one derived from the buffer (bandwidths measured from the segments). Each rendition's media
//! playlist is at `{rendition}/index.m3u8` beside it. Recordings replay the same way.

use reelay_hls::parse_multivariant;

use super::ladder::{Buffered, average_segment_ms, bitrates, misaligned, multivariant_text};
use super::sources::{PRIMARY, SourceRow};
use super::{Live, LiveError};

/// A rendition silent this much longer than the freshest one is no longer listed (an encoder
/// that changed its ladder, or one rendition that died).
const STALE_MS: i64 = 60_000;

/// What the API shows of a live rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RenditionSummary {
    pub name: String,
    /// Average over the buffered window, bits per second.
    pub(crate) measured_bitrate: u64,
    /// From the pushed multivariant playlist, when it lists the rendition.
    pub(crate) resolution: Option<(u32, u32)>,
    pub(crate) codecs: Option<String>,
    /// An `EXT-X-MEDIA` rendition (audio, subtitles) rather than a variant.
    pub(crate) media: bool,
    /// Average segment duration over the buffered window, milliseconds.
    pub(crate) segment_ms: u64,
    /// Its segments are far longer or shorter than the rest of the ladder's.
    pub(crate) misaligned: bool,
}

impl Live {
    /// The renditions of `source` with segments in the buffer, in name order, with when each
    /// one's newest segment ends.
    pub(crate) async fn buffered_renditions(
        &self,
        source: &SourceRow,
    ) -> Result<Vec<Buffered>, LiveError> {
        let mut out = Vec::new();
        for channel in self.all_channels(source).await? {
            let mut ch = channel.lock().await;
            self.catch_up(source, &mut ch).await?;
            if let Some(newest) = ch.recent.back() {
                out.push(Buffered {
                    name: ch.rendition.clone(),
                    end_ms: newest.pdt_ms.saturating_add(newest.duration_ms),
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The live renditions of `source`, with what is known of each.
    pub(crate) async fn rendition_summaries(
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
            let mut ch = channel.lock().await;
            let window = ch.recent.contiguous();
            let (_, average) = bitrates(window);
            let segment_ms = average_segment_ms(window);
            drop(ch);
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
                segment_ms,
                misaligned: false,
                name,
            });
        }
        // Audio renditions are cut to their own rhythm; the variants must agree.
        let variants: Vec<(String, u64)> = out
            .iter()
            .filter(|r| !r.media)
            .map(|r| (r.name.clone(), r.segment_ms))
            .collect();
        let off = misaligned(&variants);
        for r in &mut out {
            r.misaligned = off.contains(&r.name);
        }
        Ok(out)
    }

    /// The renditions of `source` a viewer is offered: those with buffered segments, less the
    /// ones gone silent (see [`STALE_MS`]).
    pub(crate) async fn live_renditions(
        &self,
        source: &SourceRow,
    ) -> Result<Vec<String>, LiveError> {
        let buffered = self.buffered_renditions(source).await?;
        let freshest = buffered.iter().map(|b| b.end_ms).max().unwrap_or(0);
        Ok(buffered
            .into_iter()
            .filter(|b| b.end_ms >= freshest.saturating_sub(STALE_MS))
            .map(|b| b.name)
            .collect())
    }

    /// The playlist at `/live/{source}/index.m3u8`; `None` before any segment. One classic
    /// rendition without a pushed multivariant playlist is served as its media playlist;
    /// anything else as a multivariant playlist (the pushed one, or one derived).
    pub(crate) async fn source_playlist(
        &self,
        source: &SourceRow,
        suffix: &str,
    ) -> Result<Option<String>, LiveError> {
        let live = self.live_renditions(source).await?;
        match live.as_slice() {
            [] => Ok(None),
            // One rendition publishing parts is offered through a multivariant playlist, as
            // several are: its LL playlist (blocking reloads, parts) is at its own URL.
            [only]
                if source.multivariant.is_none() && !self.ll.is_low_latency(&source.id, only) =>
            {
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
                    let rates = bitrates(channel.lock().await.recent.contiguous());
                    rated.push((name, rates));
                }
                let pushed = source.multivariant.as_deref();
                Ok(Some(multivariant_text(pushed, &rated, suffix)))
            }
        }
    }
}
