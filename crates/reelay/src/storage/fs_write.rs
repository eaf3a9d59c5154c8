//! Writing to an fs bucket: uploads and deletes.
//!
//! An upload streams into a temporary file in `ROOT/.reelay-tmp/` (same filesystem as the
//! object, so the final `renameat` is atomic), is synced, then renamed into place: readers see
//! the old object or the new one, never a partial one. A guard unlinks the temporary file if the
//! upload fails or is abandoned (the client goes away and the handler is dropped).
//!
//! Every directory is walked with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` from the
//! bucket root and created with `mkdirat`: a symlink inside the bucket cannot redirect a write
//! or a delete outside it, or anywhere else.

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use tokio::io::AsyncWriteExt;

use super::error::{PutError, StorageError};
use super::fs::FsBucket;
use super::key::ObjectKey;
use crate::stream::Limited;

/// Hidden folder, inside the bucket root, holding uploads in progress.
pub(crate) const TMP_DIR: &str = ".reelay-tmp";

fn beneath() -> ResolveFlags {
    ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC
}

fn path_error(e: Errno) -> StorageError {
    match e {
        Errno::LOOP
        | Errno::XDEV
        | Errno::NOTDIR
        | Errno::ISDIR
        | Errno::EXIST
        | Errno::NOTEMPTY => {
            StorageError::Conflict("the key conflicts with an existing folder, file or link".into())
        }
        Errno::NOENT => StorageError::NotFound,
        Errno::ACCESS | Errno::PERM => StorageError::Forbidden,
        other => StorageError::Io(other.into()),
    }
}

/// Opens (creating if needed) the directory `name` under `parent`, refusing symlinks.
fn open_or_create_dir(parent: impl AsFd, name: &str) -> Result<OwnedFd, StorageError> {
    match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(path_error(e)),
    }
    rustix::fs::openat2(&parent, name, dir_flags(), Mode::empty(), beneath()).map_err(path_error)
}

/// Opens the parent directory of `key` (creating folders when `create`), and returns it with
/// the key's last segment.
fn parent_of<'k>(
    bucket: &FsBucket,
    key: &'k ObjectKey,
    create: bool,
) -> Result<(OwnedFd, &'k str), StorageError> {
    let mut segments: Vec<&str> = key.as_str().split('/').collect();
    let name = segments.pop().unwrap_or_default();
    let mut dir = rustix::io::dup(bucket.root_fd()).map_err(|e| StorageError::Io(e.into()))?;
    for segment in segments {
        dir = if create {
            open_or_create_dir(&dir, segment)?
        } else {
            rustix::fs::openat2(&dir, segment, dir_flags(), Mode::empty(), beneath())
                .map_err(path_error)?
        };
    }
    Ok((dir, name))
}

/// Removes the temporary file unless the upload was committed.
struct TempFile {
    dir: OwnedFd,
    name: String,
    committed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ =
                rustix::fs::unlinkat(&self.dir, self.name.as_str(), rustix::fs::AtFlags::empty());
        }
    }
}

impl FsBucket {
    /// Streams `body` into `key`; see the module docs.
    pub(crate) async fn put(&self, key: &ObjectKey, mut body: Limited) -> Result<(), PutError> {
        let tmp_dir = open_or_create_dir(self.root_fd(), TMP_DIR)?;
        let name = format!("upload-{:016x}", crate::random::u64());
        let fd = rustix::fs::openat(
            &tmp_dir,
            name.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )
        .map_err(path_error)?;
        let mut temp = TempFile {
            dir: tmp_dir,
            name,
            committed: false,
        };
        let mut file = tokio::fs::File::from_std(std::fs::File::from(fd));
        while let Some(chunk) = body.next().await {
            file.write_all(&chunk?).await?;
        }
        file.sync_all().await?;
        drop(file);
        let (parent, last) = parent_of(self, key, true)?;
        rustix::fs::renameat(&temp.dir, temp.name.as_str(), &parent, last).map_err(path_error)?;
        temp.committed = true;
        Ok(())
    }

    /// Deletes `key`; `NotFound` if there is no such file.
    pub(crate) fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        let (parent, last) = parent_of(self, key, false)?;
        let stat = rustix::fs::statat(&parent, last, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
            .map_err(path_error)?;
        if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
            return Err(StorageError::NotFound);
        }
        rustix::fs::unlinkat(&parent, last, rustix::fs::AtFlags::empty()).map_err(path_error)
    }
}
