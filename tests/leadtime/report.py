# SPDX-License-Identifier: LGPL-2.1-or-later
"""report.py — the lead-time tables (markdown) and the targets of issue 5,
reported, never asserted."""

import math

TRANSPORT_NAMES = {"rtsp": "RTSP/UDP", "flv": "HTTP-FLV"}
# Which target applies to which scenario kind.
SUDDEN = ("sudden", "overload", "starved")
STALL = ("stall",)
GRADUAL = ("gradual", "congestion")
QUIET = ("clean", "benign")


def s(v, digits=2):
    return "–" if v is None else f"{v:.{digits}f}"


def pct(v):
    return "–" if v is None else f"{100 * v:.0f} %"


def _det(row, kind, det):
    return row[kind]["det"].get(det)


def _recall_lead(d):
    if d is None:
        return "n/a"
    if d["n"] == 0:
        return f"{pct(d['recall'])} / –"
    return f"{pct(d['recall'])} / {s(d['median'])}"


def freeze_table(rows):
    head = ("| scenario | transport | latency | runs | freeze episodes | vdropmon recall | lead mean "
            "| sd | min … max | median | P5 | P95 | precision | false warnings (startup) | jb num-lost recall / median "
            "| W3C counter median | first path drop ref. recall / median | drop→msg ms median / P95 "
            "| stall-eta abs. error, median |")
    out = [head, _sep(head)]
    for key, row in rows:
        v = _det(row, "freeze", "vdropmon")
        w3c = _det(row, "freeze", "w3c")
        lat = row["drop_to_msg_ms"]
        out.append(f"| {key[0]} | {TRANSPORT_NAMES.get(key[1], key[1])} | {key[2]} "
                   f"| {row['runs']} | {row['freeze']['episodes']} | {pct(v['recall']) if v else '–'} "
                   f"| {s(v and v['mean'])} | {s(v and v.get('sd'))} "
                   f"| {s(v and v.get('min'))} … {s(v and v.get('max'))} | {s(v and v['median'])} | {s(v and v['p5'])} "
                   f"| {s(v and v['p95'])} | {pct(row['precision'])} "
                   f"| {row['false_warnings'] + row['startup_warnings']} "
                   f"({row['startup_warnings']}) "
                   f"| {_recall_lead(_det(row, 'freeze', 'jb-lost'))} "
                   f"| {s(w3c and w3c['median'])} "
                   f"| {_recall_lead(_det(row, 'freeze', 'path-ref'))} "
                   f"| {s(lat['median'], 1)} / {s(lat['p95'], 1)} | {eta_line(row)} |")
    return "\n".join(out)


def damage_table(rows):
    head = ("| scenario | transport | latency | damage episodes | vdropmon recall | lead median "
            "| P5 | P95 | jb num-lost recall / median | first path drop ref. recall / median |")
    out = [head, _sep(head)]
    for key, row in rows:
        if key[1] == "flv":
            continue
        v = _det(row, "damage", "vdropmon")
        out.append(f"| {key[0]} | {TRANSPORT_NAMES.get(key[1], key[1])} | {key[2]} "
                   f"| {row['damage']['episodes']} | {pct(v['recall']) if v else '–'} "
                   f"| {s(v and v['median'])} | {s(v and v['p5'])} | {s(v and v['p95'])} "
                   f"| {_recall_lead(_det(row, 'damage', 'jb-lost'))} "
                   f"| {_recall_lead(_det(row, 'damage', 'path-ref'))} |")
    return "\n".join(out)


def _sep(head):
    return "|" + "---|" * (head.count("|") - 1)


def _better_than_baselines(row):
    """vdropmon's recall not below a baseline's and its median lead over all
    episodes (a miss worse than any lead) above it; None when there was
    nothing to warn of."""
    v = _det(row, "freeze", "vdropmon")
    if v is None or row["freeze"]["episodes"] == 0:
        return None, "no freeze to warn of"
    notes = []
    ok = True
    for det in ("jb-lost", "w3c"):
        b = _det(row, "freeze", det)
        if b is None:
            continue
        if (b["recall"] or 0) > (v["recall"] or 0):
            ok = False
            notes.append(f"{det} recall {pct(b['recall'])}")
        if _nan_safe(b["median_all"]) >= _nan_safe(v["median_all"]):
            ok = False
            notes.append(f"{det} median over all episodes {_m(b['median_all'])} "
                         f"vs {_m(v['median_all'])}")
    return ok, "; ".join(notes)


def _nan_safe(x):
    return -math.inf if x is None or math.isnan(x) else x


def _m(x):
    return "missed" if x is None or math.isinf(x) or math.isnan(x) else f"{x:.2f} s"


def targets(rows, latency_of):
    """Lines 'target | scenario | measured | met?' for every target that
    applies."""
    out = ["| target | scenario | measured | met |", "|---|---|---|---|"]
    for key, row in rows:
        kind = key[0]
        v = _det(row, "freeze", "vdropmon")
        name = f"{kind} {TRANSPORT_NAMES.get(key[1], key[1])} {key[2]}"
        if kind in SUDDEN and row["freeze"]["episodes"]:
            need = 0.9 * latency_of(key) / 1000.0
            med = v and v["median"]
            out.append(f"| lead ≥ 0.9 × latency ({need:.2f} s), median | {name} "
                       f"| {s(med)} s | {yes(med is not None and med >= need)} |")
        if kind in STALL and row["freeze"]["episodes"]:
            need = 0.2 if latency_of(key) <= 200 else 1.9
            med, rec = v and v["median"], v and v["recall"]
            out.append(f"| median lead ≥ {need} s, recall 100 % (issue 12) | {name} "
                       f"| {s(med)} s, recall {pct(rec)} "
                       f"| {yes(med is not None and med >= need and rec == 1)} |")
        if kind in GRADUAL and row["freeze"]["episodes"]:
            med, p5 = v and v["median"], v and v["p5"]
            need = 1.0 if latency_of(key) <= 200 else 3.2
            out.append(f"| median lead ≥ {need} s, P5 ≥ 0.5 s (issue 12) | {name} "
                       f"| {s(med)} s, P5 {s(p5)} s "
                       f"| {yes(med is not None and p5 is not None and med >= need and p5 >= 0.5)} |")
        if kind in QUIET:
            fph = row["false_per_hour"]
            out.append(f"| ≤ 1 false warning per stream-hour | {name} "
                       f"| {false_line(row)} | {yes(fph is not None and fph <= 1)} |")
        if row["freeze"]["episodes"]:
            ok, why = _better_than_baselines(row)
            out.append(f"| better than jb num-lost and W3C counter | {name} "
                       f"| {why or 'yes'} | {yes(ok)} |")
    return "\n".join(out)


def eta_line(row):
    e = row.get("stall_eta_error")
    if not e or not e["n"]:
        return "–"
    return f"{100 * e['median']:.0f} % (n={e['n']}, P95 {100 * e['p95']:.0f} %)"


def false_line(row):
    n = row["false_warnings"] + row["startup_warnings"]
    return (f"{n} ({row['startup_warnings']} at startup) in {row['hours'] * 60:.1f} min "
            f"= {s(row['false_per_hour'], 0)}/h")


def yes(ok):
    return "yes" if ok else "**no**"


def recall_line(row):
    v = _det(row, "freeze", "vdropmon")
    return (f"| recall ≥ 95 % (freezes, all runs) | all | {pct(v and v['recall'])} of "
            f"{row['freeze']['episodes']} | {yes(v is not None and (v['recall'] or 0) >= 0.95)} |")
