#!/usr/bin/env bash
# tests/daemon/bench.sh BUILD_DIR [CLIENTS] [SOCKETS_PER_CLIENT]
# Scale benchmark of vdropmond (docs/benchmarks.md, "The collector daemon"):
# CLIENTS unprivileged receivers (vdm-daemon-receiver as nobody) with
# SOCKETS_PER_CLIENT watched UDP sockets each, polling like elements do
# (queue fill every 100 ms, counters every second). Measures the daemon's
# RSS per watch, its CPU idle and under a drop flood, and the drop ->
# consumer callback latency through the daemon vs the embedded collector.
# Root; loopback only; every sender bounded; run under the lock:
#   flock /tmp/vdm-root-tests.lock tests/daemon/bench.sh build
set -euo pipefail
build=$(realpath "${1:-build}")
clients=${2:-10}
per_client=${3:-25}
base_port=${VDM_BENCH_PORT:-48000}
work=$(mktemp -d /tmp/vdm-bench-XXXXXX)
chmod 777 "$work"
sock=$work/vdropmond.sock
unpriv=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all
        --no-new-privs)
pids=()
senders=()
cleanup() {
  touch "$work"/stop
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)
cpu_percent() { # pid seconds
  local t0 t1; t0=$(ticks "$1"); sleep "$2"; t1=$(ticks "$1")
  echo "scale=2; 100 * ($t1 - $t0) / $hz / $2" | bc
}

"$build"/daemon/vdropmond --socket "$sock" --socket-mode 0666 2>"$work"/daemon.log &
daemon=$!; pids+=("$daemon")
until "$build"/daemon/vdropmond --status --socket "$sock" >/dev/null 2>&1; do sleep 0.1; done
rss0=$(rss_kib "$daemon")

for ((c = 0; c < clients; c++)); do
  port=$((base_port + c * per_client))
  "${unpriv[@]}" "$build"/tests/daemon/vdm-daemon-receiver --socket "$sock" --port "$port" \
    --sockets "$per_client" --seconds 120 --poll-ms 100 --stop-file "$work"/stop \
    --ready-file "$work"/ready-$c >"$work"/rx-$c.out 2>&1 &
  pids+=($!)
done
for ((c = 0; c < clients; c++)); do
  until [ -e "$work"/ready-$c ]; do sleep 0.1; done
done
watches=$((clients * per_client))
sleep 2
rss1=$(rss_kib "$daemon")
idle=$(cpu_percent "$daemon" 10)
echo "watches=$watches clients=$clients"
echo "daemon RSS: ${rss0} KiB empty, ${rss1} KiB with $watches watches:" \
  "$(echo "scale=2; ($rss1 - $rss0) / $watches" | bc) KiB per watch"
echo "daemon CPU idle (clients polling like elements): ${idle}%"

# Flood: one sender per client, 20,000 packets/s each for 5 s, to sockets
# that are never read (4 KiB buffers): nearly every packet is dropped.
t0=$(ticks "$daemon")
for ((c = 0; c < clients; c++)); do
  "$build"/tests/tools/vdm-rtp-sender --dest 127.0.0.1:$((base_port + c * per_client)) \
    --count 100000 --rate 20000 --size 200 --duration-ms 6000 >/dev/null 2>&1 &
  senders+=($!)
done
wait "${senders[@]}"
t1=$(ticks "$daemon")
echo "daemon CPU under the flood ($((clients * 20000)) packets/s offered):" \
  "$(echo "scale=2; 100 * ($t1 - $t0) / $hz / 5" | bc)%"
touch "$work"/stop
for p in "${pids[@]:1}"; do wait "$p" || true; done
grep -h '^summary' "$work"/rx-*.out | awk '{
  for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2]; if (kv[1] ~ /latency-p/) l[kv[1]] = l[kv[1]] " " kv[2] }
} END {
  printf "through the daemon: %d events, counters %d, kernel %d, events lost %d\n", v["events"], v["counters"], v["kernel"], v["events-lost"]
  printf "drop -> callback latency per client, P50 (us):%s\n", l["latency-p50-us"]
  printf "drop -> callback latency per client, P99 (us):%s\n", l["latency-p99-us"]
}'
kill "$daemon"; wait "$daemon" || true

# The same flood on one socket, embedded collector (root), for the latency.
rm -f "$work"/stop
"$build"/tests/daemon/vdm-daemon-receiver --source embedded --port $((base_port + 2000)) \
  --seconds 60 --stop-file "$work"/stop --ready-file "$work"/ready-e >"$work"/rx-e.out 2>&1 &
e=$!
until [ -e "$work"/ready-e ]; do sleep 0.1; done
"$build"/tests/tools/vdm-rtp-sender --dest 127.0.0.1:$((base_port + 2000)) --count 100000 \
  --rate 20000 --size 200 --duration-ms 6000 >/dev/null 2>&1
touch "$work"/stop; wait "$e" || true
echo "embedded: $(grep '^summary' "$work"/rx-e.out)"

# And through a fresh daemon with a single client, same single flood.
"$build"/daemon/vdropmond --socket "$sock" --socket-mode 0666 2>>"$work"/daemon.log &
daemon=$!; pids+=("$daemon")
until "$build"/daemon/vdropmond --status --socket "$sock" >/dev/null 2>&1; do sleep 0.1; done
rm -f "$work"/stop
"${unpriv[@]}" "$build"/tests/daemon/vdm-daemon-receiver --socket "$sock" \
  --port $((base_port + 2001)) --seconds 60 --stop-file "$work"/stop --ready-file "$work"/ready-d \
  >"$work"/rx-d.out 2>&1 &
d=$!
until [ -e "$work"/ready-d ]; do sleep 0.1; done
"$build"/tests/tools/vdm-rtp-sender --dest 127.0.0.1:$((base_port + 2001)) --count 100000 \
  --rate 20000 --size 200 --duration-ms 6000 >/dev/null 2>&1
touch "$work"/stop; wait "$d" || true
echo "daemon, one client: $(grep '^summary' "$work"/rx-d.out)"
