#!/usr/bin/env bash
# Time to first byte and throughput of random 1 MiB ranges: through reelay (S3 bucket) vs
# directly from the S3 server (s3s-fs), in the same run. A benchmark, not a test.
#
# wrk cannot sign requests, so s3s-fs runs without authentication here and reelay's profile is
# anonymous: the comparison measures reelay's proxying, not SigV4 signing (which costs a few
# microseconds of HMAC per upstream request).
#
# s3s-fs computes an object's MD5 on every GET and HEAD, so its per-request cost grows with the
# object: use a small object (4th argument, MiB) to see reelay's own overhead.
#
#   bench/s3-ttfb.sh [seconds-per-run] [connections] [ttfb-samples] [object-MiB]
source "$(dirname "$0")/common.sh"
DURATION="${1:-10}"
CONNS="${2:-32}"
SAMPLES="${3:-300}"
OBJECT_MIB="${4:-}"
RANGE=1048576

"$ROOT/scripts/install-test-deps" >/dev/null
make_media
build_reelay
S3DIR="$OUT/s3"
rm -rf "$S3DIR" && mkdir -p "$S3DIR/media"
if [ -n "$OBJECT_MIB" ]; then
  head -c "$((OBJECT_MIB << 20))" "$MEDIA" >"$S3DIR/media/bench.mp4"
else
  cp "$MEDIA" "$S3DIR/media/bench.mp4"
fi
start_s3s "$S3DIR" "$OUT/s3s.log"
cat >"$OUT/s3-bench.toml" <<CONF
[[s3]]
name = "bench"
endpoint = "$S3_URL"
[[bucket]]
name = "s3"
s3 = "bench"
s3_bucket = "media"
CONF
trap 'stop_servers; kill $S3_PID 2>/dev/null' EXIT
start_reelay --config "$OUT/s3-bench.toml"
REELAY_S3_URL="${REELAY_URL%/media/media/bench.mp4}/media/s3/bench.mp4"
DIRECT_URL="$S3_URL/media/bench.mp4"
SIZE=$(stat -c %s "$S3DIR/media/bench.mp4")

for url in "$DIRECT_URL" "$REELAY_S3_URL"; do
  got=$(curl -fsS -r 1000000-1000099 "$url" | sha256sum | cut -c1-16)
  want=$(dd if="$MEDIA" bs=1 skip=1000000 count=100 status=none | sha256sum | cut -c1-16)
  [ "$got" = "$want" ] || { echo "wrong bytes from $url" >&2; exit 1; }
done

read -r d50 d99 < <(python3 "$ROOT/bench/ttfb.py" "$DIRECT_URL" "$SIZE" "$RANGE" "$SAMPLES")
read -r r50 r99 < <(python3 "$ROOT/bench/ttfb.py" "$REELAY_S3_URL" "$SIZE" "$RANGE" "$SAMPLES")

rps() {
  FILE_SIZE=$SIZE RANGE_SIZE=$RANGE wrk -t2 -c"$CONNS" -d"${DURATION}s" \
    -s "$ROOT/bench/random-range.lua" "$1" >"$OUT/wrk.last" 2>&1
  if grep -q "unexpected status" "$OUT/wrk.last"; then cat "$OUT/wrk.last" >&2; exit 1; fi
  awk '/^Requests\/sec:/ {print $2}' "$OUT/wrk.last"
}
d_rps=$(rps "$DIRECT_URL")
r_rps=$(rps "$REELAY_S3_URL")

printf "file %s bytes, 1 MiB random ranges, %s TTFB samples (sequential), wrk %s connections %ss\n" \
  "$SIZE" "$SAMPLES" "$CONNS" "$DURATION"
printf "%-22s %10s %10s %12s\n" "" "TTFB p50" "TTFB p99" "req/s"
printf "%-22s %8s ms %8s ms %12s\n" "s3s-fs direct" "$d50" "$d99" "$d_rps"
printf "%-22s %8s ms %8s ms %12s\n" "reelay -> s3s-fs" "$r50" "$r99" "$r_rps"
awk -v a="$r50" -v b="$d50" -v x="$r_rps" -v y="$d_rps" \
  'BEGIN {printf "first-byte overhead p50: %.3f ms; throughput ratio reelay/direct: %.2f\n", a-b, x/y}'
