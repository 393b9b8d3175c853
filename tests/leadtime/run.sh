#!/usr/bin/env bash
# tests/leadtime/run.sh — the lead-time suite of issue 5: how long before a
# viewer sees a freeze does vdropmon warn, how often, how rarely wrongly,
# against rtpjitterbuffer's num-lost and the W3C freeze counter.
#
# Builds into build/ if needed, then runs every scenario (clean, benign,
# sudden, stall, gradual, congestion, overload; starved on RTSP only) over
# RTSP/UDP and HTTP-FLV at 200 ms and 2000 ms latency, each on its own
# throw-away network namespaces, and prints the tables. 34 runs of under a
# minute each (gradual 3 times).
# Run it alone on the host: vdropmon's flow keys know no namespace.
#
#   tests/leadtime/run.sh                       everything (~25 min)
#   tests/leadtime/run.sh --scenarios sudden --transports rtsp --latencies 200
#   tests/leadtime/run.sh --repeat 3 --seed 7   more runs, other schedules
#   tests/leadtime/run.sh --rescore             score the stored runs again
#
# Results: build/leadtime/results.md (the tables), results.json, and per run
# build/leadtime/runs/<run>/timeline.svg (the picture), record.json (all
# that was measured), score.json, receiver.log, server.log.
# Targets are reported, not asserted: the exit status says only whether
# every run ran (0) or not (1).
#
# Needs root: network namespaces, tc, eBPF, a cgroup for the CPU quota.
# Environment: VDM_BUILD_DIR (default build/).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${VDM_BUILD_DIR:-$root/build}

die() {
	echo "tests/leadtime/run.sh: $*" >&2
	exit 1
}

[[ $EUID -eq 0 ]] || die "needs root (network namespaces, tc, eBPF, cgroups)"
for tool in ip tc meson ninja; do
	command -v "$tool" >/dev/null || die "$tool not found (.ci/install-deps installs it)"
done
# Debian's python3 has PyGObject and the GStreamer bindings; another
# python3 first in PATH (pyenv, a venv) usually has not.
/usr/bin/python3 -c 'import gi; gi.require_version("Gst", "1.0")' 2>/dev/null ||
	die "/usr/bin/python3 cannot import gi with Gst 1.0 (apt-get install python3-gi gir1.2-gstreamer-1.0)"

if [[ ! -f $build/build.ninja ]]; then
	meson setup "$build" "$root" || die "meson setup failed"
fi
ninja -C "$build" || die "build failed"
exec /usr/bin/python3 "$root/tests/leadtime/suite.py" --build-dir "$build" "$@"
