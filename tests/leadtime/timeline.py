# SPDX-License-Identifier: LGPL-2.1-or-later
"""timeline.py — one picture per run: what happened, what the viewer saw,
who said so and when. Plain SVG written by hand (no plotting library).

Lanes, top to bottom, on one time axis (seconds after the first frame):
  network / host   the perturbation: outages, CPU quota, tbf rate
  frames shown     bands of frames rendered; damaged ones orange
  freezes (W3C)    red: from the last frame to the next; a dark line at onset
  damage           orange: runs of damaged frames shown
  kernel drops     drops per 100 ms (kernel-time), log scale
  vdropmon         warning (orange) / critical (red) triangles, clear (green),
                   the warning state as a band; the lead to each freeze
  arrival lag      vdropmon-stats lag (ms), once a second
  jitterbuffer     num-lost increases (RTP only)
  W3C counter      freezeCount increases (at the end of each freeze)
"""
import math
from xml.sax.saxutils import escape

WIDTH = 1200
LEFT = 150
RIGHT = 20
TOP = 56
LANE_H = 34
GAP = 6
FRAME_RUN_GAP_NS = 70_000_000   # about two frame intervals at 30 fps
LANES = ("network / host", "frames shown", "freezes (W3C)", "damage", "kernel drops",
         "vdropmon", "arrival lag", "jitterbuffer", "W3C counter")
COLORS = {"frame": "#9aa5b1", "damaged": "#f08c00", "freeze": "#e03131", "onset": "#7a0c0c",
          "drop": "#364fc7", "warning": "#f59f00", "critical": "#e03131", "clear": "#2f9e44",
          "state": "#fff3bf", "jb": "#1c7ed6", "w3c": "#862e9c", "perturb": "#ced4da",
          "rate": "#495057", "lag": "#0b7285"}


class Svg:
    def __init__(self, width, height):
        self.parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
                      f'height="{height}" viewBox="0 0 {width} {height}" '
                      'font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
                      f'<rect width="{width}" height="{height}" fill="white"/>']

    def add(self, s):
        self.parts.append(s)

    def rect(self, x, y, w, h, fill, opacity=1.0, stroke="none"):
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.8):.1f}" height="{h:.1f}" '
                 f'fill="{fill}" fill-opacity="{opacity}" stroke="{stroke}"/>')

    def line(self, x1, y1, x2, y2, stroke, width=1.0, dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                 f'stroke="{stroke}" stroke-width="{width}"{d}/>')

    def text(self, x, y, s, size=11, anchor="start", fill="#212529", weight="normal"):
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
                 f'fill="{fill}" font-weight="{weight}">{escape(s)}</text>')

    def poly(self, points, fill, stroke="none"):
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        self.add(f'<polygon points="{pts}" fill="{fill}" stroke="{stroke}"/>')

    def polyline(self, points, stroke, width=1.5):
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        self.add(f'<polyline points="{pts}" fill="none" stroke="{stroke}" '
                 f'stroke-width="{width}"/>')

    def done(self):
        return "\n".join(self.parts + ["</svg>"])


def _rate_mbit(text):
    units = {"kbit": 1e-3, "mbit": 1.0, "gbit": 1e3}
    for unit, f in units.items():
        if text.endswith(unit):
            return float(text[: -len(unit)]) * f
    return float(text) / 1e6


