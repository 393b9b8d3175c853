# SPDX-License-Identifier: LGPL-2.1-or-later
"""scenarios.py — what happens to the stream in each lead-time run.

A scenario is a seeded schedule of perturbations applied to the testbed
(tests/kernel/netns.sh: snd -> rtr(tbf) -> rcv) while the receiver plays:

  tbf        change the bottleneck on rtr's egress to rcv (rate, burst, latency)
  blackhole  a blackhole route for the receiver's address in rtr: every
             packet to it is dropped (an outage; netem is not available here)

The stream runs in a tunnel through rtr (testbed.py), so nothing rtr drops
is visible to the receiver's kernel as a drop of its stream: as on a real
network, where the bottleneck is another machine.
  cpu        a CFS quota on the receiver process (cgroup v1 cpu controller):
             the host cannot keep up, its socket buffer overflows; with
             "threads", only on the receiver's threads of that name (the
             sockets' readers)
  slow-reader  every packet a udpsrc reads waits delay_us in the reading
             thread: a consumer slower than the stream, whose queue fills
             while the rest of the process (vdropmon's worker and
             collector) still runs

Times are seconds after the first frame shown. Every schedule is built
from random.Random(seed) only, so a seed gives the same schedule again
(the network's answer to it still varies a little from run to run).

The stream: 640x360, 30 fps, x264 at 1.5 Mbit/s, a keyframe every 30
frames (the test servers' pipelines with --pattern smpte, whose corner of
noise keeps the encoder at its bitrate like a camera would).
"""
import random
import zlib

STREAM = {"width": 640, "height": 360, "fps": 30, "bitrate_kbps": 1500, "key_int": 30,
          "pattern": "smpte"}
# A link much faster than the stream: the tbf changes nothing.
FAST_LINK = {"rate": "50mbit", "burst": "64kb", "latency": "100ms"}

KINDS = ("clean", "benign", "sudden", "stall", "gradual", "congestion", "overload", "starved")


def run_seed(base_seed, kind, transport, latency_ms, repeat=0):
    """A stable per-run seed: the same run gets the same schedule again."""
    key = f"{base_seed}/{kind}/{transport}/{latency_ms}/{repeat}".encode()
    return zlib.crc32(key)


def _mbit(value):
    return f"{value:.3f}mbit"


def clean(rng, smoke=False):
    return {"duration_s": 12 if smoke else 40, "tbf": dict(FAST_LINK), "actions": [],
            "about": "no perturbation: any warning is a false one"}


def benign(rng, smoke=False):
    """Shaping that a player must not notice: the rate changes every few
    seconds but stays at least 2x the stream's bitrate, and the queue
    (100 ms) absorbs a keyframe."""
    duration = 40
    tbf = {"rate": "4mbit", "burst": "32kb", "latency": "100ms"}
    actions = []
    t = 4.0
    while t < duration - 4:
        actions.append((round(t, 3), {"op": "tbf", "rate": _mbit(rng.uniform(3.0, 5.0)),
                                      "burst": "32kb", "latency": "100ms"}))
        t += rng.uniform(3.0, 6.0)
    return {"duration_s": duration, "tbf": tbf, "actions": actions,
            "about": "tbf rate 3-5 Mbit/s (2-3x the bitrate), changed every 3-6 s"}


def sudden(rng, smoke=False):
    """Outages of 1-3 s: a blackhole route in the router, then back."""
    n = 1 if smoke else 3
    duration = 12 if smoke else 45
    actions = []
    for k in range(n):
        start = 5.0 + 13.0 * k + rng.uniform(0.0, 3.0)
        length = rng.uniform(1.0, 3.0)
        actions.append((round(start, 3), {"op": "blackhole", "on": True}))
        actions.append((round(start + length, 3), {"op": "blackhole", "on": False}))
    return {"duration_s": duration, "tbf": dict(FAST_LINK), "actions": actions,
            "about": f"{n} outage(s) of 1-3 s (blackhole route in the router)"}


