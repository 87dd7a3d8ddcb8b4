#!/usr/bin/env bash
# Runs the unit and integration suites of a sanitizer build and fails on a failed test or on
# any sanitizer report.
#
#   tests/sanitizers/run.sh BUILD_DIR address|thread [ctest args...]
#
# Every process -- the test binaries and the gateway, emulator, CLI and load generator they
# start, all from BUILD_DIR -- writes its reports to BUILD_DIR/sanitizer-logs/<tool>.<pid>
# (log_path) instead of stderr, so a report in a child process whose output no test looks at
# still fails the run. The folder is emptied first; the reports are printed at the end.
set -uo pipefail

build_dir=${1:?usage: run.sh BUILD_DIR address|thread [ctest args...]}
mode=${2:?usage: run.sh BUILD_DIR address|thread [ctest args...]}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
build_dir=$(cd "$build_dir" && pwd)
logs="$build_dir/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"

case "$mode" in
  address)
    # halt_on_error: the first report ends the process (UBSan's too: the build also has
    # -fno-sanitize-recover=undefined). LSan runs at every normal exit.
    export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=0:log_path=$logs/asan"
    export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"
    ;;
  thread)
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$here/tsan.supp:print_suppressions=0:log_path=$logs/tsan"
    ;;
  *)
    echo "run.sh: mode must be address or thread" >&2
    exit 2
    ;;
esac
# Lets a test whose assertion is a rate per second step aside (tests/sanitizers/README.md).
export OTAVERIFY_SANITIZER="$mode"

start=$(date +%s)
(cd "$build_dir" && ctest --output-on-failure -L '^(unit|integration)$' -j"${JOBS:-2}" "$@")
ctest_status=$?
echo "sanitizers: ctest took $(( $(date +%s) - start )) s, exit status $ctest_status"

reports=$(find "$logs" -type f -size +0 | sort)
if [ -n "$reports" ]; then
  echo "sanitizers: $(echo "$reports" | wc -l) report file(s) in $logs:"
  for report in $reports; do
    echo "==== $report"
    cat "$report"
  done
  exit 1
fi
echo "sanitizers: no $mode reports"
exit "$ctest_status"
