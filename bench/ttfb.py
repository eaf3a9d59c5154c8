#!/usr/bin/env python3
"""Time to first byte of random ranged GETs over one kept-alive connection.

usage: ttfb.py URL FILE_SIZE RANGE_SIZE COUNT  -> prints "p50_ms p99_ms"
"""
import http.client
import random
import sys
import time
from urllib.parse import urlsplit

url, size, chunk, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
parts = urlsplit(url)
conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
random.seed(7)
samples = []
for _ in range(count):
    start = random.randrange(0, size - chunk)
    headers = {"Range": f"bytes={start}-{start + chunk - 1}"}
    t0 = time.perf_counter()
    conn.request("GET", parts.path, headers=headers)
    resp = conn.getresponse()
    resp.read(1)
    samples.append(time.perf_counter() - t0)
    if resp.status != 206:
        sys.exit(f"unexpected status {resp.status} from {url}")
    resp.read()
samples.sort()
print(f"{samples[len(samples) // 2] * 1000:.3f} {samples[int(len(samples) * 0.99)] * 1000:.3f}")
