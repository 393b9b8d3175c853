#!/usr/bin/env bash
# rtp-udp.sh — the receiving pipeline of the issue, with vdropmon in front of
# the jitterbuffer, run by gst-launch-1.0 -m (every bus message is printed):
#
#   udpsrc port=5004 buffer-size=16384 caps="application/x-rtp,...H264..."
#     ! vdropmon ! rtpjitterbuffer ! rtph264depay ! h264parse ! avdec_h264 ! fakesink
#
# Listens on 127.0.0.1 unless --address says otherwise (--address 0.0.0.0 is
# the issue's pipeline exactly). Always stops after --duration seconds.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
	cat <<USAGE
Usage: $(basename "$0") [options]
  --port N            UDP port to receive on (default 5004)
  --address ADDR      local address to bind (default $VDM_LOOPBACK)
  --buffer-size B     udpsrc buffer-size, bytes (default 16384, as in the issue)
  --duration S        stop after S seconds, 1..3600 (default 30)
  --set PROP=VALUE    set a vdropmon property, e.g. --set batch-interval=50000000
                      (repeatable)
  --build-dir DIR     where vdropmon was built (default \$VDM_BUILD_DIR or build/)
Prints gst-launch-1.0 -m output; vdropmon messages are the lines with
"vdropmon-drop" and "vdropmon-stats" (docs/messages.md).
USAGE
	exit "$1"
}

port=5004 address=$VDM_LOOPBACK buffer_size=16384 duration=30
props=()
while (($#)); do
	case $1 in
	--port) port=${2-}; shift 2 || usage 2 ;;
	--address) address=${2-}; shift 2 || usage 2 ;;
	--buffer-size) buffer_size=${2-}; shift 2 || usage 2 ;;
	--duration) duration=${2-}; shift 2 || usage 2 ;;
	--set) props+=("${2-}"); shift 2 || usage 2 ;;
	--build-dir) VDM_BUILD_DIR=${2-}; shift 2 || usage 2 ;;
	-h | --help) usage 0 ;;
	*) usage 2 ;;
	esac
done
vdm_uint --port "$port" 1 65535
vdm_uint --buffer-size "$buffer_size" 0 268435456
vdm_uint --duration "$duration" 1 3600
[[ $address =~ ^[0-9a-fA-F.:]+$ ]] || vdm_die "--address must be a numeric address"
vdm_use_plugin

caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"
receiver=
trap 'vdm_stop_jobs ${receiver:+"$receiver"}' EXIT
trap 'exit 130' INT TERM

# -e: on timeout's SIGINT, gst-launch sends EOS, so vdropmon posts the drops
# still being batched before the pipeline stops. stdbuf: line by line even
# into a pipe.
timeout -s INT -k 5 "$duration" stdbuf -oL gst-launch-1.0 -m -e \
	udpsrc address="$address" port="$port" buffer-size="$buffer_size" caps="$caps" \
	! vdropmon "${props[@]}" \
	! rtpjitterbuffer ! rtph264depay ! h264parse ! avdec_h264 ! fakesink &
receiver=$!
rc=0
wait "$receiver" || rc=$?
receiver=
# 124: stopped by the timeout, which is how this script is meant to end.
((rc == 124)) && rc=0
exit "$rc"
