//! Byte streams, below every layer that moves bytes: [`ByteStream`] carries object bytes out
//! (storage and the chunk cache produce it, the HTTP layer sends it), and [`BodyStream`] carries
//! an incoming body in (the HTTP layer makes it from a request, storage and live ingest consume
//! it). Both are plain streams, so neither side knows the other's types.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};

/// A stream of object bytes; an `Err` item aborts the response.
pub(crate) type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// Why an incoming body ended before its end: the sender's doing, never the store's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The connection broke or the framing was invalid.
    #[error("the request body failed: {0}")]
    Broken(String),
    /// No bytes for longer than the per-chunk timeout.
    #[error("the request body stalled for longer than {0:?}")]
    Stalled(Duration),
    /// More bytes than the limit allows.
    #[error("the upload is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
}

/// An incoming body as chunks, each awaited within the sender's timeout.
pub(crate) type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, BodyError>> + Send>>;

/// A body made of bytes already in memory (recordings copy buffered segments this way).
pub(crate) fn body_of(bytes: Bytes) -> BodyStream {
    Box::pin(futures_util::stream::iter([Ok(bytes)]))
}

/// A body with a size limit: yields its chunks until the end, or [`BodyError::TooLarge`] once
/// more than `max` bytes have come. Every consumer of a body — object uploads, live segments,
/// playlists, forwarded segments — reads it through this one type.
pub(crate) struct Limited {
    body: BodyStream,
    max: u64,
    taken: u64,
}

impl std::fmt::Debug for Limited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limited")
            .field("max", &self.max)
            .field("taken", &self.taken)
            .finish_non_exhaustive()
    }
}

impl Limited {
    pub(crate) fn new(body: BodyStream, max: u64) -> Self {
        Self {
            body,
            max,
            taken: 0,
        }
    }

    /// The next chunk; `None` at the end of the body.
    pub(crate) async fn next(&mut self) -> Option<Result<Bytes, BodyError>> {
        let chunk = match self.body.next().await? {
            Ok(chunk) => chunk,
            Err(e) => return Some(Err(e)),
        };
        self.taken = self.taken.saturating_add(chunk.len() as u64);
        if self.taken > self.max {
            return Some(Err(BodyError::TooLarge { limit: self.max }));
        }
        Some(Ok(chunk))
    }

    /// Bytes taken so far.
    pub(crate) fn taken(&self) -> u64 {
        self.taken
    }

    /// The whole body in memory (for small bodies: playlists).
    pub(crate) async fn collect(mut self) -> Result<Vec<u8>, BodyError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }
}
