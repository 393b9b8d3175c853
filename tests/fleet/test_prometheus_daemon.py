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
  * then a real pipeline (gst-launch as nobody: udpsrc ! vdropmon
    collector=daemon) overflowing its socket: its analytics (detector state,
    a series only the element's ANALYTICS frames make) reach Prometheus
    with pipeline="pipeline0", element="mon".

Without root or eBPF it skips (77), or fails with VDROPMON_REQUIRE_BPF=1.
Usage: test_prometheus_daemon.py BUILD_DIR   (TAP on stdout)
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from prometheus_harness import ROOT, Prometheus, http_get  # noqa: E402

RATE, SURGE_S = 50, 50
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {name}" + (f" # {detail}" if detail else ""))
    sys.stdout.flush()


def skip_or_fail(why):
    if os.environ.get("VDROPMON_REQUIRE_BPF") == "1":
        print(f"1..1\nnot ok 1 - {why} (VDROPMON_REQUIRE_BPF=1)")
        sys.exit(1)
    print(f"1..0 # SKIP {why}")
    sys.exit(77)


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kernel_drops(port):
    """The kernel's drop counter of the UDP socket bound to 127.0.0.1:port."""
    local = f"0100007F:{port:04X}"
    with open("/proc/net/udp", encoding="ascii") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == local:
                return int(fields[-1])
    return None


def wait_file(path, proc, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def main():
    build = sys.argv[1]
    if os.geteuid() != 0:
        skip_or_fail("needs root (the daemon loads the BPF program)")
    daemon = os.path.join(build, "daemon", "vdropmond")
    if not os.path.exists(daemon):
        skip_or_fail("vdropmond not built (no eBPF in this build)")
    print("TAP version 13")
    with tempfile.TemporaryDirectory(prefix="vdm-fleet-daemon-") as tmp:
        os.chmod(tmp, 0o755)
        run(build, daemon, tmp)
    print(f"1..{len(results)}")
    return 0 if all(results) else 1


def start_daemon(daemon, tmp):
    log_path = os.path.join(tmp, "vdropmond.log")
    log = open(log_path, "w")
    proc = subprocess.Popen([daemon, "--socket", os.path.join(tmp, "d.sock"), "--socket-mode",
                             "0666", "--metrics-listen", "127.0.0.1:0"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = open(log_path).read()
        port = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", text)
        if port and "serving on" in text:
            return proc, int(port.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    print("# " + open(log_path).read().replace("\n", "\n# "))
    if "BPF" in open(log_path).read():
        proc.kill()
        skip_or_fail("the daemon could not load its BPF program")
    raise RuntimeError("vdropmond did not start")


def run(build, daemon_path, tmp):
    daemon, metrics_port = start_daemon(daemon_path, tmp)
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
            print("# receiver: " + out.strip().replace("\n", "\n# receiver: "))
            element_analytics(build, prom, tmp, client_dir)
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
          and labels.get("command", "").startswith("vdm-daemon-rec") and labels.get("pid", "").isdigit()
          and labels.get("job") == "vdropmon", str(labels))
    try:
        prom.wait_for("the drop surge alert to resolve",
                      lambda: not prom.firing("VdropmonStreamDropSurge"), 100)
        check("VdropmonStreamDropSurge resolves after the surge", True)
    except AssertionError as e:
        check("VdropmonStreamDropSurge resolves after the surge", False, str(e))
    plot(prom, receiver.pid, start_wall)


CAPS = "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"


def element_analytics(build, prom, tmp, client_dir):
    """The vdropmon element (gst-launch as nobody, collector=daemon) sends
    its analytics every interval: series only ANALYTICS frames make, with
    the element's and pipeline's names as labels, reach Prometheus."""
    port = free_udp_port()
    env = {"VDROPMON_DAEMON_SOCKET": os.path.join(tmp, "d.sock"),
           "GST_REGISTRY": os.path.join(client_dir, "registry.bin"),
           "GST_PLUGIN_PATH": os.environ.get("GST_PLUGIN_PATH", os.path.join(build, "plugin"))}
    log_path = os.path.join(client_dir, "gst.out")
    with open(log_path, "w") as log:
        pipe = subprocess.Popen(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "env",
             *[f"{k}={v}" for k, v in env.items()], "timeout", "--preserve-status", "-s", "INT", "40",
             "gst-launch-1.0", "-e", "udpsrc", "address=127.0.0.1", f"port={port}", "buffer-size=16384",
             f"caps={CAPS}", "!", "vdropmon", "name=mon", "collector=daemon", "interval=1000000000",
             "!", "fakesink"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        time.sleep(3)  # the pipeline plays and watches its socket
        subprocess.run([os.path.join(build, "tests", "tools", "vdm-rtp-sender"), "--dest",
                        f"127.0.0.1:{port}", "--count", "3000", "--duration-ms", "3000"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        kernel = kernel_drops(port)
        state = 'vdropmon_stream_detector_state{element="mon",pipeline="pipeline0"}'
        found = []
        try:
            prom.wait_for("the element's detector state", lambda: found.extend(prom.query(state)) or found, 20)
        except AssertionError:
            pass
        check("the element's analytics reach Prometheus: detector state with its element and pipeline",
              len(found) >= 1 and found[0]["metric"].get("command", "").startswith("gst-launch"),
              f"{found[:1]}, kernel dropped {kernel}; gst: {open(log_path).read()[-300:]!r}")
        lost = prom.query('sum(vdropmon_stream_keyframe_packets_dropped_total{element="mon"})'
                          ' + sum(vdropmon_stream_warnings_total{element="mon"})'
                          ' + sum(vdropmon_stream_rtp_gap_packets_total{element="mon"})')
        print(f"# element analytics: keyframe+warnings+rtp-gap totals {lost}")
    finally:
        pipe.send_signal(2) if pipe.poll() is None else None
        try:
            pipe.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pipe.kill()


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
