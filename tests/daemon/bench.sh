#!/usr/bin/env bash
# tests/daemon/bench.sh BUILD_DIR [CLIENTS] [SOCKETS_PER_CLIENT]
# Scale benchmark of vdropmond (docs/benchmarks.md, "The collector daemon"),
# printed side by side in one run:
#  - CLIENTS unprivileged receivers (vdm-daemon-receiver as nobody) with
#    SOCKETS_PER_CLIENT watched UDP sockets each (default 12 x 100 = 1,200),
#    polling like elements do (queue fill every 100 ms, counters every s);
#  - memory per watch: the daemon's RSS before and after, and the kernel
#    memory of its BPF maps (memlock of each map fd, /proc/PID/fdinfo);
#  - the daemon's CPU idle (10 s) and under a bounded flood;
#  - drop -> bus latency of two real pipelines during that same flood, one
#    behind the daemon (as nobody), one with the embedded collector (root),
#    next to the receivers' drop -> callback latency.
#  - the clients' per-watch question (queue fill): how long it takes.
# Environment: VDM_BENCH_MAX_SOCKETS=N starts the daemon with --max-sockets N
# (the BPF maps sized for N, e.g. 1200: memory measured, not computed);
# VDM_BENCH_PROTOCOL=1 makes every client speak protocol version 1 (polls
# each watch, as clients before version 2 did), for a before/after on the
# same build.
# Root; loopback only; every sender bounded in count and time; run under
# the lock:  flock /tmp/vdm-root-tests.lock tests/daemon/bench.sh build
set -euo pipefail
build=$(realpath "${1:-build}")
clients=${2:-12}
per_client=${3:-100}
base_port=${VDM_BENCH_PORT:-48000}
flood_rate=${VDM_BENCH_FLOOD_RATE:-5000}   # packets/s per flooded socket
flood_ms=4000
max_sockets=${VDM_BENCH_MAX_SOCKETS:-}
protocol=${VDM_BENCH_PROTOCOL:-}
bus_daemon_port=$((base_port + clients * per_client + 100))
bus_embedded_port=$((bus_daemon_port + 1))
work=$(mktemp -d /tmp/vdm-bench-XXXXXX)
chmod 777 "$work"
sock=$work/vdropmond.sock
unpriv=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all
        --no-new-privs)
