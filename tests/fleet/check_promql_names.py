#!/usr/bin/env python3
"""Checks that every PromQL expression shipped in fleet/ names only metrics
vdropmond exports.

    check_promql_names.py --names FILE [--allow up,ALERTS] FILE.json|FILE.yml ...

--names FILE holds the exported metric names, one per line (what
`vdm-metrics-sample --names` prints: the renderer's own list). Every expr
of a Grafana dashboard (panel targets, template variable queries) and of a
Prometheus rule file is parsed; the metric names it selects must all be in
that list (or in --allow). Each expression must name at least one metric.
A name that is exported but used nowhere is listed, not failed.

--self-test checks the extractor on tricky expressions first.
Exit status 0 when all is well, 1 with one line per problem otherwise.
"""
import argparse
import json
import re
import sys

import yaml

KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "offset", "atan2", "inf", "nan",
    # aggregation operators: "sum by (x) (...)" puts "by", not "(", after them
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
    "count_values", "bottomk", "topk", "quantile",
}
IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def strip_noise(expr):
    """Removes what can hold identifiers that are not metric names."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # strings
    expr = re.sub(r"\{[^{}]*\}", "", expr)               # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)               # ranges, subqueries
    expr = re.sub(r"\$\{?[a-zA-Z0-9_]+\}?", "", expr)     # Grafana variables
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
                  r"\1", expr)                            # label lists
    expr = re.sub(r"#[^\n]*", "", expr)                   # comments
    return expr


def metric_names(expr):
    """Metric names an expression selects (label_values(m, label) too)."""
    text = strip_noise(expr)
    # Grafana's label_values(metric{...}, label): the second argument is a
    # label (matchers are gone by now); label_values(label) names no metric.
    text = re.sub(r"label_values\(\s*([^,()]+?)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)", r"\1", text)
    text = re.sub(r"label_values\(\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)", "", text)
    names = set()
    for match in IDENT.finditer(text):
        name = match.group(0)
        before = text[match.start() - 1] if match.start() > 0 else " "
        after = text[match.end():].lstrip()
        if before.isdigit() or before == ".":
            continue  # part of a number such as 1e3 or 2.5e-3
        if name.lower() in KEYWORDS or after.startswith("("):
            continue  # a keyword or a function call
        names.add(name)
    return names


def dashboard_exprs(path):
    with open(path, encoding="utf-8") as f:
        dashboard = json.load(f)
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                found.append((f"{where} {node.get('refId', '')}".strip(), node["expr"]))
            for key, value in node.items():
                walk(value, f"{where}/{node.get('title', node.get('name', key))}" if key == "targets" else where)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    for panel in dashboard.get("panels", []):
        walk(panel, f"{path}: panel \"{panel.get('title')}\"")
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var.get("query")
            query = query.get("query") if isinstance(query, dict) else query
            found.append((f"{path}: variable ${var['name']}", query))
    return found


def rule_exprs(path):
    with open(path, encoding="utf-8") as f:
        rules = yaml.safe_load(f)
    found = []
    for group in rules.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            found.append((f"{path}: rule {name}", rule["expr"]))
    return found


def self_test():
    cases = {
        'sum by (instance, reason) (rate(vdropmon_host_kernel_drops_total{instance=~"$instance"}[$__rate_interval]))':
            {"vdropmon_host_kernel_drops_total"},
        'max by (a) (x_ratio{pipeline=~"p,q"}) > 0.5 and on(instance) up == 0':
            {"x_ratio", "up"},
        'label_values(vdropmon_stream_detector_state{instance=~"$instance"}, pipeline)':
            {"vdropmon_stream_detector_state"},
        'label_values(vdropmon_build_info, instance)': {"vdropmon_build_info"},
        'label_values(m{instance=~"$instance",pipeline=~"$pipeline"}, element)': {"m"},
        'label_values(pipeline)': set(),
        'rate(a_total[5m] offset 1h) / ignoring(reason) group_left b_total * 1e3':
            {"a_total", "b_total"},
        'histogram_quantile(0.9, sum by (le) (rate(h_bucket{x="by (y)"}[1m])))': {"h_bucket"},
        'increase(c_total[2m:15s]) > 2.5e-3': {"c_total"},
    }
    ok = True
    for expr, expected in cases.items():
        got = metric_names(expr)
        if got != expected:
            print(f"self-test: {expr!r}: got {sorted(got)}, expected {sorted(expected)}")
            ok = False
    return ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--names", required=True)
    parser.add_argument("--allow", default="up")
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    if args.self_test and not self_test():
        return 1
    with open(args.names, encoding="utf-8") as f:
        exported = {line.strip() for line in f if line.strip()}
    if len(exported) < 10:
        print(f"{args.names}: only {len(exported)} names: not the renderer's list?")
        return 1
    allowed = exported | set(filter(None, args.allow.split(",")))
    problems, used, count = [], set(), 0
    for path in args.files:
        exprs = dashboard_exprs(path) if path.endswith(".json") else rule_exprs(path)
        if not exprs:
            problems.append(f"{path}: no expressions found")
        for where, expr in exprs:
            count += 1
            names = metric_names(expr)
            if not names:
                problems.append(f"{where}: names no metric: {expr}")
            for name in sorted(names - allowed):
                problems.append(f"{where}: {name} is not exported by vdropmond")
            used |= names
    for problem in problems:
        print(problem)
    unused = sorted(exported - used)
    print(f"{count} expressions in {len(args.files)} files checked against {len(exported)} "
          f"exported names; {len(problems)} problems"
          + (f"; exported but unused: {', '.join(unused)}" if unused else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
