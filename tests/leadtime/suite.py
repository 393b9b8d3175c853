#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""suite.py — runs the lead-time scenarios, scores them, writes the tables
and one timeline picture per run. Needs root (network namespaces, eBPF,
cgroups) and a build directory with the plugin and the test servers.

  suite.py [--build-dir DIR] [--out DIR] [--scenarios a,b] [--transports rtsp,flv]
           [--latencies 200,2000] [--seed N] [--repeat N (default: 3 gradual, 1 others)]
  suite.py --smoke ...     three short runs over RTSP/UDP, one per trigger of
                           issue 12 (a link stall at 200 ms, a queue building
                           up at 2000 ms, a starved reader at 200 ms), with
                           checks that the harness works and that each
                           trigger fires (exit 1 if not)
  suite.py --rescore ...   score the records already in OUT again, run nothing

Output in OUT (default BUILD/leadtime): runs/<run>/{record.json, score.json,
timeline.svg, receiver.log, server.log}, results.md, results.json.
Exit status: 0 done (targets are reported, not asserted), 1 a run or a
smoke check failed, 77 vdropmon's collector is not running (smoke only:
the caller turns that into a skip or, with VDROPMON_REQUIRE_BPF=1, a failure).
"""
import argparse
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402
import scenarios  # noqa: E402
import score  # noqa: E402
import testbed  # noqa: E402
import timeline  # noqa: E402
import truth  # noqa: E402

EXIT_NO_BPF = 77
# A gradual ramp is one trouble per run; the others have three (or none).
DEFAULT_REPEATS = {"gradual": 3}


def log(msg):
    print(f"leadtime: {msg}", file=sys.stderr, flush=True)


def run_id(kind, transport, latency, repeat):
    return f"{kind}-{transport}-{latency}ms-{repeat}"


def title_of(record, sc):
    cfg = record["config"]
    v = sc["freeze"]["leads"].get("vdropmon", [])
    hit = sum(1 for x in v if x is not None and x >= 0)
    leads = sorted(x for x in v if x is not None)
    med = f", median lead {score.percentile(leads, 50):+.2f} s" if leads else ""
    return (f"{record['scenario']['kind']} · {report.TRANSPORT_NAMES[cfg['transport']]} · "
            f"latency {cfg['latency_ms']} ms · seed {record['scenario']['seed']} — "
            f"{len(v)} freeze episode(s), vdropmon warned {hit} in time{med}")


def analyse(run_dir):
    """Scores one stored run and draws its timeline; returns (record, score)."""
    with open(os.path.join(run_dir, "record.json")) as f:
        record = json.load(f)
    gt = truth.ground_truth(record)
    sc = score.score_run(record, gt)
    with open(os.path.join(run_dir, "score.json"), "w") as f:
        json.dump({"truth": gt, "score": sc}, f, indent=1)
    with open(os.path.join(run_dir, "timeline.svg"), "w") as f:
        f.write(timeline.render(record, gt, sc, title_of(record, sc)))
    return record, gt, sc


def collector_status(record):
    stats = [m for m in record["msg"] if m["name"] == "vdropmon-stats"]
    return stats[-1].get("collector-status") if stats else None


def execute(args, plan):
    prefix = f"vdmlt{os.getpid()}"
    failed = []
    for kind, transport, latency, repeat in plan:
        rid = run_id(kind, transport, latency, repeat)
        seed = scenarios.run_seed(args.seed, kind, transport, latency, repeat)
        sc = scenarios.build(kind, seed, smoke=args.smoke)
        sc["bitrate_mbit"] = scenarios.STREAM["bitrate_kbps"] / 1000.0
        run_dir = os.path.join(args.out, "runs", rid)
        log(f"{rid}: {sc['about']} ({sc['duration_s']} s, seed {seed})")
        started = time.monotonic()
        try:
            record = testbed.run_scenario(sc, transport, latency, scenarios.STREAM,
                                          args.build_dir, run_dir, prefix, log)
        except testbed.TestbedError as e:
            log(f"{rid}: FAILED: {e}")
            failed.append(rid)
            continue
        with open(os.path.join(run_dir, "record.json"), "w") as f:
            json.dump(record, f)
        log(f"{rid}: done in {time.monotonic() - started:.0f} s, {len(record['shown'])} frames "
            f"shown, collector {collector_status(record)}, end {record['end_reason']}")
        if record["end_reason"] != "duration":
            failed.append(rid)
    return failed


def table_rows(results):
    """Rows pooled per (kind, transport, latency), then per kind, then all."""
    groups, by_kind = {}, {}
    for (kind, transport, latency, _), sc in results:
        groups.setdefault((kind, transport, f"{latency} ms"), []).append(sc)
        by_kind.setdefault(kind, []).append(sc)
    order = {k: i for i, k in enumerate(scenarios.KINDS)}
    rows = [(key, score.aggregate(v)) for key, v in
            sorted(groups.items(), key=lambda kv: (order[kv[0][0]], kv[0][1], int(kv[0][2][:-3])))]
    kind_rows = [((kind, "all", "all"), score.aggregate(v))
                 for kind, v in sorted(by_kind.items(), key=lambda kv: order[kv[0]])]
    overall = score.aggregate([sc for _, sc in results])
    return rows, kind_rows, overall


def write_report(args, results):
    rows, kind_rows, overall = table_rows(results)
    quiet = [sc for key, sc in results if key[0] in report.QUIET]
    quiet_row = score.aggregate(quiet) if quiet else None
    parts = ["## Freezes (W3C rule at the sink), per scenario", "",
             report.freeze_table(rows), "", "## Per scenario kind, all transports and latencies",
             "", report.freeze_table(kind_rows), "",
             "## Damaged frames shown (RTP only)", "", report.damage_table(rows), "",
             "## Targets (reported, not asserted)", "",
             report.targets(rows, lambda key: int(key[2].split()[0])),
             report.recall_line(overall)]
    if quiet_row:
        parts.append(f"| ≤ 1 false warning per stream-hour | clean + benign, all | "
                     f"{report.false_line(quiet_row)} "
                     f"| {report.yes((quiet_row['false_per_hour'] or 0) <= 1)} |")
    parts += ["", f"Overall: {overall['freeze']['episodes']} freeze episodes in "
              f"{overall['runs']} runs ({overall['hours'] * 60:.1f} stream-minutes scored); "
              f"vdropmon warnings {overall['warnings']} ({overall['false_warnings']} false, "
              f"{overall['startup_warnings']} in the first {truth.WARMUP_S:.0f} s, not scored); "
              f"false-warning causes: {', '.join(overall['false_causes']) or 'none'}; "
              f"kernel drops {overall['kernel_drops']}, drop→message median "
              f"{report.s(overall['drop_to_msg_ms']['median'], 1)} ms, "
              f"P95 {report.s(overall['drop_to_msg_ms']['p95'], 1)} ms, "
              f"max {report.s(overall['drop_to_msg_ms']['max'], 1)} ms."]
    text = "\n".join(parts) + "\n"
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"rows": [[list(k), r] for k, r in rows],
                   "kinds": [[list(k), r] for k, r in kind_rows], "overall": overall,
                   "runs": [[list(k), {kk: vv for kk, vv in sc.items() if kk != "alerts"}]
                            for k, sc in results]}, f, indent=1)
    print(text)
    return overall


# The smoke runs: one per trigger of issue 12 (kind, transport, latency).
SMOKE_PLAN = [("stall", "rtsp", 200), ("congestion", "rtsp", 2000), ("starved", "rtsp", 200)]
# vdropmon's default runway-threshold: a lag-based warning says at most this.
RUNWAY_THRESHOLD_NS = 2 * 10**9


def warnings_of(record):
    return [m for m in record["msg"] if m["name"] == "vdropmon-warning"]


def stall_checks(record, gt, sc):
    """A link stall: a freeze the ground truth sees, drops at the router
    that the path reference sees (and vdropmon does not: the router is
    another machine to it), a warning (the adaptive stall threshold) and a
    lead the scorer computes."""
    problems = []
    if not gt["freeze_episodes"]:
        problems.append("the outage gave no freeze at the sink (ground truth broken?)")
    if not score.path_drop_times(record):
        problems.append("the router's drop counter never rose (path reference broken?)")
    if sc["kernel_drops"] != 0:
        problems.append(f"vdropmon reported {sc['kernel_drops']} kernel drops: the router's "
                        "drops reach the receiver's flow keys (tunnel broken?)")
    if not any(x is not None for x in sc["freeze"]["leads"].get("vdropmon", [])):
        problems.append("no lead time could be computed")
    return problems


def congestion_checks(record, gt, sc):
    """A queue building up on the path (2000 ms): the delay-gradient trigger
    warns, network / lower-bitrate, before any drop or freeze. Only it can
    say a stall-eta beyond runway-threshold (the runway and a stall say at
    most the threshold or the buffer), with path-usage overusing seen. The
    congestion lasts: after the first freeze (the jitterbuffer's restart)
    the warning is renewed before the second."""
    problems = []
    first_freeze = min((ep["onset"] for ep in gt["freeze_episodes"]), default=float("inf"))
    early = [m for m in warnings_of(record) if m["t"] < first_freeze
             and m.get("stall-eta") not in (None, score.CLOCK_TIME_NONE)
             and m["stall-eta"] > RUNWAY_THRESHOLD_NS and "network" in m.get("cause", "")
             and m.get("action") == "lower-bitrate"]
    if not early:
        problems.append("no queue build-up warning (network, lower-bitrate, stall-eta > "
                        "runway-threshold) before the first freeze")
    eps = gt["freeze_episodes"]
    if len(eps) < 2:
        problems.append(f"{len(eps)} freeze episode(s); the renewal needs two")
    elif not any(eps[0]["end"] < m["t"] < eps[1]["onset"] and m.get("action") == "lower-bitrate"
                 for m in warnings_of(record)):
        problems.append("no warning renewed between the first freeze and the second "
                        "(one long congestion: a new freeze predicted)")
    if not any(m.get("path-usage") == "overusing" for m in record["msg"]
               if m["name"] == "vdropmon-stats"):
        problems.append("path-usage never read overusing")
    if sc["kernel_drops"] != 0:
        problems.append(f"vdropmon reported {sc['kernel_drops']} kernel drops of the router")
    return problems


def starved_checks(record, gt, sc):
    """A slow reader: its socket fills, a host warning (lower-resolution)."""
    if not any("host" in m.get("cause", "") for m in warnings_of(record)):
        return ["no warning with cause host (queue-fill-warning, a reader behind)"]
    return []


KIND_CHECKS = {"stall": stall_checks, "congestion": congestion_checks,
               "starved": starved_checks}


def smoke_checks(results, records, out):
    """The harness must work end to end, and each trigger of issue 12 must
    fire on its scenario: frames shown, a warning, a timeline, and what
    KIND_CHECKS asks of each kind. Lead and recall targets are not
    checked."""
    problems = []
    for (key, sc), (record, gt) in zip(results, records):
        if collector_status(record) != "running":
            return EXIT_NO_BPF, [f"vdropmon collector: {collector_status(record)}"]
        rid = run_id(*key)
        if len(record["shown"]) < 100:
            problems.append(f"{rid}: only {len(record['shown'])} frames shown")
        if sc["warnings"] == 0:
            problems.append(f"{rid}: no vdropmon-warning")
        problems += [f"{rid}: {p}" for p in KIND_CHECKS[key[0]](record, gt, sc)]
        if not os.path.getsize(os.path.join(out, "runs", rid, "timeline.svg")):
            problems.append(f"{rid}: empty timeline")
    return (1 if problems else 0), problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = testbed.ROOT
    ap.add_argument("--build-dir", default=os.path.join(root, "build"))
    ap.add_argument("--out")
    ap.add_argument("--scenarios", default=",".join(scenarios.KINDS))
    ap.add_argument("--transports", default="rtsp,flv")
    ap.add_argument("--latencies", default="200,2000")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=0,
                    help="runs per scenario, transport and latency (default: "
                         "3 for gradual, which has one trouble per run, else 1)")
    ap.add_argument("--index", type=int, default=None,
                    help="run only this repeat (0-based) of each: one run per call, so that "
                         "a caller can release the root-test lock between runs; --rescore "
                         "with --repeat N scores them all together afterwards")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--rescore", action="store_true")
    args = ap.parse_args()
    args.build_dir = os.path.abspath(args.build_dir)
    if args.smoke:
        args.scenarios = ",".join(k for k, _, _ in SMOKE_PLAN)
        args.transports, args.latencies, args.repeat = "rtsp", "200,2000", 1
    args.out = os.path.abspath(args.out or os.path.join(
        args.build_dir, "leadtime-smoke" if args.smoke else "leadtime"))
    plan = [(k, t, int(l), r) for k in args.scenarios.split(",") for t in args.transports.split(",")
            for l in args.latencies.split(",")
            for r in range(args.repeat or DEFAULT_REPEATS.get(k, 1))
            if t in scenarios.ONLY_TRANSPORTS.get(k, (t,))]
    if args.smoke:
        plan = [(k, t, l, 0) for k, t, l in SMOKE_PLAN]
    if args.index is not None:
        plan = [p for p in plan if p[3] == args.index] or [
            (k, t, l, args.index) for k, t, l in dict.fromkeys((p[0], p[1], p[2]) for p in plan)]
    for k, t, _, _ in plan:
        if k not in scenarios.KINDS or t not in report.TRANSPORT_NAMES:
            ap.error(f"unknown scenario or transport: {k}, {t}")
    os.makedirs(args.out, exist_ok=True)

    # SIGTERM (meson's timeout, a user) must reach the finally blocks that
    # tear the namespaces down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    failed = [] if args.rescore else execute(args, plan)
    results, records = [], []
    for key in plan:
        run_dir = os.path.join(args.out, "runs", run_id(*key))
        if not os.path.exists(os.path.join(run_dir, "record.json")):
            continue
        record, gt, sc = analyse(run_dir)
        results.append((key, sc))
        records.append((record, gt))
    if not results:
        log("no run to score")
        return 1
    write_report(args, results)
    log(f"results: {os.path.join(args.out, 'results.md')}, timelines: "
        f"{os.path.join(args.out, 'runs', '*', 'timeline.svg')}")
    if args.smoke:
        status, problems = smoke_checks(results, records, args.out)
        for p in problems:
            log(f"smoke: {p}")
        return status if status else (1 if failed else 0)
    if failed:
        log(f"failed runs: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
