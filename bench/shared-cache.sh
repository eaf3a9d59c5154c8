#!/usr/bin/env bash
# The shared chunk tier (issue 13): a chunk served from the shared tier (node B, whose own cache
# holds only two chunks, so nearly every read comes from Redis) vs a local hit (node A, warm) vs
# nginx proxy_cache + slice, in front of the same nginx origin, same run, same file.
# Random 1 MiB and 64 KiB ranges: req/s (wrk) and unloaded time to first byte (one connection).
# Goals: a shared-tier hit costs at most 2 ms extra first byte at p50, and serves at least 0.8x
# a local hit's throughput. A benchmark, not a test.
#
#   [ROUNDS=3] bench/shared-cache.sh [seconds-per-run] [connections] [redis-url]
source "$(dirname "$0")/common.sh"
DURATION="${1:-10}"
CONNS="${2:-32}"
REDIS="${3:-redis://127.0.0.1:6379/0}"
ROUNDS="${ROUNDS:-3}"

"$ROOT/scripts/install-test-deps" >/dev/null
make_media
build_reelay
SIZE=$(stat -c %s "$MEDIA")
start_nginx_cache
NAME="bench$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
KEY="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"  # seals the tier's entries
node_config() { # memory -> a config file path
  cat >"$OUT/shared-$1.toml" <<CONF
[cache]
memory = "$1"
chunk = "1MiB"
readahead = 0
shared = "$REDIS"
[cluster]
name = "$NAME"
key = "$KEY"
[[bucket]]
name = "origin"
origin = "http://127.0.0.1:$ORIGIN_PORT/"
CONF
  echo "$OUT/shared-$1.toml"
}
PIDS=()
cleanup() {
  kill "${PIDS[@]}" 2>/dev/null || true
  stop_nginx_cache
  redis-cli -u "$REDIS" --scan --pattern "$NAME:*" | xargs -r redis-cli -u "$REDIS" del >/dev/null
}
trap cleanup EXIT
REELAY_NAME=shared-a start_reelay --config "$(node_config 256MiB)"; PIDS+=("$REELAY_PID")
A="${REELAY_URL%/media/media/bench.mp4}/media/origin/bench.mp4"
REELAY_NAME=shared-b start_reelay --config "$(node_config 2MiB)"; PIDS+=("$REELAY_PID")
B="${REELAY_URL%/media/media/bench.mp4}/media/origin/bench.mp4"
N="http://127.0.0.1:$CACHE_PORT/bench.mp4"
curl -fsS "$A" -o /dev/null   # node A fills its cache and the shared tier
curl -fsS "$N" -o /dev/null   # nginx fills its cache
for url in "$A" "$B" "$N"; do
  got=$(curl -fsS -r 3000000-3000099 "$url" | sha256sum | cut -c1-16)
  want=$(dd if="$MEDIA" bs=1 skip=3000000 count=100 status=none | sha256sum | cut -c1-16)
  [ "$got" = "$want" ] || { echo "wrong bytes from $url" >&2; exit 1; }
done

run() { # url range-size -> "req/s"
  FILE_SIZE=$SIZE RANGE_SIZE=$2 wrk -t2 -c"$CONNS" -d"${DURATION}s" \
    -s "$ROOT/bench/random-range.lua" "$1" >"$OUT/wrk.last" 2>&1
  if grep -q "unexpected status" "$OUT/wrk.last"; then cat "$OUT/wrk.last" >&2; exit 1; fi
  awk '/^Requests\/sec:/ {print $2}' "$OUT/wrk.last"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "file %s bytes, %s connections, %ss per run, medians of %s alternating rounds, %s\n" \
  "$SIZE" "$CONNS" "$DURATION" "$ROUNDS" "$(lscpu | sed -n 's/^Model name: *//p')"
printf "%-8s %-34s %10s %10s %10s\n" "ranges" "" "req/s" "ttfb p50" "ttfb p99"
PATHS=("local hit (node A)|$A" "shared-tier hit (node B)|$B" "nginx proxy_cache + slice|$N")
for range in 1048576 65536; do
  label=$([ "$range" = 1048576 ] && echo "1 MiB" || echo "64 KiB")
  declare -A got=()
  for _ in $(seq 1 "$ROUNDS"); do
    for i in "${!PATHS[@]}"; do got[$i]+="$(run "${PATHS[$i]#*|}" "$range") "; done
  done
  for i in "${!PATHS[@]}"; do
    name=${PATHS[$i]%%|*} url=${PATHS[$i]#*|}
    rps=$(tr ' ' '\n' <<<"${got[$i]}" | grep . | median)
    read -r t50 t99 < <(python3 "$ROOT/bench/ttfb.py" "$url" "$SIZE" "$range" 300)
    printf "%-8s %-34s %10s %8s ms %8s ms\n" "$label" "$name" "$rps" "$t50" "$t99"
  done
  unset got
done
