#!/usr/bin/env bash
# Low-Latency HLS, measured on one node on loopback (or through an edge, EDGE=1): ffmpeg's streaming DASH push (real time,
# 2 s segments of 0.25 s fragments) into reelay, watched by hls.js in lowLatencyMode in
# Debian's Chromium (the browser test's `hlsplay` scenario).
#
#   bench/ll-latency.sh [SECONDS=60] [HELD=1000] [ROUNDS=5]
#
# EDGE=1: ffmpeg pushes into an edge (`reelay edge`) of that node instead, and everything is
# measured on the node (the control): through edge -> control, parts forwarded as cut.
#
# 1. Glass-to-glass latency, sampled every 250 ms while playing: the wall clock minus hls.js's
#    `playingDate` (the PROGRAM-DATE-TIME of what is on screen, which reelay takes from the
#    encoder's producer reference time, `-write_prft 1`). Prints p50 / p95 / max. Goal (issue 16): p50 <= 2 s,
#    p95 <= 3 s.
# 2. HELD blocking reloads held at once for a part not yet published (examples/ll_held.rs): the
#    spread of their answers (p50 / p99 / max from the first; "answered" from the kernel's
#    receive stamps, i.e. when the server wrote each, "read" from when the client had read it)
#    and the server's RSS per held reload. Goal: p99 <= 10 ms. Then again with a quiet client
#    (LL_HELD_QUIET_MS=800: it sleeps outside epoll_wait until the part is surely published and
#    reads the answers after, by their kernel stamps), so the fan-out does not share this
#    machine's two cores with the client reading it, as it would not with real viewers.
#
# FLOOR=1: then the same held reloads against hyper alone in reelay's worker shape
# (examples/ll_floor.rs: one watch channel, an answer from memory), with the encoder still
# running, alternating with reelay for ROUNDS rounds each: what this machine's floor is.
source "$(dirname "$0")/common.sh"
ulimit -n 8192 2>/dev/null || true
SECONDS_PLAYED=${1:-60} HELD=${2:-1000} ROUNDS=${3:-5}
"$ROOT/scripts/install-test-deps" >/dev/null
build_reelay
(cd "$ROOT" && cargo build --release --locked -q --example ll_held --example ll_floor)
work="$OUT/ll-latency"
rm -rf "$work" && mkdir -p "$work/media"
"$REELAY" serve "$work/media" --listen 127.0.0.1:0 --data "$work/data" >"$work/reelay.out" 2>"$work/reelay.err" &
PID=$!
trap 'kill $PID ${EDGE_PID:-} ${FFMPEG:-} 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do grep -q '^listening on ' "$work/reelay.out" 2>/dev/null && break; sleep 0.05; done
BASE=$(sed -n 's/^listening on //p' "$work/reelay.out")
curl -sf -XPOST "$BASE/api/v1/sources" -H 'content-type: application/json' -d '{"name":"ll"}' >/dev/null
PUSH=$BASE
if [ -n "${EDGE:-}" ]; then
  token=$(curl -sf -XPOST "$BASE/api/v1/edges" -H 'content-type: application/json' -d '{"name":"bench"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  "$REELAY" edge --control "$BASE" --token "$token" --listen 127.0.0.1:0 --data "$work/edge" \
    >"$work/edge.out" 2>"$work/edge.err" &
  EDGE_PID=$!
  for _ in $(seq 1 200); do grep -q '^listening on ' "$work/edge.out" 2>/dev/null && break; sleep 0.05; done
  PUSH=$(sed -n 's/^listening on //p' "$work/edge.out")
  until curl -sf -o /dev/null "$PUSH/api/v1/sources/ll"; do sleep 0.1; done
  echo "pushing into an edge ($PUSH), watching the control ($BASE)"
fi
ffmpeg -v error -re -f lavfi -i testsrc2=size=1280x720:rate=25 -f lavfi -i sine -t $((SECONDS_PLAYED + 900)) \
  -c:v libx264 -preset veryfast -tune zerolatency -g 50 -pix_fmt yuv420p -c:a aac -f dash -seg_duration 2 \
  -frag_duration 0.25 -frag_type duration -streaming 1 -ldash 1 -use_template 1 -use_timeline 0 \
  -hls_playlist 1 -write_prft 1 -utc_timing_url "https://time.example/?iso" \
  -method PUT "$PUSH/ingest/ll/manifest.mpd" </dev/null 2>"$work/ffmpeg.err" &
FFMPEG=$!
until curl -sf "$BASE/live/ll/media_0/index.m3u8" 2>/dev/null | grep -q 'EXT-X-PART:'; do sleep 0.2; done
printf '%s, %s cores; hls.js %s\n' "$(lscpu | sed -n 's/^Model name: *//p' | head -n1)" "$(nproc)" \
  "$(grep -o 'VERSION=[0-9.]*' "$ROOT/web/vendor/update.sh" | cut -d= -f2)"
(cd "$ROOT/crates/reelay/tests/browser" &&
  node run.mjs hlsplay "$BASE" "$work" ll "$SECONDS_PLAYED" /live/ll/index.m3u8) >"$work/play.out" 2>&1 ||
  { cat "$work/play.out" >&2; exit 1; }
grep '^{' "$work/play.out" >"$work/play.json"
python3 - "$work/play.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
l = sorted(r["latencies"])
q = lambda p: l[min(len(l) - 1, int(p * len(l)))] / 1000
print(f"glass-to-glass over {len(l)} samples: p50 {q(0.5):.2f} s  p95 {q(0.95):.2f} s  "
      f"max {l[-1] / 1000:.2f} s; stalls {r['stalls']} ({r['stalledMs']} ms), parts loaded {r['parts']}, "
      f"played {r['advanced']:.1f} s")
PY
"$ROOT/target/release/examples/ll_held" "${BASE#http://}" /live/ll/media_0/index.m3u8 "$HELD" "$ROUNDS" "$PID"
echo "quiet client:"
LL_HELD_QUIET_MS=800 "$ROOT/target/release/examples/ll_held" "${BASE#http://}" /live/ll/media_0/index.m3u8 \
  "$HELD" "$ROUNDS" "$PID" | tail -n1
if [ -n "${FLOOR:-}" ]; then
  "$ROOT/target/release/examples/ll_floor" 127.0.0.1:0 >"$work/floor.out" 2>&1 &
  FLOOR_PID=$!
  trap 'kill $PID ${EDGE_PID:-} ${FFMPEG:-} $FLOOR_PID 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do grep -q '^listening on ' "$work/floor.out" 2>/dev/null && break; sleep 0.05; done
  FLOOR_ADDR=$(sed -n 's#^listening on http://##p' "$work/floor.out")
  for quiet in "" 800; do
    for round in 1 2 3; do
      echo "floor, set $round${quiet:+, quiet client}:"
      LL_HELD_QUIET_MS=$quiet "$ROOT/target/release/examples/ll_held" "$FLOOR_ADDR" /floor/index.m3u8 \
        "$HELD" "$ROUNDS" "$FLOOR_PID" | tail -n1
      echo "reelay, set $round${quiet:+, quiet client}:"
      LL_HELD_QUIET_MS=$quiet "$ROOT/target/release/examples/ll_held" "${BASE#http://}" \
        /live/ll/media_0/index.m3u8 "$HELD" "$ROUNDS" "$PID" | tail -n1
    done
  done
fi
