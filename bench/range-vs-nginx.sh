#!/usr/bin/env bash
# Serves the same 60 MB mp4 with nginx (sendfile on) and with reelay (release build) and runs
# wrk against each, in the same run, with random 1 MiB and random 64 KiB ranges.
# Prints req/s and MB/s for both and the ratio reelay/nginx. A benchmark, not a test.
#
#   bench/range-vs-nginx.sh [seconds-per-run] [connections]
source "$(dirname "$0")/common.sh"
DURATION="${1:-10}"
CONNS="${2:-32}"

"$ROOT/scripts/install-test-deps" >/dev/null
make_media
build_reelay
trap stop_servers EXIT
start_nginx
start_reelay
SIZE=$(stat -c %s "$MEDIA")

# Same bytes from both, before measuring anything.
for url in "$NGINX_URL" "$REELAY_URL"; do
  got=$(curl -fsS -r 1000000-1000099 "$url" | sha256sum | cut -c1-16)
  want=$(dd if="$MEDIA" bs=1 skip=1000000 count=100 status=none | sha256sum | cut -c1-16)
  [ "$got" = "$want" ] || { echo "wrong bytes from $url" >&2; exit 1; }
done

run_wrk() { # url range-size -> "req/s MB/s"
  FILE_SIZE=$SIZE RANGE_SIZE=$2 wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency \
    -s "$ROOT/bench/random-range.lua" "$1" >"$OUT/wrk.last" 2>&1
  if grep -q "unexpected status\|Non-2xx" "$OUT/wrk.last"; then cat "$OUT/wrk.last" >&2; exit 1; fi
  local rps
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$OUT/wrk.last")
  awk -v r="$rps" -v s="$2" 'BEGIN {printf "%.0f %.0f\n", r, r*s/1e6}'
}

printf "file %s bytes, %s connections, %ss per run, %s cores\n" "$SIZE" "$CONNS" "$DURATION" "$(nproc)"
printf "%-10s %14s %14s %10s\n" "ranges" "nginx req/s" "reelay req/s" "ratio"
for range in 1048576 65536; do
  read -r n_rps n_mbs < <(run_wrk "$NGINX_URL" "$range")
  read -r r_rps r_mbs < <(run_wrk "$REELAY_URL" "$range")
  label=$([ "$range" = 1048576 ] && echo "1 MiB" || echo "64 KiB")
  ratio=$(awk -v a="$r_rps" -v b="$n_rps" 'BEGIN {printf "%.2f", a/b}')
  printf "%-10s %8s (%4s MB/s) %8s (%4s MB/s) %6s\n" "$label" "$n_rps" "$n_mbs" "$r_rps" "$r_mbs" "$ratio"
done
