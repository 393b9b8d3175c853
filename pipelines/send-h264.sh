#!/usr/bin/env bash
# send-h264.sh — a real, live H.264 RTP stream to 127.0.0.1 for a given
# time: videotestsrc ! x264enc tune=zerolatency ! rtph264pay ! udpsink.
#
# Keyframes are much larger than the other frames and leave the sender as
# one burst of packets: with the issue's 16 KB receive buffer they are what
# gets dropped first. Raise --bitrate or the size to drop more.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
	cat <<USAGE
Usage: $(basename "$0") [options]
  --port N          destination UDP port on $VDM_LOOPBACK (default 5004)
  --duration S      seconds of video to send, 1..3600 (default 10)
  --width W         (default 1280)      --height H   (default 720)
  --fps F           (default 30)        --bitrate K  kbit/s (default 2500)
  --key-int N       frames between keyframes (default 60)
  --pattern NAME    videotestsrc pattern (default smpte; "ball" is lighter)
USAGE
	exit "$1"
}

port=5004 duration=10 width=1280 height=720 fps=30 bitrate=2500 key_int=60 pattern=smpte
while (($#)); do
	case $1 in
	--port) port=${2-}; shift 2 || usage 2 ;;
	--duration) duration=${2-}; shift 2 || usage 2 ;;
	--width) width=${2-}; shift 2 || usage 2 ;;
	--height) height=${2-}; shift 2 || usage 2 ;;
	--fps) fps=${2-}; shift 2 || usage 2 ;;
	--bitrate) bitrate=${2-}; shift 2 || usage 2 ;;
	--key-int) key_int=${2-}; shift 2 || usage 2 ;;
	--pattern) pattern=${2-}; shift 2 || usage 2 ;;
	-h | --help) usage 0 ;;
	*) usage 2 ;;
	esac
done
vdm_uint --port "$port" 1 65535
vdm_uint --duration "$duration" 1 3600
vdm_uint --width "$width" 16 3840
vdm_uint --height "$height" 16 2160
vdm_uint --fps "$fps" 1 120
vdm_uint --bitrate "$bitrate" 100 100000
vdm_uint --key-int "$key_int" 1 1000
[[ $pattern =~ ^[a-z0-9-]+$ ]] || vdm_die "--pattern must be a videotestsrc pattern name"

sender=
trap 'vdm_stop_jobs ${sender:+"$sender"}' EXIT
trap 'exit 130' INT TERM

# num-buffers ends the stream (EOS) after the duration; the timeout is only
# a safety net, a few seconds later.
timeout -s INT -k 5 $((duration + 5)) gst-launch-1.0 -q \
	videotestsrc is-live=true pattern="$pattern" num-buffers=$((duration * fps)) \
	! "video/x-raw,width=$width,height=$height,framerate=$fps/1" \
	! x264enc tune=zerolatency speed-preset=ultrafast bitrate="$bitrate" key-int-max="$key_int" \
	! rtph264pay config-interval=-1 pt=96 mtu=1400 \
	! udpsink host="$VDM_LOOPBACK" port="$port" &
sender=$!
rc=0
wait "$sender" || rc=$?
sender=
exit "$rc"
