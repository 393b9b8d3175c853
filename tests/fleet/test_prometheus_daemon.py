#!/usr/bin/env python3
"""vdropmond's /metrics against a real Prometheus, with a real overflowing
socket (root, eBPF; run it under the root-tests lock).

vdropmond runs with --metrics-listen on loopback; an unprivileged client
(tests/daemon/vdm-daemon-receiver as uid nobody, no capability) hands it a
UDP socket with a 4 KB buffer that it never reads; vdm-rtp-sender sends it
50 packets/s for 50 s, so the kernel drops them (SOCKET_RCVBUFF). A real
Prometheus scrapes the daemon every second and evaluates
fleet/vdropmon-rules.yml every second. Checks:

  * `promtool check metrics` accepts the daemon's scrape;
  * the stream's drop counter in Prometheus equals the kernel's own
    per-socket counter (/proc/net/udp), with the right labels (command,
    pid, flow, reason);
  * VdropmonStreamDropSurge fires during the surge (ALERTS), for that
    stream, and resolves after it;
  * drops on a socket nobody watches count in the host-wide counter
    (vdropmon_host_kernel_drops_total, the BPF program's host_drops map);
  * fleet/plot-episode.py draws the episode from Prometheus's data;
  * once the client is gone, its stream's series stay on /metrics until
    --metrics-stale-after (STALE_S here; 120 s by default) has passed,
    then leave it, and Prometheus's query no longer returns them.

A real pipeline's analytics (keyframe, gap, warning counters against its
bus messages) and the alert through Alertmanager: test_prometheus_pipeline.py.

Without root or eBPF it skips (77), or fails with VDROPMON_REQUIRE_BPF=1.
Usage: test_prometheus_daemon.py BUILD_DIR   (TAP on stdout)
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from daemon_harness import (check, free_udp_port, kernel_drops, require_daemon,  # noqa: E402
                            results, start_daemon, wait_file)
from prometheus_harness import ROOT, Prometheus, http_get  # noqa: E402

RATE, SURGE_S = 50, 50
STALE_S = 10  # --metrics-stale-after: short, so that the test sees the series go


def main():
    build = sys.argv[1]
    daemon = require_daemon(build)
    print("TAP version 13")
    with tempfile.TemporaryDirectory(prefix="vdm-fleet-daemon-") as tmp:
        os.chmod(tmp, 0o755)
        run(build, daemon, tmp)
    print(f"1..{len(results)}")
    return 0 if all(results) else 1


def run(build, daemon_path, tmp):
    daemon, metrics_port = start_daemon(daemon_path, tmp,
                                        ["--metrics-stale-after", str(STALE_S)])
    receiver = None
    try:
        udp_port = free_udp_port()
        client_dir = os.path.join(tmp, "client")  # the receiver (uid nobody) writes here
        os.mkdir(client_dir)
        os.chown(client_dir, 65534, 65534)
        ready, stop = os.path.join(client_dir, "ready"), os.path.join(client_dir, "stop")
        receiver = subprocess.Popen(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
             os.path.join(build, "tests", "daemon", "vdm-daemon-receiver"),
             "--socket", os.path.join(tmp, "d.sock"), "--port", str(udp_port), "--rcvbuf", "4096",
             "--seconds", "240", "--stop-file", stop, "--ready-file", ready],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if not wait_file(ready, receiver, 20):
            receiver.kill()
            check("the unprivileged receiver watches its socket through the daemon", False,
                  receiver.communicate(timeout=10)[0][-400:])
            return
        target = f"127.0.0.1:{metrics_port}"
        with Prometheus([target]) as prom:
            episode(build, prom, target, receiver, udp_port)
            open(stop, "w").close()
            out = receiver.communicate(timeout=30)[0]
            gone = time.monotonic()
            print("# receiver: " + out.strip().replace("\n", "\n# receiver: "))
            series_leave_after_stale_time(prom, target, f"udp 127.0.0.1:{udp_port}", gone)
    finally:
        if receiver and receiver.poll() is None:
            receiver.kill()
        daemon.terminate()
        daemon.wait(timeout=15)


def episode(build, prom, target, receiver, udp_port):
    prom.wait_for("the daemon target up", lambda: prom.targets_up(), 20)
    time.sleep(5)  # calm before the surge
    start_wall = time.time() - 5
    _, _, body = http_get(f"http://{target}/metrics")
    lint = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
    check("promtool check metrics accepts the daemon's scrape", lint.returncode == 0,
          (lint.stdout + lint.stderr).decode()[:300])
    host_drops_of_unwatched_socket(prom)
    surge_start = time.monotonic()
    sender = subprocess.Popen(
        [os.path.join(build, "tests", "tools", "vdm-rtp-sender"), "--dest", f"127.0.0.1:{udp_port}",
         "--count", str(RATE * SURGE_S), "--rate", str(RATE), "--duration-ms", str(SURGE_S * 1000 + 5000)],
        stdout=subprocess.DEVNULL)
    flow = f"udp 127.0.0.1:{udp_port}"
    selector = f'vdropmon_stream_kernel_drops_total{{flow="{flow}"}}'
    try:
        prom.wait_for("the drop surge alert", lambda: prom.firing("VdropmonStreamDropSurge"), SURGE_S)
        alerts = prom.firing("VdropmonStreamDropSurge")
        labels = alerts[0]["metric"]
        check("VdropmonStreamDropSurge fires during the surge",
              sender.poll() is None, f"{time.monotonic() - surge_start:.0f} s into it")
        check("... for the overflowing stream, with its labels",
              len(alerts) == 1 and labels.get("pid") == str(receiver.pid)
              and labels.get("reason") == "SOCKET_RCVBUFF"
              and labels.get("command", "").startswith("vdm-daemon-rec"), str(alerts))
    except AssertionError as e:
        check("VdropmonStreamDropSurge fires during the surge", False, str(e))
    sender.wait(timeout=SURGE_S + 30)
    time.sleep(3)  # the last drops reach a scrape
    kernel = kernel_drops(udp_port)
    stored = prom.query(selector)
    value = int(float(stored[0]["value"][1])) if len(stored) == 1 else None
    labels = stored[0]["metric"] if len(stored) == 1 else {}
    check("the stream's drop counter in Prometheus equals the kernel's per-socket count",
          kernel is not None and kernel > RATE * SURGE_S // 2 and value == kernel,
          f"prometheus {value}, kernel {kernel}")
    check("... with the right labels",
          labels.get("reason") == "SOCKET_RCVBUFF" and labels.get("flow") == flow
          and labels.get("command", "").startswith("vdm-daemon-rec") and labels.get("pid") == str(receiver.pid)
          and labels.get("job") == "vdropmon" and labels.get("instance") == target, str(labels))
    try:
        prom.wait_for("the drop surge alert to resolve",
                      lambda: not prom.firing("VdropmonStreamDropSurge"), 100)
        check("VdropmonStreamDropSurge resolves after the surge", True)
    except AssertionError as e:
        check("VdropmonStreamDropSurge resolves after the surge", False, str(e))
    plot(prom, receiver.pid, start_wall)


def series_leave_after_stale_time(prom, target, flow, gone):
    """The stream's series outlive its watch by STALE_S (its last counter
    read was at most one 1 s scrape before the client left), then leave."""
    def on_metrics():
        return f'flow="{flow}"'.encode() in http_get(f"http://{target}/metrics")[2]

    time.sleep(max(0.0, gone + 2 - time.monotonic()))
    check("the stream's series stay on /metrics after its client left (Prometheus sees the last values)",
          on_metrics(), f"{time.monotonic() - gone:.1f} s after")
    while on_metrics() and time.monotonic() - gone < STALE_S + 10:
        time.sleep(0.2)
    left = time.monotonic() - gone
    check(f"... and leave it --metrics-stale-after ({STALE_S} s) after its last report",
          STALE_S - 2 <= left <= STALE_S + 3 and not on_metrics(), f"left after {left:.1f} s")
    selector = f'vdropmon_stream_kernel_drops_total{{flow="{flow}"}}'
    try:
        prom.wait_for("Prometheus to mark the series stale", lambda: not prom.query(selector), 10)
        check("... and Prometheus no longer returns them", True)
    except AssertionError as e:
        check("... and Prometheus no longer returns them", False, str(e))


def host_drops(prom):
    result = prom.query('sum(vdropmon_host_kernel_drops_total{reason="SOCKET_RCVBUFF"})')
    return int(float(result[0]["value"][1])) if result else 0


def host_drops_of_unwatched_socket(prom):
    """Drops on a socket nobody watches show in the host-wide counter."""
    before = host_drops(prom)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as unwatched:
        unwatched.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        unwatched.bind(("127.0.0.1", 0))
        port = unwatched.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for _ in range(300):
                sender.sendto(b"u" * 1200, ("127.0.0.1", port))
        dropped = kernel_drops(port)
        time.sleep(3)  # a few scrapes
    after = host_drops(prom)
    check("drops on a socket nobody watches count in vdropmon_host_kernel_drops_total",
          dropped is not None and dropped > 100 and after - before >= dropped,
          f"unwatched socket dropped {dropped}, host counter +{after - before}")


def plot(prom, pid, start_wall):
    out = os.path.join(BUILD, "tests", "fleet", "episode-daemon.svg")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "fleet", "plot-episode.py"), "--prometheus", prom.url,
         "--match", f'pid="{pid}"', "--start", str(start_wall), "--end", str(time.time() + 2),
         "--title", "vdropmond: a socket overflowing at 50 packets/s for 50 s, as Prometheus stored it",
         "--out", out], capture_output=True, text=True)
    svg = open(out).read() if result.returncode == 0 else ""
    check("plot-episode.py draws the episode from Prometheus's data",
          "kernel drops, SOCKET_RCVBUFF" in svg and "VdropmonStreamDropSurge" in svg,
          result.stderr[-300:])


BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"

if __name__ == "__main__":
    sys.exit(main())
