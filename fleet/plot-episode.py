#!/usr/bin/env python3
"""Plots one episode from Prometheus's own data as an SVG: a stream's kernel
drops per second by reason, its detector state (the vdropmon warning) and
the alerts of fleet/vdropmon-rules.yml that fired, on one time axis.

    fleet/plot-episode.py --prometheus http://127.0.0.1:9090 \
        --match 'pipeline="cam1"' --start -10m --end now --out episode.svg

--match is a label matcher list (without braces) selecting the stream;
--start/--end take Unix seconds, "now", or "-<N>s|m|h" relative to now.
Only the Python standard library: the SVG is written by hand.
"""
import argparse
import html
import json
import sys
import time
import urllib.parse
import urllib.request

WIDTH, LEFT, RIGHT = 900, 70, 20
DROPS_TOP, DROPS_H = 40, 220
STATE_TOP, STATE_H = 300, 26
ALERT_TOP, ALERT_ROW = 350, 22
COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
STATE_COLORS = {0: "#8fd18f", 1: "#f5a623", 2: "#d62728"}
STATE_NAMES = {0: "normal", 1: "warning", 2: "critical"}


def parse_time(text, now):
    if text == "now":
        return now
    if text.startswith("-"):
        unit = {"s": 1, "m": 60, "h": 3600}[text[-1]]
        return now - float(text[1:-1]) * unit
    return float(text)


def query_range(base, expr, start, end, step):
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{base}/api/v1/query_range?{params}", timeout=30) as reply:
        data = json.load(reply)
    if data.get("status") != "success":
        raise SystemExit(f"query failed: {expr}: {data}")
    return data["data"]["result"]


def points(series):
    return [(float(t), float(v)) for t, v in series["values"]]


def x_of(t, start, end):
    return LEFT + (t - start) / (end - start) * (WIDTH - LEFT - RIGHT)


def draw_axes(out, start, end, y_max, title):
    out.append(f'<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{html.escape(title)}</text>')
    out.append(f'<line x1="{LEFT}" y1="{DROPS_TOP + DROPS_H}" x2="{WIDTH - RIGHT}" '
               f'y2="{DROPS_TOP + DROPS_H}" stroke="#333"/>')
    out.append(f'<line x1="{LEFT}" y1="{DROPS_TOP}" x2="{LEFT}" y2="{DROPS_TOP + DROPS_H}" stroke="#333"/>')
    for i in range(5):
        value = y_max * i / 4
        y = DROPS_TOP + DROPS_H - DROPS_H * i / 4
        out.append(f'<text x="{LEFT - 6}" y="{y + 4}" font-size="11" text-anchor="end">{value:.0f}</text>')
        out.append(f'<line x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" stroke="#eee"/>')
    out.append(f'<text x="14" y="{DROPS_TOP + DROPS_H / 2}" font-size="11" '
               f'transform="rotate(-90 14 {DROPS_TOP + DROPS_H / 2})" text-anchor="middle">drops/s</text>')
    span = end - start
    tick = next(t for t in (5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600) if span / t <= 10)
    t = start - start % tick + tick
    bottom = ALERT_TOP + 3 * ALERT_ROW
    while t < end:
        x = x_of(t, start, end)
        out.append(f'<line x1="{x}" y1="{DROPS_TOP}" x2="{x}" y2="{bottom}" stroke="#f3f3f3"/>')
        out.append(f'<text x="{x}" y="{bottom + 14}" font-size="11" text-anchor="middle">'
                   f'{time.strftime("%H:%M:%S", time.gmtime(t))}</text>')
        t += tick
    out.append(f'<text x="{WIDTH - RIGHT}" y="{bottom + 28}" font-size="11" text-anchor="end">UTC</text>')


def draw_drops(out, drops, start, end, y_max):
    for i, series in enumerate(drops):
        color = COLORS[i % len(COLORS)]
        path = " ".join(f"{x_of(t, start, end):.1f},{DROPS_TOP + DROPS_H - DROPS_H * v / y_max:.1f}"
                        for t, v in points(series))
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.8" points="{path}"/>')
        label = series["metric"].get("reason", "?")
        out.append(f'<rect x="{WIDTH - RIGHT - 190}" y="{DROPS_TOP + 6 + 16 * i}" width="10" '
                   f'height="10" fill="{color}"/>')
        out.append(f'<text x="{WIDTH - RIGHT - 176}" y="{DROPS_TOP + 15 + 16 * i}" font-size="11">'
                   f'kernel drops, {html.escape(label)}</text>')


