//! Where a source's files are on this node (`DATA/live/<source id>/incoming/` for uploads,
//! `segments/` for buffered segments) and how an upload is stored there: streamed to a
//! temporary file and committed by a rename when its body ends, so a half-received segment is
//! never used.

use std::path::{Path, PathBuf};

use super::sources::SourceRow;
use super::{Live, LiveError};
use crate::storage::fs::FsBucket;
use crate::storage::{Backend, Bucket, ObjectKey, StorageError};
use crate::stream::{BodyStream, Limited};

/// How long an upload may wait in `incoming/` for a playlist to list it.
pub(crate) const STALE_UPLOAD: std::time::Duration = std::time::Duration::from_secs(120);

impl Live {
    /// Where `source`'s buffered segment files are.
    pub(crate) fn segment_path(&self, source_id: &str, file: &str) -> PathBuf {
        self.segments_dir(source_id).join(file)
    }

    pub fn incoming_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id).join("incoming")
    }

    /// Sweeps every source's `incoming/` ([`Self::sweep_incoming`]), at start; the number of
    /// files removed.
    pub fn clean_incoming(&self) -> usize {
        let Ok(sources) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        sources
            .flatten()
            .map(|source| Self::sweep_incoming(&source.path().join("incoming")))
            .sum()
    }

    /// Removes from an `incoming/` folder the uploads older than [`STALE_UPLOAD`]: a playlist
    /// lists a segment within a few target durations of its upload, so one still unlisted by
    /// then never will be (a name no playlist lists, a stop between upload and playlist), and
    /// would stay for good. Done at start and with every playlist the source's encoder pushes;
    /// only plain files directly in the folder are touched.
    pub(super) fn sweep_incoming(incoming: &Path) -> usize {
        let Ok(files) = std::fs::read_dir(incoming) else {
            return 0;
        };
        let now = std::time::SystemTime::now();
        let mut removed = 0;
        for file in files.flatten() {
            let Ok(meta) = file.metadata() else { continue };
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok());
            let stale = age.is_some_and(|age| age > STALE_UPLOAD);
            if meta.is_file() && stale && std::fs::remove_file(file.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    pub(super) fn segments_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id).join("segments")
    }

    /// Removes `file` from source `id`'s segments — never anything outside them, whatever the
    /// name says: it must be a key (no `..`, nothing absolute, nothing hidden) and each folder
    /// on the way is opened beneath the segments folder (`openat2`, as fs buckets do).
    pub(super) fn remove_segment_file(&self, id: &str, file: &str) {
        let dir = FsBucket::open(&self.segments_dir(id));
        if let (Ok(dir), Ok(key)) = (dir, ObjectKey::parse(file)) {
            let _ = dir.delete(&key);
        }
    }

    /// `source`'s stored segments, as a bucket to serve them from (every rendition's, under
    /// its folder); nothing stored yet is a missing object.
    pub(crate) fn segments(&self, source: &SourceRow) -> Result<Bucket, LiveError> {
        match FsBucket::open(&self.segments_dir(&source.id)) {
            Ok(fs) => Ok(Bucket::new(Backend::Fs(fs), self.reads.clone())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StorageError::NotFound.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Streams `body` into `dir` as `file`, at most `max` bytes, committed by a rename when
    /// the body ends (the fs backend's upload path: no symlink followed, nothing partial seen).
    pub(super) async fn store_body(
        dir: &Path,
        file: &str,
        body: BodyStream,
        max: u64,
    ) -> Result<(), LiveError> {
        std::fs::create_dir_all(dir)?;
        let key = ObjectKey::parse(file).map_err(|e| LiveError::Invalid(e.to_string()))?;
        FsBucket::open(dir)?
            .put(&key, Limited::new(body, max))
            .await?;
        // The file's time is when it arrived (a segment's program date time is reckoned from
        // it), on the same fine clock as everything else: the kernel stamps files from a
        // coarse one, up to a tick behind, which put a segment that arrived just after a
        // recording started before the start.
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(dir.join(file))?
            .set_modified(std::time::SystemTime::now())?;
        Ok(())
    }
}
