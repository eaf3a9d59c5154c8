#!/usr/bin/env bash
# Cache hits: reelay's chunk cache in front of an HTTP origin, vs reelay serving the same file
# from a local folder, vs nginx proxy_cache + slice in front of the same origin — same run,
# same file, warm caches. Random 1 MiB ranges (throughput) and random 4 KiB ranges (latency,
# where response time ~ time to first byte). A benchmark, not a test.
#
#   bench/cache-vs-nginx.sh [seconds-per-run] [connections]
source "$(dirname "$0")/common.sh"
DURATION="${1:-10}"
CONNS="${2:-100}"

"$ROOT/scripts/install-test-deps" >/dev/null
ulimit -n "$(ulimit -Hn)"
make_media
build_reelay
SIZE=$(stat -c %s "$MEDIA")
start_nginx_cache
cat >"$OUT/cache-bench.toml" <<CONF
[cache]
memory = "256MiB"
chunk = "1MiB"
readahead = 2
[[bucket]]
name = "origin"
origin = "http://127.0.0.1:$ORIGIN_PORT/"
CONF
trap 'stop_servers; stop_nginx_cache' EXIT
start_reelay --config "$OUT/cache-bench.toml"
BASE="${REELAY_URL%/media/media/bench.mp4}"
FS_URL="$BASE/media/media/bench.mp4"
CACHED_URL="$BASE/media/origin/bench.mp4"
NGINX_URL="http://127.0.0.1:$CACHE_PORT/bench.mp4"

for url in "$FS_URL" "$CACHED_URL" "$NGINX_URL"; do
  curl -fsS "$url" -o /dev/null                      # warm: every chunk / slice cached
  got=$(curl -fsS -r 1000000-1000099 "$url" | sha256sum | cut -c1-16)
  want=$(dd if="$MEDIA" bs=1 skip=1000000 count=100 status=none | sha256sum | cut -c1-16)
  [ "$got" = "$want" ] || { echo "wrong bytes from $url" >&2; exit 1; }
done
before=$(curl -fsS "$BASE/metrics" | awk '/^reelay_cache_backend_bytes_total/ {print $2}')

run() { # url range-size -> "req/s p50 p99"
  FILE_SIZE=$SIZE RANGE_SIZE=$2 wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency \
    -s "$ROOT/bench/random-range.lua" "$1" >"$OUT/wrk.last" 2>&1
  if grep -q "unexpected status" "$OUT/wrk.last"; then cat "$OUT/wrk.last" >&2; exit 1; fi
  awk '/^Requests\/sec:/ {r=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {print r, p50, p99}' "$OUT/wrk.last"
}

printf "file %s bytes, %s connections, %ss per run, warm caches\n" "$SIZE" "$CONNS" "$DURATION"
printf "%-34s %12s %10s %10s\n" "" "req/s" "p50" "p99"
for range in 1048576 4096; do
  label=$([ "$range" = 1048576 ] && echo "1 MiB" || echo "4 KiB")
  read -r fs_r fs_50 fs_99 < <(run "$FS_URL" "$range")
  read -r c_r c_50 c_99 < <(run "$CACHED_URL" "$range")
  read -r n_r n_50 n_99 < <(run "$NGINX_URL" "$range")
  printf "%-34s %12s %10s %10s\n" "$label reelay fs bucket" "$fs_r" "$fs_50" "$fs_99"
  printf "%-34s %12s %10s %10s\n" "$label reelay origin + chunk cache" "$c_r" "$c_50" "$c_99"
  printf "%-34s %12s %10s %10s\n" "$label nginx proxy_cache + slice" "$n_r" "$n_50" "$n_99"
  awk -v c="$c_r" -v f="$fs_r" -v n="$n_r" -v l="$label" \
    'BEGIN {printf "%s: cache hit / fs = %.2f, reelay cache / nginx cache = %.2f\n", l, c/f, c/n}'
done
# Unloaded time to first byte (one connection, sequential): per-request cost without queueing.
read -r t_c50 t_c99 < <(python3 "$ROOT/bench/ttfb.py" "$CACHED_URL" "$SIZE" 1048576 500)
read -r t_n50 t_n99 < <(python3 "$ROOT/bench/ttfb.py" "$NGINX_URL" "$SIZE" 1048576 500)
printf "TTFB of 1 MiB cache hits, one connection: reelay p50 %s ms p99 %s ms; nginx p50 %s ms p99 %s ms\n" \
  "$t_c50" "$t_c99" "$t_n50" "$t_n99"
after=$(curl -fsS "$BASE/metrics" | awk '/^reelay_cache_backend_bytes_total/ {print $2}')
echo "backend bytes during the runs: $((${after%.*} - ${before%.*})) (all hits)"
