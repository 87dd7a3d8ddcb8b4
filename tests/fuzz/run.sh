#!/usr/bin/env bash
# Runs every fuzz target of a fuzz build for a bounded time and prints a summary table.
#
#   tests/fuzz/run.sh BUILD_DIR [SECONDS] [TARGET...]
#
# Each target starts from a copy of its seed corpus (tests/fuzz/corpus/<target>) in
# BUILD_DIR/fuzz/corpus/<target>, which also keeps what earlier runs found; the source tree is
# never written. Crash inputs go to BUILD_DIR/fuzz/artifacts/<target>/, logs to
# BUILD_DIR/fuzz/logs/<target>.log. Exits non-zero if any target crashed or failed to run.
set -uo pipefail

build_dir=${1:?usage: run.sh BUILD_DIR [SECONDS] [TARGET...]}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
here=$(cd "$(dirname "$0")" && pwd)
work="$build_dir/fuzz"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for dir in "$here"/corpus/*/; do targets+=("$(basename "$dir")"); done
fi

# Leaks are reported per input; halt_on_error keeps a UBSan report a crash.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
rows=()
for target in "${targets[@]}"; do
  binary="$build_dir/tests/fuzz/otaverify_fuzz_$target"
  corpus="$work/corpus/$target"
  artifacts="$work/artifacts/$target"
  log="$work/logs/$target.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  if [ ! -x "$binary" ]; then
    echo "fuzz: $binary is missing (build the otaverify_fuzzers target)" >&2
    rows+=("$target|-|-|-|missing")
    failed=1
    continue
  fi
  cp -r "$here/corpus/$target/." "$corpus/"
  flags=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1
         -artifact_prefix="$artifacts/")
  if [ -f "$here/$target.dict" ]; then flags+=(-dict="$here/$target.dict"); fi
  echo "fuzz: $target for ${seconds}s (log: $log)"
  "$binary" "${flags[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  # libFuzzer's last status line: "#N DONE cov: C ft: F corp: K/S exec/s: E rss: R".
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
  echo "${done_line:-  (no DONE line: see the log)}"
  runs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$done_line")
  speed=$(sed -nE 's/.*exec\/s: ([0-9]+).*/\1/p' <<<"$done_line")
  cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$done_line")
  if [ $rc -eq 0 ]; then
    result=ok
  else
    result="CRASH (rc $rc)"
    failed=1
    grep -E 'ERROR: |runtime error:|property violated|Test unit written' "$log" | head -5 >&2
  fi
  rows+=("$target|${runs:--}|${speed:--}|${cov:--}|$result")
done

echo
printf '%-20s %12s %8s %6s  %s\n' target executions exec/s cov result
for row in "${rows[@]}"; do
  IFS='|' read -r t n s c r <<<"$row"
  printf '%-20s %12s %8s %6s  %s\n' "$t" "$n" "$s" "$c" "$r"
done
exit $failed
