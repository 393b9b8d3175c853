#!/usr/bin/env bash
# demo.sh — vdropmon live, in about 15 seconds, on a fresh Debian 12 machine
# (run as root so the eBPF collector can load):
#
#   1. installs what is missing (.ci/install-deps) and builds into build/;
#   2. starts the issue's receiving pipeline (rtp-udp.sh: udpsrc with a 16 KB
#      buffer ! vdropmon ! rtpjitterbuffer ! ... ! avdec_h264) for 15 s;
#   3. at 1 s, a real 720p H.264 stream (send-h264.sh) — its keyframes
#      overflow the small buffer now and then;
#   4. at 7 s, a 3000-packet burst (send-burst.sh) that overflows it for sure;
#   5. prints only the vdropmon messages as they come, then a summary that
#      compares them with the kernel's own per-socket drop counter.
#
# Everything goes to 127.0.0.1. Every child is bounded in time and stopped
# on exit. Set VDM_BUILD_DIR to build elsewhere, VDM_DEMO_PORT for another
# port (default 5004).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

readonly here=$VDM_ROOT/pipelines
readonly port=${VDM_DEMO_PORT:-5004}
readonly receive_seconds=15
vdm_uint VDM_DEMO_PORT "$port" 1 65535

log_dir=$VDM_BUILD_DIR/demo
jobs_started=()
trap 'vdm_stop_jobs ${jobs_started[@]+"${jobs_started[@]}"}' EXIT
trap 'exit 130' INT TERM

say() {
	echo "demo: $*"
}

prepare() {
	if ((EUID != 0)); then
		say "not root: installing packages may fail, and the eBPF collector will not load"
		say "(the element then warns once and reports RTP sequence gaps instead)"
	fi
	"$VDM_ROOT/.ci/install-deps"
	if [[ ! -f $VDM_BUILD_DIR/build.ninja ]]; then
		meson setup "$VDM_BUILD_DIR" "$VDM_ROOT" >"$VDM_ROOT/.demo-setup.log" 2>&1 ||
			{ cat "$VDM_ROOT/.demo-setup.log" >&2; rm -f "$VDM_ROOT/.demo-setup.log"; vdm_die "meson setup failed"; }
		rm -f "$VDM_ROOT/.demo-setup.log"
	fi
	ninja -C "$VDM_BUILD_DIR" >/dev/null || vdm_die "build failed (run: ninja -C $VDM_BUILD_DIR)"
	mkdir -p "$log_dir"
}

# Keeps vdropmon's own messages from the gst-launch -m output: its element
# messages without the "Got message #N from element ..." prefix, and the
# GStreamer warning (with its reason) when eBPF is unavailable.
show_vdropmon_lines() {
	awk '
		/\(element\): vdropmon-(drop|warning|clear|stats),/ {
			sub(/^Got message #[0-9]+ from element "[^"]*" \(element\): /, "")
			print; fflush(); next
		}
		/^(WARNING|ERROR): from element .*[Vv]dropmon/ { print; context = 3; fflush(); next }
		context > 0 && !/^Got message/ { print; context--; fflush() }
	'
}

# Runs CMD after DELAY seconds, in the background, remembered for cleanup.
start_later() {
	local delay=$1
	shift
	(sleep "$delay" && exec "$@") &
	jobs_started+=("$!")
}

report_proc_drops() {
	local drops
	if drops=$("$VDM_BUILD_DIR/tests/tools/vdm-udp-drops" "$port" 2>/dev/null); then
		echo "$drops" | awk '{ s += $2 } END { print s + 0 }' >"$log_dir/proc-drops"
	fi
}

summarize() {
	local log=$1 proc="?"
	[[ -s $log_dir/proc-drops ]] && proc=$(cat "$log_dir/proc-drops")
	awk -v proc="$proc" '
		/\(element\): vdropmon-drop,/ {
			messages++
			n = $0; sub(/.*[ ,]count=\(uint\)/, "", n); sub(/[^0-9].*/, "", n)
			r = $0; sub(/.*[ ,]reason=\(string\)/, "", r); sub(/,.*/, "", r)
			s = $0; sub(/.*[ ,]source=\(string\)/, "", s); sub(/,.*/, "", s)
			key = s " " r; packets[key] += n
		}
		/\(element\): vdropmon-warning,/ { warnings++ }
		/\(element\): vdropmon-stats,/ {
			k = $0; sub(/.*kernel-drops=\(guint64\)/, "", k); sub(/[^0-9].*/, "", k)
			c = $0; sub(/.*collector-status=\(string\)/, "", c); sub(/, kernel-drops=.*/, "", c)
			kernel = k; status = c
		}
		END {
			printf "demo: %d vdropmon-drop messages", messages
			for (key in packets) printf ", %s: %d packets", key, packets[key]
			printf "\n"
			printf "demo: %d vdropmon-warning messages\n", warnings
			printf "demo: collector-status %s; kernel-drops in the last vdropmon-stats: %s\n", status, kernel
			printf "demo: the kernel'"'"'s own drop counter of that socket (/proc/net/udp): %s\n", proc
			exit messages > 0 ? 0 : 1
		}' "$log"
}

main() {
	local log
	prepare
	log=$log_dir/receiver.log
	rm -f "$log_dir/proc-drops"
	say "receiving on $VDM_LOOPBACK:$port for ${receive_seconds}s: udpsrc buffer-size=16384 ! vdropmon ! rtpjitterbuffer ! rtph264depay ! h264parse ! avdec_h264 ! fakesink"
	say "1 s: H.264 720p stream starts (send-h264.sh); 7 s: 3000-packet burst (send-burst.sh)"
	say "full gst-launch output: $log"
	start_later 1 "$here/send-h264.sh" --port "$port" --duration 12 >"$log_dir/send-h264.log" 2>&1
	start_later 7 "$here/send-burst.sh" --port "$port" >"$log_dir/send-burst.log" 2>&1
	# After both senders are done, before the receiver closes its socket.
	(sleep 14 && report_proc_drops) &
	jobs_started+=("$!")

	"$here/rtp-udp.sh" --port "$port" --duration "$receive_seconds" 2>&1 |
		tee "$log" | show_vdropmon_lines
	summarize "$log" || {
		say "no vdropmon-drop message was posted; see $log"
		exit 1
	}
}

main "$@"
