//! The local-folder backend.
//!
//! Files are opened with `openat2(root, key, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`: the
//! kernel itself refuses any resolution — `..`, absolute symlink, relative symlink — that would
//! leave the bucket root, with no check-then-open race. On kernels without `openat2` (before
//! 5.6) the fallback canonicalises the path and checks it is under the canonical root.
//!
//! The open file handle is kept for the whole response, so every byte served comes from the
//! file that was `fstat`ed for the validators, even if the path is replaced meanwhile.

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use reelay_http::{EntityTag, content_type_for};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::error::StorageError;
use super::key::ObjectKey;
use super::object::ObjectMeta;

/// A bucket backed by a local directory.
#[derive(Debug)]
pub struct FsBucket {
    root: PathBuf,
    root_fd: OwnedFd,
}

/// An open file and its metadata.
#[derive(Debug, Clone)]
pub(crate) struct FsObject {
    pub(crate) file: Arc<OwnedFd>,
    pub(crate) meta: ObjectMeta,
}

fn open_flags() -> OFlags {
    OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY
}

impl FsBucket {
    /// Opens the bucket root; fails if it is not a readable directory.
    pub(crate) fn open(root: &Path) -> io::Result<Self> {
        let root = root.canonicalize()?;
        let root_fd = rustix::fs::open(
            &root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self { root, root_fd })
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn root_fd(&self) -> &OwnedFd {
        &self.root_fd
    }

    fn open_beneath(&self, key: &ObjectKey) -> Result<OwnedFd, StorageError> {
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        match rustix::fs::openat2(
            &self.root_fd,
            key.as_str(),
            open_flags(),
            Mode::empty(),
            resolve,
        ) {
            Ok(fd) => Ok(fd),
            Err(Errno::NOSYS) => self.open_checked(key),
            Err(e) => Err(map_open_error(e)),
        }
    }

    /// Fallback for kernels without `openat2`: canonicalise, check the prefix, open.
    fn open_checked(&self, key: &ObjectKey) -> Result<OwnedFd, StorageError> {
        let path = self
            .root
            .join(key.as_str())
            .canonicalize()
            .map_err(|e| map_open_error(Errno::from_io_error(&e).unwrap_or(Errno::NOENT)))?;
        if !path.starts_with(&self.root) {
            return Err(StorageError::NotFound);
        }
        rustix::fs::open(&path, open_flags(), Mode::empty()).map_err(map_open_error)
    }

    /// Opens `key` and reads its metadata. Directories and special files are "not found".
    pub(crate) fn open_object(&self, key: &ObjectKey) -> Result<FsObject, StorageError> {
        let fd = self.open_beneath(key)?;
        let stat = rustix::fs::fstat(&fd).map_err(|e| StorageError::Io(e.into()))?;
        if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
            return Err(StorageError::NotFound);
        }
        let size = u64::try_from(stat.st_size).map_err(|_| StorageError::NotFound)?;
        let mtime_nanos = u32::try_from(stat.st_mtime_nsec).unwrap_or(0);
        let mtime_secs = u64::try_from(stat.st_mtime).unwrap_or(0);
        let modified = UNIX_EPOCH + std::time::Duration::new(mtime_secs, mtime_nanos);
        let meta = ObjectMeta {
            size,
            etag: fs_etag(stat.st_ino, mtime_secs, mtime_nanos, size),
            last_modified: Some(modified),
            content_type: content_type_for(key.as_str()).into(),
        };
        Ok(FsObject {
            file: Arc::new(fd),
            meta,
        })
    }
}

pub use super::fs_list::{ListQuery, list_tree};

/// A strong ETag from inode, modification time (ns) and size: any rewrite or replacement of the
/// file changes at least one of them.
fn fs_etag(ino: u64, mtime_secs: u64, mtime_nanos: u32, size: u64) -> EntityTag {
    // `{ino:x}-{mtime_secs:x}.{mtime_nanos:x}-{size:x}`, written by hand: it is made on every
    // open, and `format!` costs several times as much.
    let mut opaque = String::with_capacity(4 * 16 + 3);
    push_hex(&mut opaque, ino);
    opaque.push('-');
    push_hex(&mut opaque, mtime_secs);
    opaque.push('.');
    push_hex(&mut opaque, u64::from(mtime_nanos));
    opaque.push('-');
    push_hex(&mut opaque, size);
    EntityTag {
        weak: false,
        opaque,
    }
}

/// `n` in lowercase hex, without leading zeros, onto `out`.
fn push_hex(out: &mut String, n: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let len = (64 - n.leading_zeros()).div_ceil(4).max(1);
    for i in (0..len).rev() {
        out.push(char::from(DIGITS[((n >> (4 * i)) & 0xf) as usize]));
    }
}

fn map_open_error(e: Errno) -> StorageError {
    match e {
        // EXDEV: RESOLVE_BENEATH refused to leave the root; ELOOP: a magic link or a loop.
        Errno::NOENT | Errno::NOTDIR | Errno::XDEV | Errno::LOOP | Errno::ISDIR => {
            StorageError::NotFound
        }
        Errno::ACCESS | Errno::PERM => StorageError::Forbidden,
        other => StorageError::Io(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_etag_is_inode_time_and_size_in_hex() {
        assert_eq!(fs_etag(0x1a2b, 0x5f, 0, 0).opaque, "1a2b-5f.0-0");
        assert_eq!(
            fs_etag(u64::MAX, 1, u32::MAX, 16).opaque,
            "ffffffffffffffff-1.ffffffff-10"
        );
        for n in [0u64, 1, 15, 16, 255, 256, 0xdead_beef, u64::MAX / 3] {
            let mut s = String::new();
            push_hex(&mut s, n);
            assert_eq!(s, format!("{n:x}"));
        }
    }
}
