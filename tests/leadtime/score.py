# SPDX-License-Identifier: LGPL-2.1-or-later
"""score.py — how early, how often, how wrong: scores of lead-time runs.

Detectors, each a list of alert times (CLOCK_MONOTONIC ns) on the same run:

  vdropmon   every vdropmon-warning, stamped when posted (bus sync
             handler). A warning episode lasts until vdropmon-clear; an
             episode that opened before a trouble's window and is still open
             at its onset counts as an alert at the window's start (the
             application has been warned all along).
  jb-lost    rtpjitterbuffer's num-lost, each time it increases (polled every
             20 ms), what an application watching the jitterbuffer learns.
             RTP only.
  w3c        the sink-side W3C freeze counter: it increases when the frame
             after a freeze is shown, i.e. at the end of the freeze.
  kernel-ref reference, not a product: the kernel-time of every kernel drop
             on the stream's path, as if each drop were a warning.

Matching: a trouble episode (truth.py) with onset O and end E, the previous
episode of the same kind ending at P, gets the first alert in
[max(O - WINDOW_S, P), E]. Lead = O - alert: positive when the alert came
first, negative when late; none at all is a miss. Recall = episodes alerted
at or before onset / episodes.

Precision (vdropmon): a warning is true when it lies within
[O - WINDOW_S, E + GRACE_S] of a freeze or damage episode, otherwise false.
Warnings in the warm-up (truth.WARMUP_S after the first frame) are counted
apart, as startup warnings.
"""
import math

WINDOW_S = 10.0
GRACE_S = 1.0
DETECTORS = ("vdropmon", "jb-lost", "w3c", "kernel-ref")


