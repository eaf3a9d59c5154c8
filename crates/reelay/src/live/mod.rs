//! The live relay on a node: HLS pushed by encoders is turned into a live window per rendition
//! of a source (one rendition per pushed playlist; `index` for `index.m3u8`).
//!
//! Files of a source live under `DATA/live/<source id>/` (`files.rs`): uploads land in `incoming/`
//! (each committed by an atomic rename when its body ends, so a half-received segment is never
//! used), and a segment moves to `segments/[<rendition>/]<msn>.<ext>` when its rendition's playlist
//! lists it — in playlist order, stopping at the first segment still arriving (ffmpeg PUTs the
//! playlist right after each segment, and may name one whose upload has not finished). Media
//! sequence numbers are assigned per rendition from the database, so they never go backwards; an
//! encoder that restarts (its media sequence goes back) starts a discontinuity. An fMP4 init
//! section is kept as `init-<n>.mp4` beside its rendition's segments, a new one whenever its bytes
//! change. What viewers get is in `view.rs` (one rendition's playlist, or a multivariant playlist
//! built by `ladder.rs`).
//!
//! Segments stay for `buffer` (default 10 minutes) after they are received, far longer than
//! the playlist window, so a segment that left the window is still fetchable; on an edge, a
//! [`Hold`] keeps the ones recordings still need past that age, and `buffer_bytes` bounds it
//! all (per source: its renditions share it). Encoders' pushes enter through `ingest.rs`
//! (LiveMix's folder playlists too), segments forwarded by edges through `forwarded.rs`; the
//! playlist window and the start of a recording are in `window.rs`; Low-Latency HLS (parts cut
//! from streaming fMP4 uploads, LL playlists, blocking reloads) in `ll/ingest.rs`,
//! `ll/published.rs` and `ll/view.rs`. Nothing here knows HTTP: bodies arrive as
//! [`BodyStream`](crate::stream::BodyStream)s and failures leave as [`LiveError`]s.

mod buffer;
mod bus_note;
pub(crate) mod error;
mod files;
pub(crate) mod forwarded;
pub(crate) mod ingest;
pub(crate) mod ladder;
pub mod ll;
pub mod metrics;
mod public;
pub mod recordings;
pub(crate) mod segment;
mod shared;
pub mod sources;
mod verbs;
pub mod view;
mod window;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reelay_hls::IngestPlaylist;

use crate::defaults::live as defaults;
use sqlx::AnyPool;

pub use error::LiveError;
pub use metrics::LiveMetrics;
pub use segment::{SegmentRow, file_name, rendition_file};
pub(crate) use verbs::{NewSource, SourceChange};

use crate::db::now_ms;
use crate::storage::Reads;
use buffer::SegmentBuffer;
pub use sources::Lookup;
use sources::{SourceRow, Sources};

/// Live settings (`[live]`).
#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// Segments in a live playlist.
    pub window: usize,
    /// How long received segments are kept.
    pub buffer: Duration,
    /// Most bytes of segments kept per source (shared by its renditions); the oldest go first,
    /// whatever holds them.
    pub buffer_bytes: u64,
    /// Largest segment upload.
    pub max_segment_bytes: u64,
    /// Folder under which LiveMix-style playlists may point (`MPEG-TS-URI-Prefix`); `None`:
    /// that ingest is off.
    pub ingest_root: Option<PathBuf>,
    /// The source of a LiveMix playlist posted without `Video-Source-Name`.
    pub livemix_source: Option<String>,
    /// The segment folder of a LiveMix playlist posted without `MPEG-TS-URI-Prefix`.
    pub livemix_prefix: Option<String>,
    /// Every source's live playlist, segments and recordings play without a token.
    pub public: bool,
    /// Low-Latency HLS part target, ms; 0: learned from each rendition's first fragment.
    pub part_target_ms: u64,
    /// Most blocking reloads and parts asked for ahead held at once on this node; beyond, 503
    /// with `Retry-After` (`[live] max_held_reloads`).
    pub max_held: i64,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            window: defaults::WINDOW,
            buffer: defaults::BUFFER,
            buffer_bytes: defaults::BUFFER_BYTES as u64,
            max_segment_bytes: defaults::MAX_SEGMENT as u64,
            ingest_root: None,
            livemix_source: None,
            livemix_prefix: None,
            public: false,
            part_target_ms: 0,
            max_held: defaults::MAX_HELD,
        }
    }
}

