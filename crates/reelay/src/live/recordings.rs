//! Recordings: a source's segments from `start` (which may lie in the past, within the buffer)
//! to `end`, copied into the recordings bucket under deterministic keys
//! (`<source id>/<msn>.<ext>`, shared by overlapping recordings), with a row per segment.
//! Only segments that overlap `[start, end]` belong to a recording. Deleting a recording
//! removes the objects no other recording uses.

use bytes::Bytes;
use reelay_hls::{MediaPlaylist, PlaylistKind, PlaylistSegment};
use sqlx::AnyPool;
use tokio::io::AsyncReadExt;

use super::error::LiveError;
use super::segment::{SegmentRow, file_name, rendition_file};
use super::sources::PRIMARY;
use crate::db::now_unix;
use crate::storage::{Bucket, ObjectKey};
use crate::stream::body_of;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecordingRow {
    pub id: String,
    pub source_id: String,
    pub alias: String,
    pub description: String,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct RecordedSegment {
    pub(crate) rendition: String,
    pub(crate) msn: i64,
    pub(crate) object_key: String,
    pub(crate) duration_ms: i64,
    pub(crate) discontinuity: i64,
    pub(crate) pdt_ms: i64,
    pub(crate) map_key: Option<String>,
    pub(crate) bytes: i64,
}

/// Recording keys are built from ids and plain file names, so they always parse.
fn object_key(key: &str) -> Result<ObjectKey, LiveError> {
    ObjectKey::parse(key).map_err(|e| LiveError::Internal(format!("recording key {key:?}: {e}")))
}

/// Where recordings are kept, and their rows.
#[derive(Debug, Clone)]
pub struct Recordings {
    pub db: AnyPool,
    pub bucket: Bucket,
}

impl Recordings {
    pub async fn create(
        &self,
        source_id: &str,
        alias: &str,
        description: &str,
        start_ms: i64,
    ) -> Result<RecordingRow, LiveError> {
        let id = crate::random::id("rec_")?;
        let row = RecordingRow {
            id,
            source_id: source_id.to_owned(),
            alias: alias.to_owned(),
            description: description.to_owned(),
            start_ms,
            end_ms: None,
            created_at: now_unix(),
        };
        sqlx::query(
            "INSERT INTO recordings (id, source_id, alias, description, start_ms, end_ms, created_at) \
             VALUES ($1, $2, $3, $4, $5, NULL, $6)",
        )
        .bind(&row.id)
        .bind(&row.source_id)
        .bind(&row.alias)
        .bind(&row.description)
        .bind(row.start_ms)
        .bind(row.created_at)
        .execute(&self.db)
        .await?;
        Ok(row)
    }

    pub async fn get(&self, id: &str) -> Result<Option<RecordingRow>, LiveError> {
        sqlx::query_as("SELECT id, source_id, alias, description, start_ms, end_ms, created_at FROM recordings WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.db)
            .await
            .map_err(LiveError::from)
    }

    pub async fn list(&self, source_id: Option<&str>) -> Result<Vec<RecordingRow>, LiveError> {
        sqlx::query_as(
            "SELECT id, source_id, alias, description, start_ms, end_ms, created_at FROM recordings \
             WHERE $1 IS NULL OR source_id = $1 ORDER BY start_ms, id",
        )
        .bind(source_id)
        .fetch_all(&self.db)
        .await
        .map_err(LiveError::from)
    }

    /// The recordings `segment` belongs to: it overlaps `[start, end)` (open: no end yet).
    pub(crate) async fn covering(
        &self,
        segment: &SegmentRow,
    ) -> Result<Vec<RecordingRow>, LiveError> {
        sqlx::query_as(
            "SELECT id, source_id, alias, description, start_ms, end_ms, created_at FROM recordings \
             WHERE source_id = $1 AND start_ms < $2 AND (end_ms IS NULL OR end_ms > $3)",
        )
        .bind(&segment.source_id)
        .bind(segment.pdt_ms.saturating_add(segment.duration_ms))
        .bind(segment.pdt_ms)
        .fetch_all(&self.db)
        .await
        .map_err(LiveError::from)
    }

    /// Recordings still open, or stopped at `since_ms` or later (an edge may still hold
    /// segments for them).
    pub(crate) async fn open_or_ended_since(
        &self,
        since_ms: i64,
    ) -> Result<Vec<RecordingRow>, LiveError> {
        sqlx::query_as(
            "SELECT id, source_id, alias, description, start_ms, end_ms, created_at FROM recordings \
             WHERE end_ms IS NULL OR end_ms >= $1 ORDER BY start_ms, id",
        )
        .bind(since_ms)
        .fetch_all(&self.db)
        .await
        .map_err(LiveError::from)
    }

    pub(crate) async fn stop(&self, id: &str, end_ms: i64) -> Result<(), LiveError> {
        sqlx::query("UPDATE recordings SET end_ms = $1 WHERE id = $2 AND end_ms IS NULL")
            .bind(end_ms)
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Copies one buffered segment (and its init section) into the bucket and records it.
    pub(crate) async fn add(
        &self,
        recording: &RecordingRow,
        segment: &SegmentRow,
        segments_dir: &std::path::Path,
    ) -> Result<(), LiveError> {
        let key = format!("{}/{}", segment.source_id, segment.file);
        self.store(&key, &segments_dir.join(&segment.file)).await?;
        let map_key = match &segment.map_file {
            Some(map) => {
                let key = format!("{}/{map}", segment.source_id);
                self.store(&key, &segments_dir.join(map)).await?;
                Some(key)
            }
            None => None,
        };
        sqlx::query(
            "INSERT INTO recording_segments (recording_id, rendition, msn, object_key, duration_ms, \
             discontinuity, pdt_ms, map_key, bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&recording.id)
        .bind(&segment.rendition)
        .bind(segment.msn)
        .bind(&key)
        .bind(segment.duration_ms)
        .bind(segment.discontinuity)
        .bind(segment.pdt_ms)
        .bind(map_key)
        .bind(segment.bytes)
        .execute(&self.db)
        .await?;
        Ok(())
    }

    /// Puts a buffered file into the bucket (once: keys are deterministic).
    async fn store(&self, key: &str, path: &std::path::Path) -> Result<(), LiveError> {
        let key = object_key(key)?;
        if self.bucket.open(&key).await.is_ok() {
            return Ok(());
        }
        // Segments are bounded by `live.max_segment`, so one read is fine here.
        let mut buf = Vec::new();
        tokio::fs::File::open(path)
            .await?
            .read_to_end(&mut buf)
            .await?;
        self.bucket
            .put(&key, body_of(Bytes::from(buf)), u64::MAX)
            .await?;
        Ok(())
    }

    /// Every recorded segment of recording `id`, by rendition then sequence number.
    pub(crate) async fn segments(&self, id: &str) -> Result<Vec<RecordedSegment>, LiveError> {
        sqlx::query_as(
            "SELECT rendition, msn, object_key, duration_ms, discontinuity, pdt_ms, map_key, bytes \
             FROM recording_segments WHERE recording_id = $1 ORDER BY rendition, msn",
        )
        .bind(id)
        .fetch_all(&self.db)
        .await
        .map_err(LiveError::from)
    }

    /// The replay playlist at `/recordings/{id}/index.m3u8`: the media playlist of its one
    /// rendition, or a multivariant playlist over its renditions (the source's pushed one cut
    /// to them, `pushed`, or one derived from what was recorded).
    pub(crate) async fn replay_playlist(
        &self,
        recording: &RecordingRow,
        target_floor: u64,
        pushed: Option<&str>,
        suffix: &str,
    ) -> Result<String, LiveError> {
        let segments = self.segments(&recording.id).await?;
        let mut renditions: Vec<String> = segments.iter().map(|s| s.rendition.clone()).collect();
        renditions.dedup();
        match renditions.as_slice() {
            [] => Ok(self.render(recording, &[], target_floor, "", suffix)),
            [only] if pushed.is_none() || only == PRIMARY => {
                let prefix = rendition_file(only, "");
                Ok(self.render(recording, &segments, target_floor, &prefix, suffix))
            }
            _ => {
                let rated: Vec<(String, (u64, u64))> = renditions
                    .into_iter()
                    .map(|r| {
                        let rows: Vec<SegmentRow> = segments
                            .iter()
                            .filter(|s| s.rendition == r)
                            .map(|s| s.as_rates())
                            .collect();
                        let rates = super::ladder::bitrates(&rows);
                        (r, rates)
                    })
                    .collect();
                Ok(super::ladder::multivariant_text(pushed, &rated, suffix))
            }
        }
    }

    /// The replay media playlist of `rendition`: EVENT while open, VOD once stopped.
    pub(crate) async fn rendition_playlist(
        &self,
        recording: &RecordingRow,
        rendition: &str,
        target_floor: u64,
        suffix: &str,
    ) -> Result<String, LiveError> {
        let mut segments = self.segments(&recording.id).await?;
        segments.retain(|s| s.rendition == rendition);
        if segments.is_empty() {
            return Err(LiveError::NoRecording(format!(
                "{}/{rendition}",
                recording.id
            )));
        }
        Ok(self.render(recording, &segments, target_floor, "", suffix))
    }

    fn render(
        &self,
        recording: &RecordingRow,
        segments: &[RecordedSegment],
        target_floor: u64,
        prefix: &str,
        suffix: &str,
    ) -> String {
        let playlist = MediaPlaylist {
            kind: if recording.end_ms.is_some() {
                PlaylistKind::Vod
            } else {
                PlaylistKind::Event
            },
            media_sequence: 0,
            discontinuity_sequence: 0,
            target_floor,
            segments: segments
                .iter()
                .enumerate()
                .map(|(i, s)| PlaylistSegment {
                    uri: format!("{prefix}{}{suffix}", file_name(&s.object_key)),
                    duration_ms: u64::try_from(s.duration_ms).unwrap_or(0),
                    // A gap in sequence numbers is a discontinuity too.
                    discontinuity: s.discontinuity != 0
                        || (i > 0 && segments[i - 1].msn + 1 != s.msn),
                    program_date_time_ms: Some(s.pdt_ms),
                    map_uri: s
                        .map_key
                        .as_deref()
                        .map(|m| format!("{prefix}{}{suffix}", file_name(m))),
                })
                .collect(),
        };
        playlist.render()
    }

    /// Deletes a recording, and the objects no other recording uses.
    pub(crate) async fn delete(&self, id: &str) -> Result<(), LiveError> {
        let segments = self.segments(id).await?;
        sqlx::query("DELETE FROM recording_segments WHERE recording_id = $1")
            .bind(id)
            .execute(&self.db)
            .await?;
        sqlx::query("DELETE FROM recordings WHERE id = $1")
            .bind(id)
            .execute(&self.db)
            .await?;
        let mut keys: Vec<String> = segments.iter().map(|s| s.object_key.clone()).collect();
        keys.extend(segments.iter().filter_map(|s| s.map_key.clone()));
        keys.sort();
        keys.dedup();
        for key in keys {
            let (used,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM recording_segments WHERE object_key = $1 OR map_key = $1",
            )
            .bind(&key)
            .fetch_one(&self.db)
            .await?;
            if used == 0 {
                let _ = self.bucket.delete(&object_key(&key)?).await;
            }
        }
        Ok(())
    }
}

impl RecordedSegment {
    /// What bitrate measurement needs of it.
    fn as_rates(&self) -> SegmentRow {
        SegmentRow {
            source_id: String::new(),
            rendition: self.rendition.clone(),
            msn: self.msn,
            file: String::new(),
            duration_ms: self.duration_ms,
            discontinuity: 0,
            pdt_ms: self.pdt_ms,
            map_file: None,
            bytes: self.bytes,
        }
    }
}
