#!/usr/bin/env python3
"""Scrape time of vdropmond's /metrics per watch: counters read one key at a
time (VDROPMON_BPF_NO_BATCH=1, what the daemon did before, and its fallback
on kernels without batched lookups) against the batched read, in one run.

For each mode: a real vdropmond (root, eBPF) with --metrics-listen on
loopback, CLIENTS unprivileged vdm-daemon-receiver processes (uid nobody,
no capability) with SOCKETS UDP sockets each (4 KB buffers, never read),
DROPS packets sent to every socket so each watch has a kernel drop counter,
then SCRAPES plain-text scrapes with a fresh connection each. Prints the
time the clients took to get their sockets watched (each new watch zeroes
its 256 reason counters: one batched update, or 256 updates per key), the
scrape's size (bytes, series, gzip bytes), the median, fastest and slowest
scrape, the median per watch, and checks every
stream's vdropmon_stream_kernel_drops_total against the kernel's own
per-socket counter (/proc/net/udp): a mode that reads wrong counters fails
the run (exit 1).

Root, loopback only, bounded; run under the root-tests lock:
  flock /tmp/vdm-root-tests.lock tests/fleet/bench_scrape.py build [--clients 10 --sockets 25]
(`ninja -C build bench-scrape` runs it with the defaults.)
"""
import argparse
import gzip
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from daemon_harness import metrics_port_once_serving, spawn_daemon

UNPRIV = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]


def free_port_run(n):
    """A first port of n consecutive UDP ports free on 127.0.0.1."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            first = s.getsockname()[1]
        if first + n >= 65535:
            continue
        held = []
        try:
            for p in range(first, first + n):
                t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(t)
                t.bind(("127.0.0.1", p))
            return first
        except OSError:
            continue
        finally:
            for t in held:
                t.close()
    raise RuntimeError(f"no run of {n} free UDP ports")


def kernel_drops():
    """127.0.0.1 UDP port -> the kernel's drop counter of its socket."""
    drops = {}
    with open("/proc/net/udp", encoding="ascii") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            addr, port = fields[1].split(":")
            if addr == "0100007F":
                drops[int(port, 16)] = int(fields[-1])
    return drops


def start_daemon(build, tmp, batched):
    env = dict(os.environ)
    env.pop("VDROPMON_BPF_NO_BATCH", None)
    if not batched:
        env["VDROPMON_BPF_NO_BATCH"] = "1"
    log_path = os.path.join(tmp, "vdropmond.log")
    proc = spawn_daemon(os.path.join(build, "daemon", "vdropmond"), tmp, log_path, env)
    port = metrics_port_once_serving(proc, log_path, 30)
    if port is not None:
        return proc, port
    proc.kill()
    raise RuntimeError("vdropmond did not start: " + open(log_path).read()[-500:])


def start_receivers(build, tmp, clients, per_client):
    client_dir = os.path.join(tmp, "clients")
    os.mkdir(client_dir)
    os.chown(client_dir, 65534, 65534)
    stop = os.path.join(client_dir, "stop")
    procs, ports = [], []
    for c in range(clients):
        first = free_port_run(per_client)
        ready = os.path.join(client_dir, f"ready-{c}")
        procs.append(subprocess.Popen(
            UNPRIV + [os.path.join(build, "tests", "daemon", "vdm-daemon-receiver"),
                      "--socket", os.path.join(tmp, "d.sock"), "--port", str(first),
                      "--sockets", str(per_client), "--rcvbuf", "4096", "--seconds", "600",
                      "--stop-file", stop, "--ready-file", ready, "--settle-ms", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        deadline = time.monotonic() + 30
        while not os.path.exists(ready):
            if procs[-1].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"receiver {c} did not watch its sockets: "
                                   + procs[-1].stderr.read()[-400:] if procs[-1].poll() is not None
                                   else f"receiver {c} not ready in 30 s")
            time.sleep(0.05)
        ports.extend(range(first, first + per_client))
    return procs, ports, stop


def overflow(ports, drops_each):
    """Enough 1200-byte datagrams to every socket that about drops_each are dropped."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for port in ports:
            for _ in range(drops_each + 3):  # a 4 KB buffer takes 2-3 of them
                s.sendto(b"d" * 1200, ("127.0.0.1", port))


def scrape(port):
    start = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as reply:
        body = reply.read().decode()
    return time.perf_counter() - start, body


FLOW_DROPS = re.compile(r'^vdropmon_stream_kernel_drops_total\{[^}]*flow="udp 127\.0\.0\.1:(\d+)"[^}]*\} (\d+)',
                        re.M)


def check_counters(body, ports):
    """Streams whose scraped drop counter differs from the kernel's."""
    scraped = {}
    for port, value in FLOW_DROPS.findall(body):
        scraped[int(port)] = scraped.get(int(port), 0) + int(value)
    kernel = kernel_drops()
    return [(p, scraped.get(p), kernel.get(p)) for p in ports if scraped.get(p) != kernel.get(p)
            or not kernel.get(p)]


def run_mode(build, batched, args):
    with tempfile.TemporaryDirectory(prefix="vdm-bench-scrape-") as tmp:
        os.chmod(tmp, 0o755)
        daemon, metrics_port = start_daemon(build, tmp, batched)
        receivers = []
        try:
            setup_start = time.perf_counter()
            receivers, ports, stop = start_receivers(build, tmp, args.clients, args.sockets)
            setup = time.perf_counter() - setup_start
            overflow(ports, args.drops)
            time.sleep(0.5)
            _, body = scrape(metrics_port)  # warm: the registry learns every series
            times = []
            for _ in range(args.scrapes):
                seconds, body = scrape(metrics_port)
                times.append(seconds)
            wrong = check_counters(body, ports)
            open(stop, "w").close()
            for r in receivers:
                r.wait(timeout=30)
            series = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
            size = (len(body.encode()), series, len(gzip.compress(body.encode())))
            return times, len(ports), size, wrong, setup
        finally:
            for r in receivers:
                if r.poll() is None:
                    r.kill()
            daemon.terminate()
            daemon.wait(timeout=15)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--sockets", type=int, default=25, help="sockets (watches) per client")
    parser.add_argument("--drops", type=int, default=8, help="packets dropped per socket")
    parser.add_argument("--scrapes", type=int, default=20)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_scrape: needs root (vdropmond loads the BPF program)", file=sys.stderr)
        return 77
    results = {}
    failed = False
    for name, batched in (("per-key (before)", False), ("batched (after)", True)):
        times, watches, size, wrong, setup = run_mode(args.build, batched, args)
        median = statistics.median(times)
        results[name] = median
        print(f"{name:17s}: {watches} watches ({args.clients} clients) set up in {setup:.2f} s; "
              f"scrape {size[0]} bytes, {size[1]} series, {size[2]} bytes gzip; scrape median "
              f"{median * 1e3:.1f} ms (min {min(times) * 1e3:.1f}, max {max(times) * 1e3:.1f}; "
              f"{len(times)} scrapes), {median / watches * 1e6:.1f} us per watch")
        if wrong:
            failed = True
            print(f"  {len(wrong)} streams' drop counters differ from the kernel's "
                  f"(port, scraped, kernel): {wrong[:5]}")
        else:
            print(f"  every stream's drop counter equals the kernel's per-socket counter")
    before, after = results["per-key (before)"], results["batched (after)"]
    print(f"speed-up: {before / after:.1f}x")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
