"""A real Prometheus server for tests: temporary config and data directory,
loopback only, scraping given targets every second, evaluating the shipped
rule file every second, optionally sending alerts to a real Alertmanager
(the shipped fleet/alertmanager.yml, its webhook receivers pointed at a
recording HTTP server of the test); HTTP API helpers. Each server is
stopped (by its pid) on exit.

Used by tests/fleet/*.py and fleet/plot-episode.py.
"""
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RULES = os.path.join(ROOT, "fleet", "vdropmon-rules.yml")
ALERTMANAGER_CONFIG = os.path.join(ROOT, "fleet", "alertmanager.yml")
# Where fleet/alertmanager.yml's example webhook receivers point.
SHIPPED_WEBHOOK_BASE = "http://127.0.0.1:5001"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(process):
    """SIGTERM, then SIGKILL after 15 s: this process only, by its pid."""
    if process and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_ready(process, url, what, log_path, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: see {log_path}")
        try:
            if http_get(url, timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready within {seconds} s: see {log_path}")


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return reply.status, reply.headers, reply.read()


class Prometheus:
    """`with Prometheus(["127.0.0.1:9945"]) as prom: prom.query("up")`"""

    def __init__(self, targets, job="vdropmon", rules=RULES, interval="1s", keep_dir=None,
                 alertmanagers=None):
        self.targets = targets
        self.alertmanagers = alertmanagers or []
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
{self._alerting()}scrape_configs:
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

    def _alerting(self):
        if not self.alertmanagers:
            return ""
        return f"""alerting:
  alertmanagers:
    - static_configs:
        - targets: {json.dumps(self.alertmanagers)}
"""

    def __exit__(self, *exc):
        stop_process(self.process)
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


class WebhookReceiver:
    """An HTTP server on a free loopback port recording every POST (path and
    JSON body): what Alertmanager's webhook receivers deliver."""

    def __init__(self):
        self.posts = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = None
                with receiver.lock:
                    receiver.posts.append((self.path, payload))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def received(self):
        with self.lock:
            return list(self.posts)


class Alertmanager:
    """`with Alertmanager(webhook.url) as am: am.alerts()`: Debian's
    prometheus-alertmanager with the shipped fleet/alertmanager.yml, its
    webhook URLs (http://127.0.0.1:5001/...) rewritten to webhook_base, on a
    free loopback port, clustering off, in a temporary directory."""

    def __init__(self, webhook_base, config=ALERTMANAGER_CONFIG):
        self.webhook_base = webhook_base
        self.config = config
        self.process = None

    def __enter__(self):
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        if not binary:
            raise RuntimeError("prometheus-alertmanager not installed (.ci/install-deps installs it)")
        self.dir = tempfile.mkdtemp(prefix="vdm-alertmanager-")
        with open(self.config, encoding="utf-8") as f:
            shipped = f.read()
        if SHIPPED_WEBHOOK_BASE not in shipped:
            raise RuntimeError(f"{self.config} no longer points at {SHIPPED_WEBHOOK_BASE}")
        config = os.path.join(self.dir, "alertmanager.yml")
        with open(config, "w", encoding="utf-8") as f:
            f.write(shipped.replace(SHIPPED_WEBHOOK_BASE, self.webhook_base))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self.log_path = os.path.join(self.dir, "alertmanager.log")
        self.log = open(self.log_path, "w", encoding="utf-8")
        self.process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.path={self.dir}/data",
             f"--web.listen-address={self.address}", "--cluster.listen-address="],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_ready(self.process, self.url + "/-/ready", "alertmanager", self.log_path)
        return self

    def __exit__(self, *exc):
        stop_process(self.process)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def alerts(self, **filters):
        """Alertmanager's own view (API v2): active, silenced and inhibited
        alerts with their receivers; filters are label equalities."""
        query = urllib.parse.urlencode([("filter", f'{k}="{v}"') for k, v in filters.items()])
        _, _, body = http_get(f"{self.url}/api/v2/alerts?{query}")
        return json.loads(body)
