//! Encoders' pushes into a source's buffer: segment files and playlists (ffmpeg's HLS muxer,
//! `PUT|POST /ingest/{source}/{file}`), and LiveMix's playlists naming a folder its segments
//! were written to (`POST /v1/playlist`). Segment bodies are stored through the fs backend's
//! upload path (a temporary file renamed into `incoming/` when the body ends, never following a
//! link); a playlist assigns sequence numbers to the segments it lists, in order, up to the first
//! one still arriving.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use reelay_hls::{
    IngestPlaylist, is_multivariant, is_plain_name, is_rendition_name, parse_ingest_playlist,
    parse_multivariant,
};
use sha2::{Digest, Sha256};

use super::segment::rendition_file;
use super::sources::{PRIMARY, SourceRow};
use super::{Channel, Live, LiveError, SegmentRow};
use crate::db::now_ms;
use crate::stream::{BodyStream, Limited, body_of};

/// What an ingest upload was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ingested {
    Playlist,
    Segment,
}

/// A segment whose bytes are complete, about to enter a rendition's buffer.
pub(super) struct Arrived<'a> {
    pub(crate) path: &'a Path,
    /// The encoder's name for it (so a playlist naming it again does not assign it twice).
    pub(crate) encoder_uri: &'a str,
    pub(crate) duration_ms: u64,
    pub(crate) discontinuity: bool,
    pub(crate) map_file: Option<String>,
    pub(crate) msn: u64,
    /// When its first frame was produced, by the encoder's clock (an fMP4 `prft`), unix ms.
    pub(crate) produced_ms: Option<i64>,
}

/// Largest DASH manifest read (and dropped) from a streaming-DASH push.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// Ingest file names are plain names like `index3.ts`.
pub(crate) fn check_file_name(file: &str) -> Result<(), LiveError> {
    if is_plain_name(file) {
        Ok(())
    } else {
        Err(LiveError::Invalid(
            "ingest file names are plain names like index3.ts".into(),
        ))
    }
}

/// Reads a pushed playlist (bounded).
async fn read_playlist_bytes(body: BodyStream) -> Result<Vec<u8>, LiveError> {
    let max = reelay_hls::ingest::MAX_PLAYLIST_BYTES as u64;
    Ok(Limited::new(body, max).collect().await?)
}

/// Parses a media playlist strictly (400 on anything hostile).
fn media_playlist(bytes: &[u8]) -> Result<IngestPlaylist, LiveError> {
    parse_ingest_playlist(bytes).map_err(|e| LiveError::Invalid(e.to_string()))
}

/// Reads and parses a pushed media playlist.
async fn read_playlist(body: BodyStream) -> Result<IngestPlaylist, LiveError> {
    media_playlist(&read_playlist_bytes(body).await?)
}

/// The rendition a media playlist pushed as `file` feeds: its name without `.m3u8`.
fn rendition_of(file: &str) -> Result<&str, LiveError> {
    if !is_rendition_name(file) {
        return Err(LiveError::Invalid(
            "playlist names are 1-64 of A-Z a-z 0-9 _ - then .m3u8".into(),
        ));
    }
    Ok(file.trim_end_matches(".m3u8"))
}

impl Live {
    /// Takes `file` of `source` from an encoder: a playlist (`.m3u8`) or a segment.
    pub(crate) async fn ingest(
        &self,
        source: &SourceRow,
        file: &str,
        body: BodyStream,
    ) -> Result<Ingested, LiveError> {
        check_file_name(file)?;
        self.note_direct_feed(source).await?;
        if file.ends_with(".m3u8") {
            let bytes = read_playlist_bytes(body).await?;
            if is_multivariant(&bytes) {
                self.keep_multivariant(source, &bytes).await?;
            } else {
                let rendition = self.rendition_for(source, file).await?;
                self.accept_playlist(source, &rendition, media_playlist(&bytes)?)
                    .await?;
            }
            return Ok(Ingested::Playlist);
        }
        if file.ends_with(".mpd") {
            // The DASH muxer's manifest: its HLS playlists say the same, and are what is read.
            let _ = Limited::new(body, MAX_MANIFEST_BYTES).collect().await?;
            return Ok(Ingested::Playlist);
        }
        if let Some(stream) = reelay_hls::dash_chunk_stream(file) {
            return self.ingest_ll_chunk(source, file, stream, body).await;
        }
        let max = self.settings.max_segment_bytes;
        Self::store_body(&self.incoming_dir(&source.id), file, body, max).await?;
        self.stored.send_modify(|v| *v = v.wrapping_add(1));
        self.segment_arrived(source).await?;
        Ok(Ingested::Segment)
    }

