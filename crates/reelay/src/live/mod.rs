//! The live relay on a node: HLS pushed by encoders is turned into a live window per source.
//!
//! Files of a source live under `DATA/live/<source id>/`: uploads land in `incoming/` (each
//! committed by an atomic rename when its body ends, so a half-received segment is never
//! used), and a segment moves to `segments/<msn>.<ext>` when a pushed playlist lists it —
//! in playlist order, stopping at the first segment still arriving (ffmpeg PUTs the playlist
//! right after each segment, and may name one whose upload has not finished). Media sequence
//! numbers are assigned per source from the database, so they never go backwards; an encoder
//! that restarts (its media sequence goes back) starts a discontinuity. An fMP4 init section
//! is kept as `segments/init-<msn>.mp4`, a new one whenever its bytes change.
//!
//! Segments stay for `buffer` (default 10 minutes) after they are received, far longer than
//! the playlist window, so a segment that left the window is still fetchable; on an edge, a
//! [`Hold`] keeps the ones recordings still need past that age, and `buffer_bytes` bounds it
//! all. Segments forwarded by edges enter through `forwarded.rs`; the playlist window and the
//! start of a recording are in `window.rs`.

pub mod forwarded;
pub mod http;
pub mod recordings;
pub mod sources;
mod window;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reelay_hls::IngestPlaylist;
use sqlx::AnyPool;

use crate::storage::StorageError;
use crate::storage::fs::FsBucket;
use sources::{SourceRow, Sources};

/// Live settings (`[live]`).
#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// Segments in a live playlist.
    pub window: usize,
    /// How long received segments are kept.
    pub buffer: Duration,
    /// Most bytes of segments kept per source; the oldest go first, whatever holds them.
    pub buffer_bytes: u64,
    /// Largest segment upload.
    pub max_segment_bytes: u64,
    /// Folder under which LiveMix-style playlists may point (`MPEG-TS-URI-Prefix`); `None`:
    /// that ingest is off.
    pub ingest_root: Option<PathBuf>,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            window: 6,
            buffer: Duration::from_secs(600),
            buffer_bytes: 4 << 30,
            max_segment_bytes: 64 << 20,
            ingest_root: None,
        }
    }
}

/// A segment in a source's buffer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SegmentRow {
    pub source_id: String,
    pub msn: i64,
    pub file: String,
    pub duration_ms: i64,
    pub discontinuity: i64,
    pub pdt_ms: i64,
    pub map_file: Option<String>,
    pub bytes: i64,
}

/// What the node knows of one source between requests.
#[derive(Debug)]
struct Channel {
    /// Segments in the buffer, by msn.
    recent: VecDeque<SegmentRow>,
    /// Discontinuities assigned ever (persisted in the sources row).
    discontinuities: u64,
    /// Encoder file names recently assigned (so a re-sent playlist does not assign twice).
    assigned: VecDeque<String>,
    last_encoder_sequence: Option<u64>,
    /// The encoder's latest playlist: a segment that finishes arriving after it is assigned then.
    last_playlist: Option<IngestPlaylist>,
    pending_discontinuity: bool,
    /// SHA-256 of the current init section and its stored file name.
    map: Option<(String, String)>,
    segments: Arc<FsBucket>,
}

impl Channel {
    fn bytes(&self) -> u64 {
        self.recent
            .iter()
            .map(|r| u64::try_from(r.bytes).unwrap_or(0))
            .sum()
    }
}

/// Decides whether a segment older than the buffer must still be kept (on an edge: one that
/// an open recording needs and the control node has not confirmed).
pub trait Hold: Send + Sync + std::fmt::Debug {
    fn holds(&self, segment: &SegmentRow) -> bool;
    /// The segment left the buffer.
    fn dropped(&self, segment: &SegmentRow);
}

