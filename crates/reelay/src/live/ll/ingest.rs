//! Low-Latency ingest: ffmpeg's streaming DASH muxer (`-f dash -streaming 1 -ldash 1
//! -hls_playlist 1 -method PUT …/ingest/{source}/manifest.mpd`) PUTs each segment
//! (`chunk-stream{N}-{seq}.m4s`) as one upload that opens when the segment starts, its fMP4
//! fragments arriving as they are encoded. Each fragment is published as a part the moment it
//! is whole ([`crate::live::ll::published`]); the segment takes its media sequence number when its
//! upload opens (its parts need it), and enters rendition `media_{N}`'s buffer when the upload
//! ends, like any segment (`Live::commit`).
//!
//! Stream N's init section (`init-stream{N}.m4s`) must arrive first; ffmpeg sends it together
//! with the first segment, so a segment upload waits up to [`INIT_WAIT`] for it. Without it,
//! or when the bytes do not cut as fMP4, the upload is refused (400): assigned later from the
//! playlist, it would land after segments that took their numbers while it arrived. A segment
//! upload that fails loses its parts and its number (the window starts again after the gap),
//! never shows as whole.

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use reelay_hls::fmp4::{FragmentCutter, parse_init};

use crate::live::ingest::{Arrived, Ingested};
use crate::live::ll::published::{LowLatency, StoredPart};
use crate::live::sources::SourceRow;
use crate::live::{Live, LiveError};
use crate::stream::BodyStream;

/// How long a segment upload waits for its stream's init section.
const INIT_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Bytes held while waiting for a fragment to complete, at most.
const MAX_HELD: usize = 16 << 20;

/// One upload being cut into parts.
struct Cutting {
    cutter: FragmentCutter,
    /// Bytes not yet published, starting at segment offset `held_from`.
    held: BytesMut,
    held_from: u64,
    ll: Arc<LowLatency>,
    id: String,
    rendition: String,
    msn: u64,
    /// The index the next part will have.
    next_index: u64,
    failed: bool,
    long_parts: u32,
    /// The encoder's clock at the segment's first fragment, when it sends one.
    produced_ms: Option<i64>,
}

impl Cutting {
    fn feed(&mut self, chunk: &Bytes) {
        if self.failed {
            return;
        }
        let published = self.next_index;
        self.cut(chunk);
        let at = (self.id.as_str(), self.rendition.as_str());
        let growing = &self.ll.growing;
        let next = (self.msn, self.next_index);
        let tail = self.held.len();
        if self.failed || tail == 0 {
            growing.clear(at);
        } else if self.next_index > published {
            // A part ended inside this chunk: the next one begins in it.
            match chunk.len().checked_sub(tail) {
                Some(from) => growing.start(at, next, chunk.slice(from..)),
                None => growing.clear(at),
            }
        } else {
            growing.grow(at, next, chunk.clone(), tail);
        }
    }

    /// Feeds `chunk` to the cutter and publishes the fragments it completes.
    fn cut(&mut self, chunk: &Bytes) {
        self.held.extend_from_slice(chunk);
        let fragments = match self.cutter.feed(chunk) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(source = %self.id, rendition = %self.rendition, error = %e,
                    "a low-latency segment does not cut as fMP4; it will not publish parts");
                self.failed = true;
                return;
            }
        };
        for f in fragments {
            let skip = usize::try_from(f.offset.saturating_sub(self.held_from)).unwrap_or(0);
            let len = usize::try_from(f.len).unwrap_or(usize::MAX);
            if skip.saturating_add(len) > self.held.len() {
                self.failed = true;
                return;
            }
            let _ = self.held.split_to(skip);
            let bytes = self.held.split_to(len).freeze();
            self.held_from = f.offset.saturating_add(f.len);
            if f.offset == 0 {
                self.produced_ms = f.producer_time_ms;
            }
            let part = StoredPart {
                bytes,
                duration_ms: f.duration_ms,
                independent: f.independent,
            };
            let (index, long) = self.ll.publish(&self.id, &self.rendition, self.msn, part);
            self.next_index = index.saturating_add(1);
            self.long_parts += u32::from(long);
        }
        if self.held.len() > MAX_HELD {
            self.failed = true;
        }
    }
}

/// How cutting an upload went.
struct Cut {
    failed: bool,
    produced_ms: Option<i64>,
}

