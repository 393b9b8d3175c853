#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""timeline.py OUT — every warning of a soak run (tests/soak/run.sh), in time.

For each `vdropmon-warning` in OUT/*.out: its wall-clock time (its
`detect-time`, CLOCK_MONOTONIC, put on the wall clock with OUT/clock.txt),
the stream, level, cause, action, reasons, stall-eta, the stream's last
`vdropmon-stats` before it (stall threshold, lag, runway, queue delay,
trend, path usage, largest frame-interval deviation, reader stalls), how
many other streams warned within +-1 s, and the host's 1-min load average
nearest in time (OUT/load.txt). Then the kernel drops by stream and reason.
So a warning can be told apart as the host's (many streams at once, a high
load, `host`), the testbed's path (the benign group only) or one stream's
detector. Standard library only; reads, never writes.
"""
import glob
import os
import re
import sys
from collections import Counter, defaultdict

FIELD = re.compile(r'([a-z-]+)=\((\w+)\)("(?:[^"\\]|\\.)*"|<[^>]*>|[^,;]*)')
STATS_KEYS = ["stall-threshold", "lag", "runway", "queue-delay", "trend", "path-usage",
              "fid-max", "reader-stalls", "bitrate"]


def fields(line):
    out = {}
    for key, _type, value in FIELD.findall(line):
        out.setdefault(key, value.strip('"').replace("\\", ""))
    return out


def short(value):
    if value.isdigit():
        return value
    try:
        x = float(value)
    except ValueError:
        return value
    return f"{x:.4f}" if abs(x) < 1 else f"{x:.1f}"


def wall_of(detect_ns, clock):
    wall0, mono0 = clock
    return wall0 + (detect_ns / 1e9 - mono0)


def hms(t):
    import time
    return time.strftime("%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}"


def load_at(t, loads):
    if not loads:
        return "?"
    return min(loads, key=lambda x: abs(x[0] - t))[1]


def read_loads(out_dir, day0):
    import calendar
    import time
    loads = []
    try:
        with open(os.path.join(out_dir, "load.txt")) as f:
            for line in f:
                hh, load = line.split()
                day = time.strftime("%Y-%m-%d", time.gmtime(day0))
                t = calendar.timegm(time.strptime(f"{day} {hh}", "%Y-%m-%d %H:%M:%S"))
                loads.append((t, load))
    except OSError:
        pass
    return loads


def main():
    out_dir = sys.argv[1]
    with open(os.path.join(out_dir, "clock.txt")) as f:
        wall0, mono0 = (float(x) for x in f.read().split())
    clock = (wall0, mono0)
    loads = read_loads(out_dir, wall0)
    warnings, drops = [], defaultdict(Counter)
    for path in sorted(glob.glob(os.path.join(out_dir, "*.out"))):
        stream = os.path.basename(path)[:-4]
        last_stats = {}
        with open(path, errors="replace") as f:
            for line in f:
                if "vdropmon-stats," in line:
                    last_stats = fields(line.split("vdropmon-stats,", 1)[1])
                elif "vdropmon-warning," in line:
                    w = fields(line.split("vdropmon-warning,", 1)[1])
                    w["stream"], w["stats"] = stream, last_stats
                    w["t"] = wall_of(int(w.get("detect-time", "0")), clock)
                    warnings.append(w)
                elif "vdropmon-drop," in line:
                    d = fields(line.split("vdropmon-drop,", 1)[1])
                    drops[stream][d.get("reason", "?")] += int(d.get("count", "1") or 1)
    warnings.sort(key=lambda w: w["t"])
    print(f"{len(warnings)} warnings")
    for w in warnings:
        near = {o["stream"] for o in warnings if abs(o["t"] - w["t"]) <= 1.0} - {w["stream"]}
        eta = w.get("stall-eta", "")
        if eta.isdigit():
            eta = "none" if int(eta) >= 1 << 63 else f"{int(eta) / 1e6:.0f}ms"
        stats = " ".join(f"{k}={short(w['stats'].get(k, '?'))}" for k in STATS_KEYS)
        print(f"{hms(w['t'])} {w['stream']:<9} {w.get('level')} cause={w.get('cause')} "
              f"action={w.get('action')} reasons={w.get('reasons') or '-'} stall-eta={eta} "
              f"load={load_at(w['t'], loads)} others-within-1s={len(near)} | before: {stats}")
    print("kernel drops by stream and reason:")
    for stream in sorted(drops):
        print(f"  {stream}: " + ", ".join(f"{r} {n}" for r, n in sorted(drops[stream].items())))


if __name__ == "__main__":
    main()
