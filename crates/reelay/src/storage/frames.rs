//! Reading byte spans of a local file as a stream of frames, with bounded memory.
//!
//! Each frame's buffer carries a permit from a process-wide [`ReadBudget`] (a byte semaphore)
//! and gives it back when the buffer is dropped, i.e. once hyper has written it to the socket;
//! buffers come in power-of-two sizes, are charged whole, and are kept for reuse.
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

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::Stream;
use rustix::io::{Errno, ReadWriteFlags};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::page_cache;
use crate::zero_copy::{FileSink, FileSpan, SPAN_MAX};

/// Largest frame read at once.
pub(crate) const FRAME_MAX: usize = 256 * 1024;
/// Smallest frame, used when the budget runs low.
pub(crate) const FRAME_MIN: usize = 16 * 1024;
/// Shortest span sent with `sendfile`: below it the copy costs less than the extra syscalls
/// (measured in `bench/README.md`).
pub const SENDFILE_MIN: usize = 16 * 1024;

/// The process-wide budget for bytes held in frame buffers.
#[derive(Debug, Clone)]
pub struct ReadBudget {
    permits: Arc<Semaphore>,
}

/// KiB, rounded up, as permits.
fn kib(n: usize) -> u32 {
    u32::try_from(n.div_ceil(1024)).unwrap_or(u32::MAX)
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

    /// Room for a frame of `want` bytes (its buffer's whole size), if the budget has it now.
    fn try_reserve(&self, want: usize) -> Option<(OwnedSemaphorePermit, usize)> {
        let permit = self
            .permits
            .clone()
            .try_acquire_many_owned(kib(class_size(want)));
        permit.ok().map(|p| (p, want))
    }

    /// Room for a frame of up to `want` bytes, waiting for a [`FRAME_MIN`] one when the budget
    /// is short; the permit and the frame size.
    async fn reserve(&self, want: usize) -> io::Result<(OwnedSemaphorePermit, usize)> {
        if let Some(reserved) = self.try_reserve(want) {
            return Ok(reserved);
        }
        let small = want.min(FRAME_MIN);
        let permit = self
            .permits
            .clone()
            .acquire_many_owned(kib(class_size(small)))
            .await
            .map_err(|_| io::Error::other("read budget closed"))?;
        Ok((permit, small))
    }
}

/// Frame buffers come in sizes of powers of two from [`CLASS_MIN`] to [`FRAME_MAX`]; a frame
/// uses the smallest that holds it, and the budget is charged for the whole buffer, so it
/// stays an exact bound on the memory frames hold.
const CLASS_MIN: usize = 4 * 1024;
const CLASSES: usize = (FRAME_MAX / CLASS_MIN).trailing_zeros() as usize + 1;

/// The buffer size for a frame of `len` bytes (`len` is at most [`FRAME_MAX`]).
fn class_size(len: usize) -> usize {
    len.clamp(CLASS_MIN, FRAME_MAX).next_power_of_two()
}

fn class_index(size: usize) -> usize {
    (size / CLASS_MIN).trailing_zeros() as usize
}

/// Buffers given back by dropped frames, kept for the next frame of their size, outside the
/// budget: a fresh buffer costs an allocation and zero-filling (for full-size ones a mapping
/// and its page faults, measured as the slow-reader bench's stalls). At most 8 MiB of
/// full-size buffers and 1 MiB of each smaller size are kept.
static POOLS: [std::sync::Mutex<Vec<Vec<u8>>>; CLASSES] =
    [const { std::sync::Mutex::new(Vec::new()) }; CLASSES];

fn pool_max(size: usize) -> usize {
    if size == FRAME_MAX {
        32
    } else {
        (1 << 20) / size
    }
}

fn pool(size: usize) -> std::sync::MutexGuard<'static, Vec<Vec<u8>>> {
    POOLS[class_index(size)]
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// A buffer of [`class_size`]`(len)` initialised bytes: a kept one when there is one.
fn buffer(len: usize) -> Vec<u8> {
    let size = class_size(len);
    pool(size).pop().unwrap_or_else(|| vec![0u8; size])
}

/// A frame buffer (its first `len` bytes are the frame) that returns its budget, and its
/// buffer to the pool, when dropped.
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
        let size = self.data.len();
        let mut pool = pool(size);
        if pool.len() < pool_max(size) {
            pool.push(std::mem::take(&mut self.data));
        }
    }
}