    /// The rendition a media playlist pushed as `file` feeds; a new one counts against the
    /// source's limit.
    async fn rendition_for(&self, source: &SourceRow, file: &str) -> Result<String, LiveError> {
        let rendition = rendition_of(file)?;
        let (_, admitted) = self.admitted(source, rendition).await?;
        // A new rendition the pushed multivariant playlist does not list: the encoder changed
        // its ladder (or went back to one playlist), and that multivariant no longer describes
        // it.
        let listed = |text: &str| {
            parse_multivariant(text.as_bytes()).is_ok_and(|m| m.renditions().contains(&file))
        };
        if admitted && source.multivariant.as_deref().is_some_and(|m| !listed(m)) {
            self.sources.clear_multivariant(&source.id).await?;
        }
        Ok(rendition.to_owned())
    }

    /// A multivariant playlist forwarded by an edge (`body`): validated, and kept as the
    /// source's.
    pub(crate) async fn accept_multivariant(
        &self,
        source: &SourceRow,
        body: BodyStream,
    ) -> Result<(), LiveError> {
        let bytes = read_playlist_bytes(body).await?;
        if !is_multivariant(&bytes) {
            return Err(LiveError::Invalid("not a multivariant playlist".into()));
        }
        self.keep_multivariant(source, &bytes).await
    }

    /// A pushed multivariant playlist: validated, and kept as the source's.
    async fn keep_multivariant(&self, source: &SourceRow, bytes: &[u8]) -> Result<(), LiveError> {
        parse_multivariant(bytes).map_err(|e| LiveError::Invalid(e.to_string()))?;
        let text = std::str::from_utf8(bytes).map_err(|e| LiveError::Invalid(e.to_string()))?;
        self.sources.set_multivariant(&source.id, text).await?;
        Ok(())
    }

    /// The encoder dropped `file` (it no longer lists it).
    pub(crate) async fn ingest_delete(
        &self,
        source: &SourceRow,
        file: &str,
    ) -> Result<(), LiveError> {
        check_file_name(file)?;
        let _ = tokio::fs::remove_file(self.incoming_dir(&source.id).join(file)).await;
        Ok(())
    }

    /// An encoder feeds `source` here directly: unless an edge feeds it, no edge may claim it
    /// from now on (`relay::control`).
    async fn note_direct_feed(&self, source: &SourceRow) -> Result<(), LiveError> {
        if source.fed_directly == 0 && source.edge_id.is_none() {
            self.sources.mark_fed_directly(&source.id).await?;
        }
        Ok(())
    }

    /// A LiveMix playlist for `source`, its segments in the folder `prefix` names
    /// (`file:///dir`, which must lie inside `[live] ingest_root`).
    ///
    /// One playlist of a source at a time, from reading its files to assigning them: ffmpeg
    /// sends the next playlist without waiting for the answer to this one, so an encoder
    /// faster than real time has several in flight, each naming the segments the others name.
    pub(crate) async fn livemix_playlist(
        &self,
        source: &SourceRow,
        prefix: &str,
        body: BodyStream,
    ) -> Result<(), LiveError> {
        let root = self.livemix_root()?;
        let dir = livemix_dir(root, prefix)?;
        self.note_direct_feed(source).await?;
        let playlist = read_playlist(body).await?;
        let incoming = self.incoming_dir(&source.id);
        let max = self.settings.max_segment_bytes;
        let channel = self.channel(source, PRIMARY).await?;
        let mut ch = channel.lock().await;
        for file in missing_files(&ch, &incoming, &playlist) {
            let (dir, name) = (dir.clone(), file.clone());
            let bytes = tokio::task::spawn_blocking(move || read_beside(&dir, &name, max))
                .await
                .map_err(|e| LiveError::Internal(e.to_string()))??;
            if let Some(bytes) = bytes {
                Self::store_body(&incoming, &file, body_of(bytes), max).await?;
            }
        }
        self.take_playlist(source, &mut ch, playlist).await?;
        Ok(())
    }

