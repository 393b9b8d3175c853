#!/usr/bin/env bash
# tests/fuzz/run.sh — builds the libFuzzer targets in their own clang build
# directory (build-fuzz/: -Dfuzzing=true, ASan + UBSan; the normal gcc
# build is not touched) and runs each one for a bounded time from its
# committed corpus, as meson tests of suite "fuzz". Fails on any crash,
# sanitizer report, leak or timeout; the input that did it is left in
# build-fuzz/tests/fuzz/<target>/crash-* (rerun: FUZZER that-file).
#
# Environment:
#   VDM_FUZZ_BUILD_DIR=DIR  build directory (default build-fuzz/)
#   VDM_FUZZ_SECONDS=N      time per target (default 60)
#   VDM_FRESH_BUILD=1       delete the build directory first
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${VDM_FUZZ_BUILD_DIR:-$root/build-fuzz}
export VDM_FUZZ_SECONDS=${VDM_FUZZ_SECONDS:-60}

if [[ ${VDM_FRESH_BUILD:-0} == 1 ]]; then
	rm -rf "$build"
fi
if [[ ! -f $build/build.ninja ]]; then
	CC=clang meson setup "$build" "$root" -Dfuzzing=true -Dbpf=disabled \
		-Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C "$build"
# One target per core: they are independent.
meson test -C "$build" --suite fuzz --print-errorlogs --num-processes 2