def draw_bands(out, series_points, top, height, color_of, start, end, step):
    for t, v in series_points:
        color = color_of(v)
        if color:
            x = x_of(t - step / 2, start, end)
            w = max(x_of(t + step / 2, start, end) - x, 0.5)
            out.append(f'<rect x="{x:.1f}" y="{top}" width="{w:.1f}" height="{height}" fill="{color}"/>')


def render(drops, state, alerts, start, end, step, title):
    y_max = max([v for s in drops for _, v in points(s)] + [1]) * 1.1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
           f'height="{ALERT_TOP + 3 * ALERT_ROW + 40}" font-family="sans-serif">',
           '<rect width="100%" height="100%" fill="white"/>']
    draw_axes(out, start, end, y_max, title)
    draw_drops(out, drops, start, end, y_max)
    out.append(f'<text x="{LEFT - 6}" y="{STATE_TOP + 17}" font-size="11" text-anchor="end">detector</text>')
    for s in state[:1]:
        draw_bands(out, points(s), STATE_TOP, STATE_H, lambda v: STATE_COLORS.get(int(v)), start, end, step)
    for i, (level, name) in enumerate(STATE_NAMES.items()):
        out.append(f'<rect x="{LEFT + 90 * i}" y="{STATE_TOP + STATE_H + 4}" width="10" height="8" '
                   f'fill="{STATE_COLORS[level]}"/><text x="{LEFT + 14 + 90 * i}" '
                   f'y="{STATE_TOP + STATE_H + 12}" font-size="10">{name}</text>')
    for row, series in enumerate(alerts[:3]):
        top = ALERT_TOP + row * ALERT_ROW
        name = series["metric"].get("alertname", "?")
        draw_bands(out, points(series), top, ALERT_ROW - 6, lambda v: "#7b3fbf" if v > 0 else None,
                   start, end, step)
        out.append(f'<text x="{LEFT + 4}" y="{top + 12}" font-size="11" fill="#333">'
                   f'alert firing: {html.escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def summary(out, drops, state, alerts, step):
    """One line: what the picture shows (also what the tests check)."""
    levels = {name: 0.0 for name in STATE_NAMES.values()}
    for s in state[:1]:
        for _, v in points(s):
            name = STATE_NAMES.get(int(v))
            if name:
                levels[name] += step
    reasons = ",".join(sorted(d["metric"].get("reason", "?") for d in drops)) or "-"
    names = ",".join(sorted(a["metric"].get("alertname", "?") for a in alerts)) or "-"
    return (f"{out}: drops by reason {reasons}; detector {levels['warning']:.0f} s warning, "
            f"{levels['critical']:.0f} s critical; alerts {names}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090")
    parser.add_argument("--match", required=True, help='e.g. pipeline="cam1"')
    parser.add_argument("--start", default="-10m")
    parser.add_argument("--end", default="now")
    parser.add_argument("--step", type=float, default=1.0)
    parser.add_argument("--rate-window", default="5s")
    parser.add_argument("--title", default=None)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    now = time.time()
    start, end = parse_time(args.start, now), parse_time(args.end, now)
    m = args.match
    drops = query_range(args.prometheus,
                        f"sum by (reason) (rate(vdropmon_stream_kernel_drops_total{{{m}}}[{args.rate_window}]))",
                        start, end, args.step)
    state = query_range(args.prometheus, f"max(vdropmon_stream_detector_state{{{m}}})", start, end, args.step)
    alerts = query_range(args.prometheus, f'max by (alertname) (ALERTS{{{m},alertstate="firing"}})',
                         start, end, args.step)
    if not drops and not state:
        print(f"no vdropmon data for {{{m}}} between {start:.0f} and {end:.0f}", file=sys.stderr)
        return 1
    title = args.title or f"vdropmon episode {{{m}}}"
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(render(drops, state, alerts, start, end, args.step, title))
    print(summary(args.out, drops, state, alerts, args.step))
    return 0


if __name__ == "__main__":
    sys.exit(main())
