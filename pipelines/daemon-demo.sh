#!/usr/bin/env bash
# pipelines/daemon-demo.sh — the collector daemon in 15 seconds: starts a
# local vdropmond (root) on a private socket, runs the demo's receiving
# pipeline as the unprivileged user `nobody` with no capability at all
# (collector=daemon), overflows its socket with a burst, and prints
# vdropmon's messages, `vdropmond --status`, and the kernel's own counter.
# Loopback only; everything stops on exit. Run as root from the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
port=${PORT:-5004}
[ -x "$build/daemon/vdropmond" ] || { .ci/install-deps && { [ -d "$build" ] || meson setup "$build"; } && ninja -C "$build"; }
work=$(mktemp -d /tmp/vdm-daemon-demo-XXXXXX)
chmod 777 "$work"
sock=$work/vdropmond.sock
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$build"/daemon/vdropmond --socket "$sock" --socket-mode 0666 2>"$work"/daemon.log &
pids+=($!)
until "$build"/daemon/vdropmond --status --socket "$sock" >/dev/null 2>&1; do sleep 0.1; done
echo "daemon-demo: vdropmond (root) serves $sock"

echo "daemon-demo: pipeline as nobody, no capabilities, collector=daemon, for 10 s"
setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all \
  --no-new-privs env GST_PLUGIN_PATH="$PWD/$build/plugin" GST_REGISTRY="$work/registry.bin" \
  VDROPMON_DAEMON_SOCKET="$sock" \
  timeout -s INT 10 gst-launch-1.0 -e -m udpsrc address=127.0.0.1 port="$port" buffer-size=16384 \
  caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96" \
  ! vdropmon collector=daemon ! fakesink >"$work"/pipeline.log 2>&1 &
pids+=($!)
gst=$!
sleep 3
echo "daemon-demo: 3000-packet burst to 127.0.0.1:$port"
"$build"/tests/tools/vdm-rtp-sender --dest 127.0.0.1:"$port" --count 3000 --duration-ms 3000 >/dev/null
sleep 0.5
"$build"/daemon/vdropmond --status --socket "$sock"
kernel=$(awk -v p="$(printf ':%04X' "$port")" 'index($2, p) {print $NF}' /proc/net/udp)
wait "$gst" || true
grep -o 'vdropmon-\(drop\|warning\|stats\).*' "$work"/pipeline.log | cut -c1-220 | head -12
echo "daemon-demo: drop messages: $(grep -c 'vdropmon-drop' "$work"/pipeline.log || true)," \
  "kernel-drops in the last stats: $(grep -o 'kernel-drops=(guint64)[0-9]*' "$work"/pipeline.log | tail -1 | cut -d')' -f2)"
echo "daemon-demo: the kernel's own drop counter of that socket (/proc/net/udp): ${kernel:-?}"
echo "daemon-demo: daemon log:"; cat "$work"/daemon.log