def render(record, truth_, score, title):
    t0 = record["first_frame_ns"]
    t_end = record["end_ns"]
    span_s = max(1.0, (t_end - t0) / 1e9)
    plot_w = WIDTH - LEFT - RIGHT
    height = TOP + len(LANES) * (LANE_H + GAP) + 60
    svg = Svg(WIDTH, height)

    def x(t_ns):
        return LEFT + max(0.0, min(span_s, (t_ns - t0) / 1e9)) / span_s * plot_w

    def lane_y(name):
        return TOP + LANES.index(name) * (LANE_H + GAP)

    svg.text(LEFT, 20, title, size=14, weight="bold")
    _legend(svg)
    # Lanes and grid.
    for name in LANES:
        y = lane_y(name)
        svg.rect(LEFT, y, plot_w, LANE_H, "#f8f9fa")
        svg.text(LEFT - 8, y + LANE_H / 2 + 4, name, anchor="end")
    step = 5 if span_s > 15 else 1
    bottom = TOP + len(LANES) * (LANE_H + GAP) - GAP
    for s in range(0, int(span_s) + 1, step):
        xs = LEFT + s / span_s * plot_w
        svg.line(xs, TOP, xs, bottom, "#dee2e6", 0.8)
        svg.text(xs, bottom + 14, f"{s}", anchor="middle", size=10)
    svg.text(LEFT + plot_w / 2, bottom + 30, "seconds after the first frame shown",
             anchor="middle", size=11)
    ws = truth_["span"][0]
    svg.rect(LEFT, TOP, x(ws) - LEFT, bottom - TOP, "#e9ecef", 0.5)

    _perturbations(svg, record, x, lane_y("network / host"), t0, t_end)
    _frames(svg, record, truth_, x, lane_y("frames shown"))
    _freezes(svg, truth_, x, lane_y("freezes (W3C)"), bottom)
    for r in truth_["damage_runs"]:
        svg.rect(x(r["onset"]), lane_y("damage") + 6, x(r["end"]) - x(r["onset"]),
                 LANE_H - 12, COLORS["damaged"], 0.8)
    if not truth_["damage_applicable"]:
        svg.text(LEFT + 6, lane_y("damage") + LANE_H / 2 + 4,
                 "n/a over TCP: nothing is lost, only late", size=10, fill="#868e96")
    _drops(svg, record, x, lane_y("kernel drops"), t0, span_s)
    _vdropmon(svg, record, truth_, score, x, lane_y("vdropmon"))
    _lag(svg, record, x, lane_y("arrival lag"))
    yj = lane_y("jitterbuffer")
    if record["config"]["transport"] == "rtsp":
        for t in score["alerts"]["jb-lost"]:
            _diamond(svg, x(t), yj + LANE_H / 2, COLORS["jb"])
    else:
        svg.text(LEFT + 6, yj + LANE_H / 2 + 4, "n/a (no jitterbuffer over HTTP-FLV)",
                 size=10, fill="#868e96")
    for t in score["alerts"]["w3c"]:
        _diamond(svg, x(t), lane_y("W3C counter") + LANE_H / 2, COLORS["w3c"])
    return svg.done()


def _legend(svg):
    items = [("freeze", "freeze"), ("damaged", "damaged frames"), ("drop", "kernel drops"),
             ("warning", "warning"), ("critical", "critical"), ("clear", "clear"),
             ("jb", "num-lost +"), ("w3c", "freezeCount +")]
    xx = LEFT
    for key, label in items:
        svg.rect(xx, 30, 10, 10, COLORS[key])
        svg.text(xx + 14, 39, label, size=10)
        xx += 24 + 6.2 * len(label)


