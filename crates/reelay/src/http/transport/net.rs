//! Connection-level I/O guards.
//!
//! [`StallGuard`] fails a write that makes no progress for `write_timeout` (nginx calls this
//! `send_timeout`): a client that stops reading mid-body is disconnected instead of holding its
//! connection and read buffers forever. A paused `<video>` that stops reading simply reconnects
//! with a new range request when playback resumes.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Wraps a stream; writes pending for longer than the timeout fail with `TimedOut`.
#[derive(Debug)]
pub(crate) struct StallGuard<S> {
    inner: S,
    write_timeout: Duration,
    /// Made on the connection's first pending write and reset after that (no allocation per
    /// stall); only consulted while `armed`.
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
    /// The node's count of connections ended this way (`reelay_http_write_stalls_total`).
    stalls: Counter,
}

impl<S> StallGuard<S> {
    pub fn new(inner: S, write_timeout: Duration, stalls: Counter) -> Self {
        Self {
            inner,
            write_timeout,
            timer: None,
            armed: false,
            stalls,
        }
    }

    /// Passes a ready result through (and disarms the timer); on pending, arms it and fails
    /// once it fires.
    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.armed = false;
            return polled;
        }
        let timeout = self.write_timeout;
        let rearm = !std::mem::replace(&mut self.armed, true);
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if rearm {
            timer.as_mut().reset(tokio::time::Instant::now() + timeout);
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.stalls.inc();
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "client stopped reading",
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallGuard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallGuard<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.guard(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.guard(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.guard(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
