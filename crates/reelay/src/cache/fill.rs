//! One chunk being fetched from the backend, shared by every reader that wants it meanwhile.
//!
//! The fetch task appends each upstream piece to `segments` (append-only, so readers' cursors
//! stay valid) and publishes the new length on a `watch` channel; a reader takes whatever lies
//! past its cursor and waits for the next change. No reader waits for the whole chunk before
//! its first byte, and all of them together cost one backend read.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::watch;

/// How far a fill has got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Bytes received so far.
    Filling(usize),
    /// All bytes received; the total.
    Done(usize),
    /// The fetch failed (message for the log); readers abort their responses.
    Failed(Arc<str>),
}

#[derive(Debug)]
pub(crate) struct Fill {
    segments: Mutex<Vec<Bytes>>,
    progress: watch::Sender<Progress>,
}

impl Fill {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            segments: Mutex::new(Vec::new()),
            progress: watch::Sender::new(Progress::Filling(0)),
        })
    }

    /// Appends bytes from the backend.
    pub(crate) fn push(&self, bytes: Bytes) {
        let len = bytes.len();
        self.segments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(bytes);
        self.progress.send_modify(|p| {
            if let Progress::Filling(n) = p {
                *n += len;
            }
        });
    }

    /// Marks the fill complete and returns the whole chunk, contiguous.
    pub(crate) fn finish(&self) -> Bytes {
        let segments = self.segments.lock().unwrap_or_else(|p| p.into_inner());
        let whole = match segments.as_slice() {
            [one] => one.clone(),
            many => {
                let total = many.iter().map(Bytes::len).sum();
                let mut buf = Vec::with_capacity(total);
                for s in many {
                    buf.extend_from_slice(s);
                }
                Bytes::from(buf)
            }
        };
        drop(segments);
        self.progress.send_replace(Progress::Done(whole.len()));
        whole
    }

    pub(crate) fn fail(&self, message: &str) {
        self.progress.send_replace(Progress::Failed(message.into()));
    }

    pub(crate) fn reader(self: &Arc<Self>, from: usize, to: usize) -> FillReader {
        FillReader {
            fill: self.clone(),
            progress: self.progress.subscribe(),
            pos: from,
            to,
            segment: 0,
            segment_start: 0,
        }
    }
}

/// Reads bytes `pos..to` of a fill as they arrive.
#[derive(Debug)]
pub(crate) struct FillReader {
    fill: Arc<Fill>,
    progress: watch::Receiver<Progress>,
    pos: usize,
    to: usize,
    /// Cursor: index of the segment holding `pos`, and that segment's offset in the chunk.
    segment: usize,
    segment_start: usize,
}

impl FillReader {
    /// The next bytes, `None` at `to`, `Err` if the fill failed or ended short.
    pub(crate) async fn next(&mut self) -> Option<Result<Bytes, String>> {
        loop {
            if self.pos >= self.to {
                return None;
            }
            let state = self.progress.borrow_and_update().clone();
            let available = match &state {
                Progress::Filling(n) | Progress::Done(n) => *n,
                Progress::Failed(msg) => return Some(Err(msg.to_string())),
            };
            if available > self.pos {
                return Some(Ok(self.take(available)));
            }
            if let Progress::Done(n) = state {
                return Some(Err(format!(
                    "chunk ended at {n} bytes, {} were expected",
                    self.to
                )));
            }
            if self.progress.changed().await.is_err() {
                return Some(Err("the fill was abandoned".into()));
            }
        }
    }

    /// Takes the bytes of one segment past the cursor (bounded by `available` and `to`).
    fn take(&mut self, available: usize) -> Bytes {
        let segments = self.fill.segments.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let Some(seg) = segments.get(self.segment) else {
                return Bytes::new();
            };
            let seg_end = self.segment_start + seg.len();
            if self.pos < seg_end {
                let from = self.pos - self.segment_start;
                let to = (seg_end.min(self.to).min(available)) - self.segment_start;
                self.pos = self.segment_start + to;
                return seg.slice(from..to);
            }
            self.segment_start = seg_end;
            self.segment += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readers_get_bytes_as_they_arrive_and_exactly_their_slice() {
        let fill = Fill::new();
        let mut early = fill.reader(2, 9);
        fill.push(Bytes::from_static(b"0123"));
        assert_eq!(early.next().await, Some(Ok(Bytes::from_static(b"23"))));
        let mut late = fill.reader(0, 10);
        fill.push(Bytes::from_static(b"456789"));
        assert_eq!(early.next().await, Some(Ok(Bytes::from_static(b"45678"))));
        assert_eq!(early.next().await, None);
        assert_eq!(late.next().await, Some(Ok(Bytes::from_static(b"0123"))));
        assert_eq!(fill.finish(), Bytes::from_static(b"0123456789"));
        assert_eq!(late.next().await, Some(Ok(Bytes::from_static(b"456789"))));
        assert_eq!(late.next().await, None);
    }

    #[tokio::test]
    async fn a_failed_or_short_fill_is_an_error() {
        let fill = Fill::new();
        let mut r = fill.reader(0, 4);
        fill.push(Bytes::from_static(b"ab"));
        fill.fail("backend died");
        // A failed fill aborts its readers at once: their responses are cut either way.
        assert!(matches!(r.next().await, Some(Err(_))));
        let short = Fill::new();
        let mut r = short.reader(0, 4);
        short.push(Bytes::from_static(b"ab"));
        short.finish();
        assert_eq!(r.next().await, Some(Ok(Bytes::from_static(b"ab"))));
        assert!(matches!(r.next().await, Some(Err(_))));
    }
}
