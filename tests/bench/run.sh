#!/usr/bin/env bash
# `make bench`: builds what the benchmark runs into BUILD_DIR (a configured CMake build
# directory, Release for figures worth quoting), installs the pinned official Node SDK into
# BUILD_DIR/bench with `npm ci` (never into the source tree), then runs tests/bench/run.js,
# which starts the emulator and the gateway on loopback, runs every scenario and prints the
# table. Bounded: every scenario has a fixed duration and every process is stopped at the end.
#
# Usage: tests/bench/run.sh [BUILD_DIR]   (default: build)
# Environment: BENCH_SECONDS (5) and BENCH_WARMUP (2) per run, BENCH_ROUNDS (3),
# BENCH_CONCURRENCY ("1 16 64"), BENCH_SCENARIOS ("grpc http gateway sdk"), BENCH_GATEWAY_ARGS
# (extra gateway flags, for diagnosis), BENCH_JSON (also write every run of every round there).
set -euo pipefail
build_dir="${1:-build}"
source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
jobs="$(nproc)"

if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  echo "bench: $build_dir is not a configured build directory (run make build first)" >&2
  exit 2
fi
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build_dir/CMakeCache.txt")
if [ "$build_type" != "Release" ]; then
  echo "bench: note: $build_dir is a '$build_type' build, not Release; figures will be off" >&2
fi
cmake --build "$build_dir" -j"$jobs" --target otaverify-gateway aliyun-iot-emulator \
  otaverify-load bench_direct_transport >/dev/null

command -v node >/dev/null && command -v npm >/dev/null || {
  echo "bench: node and npm are required for the official SDK anchor" >&2
  exit 2
}
# The same pinned SDK as the interop tests, installed once per lock file.
bench_dir="$build_dir/bench"
mkdir -p "$bench_dir"
if ! cmp -s "$source_dir/tests/interop/package-lock.json" "$bench_dir/package-lock.json" ||
   [ ! -d "$bench_dir/node_modules/@alicloud/iot20180120" ]; then
  cp "$source_dir/tests/interop/package.json" "$source_dir/tests/interop/package-lock.json" \
    "$bench_dir/"
  (cd "$bench_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

exec env NODE_PATH="$(cd "$bench_dir" && pwd)/node_modules" \
  node "$source_dir/tests/bench/run.js" --build_dir "$(cd "$build_dir" && pwd)" \
  --source_dir "$source_dir"
