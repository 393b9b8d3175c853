#!/usr/bin/env python3
"""Validates the shipped Grafana dashboard so that a broken one fails a test.

    check_dashboard.py [--self-test] DASHBOARD.json

Checks, each failure one line on stdout (exit 1):
  * provisioning-ready structure: uid, title, schemaVersion, panels,
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
datasource) and fails unless each one is caught.
"""
import copy
import json
import os
import re
import subprocess
import sys
import tempfile

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


def problems_of(board):
    return structure_problems(board) + parse_problems(board)


def self_test(board):
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
    }
    failed = []
    for what, change in cases.items():
        if not problems_of(broken(change)):
            failed.append(f"self-test: {what} was not caught")
    return failed


def main():
    args = sys.argv[1:]
    run_self_test = "--self-test" in args
    args = [a for a in args if a != "--self-test"]
    if len(args) != 1:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as f:
        board = json.load(f)
    problems = self_test(board) if run_self_test else []
    problems += problems_of(board)
    for p in problems:
        print(p)
    n = sum(1 for _ in queries(board))
    print(f"{args[0]}: {len(board.get('panels', []))} panels, {n} queries: "
          + ("OK" if not problems else f"{len(problems)} problems"), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
