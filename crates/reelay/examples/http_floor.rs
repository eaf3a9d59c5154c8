//! The floor under reelay's small responses: hyper alone, configured as reelay's server is
//! (HTTP/1.1, writev, header timeout), on one single-threaded runtime per CPU accepting on
//! duplicates of one socket — reelay's worker shape — answering every `Range: bytes=A-B` with a
//! `206` of that many bytes (at most 1 MiB) from memory: no routing, middleware, file, checks
//! or metrics.
//! `bench/range-vs-nginx.sh` runs it beside the servers when `FLOOR=1`, so the gap between
//! reelay and nginx can be split into what hyper costs and what reelay adds.
//!
//! `cargo run --release --example http_floor -- 127.0.0.1:PORT` (prints `listening on …`).

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let body = Bytes::from(vec![b'x'; MAX]);
    let listener = std::net::TcpListener::bind(&addr)?;
    listener.set_nonblocking(true)?;
    println!("listening on http://{}", listener.local_addr()?);
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let socket = listener.try_clone()?;
            let body = body.clone();
            Ok(std::thread::spawn(move || worker(socket, body)))
        })
        .collect::<std::io::Result<_>>()?;
    for thread in threads {
        let _ = thread.join();
    }
    Ok(())
}

/// The largest answer.
const MAX: usize = 1 << 20;

/// The length a `bytes=A-B` header asks for, within 1..=MAX (1 when it is anything else).
fn asked(range: Option<&hyper::header::HeaderValue>) -> usize {
    let span = range
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.split_once('-'))
        .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)));
    span.and_then(|(a, b)| b.checked_sub(a))
        .map_or(1, |d| d.saturating_add(1).min(MAX))
}

fn worker(socket: std::net::TcpListener, body: Bytes) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::from_std(socket)?;
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let body = body.clone();
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let len = asked(req.headers().get(hyper::header::RANGE));
                let body = body.slice(..len);
                async move {
                    let response = Response::builder()
                        .status(206)
                        .header("content-type", "video/mp4")
                        .header("content-range", format!("bytes 0-{}/61355999", len - 1))
                        .body(Full::new(body))
                        .unwrap_or_default();
                    Ok::<_, Infallible>(response)
                }
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .writev(true);
            tokio::spawn(async move {
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
