//! The connection writer that sends local-file spans with `sendfile(2)`.
//!
//! [`FileWriter`] wraps an accepted `TcpStream` for hyper. Ordinary bytes (heads, multipart
//! framing, frames from S3, the cache or the copy path) pass to the socket as they are. A
//! placeholder slice ([`crate::zero_copy`]) is replaced by the span at the head of the
//! connection's [`FileSink`]: the slice must start where the span's sent bytes end and be as
//! long as what is left of it, or the connection ends (`InvalidData`) — a placeholder is never
//! sent as the zeros it is made of.
//!
//! What stays as it was: a file that ends before its span does (truncated while being served)
//! fails the write (`UnexpectedEof`), so hyper aborts the response rather than end it clean and
//! short; a socket that will not take bytes returns `Pending` like any write, so the write-stall
//! timeout ([`crate::http::transport::net::StallGuard`], wrapped around this) still applies; nothing here holds
//! memory, so the read budget has nothing to account for.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use prometheus_client::metrics::counter::Counter;

use crate::zero_copy::{FileSink, FileSpan, placeholder_offset};

/// A TCP stream whose writes turn placeholder slices into `sendfile` of their spans.
#[derive(Debug)]
pub(crate) struct FileWriter {
    tcp: TcpStream,
    sink: FileSink,
    /// The span being sent and how many of its bytes have gone.
    current: Option<(FileSpan, usize)>,
    /// The node's count of bytes sent with `sendfile` (`reelay_http_sendfile_bytes_total`).
    sent: Counter,
}

impl FileWriter {
    pub fn new(tcp: TcpStream, sink: FileSink, sent: Counter) -> Self {
        Self {
            tcp,
            sink,
            current: None,
            sent,
        }
    }

    /// Runs the non-blocking socket operation `op` once the socket is writable; `Pending` (with
    /// the waker registered) while it would block.
    fn poll_op(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.tcp.poll_write_ready(cx))?;
            match self.tcp.try_io(Interest::WRITABLE, || op(&self.tcp)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                done => return Poll::Ready(done),
            }
        }
    }

    /// Sends what `slice`, a placeholder at offset `at` of its region, stands for.
    fn poll_send_file(
        &mut self,
        cx: &mut Context<'_>,
        at: usize,
        slice_len: usize,
    ) -> Poll<io::Result<usize>> {
        if self.current.is_none() {
            self.current = self.sink.pop().map(|span| (span, 0));
        }
        let Some((span, sent)) = &self.current else {
            return Poll::Ready(Err(out_of_step("a file frame without its span")));
        };
        if at != *sent || span.len.checked_sub(*sent) != Some(slice_len) {
            return Poll::Ready(Err(out_of_step("a file frame out of step with its span")));
        }
        let offset = span.offset + *sent as u64;
        let n = ready!(self.poll_op(cx, |tcp| {
            let mut at = offset;
            Ok(rustix::fs::sendfile(
                tcp,
                &*span.file,
                Some(&mut at),
                slice_len,
            )?)
        }))?;
        if n == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while being served",
            )));
        }
        self.sent.inc_by(n as u64);
        if let Some((span, sent)) = &mut self.current {
            *sent += n;
            if *sent >= span.len {
                self.current = None;
            }
        }
        Poll::Ready(Ok(n))
    }
}

fn out_of_step(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl AsyncRead for FileWriter {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for FileWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match placeholder_offset(buf) {
            Some(at) => self.poll_send_file(cx, at, buf.len()),
            None => Pin::new(&mut self.tcp).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // Ordinary bytes before a placeholder (a head, multipart framing) go in a plain
        // `writev` of their own, the placeholder in the next call. (`MSG_MORE` on the head, to
        // send it in the body's first segment, measured slower: 21.9k against 31.9k
        // req/s at 64 KiB ranges, bench/README.md.)
        let lead = bufs
            .iter()
            .position(|b| placeholder_offset(b).is_some())
            .unwrap_or(bufs.len());
        match bufs.get(lead) {
            Some(first) if lead == 0 => {
                let at = placeholder_offset(first).unwrap_or_default();
                self.poll_send_file(cx, at, first.len())
            }
            _ => Pin::new(&mut self.tcp).poll_write_vectored(cx, &bufs[..lead]),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::OwnedFd;
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A writer on one end of a loopback connection, and the other end.
    async fn pair() -> (FileWriter, FileSink, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr"))
            .await
            .expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        let sink = FileSink::new();
        let writer = FileWriter::new(server, sink.clone(), Counter::default());
        (writer, sink, client)
    }

    fn file_of(bytes: &[u8]) -> (tempfile::NamedTempFile, Arc<OwnedFd>) {
        let tmp = tempfile::NamedTempFile::new().expect("temp");
        std::fs::write(tmp.path(), bytes).expect("write");
        let file = std::fs::File::open(tmp.path()).expect("open");
        (tmp, Arc::new(OwnedFd::from(file)))
    }

    /// Writes all of `bufs` the way hyper does: vectored, advancing past what each call took.
    async fn write_all_vectored(w: &mut FileWriter, bufs: &[&[u8]]) -> io::Result<()> {
        let mut bufs: Vec<&[u8]> = bufs.to_vec();
        while !bufs.is_empty() {
            let slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
            let mut n = w.write_vectored(&slices).await?;
            while n > 0 {
                let take = n.min(bufs[0].len());
                bufs[0] = &bufs[0][take..];
                n -= take;
                if bufs[0].is_empty() {
                    bufs.remove(0);
                }
            }
        }
        Ok(())
    }

    #[tokio::test]
    async fn a_placeholder_between_ordinary_bytes_is_replaced_by_its_file_span() {
        let (mut writer, sink, mut client) = pair().await;
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let (_tmp, file) = file_of(&data);
        let span = |offset, len| FileSpan {
            file: Arc::clone(&file),
            offset,
            len,
        };
        let first = sink.push(span(10, 200_000)).expect("fits");
        let second = sink.push(span(0, 5)).expect("fits");
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.expect("read");
            got
        });
        write_all_vectored(&mut writer, &[b"head\r\n", &first, b"--", &second])
            .await
            .expect("write");
        writer.shutdown().await.expect("shutdown");
        drop(writer);
        let mut want = b"head\r\n".to_vec();
        want.extend_from_slice(&data[10..200_010]);
        want.extend_from_slice(b"--");
        want.extend_from_slice(&data[..5]);
        assert!(reader.await.expect("join") == want, "bytes differ");
    }

    #[tokio::test]
    async fn a_placeholder_without_its_span_or_out_of_step_is_refused_never_sent_as_zeros() {
        let (mut writer, sink, _client) = pair().await;
        let (_tmp, file) = file_of(&[7u8; 100_000]);
        let stray = sink.push(FileSpan {
            file: Arc::clone(&file),
            offset: 0,
            len: 1000,
        });
        let stray = stray.expect("fits");
        sink.pop();
        let err = writer.write(&stray).await.expect_err("no span queued");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let longer = sink
            .push(FileSpan {
                file,
                offset: 0,
                len: 2000,
            })
            .expect("fits");
        let err = writer
            .write(&longer[..1000])
            .await
            .expect_err("wrong length");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn a_span_past_the_end_of_its_file_fails_the_write() {
        let (mut writer, sink, _client) = pair().await;
        let (_tmp, file) = file_of(&[7u8; 1000]);
        let frame = sink
            .push(FileSpan {
                file,
                offset: 1000,
                len: 500,
            })
            .expect("fits");
        let err = writer.write(&frame).await.expect_err("nothing to send");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
