//! Observability: request ids, per-request tracing spans and Prometheus metrics.
//!
//! One middleware wraps every route. It gives the request an `X-Request-Id` (the client's, when
//! it is a short token, else a fresh one), opens a tracing span carrying it, counts the request
//! by matched route and status, and wraps the response body in a [`MeteredBody`] that records
//! time to first byte when the first body frame leaves and counts the bytes sent.

use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, header};
use http_body::{Frame, SizeHint};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing::Instrument;

pub const REQUEST_ID: &str = "x-request-id";

/// A random-looking 64-bit value: SipHash with per-process random keys over a counter.
/// Unpredictable enough for request ids and multipart boundaries; not for secrets.
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static STATE: std::sync::OnceLock<std::hash::RandomState> = std::sync::OnceLock::new();
    let mut hasher = STATE
        .get_or_init(std::hash::RandomState::new)
        .build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

fn ttfb_histogram() -> Histogram {
    // 50 µs .. ~26 s
    Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
}

/// Counters of the chunk cache.
#[derive(Debug, Clone, Default)]
pub struct CacheCounters {
    pub hits: Counter,
    pub misses: Counter,
    /// Readers that joined a fill already under way (single-flight).
    pub joins: Counter,
    /// Fills started by read-ahead.
    pub prefetches: Counter,
    pub backend_bytes: Counter,
    pub served_bytes: Counter,
    pub evictions: Counter,
}

/// The process's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    ttfb: Family<RouteLabel, Histogram, fn() -> Histogram>,
    bytes_sent: Family<RouteLabel, Counter>,
    pub cache: CacheCounters,
    pub relay: crate::relay::metrics::RelayMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("reelay");
        let requests = Family::<RequestLabels, Counter>::default();
        let ttfb = Family::new_with_constructor(ttfb_histogram as fn() -> Histogram);
        let bytes_sent = Family::<RouteLabel, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_time_to_first_byte_seconds",
            "Time from request to first body byte (or end of headers-only response)",
            ttfb.clone(),
        );
        registry.register(
            "http_sent_bytes",
            "Response body bytes sent",
            bytes_sent.clone(),
        );
        let cache = CacheCounters::default();
        for (name, help, counter) in [
            ("cache_hits", "Chunk reads served from memory", &cache.hits),
            (
                "cache_misses",
                "Chunk reads that started a backend fetch",
                &cache.misses,
            ),
            (
                "cache_joins",
                "Chunk reads that joined a fetch under way",
                &cache.joins,
            ),
            (
                "cache_prefetches",
                "Chunk fetches started by read-ahead",
                &cache.prefetches,
            ),
            (
                "cache_backend_bytes",
                "Bytes fetched from backends for the cache",
                &cache.backend_bytes,
            ),
            (
                "cache_served_bytes",
                "Bytes served through the cache",
                &cache.served_bytes,
            ),
            (
                "cache_evictions",
                "Chunks evicted for space",
                &cache.evictions,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
        let relay = crate::relay::metrics::RelayMetrics::default();
        relay.register(&mut registry);
        Self {
            registry: Mutex::new(registry),
            requests,
            ttfb,
            bytes_sent,
            cache,
            relay,
        }
    }
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}

/// `GET /metrics`.
pub async fn metrics_handler(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}

fn incoming_request_id(req: &Request) -> Option<HeaderValue> {
    let value = req.headers().get(REQUEST_ID)?;
    let ok = (1..=64).contains(&value.len())
        && value
            .as_bytes()
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b));
    ok.then(|| value.clone())
}

/// The middleware described in the module docs.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let request_id = incoming_request_id(&req).unwrap_or_else(|| {
        HeaderValue::from_str(&format!("{:016x}", random_u64()))
            .unwrap_or(HeaderValue::from_static("0"))
    });
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!(
        "request",
        id = %request_id.to_str().unwrap_or(""),
        method = %req.method(),
        path = %req.uri().path(),
    );
    let mut response = next.run(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.in_scope(|| tracing::debug!(status, "responded"));
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route: route.clone(),
            status,
        })
        .inc();
    response.headers_mut().insert(REQUEST_ID, request_id);
    let label = RouteLabel { route };
    let meter = BodyMeter {
        start,
        ttfb: Some(metrics.ttfb.get_or_create(&label).clone()),
        sent: metrics.bytes_sent.get_or_create(&label).clone(),
    };
    response.map(|inner| Body::new(MeteredBody { inner, meter }))
}

#[derive(Debug)]
struct BodyMeter {
    start: Instant,
    ttfb: Option<Histogram>,
    sent: Counter,
}

impl BodyMeter {
    fn first_byte(&mut self) {
        if let Some(h) = self.ttfb.take() {
            h.observe(self.start.elapsed().as_secs_f64());
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
                    self.meter.sent.inc_by(data.len() as u64);
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
