#!/usr/bin/env bash
# fuzz_one.sh FUZZER CORPUS WORKDIR — runs one libFuzzer target for
# $VDM_FUZZ_SECONDS (default 60) from the committed CORPUS (read only: new
# inputs go to WORKDIR/new, crashes to WORKDIR/crash-*). Exit status:
# libFuzzer's, non-zero on a crash, sanitizer report, leak or timeout.
set -euo pipefail
fuzzer=$1 corpus=$2 work=$3
seconds=${VDM_FUZZ_SECONDS:-60}

[[ -d $corpus ]] || { echo "fuzz_one.sh: no corpus $corpus" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work/new"
# halt_on_error: the first UBSan report is a failure, as ASan's is.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
	-print_final_stats=1 -artifact_prefix="$work/" "$work/new" "$corpus"
