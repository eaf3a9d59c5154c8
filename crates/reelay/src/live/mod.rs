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
//! all (per source: its renditions share it). What the node knows of each rendition between
//! requests is its channel (`channels.rs`), whose segment buffer (`buffer.rs`) is the one way a
//! segment enters or leaves. Encoders' pushes enter through `ingest.rs`
//! (LiveMix's folder playlists too), segments forwarded by edges through `forwarded.rs`; the
//! playlist window and the start of a recording are in `window.rs`; Low-Latency HLS (parts cut
//! from streaming fMP4 uploads, LL playlists, blocking reloads) in `ll/ingest.rs`,
//! `ll/published.rs` and `ll/view.rs`. This file is the façade: the settings, the `Live` type,
//! how a node assembles it, the source lookup. Nothing here knows HTTP: bodies arrive as
//! [`BodyStream`](crate::stream::BodyStream)s and failures leave as [`LiveError`]s.

mod buffer;
mod bus_note;
mod channels;
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
pub(crate) mod verbs;
pub mod view;
mod window;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::defaults::live as defaults;
use sqlx::AnyPool;

pub use error::LiveError;
pub use metrics::LiveMetrics;
pub use segment::{SegmentRow, file_name, rendition_file};

use crate::storage::Reads;
use channels::{Channel, SharedChannel};
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
}
