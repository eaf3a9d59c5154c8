//! Reading byte spans of a local file as a stream of frames, with bounded memory.
//!
//! Each frame's buffer carries a permit from a process-wide [`ReadBudget`] (a byte semaphore)
//! and gives it back when the buffer is dropped, i.e. once hyper has written it to the socket.
//! So the bytes held for all in-flight responses never exceed the budget, however many slow
//! readers there are: frames are [`FRAME_MAX`] while the budget is plentiful and shrink to
//! [`FRAME_MIN`] (waiting if need be) when it is not.
//!
//! Reads try `preadv2(RWF_NOWAIT)` on the runtime thread first: when the pages are in the page
//! cache this is one syscall and no thread hop. When they are not (`EAGAIN`, or nothing read),
//! the read moves to the blocking pool, so a cold disk never stalls the runtime.
//!
//! Given a [`FileSink`] (the connection will send file spans itself, see [`crate::zero_copy`]),
//! spans of at least [`SENDFILE_MIN`] bytes whose pages are all cached become placeholder
//! frames instead: no buffer, no copy, no budget (they hold no memory). Shorter spans and
//! uncached ones are read as above.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use rustix::io::{Errno, ReadWriteFlags};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::page_cache;
use crate::zero_copy::{FileSink, FileSpan, SPAN_MAX};

/// Largest frame read at once.
pub const FRAME_MAX: usize = 256 * 1024;
/// Smallest frame, used when the budget runs low.
pub const FRAME_MIN: usize = 16 * 1024;
/// Shortest span sent with `sendfile`: below it the copy costs less than the extra syscalls
/// (measured in `bench/README.md`).
pub const SENDFILE_MIN: usize = 16 * 1024;

/// The process-wide budget for bytes held in frame buffers.
#[derive(Debug, Clone)]
pub struct ReadBudget {
    permits: Arc<Semaphore>,
}

impl ReadBudget {
    pub fn new(bytes: usize) -> Self {
        let permits = u32::try_from(bytes / 1024).unwrap_or(u32::MAX).max(1) as usize;
        Self {
            permits: Arc::new(Semaphore::new(permits)),
        }
    }

    /// Bytes currently free in the budget (KiB granularity).
    pub fn available_bytes(&self) -> usize {
        self.permits.available_permits() * 1024
    }

    /// Reserves room for a frame of up to `want` bytes; returns the permit and the frame size.
    async fn reserve(&self, want: usize) -> io::Result<(OwnedSemaphorePermit, usize)> {
        let kib = |n: usize| u32::try_from(n.div_ceil(1024)).unwrap_or(u32::MAX);
        if let Ok(p) = self.permits.clone().try_acquire_many_owned(kib(want)) {
            return Ok((p, want));
        }
        let small = want.min(FRAME_MIN);
        let permit = self
            .permits
            .clone()
            .acquire_many_owned(kib(small))
            .await
            .map_err(|_| io::Error::other("read budget closed"))?;
        Ok((permit, small))
    }
}

/// Most full-size buffers kept for reuse (outside the budget: at most 8 MiB). Full-size frames
/// read into a buffer kept from an earlier one when one is free: a fresh zero-filled 256 KiB
/// buffer costs a mapping and its page faults (or a memset), measured as the slow-reader
/// bench's stalls. Shorter frames get buffers of their own size, so the budget stays exact.
const POOL_MAX: usize = 32;

/// Full-size frame buffers given back by dropped frames.
static POOL: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

/// A buffer of `len` initialised bytes: a kept one for full-size frames, else a new one.
fn buffer(len: usize) -> Vec<u8> {
    if len == FRAME_MAX
        && let Some(buf) = POOL.lock().unwrap_or_else(|p| p.into_inner()).pop()
    {
        return buf;
    }
    vec![0u8; len]
}

