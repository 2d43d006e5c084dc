#!/usr/bin/env bash
# Fuzzes the parsers that read untrusted upload bytes (fuzz/fuzz_targets/*) with cargo fuzz
# (libFuzzer), each for FUZZ_SECONDS (default 60), starting from the committed seeds in
# fuzz/seeds/<target> (real media fixtures and the crash files of past findings).
# Installs cargo-fuzz if missing. Runs on the stable toolchain: RUSTC_BOOTSTRAP lets it accept
# cargo fuzz's flags, and no sanitizer is used (the code is safe Rust, `unsafe_code = "forbid"`);
# libFuzzer's own limits catch panics, hangs (-timeout) and oversized allocations (-rss_limit_mb,
# -malloc_limit_mb).
# Usage: scripts/fuzz.sh [TARGET...]   (default: every target)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${FUZZ_SECONDS:-60}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --version 0.13.2 --locked --quiet
export RUSTC_BOOTSTRAP=1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
cargo fuzz build -s none -O
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  echo "== fuzz $target (${seconds}s)"
  log=$(mktemp)
  status=0
  cargo fuzz run -s none -O "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=256 \
    -max_len=65536 -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' "$log" || true
  if [ "$status" -ne 0 ]; then
    # A finding: show libFuzzer's report (the input is saved under fuzz/artifacts/<target>/).
    tail -n 40 "$log" >&2
    echo "fuzz $target failed (exit $status)" >&2
    exit 1
  fi
  rm -f "$log"
done
