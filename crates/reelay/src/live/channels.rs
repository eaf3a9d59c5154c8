//! The node's channels: what it knows of each rendition of a source between requests (its
//! segment buffer, the encoder's latest playlist, the discontinuities assigned), loaded from
//! the database on first use and kept by (source id, rendition); pruning a rendition's buffer
//! against the node's settings and holds. The live folder's files reach a rendition through
//! these.

use std::collections::VecDeque;
use std::sync::Arc;

use reelay_hls::IngestPlaylist;

use super::buffer::{self, SegmentBuffer};
use super::sources::{self, SourceRow};
use super::{Live, LiveError, SegmentRow, rendition_file};
use crate::db::now_ms;

/// What the node knows of one rendition of a source between requests.
#[derive(Debug)]
pub(super) struct Channel {
    pub(super) rendition: String,
    /// Segments in the buffer, by msn: the one way they enter and leave it.
    pub(super) recent: SegmentBuffer,
    /// Discontinuities assigned ever (persisted in the rendition's row).
    pub(super) discontinuities: u64,
    /// Encoder file names recently assigned (so a re-sent playlist does not assign twice).
    pub(super) assigned: VecDeque<String>,
    pub(super) last_encoder_sequence: Option<u64>,
    /// The encoder's latest playlist: a segment that finishes arriving after it is assigned then.
    pub(super) last_playlist: Option<IngestPlaylist>,
    pub(super) pending_discontinuity: bool,
    /// SHA-256 of the current init section and its stored file name.
    pub(super) map: Option<(String, String)>,
    /// In a cluster whose bus is down: when the window was last read from the database.
    pub(super) caught_up: Option<std::time::Instant>,
}

pub(super) type SharedChannel = Arc<tokio::sync::Mutex<Channel>>;

