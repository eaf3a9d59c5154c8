//! The accept loop: `serve(listener, app, options, shutdown)`.
//!
//! Owned here rather than left to `axum::serve` so every network wait has a limit: request
//! heads (also the wait for the next request on a kept-alive connection) must arrive within
//! `header_timeout` and fit in `max_header_bytes`; a write that makes no progress for
//! `write_timeout` ends the connection ([`StallGuard`]); and shutdown is graceful with a
//! deadline: on `shutdown`, the listener closes at once, idle connections are closed, in-flight
//! responses run until they finish or `grace` passes, then the rest are cut.
//!
//! Every connection's stream is a [`FileWriter`], and (unless `sendfile` is off) every request
//! is answered with that connection's [`FileSink`] at hand (the direct path's own, the
//! router's as an extension), so media responses can hand cached file spans to the writer
//! instead of copying them (see [`crate::zero_copy`]).
//!
//! HTTP/1.1 only: browsers speak HTTP/2 only over TLS, which a fronting proxy terminates today;
//! hyper's h1/h2c auto-detection would also read the protocol preface before any header timer
//! runs, leaving silent connections unbounded.

use std::future::Future;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::defaults::server;
use crate::http::transport::direct::Front;
use crate::http::transport::net::StallGuard;
use crate::http::transport::sendfile::FileWriter;
use crate::metrics::ConnectionMeters;
#[cfg(doc)]
use crate::metrics::Metrics;
use crate::zero_copy::FileSink;

/// Connection limits and the shutdown deadline.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub header_timeout: Duration,
    pub max_header_bytes: usize,
    pub write_timeout: Duration,
    pub grace: Duration,
    /// Send cached local-file spans with `sendfile` ([`crate::http::transport::sendfile`]).
    pub sendfile: bool,
    /// Where the connections are counted: the node's [`Metrics::connections`], so they show
    /// in its `/metrics` (the default counts apart, for servers without a node).
    pub meters: ConnectionMeters,
    /// Most connections open at once (counted in `meters.open`, so shared by every listener
    /// given the same meters); beyond, a new one is answered 503 and closed.
    pub max_connections: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            header_timeout: server::HEADER_TIMEOUT,
            max_header_bytes: server::MAX_HEADER_BYTES,
            write_timeout: server::WRITE_TIMEOUT,
            grace: server::SHUTDOWN_GRACE,
            sendfile: server::SENDFILE,
            meters: ConnectionMeters::default(),
            max_connections: server::MAX_CONNECTIONS,
        }
    }
}

/// How a server run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownReport {
    /// Every connection finished within the grace period.
    Drained,
    /// The grace period ran out with connections still open; they were cut.
    DeadlinePassed,
}

fn builder(options: &ServerOptions) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .max_buf_size(options.max_header_bytes)
        .max_headers(100)
        // Body frames reach the writer as they are (no flattening copy); `FileWriter` needs
        // them so to recognise file placeholders.
        .writev(true)
        // Encoders such as ffmpeg shut down their write side after a chunked upload and then
        // wait for the answer; without this, hyper would drop the request at that EOF.
        .half_close(true);
    builder
}

/// A connection counted in `meters.open` while this lives.
struct OpenConnection(prometheus_client::metrics::gauge::Gauge);

impl OpenConnection {
    /// Counts a new connection, unless `max_connections` are open (then counted refused).
    fn count(options: &ServerOptions) -> Option<Self> {
        let meters = &options.meters;
        let limit = i64::try_from(options.max_connections).unwrap_or(i64::MAX);
        if meters.open.inc() >= limit {
            meters.open.dec();
            meters.refused.inc();
            return None;
        }
        Some(Self(meters.open.clone()))
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Answers a connection over the cap: a 503 that says when to retry, then close (within a
/// second, whatever the client does).
async fn refuse(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\
        Content-Type: application/json\r\nContent-Length: 74\r\nConnection: close\r\n\r\n\
        {\"error\":{\"code\":\"busy\",\"message\":\"too many connections are open; retry\"}}";
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(BUSY)).await;
    let _ = stream.shutdown().await;
}

/// Serves `app` (the router, or the router with the direct media path: [`Front`]) on
/// `listener` until `shutdown` resolves, then drains (see module docs).
pub async fn serve(
    listener: TcpListener,
    app: impl Into<Front>,
    options: ServerOptions,
    shutdown: impl Future<Output = ()>,
) -> ShutdownReport {
    let app = app.into();
    let graceful = GracefulShutdown::new();
    let builder = builder(&options);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                // The socket was shut for shutdown (`workers`): the end, not a failure.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "set_nodelay failed");
        }
        options.meters.accepted.inc();
        let Some(open) = OpenConnection::count(&options) else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let sink = FileSink::new();
        let service = app.connection(options.sendfile.then(|| sink.clone()));
        let writer = FileWriter::new(stream, sink, options.meters.sendfile_bytes.clone());
        let stalls = options.meters.write_stalls.clone();
        let io = TokioIo::new(StallGuard::new(writer, options.write_timeout, stalls));
        let connection = graceful.watch(builder.serve_connection(io, service));
        tokio::spawn(async move {
            let _open = open;
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!(grace = ?options.grace, "shutting down: draining connections");
    tokio::select! {
        () = graceful.shutdown() => ShutdownReport::Drained,
        () = tokio::time::sleep(options.grace) => {
            tracing::warn!("grace period over; cutting remaining connections");
            ShutdownReport::DeadlinePassed
        }
    }
}
