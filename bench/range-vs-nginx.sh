#!/usr/bin/env bash
# Serves the same 60 MB mp4 with nginx (sendfile on) and with reelay (release build) and runs
# wrk against each, in the same run, with random 1 MiB and random 64 KiB ranges.
# Prints req/s and MB/s for both and the ratio reelay/nginx. A benchmark, not a test.
# Runs alternate nginx/reelay for ROUNDS rounds; the medians are reported, so a passing
# disturbance on this 2-core machine does not decide the ratio.
#
#   bench/range-vs-nginx.sh [seconds-per-run] [connections] [rounds]
#
# BASELINE=/path/to/an/older/reelay adds that binary to every round (same file, same nginx,
# alternating) and prints the ratio this build / baseline: how a change moved the figures,
# measured in one run rather than across runs on a machine whose speed drifts.
source "$(dirname "$0")/common.sh"
DURATION="${1:-10}"
CONNS="${2:-32}"
ROUNDS="${3:-3}"

"$ROOT/scripts/install-test-deps" >/dev/null
make_media
build_reelay
trap stop_servers EXIT
start_nginx
start_reelay
URLS=("$NGINX_URL" "$REELAY_URL")
if [ -n "${BASELINE:-}" ]; then
  main_pid=$REELAY_PID main_url=$REELAY_URL
  REELAY=$BASELINE REELAY_NAME=baseline start_reelay
  BASE_PID=$REELAY_PID BASE_URL=$REELAY_URL
  REELAY_PID=$main_pid REELAY_URL=$main_url
  trap 'stop_servers; kill "$BASE_PID" 2>/dev/null || true' EXIT
  URLS+=("$BASE_URL")
fi
SIZE=$(stat -c %s "$MEDIA")

# Same bytes from all, before measuring anything.
for url in "${URLS[@]}"; do
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

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

printf "file %s bytes, %s connections, %ss per run, %s rounds, %s cores, %s\n" \
  "$SIZE" "$CONNS" "$DURATION" "$ROUNDS" "$(nproc)" \
  "$(lscpu | sed -n 's/^Model name: *//p' | head -n1)"
printf "%-8s %-28s %-28s %s" "ranges" "nginx req/s (MB/s)" "reelay req/s (MB/s)" "ratio"
[ -n "${BASELINE:-}" ] && printf "  %-28s %s" "baseline req/s" "reelay/baseline"
printf "\n"
for range in 1048576 65536; do
  n_all=() r_all=() b_all=()
  for _ in $(seq 1 "$ROUNDS"); do
    read -r n_rps _ < <(run_wrk "$NGINX_URL" "$range")
    read -r r_rps _ < <(run_wrk "$REELAY_URL" "$range")
    n_all+=("$n_rps") r_all+=("$r_rps")
    if [ -n "${BASELINE:-}" ]; then
      read -r b_rps _ < <(run_wrk "$BASE_URL" "$range")
      b_all+=("$b_rps")
    fi
  done
  n_med=$(printf '%s\n' "${n_all[@]}" | median)
  r_med=$(printf '%s\n' "${r_all[@]}" | median)
  label=$([ "$range" = 1048576 ] && echo "1 MiB" || echo "64 KiB")
  ratio=$(awk -v a="$r_med" -v b="$n_med" 'BEGIN {printf "%.2f", a/b}')
  mbs() { awk -v r="$1" -v s="$range" 'BEGIN {printf "%.0f", r*s/1e6}'; }
  printf "%-8s %-28s %-28s %s" "$label" "$n_med ($(mbs "$n_med")) [${n_all[*]}]" \
    "$r_med ($(mbs "$r_med")) [${r_all[*]}]" "$ratio"
  if [ -n "${BASELINE:-}" ]; then
    b_med=$(printf '%s\n' "${b_all[@]}" | median)
    printf "  %-28s %s" "$b_med [${b_all[*]}]" \
      "$(awk -v a="$r_med" -v b="$b_med" 'BEGIN {printf "%.2f", a/b}')"
  fi
  printf "\n"
done
