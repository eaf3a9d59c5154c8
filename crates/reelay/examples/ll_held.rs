//! N blocking LL-HLS playlist reloads held at once, answered by one publication: a client for
//! `bench/ll-latency.sh`, in Rust so that reading a thousand answers does not itself take
//! longer than the server's fan-out (a Python client measured its own pace).
//!
//! `ll_held HOST:PORT PLAYLIST_PATH N ROUNDS PID`: each round reads the playlist's preload
//! hint (msn, part), opens N connections, sends on each a reload for the part two after the
//! hint (so all are held before it is published), reads the server's RSS once all are sent,
//! and times each answer from the first. Prints the spread (p50/p99/max, ms) and the RSS per
//! held reload, per round and as medians.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn rss_kib(pid: &str) -> i64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

async fn get(addr: &str, target: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// Reads one answer (head, then Content-Length bytes); whether it was a 200.
async fn read_answer(s: &mut TcpStream) -> std::io::Result<bool> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(false);
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if buf.len() >= end + 4 + length {
            return Ok(head.starts_with("http/1.1 200"));
        }
    }
}

fn hint(playlist: &str) -> Option<(u64, u64)> {
    let line = playlist
        .lines()
        .find(|l| l.starts_with("#EXT-X-PRELOAD-HINT:"))?;
    let uri = line.split("URI=\"p").nth(1)?.split(".m4s").next()?;
    let (msn, part) = uri.split_once('-')?;
    Some((msn.parse().ok()?, part.parse().ok()?))
}

struct Round {
    p50: f64,
    p99: f64,
    max: f64,
    bytes_per_reload: f64,
    failed: usize,
}

async fn round(addr: &str, path: &str, n: usize, pid: &str) -> Round {
    let text = get(addr, path).await.expect("playlist");
    let (msn, part) = hint(&text).expect("a preload hint");
    let target = format!("{path}?_HLS_msn={msn}&_HLS_part={}", part + 2);
    let before = rss_kib(pid);
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        // Kept alive, as a player's connection is: the answer ends at its Content-Length.
        let req = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("send");
        streams.push(s);
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let during = rss_kib(pid);
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move {
                let ok = read_answer(&mut s).await.unwrap_or(false);
                (Instant::now(), ok)
            })
        })
        .collect();
    let mut times = Vec::with_capacity(n);
    let mut failed = 0;
    for r in readers {
        let (at, ok) = r.await.expect("join");
        failed += usize::from(!ok);
        times.push(at);
    }
    let first = times.iter().min().copied().expect("answers");
    let mut spread: Vec<f64> = times
        .iter()
        .map(|t| t.duration_since(first).as_secs_f64() * 1000.0)
        .collect();
    spread.sort_by(f64::total_cmp);
    let at = |q: f64| spread[((q * spread.len() as f64) as usize).min(spread.len() - 1)];
    Round {
        p50: at(0.5),
        p99: at(0.99),
        max: spread[spread.len() - 1],
        bytes_per_reload: (during - before) as f64 * 1024.0 / n as f64,
        failed,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, path, n, rounds, pid] = args.as_slice() else {
        eprintln!("usage: ll_held HOST:PORT PLAYLIST_PATH N ROUNDS PID");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N");
    let rounds: usize = rounds.parse().expect("ROUNDS");
    let mut all = Vec::new();
    for i in 1..=rounds {
        let r = round(addr, path, n, pid).await;
        println!(
            "round {i}: {n} held reloads, spread p50 {:.1} ms p99 {:.1} ms max {:.1} ms; \
             RSS +{:.0} B per held reload; non-200: {}",
            r.p50, r.p99, r.max, r.bytes_per_reload, r.failed
        );
        all.push(r);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "median of {rounds} rounds: p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  {:.0} B per held reload",
        median(all.iter().map(|r| r.p50).collect()),
        median(all.iter().map(|r| r.p99).collect()),
        median(all.iter().map(|r| r.max).collect()),
        median(all.iter().map(|r| r.bytes_per_reload).collect()),
    );
}
