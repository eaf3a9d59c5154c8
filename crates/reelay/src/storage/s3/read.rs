//! Streaming byte spans of an S3 object to the client as they arrive.
//!
//! A span is fetched as a series of ranged GETs of at most `part_size` bytes, each conditional
//! on the ETag the response's validators came from (`If-Match`), and each checked on arrival:
//! status 206, the `Content-Range` asked for, the same ETag. Bytes are passed on chunk by chunk
//! (the first byte leaves before the first part is complete); the client's backpressure paces
//! the reads, and a client that leaves drops the stream and the upstream connection with it.
//!
//! Waits on the store are bounded by the profile's `request_timeout` — for response headers and
//! between two body chunks — never for the client. A part that fails mid-body is re-requested
//! from the current offset (safe: `If-Match` pins the version); when that fails too, the stream
//! ends with an error so the client sees an aborted body, never a clean short one.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use http::header;
use rusty_s3::S3Action;

use super::{S3Inner, client::SIGN_TTL};
use crate::storage::error::StorageError;

/// Re-requests allowed after a part fails mid-body.
const RESUMES: u32 = 2;

struct Reader {
    inner: Arc<S3Inner>,
    key: String,
    /// The store's ETag exactly as it sent it (for `If-Match` and comparison).
    etag: Option<String>,
    pos: u64,
    end: u64,
    part: Option<Part>,
    resumes_left: u32,
}

struct Part {
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    end: u64,
}

fn to_io(e: StorageError) -> io::Error {
    io::Error::other(e)
}

/// Requests bytes `pos..min(end, pos + part_size)` of `key`, pinned to `etag`.
async fn open_part(
    inner: &S3Inner,
    key: &str,
    etag: Option<&str>,
    pos: u64,
    end: u64,
) -> Result<Part, StorageError> {
    let profile = &inner.profile;
    let part_end = end.min(pos.saturating_add(profile.part_size));
    let range = format!("bytes={pos}-{}", part_end - 1);
    let what = format!("GET {key}");
    let resp = profile
        .send(&what, || {
            let url = inner
                .bucket
                .get_object(profile.credentials.as_ref(), key)
                .sign(SIGN_TTL);
            let mut req = profile.http.get(url).header(header::RANGE, &range);
            if let Some(etag) = etag {
                req = req.header(header::IF_MATCH, etag);
            }
            req
        })
        .await?;
    if resp.status() != reqwest::StatusCode::PARTIAL_CONTENT {
        return Err(profile.status_error(&what, resp.status()));
    }
    let header_str = |name| resp.headers().get(name).and_then(|v| v.to_str().ok());
    let expected_range = format!("bytes {pos}-{}/", part_end - 1);
    if !header_str(header::CONTENT_RANGE).is_some_and(|r| r.starts_with(&expected_range)) {
        return Err(StorageError::Changed);
    }
    if let (Some(want), Some(got)) = (etag, header_str(header::ETAG))
        && want != got
    {
        return Err(StorageError::Changed);
    }
    Ok(Part {
        body: resp.bytes_stream().boxed(),
        end: part_end,
    })
}

impl Reader {
    /// The next chunk of the span, `None` at its end.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, StorageError> {
        let timeout = self.inner.profile.request_timeout;
        loop {
            if self.pos >= self.end {
                return Ok(None);
            }
            if self.part.is_none() {
                let etag = self.etag.as_deref();
                let part = open_part(&self.inner, &self.key, etag, self.pos, self.end).await?;
                self.part = Some(part);
            }
            let Some(part) = self.part.as_mut() else {
                continue;
            };
            let failure = match tokio::time::timeout(timeout, part.body.next()).await {
                Ok(Some(Ok(chunk))) => {
                    let next = self.pos + chunk.len() as u64;
                    if next > part.end {
                        return Err(StorageError::Changed);
                    }
                    self.pos = next;
                    if next == part.end {
                        self.part = None;
                    }
                    return Ok(Some(chunk));
                }
                Ok(None) if self.pos == part.end => {
                    self.part = None;
                    continue;
                }
                Ok(None) => StorageError::Backend(format!("GET {}: body ended early", self.key)),
                Ok(Some(Err(e))) => self
                    .inner
                    .profile
                    .transport_error(&format!("GET {}", self.key), &e),
                Err(_) => StorageError::BackendTimeout(format!("GET {}: body stalled", self.key)),
            };
            if self.resumes_left == 0 {
                return Err(failure);
            }
            tracing::debug!(error = %failure, pos = self.pos, "resuming S3 read");
            self.resumes_left -= 1;
            self.part = None;
        }
    }
}

/// Streams bytes `start..end` of `key`, pinned to `etag` (as the store sent it).
pub(crate) fn read_span(
    inner: Arc<S3Inner>,
    key: String,
    etag: Option<String>,
    start: u64,
    end: u64,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let reader = Reader {
        inner,
        key,
        etag,
        pos: start,
        end,
        part: None,
        resumes_left: RESUMES,
    };
    futures_util::stream::try_unfold(reader, |mut reader| async move {
        match reader.next_chunk().await {
            Ok(Some(chunk)) => Ok(Some((chunk, reader))),
            Ok(None) => Ok(None),
            Err(e) => {
                if matches!(e, StorageError::Changed) {
                    // The cached validators are stale: the next request must see the new object.
                    reader.inner.forget(&reader.key);
                }
                Err(to_io(e))
            }
        }
    })
}
