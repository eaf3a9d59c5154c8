//! Request ids, per-request tracing spans and request metrics: the outermost layer.
//!
//! It gives the request an `X-Request-Id` (the client's, when it is a short token, else a fresh
//! one), opens a tracing span carrying it (so every log line of the request, errors included,
//! bears the id the client was given), counts the request by matched route and status, and wraps
//! the response body in a [`MeteredBody`] that records time to first byte when the first body
//! frame leaves and counts the bytes sent.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http::HeaderValue;
use http_body::{Frame, SizeHint};
use tracing::Instrument;

use crate::http::routes;
use crate::metrics::{Metrics, RouteMeters};

pub const REQUEST_ID: &str = "x-request-id";

fn incoming_request_id(req: &Request) -> Option<HeaderValue> {
    let value = req.headers().get(REQUEST_ID)?;
    let ok = (1..=64).contains(&value.len())
        && value
            .as_bytes()
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b));
    ok.then(|| value.clone())
}

/// 16 hex digits of a random number, without a formatting pass.
fn new_request_id() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n = crate::random::u64();
    let mut digits = [0u8; 16];
    for (i, d) in digits.iter_mut().enumerate() {
        *d = HEX[((n >> (60 - 4 * i)) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&digits).unwrap_or(HeaderValue::from_static("0"))
}

/// The middleware described in the module docs, on its own (the stack with CORS origins).
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    observed(&metrics, req, |req| next.run(req)).await
}

/// Runs `inner` on `req` as described in the module docs: the request id, the span around
/// `inner`, the count by route and status, the metered body.
pub async fn observed<F, Fut>(metrics: &Metrics, mut req: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(routes::UNMATCHED, MatchedPath::as_str);
    let meters = metrics.http.route(route);
    let echoed = routes::echoes_request_id(route);
    let request_id = incoming_request_id(&req).unwrap_or_else(|| {
        let id = new_request_id();
        if echoed {
            // Handlers that echo the id in a body (LiveMix's envelope) read it from the request.
            req.headers_mut().insert(REQUEST_ID, id.clone());
        }
        id
    });
    let span = tracing::info_span!(
        "request",
        id = %request_id.to_str().unwrap_or(""),
        method = %req.method(),
        path = %req.uri().path(),
    );
    let mut response = inner(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.in_scope(|| tracing::debug!(status, "responded"));
    meters.count(status);
    response.headers_mut().insert(REQUEST_ID, request_id);
    let meter = BodyMeter {
        start,
        first: true,
        meters,
    };
    response.map(|inner| Body::new(MeteredBody { inner, meter }))
}

#[derive(Debug)]
struct BodyMeter {
    start: Instant,
    /// Whether the first byte is still to be timed.
    first: bool,
    meters: Arc<RouteMeters>,
}

impl BodyMeter {
    fn first_byte(&mut self) {
        if std::mem::take(&mut self.first) {
            self.meters.ttfb.observe(self.start.elapsed().as_secs_f64());
        }
    }
}

impl Drop for BodyMeter {
    fn drop(&mut self) {
        self.first_byte();
    }
}

/// A response body that reports time to first byte and bytes sent.
#[derive(Debug)]
struct MeteredBody {
    inner: Body,
    meter: BodyMeter,
}

impl http_body::Body for MeteredBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.meter.first_byte();
                    self.meter.meters.sent.inc_by(data.len() as u64);
                }
            }
            Poll::Ready(None) => self.meter.first_byte(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
