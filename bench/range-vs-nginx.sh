#!/usr/bin/env bash
# Serves the same 60 MB mp4 with nginx (sendfile on), nginx (sendfile off), Caddy and reelay
# (release build) and runs wrk against each, in the same run, with random 1 MiB, 64 KiB and
# 4 KiB ranges. Prints the median req/s of each and the ratios of reelay to each peer.
# Runs alternate between the servers for ROUNDS rounds; the medians are reported, so a passing
# disturbance on this 2-core machine does not decide a ratio. A benchmark, not a test.
#
#   bench/range-vs-nginx.sh [seconds-per-run] [connections] [rounds]
#
# SIZES="1048576 65536 4096" picks the range sizes. BASELINE=/path/to/an/older/reelay adds that
# binary to every round (same file, alternating) and prints this build / baseline: how a change
# moved the figures, measured in one run rather than across runs on a machine whose speed drifts.
# FLOOR=1 adds hyper alone in reelay's worker shape (crates/reelay/examples/http_floor.rs), the
# floor under reelay's per-request cost, and prints reelay / that floor.
source "$(dirname "$0")/common.sh"
DURATION="${1:-10}"
CONNS="${2:-32}"
ROUNDS="${3:-3}"
SIZES="${SIZES:-1048576 65536 4096}"

"$ROOT/scripts/install-test-deps" >/dev/null
make_media
build_reelay
trap stop_servers EXIT
start_nginx nginx on; NGINX_ON=$NGINX_URL
start_nginx nginx-nosendfile off; NGINX_OFF=$NGINX_URL
start_caddy
start_reelay
NAMES=("nginx" "nginx-nosendfile" "caddy" "reelay")
URLS=("$NGINX_ON" "$NGINX_OFF" "$CADDY_URL" "$REELAY_URL")
if [ -n "${BASELINE:-}" ]; then
  main_pid=$REELAY_PID main_url=$REELAY_URL
  REELAY=$BASELINE REELAY_NAME=baseline start_reelay
  BASE_PID=$REELAY_PID
  NAMES+=("baseline") URLS+=("$REELAY_URL")
  REELAY_PID=$main_pid REELAY_URL=$main_url
  trap 'stop_servers; kill "$BASE_PID" 2>/dev/null || true' EXIT
fi
if [ -n "${FLOOR:-}" ]; then
  # hyper alone in reelay's worker shape (crates/reelay/examples/http_floor.rs): the floor.
  (cd "$ROOT" && cargo build --release --locked -q --example http_floor)
  floor_port=$(free_port)
  "$ROOT/target/release/examples/http_floor" "127.0.0.1:$floor_port" >"$OUT/floor.log" 2>&1 &
  FLOOR_PID=$!
  trap 'stop_servers; kill "${BASE_PID:-}" "$FLOOR_PID" 2>/dev/null || true' EXIT
  until curl -fsS -o /dev/null -r 0-0 "http://127.0.0.1:$floor_port/" 2>/dev/null; do sleep 0.05; done
  FLOOR_INDEX=${#URLS[@]}
  NAMES+=("hyper-floor") URLS+=("http://127.0.0.1:$floor_port/bench.mp4")
fi
SIZE=$(stat -c %s "$MEDIA")

# Same bytes from all, before measuring anything.
for url in "${URLS[@]}"; do
  [[ $url == *":${floor_port:-none}/"* ]] && continue # the floor answers filler bytes
  got=$(curl -fsS -r 1000000-1000099 "$url" | sha256sum | cut -c1-16)
  want=$(dd if="$MEDIA" bs=1 skip=1000000 count=100 status=none | sha256sum | cut -c1-16)
  [ "$got" = "$want" ] || { echo "wrong bytes from $url" >&2; exit 1; }
done

run_wrk() { # url range-size -> req/s
  FILE_SIZE=$SIZE RANGE_SIZE=$2 wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency \
    -s "$ROOT/bench/random-range.lua" "$1" >"$OUT/wrk.last" 2>&1
  if grep -q "unexpected status\|Non-2xx" "$OUT/wrk.last"; then cat "$OUT/wrk.last" >&2; exit 1; fi
  awk '/^Requests\/sec:/ {printf "%.0f\n", $2}' "$OUT/wrk.last"
}

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
label() { case $1 in 1048576) echo "1 MiB";; 65536) echo "64 KiB";; 4096) echo "4 KiB";; *) echo "$1 B";; esac; }

printf "file %s bytes, %s connections, %ss per run, %s rounds, %s cores, %s\n" \
  "$SIZE" "$CONNS" "$DURATION" "$ROUNDS" "$(nproc)" \
  "$(lscpu | sed -n 's/^Model name: *//p' | head -n1)"
for range in $SIZES; do
  declare -A runs=()
  for _ in $(seq 1 "$ROUNDS"); do
    for i in "${!URLS[@]}"; do runs[$i]+="$(run_wrk "${URLS[$i]}" "$range") "; done
  done
  declare -A med=()
  for i in "${!URLS[@]}"; do
    med[$i]=$(tr ' ' '\n' <<<"${runs[$i]}" | grep . | median)
  done
  r=${med[3]}
  printf "%-7s" "$(label "$range")"
  for i in "${!URLS[@]}"; do printf "  %s %s [%s]" "${NAMES[$i]}" "${med[$i]}" "${runs[$i]% }"; done
  printf "\n        reelay/nginx %s  reelay/nginx-nosendfile %s  reelay/caddy %s" \
    "$(awk -v a="$r" -v b="${med[0]}" 'BEGIN {printf "%.2f", a/b}')" \
    "$(awk -v a="$r" -v b="${med[1]}" 'BEGIN {printf "%.2f", a/b}')" \
    "$(awk -v a="$r" -v b="${med[2]}" 'BEGIN {printf "%.2f", a/b}')"
  [ -n "${BASELINE:-}" ] && printf "  reelay/baseline %s" \
    "$(awk -v a="$r" -v b="${med[4]}" 'BEGIN {printf "%.2f", a/b}')"
  [ -n "${FLOOR:-}" ] && printf "  reelay/hyper-floor %s" \
    "$(awk -v a="$r" -v b="${med[$FLOOR_INDEX]}" 'BEGIN {printf "%.2f", a/b}')"
  printf "\n"
  unset runs med
done
