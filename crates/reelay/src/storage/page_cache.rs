//! Whether a span of a file is in the page cache, without reading it: `cachestat(2)`
//! (Linux 6.5+). The sendfile path asks before every span, because `sendfile` reads the file
//! on the calling thread — the runtime's — and a cold disk must never stall it: a span that is
//! not wholly cached is read through the frame path instead (`RWF_NOWAIT`, else the blocking
//! pool), which also brings its pages in for the spans after it.
//!
//! The one `unsafe` block in reelay: no crate kept for this wraps `cachestat` (rustix lists it
//! as not implemented, libc has the number only for some targets). Measured worth it in
//! `bench/README.md` (the sendfile figures). Any failure — an older kernel (`ENOSYS`), a
//! filesystem or permission that refuses — answers "not cached", i.e. the copy path.

#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// `struct cachestat_range` of `<linux/mman.h>`.
#[repr(C)]
struct CachestatRange {
    off: u64,
    len: u64,
}

/// `struct cachestat` of `<linux/mman.h>`.
#[repr(C)]
#[derive(Default)]
struct Cachestat {
    nr_cache: u64,
    nr_dirty: u64,
    nr_writeback: u64,
    nr_evicted: u64,
    nr_recently_evicted: u64,
}

/// `cachestat` has the same number on every Linux architecture (the unified table of 6.x).
#[cfg(target_os = "linux")]
const SYS_CACHESTAT: libc::c_long = 451;

/// Set once the kernel has said it has no `cachestat`, so it is not asked again.
static UNSUPPORTED: AtomicBool = AtomicBool::new(false);

/// True when every page of `offset..offset + len` of `file` is in the page cache.
#[cfg(target_os = "linux")]
pub(crate) fn is_cached(file: BorrowedFd<'_>, offset: u64, len: u64) -> bool {
    if len == 0 || UNSUPPORTED.load(Ordering::Relaxed) {
        return false;
    }
    let range = CachestatRange { off: offset, len };
    let mut stat = Cachestat::default();
    // SAFETY: `cachestat(fd, range, cstat, flags)` reads one `cachestat_range` from `range` and
    // writes one `cachestat` to `stat`; both are live, properly aligned `#[repr(C)]` values of
    // exactly the kernel's layout (five and two `u64`s) for the duration of the call, and the
    // kernel touches no other memory. A bad fd or range is reported through the return value.
    let rc = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            file.as_raw_fd(),
            &raw const range,
            &raw mut stat,
            0u32,
        )
    };
    if rc != 0 {
        if std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
            UNSUPPORTED.store(true, Ordering::Relaxed);
        }
        return false;
    }
    let page = rustix::param::page_size() as u64;
    let Some(last) = offset.checked_add(len - 1) else {
        return false;
    };
    let pages = last / page - offset / page + 1;
    stat.nr_cache >= pages
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn is_cached(_file: BorrowedFd<'_>, _offset: u64, _len: u64) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_file_just_written_is_cached_and_a_span_past_its_end_is_not() {
        let tmp = tempfile::NamedTempFile::new().expect("temp");
        std::fs::write(tmp.path(), vec![1u8; 64 * 1024]).expect("write");
        let file = std::fs::File::open(tmp.path()).expect("open");
        assert!(
            is_cached(file.as_fd(), 0, 64 * 1024),
            "pages just written are cached"
        );
        assert!(is_cached(file.as_fd(), 5000, 100));
        assert!(
            !is_cached(file.as_fd(), 60 * 1024, 8 * 1024),
            "runs past the end"
        );
        assert!(
            !is_cached(file.as_fd(), 1 << 30, 4096),
            "wholly past the end"
        );
        assert!(!is_cached(file.as_fd(), 0, 0));
        assert!(!is_cached(file.as_fd(), u64::MAX - 10, 100), "no overflow");
    }
}