def stall(rng, smoke=False):
    """Link stalls of 1-3 s: the bottleneck's rate falls to almost nothing
    (16 kbit/s: a packet now and then gets through, the rest waits in a
    short queue and is dropped), then comes back. Not a blackhole: a
    trickle still arrives, as on a radio link that fades."""
    n = 1 if smoke else 3
    duration = 12 if smoke else 45
    actions = []
    for k in range(n):
        start = 5.0 + 13.0 * k + rng.uniform(0.0, 3.0)
        length = rng.uniform(1.0, 3.0)
        actions.append((round(start, 3), {"op": "tbf", "rate": "16kbit", "burst": "4kb",
                                          "latency": "100ms"}))
        actions.append((round(start + length, 3), {"op": "tbf", **FAST_LINK}))
    return {"duration_s": duration, "tbf": dict(FAST_LINK), "actions": actions,
            "about": f"{n} link stall(s) of 1-3 s (tbf rate 16 kbit/s, queue 100 ms)"}


def congestion(rng, smoke=False):
    """Long congestion just below the bitrate with a deep router queue: the
    bottleneck falls to 85-95 % of the stream's bitrate for 15-20 s, its
    queue holds 4 s (bufferbloat), so the delay grows by 5-15 % of the
    elapsed time and packets are lost only late, if at all. Smoke: 85 %
    from 4 s on, 18 s (two freezes at 2000 ms: ~10 s and ~14.6 s)."""
    duration = 18 if smoke else 45
    queue = "4000ms"
    tbf = {"rate": "6mbit", "burst": "32kb", "latency": queue}
    start = 4.0 if smoke else 6.0 + rng.uniform(0.0, 2.0)
    frac = 0.85 if smoke else rng.uniform(0.85, 0.95)
    length = 12.0 if smoke else rng.uniform(15.0, 20.0)
    rate = frac * STREAM["bitrate_kbps"] / 1000.0
    actions = [(round(start, 3), {"op": "tbf", "rate": _mbit(rate), "burst": "32kb",
                                  "latency": queue}),
               (round(start + length, 3), {"op": "tbf", "rate": "6mbit", "burst": "32kb",
                                           "latency": queue})]
    return {"duration_s": duration, "tbf": tbf, "actions": actions,
            "about": f"tbf {rate:.2f} Mbit/s ({100 * frac:.0f} % of the bitrate) for "
                     f"{length:.1f} s, queue {queue}"}


def gradual(rng, smoke=False):
    """Congestion that builds up: the bottleneck rate steps down once a
    second from 4 Mbit/s to 0.6x the stream's bitrate, holds, then recovers.
    The router's queue is deep (2.5 s, bufferbloat), so packets first
    queue — arrive later and later — and only then are dropped."""
    duration = 50
    queue = "2500ms"
    tbf = {"rate": "6mbit", "burst": "32kb", "latency": queue}
    start = 5.0 + rng.uniform(0.0, 2.0)
    ramp_s = rng.uniform(14.0, 20.0)
    hi, lo = 4.0, 0.6 * STREAM["bitrate_kbps"] / 1000.0
    steps = int(ramp_s)
    actions = []
    for i in range(steps + 1):
        rate = hi + (lo - hi) * i / steps
        rate *= rng.uniform(0.95, 1.05) if i < steps else 1.0
        actions.append((round(start + i, 3), {"op": "tbf", "rate": _mbit(rate),
                                              "burst": "32kb", "latency": queue}))
    hold = rng.uniform(5.0, 8.0)
    actions.append((round(start + steps + hold, 3), {"op": "tbf", "rate": "6mbit",
                                                     "burst": "32kb", "latency": queue}))
    return {"duration_s": duration, "tbf": tbf, "actions": actions,
            "about": f"tbf 4 -> {lo:.1f} Mbit/s in {steps} s (1 step/s), hold {hold:.1f} s, "
                     f"queue {queue}"}