    /// The folder LiveMix playlists may point into.
    pub(crate) fn livemix_root(&self) -> Result<&Path, LiveError> {
        self.settings
            .ingest_root
            .as_deref()
            .ok_or(LiveError::NotConfigured(
                "LiveMix ingest is not configured ([live] ingest_root)",
            ))
    }

    /// Takes a pushed playlist of `rendition` and assigns sequence numbers to its segments
    /// that have arrived.
    pub(crate) async fn accept_playlist(
        &self,
        source: &SourceRow,
        rendition: &str,
        playlist: IngestPlaylist,
    ) -> Result<usize, LiveError> {
        let channel = self.channel(source, rendition).await?;
        let mut ch = channel.lock().await;
        self.take_playlist(source, &mut ch, playlist).await
    }

    /// [`Live::accept_playlist`] with `ch` locked.
    async fn take_playlist(
        &self,
        source: &SourceRow,
        ch: &mut Channel,
        playlist: IngestPlaylist,
    ) -> Result<usize, LiveError> {
        Self::sweep_incoming(&self.incoming_dir(&source.id));
        if is_late_copy(ch.last_playlist.as_ref(), &playlist) {
            return Ok(0);
        }
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
        self.assign(source, ch).await
    }

    /// A segment upload was committed: assign it in any rendition whose latest playlist was
    /// waiting for it.
    pub(crate) async fn segment_arrived(&self, source: &SourceRow) -> Result<usize, LiveError> {
        let mut accepted = 0;
        for channel in self.all_channels(source).await? {
            let mut ch = channel.lock().await;
            accepted += self.assign(source, &mut ch).await?;
        }
        Ok(accepted)
    }

    /// Assigns sequence numbers to the latest playlist's segments, in order, up to the first
    /// one still arriving.
    async fn assign(&self, source: &SourceRow, ch: &mut Channel) -> Result<usize, LiveError> {
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
            if !path.exists() {
                break; // still arriving: later segments wait for it
            }
            let map_file = match &playlist.map_uri {
                Some(map) => {
                    let (file, new) = self.current_map(source, ch, &incoming.join(map))?;
                    if new {
                        self.share_file(&source.id, &file).await;
                    }
                    Some(file)
                }
                None => None,
            };
            let msn = self.sources.take_msn(&source.id, &ch.rendition).await?;
            let arrived = Arrived {
                path: &path,
                encoder_uri: &seg.uri,
                duration_ms: seg.duration_ms,
                discontinuity: seg.discontinuity,
                map_file,
                msn,
                produced_ms: None,
            };
            self.commit(source, ch, arrived).await?;
            accepted += 1;
        }
        self.prune(&source.id, ch).await?;
        if accepted > 0 {
            self.arrivals.send_modify(|v| *v = v.wrapping_add(1));
        }
        Ok(accepted)
    }

    /// A segment complete at `arrived.path` enters `ch`'s buffer as `arrived.msn`: moved
    /// beside the others, committed (listed, and told to the cluster), copied into the
    /// recordings that cover it.
    pub(super) async fn commit(
        &self,
        source: &SourceRow,
        ch: &mut Channel,
        arrived: Arrived<'_>,
    ) -> Result<SegmentRow, LiveError> {
        let Arrived { path, msn, .. } = arrived;
        let stat = std::fs::metadata(path)?;
        let ext = arrived
            .encoder_uri
            .rsplit_once('.')
            .map_or("ts", |(_, e)| e);
        let file = rendition_file(&ch.rendition, &format!("{msn}.{ext}"));
        std::fs::rename(path, self.segments_dir(&source.id).join(&file))?;
        self.share_file(&source.id, &file).await;
        let discontinuity = arrived.discontinuity || std::mem::take(&mut ch.pending_discontinuity);
        if discontinuity {
            self.count_discontinuity(&source.id, ch).await?;
        }
        let received = stat
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or_else(now_ms, |d| i64::try_from(d.as_millis()).unwrap_or(0));
        let duration_ms = i64::try_from(arrived.duration_ms).unwrap_or(0);
        let previous = ch.recent.back().filter(|_| !discontinuity);
        let row = SegmentRow {
            source_id: source.id.clone(),
            rendition: ch.rendition.clone(),
            msn: i64::try_from(msn).unwrap_or(i64::MAX),
            file,
            duration_ms,
            discontinuity: i64::from(discontinuity),
            pdt_ms: arrived.produced_ms.unwrap_or_else(|| {
                program_date_time(previous, received - duration_ms, duration_ms)
            }),
            map_file: arrived.map_file,
            bytes: i64::try_from(stat.len()).unwrap_or(0),
        };
        ch.recent.commit(row.clone(), ch.discontinuities).await?;
        self.add_to_recordings(&row).await?;
        ch.assigned.push_back(arrived.encoder_uri.to_owned());
        if ch.assigned.len() > 512 {
            ch.assigned.pop_front();
        }
        self.metrics.ingested.inc();
        Ok(row)
    }

    /// The stored init section for the encoder's current one, stored anew when its bytes
    /// change (`true` with it then).
    pub(super) fn current_map(
        &self,
        source: &SourceRow,
        ch: &mut Channel,
        incoming_map: &Path,
    ) -> Result<(String, bool), LiveError> {
        let bytes = std::fs::read(incoming_map).map_err(|_| {
            LiveError::Invalid("the playlist names an init section that was not uploaded".into())
        })?;
        let digest = crate::hex::encode(&Sha256::digest(&bytes));
        if let Some((hash, file)) = &ch.map
            && *hash == digest
        {
            return Ok((file.clone(), false));
        }
        let file = rendition_file(&ch.rendition, &format!("init-{}.mp4", crate::random::u64()));
        std::fs::write(self.segments_dir(&source.id).join(&file), &bytes)?;
        ch.map = Some((digest, file.clone()));
        Ok((file, true))
    }
}

