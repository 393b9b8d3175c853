#!/usr/bin/env python3
"""Validates the shipped Grafana dashboard so that a broken one fails a test.

    check_dashboard.py [--self-test] [--provider PROVIDER.yml] DASHBOARD.json

Checks, each failure one line on stdout (exit 1):
  * what Grafana's file provisioning itself refuses or cannot resolve
    (pkg/services/provisioning/dashboards and the dashboard save
    validation): an empty title; a uid that is not 1-40 characters of
    [A-Za-z0-9_-]; a refresh under Grafana's default min_refresh_interval
    (5s); `__inputs` or `${DS_...}` placeholders (resolved only by the UI's
    import, never by provisioning); a panel type that is not one of
    Grafana's built-in panels, a variable type Grafana does not have, a
    schemaVersion before datasource references (< 36); a row panel that
    is collapsed without its panels;
  * the provider file (--provider): apiVersion 1, each provider named, of
    type file, with options.path, not both folder and
    foldersFromFilesStructure, updateIntervalSeconds a positive integer;
  * structure: uid, title, schemaVersion, panels,
    templating.list; panel ids unique; every gridPos inside the 24-column
    grid with no two panels overlapping; every non-row panel reads the
    `${datasource}` Prometheus variable and has targets with unique refIds
    and a non-empty expr;
  * every `$variable` used in a title, expr or variable query is one the
    dashboard defines (or a Grafana built-in such as $__rate_interval);
  * every query parses as PromQL: each expr, with its variables replaced
    by sample values (and Grafana's label_values(m, l) by m), becomes a
    recording rule of a temporary rule file that `promtool check rules`
    must accept.
--self-test first runs the checks on broken copies of the dashboard (a bad
expr, an undefined variable, overlapping panels, a duplicate id, a wrong
datasource, a bad uid, an import placeholder, an unknown panel type, a too
short refresh; and with --provider, a provider without a path) and fails
unless each one is caught.
"""
import copy
import json
import os
import re
import subprocess
import sys
import tempfile

# Grafana's built-in panel plugins (public/app/plugins/panel) and variable
# types: a dashboard naming another one shows "panel plugin not found"
# unless that plugin is installed.
CORE_PANELS = {"row", "timeseries", "state-timeline", "status-history", "stat", "gauge", "bargauge",
               "barchart", "table", "text", "heatmap", "histogram", "piechart", "logs", "news",
               "nodeGraph", "traces", "flamegraph", "candlestick", "xychart", "trend", "geomap",
               "canvas", "dashlist", "alertlist", "annolist", "datagrid"}
VARIABLE_TYPES = {"query", "datasource", "custom", "constant", "interval", "textbox", "adhoc",
                  "groupby", "system"}
UID = re.compile(r"[A-Za-z0-9_-]{1,40}")
MIN_REFRESH_S = 5  # Grafana's default [dashboards] min_refresh_interval
DURATION = re.compile(r"(\d+)(ms|s|m|h|d)")
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h", "__range_s": "3600",
            "__interval_ms": "15000", "__name": "", "__all": ".*"}
VARIABLE = re.compile(r"\$(?:\{([A-Za-z0-9_]+)(?::[a-z]+)?\}|([A-Za-z0-9_]+))")


def variables_in(text):
    return {a or b for a, b in VARIABLE.findall(text or "")}


def substitute(expr, defined):
    def value(m):
        name = m.group(1) or m.group(2)
        if name in BUILTINS:
            return BUILTINS[name]
        return ".*" if name in defined else m.group(0)
    return VARIABLE.sub(value, expr)


def label_values_metric(query):
    """Grafana's label_values(expr, label) -> expr; label_values(label) -> None."""
    m = re.fullmatch(r"\s*label_values\(\s*(.+?)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*", query)
    if m:
        return m.group(1)
    if re.fullmatch(r"\s*label_values\(\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*", query):
        return None
    return query


