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
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${VDM_BUILD_DIR:-$root/build}
testlog=$build/meson-logs/testlog.json

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

# Prints "passed failed skipped" and the skipped tests' names, one per line.
count_results() {
	python3 - "$testlog" <<'PY'
import json, sys

passed = failed = 0
skipped = []
with open(sys.argv[1], encoding="utf-8") as log:
    for line in log:
        if not line.strip():
            continue
        test = json.loads(line)
        result = test.get("result")
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped.append(test.get("name", "?"))
        else:  # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, or anything new
            failed += 1
print(passed, failed, len(skipped))
for name in skipped:
    print(name)
PY
}

main() {
	local rc=0 counts passed failed skipped
	local -a extra=()

	cd "$root" || exit 1
	prepare </dev/null || finish 0 1
	rm -f "$testlog"
	read -r -a extra <<<"${VDM_TEST_ARGS:-}"
	meson test -C "$build" --print-errorlogs "${extra[@]}" </dev/null || rc=$?
	if [[ ! -s $testlog ]]; then
		note "meson test wrote no $testlog (exit status $rc)"
		finish 0 1
	fi
	counts=$(count_results) || { note "cannot read $testlog"; finish 0 1; }
	read -r passed failed skipped <<<"$(head -n 1 <<<"$counts")"
	if ((rc != 0 && failed == 0)); then
		note "meson test exited with status $rc but logged no failing test"
		failed=1
	fi
	if ((skipped > 0)); then
		echo "$skipped skipped: $(tail -n +2 <<<"$counts" | paste -sd, - | sed 's/,/, /g')"
	fi
	finish "$passed" "$failed"
}

main "$@"
