#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""compare.py — before/after table of two lead-time result sets.

  compare.py BEFORE_OUT AFTER_OUT

Each OUT is a suite.py --out directory whose results.json was written by a
(--rescore) run over the same plan; rows present in both are compared:
vdropmon's freeze recall, median and P5 lead, the first-drop-on-the-path
reference, false warnings and the stall-eta error. Markdown on stdout.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402


def rows_of(out):
    with open(os.path.join(out, "results.json")) as f:
        data = json.load(f)
    return {tuple(k): r for k, r in data["rows"]}


def cell(row):
    v = row["freeze"]["det"].get("vdropmon")
    if not v:
        return "–", "–", "–"
    return report.pct(v["recall"]), report.s(v["median"]), report.s(v["p5"])


def main():
    before, after = rows_of(sys.argv[1]), rows_of(sys.argv[2])
    head = ("| scenario | transport | latency | freezes (before / after) | recall before → after "
            "| median lead before → after (s) | P5 before → after (s) | first path drop ref. median (s) "
            "| false warnings before → after | stall-eta error median before → after |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for key in sorted(set(before) & set(after)):
        b, a = before[key], after[key]
        (rb, mb, pb), (ra, ma, pa) = cell(b), cell(a)
        ref = a["freeze"]["det"].get("path-ref")
        fb = b["false_warnings"] + b["startup_warnings"]
        fa = a["false_warnings"] + a["startup_warnings"]
        print(f"| {key[0]} | {report.TRANSPORT_NAMES.get(key[1], key[1])} | {key[2]} "
              f"| {b['freeze']['episodes']} / {a['freeze']['episodes']} | {rb} → {ra} "
              f"| {mb} → {ma} | {pb} → {pa} | {report.s(ref and ref['median'])} "
              f"| {fb} → {fa} | {report.eta_line(b)} → {report.eta_line(a)} |")


if __name__ == "__main__":
    main()