def percentile(values, q):
    """Linear-interpolated percentile (numpy's default), q in 0..100."""
    if not values:
        return None
    v = sorted(values)
    pos = (len(v) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def lead_stats(leads):
    """mean, median, P5, P95 (s) of the leads that exist."""
    xs = [x for x in leads if x is not None]
    if not xs:
        return {"n": 0, "mean": None, "median": None, "p5": None, "p95": None}
    return {"n": len(xs), "mean": sum(xs) / len(xs), "median": percentile(xs, 50),
            "p5": percentile(xs, 5), "p95": percentile(xs, 95)}


# ---- detectors -------------------------------------------------------------


def vdropmon_alerts(record):
    warnings = [m["t"] for m in record["msg"] if m["name"] == "vdropmon-warning"]
    episodes = []   # [start, end) of warning states
    start = None
    for m in sorted(record["msg"], key=lambda m: m["t"]):
        if m["name"] == "vdropmon-warning" and start is None:
            start = m["t"]
        elif m["name"] == "vdropmon-clear" and start is not None:
            episodes.append((start, m["t"]))
            start = None
    if start is not None:
        episodes.append((start, math.inf))
    return warnings, episodes


def jb_alerts(record):
    out = []
    prev = None
    for t, lost, _late in record["jb"]:
        if prev is not None and lost > prev:
            out.append(t)
        prev = lost
    return out


def w3c_alerts(truth_):
    return [f["end"] for f in truth_["freezes"] if not f["open"]]


def kernel_drop_times(record):
    return sorted(m["kernel-time"] for m in record["msg"]
                  if m["name"] == "vdropmon-drop" and m["source"].startswith("kernel"))


def drop_to_message_ms(record):
    return [(m["t"] - m["kernel-time"]) / 1e6 for m in record["msg"]
            if m["name"] == "vdropmon-drop" and m["source"].startswith("kernel")]


# ---- matching --------------------------------------------------------------


def match(episodes, alerts, span_start, carry=()):
    """Lead (s) of each episode, None when no alert came in its window."""
    leads = []
    prev_end = span_start
    for ep in episodes:
        lo = max(ep["onset"] - WINDOW_S * 1e9, prev_end)
        hit = [a for a in alerts if lo <= a <= ep["end"]]
        # A warning state that opened before the window and is still open at
        # onset: the application has been warned all along the window.
        if any(s < lo and e > ep["onset"] for s, e in carry):
            hit.append(lo)
        leads.append((ep["onset"] - min(hit)) / 1e9 if hit else None)
        prev_end = max(prev_end, ep["end"])
    return leads


def warning_verdicts(record, truth_):
    """(t, true?) for each vdropmon-warning after the warm-up, and the
    number of warnings during the warm-up."""
    troubles = truth_["freeze_episodes"] + truth_["damage_episodes"]
    span_start = truth_["span"][0]
    out, startup = [], 0
    for m in record["msg"]:
        if m["name"] != "vdropmon-warning":
            continue
        if m["t"] < span_start:
            startup += 1
            continue
        ok = any(ep["onset"] - WINDOW_S * 1e9 <= m["t"] <= ep["end"] + GRACE_S * 1e9
                 for ep in troubles)
        out.append((m["t"], ok, m.get("cause"), m.get("level")))
    return out, startup


def score_run(record, truth_):
    span_start, span_end = truth_["span"]
    warnings, warn_states = vdropmon_alerts(record)
    alerts = {"vdropmon": warnings, "jb-lost": jb_alerts(record), "w3c": w3c_alerts(truth_),
              "kernel-ref": kernel_drop_times(record)}
    rtp = record["config"]["transport"] == "rtsp"
    result = {"hours": (span_end - span_start) / 3.6e12}
    for kind in ("freeze", "damage"):
        eps = truth_[f"{kind}_episodes"]
        result[kind] = {"episodes": len(eps), "leads": {}}
        for det in DETECTORS:
            if det == "jb-lost" and not rtp:
                continue
            carry = warn_states if det == "vdropmon" else ()
            result[kind]["leads"][det] = match(eps, alerts[det], span_start, carry)
    verdicts, startup = warning_verdicts(record, truth_)
    result["warnings"] = len(verdicts)
    result["false_warnings"] = sum(1 for _, ok, _, _ in verdicts if not ok)
    result["false_causes"] = sorted({c for _, ok, c, _ in verdicts if not ok})
    result["startup_warnings"] = startup
    result["drop_to_msg_ms"] = drop_to_message_ms(record)
    result["kernel_drops"] = sum(m["count"] for m in record["msg"]
                                 if m["name"] == "vdropmon-drop"
                                 and m["source"].startswith("kernel"))
    result["verdicts"] = verdicts
    result["alerts"] = alerts
    return result


# ---- aggregation -----------------------------------------------------------


def recall(leads):
    if not leads:
        return None
    return sum(1 for x in leads if x is not None and x >= 0) / len(leads)


def aggregate(scores):
    """Pools the runs' scores (a list of score_run results) into one row."""
    row = {"runs": len(scores), "hours": sum(s["hours"] for s in scores)}
    for kind in ("freeze", "damage"):
        row[kind] = {"episodes": sum(s[kind]["episodes"] for s in scores), "det": {}}
        for det in DETECTORS:
            leads = [x for s in scores for x in s[kind]["leads"].get(det, [])]
            have = any(det in s[kind]["leads"] for s in scores)
            if not have:
                continue
            row[kind]["det"][det] = {"recall": recall(leads), **lead_stats(leads),
                                     "missed": sum(1 for x in leads if x is None)}
    row["warnings"] = sum(s["warnings"] for s in scores)
    row["false_warnings"] = sum(s["false_warnings"] for s in scores)
    row["startup_warnings"] = sum(s["startup_warnings"] for s in scores)
    row["precision"] = (None if row["warnings"] == 0 else
                        (row["warnings"] - row["false_warnings"]) / row["warnings"])
    row["false_per_hour"] = row["false_warnings"] / row["hours"] if row["hours"] else None
    lat = [x for s in scores for x in s["drop_to_msg_ms"]]
    row["drop_to_msg_ms"] = {"n": len(lat), "median": percentile(lat, 50),
                             "p95": percentile(lat, 95), "max": max(lat) if lat else None}
    row["kernel_drops"] = sum(s["kernel_drops"] for s in scores)
    row["false_causes"] = sorted({c for s in scores for c in s["false_causes"] if c})
    return row
