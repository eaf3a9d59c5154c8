#!/usr/bin/env python3
"""Opens N connections that each GET a large object and read it slowly, while sampling the
server's resident memory; prints the peak. Loopback only; bounded in count and time.

usage: slow-readers.py URL PID [connections] [seconds] [bytes-per-second-per-connection]
"""
import asyncio
import random
import sys
import time
from urllib.parse import urlsplit


def rss_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


async def reader(host, port, path, size, deadline, rate, stats):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
    except Exception:
        stats["connect_errors"] += 1
        return
    start = random.randrange(0, max(1, size // 2))
    w.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nRange: bytes={start}-\r\n\r\n".encode())
    await w.drain()
    got = 0
    try:
        while time.monotonic() < deadline:
            chunk = await asyncio.wait_for(r.read(rate // 4), 10)
            if not chunk:
                stats["closed_early"] += 1
                break
            got += len(chunk)
            await asyncio.sleep(0.25)
    except Exception:
        stats["errors"] += 1
    stats["bytes"] += got
    w.close()


async def main():
    url, pid = sys.argv[1], int(sys.argv[2])
    conns = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 20
    rate = int(sys.argv[5]) if len(sys.argv) > 5 else 64 * 1024
    parts = urlsplit(url)
    size = 60_000_000
    stats = {"bytes": 0, "errors": 0, "closed_early": 0, "connect_errors": 0}
    base = rss_kib(pid, "VmRSS")
    peak = base
    deadline = time.monotonic() + seconds
    tasks = [asyncio.create_task(reader(parts.hostname, parts.port, parts.path, size, deadline, rate, stats))
             for _ in range(conns)]
    while not all(t.done() for t in tasks):
        peak = max(peak, rss_kib(pid, "VmRSS"))
        await asyncio.sleep(0.1)
    hwm = rss_kib(pid, "VmHWM")
    print(f"connections {conns}, {seconds:.0f} s, {rate // 1024} KiB/s each: "
          f"read {stats['bytes'] / 1e6:.0f} MB, errors {stats['errors']}, "
          f"connect errors {stats['connect_errors']}, closed early {stats['closed_early']}")
    print(f"server RSS: idle {base / 1024:.1f} MiB, peak sampled {peak / 1024:.1f} MiB, "
          f"VmHWM {hwm / 1024:.1f} MiB")


asyncio.run(main())