def overload(rng, smoke=False):
    """The receiving host cannot keep up: for 2-4 s the receiver gets
    1.5-4 % of a CPU per 500 ms (it stalls ~480 ms at a time, as on a host
    whose CPU other work took; it needs 5-10 % here, so the quota always
    bites), with a small UDP receive buffer (RTSP): the socket overflows,
    SOCKET_RCVBUFF."""
    n = 1 if smoke else 3
    duration = 12 if smoke else 45
    actions = []
    for k in range(n):
        start = 5.0 + 13.0 * k + rng.uniform(0.0, 3.0)
        length = rng.uniform(2.0, 4.0)
        actions.append((round(start, 3), {"op": "cpu", "quota_pct": round(rng.uniform(1.5, 4), 1),
                                          "period_ms": 500}))
        actions.append((round(start + length, 3), {"op": "cpu", "quota_pct": None}))
    return {"duration_s": duration, "tbf": dict(FAST_LINK), "actions": actions,
            "udp_buffer_size": 32768,
            "about": f"{n} CPU starvation(s) of 2-4 s at 1.5-4 % of a core per 500 ms, "
                     "udp-buffer-size 32 KiB"}


# The threads that read the stream's sockets: udpsrc's streaming threads
# (GstTask names them ELEMENT:PAD, "udpsrc0:src", the RTP and RTCP
# sockets of rtspsrc), souphttpsrc's ("src:src") for HTTP-FLV.
READER_THREADS = {"rtsp": "udpsrc", "flv": "src:src"}


def starved(rng, smoke=False):
    """The socket's reader cannot keep up (issue 12 part 4): for 3-5 s
    every packet leaving a udpsrc waits 8-11 ms in the reading thread
    (receiver.py), so the reader takes 91-125 packets/s of a stream of
    ~135: the receive queue fills over a few seconds, then overflows
    (SOCKET_RCVBUFF) — a slow element in the reading thread, or a reader
    starved of CPU, while the rest of the process (the jitterbuffer, the
    sink, vdropmon's worker and collector) runs. udp-buffer-size 64 KiB,
    as a tuned receiver would have. (A CFS quota on the reading threads
    alone, op "cpu" with threads, cannot go below 1 ms per period, more
    than this reader needs.)"""
    n = 1 if smoke else 3
    duration = 12 if smoke else 45
    actions = []
    for k in range(n):
        start = 5.0 + 13.0 * k + rng.uniform(0.0, 3.0)
        length = rng.uniform(3.0, 5.0)
        actions.append((round(start, 3), {"op": "slow-reader",
                                          "delay_us": int(rng.uniform(8000, 11000))}))
        actions.append((round(start + length, 3), {"op": "slow-reader", "delay_us": 0}))
    return {"duration_s": duration, "tbf": dict(FAST_LINK), "actions": actions,
            "udp_buffer_size": 65536,
            "about": f"{n} slow reader(s) for 3-5 s: 8-11 ms per packet in the socket-reading "
                     "thread (91-125 of ~135 packets/s), udp-buffer-size 64 KiB"}


# Scenarios that only exist on some transports: the slow reader is a probe
# on udpsrc (RTSP/UDP); HTTP-FLV's reader is souphttpsrc.
ONLY_TRANSPORTS = {"starved": ("rtsp",)}

BUILDERS = {"clean": clean, "benign": benign, "sudden": sudden, "stall": stall,
            "gradual": gradual, "congestion": congestion, "overload": overload,
            "starved": starved}


def build(kind, seed, smoke=False):
    scenario = BUILDERS[kind](random.Random(seed), smoke=smoke)
    scenario["kind"] = kind
    scenario["seed"] = seed
    scenario.setdefault("udp_buffer_size", 0)
    return scenario
