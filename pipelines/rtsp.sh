#!/usr/bin/env bash
# rtsp.sh — an RTSP receiver with vdropmon where docs/pipelines.md puts it,
# right after rtspsrc (it still sees RTP there, and finds the udpsrc
# elements rtspsrc creates inside itself after SETUP):
#
#   rtspsrc location=rtsp://127.0.0.1:PORT/test protocols=udp
#       udp-buffer-size=16384 latency=200
#     ! vdropmon ! rtph264depay ! h264parse ! avdec_h264 ! fakesink
#
# against the project's own test server (tests/servers/vdm-rtsp-server),
# started here on 127.0.0.1 with a free port. --tcp asks for RTP interleaved
# in the RTSP TCP connection instead (protocols=tcp): vdropmon then watches
# that connection. Runs gst-launch-1.0 -m, so every bus message is printed;
# vdropmon's are the lines with "vdropmon-drop", "vdropmon-warning",
# "vdropmon-clear" and "vdropmon-stats" (docs/messages.md). Always stops
# after --duration seconds, and stops the server with it.
#
# The default stream (640x480 "snow" at 4 Mbit/s) has keyframes of ~60
# packets that leave the server as one burst; a 16 KB receive buffer cannot
# hold them, so UDP runs show SOCKET_RCVBUFF drops within seconds. Give
# --udp-buffer-size 4194304 for a clean run.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=test-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/test-server.sh"

usage() {
	cat <<USAGE
Usage: $(basename "$0") [options]
  --tcp                 RTP interleaved in the RTSP connection (protocols=tcp)
  --udp-buffer-size B   rtspsrc udp-buffer-size, bytes (default 16384)
  --latency MS          rtspsrc latency, the jitterbuffer's (default 200)
  --duration S          stop after S seconds, 1..3600 (default 30)
  --bitrate KBPS        server's H.264 bitrate (default 4000)
  --pattern NAME        server's videotestsrc pattern (default snow; "ball"
                        compresses far better: few drops)
  --set PROP=VALUE      set a vdropmon property, e.g. --set request-keyframe=true
                        (repeatable)
  --build-dir DIR       where vdropmon and the servers were built
                        (default \$VDM_BUILD_DIR or build/)
USAGE
	exit "$1"
}

protocols=udp udp_buffer_size=16384 latency=200 duration=30 bitrate=4000 pattern=snow
props=()
while (($#)); do
	case $1 in
	--tcp) protocols=tcp; shift ;;
	--udp-buffer-size) udp_buffer_size=${2-}; shift 2 || usage 2 ;;
	--latency) latency=${2-}; shift 2 || usage 2 ;;
	--duration) duration=${2-}; shift 2 || usage 2 ;;
	--bitrate) bitrate=${2-}; shift 2 || usage 2 ;;
	--pattern) pattern=${2-}; shift 2 || usage 2 ;;
	--set) props+=("${2-}"); shift 2 || usage 2 ;;
	--build-dir) VDM_BUILD_DIR=${2-}; shift 2 || usage 2 ;;
	-h | --help) usage 0 ;;
	*) usage 2 ;;
	esac
done
vdm_uint --udp-buffer-size "$udp_buffer_size" 0 268435456
vdm_uint --latency "$latency" 0 60000
vdm_uint --duration "$duration" 1 3600
vdm_uint --bitrate "$bitrate" 16 200000
[[ $pattern =~ ^[a-z0-9-]+$ ]] || vdm_die "--pattern must be a videotestsrc pattern name"
vdm_use_plugin

# The server exits on its own a little after the receiver at the latest.
vdm_start_test_server vdm-rtsp-server RTSP "$pattern" "$bitrate" $((duration + 10))
echo "$(basename "$0"): server ready at $url, receiving over $protocols for ${duration}s" >&2

# -e: on timeout's SIGINT, gst-launch sends EOS, so vdropmon posts the drops
# still being batched before the pipeline stops. stdbuf: line by line even
# into a pipe.
timeout -s INT -k 5 "$duration" stdbuf -oL gst-launch-1.0 -m -e \
	rtspsrc location="$url" protocols="$protocols" \
	udp-buffer-size="$udp_buffer_size" latency="$latency" \
	! vdropmon "${props[@]}" \
	! rtph264depay ! h264parse ! avdec_h264 ! fakesink &
receiver=$!
vdm_wait_receiver