/// When a segment starts: right where the `previous` one ends (the timeline stays continuous,
/// as players expect of EXT-X-PROGRAM-DATE-TIME), unless that is further than one segment
/// duration (at least 1 s) from `estimated` — its arrival time less its duration — when the
/// timeline is set again from the arrival (the encoder stalled or ran slow). Arrival times
/// alone would jitter with the encoder's and the network's load, leaving gaps and overlaps.
fn program_date_time(previous: Option<&SegmentRow>, estimated: i64, duration_ms: i64) -> i64 {
    let Some(prev) = previous else {
        return estimated;
    };
    let continuous = prev.pdt_ms.saturating_add(prev.duration_ms);
    let tolerance = duration_ms.max(1000);
    if continuous.abs_diff(estimated) <= tolerance.unsigned_abs() {
        continuous
    } else {
        estimated
    }
}

/// Whether `playlist` is a late copy of one older than the `last` one taken: its media sequence
/// is below the last one's, and where the two number the same segments they name the same files (an
/// encoder that restarted numbers from the start again, below every segment the last playlist
/// numbers). ffmpeg sends each playlist without waiting for the answer to the one before, so an
/// older one can be taken after a newer; read as a restart, it would start a discontinuity and
/// forget which files were taken, and the next playlists would wait for files already moved.
fn is_late_copy(last: Option<&IngestPlaylist>, playlist: &IngestPlaylist) -> bool {
    let Some(last) = last else {
        return false;
    };
    if playlist.media_sequence >= last.media_sequence {
        return false;
    }
    let mut shared = false;
    for (msn, seg) in (playlist.media_sequence..).zip(&playlist.segments) {
        let Some(at) = msn
            .checked_sub(last.media_sequence)
            .and_then(|at| usize::try_from(at).ok())
        else {
            continue;
        };
        match last.segments.get(at) {
            Some(same) if same.uri == seg.uri => shared = true,
            _ => return false,
        }
    }
    shared
}

/// The segments (and init section) of `playlist` that `ch` has not taken into the buffer and
/// that are not waiting in `incoming` already.
fn missing_files(ch: &Channel, incoming: &Path, playlist: &IngestPlaylist) -> Vec<String> {
    let mut names: Vec<String> = playlist.map_uri.iter().cloned().collect();
    names.extend(
        playlist
            .segments
            .iter()
            .filter(|s| !ch.assigned.contains(&s.uri))
            .map(|s| s.uri.clone()),
    );
    names.retain(|n| !incoming.join(n).exists());
    names
}

