#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang in their own build dir
# and runs each for a bounded time from its seed corpus. Fails when a fuzzer
# finds a crash, a sanitizer report, a leak or a timeout; the input that
# caused it is left in the work dir and named in the log.
#
#   scripts/fuzz.sh [TARGET...]   default: every target (fuzz-codec, fuzz-scram, fuzz-startup)
#
# Environment:
#   PGGAT_FUZZ_SECONDS   seconds per target (default 10: CI keeps under 30 min; run longer by hand)
#   PGGAT_FUZZ_BUILD     build dir (default build-fuzz)
#   PGGAT_FUZZ_WORK      where new corpus entries and crash inputs go
#                        (default a fresh temporary dir, kept on failure)
#   PGGAT_FUZZ_JOBS      compile jobs (default 2)
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
readonly BUILD_DIR=${PGGAT_FUZZ_BUILD:-$REPO_ROOT/build-fuzz}
readonly SECONDS_PER_TARGET=${PGGAT_FUZZ_SECONDS:-10}
readonly ALL_TARGETS=(fuzz-codec fuzz-scram fuzz-startup)

log() { echo "fuzz: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

command -v clang++ >/dev/null || die "clang++ not found (Debian: apt-get install clang)"

if [[ ! -f "$BUILD_DIR/meson-private/coredata.dat" ]]; then
  log "configuring $BUILD_DIR (clang++, -Dfuzzers=true)"
  # Only the fuzzers are built here; the shared library is not, and its
  # --no-undefined check cannot pass with ASan (the runtime comes with executables).
  CXX=clang++ meson setup "$BUILD_DIR" "$REPO_ROOT" -Dfuzzers=true -Dtests=false \
    -Dexamples=false -Db_lundef=false >/dev/null
fi
log "building the fuzzers (meson compile -C $BUILD_DIR fuzzers)"
meson compile -C "$BUILD_DIR" -j "${PGGAT_FUZZ_JOBS:-2}" fuzzers

targets=("$@")
((${#targets[@]} > 0)) || targets=("${ALL_TARGETS[@]}")

WORK=${PGGAT_FUZZ_WORK:-}
KEEP_WORK=false
if [[ -z "$WORK" ]]; then
  WORK=$(mktemp -d /tmp/pggat-fuzz.XXXXXX)
else
  mkdir -p "$WORK"
  KEEP_WORK=true
fi

# LeakSanitizer too: a fuzz input must not leak either.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for target in "${targets[@]}"; do
  binary="$BUILD_DIR/tests/fuzz/$target"
  seeds="$REPO_ROOT/tests/fuzz/corpus/$target"
  [[ -x "$binary" ]] || die "no such fuzzer: $target ($binary)"
  [[ -d "$seeds" ]] || die "no seed corpus for $target ($seeds)"
  mkdir -p "$WORK/$target/corpus"
  log "running $target for ${SECONDS_PER_TARGET}s (seeds: tests/fuzz/corpus/$target)"
  status=0
  # New inputs go to the work corpus; the seed dir is only read.
  "$binary" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$WORK/$target/" \
    "$WORK/$target/corpus" "$seeds" >"$WORK/$target/log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$target/log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$WORK/$target/log")
  cov=$(grep -o 'cov: [0-9]*' "$WORK/$target/log" | tail -n 1 || true)
  if ((status != 0)); then
    log "$target FAILED (status $status); last lines of $WORK/$target/log:"
    tail -n 40 "$WORK/$target/log" | sed 's/^/  | /' >&2
    failed+=("$target")
  else
    log "$target: ${execs:-?} runs (${rate:-?}/s), ${cov:-cov: ?}, no crash"
  fi
done

if ((${#failed[@]} > 0)); then
  log "crashes in: ${failed[*]}; inputs and logs kept in $WORK"
  exit 1
fi
$KEEP_WORK || rm -rf -- "$WORK"
log "all fuzzers ran clean"