/// What the node knows of one rendition of a source between requests.
#[derive(Debug)]
struct Channel {
    rendition: String,
    /// Segments in the buffer, by msn: the one way they enter and leave it.
    recent: SegmentBuffer,
    /// Discontinuities assigned ever (persisted in the rendition's row).
    discontinuities: u64,
    /// Encoder file names recently assigned (so a re-sent playlist does not assign twice).
    assigned: VecDeque<String>,
    last_encoder_sequence: Option<u64>,
    /// The encoder's latest playlist: a segment that finishes arriving after it is assigned then.
    last_playlist: Option<IngestPlaylist>,
    pending_discontinuity: bool,
    /// SHA-256 of the current init section and its stored file name.
    map: Option<(String, String)>,
    /// In a cluster whose bus is down: when the window was last read from the database.
    caught_up: Option<std::time::Instant>,
}

type SharedChannel = Arc<tokio::sync::Mutex<Channel>>;

/// Committed segments the cluster's sync may fall behind by before it skips some (the other
/// nodes read those from the database when the next one is announced).
const COMMITTED_QUEUE: usize = 1024;

/// Decides whether a segment older than the buffer must still be kept (on an edge: one that
/// an open recording needs and the control node has not confirmed).
pub trait Hold: Send + Sync + std::fmt::Debug {
    fn holds(&self, segment: &SegmentRow) -> bool;
    /// The segment left the buffer.
    fn dropped(&self, segment: &SegmentRow);
}

/// The live relay of a node: its fields are the live domain's own (the folder's files share
/// them); others go through its verbs, and a node is assembled with the `with_` methods.
#[derive(Debug)]
pub struct Live {
    sources: Sources,
    /// Where recordings go; `None` when no recordings bucket is configured.
    recordings: Option<recordings::Recordings>,
    settings: LiveSettings,
    db: AnyPool,
    dir: PathBuf,
    /// By (source id, rendition).
    channels: Mutex<HashMap<(String, String), SharedChannel>>,
    /// Sources whose every rendition has a channel loaded (see [`Live::all_channels`]).
    loaded: Mutex<HashSet<String>>,
    /// Bumped when sources or recordings change (edges long-poll on it).
    changes: tokio::sync::watch::Sender<u64>,
    /// Bumped when segments enter a buffer (an edge's forwarder waits on it).
    arrivals: tokio::sync::watch::Sender<u64>,
    /// Told every segment this node commits to a buffer (cluster sync listens, `shared.rs`).
    committed: tokio::sync::broadcast::Sender<buffer::Committed>,
    /// What keeps segments past the buffer; `None`: nothing does.
    hold: Option<Arc<dyn Hold>>,
    metrics: LiveMetrics,
    /// How stored segments are read (the node's byte budget).
    reads: Reads,
    /// The node's cluster engines (`shared.rs`); `None`: a single node.
    cluster: Option<Arc<crate::cluster::Cluster>>,
    /// Bumped when an ingest upload other than a segment is stored (a low-latency segment
    /// waits on it for its init section).
    stored: tokio::sync::watch::Sender<u64>,
    /// Published Low-Latency parts (`ll/published.rs`).
    ll: Arc<ll::published::LowLatency>,
}

