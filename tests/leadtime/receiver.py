#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""receiver.py — the viewer side of one lead-time run.

Runs a real receiving pipeline with vdropmon in this process (the caller
starts it inside the receiving network namespace) and records, on
CLOCK_MONOTONIC (time.monotonic_ns(), the clock of the kernel's drop
stamps), everything the scorer needs:

  msg      every vdropmon-* element message, stamped in the bus *sync*
           handler, i.e. in the thread that posts it, not when a main loop
           gets round to it
  shown    every frame the sink renders (fakesink sync=true handoff: the
           moment a viewer would see it), with its PTS
  arrived  every buffer reaching vdropmon (for HTTP-FLV, a frame at arrival:
           shown time minus arrival time is the playout slack it had)
  decoded  every frame leaving avdec_h264
  parsed   every frame leaving h264parse, and whether it is a keyframe (no
           DELTA_UNIT flag): where the damage after a loss ends
  loss     RTP trouble before the decoder: GstRTPPacketLost events and
           sequence-number gaps at the depayloader's sink pad (RTSP only)
  jb       rtpjitterbuffer stats (num-lost, num-late) whenever they change,
           polled every JB_POLL_MS (RTSP only)

Usage: receiver.py CONFIG.json OUT.json
CONFIG keys: transport ("rtsp" | "flv"), url, latency_ms, duration_s,
udp_buffer_size (bytes, RTSP; 0 = default), vdropmon (dict of extra
properties, nanosecond values as ints).

A slow consumer (scenario "starved"): on SIGUSR1 the receiver reads the
per-packet delay (µs, 0 = none) from CONFIG's "reader_delay_file" and from
then on every packet leaving a udpsrc (the threads that read the
sockets) waits that long in that thread: a reader slower than the stream,
as with a slow element in the reading thread or a CPU-starved reader.

Prints "PLAYING <ns>" and "FIRST_FRAME <ns>" on stdout so the orchestrator
can time its perturbations from the first frame shown, then "DONE".
Stops after duration_s of stream (bounded), on SIGINT/SIGTERM, on EOS or on
an error; the output is written in every case. Exit 0, or 1 on a pipeline
error (the output then says which).
"""
import json
import signal
import struct
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

JB_POLL_MS = 20
RTP_PORTS = "47670-47699"
# Without a first frame by then the run is broken (server, route, caps).
FIRST_FRAME_TIMEOUT_S = 15
MESSAGE_FIELDS = {
    "vdropmon-drop": ("source", "reason", "count", "kernel-time",
                      "kernel-time-last", "keyframe", "frames", "attribution",
                      "rtp-seq-first", "rtp-seq-last"),
    "vdropmon-warning": ("level", "cause", "reasons", "action", "stall-eta",
                         "detect-time", "drop-rate", "ewma", "baseline"),
    "vdropmon-clear": ("cause", "duration", "drops", "detect-time"),
    "vdropmon-stats": ("collector", "collector-status", "kernel-drops",
                       "rtp-lost", "queue-fill-peak", "lag", "runway",
                       "bitrate", "warnings", "detector-state", "queue-delay", "trend",
                       "path-usage", "stall-threshold"),
}


def now():
    return time.monotonic_ns()


def plain(value):
    """A GValue from a structure as something json can write."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def pipeline_description(cfg):
    # The sink behaves like a video sink (xvimagesink, glimagesink): it
    # shows each frame at its running time plus the latency, drops frames
    # later than 20 ms and tells the decoder (QoS). The decoder drops the
    # frames it knows are corrupt instead of showing them.
    dec_and_sink = ("h264parse name=parse ! avdec_h264 name=dec output-corrupt=false "
                    "! fakesink name=sink sync=true max-lateness=20000000 qos=true "
                    "signal-handoffs=true")
    if cfg["transport"] == "rtsp":
        buf = cfg.get("udp_buffer_size", 0)
        # Unusual client ports: vdropmon's flow keys know no network
        # namespace, so a test elsewhere on the host dropping packets to the
        # same port would be reported as ours (docs/design.md, limitations).
        return (f"rtspsrc name=src location={cfg['url']} protocols=udp "
                f"latency={cfg['latency_ms']} udp-buffer-size={buf} port-range={RTP_PORTS} "
                "! vdropmon name=mon ! rtph264depay name=depay ! " + dec_and_sink)
    if cfg["transport"] == "flv":
        # The playout buffer of an HTTP-FLV player: an unbounded queue and
        # the pipeline latency (set below) by which the sink delays every
        # frame. vdropmon sits right after the demuxer, *before* that
        # queue: behind it, it would see each frame only when the sink is
        # about to show it (the sink's clock wait holds the queue's thread),
        # and the arrival lag would be the queue's, not the network's.
        return (f"souphttpsrc name=src location={cfg['url']} is-live=true "
                "! flvdemux name=demux demux.video ! vdropmon name=mon ! queue name=playout "
                "max-size-time=0 max-size-bytes=0 max-size-buffers=0 ! " + dec_and_sink)
    raise ValueError(f"unknown transport {cfg['transport']!r}")