def seconds(duration):
    m = DURATION.fullmatch(duration or "")
    if not m:
        return None
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def provisioning_problems(board):
    """What Grafana's file provisioning refuses or leaves unresolved."""
    problems = []
    if not isinstance(board.get("title"), str) or not board["title"].strip():
        problems.append("dashboard: empty title (provisioning refuses it)")
    if not isinstance(board.get("uid"), str) or not UID.fullmatch(board["uid"]):
        problems.append(f"dashboard: uid {board.get('uid')!r} is not 1-40 characters of [A-Za-z0-9_-]")
    refresh = board.get("refresh")
    if refresh not in (None, "", False):
        s = seconds(refresh)
        if s is None or s < MIN_REFRESH_S:
            problems.append(f"dashboard: refresh {refresh!r} under Grafana's min_refresh_interval "
                            f"({MIN_REFRESH_S}s)")
    if "__inputs" in board or "${DS_" in json.dumps(board):
        problems.append("dashboard: __inputs / ${DS_...} placeholders are resolved only by the UI's "
                        "import, not by provisioning: use the datasource variable")
    if not isinstance(board.get("schemaVersion"), int) or board["schemaVersion"] < 36:
        problems.append(f"dashboard: schemaVersion {board.get('schemaVersion')!r} (< 36: before "
                        "datasource references)")
    for panel in board.get("panels", []):
        name = f"panel {panel.get('id')} ({panel.get('title')!r})"
        if panel.get("type") not in CORE_PANELS:
            problems.append(f"{name}: type {panel.get('type')!r} is not a built-in Grafana panel")
        if panel.get("type") == "row" and panel.get("collapsed") and not panel.get("panels"):
            problems.append(f"{name}: a collapsed row holds its panels in its own panels list")
    for v in board.get("templating", {}).get("list", []):
        if v.get("type") not in VARIABLE_TYPES:
            problems.append(f"variable {v.get('name')}: type {v.get('type')!r} is not a Grafana variable type")
        if v.get("type") == "datasource" and v.get("query") != "prometheus":
            problems.append(f"variable {v.get('name')}: a datasource variable of type {v.get('query')!r}")
    return problems


def provider_problems(provider):
    """Grafana's dashboard provider file (provisioning/dashboards/*.yml)."""
    if provider is None:
        return []
    problems = []
    if not isinstance(provider, dict) or provider.get("apiVersion") != 1:
        return ["provider: apiVersion is not 1"]
    providers = provider.get("providers")
    if not isinstance(providers, list) or not providers:
        return ["provider: no providers"]
    for p in providers:
        name = f"provider {p.get('name')!r}"
        if not p.get("name"):
            problems.append("provider: no name")
        if p.get("type", "file") != "file":
            problems.append(f"{name}: type {p.get('type')!r} is not file")
        options = p.get("options") or {}
        if not isinstance(options.get("path"), str) or not options["path"].startswith("/"):
            problems.append(f"{name}: options.path is not an absolute path")
        if options.get("foldersFromFilesStructure") and (p.get("folder") or p.get("folderUid")):
            problems.append(f"{name}: folder and foldersFromFilesStructure exclude each other")
        interval = p.get("updateIntervalSeconds", 10)
        if not isinstance(interval, int) or interval <= 0:
            problems.append(f"{name}: updateIntervalSeconds {interval!r}")
    return problems


def structure_problems(board):
    problems = []
    for key in ("uid", "title", "schemaVersion", "panels"):
        if key not in board:
            problems.append(f"dashboard: no {key}")
    variables = board.get("templating", {}).get("list", [])
    defined = {v.get("name") for v in variables}
    if "datasource" not in defined:
        problems.append("templating: no datasource variable")
    ids, cells = set(), {}
    for panel in board.get("panels", []):
        name = f"panel {panel.get('id')} ({panel.get('title')!r})"
        if not isinstance(panel.get("id"), int) or panel["id"] in ids:
            problems.append(f"{name}: id missing or not unique")
        ids.add(panel.get("id"))
        grid = panel.get("gridPos", {})
        x, y, w, h = (grid.get(k) for k in ("x", "y", "w", "h"))
        if not all(isinstance(v, int) for v in (x, y, w, h)) or w <= 0 or h <= 0 or x < 0 or x + w > 24:
            problems.append(f"{name}: gridPos {grid} outside the 24-column grid")
        else:
            for cx in range(x, x + w):
                for cy in range(y, y + h):
                    if (cx, cy) in cells:
                        problems.append(f"{name}: overlaps panel {cells[(cx, cy)]} at x={cx} y={cy}")
                        break
                    cells[(cx, cy)] = panel.get("id")
                else:
                    continue
                break
        for var in variables_in(panel.get("title")) - defined - set(BUILTINS):
            problems.append(f"{name}: title uses undefined ${var}")
        if panel.get("type") == "row":
            continue
        if panel.get("datasource") != {"type": "prometheus", "uid": "${datasource}"}:
            problems.append(f"{name}: datasource is not the ${{datasource}} Prometheus variable")
        targets = panel.get("targets", [])
        refs = [t.get("refId") for t in targets]
        if not targets or len(set(refs)) != len(refs) or None in refs:
            problems.append(f"{name}: targets missing or refIds not unique: {refs}")
        for t in targets:
            if not (t.get("expr") or "").strip():
                problems.append(f"{name} {t.get('refId')}: empty expr")
            for var in variables_in(t.get("expr")) - defined - set(BUILTINS):
                problems.append(f"{name} {t.get('refId')}: expr uses undefined ${var}")
    for v in variables:
        query = v.get("query", {})
        text = query.get("query", "") if isinstance(query, dict) else str(query)
        for var in variables_in(text) - defined - set(BUILTINS):
            problems.append(f"variable {v.get('name')}: query uses undefined ${var}")
    return problems