pids=()
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
percent() { echo "scale=2; 100 * $1 / $hz / $2" | bc; }
per() { echo "scale=1; $1 / $2" | bc; }
# Kernel memory of a process's BPF maps: the memlock each map fd reports.
map_kib() {
  local total=0 f m
  for f in /proc/"$1"/fdinfo/*; do
    m=$(awk '/^map_type/ {map = 1} /^memlock/ {mem = $2} END {if (map) print mem + 0}' "$f" \
        2>/dev/null || true)
    total=$((total + ${m:-0}))
  done
  echo $((total / 1024))
}
wait_file() { # file seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do [ -e "$1" ] && return 0; sleep 0.1; done
  echo "bench: $1 did not appear" >&2; return 1
}

"$build"/daemon/vdropmond --socket "$sock" --socket-mode 0666 \
  ${max_sockets:+--max-sockets "$max_sockets"} 2>"$work"/daemon.log &
daemon=$!; pids+=("$daemon")
until "$build"/daemon/vdropmond --status --socket "$sock" >/dev/null 2>&1; do sleep 0.1; done
rss0=$(rss_kib "$daemon")
maps=$(map_kib "$daemon")
# The floor: the daemon with its program loaded and no client (its
# collector thread drains the ring every few ms whatever it serves).
t0=$(ticks "$daemon"); sleep 10; floor_ticks=$(($(ticks "$daemon") - t0))
slots=$(sed -n 's/.* \([0-9]*\) sockets in all.*/\1/p' "$work"/daemon.log | head -1)

for ((c = 0; c < clients; c++)); do
  port=$((base_port + c * per_client))
  "${unpriv[@]}" env VDROPMON_DAEMON_PROTOCOL_MAX="$protocol" \
    "$build"/tests/daemon/vdm-daemon-receiver --socket "$sock" --port "$port" \
    --sockets "$per_client" --seconds 150 --poll-ms 100 --stop-file "$work"/stop \
    --ready-file "$work"/ready-$c >"$work"/rx-$c.out 2>&1 &
  pids+=($!)
done
for ((c = 0; c < clients; c++)); do wait_file "$work"/ready-$c 60; done
watches=$((clients * per_client))
"${unpriv[@]}" env GST_PLUGIN_PATH="$build"/plugin GST_REGISTRY="$work"/registry-nobody.bin \
  VDROPMON_DAEMON_SOCKET="$sock" VDROPMON_DAEMON_PROTOCOL_MAX="$protocol" \
  "$build"/tests/daemon/vdm-bus-latency --collector daemon \
  --port "$bus_daemon_port" --seconds 120 --stop-file "$work"/stop \
  --ready-file "$work"/ready-bus-d >"$work"/bus-d.out 2>&1 &
pids+=($!)
GST_PLUGIN_PATH="$build"/plugin GST_REGISTRY="$work"/registry-root.bin \
  "$build"/tests/daemon/vdm-bus-latency --collector embedded --port "$bus_embedded_port" \
  --seconds 120 --stop-file "$work"/stop --ready-file "$work"/ready-bus-e >"$work"/bus-e.out 2>&1 &
pids+=($!)
wait_file "$work"/ready-bus-d 30
wait_file "$work"/ready-bus-e 30
sleep 2
rss1=$(rss_kib "$daemon")
maps1=$(map_kib "$daemon")
t0=$(ticks "$daemon"); sleep 10; idle_ticks=$(($(ticks "$daemon") - t0))

# The flood: every client's first socket and both latency pipelines, the
# same rate each, at the same time, bounded in count and time. The sockets
# are never read (4 KiB buffers): nearly every packet is dropped.
senders=()
count=$((flood_rate * flood_ms / 1000))
flood_ports=("$bus_daemon_port" "$bus_embedded_port")
for ((c = 0; c < clients; c++)); do flood_ports+=($((base_port + c * per_client))); done
t0=$(ticks "$daemon")
for port in "${flood_ports[@]}"; do
  "$build"/tests/tools/vdm-rtp-sender --dest 127.0.0.1:"$port" --count "$count" \
    --rate "$flood_rate" --size 200 --duration-ms $((flood_ms + 2000)) >/dev/null 2>&1 &
  senders+=($!)
done
wait "${senders[@]}"
flood_ticks=$(($(ticks "$daemon") - t0))
offered=$((flood_rate * ${#flood_ports[@]}))
sleep 1
touch "$work"/stop
for p in "${pids[@]:1}"; do wait "$p" || true; done

rx=$(grep -h '^summary' "$work"/rx-*.out | awk '{
  for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2]
    if (kv[1] == "latency-p99-us" && kv[2] > p99) p99 = kv[2]
    if (kv[1] == "latency-p50-us" && kv[2] > p50) p50 = kv[2]
    if (kv[1] == "call-p99-us" && kv[2] > c99) c99 = kv[2]
    if (kv[1] == "call-p50-us" && kv[2] > c50) c50 = kv[2]
    if (kv[1] == "protocol") proto = kv[2] }
} END { printf "%d %d %d %d %.1f %.1f %.3f %.3f %s", v["events"], v["counters"], v["kernel"], v["events-lost"], p50 / 1000, p99 / 1000, c50 / 1000, c99 / 1000, proto }')
read -r rx_events rx_counters rx_kernel rx_lost rx_p50 rx_p99 call_p50 call_p99 rx_proto <<<"$rx"
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1" | head -1; }
bd=$work/bus-d.out; be=$work/bus-e.out

echo "== vdropmond at scale: $watches watches from $clients unprivileged clients (+2 pipelines)," \
  "protocol version ${rx_proto:-?} =="
echo "memory"
printf "  %-52s %s\n" "daemon RSS, no client" "$rss0 KiB"
printf "  %-52s %s\n" "daemon RSS, $watches watches" "$rss1 KiB: $(per $((rss1 - rss0)) "$watches") KiB per watch"
printf "  %-52s %s\n" "BPF maps (memlock), sized for ${slots:-?} sockets" \
  "$maps KiB at start, $maps1 KiB with the watches: $(per "$maps1" "${slots:-1}") KiB per slot"
printf "  %-52s %s\n" "all-in per watch (RSS growth + all map memory)" \
  "$(per $((rss1 - rss0 + maps1)) "$watches") KiB (target <= 64 KiB)"
echo "daemon CPU"
printf "  %-52s %s\n" "no client, program loaded (10 s)" "$(percent "$floor_ticks" 10) %"
printf "  %-52s %s\n" "idle, $watches watches polled like elements (10 s)" "$(percent "$idle_ticks" 10) %"
printf "  %-52s %s\n" "flood, $offered packets/s offered to ${#flood_ports[@]} sockets ($((flood_ms / 1000)) s)" \
  "$(percent "$flood_ticks" "$(echo "scale=2; $flood_ms / 1000" | bc)") %"
echo "drop -> bus, the same flood at the same moment (ms)   daemon   embedded"
printf "  %-52s %6s   %8s\n" "P50, oldest drop of each message" "$(field "$bd" first-p50-ms)" "$(field "$be" first-p50-ms)"
printf "  %-52s %6s   %8s\n" "P99, oldest drop of each message" "$(field "$bd" first-p99-ms)" "$(field "$be" first-p99-ms)"
printf "  %-52s %6s   %8s\n" "P50, newest drop of each message" "$(field "$bd" last-p50-ms)" "$(field "$be" last-p50-ms)"
printf "  %-52s %6s   %8s\n" "P99, newest drop of each message" "$(field "$bd" last-p99-ms)" "$(field "$be" last-p99-ms)"
printf "  %-52s %6s   %8s\n" "messages / packets" "$(field "$bd" messages)/$(field "$bd" packets)" \
  "$(field "$be" messages)/$(field "$be" packets)"
echo "receivers behind the daemon (drop -> callback, no batch-interval)"
printf "  %-52s %s\n" "worst client's P50 / P99" "$rx_p50 / $rx_p99 ms"
printf "  %-52s %s\n" "queue-fill question per watch, worst client P50 / P99" "$call_p50 / $call_p99 ms"
printf "  %-52s %s\n" "events / counters / kernel / events lost" "$rx_events / $rx_counters / $rx_kernel / $rx_lost"
if [ "$(field "$bd" messages)" = 0 ] || [ "$(field "$be" messages)" = 0 ]; then
  echo "bench: a latency pipeline reported no drop (its watch refused? see below):"
  cat "$bd" "$be" | head -20
  exit 1
fi
if grep -q "refused\|cannot" "$work"/rx-*.out "$work"/bus-*.out; then
  echo "bench: a client failed:"; grep -h "refused\|cannot" "$work"/rx-*.out "$work"/bus-*.out | head -5
  exit 1
fi
kill "$daemon"; wait "$daemon" || true