class Receiver:
    def __init__(self, cfg):
        self.cfg = cfg
        self.rec = {"config": cfg, "msg": [], "shown": [], "arrived": [], "decoded": [], "parsed": [],
                    "loss": [], "jb": [], "errors": [], "playing_ns": None,
                    "first_frame_ns": None, "end_ns": None, "end_reason": None}
        self.loop = GLib.MainLoop()
        self.jitterbuffers = []
        self.last_jb = None
        self.last_seq = None
        self.reader_delay_s = 0.0
        self.pipeline = Gst.parse_launch(pipeline_description(cfg))
        self.pipeline.connect("deep-element-added", self._on_element_added)
        if cfg["transport"] == "flv":
            self.pipeline.set_property("latency", cfg["latency_ms"] * Gst.MSECOND)
        mon = self.pipeline.get_by_name("mon")
        for name, value in cfg.get("vdropmon", {}).items():
            mon.set_property(name, value)
        self._install_probes()
        bus = self.pipeline.get_bus()
        bus.set_sync_handler(self._on_sync_message)
        bus.add_signal_watch()
        bus.connect("message", self._on_message)

    # ---- recording ------------------------------------------------------

    def _on_sync_message(self, bus, message):
        t = now()
        if message.type == Gst.MessageType.ELEMENT:
            s = message.get_structure()
            name = s.get_name() if s else ""
            fields = MESSAGE_FIELDS.get(name)
            if fields is not None:
                entry = {"t": t, "name": name}
                for field in fields:
                    if s.has_field(field):
                        try:
                            entry[field] = plain(s.get_value(field))
                        except TypeError:  # a type PyGObject cannot convert
                            entry[field] = None
                self.rec["msg"].append(entry)
        return Gst.BusSyncReply.PASS

    def _on_message(self, bus, message):
        if message.type == Gst.MessageType.ERROR:
            err, debug = message.parse_error()
            self.rec["errors"].append({"t": now(), "error": err.message, "debug": debug})
            self._stop("error")
        elif message.type == Gst.MessageType.WARNING:
            err, debug = message.parse_warning()
            self.rec["errors"].append({"t": now(), "warning": err.message, "debug": debug})
        elif message.type == Gst.MessageType.EOS:
            self._stop("eos")

    def _install_probes(self):
        sink = self.pipeline.get_by_name("sink")
        sink.connect("handoff", self._on_shown)
        mon_sink = self.pipeline.get_by_name("mon").get_static_pad("sink")
        mon_sink.add_probe(Gst.PadProbeType.BUFFER, self._on_arrived)
        dec_src = self.pipeline.get_by_name("dec").get_static_pad("src")
        dec_src.add_probe(Gst.PadProbeType.BUFFER, self._on_decoded)
        parse_src = self.pipeline.get_by_name("parse").get_static_pad("src")
        parse_src.add_probe(Gst.PadProbeType.BUFFER, self._on_parsed)
        depay = self.pipeline.get_by_name("depay")
        if depay is not None:
            depay_sink = depay.get_static_pad("sink")
            depay_sink.add_probe(Gst.PadProbeType.BUFFER, self._on_rtp)
            depay_sink.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, self._on_rtp_event)
            src = self.pipeline.get_by_name("src")
            src.connect("new-manager", self._on_new_manager)

    def _on_element_added(self, bin_, sub_bin, element):
        factory = element.get_factory()
        if factory is not None and factory.get_name() == "udpsrc":
            element.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, self._slow_reader)

    def _slow_reader(self, pad, info):
        if self.reader_delay_s > 0:
            time.sleep(self.reader_delay_s)
        return Gst.PadProbeReturn.OK

    def _on_reader_delay(self):
        path = self.cfg.get("reader_delay_file")
        try:
            with open(path) as f:
                self.reader_delay_s = int(f.read().strip() or 0) / 1e6
        except (OSError, TypeError, ValueError) as e:
            self.rec["errors"].append({"t": now(), "warning": f"reader delay: {e}"})
        return True

    def _on_arrived(self, pad, info):
        self.rec["arrived"].append([now(), info.get_buffer().pts])
        return Gst.PadProbeReturn.OK

    def _on_shown(self, sink, buffer, pad):
        t = now()
        self.rec["shown"].append([t, buffer.pts])
        if self.rec["first_frame_ns"] is None:
            self.rec["first_frame_ns"] = t
            print(f"FIRST_FRAME {t}", flush=True)

    def _on_decoded(self, pad, info):
        self.rec["decoded"].append([now(), info.get_buffer().pts])
        return Gst.PadProbeReturn.OK

    def _on_parsed(self, pad, info):
        buffer = info.get_buffer()
        key = not buffer.has_flags(Gst.BufferFlags.DELTA_UNIT)
        self.rec["parsed"].append([now(), buffer.pts, 1 if key else 0])
        return Gst.PadProbeReturn.OK

    def _on_rtp(self, pad, info):
        header = info.get_buffer().extract_dup(0, 4)
        if len(header) < 4:
            return Gst.PadProbeReturn.OK
        (seq,) = struct.unpack("!H", header[2:4])
        if self.last_seq is not None:
            missing = (seq - self.last_seq - 1) & 0xFFFF
            # A step backwards (reordering, a new SSRC) is no loss.
            if 0 < missing < 0x8000:
                self.rec["loss"].append({"t": now(), "kind": "seq-gap", "count": missing,
                                         "pts": info.get_buffer().pts})
        self.last_seq = seq
        return Gst.PadProbeReturn.OK

    def _on_rtp_event(self, pad, info):
        event = info.get_event()
        s = event.get_structure()
        if s is not None and s.get_name() == "GstRTPPacketLost":
            self.rec["loss"].append({"t": now(), "kind": "lost-event",
                                     "pts": s.get_value("timestamp"),
                                     "seqnum": s.get_value("seqnum")})
        return Gst.PadProbeReturn.OK

    def _on_new_manager(self, src, manager):
        # rtspsrc's rtpbin: let the jitterbuffer send lost events, and keep
        # each new jitterbuffer to poll its counters.
        if manager.find_property("do-lost") is not None:
            manager.set_property("do-lost", True)
        manager.connect("new-jitterbuffer", self._on_new_jitterbuffer)

    def _on_new_jitterbuffer(self, rtpbin, jitterbuffer, session, ssrc):
        self.jitterbuffers.append(jitterbuffer)

    def _poll_jitterbuffers(self):
        for jb in list(self.jitterbuffers):
            s = jb.get_property("stats")
            cur = (s.get_value("num-lost"), s.get_value("num-late"))
            if cur != self.last_jb:
                self.rec["jb"].append([now(), cur[0], cur[1]])
                self.last_jb = cur
        return True

    # ---- running --------------------------------------------------------

    def _check_first_frame(self):
        if self.rec["first_frame_ns"] is None:
            self.rec["errors"].append({"t": now(), "error": "no frame shown within "
                                       f"{FIRST_FRAME_TIMEOUT_S} s"})
            self._stop("no-first-frame")
        return False

    def _check_duration(self):
        first = self.rec["first_frame_ns"]
        if first is not None and now() - first >= self.cfg["duration_s"] * Gst.SECOND:
            self._stop("duration")
            return False
        return True

    def _stop(self, reason):
        if self.rec["end_reason"] is None:
            self.rec["end_reason"] = reason
            self.rec["end_ns"] = now()
        self.loop.quit()
        return False

    def run(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, self._stop, "signal")
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGUSR1, self._on_reader_delay)
        GLib.timeout_add(JB_POLL_MS, self._poll_jitterbuffers)
        GLib.timeout_add(50, self._check_duration)
        GLib.timeout_add_seconds(FIRST_FRAME_TIMEOUT_S, self._check_first_frame)
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            self.rec["errors"].append({"t": now(), "error": "cannot start the pipeline"})
            self._stop("start-failure")
            return
        self.rec["playing_ns"] = now()
        print(f"PLAYING {self.rec['playing_ns']}", flush=True)
        self.loop.run()
        # Stop the sync handler first: the element posts its last batches
        # while stopping, and those are after the end of the run.
        self.pipeline.get_bus().set_sync_handler(None)
        self.pipeline.set_state(Gst.State.NULL)


def main(argv):
    if len(argv) != 3:
        print("usage: receiver.py CONFIG.json OUT.json", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        cfg = json.load(f)
    Gst.init(None)
    receiver = Receiver(cfg)
    receiver.run()
    with open(argv[2], "w", encoding="utf-8") as f:
        json.dump(receiver.rec, f)
    print("DONE", flush=True)
    bad = receiver.rec["end_reason"] not in ("duration", "signal")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
