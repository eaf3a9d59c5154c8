"""Pushes synthetic segments to an edge as ffmpeg does (segment PUT, then the playlist PUT) and
polls the control node's live playlist on a kept-alive connection until each one is listed.
Prints p50/p99/max of (listed - pushed) in ms. Usage: edge_latency.py EDGE CONTROL N KB GAP_MS"""
import http.client
import sys
import time
from urllib.parse import urlparse

edge, control, n, kb, gap_ms = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])


def conn(url):
    u = urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=10)


push, view = conn(edge), conn(control)
body = b"\x47" + bytes(188 * (kb * 1024 // 188) - 1)


def put(path, data):
    push.request("PUT", path, body=data)
    resp = push.getresponse()
    resp.read()
    assert resp.status in (201, 204), (path, resp.status)


latencies = []
for i in range(n):
    put(f"/ingest/cam/s{i}.ts", body)
    names = [f"s{j}.ts" for j in range(max(0, i - 4), i + 1)]
    playlist = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n"
    playlist += f"#EXT-X-MEDIA-SEQUENCE:{max(0, i - 4)}\n"
    playlist += "".join(f"#EXTINF:1.000,\n{name}\n" for name in names)
    put("/ingest/cam/index.m3u8", playlist.encode())
    received = time.perf_counter()  # the edge has the segment and the playlist naming it
    needle = f"\n{i}.ts".encode()
    while True:
        view.request("GET", "/live/cam/index.m3u8")
        resp = view.getresponse()
        text = resp.read()
        if resp.status == 200 and needle in text:
            break
        if time.perf_counter() - received > 10:
            sys.exit(f"segment {i} never reached the control playlist")
    latencies.append((time.perf_counter() - received) * 1000)
    time.sleep(gap_ms / 1000)

latencies.sort()
pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
print(f"segments={n} size={kb}KiB gap={gap_ms}ms  p50={pick(0.50):.2f} ms  p99={pick(0.99):.2f} ms  max={latencies[-1]:.2f} ms")
