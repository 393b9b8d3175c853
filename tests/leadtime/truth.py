# SPDX-License-Identifier: LGPL-2.1-or-later
"""truth.py — what the viewer saw: the ground truth of a lead-time run.

Two kinds of trouble, both from the receiver's record (CLOCK_MONOTONIC ns):

* Freezes, by the W3C webrtc-stats rule (freezeCount): a freeze is a time
  between two consecutively rendered frames of at least
  max(3 * avg, avg + 150 ms), avg being the mean frame duration of the
  last 30 rendered frames. Its onset — the moment the rule can call it a
  freeze — is the last frame shown plus that threshold; it ends when the
  next frame is shown (when freezeCount would increase). The decoder runs
  with output-corrupt=false, so frames it knows are broken are not shown
  and make freezes, as in a player that holds the last good frame.

* Damage: FFmpeg conceals many lost slices without calling the frame
  corrupt, so such frames are shown, broken. A frame is damaged when it
  left the parser after a loss was seen before the depayloader (a
  jitterbuffer lost event or an RTP sequence gap) and before the next
  keyframe. Damage onset is when the first damaged frame is shown. RTP
  only: over TCP (HTTP-FLV) nothing is lost, only late.

Troubles of a kind closer than MERGE_S to each other make one episode:
one outage, one starvation, one congestion, as a viewer would tell it.
"""
import bisect

W3C_WINDOW = 30
W3C_MIN_EXTRA_NS = 150_000_000
MERGE_S = 2.0
# The W3C rule needs 30 frames of history; the first seconds of a stream
# (the jitterbuffer filling, the decoder starting) are not scored.
WARMUP_S = 2.0
INF = float("inf")
CLOCK_TIME_NONE = 2**64 - 1


def freezes(shown, end_ns):
    """Every W3C freeze: dicts with last (last frame before), onset, end
    (next frame, or end_ns if none came: open), threshold, open."""
    times = [t for t, _ in shown]
    out = []
    for i in range(W3C_WINDOW + 1, len(times) + 1):
        avg = (times[i - 1] - times[i - 1 - W3C_WINDOW]) / W3C_WINDOW
        threshold = max(3 * avg, avg + W3C_MIN_EXTRA_NS)
        nxt = times[i] if i < len(times) else end_ns
        if nxt - times[i - 1] >= threshold:
            out.append({"last": times[i - 1], "onset": int(times[i - 1] + threshold),
                        "end": nxt, "threshold": int(threshold), "open": i == len(times)})
    return out


def damaged_pts_ranges(loss, parsed):
    """Merged [start_pts, end_pts) ranges of the frames damaged by the
    losses; end_pts is infinite when no keyframe followed before the end."""
    # Buffers without a PTS (GST_CLOCK_TIME_NONE: codec headers out of
    # band) are no frame; a keyframe flag on one is no end of the damage.
    parsed = [p for p in parsed if p[1] < CLOCK_TIME_NONE]
    parsed_t = [p[0] for p in parsed]
    next_key = [INF] * (len(parsed) + 1)   # PTS of the first keyframe after i
    for i in range(len(parsed) - 1, -1, -1):
        nxt = parsed[i + 1] if i + 1 < len(parsed) else None
        next_key[i] = nxt[1] if nxt is not None and nxt[2] else next_key[i + 1]
    ranges = []
    for t_loss in sorted(l["t"] for l in loss):
        j = bisect.bisect_left(parsed_t, t_loss)
        if j < len(parsed):
            ranges.append((parsed[j][1], next_key[j]))
    merged = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def damaged_frames(shown, ranges):
    """Indices of the shown frames whose PTS falls in a damaged range."""
    out = []
    for i, (_, pts) in enumerate(shown):
        for start, end in ranges:
            if start <= pts < end:
                out.append(i)
                break
    return out


def damage_runs(shown, damaged_idx):
    """Runs of consecutively shown damaged frames: onset = first shown,
    end = last shown."""
    runs = []
    for i in damaged_idx:
        if runs and runs[-1]["last_idx"] == i - 1:
            runs[-1]["last_idx"] = i
            runs[-1]["end"] = shown[i][0]
            runs[-1]["frames"] += 1
        else:
            runs.append({"onset": shown[i][0], "end": shown[i][0], "last_idx": i, "frames": 1})
    return runs


def episodes(events, merge_s=MERGE_S):
    """Merges events (dicts with onset, end) closer than merge_s."""
    out = []
    for e in sorted(events, key=lambda e: e["onset"]):
        if out and e["onset"] - out[-1]["end"] < merge_s * 1e9:
            out[-1]["end"] = max(out[-1]["end"], e["end"])
            out[-1]["count"] += 1
        else:
            out.append({"onset": e["onset"], "end": e["end"], "count": 1})
    return out


def ground_truth(record):
    """Freeze and damage episodes inside the scored span of a run."""
    shown = record["shown"]
    first = record["first_frame_ns"]
    end = record["end_ns"]
    start = first + int(WARMUP_S * 1e9)
    all_freezes = freezes(shown, end)
    scored_freezes = [f for f in all_freezes if start <= f["onset"] <= end]
    rtp = record["config"]["transport"] == "rtsp"
    truth = {"span": [start, end], "freezes": scored_freezes,
             "freeze_episodes": episodes(scored_freezes),
             "damage_applicable": rtp, "damaged_frames": [], "damage_runs": [],
             "damage_episodes": []}
    if rtp:
        ranges = damaged_pts_ranges(record["loss"], record["parsed"])
        idx = damaged_frames(shown, ranges)
        runs = [r for r in damage_runs(shown, idx) if start <= r["onset"] <= end]
        truth["damaged_frames"] = [shown[i][0] for i in idx]
        truth["damage_runs"] = runs
        truth["damage_episodes"] = episodes(runs)
    return truth
