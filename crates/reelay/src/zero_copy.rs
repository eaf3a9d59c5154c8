//! Zero-copy bodies: spans of local files that the connection writing a response sends with
//! `sendfile(2)`, instead of copying them from the page cache into a buffer and from the buffer
//! into the socket.
//!
//! hyper writes bodies from the `Bytes` frames it is given and has no file body
//! (hyperium/hyper#3026). So a file span travels through hyper as a *placeholder* frame — a
//! slice, of the span's length, of one static region that nothing else uses, so hyper's
//! `Content-Length` accounting stays exact — while the span itself (file, offset, length) goes
//! into the connection's [`FileSink`], a FIFO queue. The connection's writer
//! (`http::sendfile::FileWriter`) recognises placeholder slices by address when hyper hands them
//! to `writev`, checks each against the head of the queue (where it starts in its placeholder and
//! how long it is must agree with what has been sent of the span), and sends the file's bytes
//! in its place.
//!
//! Who may see a placeholder: storage yields one only when it is given a sink, and the HTTP
//! server gives a sink only to requests on a connection whose writer consumes it. A placeholder
//! that reached any other consumer would read as zeros, so the writer ends the connection on any
//! mismatch rather than send a byte it cannot vouch for. HTTP/1.1 answers one request at a time
//! per connection, so the queue's order is the order hyper writes frames in.

use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// The longest span one placeholder stands for.
pub(crate) const SPAN_MAX: usize = 256 * 1024;

/// The placeholder region. Never read: its slices are recognised by address.
static PLACEHOLDER: [u8; SPAN_MAX] = [0; SPAN_MAX];

/// Bytes `offset..offset + len` of an open local file, to be sent by the connection.
#[derive(Debug)]
pub(crate) struct FileSpan {
    pub(crate) file: Arc<OwnedFd>,
    pub(crate) offset: u64,
    pub(crate) len: usize,
}

/// The queue of file spans of one connection, in the order their placeholders were yielded.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileSink {
    queue: Arc<Mutex<VecDeque<FileSpan>>>,
}

impl FileSink {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Queues `span` and returns the placeholder frame that stands for it in the body.
    /// `None` when the span is empty or longer than [`SPAN_MAX`] (the caller copies instead).
    pub(crate) fn push(&self, span: FileSpan) -> Option<Bytes> {
        let len = span.len;
        if len == 0 || len > SPAN_MAX {
            return None;
        }
        self.lock().push_back(span);
        Some(Bytes::from_static(&PLACEHOLDER[..len]))
    }

    /// The oldest span not yet taken by the writer.
    pub(crate) fn pop(&self) -> Option<FileSpan> {
        self.lock().pop_front()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<FileSpan>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where `slice` starts in the placeholder region, if it is a (non-empty) placeholder slice.
pub(crate) fn placeholder_offset(slice: &[u8]) -> Option<usize> {
    let base = PLACEHOLDER.as_ptr() as usize;
    let at = (slice.as_ptr() as usize).checked_sub(base)?;
    let end = at.checked_add(slice.len())?;
    (!slice.is_empty() && end <= SPAN_MAX).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(len: usize) -> FileSpan {
        let file = std::fs::File::open("/dev/null").expect("open");
        FileSpan {
            file: Arc::new(OwnedFd::from(file)),
            offset: 7,
            len,
        }
    }

    #[test]
    fn a_placeholder_is_recognised_by_address_and_ordinary_bytes_are_not() {
        let sink = FileSink::new();
        let frame = sink.push(span(1000)).expect("fits");
        assert_eq!(frame.len(), 1000);
        assert_eq!(placeholder_offset(&frame), Some(0));
        assert_eq!(placeholder_offset(&frame[10..]), Some(10));
        assert_eq!(
            placeholder_offset(&frame[..0]),
            None,
            "empty slices are nobody's"
        );
        assert_eq!(placeholder_offset(&vec![0u8; 1000]), None);
        assert_eq!(placeholder_offset(b"HTTP/1.1 206"), None);
        assert_eq!(sink.pop().map(|s| (s.offset, s.len)), Some((7, 1000)));
        assert!(sink.pop().is_none());
    }

    #[test]
    fn a_span_longer_than_the_region_or_empty_is_refused_and_not_queued() {
        let sink = FileSink::new();
        assert!(sink.push(span(SPAN_MAX + 1)).is_none());
        assert!(sink.push(span(0)).is_none());
        assert!(sink.pop().is_none());
    }
}