#[derive(Debug)]
pub struct Live {
    pub sources: Sources,
    /// Where recordings go; `None` when no recordings bucket is configured.
    pub recordings: Option<recordings::Recordings>,
    pub settings: LiveSettings,
    db: AnyPool,
    dir: PathBuf,
    channels: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Channel>>>>,
    /// Bumped when sources or recordings change (edges long-poll on it).
    changes: tokio::sync::watch::Sender<u64>,
    /// Bumped when segments enter a buffer (an edge's forwarder waits on it).
    arrivals: tokio::sync::watch::Sender<u64>,
    /// What keeps segments past the buffer; `None`: nothing does.
    pub hold: Option<Arc<dyn Hold>>,
    /// Edge nodes that forward to this node.
    pub edges: crate::relay::edges::Edges,
    pub metrics: crate::relay::metrics::RelayMetrics,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn io_err(e: std::io::Error) -> StorageError {
    StorageError::Io(e)
}

impl Live {
    pub fn new(db: AnyPool, data_dir: &Path, settings: LiveSettings) -> Self {
        Self {
            sources: Sources::new(db.clone()),
            recordings: None,
            settings,
            dir: data_dir.join("live"),
            channels: Mutex::new(HashMap::new()),
            changes: tokio::sync::watch::Sender::new(0),
            arrivals: tokio::sync::watch::Sender::new(0),
            hold: None,
            edges: crate::relay::edges::Edges::new(db.clone(), Default::default()),
            metrics: Default::default(),
            db,
        }
    }

    /// Tells long-polling edges that sources or recordings changed.
    pub fn changed(&self) {
        self.changes.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub fn watch_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub fn watch_arrivals(&self) -> tokio::sync::watch::Receiver<u64> {
        self.arrivals.subscribe()
    }

    /// The segments in `source`'s buffer, oldest first.
    pub async fn buffered(&self, source: &SourceRow) -> Result<Vec<SegmentRow>, StorageError> {
        let channel = self.channel(source).await?;
        let ch = channel.lock().await;
        Ok(ch.recent.iter().cloned().collect())
    }

    /// When the newest buffered segment of source `id` ends (ms since 1970).
    pub async fn last_segment_end_ms(&self, id: &str) -> Result<Option<i64>, StorageError> {
        let (end,): (Option<i64>,) = sqlx::query_as(
            "SELECT MAX(pdt_ms + duration_ms) FROM live_segments WHERE source_id = $1",
        )
        .bind(id)
        .fetch_one(&self.db)
        .await
        .map_err(db_err)?;
        Ok(end)
    }

    /// Where `source`'s buffered segment files are.
    pub fn segment_path(&self, source_id: &str, file: &str) -> PathBuf {
        self.segments_dir(source_id).join(file)
    }

    pub fn incoming_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id).join("incoming")
    }

