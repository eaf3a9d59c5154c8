//! N blocking LL-HLS playlist reloads held at once, answered by one publication: a client for
//! `bench/ll-latency.sh`, in Rust so that reading a thousand answers does not itself take
//! longer than the server's fan-out (a Python client measured its own pace).
//!
//! `ll_held HOST:PORT PLAYLIST_PATH N ROUNDS PID`: each round reads the playlist's preload
//! hint (msn, part), opens N connections, sends on each a reload for the part two after the
//! hint (so all are held before it is published), reads the server's RSS once all are sent,
//! and times each answer from the first. Prints the spread (p50/p99/max, ms) and the RSS per
//! held reload, per round and as medians.
//!
//! Two clocks per answer: when this client read it (its own pace of reading a thousand answers
//! on a core it shares is in that figure), and when the kernel received its last bytes
//! (`SO_TIMESTAMPNS`: on loopback the receive runs inside the server's `write`, so that stamp
//! is when the server answered, whatever this client was doing). The second is the server's
//! fan-out.
//!
//! With `LL_HELD_QUIET_MS=T`, the client sleeps T ms once all reloads are sent — off the CPU
//! and outside `epoll_wait`, so no answer wakes it — and reads the answers after: the fan-out
//! then runs on cores this client does not take from it (a client reading a thousand answers
//! was switched in ~200 times on a server thread's core during one fan-out). A round where an
//! answer came after the client began reading is run again, as one where an answer came
//! before every reload was held is.

// The receive stamps come as `recvmsg` control messages, which neither tokio nor rustix wraps:
// a bench client's three small `libc` calls, each with its SAFETY argument.
#![allow(unsafe_code)]

use std::time::{Duration, Instant};

use std::os::fd::AsRawFd;

use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
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

/// Asks the kernel to stamp what `s` receives (`SO_TIMESTAMPNS`).
fn stamp_receives(s: &TcpStream) {
    let on: libc::c_int = 1;
    // SAFETY: a valid socket, an int option of the size given.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&raw const on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_TIMESTAMPNS");
}

/// One `recvmsg` into `buf`: the bytes read and the kernel's receive stamp (ns, real time).
fn recv_stamped(fd: i32, buf: &mut [u8]) -> std::io::Result<(usize, Option<i128>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 16];
    // SAFETY: zeroed msghdr is valid; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: fd is an open socket; msg points at live buffers of the sizes given.
    let n = unsafe { libc::recvmsg(fd, &raw mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: the CMSG_* walk stays inside msg_control as the kernel filled it.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&raw const msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                stamp = Some(i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec));
            }
            c = libc::CMSG_NXTHDR(&raw const msg, c);
        }
    }
    Ok((n as usize, stamp))
}

