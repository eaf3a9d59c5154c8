#!/usr/bin/env bash
# Live relay latency: from "segment fully received by the edge" (the edge answered its PUT and
# the encoder's playlist naming it) to "listed in the control node's live playlist", over N
# segments, with a control node and an edge node as two processes on loopback.
#
#   bench/edge-latency.sh [SEGMENTS=200] [SEGMENT_KB=250] [GAP_MS=100]
#
# Prints p50 / p99 / max in milliseconds. Goal (issue 5): p99 <= 100 ms.
source "$(dirname "$0")/common.sh"
SEGMENTS=${1:-200} SEGMENT_KB=${2:-250} GAP_MS=${3:-100}
build_reelay
work="$OUT/edge-latency"
rm -rf "$work" && mkdir -p "$work"

start_node() { # name args... ; prints the base URL
  local name=$1; shift
  "$REELAY" "$@" --listen 127.0.0.1:0 --data "$work/$name" >"$work/$name.out" 2>"$work/$name.err" &
  echo $! >"$work/$name.pid"
  for _ in $(seq 1 200); do
    grep -q '^listening on ' "$work/$name.out" 2>/dev/null && break
    sleep 0.05
  done
  sed -n 's/^listening on //p' "$work/$name.out"
}
cleanup() { kill "$(cat "$work/control.pid")" "$(cat "$work/edge.pid" 2>/dev/null)" 2>/dev/null || true; }
trap cleanup EXIT

CONTROL=$(start_node control serve)
TOKEN=$(curl -sf -XPOST "$CONTROL/api/v1/edges" -H 'content-type: application/json' -d '{"name":"bench"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
curl -sf -XPOST "$CONTROL/api/v1/sources" -H 'content-type: application/json' -d '{"name":"cam","target_duration":1}' >/dev/null
EDGE=$(start_node edge edge --control "$CONTROL" --token "$TOKEN")
for _ in $(seq 1 100); do
  curl -sf "$EDGE/api/v1/sources/cam" >/dev/null && break
  sleep 0.1
done
python3 "$(dirname "$0")/edge_latency.py" "$EDGE" "$CONTROL" "$SEGMENTS" "$SEGMENT_KB" "$GAP_MS"