def queries(board):
    """(where, PromQL) for every query, variables replaced by sample values."""
    variables = board.get("templating", {}).get("list", [])
    defined = {v.get("name") for v in variables}
    for panel in board.get("panels", []):
        for t in panel.get("targets", []):
            if (t.get("expr") or "").strip():
                yield f"panel {panel.get('id')} {t.get('refId')}", substitute(t["expr"], defined)
    for v in variables:
        if v.get("type") != "query":
            continue
        query = v.get("query", {})
        text = query.get("query", "") if isinstance(query, dict) else str(query)
        metric = label_values_metric(substitute(text, defined))
        if metric:
            yield f"variable {v.get('name')}", metric


def parse_problems(board):
    """promtool check rules on every query as a recording rule."""
    listed = list(queries(board))
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": expr} for i, (_, expr) in enumerate(listed)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        json.dump(rules, f)  # JSON is YAML
        path = f.name
    try:
        out = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True)
    finally:
        os.unlink(path)
    if out.returncode == 0:
        return []
    text = out.stdout + out.stderr
    problems = []
    for i, (where, expr) in enumerate(listed):
        if f"dashboard:query_{i}\"" in text or re.search(rf"\b{i + 1}:\d+: group \"dashboard\", rule {i + 1},", text):
            problems.append(f"{where}: promtool: {expr}")
    return problems or [f"promtool check rules: {text.strip()[:500]}"]


def problems_of(board, provider=None):
    return (provisioning_problems(board) + provider_problems(provider) + structure_problems(board)
            + parse_problems(board))


def self_test(board, provider):
    def broken(change):
        b = copy.deepcopy(board)
        change(b)
        return b

    stream = next(p for p in board["panels"] if p.get("targets"))
    index = board["panels"].index(stream)

    def set_expr(b, expr):
        b["panels"][index]["targets"][0]["expr"] = expr

    cases = {
        "a bad expr": lambda b: set_expr(b, "sum by (instance (rate(vdropmon_daemon_clients[1m]))"),
        "an undefined variable": lambda b: set_expr(b, 'vdropmon_daemon_clients{instance=~"$host"}'),
        "overlapping panels": lambda b: b["panels"][index + 1]["gridPos"].update(
            b["panels"][index]["gridPos"]),
        "a duplicate id": lambda b: b["panels"][index + 1].update(id=stream["id"]),
        "a wrong datasource": lambda b: b["panels"][index].update(datasource={"uid": "prom"}),
        "a uid with a slash": lambda b: b.update(uid="vdropmon/fleet"),
        "a uid over 40 characters": lambda b: b.update(uid="v" * 41),
        "an empty title": lambda b: b.update(title=" "),
        "an import placeholder": lambda b: b["panels"][index].update(
            datasource={"type": "prometheus", "uid": "${DS_PROMETHEUS}"}),
        "an unknown panel type": lambda b: b["panels"][index].update(type="graph-old"),
        "a 1s refresh": lambda b: b.update(refresh="1s"),
        "an old schemaVersion": lambda b: b.update(schemaVersion=16),
    }
    failed = []
    for what, change in cases.items():
        if not problems_of(broken(change), provider):
            failed.append(f"self-test: {what} was not caught")
    if provider is not None:
        no_path = copy.deepcopy(provider)
        no_path["providers"][0]["options"].pop("path", None)
        if not provider_problems(no_path):
            failed.append("self-test: a provider without a path was not caught")
    return failed


def main():
    args = sys.argv[1:]
    run_self_test = "--self-test" in args
    args = [a for a in args if a != "--self-test"]
    provider = None
    if "--provider" in args:
        i = args.index("--provider")
        import yaml  # python3-yaml (.ci/install-deps)
        with open(args[i + 1], encoding="utf-8") as f:
            provider = yaml.safe_load(f)
        del args[i:i + 2]
    if len(args) != 1:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as f:
        board = json.load(f)
    problems = self_test(board, provider) if run_self_test else []
    problems += problems_of(board, provider)
    for p in problems:
        print(p)
    n = sum(1 for _ in queries(board))
    print(f"{args[0]}: {len(board.get('panels', []))} panels, {n} queries: "
          + ("OK" if not problems else f"{len(problems)} problems"), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
