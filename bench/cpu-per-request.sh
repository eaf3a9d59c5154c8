#!/usr/bin/env bash
# Where the CPU goes per request: reelay and nginx (sendfile on) serving random ranges of the
# bench file, wrk on the same cores. For each server and size, the user and system CPU the
# server spent per request (from /proc/PID/stat across the run) and the CPU wrk spent per
# request (/usr/bin/time), medians of ROUNDS alternating rounds. A benchmark, not a test.
#
#   bench/cpu-per-request.sh [seconds-per-run] [connections] [rounds]
#
# SIZES="65536 1048576 4096" picks the range sizes. What it is for: on a machine where the
# load generator shares the cores, a request costs wrk + the server's kernel work + the
# server's own code; the last line per size ("ceiling") is the ratio to nginx reelay would
# reach if its own code cost nothing and the rest stayed as measured — the most any change to
# reelay's user space can buy there. (It assumes the run is CPU-bound — both cores busy, as
# they are at these sizes — so throughput goes as 1 / (wrk + server) per request.)
source "$(dirname "$0")/common.sh"
DURATION="${1:-5}"
CONNS="${2:-32}"
ROUNDS="${3:-3}"
SIZES="${SIZES:-65536 1048576 4096}"

"$ROOT/scripts/install-test-deps" >/dev/null
make_media
build_reelay
trap stop_servers EXIT
start_nginx nginx on
start_reelay
TICK=$(getconf CLK_TCK)
FILE_SIZE=$(stat -c %s "$MEDIA")
echo "file $FILE_SIZE bytes, $CONNS connections, ${DURATION}s per run, $ROUNDS rounds, $(nproc) cores, $(lscpu | sed -n "s/^Model name: *//p" | head -n1)"

cpu_ticks() { # pids -> "user system" clock ticks, summed
  local u=0 s=0 p f
  for p in $1; do
    read -r -a f <"/proc/$p/stat"
    u=$((u + f[13])) s=$((s + f[14]))
  done
  echo "$u $s"
}

measure() { # name pids url size -> one line: name req/s user-us system-us wrk-us
  local u0 s0 u1 s1 out rps wu ws
  read -r u0 s0 < <(cpu_ticks "$2")
  out=$({ /usr/bin/time -f "WRKCPU %U %S" env RANGE_SIZE="$4" FILE_SIZE="$FILE_SIZE" \
    wrk -t2 -c"$CONNS" -d"${DURATION}s" -s "$ROOT/bench/random-range.lua" "$3"; } 2>&1)
  read -r u1 s1 < <(cpu_ticks "$2")
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  read -r wu ws < <(awk '/WRKCPU/{print $2, $3}' <<<"$out")
  python3 -c "
r=$rps*$DURATION; t=$TICK
print('$1', $rps, ($u1-$u0)/t*1e6/r, ($s1-$s0)/t*1e6/r, ($wu+$ws)*1e6/r)"
}

for size in $SIZES; do
  rows=""
  for _ in $(seq 1 "$ROUNDS"); do
    rows+="$(measure reelay "$REELAY_PID" "$REELAY_URL" "$size")"$'\n'
    rows+="$(measure nginx "$(pgrep -f 'nginx: worker' | tr '\n' ' ')" "$NGINX_URL" "$size")"$'\n'
  done
  python3 - "$size" <<PY
import statistics as st, sys
rows = [l.split() for l in """$rows""".strip().splitlines()]
med = {}
for name in ("reelay", "nginx"):
    mine = [list(map(float, r[1:])) for r in rows if r[0] == name]
    med[name] = [st.median(c) for c in zip(*mine)]
    rps, user, system, wrk = med[name]
    print(f"{int(sys.argv[1]) // 1024:>5} KiB  {name:<7} {rps:>8.0f} req/s  user {user:6.1f} us/req  "
          f"system {system:6.1f} us/req  wrk {wrk:7.1f} us/req")
r, n = med["reelay"], med["nginx"]
ceiling = (n[3] + n[1] + n[2]) / (r[3] + r[2])
print(f"        reelay/nginx {r[0] / n[0]:.2f}  ceiling with reelay's user space at zero {ceiling:.2f}")
PY
done
