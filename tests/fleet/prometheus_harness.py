"""A real Prometheus server for tests: temporary config and data directory,
loopback only, scraping given targets every second, evaluating the shipped
rule file every second; HTTP API helpers. Stopped (by its pid) on exit.

Used by tests/fleet/*.py and fleet/plot-episode.py.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RULES = os.path.join(ROOT, "fleet", "vdropmon-rules.yml")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return reply.status, reply.headers, reply.read()


class Prometheus:
    """`with Prometheus(["127.0.0.1:9945"]) as prom: prom.query("up")`"""

    def __init__(self, targets, job="vdropmon", rules=RULES, interval="1s", keep_dir=None):
        self.targets = targets
        self.job = job
        self.rules = rules
        self.interval = interval
        self.keep_dir = keep_dir
        self.process = None
        self.dir = None
        self.port = None

    def __enter__(self):
        binary = shutil.which("prometheus")
        if not binary:
            raise RuntimeError("prometheus not installed (.ci/install-deps installs it)")
        self.dir = self.keep_dir or tempfile.mkdtemp(prefix="vdm-prometheus-")
        os.makedirs(self.dir, exist_ok=True)
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w", encoding="utf-8") as f:
            f.write(f"""global:
  scrape_interval: {self.interval}
  scrape_timeout: {self.interval}
  evaluation_interval: {self.interval}
rule_files:
  - {self.rules}
scrape_configs:
  - job_name: {self.job}
    static_configs:
      - targets: {json.dumps(self.targets)}
""")
        self.port = free_port()
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w", encoding="utf-8")
        self.process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1d",
             "--web.enable-admin-api"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: see {self.dir}/prometheus.log")
            try:
                if http_get(self.url + "/-/ready", timeout=1)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("prometheus not ready within 30 s")

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        if not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def api(self, path, **params):
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        status, _, body = http_get(url)
        reply = json.loads(body)
        if reply.get("status") != "success":
            raise RuntimeError(f"{path} {params}: {reply}")
        return reply["data"]

    def query(self, expr):
        """Instant vector result: list of {"metric": {...}, "value": [t, "v"]}."""
        return self.api("query", query=expr)["result"]

    def query_range(self, expr, start, end, step):
        return self.api("query_range", query=expr, start=start, end=end, step=step)["result"]

    def wait_for(self, what, predicate, timeout, poll=0.5):
        """Polls predicate() until true; returns seconds waited or raises."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if predicate():
                return time.monotonic() - start
            time.sleep(poll)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def firing(self, alertname):
        return self.query(f'ALERTS{{alertname="{alertname}",alertstate="firing"}}')

    def targets_up(self):
        return [r for r in self.query(f'up{{job="{self.job}"}}') if r["value"][1] == "1"]