impl Live {
    /// The relay over `db`, buffering under `DATA/live`, serving segments with `reads`.
    pub fn new(db: AnyPool, data_dir: &Path, settings: LiveSettings, reads: Reads) -> Self {
        let ll = Arc::new(ll::published::LowLatency::new(settings.part_target_ms));
        Self {
            sources: Sources::new(db.clone()),
            recordings: None,
            settings,
            dir: data_dir.join("live"),
            channels: Mutex::new(HashMap::new()),
            loaded: Mutex::new(HashSet::new()),
            changes: tokio::sync::watch::Sender::new(0),
            arrivals: tokio::sync::watch::Sender::new(0),
            committed: tokio::sync::broadcast::Sender::new(COMMITTED_QUEUE),
            hold: None,
            metrics: LiveMetrics::default(),
            reads,
            db,
            cluster: None,
            ll,
            stored: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Tells long-polling edges (on every node of the cluster) that sources or recordings
    /// changed.
    pub(crate) fn changed(&self) {
        self.changes.send_modify(|v| *v = v.wrapping_add(1));
        self.announce_change();
    }

    pub(crate) fn watch_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub(crate) fn watch_arrivals(&self) -> tokio::sync::watch::Receiver<u64> {
        self.arrivals.subscribe()
    }

    /// When the newest buffered segment of source `id` ends (ms since 1970).
    pub(crate) async fn last_segment_end_ms(&self, id: &str) -> Result<Option<i64>, LiveError> {
        Ok(buffer::last_end_ms(&self.db, id).await?)
    }

    /// The source with this id or name, looked up as `how` says ([`Lookup`], the one policy).
    /// What can be neither (a NUL, a slash, too long) is no source, without asking the
    /// database.
    pub async fn source(&self, id_or_name: &str, how: Lookup) -> Result<Arc<SourceRow>, LiveError> {
        if sources::validate_name(id_or_name).is_err() && !segment::is_source_id(id_or_name) {
            return Err(LiveError::NoSource(id_or_name.to_owned()));
        }
        self.sources
            .lookup(id_or_name, how)
            .await?
            .ok_or_else(|| LiveError::NoSource(id_or_name.to_owned()))
    }

    /// Counted on `metrics` (the node's registry) instead of a registry of its own.
    #[must_use]
    pub fn with_metrics(mut self, metrics: LiveMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Records into `recordings` (a control node or a single node).
    #[must_use]
    pub fn with_recordings(mut self, recordings: recordings::Recordings) -> Self {
        self.recordings = Some(recordings);
        self
    }

    /// Keeps the segments `hold` holds past the buffer (an edge: an open recording's).
    #[must_use]
    pub fn with_hold(mut self, hold: Arc<dyn Hold>) -> Self {
        self.hold = Some(hold);
        self
    }

    /// Shares its live state with the cluster's other nodes through `cluster`'s engines.
    #[must_use]
    pub(crate) fn with_cluster(mut self, cluster: Arc<crate::cluster::Cluster>) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// The registry of sources (and their renditions' counters).
    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    /// The relay's settings.
    pub fn settings(&self) -> &LiveSettings {
        &self.settings
    }

    /// The relay's metrics.
    pub fn metrics(&self) -> &LiveMetrics {
        &self.metrics
    }

    /// The node's cluster engines; `None`: a single node.
    pub(crate) fn cluster(&self) -> Option<&crate::cluster::Cluster> {
        self.cluster.as_deref()
    }

    /// Published Low-Latency parts.
    pub(crate) fn ll(&self) -> &ll::published::LowLatency {
        &self.ll
    }

    /// Where recordings go, if this node records.
    pub fn recordings(&self) -> Result<&recordings::Recordings, LiveError> {
        self.recordings
            .as_ref()
            .ok_or_else(|| LiveError::Conflict("no recordings bucket is configured".into()))
    }

    /// The channel of `rendition` of `source`, loaded from the database on first use.
    async fn channel(
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
    async fn load_channel(
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
    fn loaded_channel(&self, id: &str, rendition: &str) -> Option<SharedChannel> {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(id.to_owned(), rendition.to_owned()))
            .cloned()
    }

    /// The channel of `rendition` of `source`, admitting the rendition first when this node has
    /// not seen it (known to the database, or new within [`sources::MAX_RENDITIONS`]); `true`
    /// with it when it was admitted now.
    async fn admitted(
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
    async fn all_channels(&self, source: &SourceRow) -> Result<Vec<SharedChannel>, LiveError> {
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

    /// Copies `row` (in its source's buffer folder) into every recording that covers it.
    async fn add_to_recordings(&self, row: &SegmentRow) -> Result<(), LiveError> {
        if let Some(recordings) = &self.recordings {
            for rec in recordings.covering(row).await? {
                recordings
                    .add(&rec, row, &self.segments_dir(&row.source_id))
                    .await?;
            }
        }
        Ok(())
    }

    /// One more discontinuity in a live window (persisted, for DISCONTINUITY-SEQUENCE).
    async fn count_discontinuity(&self, id: &str, ch: &mut Channel) -> Result<(), LiveError> {
        self.sources.add_discontinuity(id, &ch.rendition).await?;
        ch.discontinuities += 1;
        Ok(())
    }

    /// Drops segments older than the buffer unless held, and the oldest beyond the byte
    /// budget whatever holds them (never the live window). The source's budget is shared
    /// evenly by its renditions, so a ladder stays within `buffer_bytes` in all.
    async fn prune(&self, id: &str, ch: &mut Channel) -> Result<(), LiveError> {
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
    async fn existing(
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
