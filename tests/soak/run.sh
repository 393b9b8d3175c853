#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Soak run (issue 9 part 7; NOT in CI): parallel RTP/UDP streams through
# vdropmon for a bounded time, clean and benign, counting crashes and false
# warnings per stream-hour.
#
#   tests/soak/run.sh BUILD_DIR OUT_DIR [MINUTES] [STREAMS_PER_GROUP]
#
# Two groups of streams, each in a private network namespace of its own
# (unshare -n: nobody else's ports, loopback only, gone when the run ends):
#   clean:  nothing between sender and receiver;
#   benign: loopback through a token bucket (tbf; netem is not available
#           on this kernel) whose rate changes every 60 s between 10 and 100
#           Mbit/s, always above the streams' total bitrate (about 7 Mbit/s),
#           with a one-packet burst and a 300 ms queue: packets wait for
#           each other's tokens (jitter), none is lost.
# Each stream: vdm-rtp-sender (synthetic H.264, 120 packets/s × 1200 B,
# about 1.2 Mbit/s) → udpsrc ! vdropmon collector=embedded ! fakesink.
# A warning on these streams is false; so is any drop (nothing is lost).
# Crash: a receiver that did not end with the run (signal, abort, error).
# Root (eBPF), bounded: every process runs under `timeout`. Run it at nice 10.
# The senders stand for cameras on other machines, which this host's load
# cannot delay: they run at a real-time priority (SCHED_FIFO 10; set
# VDM_SOAK_SENDER_RT=0 to run them like the receivers). Otherwise a sender
# starved by unrelated builds is a real silence on the wire, which the stall
# detector rightly reports, and the run measures the host, not the detector.
# The 1-minute load average is sampled every 10 s into OUT/load.txt.
set -eu
BUILD=$(cd "$1" && pwd)
OUT=$2
MIN=${3:-15}
N=${4:-6}
SECS=${VDM_SOAK_SECS:-$((MIN * 60))}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SENDER="$BUILD/tests/tools/vdm-rtp-sender"
CAPS="application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"
export GST_PLUGIN_PATH="$BUILD/plugin"
export GST_REGISTRY="$OUT/registry.bin"
RT="chrt -f 10"
[ "${VDM_SOAK_SENDER_RT:-1}" = 1 ] || RT=

group () {   # group NAME: runs inside its own namespace
  name=$1
  ip link set lo up
  if [ "$name" = benign ]; then
    tc qdisc add dev lo root tbf rate 100mbit burst 1600 latency 300ms
    ( i=0; end=$(( $(date +%s) + SECS )); while [ "$(date +%s)" -lt "$end" ]; do
        sleep 10; i=$((i + 1))
        [ $((i % 6)) = 0 ] || continue
        if [ $((i % 2)) = 1 ]; then r=10mbit; else r=100mbit; fi
        tc qdisc change dev lo root tbf rate $r burst 1600 latency 300ms || true
      done ) &
  fi
  s=0
  while [ $s -lt "$N" ]; do
    port=$((46000 + s * 2))
    log="$OUT/$name-$s"
    # the receivers stop first: a sender that stops is a real outage
    ( rc=0; timeout -s INT "$SECS" gst-launch-1.0 -e -m \
        udpsrc port=$port buffer-size=2097152 caps="$CAPS" ! \
        vdropmon collector=embedded ! fakesink sync=false > "$log.out" 2> "$log.err" || rc=$?
      echo $rc > "$log.rc" ) &
    s=$((s + 1))
  done
  sleep 3
  s=0
  while [ $s -lt "$N" ]; do
    port=$((46000 + s * 2))
    $RT timeout $((SECS + 10)) "$SENDER" --dest 127.0.0.1:$port --rate 120 \
        --count $((SECS * 120)) --duration-ms $((SECS * 1000 + 5000)) \
        --ssrc $((0x1000 + s)) > "$OUT/$name-$s.sender" 2>&1 &
    s=$((s + 1))
  done
  wait
}

if [ "${VDM_SOAK_GROUP:-}" ]; then
  group "$VDM_SOAK_GROUP"
  exit 0
fi
gst-inspect-1.0 vdropmon > /dev/null   # the registry, before the clock starts
start=$(date +%s)
( while [ "$(date +%s)" -lt $((start + SECS + 5)) ]; do
    printf '%s %s\n' "$(date -u +%T)" "$(cut -d' ' -f1 /proc/loadavg)"; sleep 10
  done ) > "$OUT/load.txt" &
for g in clean benign; do
  VDM_SOAK_GROUP=$g unshare -n "$0" "$BUILD" "$OUT" "$MIN" "$N" &
done
wait
end=$(date +%s)

# The figures.
total_warn=0; total_drops=0; crashes=0; streams=0
for f in "$OUT"/*.rc; do
  b=${f%.rc}
  streams=$((streams + 1))
  rc=$(cat "$f")
  w=$(grep -c 'vdropmon-warning' "$b.out" || true)
  wn=$(grep -c 'vdropmon-warning, [^;]*cause=(string)network' "$b.out" || true)
  wh=$(grep -c 'vdropmon-warning, [^;]*cause=(string)host' "$b.out" || true)
  d=$(grep -o 'vdropmon-drop, [^;]*count=(uint)[0-9]*' "$b.out" | sed 's/.*count=(uint)//' \
      | awk '{s+=$1} END {print s+0}')
  emb=$(grep -c 'collector=(string)embedded' "$b.out" || true)
  bad=$(grep -cE 'Segmentation|Aborted|CRITICAL|ERROR' "$b.err" || true)
  # silences at the reader that the kernel's receive queue explained (no warning)
  rs=$(grep -o 'reader-stalls=(guint64)[0-9]*' "$b.out" | tail -n 1 | sed 's/.*)//')
  # 0: clean exit after -e/SIGINT; 124: timeout's own status for the same
  case "$rc" in 0|124) [ "$bad" = 0 ] || crashes=$((crashes + 1)) ;; *) crashes=$((crashes + 1)) ;; esac
  printf '%s rc=%s warnings=%s drops=%s stats-with-embedded=%s stderr-errors=%s reader-stalls=%s network=%s host=%s\n' \
      "$(basename "$b")" "$rc" "$w" "$d" "$emb" "$bad" "${rs:-0}" "$wn" "$wh"
  total_warn=$((total_warn + w)); total_drops=$((total_drops + d))
done | tee "$OUT/per-stream.txt"
# stream time: each receiver's run less the 3 s before its sender starts
awk -v wall=$((end - start)) -v secs=$((SECS - 3)) -v n="$(ls "$OUT"/*.rc | wc -l)" '
  { split($3, w, "="); split($4, d, "="); split($2, r, "="); split($7, s, "=");
    split($8, wn, "="); split($9, wh, "=");
    W += w[2]; D += d[2]; S += s[2]; WN += wn[2]; WH += wh[2]; if ((r[2] != 0 && r[2] != 124) || $6 != "stderr-errors=0") C++ }
  END { h = n * secs / 3600.0;
        printf "streams %d, wall %d s, stream-hours %.2f, crashes %d, warnings %d (%.2f per stream-hour; network %d, host %d), drops %d, reader stalls %d (%.2f per stream-hour, not warned)\n",
               n, wall, h, C + 0, W, (h ? W / h : 0), WN, WH, D, S, (h ? S / h : 0) }' "$OUT/per-stream.txt" | tee "$OUT/summary.txt"
