//! The accept loop: `serve(listener, app, options, shutdown)`.
//!
//! Owned here rather than left to `axum::serve` so every network wait has a limit: request
//! heads must arrive within `header_timeout` and fit in `max_header_bytes`; and shutdown is
//! graceful with a deadline: on `shutdown`, the listener closes at once, idle connections are
//! closed, in-flight responses run until they finish or `grace` passes, then the rest are cut.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// Connection limits and the shutdown deadline.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub header_timeout: Duration,
    pub max_header_bytes: usize,
    pub grace: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 64 << 10,
            grace: Duration::from_secs(10),
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

fn builder(options: &ServerOptions) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .max_buf_size(options.max_header_bytes)
        .max_headers(100);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(options.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(256);
    builder
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains (see module docs).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: ServerOptions,
    shutdown: impl Future<Output = ()>,
) -> ShutdownReport {
    let graceful = GracefulShutdown::new();
    let builder = builder(&options);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
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
        let service = TowerToHyperService::new(app.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
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
