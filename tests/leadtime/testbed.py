# SPDX-License-Identifier: LGPL-2.1-or-later
"""testbed.py — one lead-time run on a throw-away netns topology.

  PREFIX-snd 10.200.1.1   vdm-rtsp-server / vdm-flv-server (--address
             10.201.0.1 on vx0)
  PREFIX-rtr              tbf on to-rcv (the bottleneck), blackhole routes
  PREFIX-rcv 10.200.2.2   receiver.py (vdropmon inside), CPU quota
             10.201.0.2 on vx0

The topology is tests/kernel/netns.sh's, plus a VXLAN tunnel from snd to
rcv through the router: the stream runs between the tunnel addresses, so
what the router sees and drops are VXLAN packets (UDP 4789 between the
outer addresses) that no flow key of the receiver can match, namespace or
not. The router is another machine as far as vdropmon can tell: its drops
are never the receiver's signal (issue 12, part 1). They are still
measured, from outside, as the "first drop on the path" reference: the
router's tbf drop counter and backlog, polled every 50 ms through one
long-lived `tc -batch` (record["path"]). Everything a run creates — the
namespaces, the cgroup, the two processes — is removed in a finally, on
every way out. Traffic stays inside the namespaces; every process is
bounded in time (server --duration-s, receiver duration_s, timeouts here).
"""
import json
import os
import select
import signal
import subprocess
import threading
import time

from scenarios import READER_THREADS

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NETNS_SH = os.path.join(ROOT, "tests", "kernel", "netns.sh")
SND_ADDR = "10.200.1.1"
RCV_ADDR = "10.200.2.2"
# The tunnel the stream runs in (see above).
TUN_SND_ADDR = "10.201.0.1"
TUN_RCV_ADDR = "10.201.0.2"
VXLAN_ID = 4242
PATH_POLL_S = 0.05
BOTTLENECK_DEV = "to-rcv"
CGROUP_CPU = "/sys/fs/cgroup/cpu"
READY_TIMEOUT_S = 10
# Not the servers' defaults: other tests on this host use those, and flow
# keys know no namespace (see receiver.py).
SERVER_PORTS = {"rtsp": 47554, "flv": 47080}
# The receiver stops itself after duration_s of stream; allow for its start.
RECEIVER_GRACE_S = 25


class TestbedError(RuntimeError):
    pass


def run(cmd, check=True):
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=20)
    if check and done.returncode != 0:
        raise TestbedError(f"{' '.join(cmd)}: {done.stderr.strip() or done.returncode}")
    return done


def read_line(proc, deadline, want):
    """Next stdout line of proc starting with want, or None at deadline."""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if not line:
                return None
            if line.startswith(want):
                return line.strip()
        elif proc.poll() is not None:
            return None
    return None


