#!/usr/bin/env bash
# 1,000 slow readers against reelay on the 60 MB bench file; prints peak RSS (goal <= 100 MB).
#
#   bench/slow-readers.sh [connections] [seconds] [bytes-per-second-per-connection]
source "$(dirname "$0")/common.sh"
"$ROOT/scripts/install-test-deps" >/dev/null
ulimit -n "$(ulimit -Hn)"  # both ends of 1,000 connections live in this process tree
make_media
build_reelay
trap stop_servers EXIT
start_reelay ${REELAY_ARGS:-}
python3 "$ROOT/bench/slow-readers.py" "$REELAY_URL" "$REELAY_PID" "${1:-1000}" "${2:-20}" "${3:-65536}"
