//! Request bodies, handed to the domain as [`BodyStream`]s: each chunk must come within the
//! node's `body_timeout` (a stalled sender gets 408, never a hung task), a broken body is the
//! client's failure (400), and sizes are bounded by whoever consumes the stream
//! ([`crate::stream::Limited`]). The one place a request body is read.

use std::time::Duration;

use axum::body::Body;
use futures_util::StreamExt;

use crate::stream::{BodyError, BodyStream};

/// `body` as chunks, each awaited at most `timeout`; the stream ends at the first error.
pub(crate) fn stream(body: Body, timeout: Duration) -> BodyStream {
    Box::pin(
        futures_util::stream::unfold(Some(body.into_data_stream()), move |state| async move {
            let mut inner = state?;
            match tokio::time::timeout(timeout, inner.next()).await {
                Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(inner))),
                Ok(Some(Err(e))) => Some((Err(BodyError::Broken(e.to_string())), None)),
                Ok(None) => None,
                Err(_) => Some((Err(BodyError::Stalled(timeout)), None)),
            }
        })
        .fuse(),
    )
}
