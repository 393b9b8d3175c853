# SPDX-License-Identifier: LGPL-2.1-or-later
"""score.py — how early, how often, how wrong: scores of lead-time runs.

Every detector is a list of *alert states* [start, end) on CLOCK_MONOTONIC,
what an application following it would consider "warned":

  vdropmon   from a vdropmon-warning (stamped when posted, in the bus sync
             handler) to the vdropmon-clear that ends its episode; each
             warning, also one repeated inside an open episode, starts one.
  jb-lost    rtpjitterbuffer's num-lost increasing (polled every 20 ms).
             An increase has no "all clear": it counts for HOLD_S (the
             matching window) after the last increase of a cluster. RTP only.
  w3c        the sink-side W3C freeze counter, which increases when the
             frame after a freeze is shown: from each freeze's end, HOLD_S.
             Always late, by construction.
  path-ref   reference, not a product: the first drop on the path — the
             router's tbf drop counter rising (testbed.py polls it every
             50 ms), held like jb-lost, as if the first drop were a warning.
             The router is another machine as far as the receiver can tell
             (the stream runs in a tunnel through it), so these drops are
             never vdropmon's signal; they say how early a drop-based
             detector *on the bottleneck* could have been.

Matching: a trouble episode (truth.py) with onset O and end E, the previous
episode of the same kind ending at P, window start L = max(O - WINDOW_S, P).
If a state that started in [L, O] is still active at O, the lead is
O - its start: warned in time. Otherwise, if a state starts in (O, E], the
lead is O - that start, negative: late. Otherwise the episode was missed.
A warning that was cleared before the onset does not count (the
application had been told that all was well again), nor does a state that
began before the previous episode ended (it was about that one).
Recall = episodes warned in time / episodes.

stall-eta error: for every vdropmon-warning with a known stall-eta that
came before a freeze's onset (and after the previous freeze episode) within
the state that warned of it, the
absolute error of stall-eta against the measured time from the warning to
the picture stopping (the last frame shown before the freeze + one mean
frame duration: when the next frame was due), relative to that time; also
against the W3C onset (which adds the rule's threshold, ~183 ms at
30 fps), for reference.

Precision (vdropmon): a warning is true when a freeze or damage episode
begins while its state is active (or within GRACE_S after the clear, and
within WINDOW_S of the warning), or when the warning comes during an
episode or GRACE_S after it; otherwise false. Warnings in the warm-up
(truth.WARMUP_S after the first frame) are counted apart, as startup
warnings: outside the precision, which has no ground truth there, but
inside the false warnings per stream-hour, since an application sees them
all the same.
"""
import math

WINDOW_S = 10.0
GRACE_S = 1.0
# Alerts without a clear hold as long as the matching window: the baselines
# get the benefit of the doubt.
HOLD_S = WINDOW_S
DETECTORS = ("vdropmon", "jb-lost", "w3c", "path-ref")
CLOCK_TIME_NONE = 2**64 - 1


