#!/usr/bin/env python3
"""The exporter, the rule file and the dashboard against a real Prometheus.

vdm-metrics-sample serves the real registry and renderer through the real
libmicrohttpd server, filled with synthetic streams; one of them ("surge0")
gets a 50 s drop surge at 20 packets/s. A real Prometheus (Debian's
package) scrapes it every second from a temporary directory on loopback
and evaluates fleet/vdropmon-rules.yml every second. Checks:

  * `promtool check metrics` accepts a scrape;
  * Prometheus stored exactly the counter the exporter served;
  * every query of the Grafana dashboard runs and returns data;
  * VdropmonStreamDropSurge fires for surge0 only, with its labels, during
    the surge, and resolves after it; VdropmonKeyframeLoss fires for it.

The numbers are synthetic here; tests/fleet/test_prometheus_daemon.py does
the same with vdropmond and a real overflowing socket.
Usage: test_prometheus_sample.py BUILD_DIR   (TAP on stdout)
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from prometheus_harness import ROOT, Prometheus, http_get  # noqa: E402

SURGE_AT, SURGE_FOR, SURGE_RATE = 8, 50, 20
DASHBOARD = os.path.join(ROOT, "fleet", "grafana", "vdropmon-dashboard.json")

results = []
BUILD = None


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {name}" + (f" # {detail}" if detail else ""))
    sys.stdout.flush()


def dashboard_queries():
    with open(DASHBOARD, encoding="utf-8") as f:
        dashboard = json.load(f)
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for var, value in (("$__rate_interval", "1m"), ("$instance", ".*"),
                               ("$pipeline", ".*"), ("$element", ".*")):
                expr = expr.replace(var, value)
            yield panel["title"], expr


def plot(prom, surge_start):
    """The episode as fleet/plot-episode.py draws it, into the build dir."""
    out = os.path.join(BUILD, "tests", "fleet", "episode-sample.svg")
    now_wall, now_mono = time.time(), time.monotonic()
    start = now_wall - (now_mono - surge_start) - 10
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "fleet", "plot-episode.py"), "--prometheus", prom.url,
         "--match", 'pipeline="surge0"', "--start", str(start), "--end", str(now_wall),
         "--title", "synthetic surge (vdm-metrics-sample), as stored by Prometheus",
         "--out", out], capture_output=True, text=True)
    svg = open(out).read() if result.returncode == 0 else ""
    check("plot-episode.py draws the episode from Prometheus's data",
          result.returncode == 0 and "kernel drops, SOCKET_RCVBUFF" in svg
          and "VdropmonStreamDropSurge" in svg, result.stderr[-300:])


def main():
    global BUILD
    build = BUILD = sys.argv[1]
    sample = os.path.join(build, "tests", "fleet", "vdm-metrics-sample")
    print("TAP version 13")
    with tempfile.TemporaryDirectory(prefix="vdm-fleet-") as tmp:
        port_file = os.path.join(tmp, "port")
        server = subprocess.Popen(
            [sample, "--streams", "20", "--serve", "127.0.0.1:0", "--port-file", port_file,
             "--seconds", "300", "--surge-at", str(SURGE_AT), "--surge-for", str(SURGE_FOR),
             "--surge-rate", str(SURGE_RATE)], stdout=subprocess.DEVNULL)
        try:
            run(server, port_file)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"1..{len(results)}")
    return 0 if all(results) else 1


def run(server, port_file):
    start = time.monotonic()
    while not os.path.exists(port_file) or not open(port_file).read().strip():
        if server.poll() is not None or time.monotonic() - start > 10:
            check("sample server starts", False)
            return
        time.sleep(0.1)
    target = f"127.0.0.1:{open(port_file).read().strip()}"
    _, headers, body = http_get(f"http://{target}/metrics")
    lint = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
    check("promtool check metrics accepts a scrape", lint.returncode == 0,
          (lint.stdout + lint.stderr).decode()[:300])
    with Prometheus([target]) as prom:
        prom.wait_for("the target up", lambda: prom.targets_up(), 20)
        time.sleep(4)  # a few scrapes so that rate() has points
        stored = prom.query('vdropmon_stream_kernel_drops_total{pipeline="cam0003"}')
        check("Prometheus stores the served counter exactly",
              len(stored) == 1 and stored[0]["value"][1] == "1003", str(stored))
        empty = []
        for title, expr in dashboard_queries():
            if not prom.query(expr):
                empty.append(f"{title}: {expr}")
        check("every dashboard query runs and returns data", not empty, "; ".join(empty))

        surge_start = start + SURGE_AT
        try:
            waited = prom.wait_for("the drop surge alert", lambda: prom.firing("VdropmonStreamDropSurge"),
                                   SURGE_AT + SURGE_FOR)
            alerts = prom.firing("VdropmonStreamDropSurge")
            labels = alerts[0]["metric"]
            check("VdropmonStreamDropSurge fires during the surge",
                  time.monotonic() < surge_start + SURGE_FOR, f"after {waited:.0f} s")
            check("... for the surging stream only, with its labels",
                  len(alerts) == 1 and labels.get("pipeline") == "surge0"
                  and labels.get("reason") == "SOCKET_RCVBUFF" and labels.get("pid") == "99999"
                  and labels.get("severity") == "page", str(alerts))
        except AssertionError as e:
            check("VdropmonStreamDropSurge fires during the surge", False, str(e))
        keyframe = prom.firing("VdropmonKeyframeLoss")
        check("VdropmonKeyframeLoss fires for the surging stream",
              [a["metric"].get("pipeline") for a in keyframe] == ["surge0"], str(keyframe))
        remaining = surge_start + SURGE_FOR - time.monotonic()
        try:
            prom.wait_for("the drop surge alert to resolve",
                          lambda: not prom.firing("VdropmonStreamDropSurge"), remaining + 90)
            check("VdropmonStreamDropSurge resolves after the surge",
                  time.monotonic() > surge_start + SURGE_FOR)
        except AssertionError as e:
            check("VdropmonStreamDropSurge resolves after the surge", False, str(e))
        plot(prom, surge_start)
        total = prom.query('vdropmon_stream_kernel_drops_total{pipeline="surge0"}')
        check("the surge's counter ends at rate x duration",
              len(total) == 1 and total[0]["value"][1] == str(SURGE_FOR * SURGE_RATE), str(total))


if __name__ == "__main__":
    sys.exit(main())
