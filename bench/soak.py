"""Soak clients and sampler for bench/soak.sh (see there). Standard library only.

  soak.py BASE PID SECONDS SAMPLE_SECONDS CSV

Runs, for SECONDS: a live playlist poller (playlist + newest segment every second), an uploader
(2 MiB objects, each read back and compared), API callers, and clients that hang up mid-body
(the injected faults); samples reelay's RSS, open fds, threads and alive tasks every
SAMPLE_SECONDS into CSV. Prints one `errors NAME N` line per client and `ok` counts; exit 0.
"""
import http.client, os, random, re, sys, threading, time, urllib.parse

BASE, PID, SECONDS, SAMPLE, CSV = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
HOST = urllib.parse.urlsplit(BASE)
END = time.monotonic() + SECONDS
stats = {}
lock = threading.Lock()


def count(name, ok, detail=""):
    with lock:
        s = stats.setdefault(name, {"ok": 0, "errors": 0, "last": ""})
        if ok:
            s["ok"] += 1
        else:
            s["errors"] += 1
            s["last"] = detail


def conn():
    return http.client.HTTPConnection(HOST.hostname, HOST.port, timeout=30)


def request(c, method, path, body=None, headers=None):
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    return r.status, r.read()


def loop(name, every, step):
    c = conn()
    while time.monotonic() < END:
        started = time.monotonic()
        try:
            ok, detail = step(c)
            count(name, ok, detail)
        except Exception as e:  # a dropped connection or timeout is an error of this client
            count(name, False, repr(e))
            c.close()
            c = conn()
        time.sleep(max(0.0, every - (time.monotonic() - started)))


def poll_live(c):
    status, body = request(c, "GET", "/live/cam1/index.m3u8")
    if status == 404 and time.monotonic() < START + 30:
        return True, ""  # the encoder's first segment is not in yet
    if status != 200:
        return False, f"playlist {status}"
    segments = [l for l in body.decode().splitlines() if l and not l.startswith("#")]
    if not segments:
        return True, ""
    status, seg = request(c, "GET", "/live/cam1/" + segments[-1])
    return status == 200 and len(seg) > 0, f"segment {status}"


upload_n = [0]
PAYLOAD = os.urandom(2 << 20)


def upload(c):
    upload_n[0] += 1
    key = f"/api/v1/buckets/up/objects/soak-{upload_n[0] % 20}.bin"
    status, _ = request(c, "PUT", key, PAYLOAD, {"content-type": "application/octet-stream"})
    if status not in (200, 201):
        return False, f"upload {status}"
    status, got = request(c, "GET", f"/media/up/soak-{upload_n[0] % 20}.bin")
    return status == 200 and got == PAYLOAD, f"read back {status} {len(got)}"


API = ["/api/v1/buckets", "/api/v1/sources", "/api/v1/buckets/media/objects", "/healthz", "/readyz"]


def api(c):
    path = random.choice(API)
    status, _ = request(c, "GET", path)
    return status == 200, f"{path} {status}"


def hang_up(c):
    """Reads a few KiB of the whole file, then closes: the server must clean up the response."""
    c.close()
    c = conn()
    c.request("GET", "/media/media/bench.mp4")
    r = c.getresponse()
    r.read(random.randint(1, 256) << 10)
    c.close()
    return r.status == 200, f"hang-up {r.status}"


def sample_tasks():
    try:
        c = conn()
        _, body = request(c, "GET", "/metrics")
        c.close()
        m = re.search(rb"^reelay_runtime_alive_tasks (\d+)", body, re.M)
        return int(m.group(1)) if m else -1
    except Exception:
        return -1


def sampler():
    with open(CSV, "w") as out:
        out.write("t,rss_kib,fds,threads,tasks\n")
        while True:
            status = open(f"/proc/{PID}/status").read()
            rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
            threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
            fds = len(os.listdir(f"/proc/{PID}/fd"))
            out.write(f"{time.monotonic() - START:.1f},{rss},{fds},{threads},{sample_tasks()}\n")
            out.flush()
            if time.monotonic() >= END:
                return
            time.sleep(SAMPLE)


START = time.monotonic()
workers = [
    threading.Thread(target=loop, args=("live-poller", 1.0, poll_live)),
    threading.Thread(target=loop, args=("uploader", 2.0, upload)),
    threading.Thread(target=loop, args=("api", 0.2, api)),
    threading.Thread(target=loop, args=("hang-up", 0.5, hang_up)),
    threading.Thread(target=sampler),
]
for w in workers:
    w.start()
for w in workers:
    w.join()
for name, s in sorted(stats.items()):
    print(f"client {name} ok {s['ok']} errors {s['errors']} {s['last']}")
