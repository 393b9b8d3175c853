#!/usr/bin/env bash
# tests/run.sh — installs what is missing, builds, runs every test, and ends
# with one line "N passed, N failed" counted from meson's testlog.json:
#   passed: OK, EXPECTEDFAIL (meson's own successes)
#   failed: FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS
#   SKIP (exit 77: no root, no BPF) is listed on the line before.
# A failed setup or build counts as one failed test, so the last line is
# always there. Exit status: 0 when nothing failed, 1 otherwise.
#
# Environment:
#   VDM_BUILD_DIR=DIR      build directory (default build/)
#   VDM_FRESH_BUILD=1      delete the build directory first (CI does)
#   VDROPMON_REQUIRE_BPF=1 tests that need eBPF fail instead of skipping
#   VDM_SKIP_DEPS=1        do not run .ci/install-deps
#   VDM_TEST_ARGS="..."    extra arguments for meson test (e.g. --suite unit)
#   VDM_SANITIZERS=1       after the normal suites, also (issue 9, CI does):
#                          the ASan+UBSan build (build-asan/) running the
#                          unit, element, kernel and stress suites, and the
#                          libFuzzer targets (tests/fuzz/run.sh, build-fuzz/);
#                          their tests are counted in the same last line.
#   VDM_ASAN_BUILD_DIR=DIR VDM_FUZZ_BUILD_DIR=DIR  their build directories
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${VDM_BUILD_DIR:-$root/build}
testlog=$build/meson-logs/testlog.json
asan_build=${VDM_ASAN_BUILD_DIR:-$root/build-asan}
fuzz_build=${VDM_FUZZ_BUILD_DIR:-$root/build-fuzz}
# Suites worth a sanitizer: everything in-process that the element and the
# core run through. Not e2e/leadtime/servers (separate processes, minutes).
asan_suites=(unit element kernel stress)

note() {
	echo "tests/run.sh: $*" >&2
}

# The contract with CI: this is always the last line printed.
finish() {
	local passed=$1 failed=$2
	echo "$passed passed, $failed failed"
	((failed == 0))
	exit $?
}

prepare() {
	if [[ ${VDM_SKIP_DEPS:-0} != 1 ]]; then
		"$root/.ci/install-deps" || { note "installing dependencies failed"; return 1; }
	fi
	if [[ ${VDM_FRESH_BUILD:-0} == 1 ]]; then
		rm -rf "$build"
	fi
	if [[ ! -f $build/build.ninja ]]; then
		meson setup "$build" "$root" || { note "meson setup failed"; return 1; }
	fi
	ninja -C "$build" || { note "build failed"; return 1; }
}

# Prints "passed failed skipped" for the testlog.json files given (each
# LABEL=FILE; LABEL prefixes the test names, empty for the normal build) and
# the skipped tests' names, one per line.
count_results() {
	python3 - "$@" <<'PY'
import json, sys

passed = failed = 0
skipped = []
for arg in sys.argv[1:]:
    label, path = arg.split("=", 1)
    with open(path, encoding="utf-8") as log:
        for line in log:
            if not line.strip():
                continue
            test = json.loads(line)
            result = test.get("result")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped.append(label + test.get("name", "?"))
            else:  # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, or anything new
                failed += 1
print(passed, failed, len(skipped))
for name in skipped:
    print(name)
PY
}

# The sanitizer runtimes' settings: stop at the first report (UBSan would
# otherwise print and go on). No leak check here: with the registry scanned
# in-process every system plugin (fontconfig, udev, OpenNI2, ...) leaks at
# init, through libraries without frame pointers whose truncated stacks
# cannot be suppressed without hiding our own g_malloc leaks; and gst-check
# forks every test, so each child would report them. The core's leaks are
# checked by the fuzz targets (libFuzzer's -detect_leaks=1).
sanitizer_env() {
	export ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:detect_leaks=0:print_summary=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:print_summary=1
	# The plugin scanner is not instrumented: scan in-process instead.
	export GST_REGISTRY_FORK=no
	# Latency limits are for real builds; ASan is ~3x slower (kernel tests).
	export VDM_KT_TIME_SCALE=3
}

# Builds build-asan/ and runs asan_suites in it. A failed setup or build is
# reported (the caller counts it as one failure when no testlog appears).
run_asan() {
	local -a suites=()
	local suite

	if [[ ${VDM_FRESH_BUILD:-0} == 1 ]]; then
		rm -rf "$asan_build"
	fi
	if [[ ! -f $asan_build/build.ninja ]]; then
		meson setup "$asan_build" "$root" -Db_sanitize=address,undefined -Db_lundef=false ||
			{ note "meson setup of $asan_build failed"; return 1; }
	fi
	ninja -C "$asan_build" || { note "build of $asan_build failed"; return 1; }
	for suite in "${asan_suites[@]}"; do
		suites+=(--suite "$suite")
	done
	(sanitizer_env && meson test -C "$asan_build" --print-errorlogs --timeout-multiplier 3 \
		"${suites[@]}")
}

# Runs one extra stage (asan, fuzz) whose tests land in LOG; appends
# "LABEL=LOG" to the logs array, or counts one failure if it wrote none.
extra_stage() {
	local label=$1 log=$2
	shift 2
	rm -f "$log"
	note "--- ${label%:}: $*"
	"$@" </dev/null || true
	if [[ -s $log ]]; then
		logs+=("$label=$log")
	else
		note "$label wrote no $log"
		stage_failures=$((stage_failures + 1))
	fi
}

main() {
	local rc=0 counts passed failed skipped stage_failures=0
	local -a extra=() logs=()

	cd "$root" || exit 1
	prepare </dev/null || finish 0 1
	rm -f "$testlog"
	read -r -a extra <<<"${VDM_TEST_ARGS:-}"
	meson test -C "$build" --print-errorlogs "${extra[@]}" </dev/null || rc=$?
	if [[ ! -s $testlog ]]; then
		note "meson test wrote no $testlog (exit status $rc)"
		finish 0 1
	fi
	logs=("=$testlog")
	if [[ ${VDM_SANITIZERS:-0} == 1 ]]; then
		extra_stage asan: "$asan_build/meson-logs/testlog.json" run_asan
		extra_stage fuzz: "$fuzz_build/meson-logs/testlog.json" \
			env VDM_FUZZ_BUILD_DIR="$fuzz_build" "$root/tests/fuzz/run.sh"
	fi
	counts=$(count_results "${logs[@]}") || { note "cannot read ${logs[*]}"; finish 0 1; }
	read -r passed failed skipped <<<"$(head -n 1 <<<"$counts")"
	if ((rc != 0 && failed == 0)); then
		note "meson test exited with status $rc but logged no failing test"
		failed=1
	fi
	failed=$((failed + stage_failures))
	if ((skipped > 0)); then
		echo "$skipped skipped: $(tail -n +2 <<<"$counts" | paste -sd, - | sed 's/,/, /g')"
	fi
	finish "$passed" "$failed"
}

main "$@"
