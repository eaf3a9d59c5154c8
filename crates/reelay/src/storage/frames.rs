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

use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use rustix::io::{Errno, ReadWriteFlags};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Largest frame read at once.
pub const FRAME_MAX: usize = 256 * 1024;
/// Smallest frame, used when the budget runs low.
pub const FRAME_MIN: usize = 16 * 1024;

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

/// A frame buffer that returns its budget when dropped.
struct Frame {
    data: Vec<u8>,
    _permit: OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Frame {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

/// Reads `len` bytes at `offset`: runtime-thread `RWF_NOWAIT` first, blocking pool otherwise.
async fn read_frame(file: &Arc<OwnedFd>, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut slices = [io::IoSliceMut::new(&mut buf)];
    match rustix::io::preadv2(file, &mut slices, offset, ReadWriteFlags::NOWAIT) {
        Ok(n) if n > 0 => {
            buf.truncate(n);
            return Ok(buf);
        }
        Ok(_) | Err(Errno::AGAIN) | Err(Errno::OPNOTSUPP) | Err(Errno::NOSYS) => {}
        Err(e) => return Err(e.into()),
    }
    let file = Arc::clone(file);
    tokio::task::spawn_blocking(move || {
        let n = rustix::io::pread(&*file, &mut buf[..], offset)?;
        buf.truncate(n);
        Ok(buf)
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
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures_util::stream::try_unfold(start, move |pos| {
        let file = Arc::clone(&file);
        let budget = budget.clone();
        async move {
            if pos >= end {
                return Ok(None);
            }
            let remaining = usize::try_from(end - pos).unwrap_or(usize::MAX);
            let (permit, size) = budget.reserve(remaining.min(FRAME_MAX)).await?;
            let data = read_frame(&file, pos, size).await?;
            if data.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while being served",
                ));
            }
            let next = pos + data.len() as u64;
            let frame = Bytes::from_owner(Frame {
                data,
                _permit: permit,
            });
            Ok(Some((frame, next)))
        }
    })
}
