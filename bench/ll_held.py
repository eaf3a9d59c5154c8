"""N blocking playlist reloads held at once for a part not yet published, then answered.

Usage: ll_held.py BASE_URL PLAYLIST_PATH N ROUNDS PID

Each round reads the playlist, takes its preload hint (msn, part), asks for the part two
after it with N concurrent `_HLS_msn/_HLS_part` requests (raw HTTP/1.1, one connection each),
reads the server's RSS once all are held, and times every answer. The part's publication
is not visible from outside, so the spread is measured from the first answer: p50/p99/max of
(answer - first answer) in ms, i.e. how long waking all N took. Prints one line per round and
the medians.
"""

import asyncio
import re
import statistics
import sys
import time
import urllib.parse
import urllib.request


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def held(host, port, target, sent, answered):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    sent.append(1)
    data = await reader.read()
    answered.append(time.monotonic())
    writer.close()
    status = data.split(b" ", 2)[1] if data else b"000"
    return status


async def round_(base, path, n, pid):
    url = urllib.parse.urlsplit(base)
    text = urllib.request.urlopen(base + path).read().decode()
    msn, part = map(int, re.search(r'PRELOAD-HINT:TYPE=PART,URI="p(\d+)-(\d+)\.m4s', text).groups())
    target = f"{path}?_HLS_msn={msn}&_HLS_part={part + 2}"
    sent, answered = [], []
    before = rss_kib(pid)
    tasks = [asyncio.create_task(held(url.hostname, url.port, target, sent, answered)) for _ in range(n)]
    while len(sent) < n and not answered:
        await asyncio.sleep(0.005)
    during = rss_kib(pid)
    early = len(answered)
    statuses = await asyncio.gather(*tasks)
    bad = [s for s in statuses if s != b"200"]
    first = min(answered)
    spread = sorted((t - first) * 1000 for t in answered)
    p = lambda q: spread[min(len(spread) - 1, int(q * len(spread)))]
    return p(0.5), p(0.99), spread[-1], (during - before) * 1024 / n, early, len(bad)


async def main():
    base, path, n, rounds, pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    results = []
    for i in range(rounds):
        r = await round_(base, path, n, pid)
        results.append(r)
        print(f"round {i + 1}: {n} held reloads, spread p50 {r[0]:.1f} ms p99 {r[1]:.1f} ms "
              f"max {r[2]:.1f} ms; RSS +{r[3]:.0f} B per held reload (measured with {n - r[4]} held); "
              f"non-200: {r[5]}")
        await asyncio.sleep(0.5)
    med = lambda k: statistics.median(r[k] for r in results)
    print(f"median of {rounds} rounds: p50 {med(0):.1f} ms  p99 {med(1):.1f} ms  max {med(2):.1f} ms  "
          f"{med(3):.0f} B per held reload")


asyncio.run(main())
