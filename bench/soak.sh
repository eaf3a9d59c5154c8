#!/usr/bin/env bash
# Endurance: a mixed load on one node for a long time while its memory, fds and tasks are sampled.
#
#   bench/soak.sh [SECONDS=1800] [SAMPLE_SECONDS=10]
#
# The load, all at once for SECONDS:
#   - random 64 KiB ranges with wrk on three buckets: a folder (8 connections), an S3 bucket on
#     s3s-fs (2) and an HTTP origin (nginx) through the chunk cache (4);
#   - ffmpeg pushing live HLS (2 s segments, -re) and a viewer polling the playlist and fetching
#     the newest segment every second;
#   - an uploader: a 2 MiB object every 2 s over 20 keys, each read back and compared;
#   - API calls (bucket, source and object lists, health, readiness) five times a second;
#   - injected faults: a client that hangs up mid-body twice a second.
# Every 10 s: VmRSS, open fds, threads, and `reelay_runtime_alive_tasks` from /metrics.
# Pass: no errors but the injected ones, no panic in the log; after a warm-up (the first 10 %,
# at least 2 min) the fitted RSS growth over the run under 8 MiB (or 5 % of its mean) and fd
# growth under 5; 40 s after the load stops (the upstream pools' idle timeout is 30 s), tasks and
# fds back within 5 of the idle figures before the load.
# Samples land in bench/out/soak.csv.
source "$(dirname "$0")/common.sh"
SECONDS_TOTAL="${1:-1800}"
SAMPLE="${2:-10}"
"$ROOT/scripts/install-test-deps" >/dev/null
make_media
build_reelay
work="$OUT/soak"
rm -rf "$work" "$OUT/reelay-data" && mkdir -p "$work/s3/media" "$work/up"
head -c $((8 << 20)) "$MEDIA" >"$work/s3/media/bench.mp4"
start_s3s "$work/s3" "$work/s3s.log"
start_nginx soak-origin on
ORIGIN="${NGINX_URL%/bench.mp4}/"
cat >"$work/soak.toml" <<CONF
[[s3]]
name = "store"
endpoint = "$S3_URL"
[[bucket]]
name = "s3"
s3 = "store"
s3_bucket = "media"
[[bucket]]
name = "origin"
origin = "$ORIGIN"
[[bucket]]
name = "up"
fs = "$work/up"
CONF
cleanup() {
  kill "${FFMPEG_PID:-}" "${WRK_PIDS[@]:-}" 2>/dev/null || true
  stop_servers
  kill "$S3_PID" 2>/dev/null || true
}
trap cleanup EXIT
start_reelay --config "$work/soak.toml"
BASE="${REELAY_URL%/media/media/bench.mp4}"
curl -fsS -XPOST "$BASE/api/v1/sources" -H 'content-type: application/json' \
  -d '{"name":"cam1"}' >/dev/null
idle() { # SECONDS: waits that long, then prints "fds tasks" of the idle node
  sleep "$1"
  ls -l /proc/"$REELAY_PID"/fd | awk '{print $NF}' | sort >"$work/fds-$2.txt"
  printf '%s %s\n' "$(ls /proc/"$REELAY_PID"/fd | wc -l)" \
    "$(curl -fsS "$BASE/metrics" | sed -n 's/^reelay_runtime_alive_tasks //p')"
}
read -r idle_fds idle_tasks < <(idle 3 before)

ffmpeg -v error -re -f lavfi -i testsrc2=size=640x360:rate=25 -f lavfi -i sine \
  -t "$SECONDS_TOTAL" -c:v libx264 -preset ultrafast -g 50 -c:a aac -f hls -hls_time 2 \
  -hls_list_size 6 -hls_flags delete_segments -method PUT "$BASE/ingest/cam1/index.m3u8" \
  >"$work/ffmpeg.log" 2>&1 &
