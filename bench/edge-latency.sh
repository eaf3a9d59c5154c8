#!/usr/bin/env bash
# Live relay latency: from "segment fully received by the edge" (the edge answered its PUT and
# the encoder's playlist naming it) to "listed in the control node's live playlist", over N
# segments, with a control node and an edge node as two processes on loopback.
#
#   bench/edge-latency.sh [SEGMENTS=200] [SEGMENT_KB=250] [GAP_MS=100]
#   CLUSTER=1 bench/edge-latency.sh ...
#
# Prints p50 / p99 / max in milliseconds. Goal (issue 5): p99 <= 100 ms.
# CLUSTER=1: two control nodes on one Postgres database (made and dropped here), the machine's
# Redis and NATS (a cluster name of this run's own); the edge forwards to node A and the
# playlist is polled on node B, so each figure includes the NATS announcement and, for the
# segment itself, nothing (B lists it before any viewer fetches it). Goal (issue 12): p99 <= 100 ms.
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
cleanup() {
  kill "$(cat "$work/control.pid")" "$(cat "$work/edge.pid" 2>/dev/null)" \
    "$(cat "$work/viewer.pid" 2>/dev/null)" 2>/dev/null || true
  if [ -n "${DB:-}" ]; then
    sleep 0.5
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
  fi
}
trap cleanup EXIT

if [ "${CLUSTER:-0}" = 1 ]; then
  DB="bench_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $DB"
  export REELAY_METADATA_URL="postgres://postgres@127.0.0.1:5432/$DB"
  printf '[cluster]\nname = "%s"\nredis = "redis://127.0.0.1:6379/0"\nnats = "nats://127.0.0.1:4222"\nkey = "%s"\n' \
    "$DB" "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" >"$work/cluster.toml"
  # Both nodes run here, so one folder is the recordings bucket every node mounts.
  mkdir -p "$work/rec"
  printf '[live]\nrecordings_bucket = "rec"\nrecordings_shared = true\n[[bucket]]\nname = "rec"\nfs = "%s"\n' \
    "$work/rec" >>"$work/cluster.toml"
  CONTROL=$(start_node control serve --config "$work/cluster.toml")
  VIEWER=$(start_node viewer serve --config "$work/cluster.toml")
  unset REELAY_METADATA_URL # the edge keeps its own SQLite
else
  CONTROL=$(start_node control serve)
fi
TOKEN=$(curl -sf -XPOST "$CONTROL/api/v1/edges" -H 'content-type: application/json' -d '{"name":"bench"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
curl -sf -XPOST "$CONTROL/api/v1/sources" -H 'content-type: application/json' -d '{"name":"cam","target_duration":1}' >/dev/null
EDGE=$(start_node edge edge --control "$CONTROL" --token "$TOKEN")
for _ in $(seq 1 100); do
  curl -sf "$EDGE/api/v1/sources/cam" >/dev/null && break
  sleep 0.1
done
python3 "$(dirname "$0")/edge_latency.py" "$EDGE" "${VIEWER:-$CONTROL}" "$SEGMENTS" "$SEGMENT_KB" "$GAP_MS"
