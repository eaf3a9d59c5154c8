//! Request ids, what the log lines of a request say of it, and request metrics: the outermost
//! layer.
//!
//! It gives the request an `X-Request-Id` (the client's, when it is a short token, else a fresh
//! one), runs it with its [`RequestTag`] (id, method, path) in a task-local that the log lines
//! read (`log_lines.rs`), so every log line of the request, errors included, bears the id the
//! client was given, counts the request by matched route and status, and wraps the response
//! body in a [`MeteredBody`] that records time to first byte when the first body frame leaves
//! and counts the bytes sent.
//!
//! Why a task-local and not a tracing span: a span is created, has its fields formatted and
//! stored, is entered and left at every poll and closed, for every request — and a publication
//! answers a thousand held LL-HLS reloads at once (issue 16, `bench/README.md`). The tag is
//! moved in and out of a thread-local slot at each poll and costs nothing more. The span is
//! opened only when the log filter has span or field directives ([`open_request_spans`]),
//! which need one to match.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, Method, Uri};
use http_body::{Frame, SizeHint};
use tracing::Instrument;

use crate::http::common::routes;
use crate::metrics::{Metrics, RouteMeters};

pub(crate) const REQUEST_ID: &str = "x-request-id";

fn incoming_request_id<B>(req: &http::Request<B>) -> Option<HeaderValue> {
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
pub(crate) async fn track(
    State(metrics): State<Arc<Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    observed(&metrics, req, |req| next.run(req)).await
}

/// Runs `inner` on `req` as described in the module docs: the request id, the tag around
/// `inner`, the count by route and status, the metered body.
pub(crate) async fn observed<F, Fut>(metrics: &Metrics, mut req: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(routes::UNMATCHED, MatchedPath::as_str);
    let meters = metrics.http.route(route);
    let echoed = routes::echoes_request_id(route);
    let mut observation = Observation::begin(meters, &req);
    if echoed {
        observation.echo(&mut req);
    }
    let response = observation.run(inner(req)).await;
    observation.finish(response).map(Body::new)
}

static REQUEST_SPANS: AtomicBool = AtomicBool::new(false);

/// Whether requests also open a tracing span, `request{id, method, path}`: on when the log
/// filter has span or field directives (`REELAY_LOG=info,reelay[request{id=…}]=debug`), which
/// match spans; off by default (the module docs say why).
pub(crate) fn open_request_spans(on: bool) {
    REQUEST_SPANS.store(on, Ordering::Relaxed);
}

tokio::task_local! {
    static REQUEST: RequestTag;
}

/// What a request's log lines say of it: its id, method and path.
#[derive(Debug, Clone)]
pub(crate) struct RequestTag {
    id: HeaderValue,
    method: Method,
    uri: Uri,
}

impl RequestTag {
    /// The tag of `req`, whose id is `id`.
    pub fn new<B>(req: &http::Request<B>, id: HeaderValue) -> Self {
        Self {
            id,
            method: req.method().clone(),
            uri: req.uri().clone(),
        }
    }

    /// The request id (only short tokens of `[A-Za-z0-9._-]` are taken from a client).
    pub fn id(&self) -> &str {
        self.id.to_str().unwrap_or("")
    }

    pub(crate) fn method(&self) -> &str {
        self.method.as_str()
    }

    pub(crate) fn path(&self) -> &str {
        self.uri.path()
    }

    /// `f` on the tag of the request whose code is running, if it runs for one.
    pub(crate) fn with_current<R>(f: impl FnOnce(&Self) -> R) -> Option<R> {
        REQUEST.try_with(f).ok()
    }

    /// Runs `f` (synchronous) as this request's.
    pub(crate) fn in_scope<R>(self, f: impl FnOnce() -> R) -> R {
        REQUEST.sync_scope(self, f)
    }
}

/// One request being observed: started by [`Observation::begin`] as it comes in, its work run
/// by [`Observation::run`], ended by [`Observation::finish`] with its response. The router's
/// layer and the direct media path (`http/transport/direct.rs`) observe the same way.
#[derive(Debug)]
pub struct Observation {
    start: Instant,
    meters: Arc<RouteMeters>,
    /// `None` only while [`Observation::run`] has it in the task-local.
    tag: Option<RequestTag>,
    /// The request's span, when spans are on ([`open_request_spans`]); else none.
    span: tracing::Span,
}

impl Observation {
    /// Gives `req` its id and its tag; `meters` are its route's.
    pub(crate) fn begin<B>(meters: Arc<RouteMeters>, req: &http::Request<B>) -> Self {
        let start = Instant::now();
        let request_id = incoming_request_id(req).unwrap_or_else(new_request_id);
        let span = if REQUEST_SPANS.load(Ordering::Relaxed) {
            tracing::info_span!(
                "request",
                id = %request_id.to_str().unwrap_or(""),
                method = %req.method(),
                path = %req.uri().path(),
            )
        } else {
            tracing::Span::none()
        };
        Self {
            start,
            meters,
            tag: Some(RequestTag::new(req, request_id)),
            span,
        }
    }

    /// Puts the request's id into `req`'s headers when it was made here (none, or a refused
    /// one, came with it): for routes whose
    /// handlers echo it in a body (LiveMix's envelope), which read it from the request.
    pub(crate) fn echo<B>(&self, req: &mut http::Request<B>) {
        if let Some(tag) = &self.tag
            && req.headers().get(REQUEST_ID) != Some(&tag.id)
        {
            req.headers_mut().insert(REQUEST_ID, tag.id.clone());
        }
    }

    /// Runs `work` as this request's: what it logs carries the request's tag (and its span).
    pub(crate) async fn run<F: Future>(&mut self, work: F) -> F::Output {
        let Some(tag) = self.tag.take() else {
            return work.instrument(self.span.clone()).await;
        };
        let scoped = REQUEST.scope(tag, work.instrument(self.span.clone()));
        tokio::pin!(scoped);
        let output = (&mut scoped).await;
        self.tag = scoped.as_mut().take_value();
        output
    }

    /// Counts `response` by status, gives it the request id and meters its body.
    pub(crate) fn finish<B>(
        self,
        mut response: http::Response<B>,
    ) -> http::Response<MeteredBody<B>> {
        let status = response.status().as_u16();
        self.meters.count(status);
        if let Some(tag) = self.tag {
            // In the span, when there is one: a span directive may be what enables debug here.
            self.span.in_scope(|| {
                if tracing::enabled!(tracing::Level::DEBUG) {
                    tag.clone()
                        .in_scope(|| tracing::debug!(status, "responded"));
                }
            });
            response.headers_mut().insert(REQUEST_ID, tag.id);
        }
        let meter = BodyMeter {
            start: self.start,
            first: true,
            meters: self.meters,
        };
        response.map(|inner| MeteredBody { inner, meter })
    }
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
pub(crate) struct MeteredBody<B> {
    inner: B,
    meter: BodyMeter,
}

impl<B: http_body::Body<Data = Bytes> + Unpin> http_body::Body for MeteredBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
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