FFMPEG_PID=$!
WRK_PIDS=()
wrk_on() { # name connections url file-size
  FILE_SIZE=$4 RANGE_SIZE=65536 wrk -t1 -c"$2" -d"${SECONDS_TOTAL}s" --timeout 10s \
    -s "$ROOT/bench/random-range.lua" "$3" >"$work/wrk-$1.log" 2>&1 &
  WRK_PIDS+=($!)
}
SIZE=$(stat -c %s "$MEDIA")
wrk_on fs 8 "$REELAY_URL" "$SIZE"
wrk_on s3 2 "$BASE/media/s3/bench.mp4" $((8 << 20))
wrk_on origin 4 "$BASE/media/origin/bench.mp4" "$SIZE"
python3 "$ROOT/bench/soak.py" "$BASE" "$REELAY_PID" "$SECONDS_TOTAL" "$SAMPLE" "$OUT/soak.csv" \
  >"$work/clients.log"
wait "${WRK_PIDS[@]}" "$FFMPEG_PID" || true
# 40 s: the S3 and origin clients keep idle connections for 30 s.
read -r end_fds end_tasks < <(idle 40 after)

failed=0
for name in fs s3 origin; do
  log="$work/wrk-$name.log"
  reqs=$(awk '/requests in/ {print $1}' "$log")
  errs=$(grep -c 'unexpected status\|Socket errors\|Non-2xx' "$log" || true)
  echo "wrk $name: $reqs requests, $(awk '/^Requests\/sec:/ {print $2}' "$log") req/s, error lines: $errs"
  [ "$errs" = 0 ] && [ -n "$reqs" ] || { failed=1; sed -n '/Socket errors\|Non-2xx\|unexpected/p' "$log" | head -5; }
done
cat "$work/clients.log"
grep -q ' errors [1-9]' "$work/clients.log" && failed=1
[ -s "$work/ffmpeg.log" ] && { echo "ffmpeg said:"; head -5 "$work/ffmpeg.log"; failed=1; }
grep -q 'panicked' "$OUT/reelay.err" && { echo "reelay panicked"; grep -m3 panicked "$OUT/reelay.err"; failed=1; }
python3 - "$OUT/soak.csv" "$idle_fds" "$idle_tasks" "$end_fds" "$end_tasks" <<'PY' || failed=1
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1]))]
idle_fds, idle_tasks, end_fds, end_tasks = map(int, sys.argv[2:6])
t_end = float(rows[-1]["t"])
warm = max(120.0, t_end * 0.1)
post = [r for r in rows if float(r["t"]) >= warm]
def fit(key):
    xs = [float(r["t"]) for r in post]; ys = [float(r[key]) for r in post]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs) or 1.0
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return slope, my, max(ys), min(ys)
span = float(post[-1]["t"]) - float(post[0]["t"])
ok = True
for key, unit, scale in [("rss_kib", "MiB", 1024), ("fds", "fds", 1), ("threads", "threads", 1), ("tasks", "tasks", 1)]:
    slope, mean, hi, lo = fit(key)
    print(f"{key}: mean {mean/scale:.1f} {unit}, min {lo/scale:.1f}, max {hi/scale:.1f}, "
          f"slope {slope*3600/scale:+.2f} {unit}/hour, fitted growth over {span:.0f} s "
          f"{slope*span/scale:+.2f} {unit}")
    growth = slope * span
    if key == "rss_kib" and growth > max(8 * 1024, 0.05 * mean):
        ok = False; print("  RSS grows")
    if key == "fds" and growth > 5:
        ok = False; print("  fds grow")
print(f"idle before: {idle_fds} fds, {idle_tasks} tasks; idle after: {end_fds} fds, {end_tasks} tasks")
if end_fds > idle_fds + 5 or end_tasks > idle_tasks + 5:
    ok = False; print("  leaked fds or tasks")
print(f"samples: {len(rows)} over {t_end:.0f} s (warm-up {warm:.0f} s excluded from the fits)")
sys.exit(0 if ok else 1)
PY
echo "soak: $([ $failed = 0 ] && echo PASS || echo FAIL)"
exit "$failed"