impl Live {
    /// The channel of `rendition` of `source`, loaded from the database on first use.
    pub(super) async fn channel(
        &self,
        source: &SourceRow,
        rendition: &str,
    ) -> Result<SharedChannel, LiveError> {
        if let Some(c) = self.loaded_channel(&source.id, rendition) {
            return Ok(c);
        }
        let channel = self.load_channel(source, rendition).await?;
        let key = (source.id.clone(), rendition.to_owned());
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        Ok(channels
            .entry(key)
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(channel)))
            .clone())
    }

    /// The channel of `rendition` of `source` as the database has it.
    pub(super) async fn load_channel(
        &self,
        source: &SourceRow,
        rendition: &str,
    ) -> Result<Channel, LiveError> {
        let seg_dir = self.segments_dir(&source.id);
        std::fs::create_dir_all(seg_dir.join(rendition_file(rendition, "")))?;
        std::fs::create_dir_all(self.incoming_dir(&source.id))?;
        let committed = self.committed.clone();
        let rows = SegmentBuffer::load(&self.db, &source.id, rendition, committed).await?;
        // Its row, for the counters of what it will be assigned.
        self.sources.ensure_rendition(&source.id, rendition).await?;
        let (next_msn, discontinuities) = self
            .sources
            .rendition_counters(&source.id, rendition)
            .await?;
        Ok(Channel {
            rendition: rendition.to_owned(),
            map: rows
                .back()
                .and_then(|r| r.map_file.clone())
                .map(|f| (String::new(), f)),
            // After a restart (or, on an edge, a wiped disk: the source has history but no
            // buffer) the next segment starts a new stream for players.
            pending_discontinuity: !rows.is_empty() || next_msn > 0,
            recent: rows,
            discontinuities: u64::try_from(discontinuities).unwrap_or(0),
            assigned: VecDeque::new(),
            last_encoder_sequence: None,
            last_playlist: None,
            caught_up: None,
        })
    }

    /// The channel of `rendition` of source `id`, if this node has it loaded.
    pub(super) fn loaded_channel(&self, id: &str, rendition: &str) -> Option<SharedChannel> {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(id.to_owned(), rendition.to_owned()))
            .cloned()
    }

    /// The channel of `rendition` of `source`, admitting the rendition first when this node has
    /// not seen it (known to the database, or new within [`sources::MAX_RENDITIONS`]); `true`
    /// with it when it was admitted now.
    pub(super) async fn admitted(
        &self,
        source: &SourceRow,
        rendition: &str,
    ) -> Result<(SharedChannel, bool), LiveError> {
        if let Some(c) = self.loaded_channel(&source.id, rendition) {
            return Ok((c, false));
        }
        let known = self.sources.renditions(&source.id).await?;
        if !known.iter().any(|r| r == rendition)
            && i64::try_from(known.len()).unwrap_or(i64::MAX) >= sources::MAX_RENDITIONS
        {
            return Err(LiveError::Conflict(format!(
                "a source has at most {} renditions",
                sources::MAX_RENDITIONS
            )));
        }
        self.sources.ensure_rendition(&source.id, rendition).await?;
        Ok((self.channel(source, rendition).await?, true))
    }

    /// Every rendition's channel of `source`: loaded from the database on the first call, kept
    /// in memory after (new renditions join as they are admitted), so viewers' playlist polls
    /// cost no query.
    pub(super) async fn all_channels(
        &self,
        source: &SourceRow,
    ) -> Result<Vec<SharedChannel>, LiveError> {
        let done = self
            .loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&source.id);
        if !done {
            let renditions = self.sources.renditions(&source.id).await?;
            for rendition in &renditions {
                self.channel(source, rendition).await?;
            }
            // A source with no rendition yet may get one any moment: the next call looks again.
            if !renditions.is_empty() {
                self.loaded
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(source.id.clone());
            }
        }
        let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        Ok(channels
            .iter()
            .filter(|((id, _), _)| *id == source.id)
            .map(|(_, c)| c.clone())
            .collect())
    }

    /// Each rendition of `source` with its buffered segments, oldest first, by name.
    pub(crate) async fn buffered_all(
        &self,
        source: &SourceRow,
    ) -> Result<Vec<(String, Vec<SegmentRow>)>, LiveError> {
        let mut out = Vec::new();
        for channel in self.all_channels(source).await? {
            let ch = channel.lock().await;
            out.push((ch.rendition.clone(), ch.recent.iter().cloned().collect()));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Forgets a deleted source's state and files.
    pub(crate) fn drop_source(&self, id: &str) {
        self.sources.forget(id);
        self.ll.drop_source(id);
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(source, _), _| source != id);
        self.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        let _ = std::fs::remove_dir_all(self.dir.join(id));
    }

    /// One more discontinuity in a live window (persisted, for DISCONTINUITY-SEQUENCE).
    pub(super) async fn count_discontinuity(
        &self,
        id: &str,
        ch: &mut Channel,
    ) -> Result<(), LiveError> {
        self.sources.add_discontinuity(id, &ch.rendition).await?;
        ch.discontinuities += 1;
        Ok(())
    }

    /// Drops segments older than the buffer unless held, and the oldest beyond the byte
    /// budget whatever holds them (never the live window). The source's budget is shared
    /// evenly by its renditions, so a ladder stays within `buffer_bytes` in all.
    pub(super) async fn prune(&self, id: &str, ch: &mut Channel) -> Result<(), LiveError> {
        let horizon =
            now_ms() - i64::try_from(self.settings.buffer.as_millis()).unwrap_or(i64::MAX);
        let renditions = self
            .channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .filter(|(source, _)| source == id)
            .count();
        let budget = self.settings.buffer_bytes / u64::try_from(renditions.max(1)).unwrap_or(1);
        let held = |row: &SegmentRow| self.hold.as_ref().is_some_and(|h| h.holds(row));
        let keep = buffer::Keep {
            window: self.settings.window,
            horizon_ms: horizon,
            budget,
            held: &held,
        };
        ch.recent
            .prune(&keep, |old| {
                if let Some(hold) = &self.hold {
                    hold.dropped(old);
                }
                self.remove_segment_file(id, &old.file);
            })
            .await?;
        Ok(())
    }

    /// The channel of `rendition` of `source` if the source has that rendition (a viewer's
    /// request never creates one).
    pub(super) async fn existing(
        &self,
        source: &SourceRow,
        rendition: &str,
    ) -> Result<Option<SharedChannel>, LiveError> {
        self.all_channels(source).await?;
        let key = (source.id.clone(), rendition.to_owned());
        Ok(self
            .channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned())
    }
}