def percentile(values, q):
    """Linear-interpolated percentile (numpy's default), q in 0..100."""
    if not values:
        return None
    v = sorted(values)
    pos = (len(v) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def lead_stats(leads):
    """mean, sample standard deviation (the spread over runs), min, max,
    median, P5, P95 (s) of the leads that exist."""
    xs = [x for x in leads if x is not None]
    if not xs:
        return {"n": 0, "mean": None, "sd": None, "min": None, "max": None, "median": None,
                "p5": None, "p95": None}
    mean = sum(xs) / len(xs)
    sd = (math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else None)
    return {"n": len(xs), "mean": mean, "sd": sd, "min": min(xs), "max": max(xs),
            "median": percentile(xs, 50), "p5": percentile(xs, 5), "p95": percentile(xs, 95)}


# ---- detectors -------------------------------------------------------------


def vdropmon_states(record):
    """[start, end) from each warning to the clear of its episode. A warning
    repeated inside an open episode (a new freeze predicted, a higher level,
    a new cause) starts a state of its own: the application was told again,
    so a later freeze of a long episode is matched to the warning that came
    after the previous freeze, not to the episode's first one (which the
    matching window excludes)."""
    states, open_starts = [], []
    for m in sorted(record["msg"], key=lambda m: m["t"]):
        if m["name"] == "vdropmon-warning":
            open_starts.append(m["t"])
        elif m["name"] == "vdropmon-clear" and open_starts:
            states += [(s, m["t"]) for s in open_starts]
            open_starts = []
    states += [(s, math.inf) for s in open_starts]
    return states


def cluster_states(times):
    """Alert times closer than HOLD_S make one state, held HOLD_S after the
    last (a state ends at the next episode's window start anyway)."""
    states = []
    hold = int(HOLD_S * 1e9)
    for t in sorted(times):
        if states and t <= states[-1][1]:
            states[-1] = (states[-1][0], t + hold)
        else:
            states.append((t, t + hold))
    return states


def jb_increases(record):
    out = []
    prev = None
    for t, lost, _late in record["jb"]:
        if prev is not None and lost > prev:
            out.append(t)
        prev = lost
    return out


def w3c_increases(truth_):
    return [f["end"] for f in truth_["freezes"] if not f["open"]]


def kernel_drop_times(record):
    return sorted(m["kernel-time"] for m in record["msg"]
                  if m["name"] == "vdropmon-drop" and m["source"].startswith("kernel"))


def path_drop_times(record):
    """When the router's drop counter rose (the poll that saw it)."""
    out, prev = [], None
    for t, drops, _backlog in record.get("path", []):
        if prev is not None and drops > prev:
            out.append(t)
        prev = drops
    return out


def stall_eta_errors(record, truth_, states):
    """(relative error vs picture stop, vs W3C onset) of each warning with a
    stall-eta before a freeze it warned of (see the module doc)."""
    warnings = [m for m in record["msg"] if m["name"] == "vdropmon-warning"
                and m.get("stall-eta") is not None and m["stall-eta"] != CLOCK_TIME_NONE]
    first_freeze = {f["onset"]: f for f in truth_["freezes"]}
    out = []
    prev_end = -math.inf
    for ep in truth_["freeze_episodes"]:
        # warnings that came after the previous freeze: those before it
        # were about that one
        state = [(s, e) for s, e in states if prev_end < s <= ep["onset"] < e]
        prev_end = max(prev_end, ep["end"])
        if not state or ep["onset"] not in first_freeze:
            continue
        s0 = min(s for s, _ in state)
        fr = first_freeze[ep["onset"]]
        avg = min(fr["threshold"] / 3, fr["threshold"] - 150e6)
        stop = fr["last"] + avg
        for m in warnings:
            if s0 <= m["t"] < stop:
                to_stop, to_onset = stop - m["t"], ep["onset"] - m["t"]
                out.append((abs(m["stall-eta"] - to_stop) / to_stop,
                            abs(m["stall-eta"] - to_onset) / to_onset))
    return out


def drop_to_message_ms(record):
    return [(m["t"] - m["kernel-time"]) / 1e6 for m in record["msg"]
            if m["name"] == "vdropmon-drop" and m["source"].startswith("kernel")]


# ---- matching --------------------------------------------------------------


def match(episodes, states, span_start):
    """Lead (s) of each episode: positive in time, negative late, None
    missed."""
    leads = []
    prev_end = span_start - 1
    for ep in episodes:
        # Strictly after the previous episode: an alert about it (the W3C
        # counter at its end) is no alert for this one.
        lo = max(ep["onset"] - WINDOW_S * 1e9, prev_end + 1)
        active = [s for s, e in states if lo <= s <= ep["onset"] < e]
        late = [s for s, _ in states if ep["onset"] < s <= ep["end"]]
        if active:
            leads.append((ep["onset"] - min(active)) / 1e9)
        elif late:
            leads.append((ep["onset"] - min(late)) / 1e9)
        else:
            leads.append(None)
        prev_end = max(prev_end, ep["end"])
    return leads


def warning_verdicts(record, truth_, states):
    """(t, true?, cause, level) for each vdropmon-warning after the warm-up,
    and the number of warnings during the warm-up."""
    troubles = truth_["freeze_episodes"] + truth_["damage_episodes"]
    span_start = truth_["span"][0]
    grace, window = GRACE_S * 1e9, WINDOW_S * 1e9
    out, startup = [], 0
    for m in record["msg"]:
        if m["name"] != "vdropmon-warning":
            continue
        if m["t"] < span_start:
            startup += 1
            continue
        t = m["t"]
        clear = min((e for s, e in states if s <= t < e), default=t)
        ok = any((t <= ep["onset"] <= min(clear + grace, t + window))
                 or (ep["onset"] <= t <= ep["end"] + grace) for ep in troubles)
        out.append((t, ok, m.get("cause"), m.get("level")))
    return out, startup


def score_run(record, truth_):
    span_start, span_end = truth_["span"]
    vstates = vdropmon_states(record)
    states = {"vdropmon": vstates,
              "jb-lost": cluster_states(jb_increases(record)),
              "w3c": [(t, t + int(HOLD_S * 1e9)) for t in w3c_increases(truth_)],
              "path-ref": cluster_states(path_drop_times(record))}
    rtp = record["config"]["transport"] == "rtsp"
    result = {"hours": (span_end - span_start) / 3.6e12}
    for kind in ("freeze", "damage"):
        eps = truth_[f"{kind}_episodes"]
        result[kind] = {"episodes": len(eps), "leads": {}}
        for det in DETECTORS:
            if det == "jb-lost" and not rtp:
                continue
            result[kind]["leads"][det] = match(eps, states[det], span_start)
    verdicts, startup = warning_verdicts(record, truth_, vstates)
    result["warnings"] = len(verdicts)
    result["false_warnings"] = sum(1 for _, ok, _, _ in verdicts if not ok)
    result["false_causes"] = sorted({c for _, ok, c, _ in verdicts if not ok})
    result["startup_warnings"] = startup
    result["drop_to_msg_ms"] = drop_to_message_ms(record)
    result["kernel_drops"] = sum(m["count"] for m in record["msg"]
                                 if m["name"] == "vdropmon-drop"
                                 and m["source"].startswith("kernel"))
    result["verdicts"] = verdicts
    result["stall_eta_errors"] = stall_eta_errors(record, truth_, vstates)
    result["alerts"] = {"jb-lost": jb_increases(record), "w3c": w3c_increases(truth_)}
    return result


# ---- aggregation -----------------------------------------------------------


def median_all(leads):
    """Median lead over every episode, a miss counting as worse than any
    lead (-inf): what comparing two detectors needs, since a detector that
    answered once, early, and missed the rest must not look better."""
    if not leads:
        return None
    return percentile([-math.inf if x is None else x for x in leads], 50)


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
                                     "missed": sum(1 for x in leads if x is None),
                                     "median_all": median_all(leads)}
    row["warnings"] = sum(s["warnings"] for s in scores)
    row["false_warnings"] = sum(s["false_warnings"] for s in scores)
    row["startup_warnings"] = sum(s["startup_warnings"] for s in scores)
    row["precision"] = (None if row["warnings"] == 0 else
                        (row["warnings"] - row["false_warnings"]) / row["warnings"])
    # Startup warnings are not in the precision (no ground truth before the
    # W3C rule has its 30 frames) but an application sees them: they count
    # as false in the rate.
    false_all = row["false_warnings"] + row["startup_warnings"]
    row["false_per_hour"] = false_all / row["hours"] if row["hours"] else None
    lat = [x for s in scores for x in s["drop_to_msg_ms"]]
    row["drop_to_msg_ms"] = {"n": len(lat), "median": percentile(lat, 50),
                             "p95": percentile(lat, 95), "max": max(lat) if lat else None}
    row["kernel_drops"] = sum(s["kernel_drops"] for s in scores)
    errs = [e for s in scores for e in s.get("stall_eta_errors", [])]
    row["stall_eta_error"] = {"n": len(errs),
                              "median": percentile([a for a, _ in errs], 50),
                              "p95": percentile([a for a, _ in errs], 95),
                              "median_vs_onset": percentile([b for _, b in errs], 50)}
    row["false_causes"] = sorted({c for s in scores for c in s["false_causes"] if c})
    return row