/// A frame buffer (its first `len` bytes are the frame) that returns its budget, and its
/// buffer to the pool when full-size, when dropped.
struct Frame {
    data: Vec<u8>,
    len: usize,
    _permit: OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Frame {
    fn as_ref(&self) -> &[u8] {
        &self.data[..self.len]
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        if self.data.len() == FRAME_MAX {
            let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
            if pool.len() < POOL_MAX {
                pool.push(std::mem::take(&mut self.data));
            }
        }
    }
}

/// Reads up to `len` bytes at `offset` into a buffer: runtime-thread `RWF_NOWAIT` first,
/// blocking pool otherwise. Returns the buffer and how many bytes of it were read.
async fn read_frame(file: &Arc<OwnedFd>, offset: u64, len: usize) -> io::Result<(Vec<u8>, usize)> {
    let mut buf = buffer(len);
    let mut slices = [io::IoSliceMut::new(&mut buf[..len])];
    match rustix::io::preadv2(file, &mut slices, offset, ReadWriteFlags::NOWAIT) {
        Ok(n) if n > 0 => return Ok((buf, n)),
        Ok(_) | Err(Errno::AGAIN) | Err(Errno::OPNOTSUPP) | Err(Errno::NOSYS) => {}
        Err(e) => return Err(e.into()),
    }
    let file = Arc::clone(file);
    tokio::task::spawn_blocking(move || {
        let n = rustix::io::pread(&*file, &mut buf[..len], offset)?;
        Ok((buf, n))
    })
    .await
    .map_err(io::Error::other)?
}

/// Streams bytes `start..end` of `file` in budgeted frames.
///
/// A file that ends early (truncated while being served) ends the stream with an error, so the
/// client sees an aborted body rather than a clean short one.
pub fn read_span(
    file: Arc<OwnedFd>,
    start: u64,
    end: u64,
    budget: ReadBudget,
    sink: Option<FileSink>,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures_util::stream::try_unfold(start, move |pos| {
        let file = Arc::clone(&file);
        let budget = budget.clone();
        let sink = sink.clone();
        async move {
            if pos >= end {
                return Ok(None);
            }
            let remaining = usize::try_from(end - pos).unwrap_or(usize::MAX);
            if let Some(frame) = sink.and_then(|sink| file_frame(&sink, &file, pos, remaining)) {
                let next = pos + frame.len() as u64;
                return Ok(Some((frame, next)));
            }
            let (permit, size) = budget.reserve(remaining.min(FRAME_MAX)).await?;
            let (data, len) = read_frame(&file, pos, size).await?;
            if len == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while being served",
                ));
            }
            let next = pos + len as u64;
            let frame = Bytes::from_owner(Frame {
                data,
                len,
                _permit: permit,
            });
            Ok(Some((frame, next)))
        }
    })
}

/// A placeholder frame for up to [`SPAN_MAX`] bytes at `pos`, queued on `sink`, when the span
/// is long enough and wholly cached; `None` sends the caller to the copy path.
fn file_frame(sink: &FileSink, file: &Arc<OwnedFd>, pos: u64, remaining: usize) -> Option<Bytes> {
    let len = remaining.min(SPAN_MAX);
    if len < SENDFILE_MIN || !page_cache::is_cached(file.as_fd(), pos, len as u64) {
        return None;
    }
    sink.push(FileSpan {
        file: Arc::clone(file),
        offset: pos,
        len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn file_of(bytes: &[u8]) -> (tempfile::NamedTempFile, Arc<OwnedFd>) {
        let tmp = tempfile::NamedTempFile::new().expect("temp");
        std::fs::write(tmp.path(), bytes).expect("write");
        let fd = std::fs::File::open(tmp.path()).expect("open");
        (tmp, Arc::new(OwnedFd::from(fd)))
    }

    /// The bytes of `start..end` as streamed, and the error that ended the stream, if any.
    async fn read_all(file: Arc<OwnedFd>, start: u64, end: u64) -> (Vec<u8>, Option<io::Error>) {
        let mut out = Vec::new();
        let mut frames =
            std::pin::pin!(read_span(file, start, end, ReadBudget::new(8 << 20), None));
        while let Some(frame) = frames.next().await {
            match frame {
                Ok(bytes) => out.extend_from_slice(&bytes),
                Err(e) => return (out, Some(e)),
            }
        }
        (out, None)
    }

    #[tokio::test]
    async fn a_recycled_frame_buffer_never_shows_an_earlier_frames_bytes() {
        let old = vec![0xaau8; 3 * FRAME_MAX];
        let (_a, a) = file_of(&old);
        let (got, err) = read_all(a, 0, old.len() as u64).await;
        assert!(err.is_none() && got == old);
        // Full-size buffers are back in the pool. A file that ends inside a full-size frame
        // shows only its own bytes, then ends with the error of a file that shrank.
        let new: Vec<u8> = (0..FRAME_MAX + 1000).map(|i| (i % 251) as u8).collect();
        let (_b, b) = file_of(&new);
        let (got, err) = read_all(b, 0, 2 * FRAME_MAX as u64).await;
        assert_eq!(got, new, "only the file's bytes");
        assert_eq!(err.expect("shrank").kind(), io::ErrorKind::UnexpectedEof);
    }
}
