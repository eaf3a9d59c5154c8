//! The floor under reelay's answer to a thousand held LL-HLS reloads: hyper alone, in reelay's
//! worker shape (one single-threaded runtime per CPU accepting on duplicates of one socket,
//! HTTP/1.1, `TCP_NODELAY`), holding every `?_HLS_msn=M&_HLS_part=P` request on one `watch`
//! channel until a clock thread has "published" that part (one every 250 ms, eight a segment),
//! then answering each with the same 3 KiB playlist from memory: no routing, authorization,
//! rendering, metrics or logs. A request without `_HLS_msn` gets a playlist whose preload hint
//! names the next part, as `examples/ll_held.rs` expects.
//!
//! `bench/ll-latency.sh` runs `ll_held` against it beside reelay (`FLOOR=1`), so the spread of
//! one publication's answers can be split into what the machine and hyper cost and what reelay
//! adds.
//!
//! `cargo run --release --example ll_floor -- 127.0.0.1:PORT` (prints `listening on …`).

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Parts a segment.
const PARTS: u64 = 8;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let listener = std::net::TcpListener::bind(&addr)?;
    listener.set_nonblocking(true)?;
    println!("listening on http://{}", listener.local_addr()?);
    let published = watch::Sender::new(0u64);
    let clock = published.clone();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(250));
            clock.send_modify(|n| *n += 1);
        }
    });
    let body = Bytes::from(vec![b'#'; 3 * 1024]);
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let (socket, published, body) =
                (listener.try_clone()?, published.clone(), body.clone());
            Ok(std::thread::spawn(move || worker(socket, published, body)))
        })
        .collect::<std::io::Result<_>>()?;
    for thread in threads {
        let _ = thread.join();
    }
    Ok(())
}

/// The part a blocking reload waits for, as a count of parts (`None`: not a blocking reload).
fn awaited(query: Option<&str>) -> Option<u64> {
    let value = |name: &str| {
        query?
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))?
            .parse::<u64>()
            .ok()
    };
    let msn = value("_HLS_msn")?;
    Some(msn * PARTS + value("_HLS_part").unwrap_or(0))
}

async fn answer(
    req: Request<hyper::body::Incoming>,
    mut published: watch::Receiver<u64>,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match awaited(req.uri().query()) {
        Some(part) => {
            let _ = published.wait_for(|n| *n >= part).await;
            body
        }
        None => {
            let n = *published.borrow() + 1;
            let hint = format!(
                "#EXTM3U\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p{}-{}.m4s\"\n",
                n / PARTS,
                n % PARTS
            );
            Bytes::from(hint)
        }
    };
    let response = Response::builder()
        .header("content-type", "application/vnd.apple.mpegurl")
        .body(Full::new(body))
        .unwrap_or_default();
    Ok(response)
}

fn worker(
    socket: std::net::TcpListener,
    published: watch::Sender<u64>,
    body: Bytes,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::from_std(socket)?;
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let (published, body) = (published.clone(), body.clone());
            let service = service_fn(move |req| answer(req, published.subscribe(), body.clone()));
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .writev(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
