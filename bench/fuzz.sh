#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time: bench/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# libFuzzer (through cargo-fuzz, on the nightly toolchain) with a memory bound: a single
# allocation over 64 MiB or a resident set over 1 GiB fails the run, as does any panic or crash.
# Corpora grow under fuzz/corpus/<target> (not committed); a failing input is saved under
# fuzz/artifacts/<target> and the script exits non-zero. The same properties run on stable, with
# fixed case counts, in the test suite (the `*_props` tests and the relay protocol's unit tests).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_PER_TARGET="${1:-60}"
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cd "$ROOT/fuzz"
cargo +nightly fuzz build -O
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
failed=0
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  log="$ROOT/bench/out/fuzz-$target.log"
  mkdir -p "$ROOT/bench/out"
  if cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
      -max_total_time="$SECONDS_PER_TARGET" -malloc_limit_mb=64 -rss_limit_mb=1024 \
      -max_len=4096 -print_final_stats=1 >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "$target: ok, $runs inputs in ${SECONDS_PER_TARGET}s, $cov"
  else
    echo "$target: FAILED (see $log)"; tail -30 "$log"; failed=1
  fi
done
exit "$failed"