def _diamond(svg, cx, cy, fill, r=5):
    svg.poly([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill)


def _perturbations(svg, record, x, y, t0, t_end):
    applied = record.get("applied", [])
    on = {}
    rates = []
    for a in applied:
        if a["op"] in ("blackhole", "cpu", "slow-reader"):
            active = (a["on"] if a["op"] == "blackhole" else a["quota_pct"] is not None
                      if a["op"] == "cpu" else a["delay_us"] > 0)
            if active:
                on[a["op"]] = a
            elif a["op"] in on:
                start = on.pop(a["op"])
                label = ("outage" if a["op"] == "blackhole" else
                         f"reader +{start['delay_us'] / 1000:.1f} ms/packet"
                         if a["op"] == "slow-reader" else f"CPU {start['quota_pct']}%")
                if start.get("threads"):
                    label += " (socket readers)"
                if "throttled_periods" in a:
                    label += f", stopped in {a['throttled_periods']} periods"
                svg.rect(x(start["t"]), y + 2, x(a["t"]) - x(start["t"]), LANE_H - 4,
                         COLORS["perturb"])
                svg.text(x(start["t"]) + 3, y + LANE_H / 2 + 4, label, size=10)
        elif a["op"] == "tbf":
            rates.append((a["t"], _rate_mbit(a["rate"])))
    for op, start in on.items():   # still on at the end
        svg.rect(x(start["t"]), y + 2, x(t_end) - x(start["t"]), LANE_H - 4, COLORS["perturb"])
    if rates:
        first = _rate_mbit(record["scenario"]["tbf"]["rate"])
        pts_rate = [(t0, first)] + rates + [(t_end, rates[-1][1])]
        top = max(r for _, r in pts_rate)
        pts = []
        for i, (t, r) in enumerate(pts_rate):
            yy = y + LANE_H - 3 - (LANE_H - 6) * r / top
            if i:
                pts.append((x(t), pts[-1][1]))
            pts.append((x(t), yy))
        svg.polyline(pts, COLORS["rate"])
        bitrate = record["scenario"].get("bitrate_mbit", 1.5)
        yb = y + LANE_H - 3 - (LANE_H - 6) * bitrate / top
        svg.line(LEFT, yb, x(t_end), yb, COLORS["critical"], 0.6, "3,3")
        svg.text(x(t_end) - 4, y + 10, f"tbf rate (max {top:.1f} Mbit/s); dashed: stream "
                 f"{bitrate:.1f} Mbit/s", size=9, anchor="end", fill=COLORS["rate"])


def _frames(svg, record, truth_, x, y):
    """Frames shown close together (under FRAME_RUN_GAP_NS apart, same
    state) make one band, so a gap of a few frames shows as a gap."""
    damaged = set(truth_["damaged_frames"])
    runs = []   # [first t, last t, damaged?]
    for t, _ in record["shown"]:
        bad = t in damaged
        if runs and t - runs[-1][1] < FRAME_RUN_GAP_NS and runs[-1][2] == bad:
            runs[-1][1] = t
        else:
            runs.append([t, t, bad])
    for first, last, bad in runs:
        color = COLORS["damaged"] if bad else COLORS["frame"]
        svg.rect(x(first), y + 4, x(last) - x(first), LANE_H - 8, color)


def _freezes(svg, truth_, x, y, bottom):
    for f in truth_["freezes"]:
        svg.rect(x(f["last"]), y + 6, x(f["end"]) - x(f["last"]), LANE_H - 12,
                 COLORS["freeze"], 0.85)
    for ep in truth_["freeze_episodes"]:
        svg.line(x(ep["onset"]), TOP, x(ep["onset"]), bottom, COLORS["onset"], 1.0, "4,3")


def _drops(svg, record, x, y, t0, span_s):
    bins = {}
    for m in record["msg"]:
        if m["name"] == "vdropmon-drop" and m["source"].startswith("kernel"):
            k = int((m["kernel-time"] - t0) // 100_000_000)
            bins[k] = bins.get(k, 0) + m["count"]
    if not bins:
        svg.text(LEFT + 6, y + LANE_H / 2 + 4, "none", size=10, fill="#868e96")
        return
    top = math.log10(1 + max(bins.values()))
    for k, n in bins.items():
        h = (LANE_H - 4) * math.log10(1 + n) / max(top, 1e-9)
        t = t0 + k * 100_000_000
        svg.rect(x(t), y + LANE_H - 2 - h, max(1.5, x(t + 100_000_000) - x(t) - 0.5), h,
                 COLORS["drop"])
    total = sum(bins.values())
    svg.text(x(record["end_ns"]) - 4, y + 10, f"{total} drops, max {max(bins.values())}/100 ms",
             size=9, anchor="end", fill=COLORS["drop"])


def _vdropmon(svg, record, truth_, score, x, y):
    start = None
    for m in sorted(record["msg"], key=lambda m: m["t"]):
        if m["name"] == "vdropmon-warning":
            if start is None:
                start = m["t"]
        elif m["name"] == "vdropmon-clear" and start is not None:
            svg.rect(x(start), y + 2, x(m["t"]) - x(start), LANE_H - 4, COLORS["state"])
            start = None
    if start is not None:
        svg.rect(x(start), y + 2, x(record["end_ns"]) - x(start), LANE_H - 4, COLORS["state"])
    last_label_x = -1e9
    for m in record["msg"]:
        xx = x(m["t"])
        if m["name"] == "vdropmon-warning":
            color = COLORS["critical"] if m.get("level") == "critical" else COLORS["warning"]
            svg.poly([(xx, y + 6), (xx - 5, y + 16), (xx + 5, y + 16)], color)
            if xx - last_label_x > 60:
                svg.text(xx + 4, y + LANE_H - 3, m.get("cause", ""), size=9)
                last_label_x = xx
        elif m["name"] == "vdropmon-clear":
            svg.rect(xx - 3, y + 8, 6, 6, COLORS["clear"])
    leads = score["freeze"]["leads"].get("vdropmon", [])
    for ep, lead in zip(truth_["freeze_episodes"], leads):
        label = "missed" if lead is None else f"lead {lead:+.2f} s"
        svg.text(x(ep["onset"]) - 3, y - 1, label, size=9, anchor="end",
                 fill=COLORS["onset"], weight="bold")


def _lag(svg, record, x, y):
    pts = [(m["t"], m.get("lag")) for m in record["msg"]
           if m["name"] == "vdropmon-stats" and isinstance(m.get("lag"), (int, float))]
    if not pts:
        return
    top = max(100.0, max(v for _, v in pts))
    svg.polyline([(x(t), y + LANE_H - 3 - (LANE_H - 6) * max(v, 0) / top) for t, v in pts],
                 COLORS["lag"])
    svg.text(x(record["end_ns"]) - 4, y + 10, f"max {top:.0f} ms", size=9, anchor="end",
             fill=COLORS["lag"])