    fn segments_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id).join("segments")
    }

    /// The channel of `source`, loaded from the database on first use.
    async fn channel(
        &self,
        source: &SourceRow,
    ) -> Result<Arc<tokio::sync::Mutex<Channel>>, StorageError> {
        if let Some(c) = self
            .channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&source.id)
        {
            return Ok(c.clone());
        }
        let seg_dir = self.segments_dir(&source.id);
        std::fs::create_dir_all(&seg_dir).map_err(io_err)?;
        std::fs::create_dir_all(self.incoming_dir(&source.id)).map_err(io_err)?;
        let rows: Vec<SegmentRow> = sqlx::query_as(
            "SELECT source_id, msn, file, duration_ms, discontinuity, pdt_ms, map_file, bytes \
             FROM live_segments WHERE source_id = $1 ORDER BY msn",
        )
        .bind(&source.id)
        .fetch_all(&self.db)
        .await
        .map_err(|e| StorageError::Backend(format!("live segments: {e}")))?;
        let channel = Channel {
            map: rows
                .last()
                .and_then(|r| r.map_file.clone())
                .map(|f| (String::new(), f)),
            // After a restart (or, on an edge, a wiped disk: the source has history but no
            // buffer) the next segment starts a new stream for players.
            pending_discontinuity: !rows.is_empty() || source.next_msn > 0,
            recent: rows.into(),
            discontinuities: u64::try_from(source.discontinuities).unwrap_or(0),
            assigned: VecDeque::new(),
            last_encoder_sequence: None,
            last_playlist: None,
            segments: Arc::new(FsBucket::open(&seg_dir).map_err(io_err)?),
        };
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        Ok(channels
            .entry(source.id.clone())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(channel)))
            .clone())
    }

    /// Forgets a deleted source's state and files.
    pub fn drop_source(&self, id: &str) {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        let _ = std::fs::remove_dir_all(self.dir.join(id));
    }

    /// Takes a pushed playlist and assigns sequence numbers to its segments that have arrived.
    pub async fn accept_playlist(
        &self,
        source: &SourceRow,
        playlist: IngestPlaylist,
    ) -> Result<usize, StorageError> {
        let channel = self.channel(source).await?;
        let mut ch = channel.lock().await;
        if ch
            .last_encoder_sequence
            .is_some_and(|last| playlist.media_sequence < last)
        {
            // The encoder restarted: its file names start over, and so does its timeline.
            ch.pending_discontinuity = true;
            ch.assigned.clear();
        }
        ch.last_encoder_sequence = Some(playlist.media_sequence);
        ch.last_playlist = Some(playlist);
        self.assign(source, &mut ch).await
    }

    /// The segments (and init section) of `playlist` not yet taken into the buffer.
    pub async fn missing_files(
        &self,
        source: &SourceRow,
        playlist: &IngestPlaylist,
    ) -> Result<Vec<String>, StorageError> {
        let channel = self.channel(source).await?;
        let ch = channel.lock().await;
        let incoming = self.incoming_dir(&source.id);
        let mut names: Vec<String> = playlist.map_uri.iter().cloned().collect();
        names.extend(
            playlist
                .segments
                .iter()
                .filter(|s| !ch.assigned.contains(&s.uri))
                .map(|s| s.uri.clone()),
        );
        names.retain(|n| !incoming.join(n).exists());
        Ok(names)
    }

    /// A segment upload was committed: assign it if the latest playlist was waiting for it.
    pub async fn segment_arrived(&self, source: &SourceRow) -> Result<usize, StorageError> {
        let channel = self.channel(source).await?;
        let mut ch = channel.lock().await;
        self.assign(source, &mut ch).await
    }

    /// Assigns sequence numbers to the latest playlist's segments, in order, up to the first
    /// one still arriving.
    async fn assign(&self, source: &SourceRow, ch: &mut Channel) -> Result<usize, StorageError> {
        let Some(playlist) = ch.last_playlist.clone() else {
            return Ok(0);
        };
        let incoming = self.incoming_dir(&source.id);
        let mut accepted = 0;
        for seg in &playlist.segments {
            if ch.assigned.contains(&seg.uri) {
                continue;
            }
            let path = incoming.join(&seg.uri);
            let Ok(stat) = std::fs::metadata(&path) else {
                break; // still arriving: later segments wait for it
            };
            let map_file = match &playlist.map_uri {
                Some(map) => Some(self.current_map(source, ch, &incoming.join(map))?),
                None => None,
            };
            let msn = self.sources.take_msn(&source.id).await.map_err(db_err)?;
            let ext = seg.uri.rsplit_once('.').map_or("ts", |(_, e)| e);
            let file = format!("{msn}.{ext}");
            std::fs::rename(&path, self.segments_dir(&source.id).join(&file)).map_err(io_err)?;
            let discontinuity = seg.discontinuity || std::mem::take(&mut ch.pending_discontinuity);
            if discontinuity {
                self.count_discontinuity(&source.id, ch).await?;
            }
            let received = stat
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or_else(now_ms, |d| i64::try_from(d.as_millis()).unwrap_or(0));
            let row = SegmentRow {
                source_id: source.id.clone(),
                msn: i64::try_from(msn).unwrap_or(i64::MAX),
                file,
                duration_ms: i64::try_from(seg.duration_ms).unwrap_or(0),
                discontinuity: i64::from(discontinuity),
                pdt_ms: received - i64::try_from(seg.duration_ms).unwrap_or(0),
                map_file,
                bytes: i64::try_from(stat.len()).unwrap_or(0),
            };
            self.record(&row).await?;
            self.add_to_recordings(&row).await?;
            ch.recent.push_back(row);
            ch.assigned.push_back(seg.uri.clone());
            if ch.assigned.len() > 512 {
                ch.assigned.pop_front();
            }
            accepted += 1;
            self.metrics.ingested.inc();
        }
        self.prune(&source.id, ch).await?;
        if accepted > 0 {
            self.arrivals.send_modify(|v| *v = v.wrapping_add(1));
        }
        Ok(accepted)
    }

    /// Copies `row` (in its source's buffer folder) into every recording that covers it.
    async fn add_to_recordings(&self, row: &SegmentRow) -> Result<(), StorageError> {
        if let Some(recordings) = &self.recordings {
            for rec in recordings.covering(row).await? {
                recordings
                    .add(&rec, row, &self.segments_dir(&row.source_id))
                    .await?;
            }
        }
        Ok(())
    }

    /// One more discontinuity in `id`'s live window (persisted, for DISCONTINUITY-SEQUENCE).
    async fn count_discontinuity(&self, id: &str, ch: &mut Channel) -> Result<(), StorageError> {
        self.sources.add_discontinuity(id).await.map_err(db_err)?;
        ch.discontinuities += 1;
        Ok(())
    }

    async fn record(&self, row: &SegmentRow) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO live_segments (source_id, msn, file, duration_ms, discontinuity, pdt_ms, map_file, bytes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&row.source_id)
        .bind(row.msn)
        .bind(&row.file)
        .bind(row.duration_ms)
        .bind(row.discontinuity)
        .bind(row.pdt_ms)
        .bind(&row.map_file)
        .bind(row.bytes)
        .execute(&self.db)
        .await
        .map_err(db_err)
        .map(|_| ())
    }

    /// The stored init section for the encoder's current one, stored anew when its bytes change.
    fn current_map(
        &self,
        source: &SourceRow,
        ch: &mut Channel,
        incoming_map: &Path,
    ) -> Result<String, StorageError> {
        let bytes = std::fs::read(incoming_map).map_err(|_| {
            StorageError::ClientBody(
                "the playlist names an init section that was not uploaded".into(),
            )
        })?;
        let digest = crate::auth::token::hash_secret(&crate::hex::encode(&bytes));
        if let Some((hash, file)) = &ch.map
            && *hash == digest
        {
            return Ok(file.clone());
        }
        let file = format!("init-{}.mp4", crate::observe::random_u64());
        std::fs::write(self.segments_dir(&source.id).join(&file), &bytes).map_err(io_err)?;
        ch.map = Some((digest, file.clone()));
        Ok(file)
    }

    /// Drops segments older than the buffer unless held, and the oldest beyond the byte
    /// budget whatever holds them (never the live window).
    async fn prune(&self, id: &str, ch: &mut Channel) -> Result<(), StorageError> {
        let horizon =
            now_ms() - i64::try_from(self.settings.buffer.as_millis()).unwrap_or(i64::MAX);
        let mut bytes = ch.bytes();
        while ch.recent.len() > self.settings.window {
            let Some(front) = ch.recent.front() else {
                break;
            };
            let expired = front.pdt_ms + front.duration_ms < horizon
                && !self.hold.as_ref().is_some_and(|h| h.holds(front));
            if !expired && bytes <= self.settings.buffer_bytes {
                break;
            }
            let Some(old) = ch.recent.pop_front() else {
                break;
            };
            bytes = bytes.saturating_sub(u64::try_from(old.bytes).unwrap_or(0));
            if let Some(hold) = &self.hold {
                hold.dropped(&old);
            }
            let _ = std::fs::remove_file(self.segments_dir(id).join(&old.file));
            sqlx::query("DELETE FROM live_segments WHERE source_id = $1 AND msn = $2")
                .bind(id)
                .bind(old.msn)
                .execute(&self.db)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }

    /// The folder of `source`'s stored segments, for serving them.
    pub async fn segments(&self, source: &SourceRow) -> Result<Arc<FsBucket>, StorageError> {
        let channel = self.channel(source).await?;
        let ch = channel.lock().await;
        Ok(ch.segments.clone())
    }
}

fn db_err(e: sqlx::Error) -> StorageError {
    StorageError::Backend(format!("metadata database: {e}"))
}