/// Reads one answer (head, then Content-Length bytes): whether it was a 200, and the kernel's
/// receive stamp of its last bytes.
async fn read_answer(s: &mut TcpStream) -> std::io::Result<(bool, i128)> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let fd = s.as_raw_fd();
    loop {
        let (n, stamp) = s
            .async_io(Interest::READABLE, || recv_stamped(fd, &mut chunk))
            .await?;
        if n == 0 {
            return Ok((false, 0));
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
            return Ok((head.starts_with("http/1.1 200"), stamp.unwrap_or(0)));
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

/// p50 / p99 / max of how far each of `values` (ns) is from the smallest, in ms.
#[derive(Clone, Copy)]
struct Spread {
    p50: f64,
    p99: f64,
    max: f64,
}

impl Spread {
    fn of(values: &[i128]) -> Spread {
        let first = values.iter().min().copied().unwrap_or(0);
        let mut ms: Vec<f64> = values
            .iter()
            .map(|v| (v - first) as f64 / 1_000_000.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((q * ms.len() as f64) as usize).min(ms.len() - 1)];
        Spread {
            p50: at(0.5),
            p99: at(0.99),
            max: ms[ms.len() - 1],
        }
    }

    fn median(all: &[Spread]) -> Spread {
        let m = |f: fn(&Spread) -> f64| median(all.iter().map(f).collect());
        Spread {
            p50: m(|s| s.p50),
            p99: m(|s| s.p99),
            max: m(|s| s.max),
        }
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
            self.p50, self.p99, self.max
        )
    }
}

struct Round {
    /// Answers that came before every reload was held (the round is then retried).
    early: usize,
    /// When the kernel received each answer: the server's fan-out.
    sent: Spread,
    /// When this client had read each answer.
    read: Spread,
    bytes_per_reload: f64,
    failed: usize,
    /// With a quiet client: answers that came after it began reading (a fan-out it shared the
    /// CPU with, as without `LL_HELD_QUIET_MS`).
    overlapped: usize,
}

fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

async fn round(addr: &str, path: &str, n: usize, pid: &str, quiet: Option<Duration>) -> Round {
    let text = get(addr, path).await.expect("playlist");
    let (msn, part) = hint(&text).expect("a preload hint");
    let target = format!("{path}?_HLS_msn={msn}&_HLS_part={}", part + 2);
    let before = rss_kib(pid);
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        stamp_receives(&s);
        // Kept alive, as a player's connection is: the answer ends at its Content-Length.
        let req = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("send");
        streams.push(s);
    }
    let all_sent = now_ns();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let during = rss_kib(pid);
    if let Some(quiet) = quiet {
        // Off the CPU, and out of `epoll_wait` (so no answer wakes this thread), until the part
        // is surely published: the fan-out runs on cores this client does not take from it.
        std::thread::sleep(quiet);
    }
    let reads_began = now_ns();
    let start = Instant::now();
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move {
                let answer = read_answer(&mut s).await.unwrap_or((false, 0));
                // Kept open until every answer is in, as a player keeps its connection: a
                // close now would make the server handle it amid the fan-out it measures.
                (Instant::now(), answer, s)
            })
        })
        .collect();
    let mut read = Vec::with_capacity(n);
    let mut sent = Vec::with_capacity(n);
    let mut failed = 0;
    let mut open = Vec::with_capacity(n);
    for r in readers {
        let (at, (ok, stamp), s) = r.await.expect("join");
        open.push(s);
        failed += usize::from(!ok || stamp == 0);
        read.push(at.duration_since(start).as_nanos() as i128);
        sent.push(stamp);
    }
    drop(open);
    if let Ok(dir) = std::env::var("LL_HELD_DUMP") {
        let first = sent.iter().min().copied().unwrap_or(0);
        let lines: Vec<String> = sent.iter().map(|s| (s - first).to_string()).collect();
        let _ = std::fs::write(format!("{dir}/stamps-{msn}-{part}.txt"), lines.join("\n"));
        let _ = std::fs::write(format!("{dir}/first-{msn}-{part}.txt"), first.to_string());
    }
    // An answer stamped before the last reload was sent was not held by one publication: the
    // part came while reloads were still being sent, and the round measures nothing.
    let early = sent.iter().filter(|&&stamp| stamp < all_sent).count();
    let overlapped = sent.iter().filter(|&&stamp| stamp >= reads_began).count();
    Round {
        early,
        sent: Spread::of(&sent),
        read: Spread::of(&read),
        bytes_per_reload: (during - before) as f64 * 1024.0 / n as f64,
        failed,
        overlapped: if quiet.is_some() { overlapped } else { 0 },
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
    let quiet = std::env::var("LL_HELD_QUIET_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map(Duration::from_millis);
    let mut all = Vec::new();
    let mut retries = 0;
    while all.len() < rounds {
        let i = all.len() + 1;
        let r = round(addr, path, n, pid, quiet).await;
        if (r.early > 0 || r.overlapped > 0) && retries < 3 * rounds {
            retries += 1;
            println!(
                "round {i}: {} answered before all {n} were held, {} after the client began \
                 reading; again",
                r.early, r.overlapped
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        println!(
            "round {i}: {n} held reloads; answered (kernel stamps) {}; read by the client {}; \
             RSS +{:.0} B per held reload; failed: {}; answered before all were held: {}",
            r.sent, r.read, r.bytes_per_reload, r.failed, r.early
        );
        all.push(r);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let sent: Vec<Spread> = all.iter().map(|r| r.sent).collect();
    let read: Vec<Spread> = all.iter().map(|r| r.read).collect();
    println!(
        "median of {rounds} rounds: answered {}; read {}; {:.0} B per held reload",
        Spread::median(&sent),
        Spread::median(&read),
        median(all.iter().map(|r| r.bytes_per_reload).collect()),
    );
}
