//! The process's metrics, one Prometheus registry: HTTP requests by route (counted by the HTTP
//! layer's middleware), the chunk cache's counters, the live relay's and the edge links'.
//! Each layer owns its counters' type ([`CacheCounters`], [`LiveMetrics`], [`RelayMetrics`]);
//! this module only registers them, so nothing below it depends on it.

use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::cache::CacheCounters;
use crate::live::LiveMetrics;
use crate::relay::RelayMetrics;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub(crate) route: String,
    pub(crate) status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabel {
    pub(crate) route: String,
}

fn ttfb_histogram() -> Histogram {
    // 50 µs .. ~26 s
    Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
}

/// HTTP request metrics, by matched route.
#[derive(Debug)]
pub(crate) struct HttpMetrics {
    pub(crate) requests: Family<RequestLabels, Counter>,
    pub(crate) ttfb: Family<RouteLabel, Histogram, fn() -> Histogram>,
    pub(crate) bytes_sent: Family<RouteLabel, Counter>,
    /// Each route's handles, resolved on its first request (no label lookup after that).
    routes: std::sync::RwLock<std::collections::HashMap<String, Arc<RouteMeters>>>,
}

/// Statuses whose counters a route keeps at hand; others are looked up in the family.
const STATUSES: [u16; 12] = [200, 201, 204, 206, 304, 400, 401, 403, 404, 412, 416, 503];

/// One route's metric handles.
#[derive(Debug)]
pub(crate) struct RouteMeters {
    route: String,
    requests: Family<RequestLabels, Counter>,
    pub(crate) ttfb: Histogram,
    pub(crate) sent: Counter,
    by_status: [std::sync::OnceLock<Counter>; STATUSES.len()],
}

impl RouteMeters {
    /// Counts one request answered with `status`.
    pub(crate) fn count(&self, status: u16) {
        let label = || RequestLabels {
            route: self.route.clone(),
            status,
        };
        match STATUSES.iter().position(|s| *s == status) {
            Some(i) => self.by_status[i]
                .get_or_init(|| self.requests.get_or_create(&label()).clone())
                .inc(),
            None => self.requests.get_or_create(&label()).inc(),
        };
    }
}

impl HttpMetrics {
    /// The handles of `route` (a matched route template, or the unmatched marker).
    pub(crate) fn route(&self, route: &str) -> Arc<RouteMeters> {
        let known = self.routes.read().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = known.get(route) {
            return m.clone();
        }
        drop(known);
        let label = RouteLabel {
            route: route.to_owned(),
        };
        let meters = Arc::new(RouteMeters {
            route: route.to_owned(),
            requests: self.requests.clone(),
            ttfb: self.ttfb.get_or_create(&label).clone(),
            sent: self.bytes_sent.get_or_create(&label).clone(),
            by_status: Default::default(),
        });
        let mut known = self.routes.write().unwrap_or_else(|p| p.into_inner());
        known.entry(route.to_owned()).or_insert(meters).clone()
    }
}

/// The process's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    /// The runtime's alive tasks, read at each scrape (a leak shows as a rising line).
    alive_tasks: Gauge,
    /// This node's connections: what its listeners count as they serve.
    pub connections: ConnectionMeters,
    pub(crate) http: HttpMetrics,
    pub(crate) cache: CacheCounters,
    pub live: LiveMetrics,
    pub relay: RelayMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("reelay");
        let http = HttpMetrics::registered(&mut registry);
        let cache = CacheCounters::default();
        register_cache(&cache, &mut registry);
        let alive_tasks = Gauge::default();
        registry.register(
            "runtime_alive_tasks",
            "Tasks alive in the async runtime when the metrics were read",
            alive_tasks.clone(),
        );
        let connections = ConnectionMeters::default();
        connections.register(&mut registry);
        let live = LiveMetrics::default();
        live.register(&mut registry);
        let relay = RelayMetrics::default();
        relay.register(&mut registry);
        Self {
            registry: Mutex::new(registry),
            alive_tasks,
            connections,
            http,
            cache,
            live,
            relay,
        }
    }
}

impl HttpMetrics {
    /// Request counts, time to first byte and bytes sent by route, registered in `registry`.
    fn registered(registry: &mut Registry) -> Self {
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
        Self {
            requests,
            ttfb,
            bytes_sent,
            routes: Default::default(),
        }
    }
}