impl Live {
    /// Stores upload `file` under `dir` as segment `msn` of `rendition` while publishing each
    /// fragment as a part; on a failed upload its parts go and the error is returned.
    async fn cut_and_store(
        &self,
        source: &SourceRow,
        rendition: &str,
        msn: u64,
        tracks: Vec<reelay_hls::fmp4::Track>,
        (dir, file): (&std::path::Path, &str),
        body: BodyStream,
    ) -> Result<Cut, LiveError> {
        self.ll.begin(&source.id, rendition, msn);
        let cutting = Arc::new(Mutex::new(Cutting {
            cutter: FragmentCutter::new(tracks),
            held: BytesMut::new(),
            held_from: 0,
            ll: self.ll.clone(),
            id: source.id.clone(),
            rendition: rendition.to_owned(),
            msn,
            next_index: 0,
            failed: false,
            long_parts: 0,
            produced_ms: None,
        }));
        let feeding = cutting.clone();
        let teed: BodyStream = Box::pin(body.map(move |chunk| {
            if let Ok(bytes) = &chunk {
                feeding
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .feed(bytes);
            }
            chunk
        }));
        let max = self.settings.max_segment_bytes;
        let stored = Self::store_body(dir, file, teed, max).await;
        // The upload is over: no part of it grows any more (a reader of one that did not
        // complete sees it fail).
        self.ll.growing.clear((&source.id, rendition));
        if let Err(e) = stored {
            self.ll.abandon(&source.id, rendition, msn);
            return Err(e);
        }
        let c = cutting.lock().unwrap_or_else(|p| p.into_inner());
        if c.long_parts > 0 {
            tracing::warn!(source = %source.id, rendition, msn, long_parts = c.long_parts,
                "parts longer than the part target (set [live] part_target)");
        }
        Ok(Cut {
            failed: c.failed,
            produced_ms: c.produced_ms,
        })
    }

    /// The tracks of the init section at `path`, waiting a little for it: ffmpeg sends it
    /// and the first segment together, so the segment's upload may open first.
    async fn init_tracks(&self, path: &std::path::Path) -> Vec<reelay_hls::fmp4::Track> {
        let mut stored = self.stored.subscribe();
        let until = tokio::time::Instant::now() + INIT_WAIT;
        loop {
            if let Ok(bytes) = tokio::fs::read(path).await {
                return parse_init(&bytes);
            }
            match tokio::time::timeout_at(until, stored.changed()).await {
                Ok(Ok(())) => {}
                _ => return Vec::new(),
            }
        }
    }

    /// Takes segment upload `file` of stream `stream` (see the module docs).
    pub(in crate::live) async fn ingest_ll_chunk(
        &self,
        source: &SourceRow,
        file: &str,
        stream: &str,
        body: BodyStream,
    ) -> Result<Ingested, LiveError> {
        let incoming = self.incoming_dir(&source.id);
        let init = format!("init-stream{stream}.m4s");
        let tracks = self.init_tracks(&incoming.join(&init)).await;
        if tracks.is_empty() {
            return Err(LiveError::Invalid(format!(
                "{init} (an fMP4 init section) must arrive before the segments of stream {stream}"
            )));
        }
        let rendition = format!("media_{stream}");
        let (channel, _) = self.admitted(source, &rendition).await?;
        let msn = self.sources.take_msn(&source.id, &rendition).await?;
        let staging = self.dir.join(&source.id).join("arriving");
        let cut = self
            .cut_and_store(source, &rendition, msn, tracks, (&staging, file), body)
            .await?;
        let path = staging.join(file);
        let duration = self.ll.duration(&source.id, &rendition, msn);
        let (Some(duration_ms), false) = (duration, cut.failed) else {
            // Assigning it later, from the playlist, would put it after segments that took
            // their numbers while it arrived: refused, never shown out of order.
            self.ll.abandon(&source.id, &rendition, msn);
            let _ = std::fs::remove_file(&path);
            return Err(LiveError::Invalid(
                "a low-latency segment must be fragmented MP4 (moof + mdat)".into(),
            ));
        };
        let mut ch = channel.lock().await;
        let (map_file, new) = self.current_map(source, &mut ch, &incoming.join(&init))?;
        if new {
            self.share_file(&source.id, &map_file).await;
        }
        let arrived = Arrived {
            path: &path,
            encoder_uri: file,
            duration_ms,
            discontinuity: false,
            map_file: Some(map_file),
            msn,
            produced_ms: cut.produced_ms,
        };
        let committed = self.commit(source, &mut ch, arrived).await;
        // Listed as a segment now (or gone): no longer arriving, in either case.
        self.ll.end(&source.id, &rendition, msn);
        committed?;
        self.prune(&source.id, &mut ch).await?;
        drop(ch);
        self.arrivals.send_modify(|v| *v = v.wrapping_add(1));
        Ok(Ingested::Segment)
    }
}
