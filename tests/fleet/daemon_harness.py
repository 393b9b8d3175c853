"""What the fleet tests with the real vdropmond share: TAP output, skipping
without root or eBPF, the daemon started with --metrics-listen on loopback,
free UDP ports and the kernel's own per-socket drop counter."""
import os
import re
import socket
import subprocess
import sys
import time

results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {name}" + (f" # {detail}" if detail else ""))
    sys.stdout.flush()


def skip_or_fail(why):
    if os.environ.get("VDROPMON_REQUIRE_BPF") == "1":
        print(f"1..1\nnot ok 1 - {why} (VDROPMON_REQUIRE_BPF=1)")
        sys.exit(1)
    print(f"1..0 # SKIP {why}")
    sys.exit(77)


def require_daemon(build):
    """The vdropmond binary, or skip (77) / fail without root or eBPF."""
    if os.geteuid() != 0:
        skip_or_fail("needs root (the daemon loads the BPF program)")
    daemon = os.path.join(build, "daemon", "vdropmond")
    if not os.path.exists(daemon):
        skip_or_fail("vdropmond not built (no eBPF in this build)")
    return daemon


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


def spawn_daemon(daemon, tmp, log_path, env=None, extra_args=()):
    """vdropmond on tmp/d.sock (mode 0666), /metrics on a free loopback port,
    its output in log_path."""
    log = open(log_path, "w")
    return subprocess.Popen([daemon, "--socket", os.path.join(tmp, "d.sock"), "--socket-mode",
                             "0666", "--metrics-listen", "127.0.0.1:0", *extra_args],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)


def metrics_port_once_serving(proc, log_path, timeout_s):
    """The /metrics port once the daemon says it serves; None if it exits
    or timeout_s passes first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = open(log_path).read()
        port = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", text)
        if port and "serving on" in text:
            return int(port.group(1))
        if proc.poll() is not None:
            return None
        time.sleep(0.1)
    return None


def start_daemon(daemon, tmp, extra_args=()):
    """vdropmond on tmp/d.sock (mode 0666) with /metrics on a free loopback
    port: (process, metrics port). Skips when it cannot load BPF."""
    log_path = os.path.join(tmp, "vdropmond.log")
    proc = spawn_daemon(daemon, tmp, log_path, extra_args=extra_args)
    port = metrics_port_once_serving(proc, log_path, 20)
    if port is not None:
        return proc, port
    print("# " + open(log_path).read().replace("\n", "\n# "))
    if "BPF" in open(log_path).read():
        proc.kill()
        skip_or_fail("the daemon could not load its BPF program")
    raise RuntimeError("vdropmond did not start")