/// The chunk cache's counters, registered in `registry`.
fn register_cache(cache: &CacheCounters, registry: &mut Registry) {
    let counters = [
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
        (
            "cache_shared_hits",
            "Chunks found in the shared tier",
            &cache.shared_hits,
        ),
        (
            "cache_shared_misses",
            "Chunks looked for in the shared tier and not found",
            &cache.shared_misses,
        ),
        (
            "cache_shared_fills",
            "Chunk fills this node claimed in the shared tier",
            &cache.shared_fills,
        ),
        (
            "cache_shared_waits",
            "Chunk fills that waited on another node's",
            &cache.shared_waits,
        ),
        (
            "cache_shared_errors",
            "Shared tier calls that failed",
            &cache.shared_errors,
        ),
    ];
    for (name, help, counter) in counters {
        registry.register(name, help, counter.clone());
    }
}

/// What one node's listeners count of their connections (each listener of the node holds a
/// clone: the counters are shared handles). Per node, never per process: two nodes in one
/// process (tests) count apart.
#[derive(Debug, Clone, Default)]
pub struct ConnectionMeters {
    /// Connections accepted.
    pub accepted: Counter,
    /// Response body bytes sent with `sendfile` (`http/transport/sendfile.rs`).
    pub sendfile_bytes: Counter,
    /// Connections ended because the client stopped reading (`http/transport/net.rs`).
    pub write_stalls: Counter,
    /// Connections open now (every listener of the node: the cap is per node).
    pub open: Gauge,
    /// Connections answered 503 and closed because `open` was at `[server] max_connections`.
    pub refused: Counter,
}

impl ConnectionMeters {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "http_connections_open",
            "Connections open now",
            self.open.clone(),
        );
        registry.register(
            "http_connections_refused",
            "Connections answered 503 because [server] max_connections were open",
            self.refused.clone(),
        );
        for (name, help, counter) in [
            ("http_connections", "Connections accepted", &self.accepted),
            (
                "http_sendfile_bytes",
                "Response body bytes sent with sendfile (a part of http_sent_bytes)",
                &self.sendfile_bytes,
            ),
            (
                "http_write_stalls",
                "Connections ended because the client read nothing for [server] write_timeout",
                &self.write_stalls,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
    }
}

/// The connection-serving runtimes besides the shared one, for the task count.
static RUNTIMES: std::sync::Mutex<Vec<tokio::runtime::Handle>> = std::sync::Mutex::new(Vec::new());

/// Counts `handle`'s tasks in `reelay_runtime_alive_tasks` from now on.
pub(crate) fn register_runtime(handle: tokio::runtime::Handle) {
    RUNTIMES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(handle);
}

/// Tasks alive on the shared runtime (the caller's; every node renders metrics there or on a
/// registered one) and on every registered runtime, each counted once.
fn alive_tasks() -> usize {
    let runtimes = RUNTIMES.lock().unwrap_or_else(|p| p.into_inner());
    let current = tokio::runtime::Handle::try_current().ok();
    let current_is_registered = current
        .as_ref()
        .is_some_and(|c| runtimes.iter().any(|r| r.id() == c.id()));
    let mut alive: usize = runtimes.iter().map(|r| r.metrics().num_alive_tasks()).sum();
    if let Some(c) = current.filter(|_| !current_is_registered) {
        alive = alive.saturating_add(c.metrics().num_alive_tasks());
    }
    alive
}

impl Metrics {
    /// Registers the bucket registry's per-bucket backend byte counters.
    pub(crate) fn register_buckets(&self, buckets: &crate::storage::Buckets) {
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        registry.register(
            "backend_read_bytes",
            "Bytes read from remote backends (S3, origins), by bucket",
            buckets.read_bytes().clone(),
        );
    }

    /// Counts the node's resolver slots (`[origin] resolver_concurrency`) from now on.
    pub(crate) fn register_resolvers(
        &self,
        slots: &crate::storage::origin::resolver::ResolverSlots,
    ) {
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        registry.register(
            "origin_resolvers_running",
            "Resolver commands running now",
            slots.running.clone(),
        );
        registry.register(
            "origin_resolvers_refused",
            "Requests refused (503) because no resolver slot came free in time",
            slots.refused.clone(),
        );
    }

    /// The Prometheus text exposition.
    pub(crate) fn render(&self) -> String {
        self.alive_tasks
            .set(i64::try_from(alive_tasks()).unwrap_or(i64::MAX));
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}
