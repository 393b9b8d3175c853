#!/usr/bin/env bash
# send-burst.sh — a short, dense burst of synthetic H.264 RTP packets to
# 127.0.0.1 (tests/tools/vdm-rtp-sender): far more than a 16 KB receive
# buffer can hold, so the kernel drops most of them with SOCKET_RCVBUFF.
# Its own SSRC (default 0x5eed0001) tells its drops apart from a real stream.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
	cat <<USAGE
Usage: $(basename "$0") [options]
  --port N          destination UDP port on $VDM_LOOPBACK (default 5004)
  --count N         packets to send, 1..100000 (default 3000)
  --burst B         packets per burst, 1 ms apart (default 300)
  --ssrc X          RTP SSRC, decimal or 0x hex (default 0x5eed0001)
  --seq-start S     first RTP sequence number (default 20000)
  --build-dir DIR   where vdm-rtp-sender was built (default \$VDM_BUILD_DIR or build/)
USAGE
	exit "$1"
}

port=5004 count=3000 burst=300 ssrc=0x5eed0001 seq_start=20000
while (($#)); do
	case $1 in
	--port) port=${2-}; shift 2 || usage 2 ;;
	--count) count=${2-}; shift 2 || usage 2 ;;
	--burst) burst=${2-}; shift 2 || usage 2 ;;
	--ssrc) ssrc=${2-}; shift 2 || usage 2 ;;
	--seq-start) seq_start=${2-}; shift 2 || usage 2 ;;
	--build-dir) VDM_BUILD_DIR=${2-}; shift 2 || usage 2 ;;
	-h | --help) usage 0 ;;
	*) usage 2 ;;
	esac
done
vdm_uint --port "$port" 1 65535
vdm_uint --count "$count" 1 100000
vdm_uint --burst "$burst" 1 10000
vdm_uint --seq-start "$seq_start" 0 65535
[[ $ssrc =~ ^(0x[0-9a-fA-F]{1,8}|0|[1-9][0-9]{0,9})$ ]] || vdm_die "--ssrc must be a 32-bit number"

tool=$VDM_BUILD_DIR/tests/tools/vdm-rtp-sender
[[ -x $tool ]] || vdm_die "no $tool: build first (meson setup build && ninja -C build)"

sender=
trap 'vdm_stop_jobs ${sender:+"$sender"}' EXIT
trap 'exit 130' INT TERM

# --rate 0: bursts back to back; --duration-ms caps the run whatever happens.
# 10#: the tool reads numbers like strtoull base 0, where 010 is octal.
"$tool" --dest "$VDM_LOOPBACK:$((10#$port))" --count $((10#$count)) --rate 0 \
	--burst $((10#$burst)) --ssrc "$ssrc" --seq-start $((10#$seq_start)) --duration-ms 5000 &
sender=$!
rc=0
wait "$sender" || rc=$?
sender=
exit "$rc"
