//! Response bodies as the server writes them, without a box per layer.
//!
//! [`MediaBody`] is what a media answer sends: nothing (HEAD, 304), a short fixed text (412,
//! 416), or an object's bytes as the stream storage gives. The media handlers box it into axum's
//! body for the router; the direct path (`http/transport/direct.rs`) hands it to hyper as it is.
//! [`ReplyBody`] is the one body type of a connection: the router's (already boxed) body, or a
//! direct answer, metered.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use futures_util::Stream;
use http_body::{Frame, SizeHint};

use crate::http::common::middleware::observe::MeteredBody;
use crate::stream::ByteStream;

/// A media response's body.
pub(crate) enum MediaBody {
    /// No bytes (HEAD, 304, or an empty span).
    Empty,
    /// A short text, sent once (`None` once sent).
    Text(Option<Bytes>),
    /// An object's bytes, `len` of them, frame by frame; an `Err` aborts the response.
    Frames { stream: ByteStream, len: u64 },
}

impl std::fmt::Debug for MediaBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("Empty"),
            Self::Text(text) => f.debug_tuple("Text").field(text).finish(),
            Self::Frames { len, .. } => f.debug_struct("Frames").field("len", len).finish(),
        }
    }
}

impl MediaBody {
    /// A fixed text.
    pub(crate) fn text(text: &'static str) -> Self {
        Self::Text(Some(Bytes::from_static(text.as_bytes())))
    }
}

impl http_body::Body for MediaBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            Self::Empty => Poll::Ready(None),
            Self::Text(text) => Poll::Ready(text.take().map(|t| Ok(Frame::data(t)))),
            Self::Frames { stream, len } => {
                let polled = Pin::new(stream).poll_next(cx);
                if let Poll::Ready(Some(Ok(data))) = &polled {
                    *len = len.saturating_sub(data.len() as u64);
                }
                polled.map(|item| item.map(|r| r.map(Frame::data)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Text(text) => text.is_none(),
            Self::Frames { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Empty => SizeHint::with_exact(0),
            Self::Text(text) => SizeHint::with_exact(text.as_ref().map_or(0, |t| t.len() as u64)),
            Self::Frames { len, .. } => SizeHint::with_exact(*len),
        }
    }
}

impl From<MediaBody> for Body {
    fn from(body: MediaBody) -> Self {
        match body {
            MediaBody::Empty => Body::empty(),
            body => Body::new(body),
        }
    }
}

/// A connection's response body.
#[derive(Debug)]
pub(crate) enum ReplyBody {
    /// The router's answer.
    Routed(Body),
    /// A direct media answer.
    Direct(MeteredBody<MediaBody>),
}

impl http_body::Body for ReplyBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.get_mut() {
            Self::Routed(body) => Pin::new(body).poll_frame(cx),
            Self::Direct(body) => Pin::new(body)
                .poll_frame(cx)
                .map(|item| item.map(|r| r.map_err(axum::Error::new))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Routed(body) => body.is_end_stream(),
            Self::Direct(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Routed(body) => body.size_hint(),
            Self::Direct(body) => body.size_hint(),
        }
    }
}