/// Reads up to `len` bytes at `offset` with `RWF_NOWAIT`, on the calling thread: the buffer and
/// how many bytes were read, or `None` when the pages are not cached (the caller reads on the
/// blocking pool instead).
fn read_now(file: &OwnedFd, offset: u64, len: usize) -> io::Result<Option<(Vec<u8>, usize)>> {
    let mut buf = buffer(len);
    let mut slices = [io::IoSliceMut::new(&mut buf[..len])];
    match rustix::io::preadv2(file, &mut slices, offset, ReadWriteFlags::NOWAIT) {
        Ok(n) if n > 0 => Ok(Some((buf, n))),
        Ok(_) | Err(Errno::AGAIN) | Err(Errno::OPNOTSUPP) | Err(Errno::NOSYS) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Reads up to `len` bytes at `offset` on the blocking pool.
async fn read_blocking(
    file: Arc<OwnedFd>,
    offset: u64,
    len: usize,
) -> io::Result<(Vec<u8>, usize)> {
    tokio::task::spawn_blocking(move || {
        let mut buf = buffer(len);
        let n = rustix::io::pread(&*file, &mut buf[..len], offset)?;
        Ok((buf, n))
    })
    .await
    .map_err(io::Error::other)?
}

/// A frame of `read` bytes holding `permit`; a read of nothing means the file ended early.
fn frame_of(read: (Vec<u8>, usize), permit: OwnedSemaphorePermit) -> io::Result<Bytes> {
    let (data, len) = read;
    if len == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file shrank while being served",
        ));
    }
    Ok(Bytes::from_owner(Frame {
        data,
        len,
        _permit: permit,
    }))
}

/// Streams bytes `start..end` of `file` in budgeted frames.
///
/// A file that ends early (truncated while being served) ends the stream with an error, so the
/// client sees an aborted body rather than a clean short one.
pub(crate) fn read_span(
    file: Arc<OwnedFd>,
    start: u64,
    end: u64,
    budget: ReadBudget,
    sink: Option<FileSink>,
) -> SpanFrames {
    SpanFrames {
        file,
        pos: start,
        end,
        budget,
        sink,
        pending: None,
        ended: false,
    }
}

/// A frame being read: waiting for the budget or the disk.
type PendingFrame = Pin<Box<dyn Future<Output = io::Result<Bytes>> + Send>>;

/// The stream [`read_span`] returns. A frame whose budget is at hand and whose pages are cached
/// is read within the poll, with no future made; a frame that must wait for the budget or the
/// disk is read by a future kept until it is done.
pub(crate) struct SpanFrames {
    file: Arc<OwnedFd>,
    pos: u64,
    end: u64,
    budget: ReadBudget,
    sink: Option<FileSink>,
    pending: Option<PendingFrame>,
    /// Set after the last frame or an error.
    ended: bool,
}

impl std::fmt::Debug for SpanFrames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanFrames")
            .field("pos", &self.pos)
            .field("end", &self.end)
            .field("waiting", &self.pending.is_some())
            .finish_non_exhaustive()
    }
}

impl SpanFrames {
    /// The next frame, or a future that will make it.
    fn next_frame(&mut self) -> Result<io::Result<Bytes>, PendingFrame> {
        let remaining = usize::try_from(self.end - self.pos).unwrap_or(usize::MAX);
        if let Some(frame) = self
            .sink
            .as_ref()
            .and_then(|sink| file_frame(sink, &self.file, self.pos, remaining))
        {
            return Ok(Ok(frame));
        }
        let (file, pos, want) = (Arc::clone(&self.file), self.pos, remaining.min(FRAME_MAX));
        if let Some((permit, size)) = self.budget.try_reserve(want) {
            return match read_now(&file, pos, size) {
                Ok(Some(read)) => Ok(frame_of(read, permit)),
                Ok(None) => Err(Box::pin(async move {
                    frame_of(read_blocking(file, pos, size).await?, permit)
                })),
                Err(e) => Ok(Err(e)),
            };
        }
        let budget = self.budget.clone();
        Err(Box::pin(async move {
            let (permit, size) = budget.reserve(want).await?;
            let read = match read_now(&file, pos, size)? {
                Some(read) => read,
                None => read_blocking(file, pos, size).await?,
            };
            frame_of(read, permit)
        }))
    }
}

impl Stream for SpanFrames {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        let result = match this.pending.as_mut() {
            Some(pending) => {
                let result = ready!(pending.as_mut().poll(cx));
                this.pending = None;
                result
            }
            None if this.pos >= this.end => {
                this.ended = true;
                return Poll::Ready(None);
            }
            None => match this.next_frame() {
                Ok(result) => result,
                Err(mut pending) => match pending.as_mut().poll(cx) {
                    Poll::Ready(result) => result,
                    Poll::Pending => {
                        this.pending = Some(pending);
                        return Poll::Pending;
                    }
                },
            },
        };
        match &result {
            Ok(frame) => this.pos += frame.len() as u64,
            Err(_) => this.ended = true,
        }
        Poll::Ready(Some(result))
    }
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
