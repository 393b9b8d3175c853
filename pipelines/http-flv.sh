#!/usr/bin/env bash
# http-flv.sh — an HTTP-FLV receiver with vdropmon where docs/pipelines.md
# puts it, after the demuxer (there the video has timestamps, so vdropmon
# measures the runway: media arriving later and later than its PTS):
#
#   souphttpsrc location=http://127.0.0.1:PORT/live.flv is-live=true
#     ! flvdemux name=d  d.video ! vdropmon playout-buffer=2000000000 ! queue
#     ! h264parse ! avdec_h264 ! fakesink
#
# against the project's own test server (tests/servers/vdm-flv-server),
# started here on 127.0.0.1 with a free port. vdropmon finds the HTTP
# connection through flvdemux and watches its TCP flow. Runs
# gst-launch-1.0 -m, so every bus message is printed; vdropmon's are the
# lines with "vdropmon-drop", "vdropmon-warning", "vdropmon-clear" and
# "vdropmon-stats" (docs/messages.md). Always stops after --duration
# seconds, and stops the server with it.
#
# Over loopback nothing limits the connection, so a run shows the stats
# (the watched "tcp 127.0.0.1:X->127.0.0.1:PORT" flow, lag, bitrate) and no
# drop; tests/e2e/ runs the same pipeline through a shaped link.
#
# A souphttpsrc pipeline reports almost no latency, so the playout buffer
# the runway is measured against is given explicitly (--playout-buffer).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=test-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/test-server.sh"

usage() {
	cat <<USAGE
Usage: $(basename "$0") [options]
  --duration S          stop after S seconds, 1..3600 (default 30)
  --playout-buffer MS   vdropmon playout-buffer, ms (default 2000)
  --bitrate KBPS        server's H.264 bitrate (default 2000)
  --pattern NAME        server's videotestsrc pattern (default ball)
  --set PROP=VALUE      set a vdropmon property, e.g. --set runway-threshold=3000000000
                        (repeatable)
  --build-dir DIR       where vdropmon and the servers were built
                        (default \$VDM_BUILD_DIR or build/)
USAGE
	exit "$1"
}

duration=30 playout_ms=2000 bitrate=2000 pattern=ball
props=()
while (($#)); do
	case $1 in
	--duration) duration=${2-}; shift 2 || usage 2 ;;
	--playout-buffer) playout_ms=${2-}; shift 2 || usage 2 ;;
	--bitrate) bitrate=${2-}; shift 2 || usage 2 ;;
	--pattern) pattern=${2-}; shift 2 || usage 2 ;;
	--set) props+=("${2-}"); shift 2 || usage 2 ;;
	--build-dir) VDM_BUILD_DIR=${2-}; shift 2 || usage 2 ;;
	-h | --help) usage 0 ;;
	*) usage 2 ;;
	esac
done
vdm_uint --duration "$duration" 1 3600
vdm_uint --playout-buffer "$playout_ms" 0 600000
vdm_uint --bitrate "$bitrate" 16 200000
[[ $pattern =~ ^[a-z0-9-]+$ ]] || vdm_die "--pattern must be a videotestsrc pattern name"
vdm_use_plugin

# The server exits on its own a little after the receiver at the latest.
vdm_start_test_server vdm-flv-server HTTP-FLV "$pattern" "$bitrate" $((duration + 10))
echo "$(basename "$0"): server ready at $url, receiving for ${duration}s" >&2

# -e: on timeout's SIGINT, gst-launch sends EOS, so vdropmon posts what it
# still holds before the pipeline stops. stdbuf: line by line into a pipe.
timeout -s INT -k 5 "$duration" stdbuf -oL gst-launch-1.0 -m -e \
	souphttpsrc location="$url" is-live=true \
	! flvdemux name=d d.video \
	! vdropmon playout-buffer=$((playout_ms * 1000000)) "${props[@]}" \
	! queue ! h264parse ! avdec_h264 ! fakesink &
receiver=$!
vdm_wait_receiver