/// The folder a LiveMix `MPEG-TS-URI-Prefix` names, if it lies inside `root`.
fn livemix_dir(root: &Path, prefix: &str) -> Result<PathBuf, LiveError> {
    let refused = || LiveError::Forbidden("the segment folder is outside the ingest root");
    let path = prefix
        .strip_prefix("file://")
        .ok_or_else(|| LiveError::Invalid("MPEG-TS-URI-Prefix must be a file:// URI".into()))?;
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| LiveError::Invalid("MPEG-TS-URI-Prefix is not UTF-8".into()))?;
    let dir = Path::new(decoded.as_ref())
        .canonicalize()
        .map_err(|_| refused())?;
    let root = root.canonicalize().map_err(|_| refused())?;
    if dir.starts_with(&root) && dir.is_dir() {
        Ok(dir)
    } else {
        Err(refused())
    }
}

/// The bytes of `dir/name` (at most `max`), refusing symlinks; `None` when it is not there
/// yet (or is a link or not a file): the playlist waits for it, as for uploads.
fn read_beside(dir: &Path, name: &str, max: u64) -> Result<Option<Bytes>, LiveError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(dir.join(name))
    else {
        return Ok(None);
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(None);
    }
    if meta.len() > max {
        return Err(crate::stream::BodyError::TooLarge { limit: max }.into());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok(Some(Bytes::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pdt_ms: i64, duration_ms: i64) -> SegmentRow {
        SegmentRow {
            source_id: "s".into(),
            rendition: PRIMARY.into(),
            msn: 1,
            file: "1.ts".into(),
            duration_ms,
            discontinuity: 0,
            pdt_ms,
            map_file: None,
            bytes: 1,
        }
    }

    #[test]
    fn program_date_times_stay_continuous_through_arrival_jitter() {
        let prev = row(10_000, 2_000);
        // Arrived 700 ms late or 400 ms early: still right after the previous segment.
        assert_eq!(program_date_time(Some(&prev), 12_700, 2_000), 12_000);
        assert_eq!(program_date_time(Some(&prev), 11_600, 2_000), 12_000);
        // The first segment, or one after a discontinuity, starts from its arrival.
        assert_eq!(program_date_time(None, 12_700, 2_000), 12_700);
    }

    #[test]
    fn a_stalled_encoder_sets_the_timeline_again_from_arrival() {
        let prev = row(10_000, 2_000);
        assert_eq!(program_date_time(Some(&prev), 14_500, 2_000), 14_500);
        // Short segments still tolerate a second of jitter.
        let short = row(10_000, 500);
        assert_eq!(program_date_time(Some(&short), 11_400, 500), 10_500);
    }

    fn listing(media_sequence: u64, uris: &[&str]) -> IngestPlaylist {
        IngestPlaylist {
            target_duration: Some(2),
            media_sequence,
            map_uri: None,
            segments: uris
                .iter()
                .map(|uri| reelay_hls::IngestSegment {
                    uri: (*uri).to_owned(),
                    duration_ms: 2_000,
                    discontinuity: false,
                    program_date_time: None,
                })
                .collect(),
            ended: false,
        }
    }

    #[test]
    fn an_older_playlist_naming_the_same_files_is_a_late_copy_and_a_restart_is_not() {
        let last = listing(3, &["s3.ts", "s4.ts", "s5.ts"]);
        let copy = listing(2, &["s2.ts", "s3.ts", "s4.ts"]);
        assert!(is_late_copy(Some(&last), &copy));
        // Restarted: numbers from 0 again, below everything the last playlist numbers.
        assert!(!is_late_copy(Some(&last), &listing(0, &["s0.ts"])));
        // Restarted with names that repeat, reaching the last playlist's numbers: other files.
        assert!(!is_late_copy(
            Some(&last),
            &listing(1, &["s0.ts", "s1.ts", "s2.ts"])
        ));
        // Not older, or nothing taken before: never a copy.
        assert!(!is_late_copy(Some(&last), &last));
        assert!(!is_late_copy(None, &copy));
    }
}