class Testbed:
    def __init__(self, prefix, build_dir, workdir, log):
        self.p = prefix
        self.build_dir = build_dir
        self.workdir = workdir
        self.log = log
        self.server = None
        self.receiver = None
        self.cgroup = None
        self.blackhole = False
        self.throttled_periods = 0
        self.reader_prefix = None

    # ---- topology -------------------------------------------------------

    def up(self, tbf):
        env = dict(os.environ, VDM_TBF_RATE=tbf["rate"], VDM_TBF_BURST=tbf["burst"],
                   VDM_TBF_LATENCY=tbf["latency"])
        done = subprocess.run(["bash", NETNS_SH, "up", self.p], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        if done.returncode != 0:
            raise TestbedError(f"netns.sh up {self.p}: {done.stdout.strip()}")
        # IPv6 would add neighbour discovery and MLD to the path: off.
        for role in ("snd", "rtr", "rcv"):
            run(["ip", "netns", "exec", f"{self.p}-{role}", "sysctl", "-qw",
                 "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
        self._tunnel()

    def _tunnel(self):
        """snd <-> rcv over VXLAN through rtr (see the module doc)."""
        ends = (("snd", SND_ADDR, RCV_ADDR, TUN_SND_ADDR),
                ("rcv", RCV_ADDR, SND_ADDR, TUN_RCV_ADDR))
        for role, local, remote, addr in ends:
            ns = f"{self.p}-{role}"
            run(["ip", "-n", ns, "link", "add", "vx0", "type", "vxlan", "id", str(VXLAN_ID),
                 "local", local, "remote", remote, "dstport", "4789", "dev", "to-rtr"])
            run(["ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "vx0"])
            run(["ip", "-n", ns, "link", "set", "vx0", "up"])
    def down(self):
        self.stop_path_poll()
        for proc in (self.receiver, self.server):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        self._remove_cgroup()
        subprocess.run(["bash", NETNS_SH, "down", self.p], timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def qdisc_drops(self):
        done = run(["bash", NETNS_SH, "qdisc-drops", self.p], check=False)
        return int(done.stdout) if done.returncode == 0 and done.stdout.strip() else None

    def start_path_poll(self):
        """Polls the router's tbf every PATH_POLL_S in a thread: a list of
        [t (CLOCK_MONOTONIC ns), drops, backlog bytes] while it runs."""
        self.path = []
        self._poll_stop = threading.Event()
        self._tc = subprocess.Popen(["tc", "-n", f"{self.p}-rtr", "-s", "-j", "-batch", "-"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True, bufsize=1)

        def poll():
            while not self._poll_stop.wait(PATH_POLL_S):
                try:
                    self._tc.stdin.write(f"qdisc show dev {BOTTLENECK_DEV}\n")
                    self._tc.stdin.flush()
                    line = self._tc.stdout.readline()
                    q = json.loads(line)[0]
                except (OSError, ValueError, IndexError):
                    return
                self.path.append([time.monotonic_ns(), q.get("drops", 0), q.get("backlog", 0)])

        self._poller = threading.Thread(target=poll, daemon=True)
        self._poller.start()

    def stop_path_poll(self):
        if getattr(self, "_tc", None) is None:
            return []
        self._poll_stop.set()
        self._poller.join(timeout=2)
        try:
            self._tc.stdin.close()
        except OSError:
            pass
        try:
            self._tc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._tc.kill()
            self._tc.wait(timeout=2)
        self._tc = None
        return self.path

    # ---- perturbations --------------------------------------------------

    def apply(self, action):
        op = action["op"]
        if op == "tbf":
            run(["tc", "-n", f"{self.p}-rtr", "qdisc", "change", "dev", BOTTLENECK_DEV, "root",
                 "tbf", "rate", action["rate"], "burst", action["burst"],
                 "latency", action["latency"]])
        elif op == "blackhole":
            verb = "add" if action["on"] else "del"
            if action["on"] != self.blackhole:
                run(["ip", "-n", f"{self.p}-rtr", "route", verb, "blackhole", f"{RCV_ADDR}/32"])
                self.blackhole = action["on"]
        elif op == "slow-reader":
            return self._set_reader_delay(action["delay_us"])
        elif op == "cpu":
            return self._set_quota(action["quota_pct"], action.get("period_ms", 100),
                                   action.get("threads"))
        else:
            raise TestbedError(f"unknown action {op}")
        return {}

    def _set_reader_delay(self, delay_us):
        """Every packet a udpsrc reads waits delay_us in the reading thread
        (receiver.py, SIGUSR1); 0 ends it. The receiver is "ip netns exec"'s
        child: signal the python process itself."""
        with open(os.path.join(self.workdir, "reader_delay"), "w") as f:
            f.write(str(int(delay_us)))
        for pid in self._receiver_pids():
            os.kill(pid, signal.SIGUSR1)
        return {}

    def _receiver_pids(self):
        """The receiver's python process (ip netns exec execs env, which
        execs python: the same pid; any child found is signalled too)."""
        pids = [self.receiver.pid]
        try:
            with open(f"/proc/{self.receiver.pid}/task/{self.receiver.pid}/children") as f:
                pids += [int(x) for x in f.read().split()]
        except OSError:
            pass
        return pids

    def reader_tids(self):
        """The receiver's threads whose name starts with the transport's
        reader name (scenarios.READER_THREADS)."""
        prefix = self.reader_prefix
        task_dir = f"/proc/{self.receiver.pid}/task"
        out = []
        for tid in os.listdir(task_dir):
            try:
                with open(os.path.join(task_dir, tid, "comm")) as f:
                    if f.read().strip().startswith(prefix):
                        out.append(tid)
            except OSError:
                pass  # the thread ended meanwhile
        return out

    def _set_quota(self, pct, period_ms, threads=None):
        """pct % of one CPU per period_ms, or no limit (pct None). A long
        period makes long stalls: the process runs its quota, then none of
        its threads runs until the period ends. threads="reader": only the
        threads that read the stream's sockets (cgroup v1 moves single
        threads through "tasks"), found again at every change."""
        if self.cgroup is None:
            path = os.path.join(CGROUP_CPU, f"vdm-leadtime-{self.p}")
            os.mkdir(path)
            self.cgroup = path
            if threads is None:
                # Moving the process moves all its threads (cgroup v1 cgroup.procs).
                with open(os.path.join(path, "cgroup.procs"), "w") as f:
                    f.write(str(self.receiver.pid))
        moved = []
        if threads is not None and pct is not None:
            moved = self.reader_tids()
            if not moved:
                raise TestbedError(f"no receiver thread named {self.reader_prefix}*")
            for tid in moved:
                with open(os.path.join(self.cgroup, "tasks"), "w") as f:
                    f.write(tid)
        quota_file = os.path.join(self.cgroup, "cpu.cfs_quota_us")
        if pct is None:
            with open(quota_file, "w") as f:
                f.write("-1")
            # Whether the quota bit, for the record: the run's picture says
            # in how many periods the receiver was stopped.
            total = self._cpu_stat().get("nr_throttled", 0)
            throttled, self.throttled_periods = total - self.throttled_periods, total
            return {"throttled_periods": throttled}
        period_us = period_ms * 1000
        # The kernel refuses a period below the quota: lift the quota first.
        with open(quota_file, "w") as f:
            f.write("-1")
        with open(os.path.join(self.cgroup, "cpu.cfs_period_us"), "w") as f:
            f.write(str(period_us))
        with open(quota_file, "w") as f:
            f.write(str(int(period_us * pct / 100)))
        with open(os.path.join(self.cgroup, "tasks")) as f:
            return {"tids_in_cgroup": len(f.read().split()), "threads_moved": len(moved)}

    def _cpu_stat(self):
        with open(os.path.join(self.cgroup, "cpu.stat")) as f:
            return {k: int(v) for k, v in (line.split() for line in f)}

    def _remove_cgroup(self):
        if self.cgroup is None:
            return
        try:
            with open(os.path.join(self.cgroup, "cpu.cfs_quota_us"), "w") as f:
                f.write("-1")
            with open(os.path.join(self.cgroup, "tasks")) as f:
                tids = f.read().split()
            for tid in tids:  # back to the root group before rmdir (thread by thread)
                with open(os.path.join(CGROUP_CPU, "tasks"), "w") as root:
                    root.write(tid)
            os.rmdir(self.cgroup)
        except OSError as e:
            self.log(f"could not remove cgroup {self.cgroup}: {e}")
        self.cgroup = None

    # ---- processes ------------------------------------------------------

    def start_server(self, transport, stream, duration_s):
        binary = {"rtsp": "vdm-rtsp-server", "flv": "vdm-flv-server"}[transport]
        port = SERVER_PORTS[transport]
        cmd = ["ip", "netns", "exec", f"{self.p}-snd",
               os.path.join(self.build_dir, "tests", "servers", binary),
               "--address", TUN_SND_ADDR, "--port", str(port),
               "--width", str(stream["width"]), "--height", str(stream["height"]),
               "--fps", str(stream["fps"]), "--bitrate", str(stream["bitrate_kbps"]),
               "--key-int", str(stream["key_int"]), "--pattern", stream["pattern"],
               "--duration-s", str(int(duration_s))]
        errlog = open(os.path.join(self.workdir, "server.log"), "w")
        self.server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errlog, text=True)
        errlog.close()
        line = read_line(self.server, time.monotonic() + READY_TIMEOUT_S, "READY ")
        if line is None:
            raise TestbedError(f"{binary} did not print READY (see {errlog.name})")
        return line.split()[1]

    def start_receiver(self, cfg):
        cfg_path = os.path.join(self.workdir, "receiver.json")
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        out = os.path.join(self.workdir, "record.json")
        env = ["env", f"GST_PLUGIN_PATH={os.path.join(self.build_dir, 'plugin')}",
               f"GST_REGISTRY={os.path.join(self.build_dir, 'tests', 'leadtime-registry.bin')}"]
        cmd = ["ip", "netns", "exec", f"{self.p}-rcv"] + env + [
            "/usr/bin/python3", os.path.join(HERE, "receiver.py"), cfg_path, out]
        errlog = open(os.path.join(self.workdir, "receiver.log"), "w")
        self.receiver = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errlog, text=True)
        errlog.close()
        line = read_line(self.receiver, time.monotonic() + 20, "FIRST_FRAME ")
        if line is None:
            raise TestbedError(f"receiver showed no frame (see {errlog.name})")
        return int(line.split()[1]), out

    def wait_receiver(self, timeout_s):
        try:
            self.receiver.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.receiver.terminate()
            self.receiver.wait(timeout=10)
        return self.receiver.returncode


def run_scenario(scenario, transport, latency_ms, stream, build_dir, workdir, prefix, log):
    """Runs one scenario; returns the receiver's record with the schedule
    as it was applied (CLOCK_MONOTONIC times) and the testbed's counters."""
    os.makedirs(workdir, exist_ok=True)
    bed = Testbed(prefix, build_dir, workdir, log)
    bed.reader_prefix = READER_THREADS[transport]
    applied = []
    try:
        bed.up(scenario["tbf"])
        url = bed.start_server(transport, stream, scenario["duration_s"] + 40)
        cfg = {"transport": transport, "url": url, "latency_ms": latency_ms,
               "duration_s": scenario["duration_s"],
               "udp_buffer_size": scenario["udp_buffer_size"] if transport == "rtsp" else 0,
               "reader_delay_file": os.path.join(workdir, "reader_delay"),
               "vdropmon": {}}
        first_ns, out = bed.start_receiver(cfg)
        bed.start_path_poll()
        for t_s, action in scenario["actions"]:
            due = first_ns + int(t_s * 1e9)
            while time.monotonic_ns() < due:
                if bed.receiver.poll() is not None:
                    raise TestbedError("receiver ended before the schedule did")
                time.sleep(min(0.01, max(0.0, (due - time.monotonic_ns()) / 1e9)))
            effect = bed.apply(action)
            applied.append({"t": time.monotonic_ns(), "at_s": t_s, **action, **effect})
        rc = bed.wait_receiver(scenario["duration_s"] + RECEIVER_GRACE_S)
        qdisc_drops = bed.qdisc_drops()
        path = bed.stop_path_poll()
    finally:
        bed.down()
    with open(out) as f:
        record = json.load(f)
    record["scenario"] = scenario
    record["applied"] = applied
    record["receiver_rc"] = rc
    record["tbf_drops"] = qdisc_drops
    record["path"] = path
    return record
