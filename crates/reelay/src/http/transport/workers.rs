//! Connection-serving threads: `[server] workers` OS threads, each running its own
//! single-threaded tokio runtime that accepts on a duplicate of the listening socket and serves
//! the connections it accepted, start to end, with [`serve`].
//!
//! Why: on a multi-threaded runtime, a connection's wake-ups hop between worker threads (work
//! stealing), and at small responses the parking and waking cost as much as the request
//! (`bench/README.md`, issue 14). A connection that never leaves its thread, as in nginx's
//! workers, pays none of that. The shared multi-threaded runtime keeps everything else (live
//! relay, cluster followers, the edge link, database pools' upkeep).
//!
//! What a handler spawns runs on its worker's runtime (tokio I/O objects stay usable from any
//! runtime while the one that made them runs, and every runtime runs until shutdown). Shutdown
//! first shuts the listening socket (`shutdown(SHUT_RD)`: no connection is accepted from then
//! on, on any duplicate), then is [`serve`]'s on every worker at once: each stops accepting,
//! drains within `grace`, and the run is `Drained` only if every worker drained.

use std::future::Future;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use crate::http::transport::direct::Front;
use crate::http::transport::server::{ServerOptions, ShutdownReport, serve};

/// Serves `app` on `workers` threads (see the module docs); `0` serves on the calling runtime.
pub(crate) async fn serve_on_workers(
    listener: TcpListener,
    app: impl Into<Front>,
    options: ServerOptions,
    shutdown: impl Future<Output = ()>,
    workers: usize,
) -> std::io::Result<ShutdownReport> {
    let app = app.into();
    if workers == 0 {
        return Ok(serve(listener, app, options, shutdown).await);
    }
    let listener = listener.into_std()?;
    let (stop, stopped) = watch::channel(false);
    let mut reports = Vec::with_capacity(workers);
    for index in 0..workers {
        let socket = listener.try_clone()?;
        let (report, reported) = oneshot::channel();
        let (app, options, mut stopped) = (app.clone(), options.clone(), stopped.clone());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        crate::metrics::register_runtime(runtime.handle().clone());
        std::thread::Builder::new()
            .name(format!("reelay-worker-{index}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(socket) {
                        Ok(listener) => listener,
                        Err(e) => {
                            tracing::error!(error = %e, "worker could not take the listener");
                            return;
                        }
                    };
                    let signal = async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    };
                    let _ = report.send(serve(listener, app, options, signal).await);
                });
            })?;
        reports.push(reported);
    }
    shutdown.await;
    // The workers hold duplicates of one socket, which closes only with the last of them; shut
    // it here first, so no connection is accepted once shutdown has begun (their accept then
    // fails with EINVAL, which `serve` takes as the end).
    if let Err(e) = rustix::net::shutdown(&listener, rustix::net::Shutdown::Read) {
        tracing::warn!(error = %e, "could not shut the listening socket");
    }
    let _ = stop.send(true);
    drop(listener);
    let mut outcome = ShutdownReport::Drained;
    for reported in reports {
        match reported.await {
            Ok(ShutdownReport::Drained) => {}
            Ok(ShutdownReport::DeadlinePassed) | Err(_) => {
                outcome = ShutdownReport::DeadlinePassed;
            }
        }
    }
    Ok(outcome)
}
