#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""adapt.py — vdm-adapt's bus handling in short (docs/adaptation.md).

Plays a stream with vdropmon behind its source and, on vdropmon-warning,
steps the output height down a ladder (new capsfilter caps, renegotiated
while PLAYING) or asks for a keyframe; after vdropmon-clear and
--step-up-after quiet seconds it steps back up.

  GST_PLUGIN_PATH=build/plugin python3 pipelines/adapt/adapt.py --uri udp://5004
"""
import argparse
import sys

try:
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstVideo", "1.0")
    from gi.repository import GLib, Gst, GstVideo
except (ImportError, ValueError) as e:
    sys.exit(f"adapt.py: {e}: needs python3-gi and gir1.2-gstreamer-1.0 "
             f"(Debian's /usr/bin/python3 has them)")

SOURCES = {  # vdropmon right behind what reads the network (docs/adaptation.md)
    "rtsp": 'rtspsrc location="{uri}" latency=200 ! application/x-rtp,media=video '
            '! vdropmon name=vdm ! rtph264depay ! h264parse',
    "http": 'souphttpsrc location="{uri}" is-live=true ! flvdemux name=d d.video '
            '! vdropmon name=vdm playout-buffer=1000000000 ! h264parse',
    "udp": 'udpsrc address=127.0.0.1 port={port} buffer-size=16384 caps="application/x-rtp,'
           'media=video,clock-rate=90000,encoding-name=H264,payload=96" ! vdropmon name=vdm '
           '! rtpjitterbuffer latency=200 ! rtph264depay ! h264parse',
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--uri", required=True, help="rtsp://..., http://....flv or udp://PORT")
    p.add_argument("--sink", default="fakesink")
    p.add_argument("--ladder", default="1080,720,480")
    p.add_argument("--step-up-after", type=float, default=5.0)
    p.add_argument("--duration-s", type=float, default=0)
    args = p.parse_args()
    ladder = sorted({int(h) for h in args.ladder.split(",")}, reverse=True)
    kind = args.uri.split(":", 1)[0].rstrip("s")
    if kind not in SOURCES:
        sys.exit(f"adapt.py: unsupported URI {args.uri}")
    source = SOURCES[kind].format(uri=args.uri, port=args.uri.rsplit(":", 1)[-1].strip("/"))

    Gst.init(None)
    pipeline = Gst.parse_launch(
        f"{source} ! avdec_h264 name=dec ! videoscale ! capsfilter name=scale "
        f"caps=video/x-raw,height={ladder[0]} ! videoconvert ! {args.sink}")
    scale = pipeline.get_by_name("scale")
    # A new output size is nothing the compressed part needs to hear of: a
    # RECONFIGURE reaching the source stalls it behind the jitterbuffer.
    pipeline.get_by_name("dec").get_static_pad("sink").add_probe(
        Gst.PadProbeType.EVENT_UPSTREAM,
        lambda pad, info: Gst.PadProbeReturn.DROP
        if info.get_event().type == Gst.EventType.RECONFIGURE else Gst.PadProbeReturn.OK)
    loop = GLib.MainLoop()
    state = {"rung": 0, "timer": 0}

    def set_rung(rung, why):
        print(f"adapt: {ladder[state['rung']]} -> {ladder[rung]} ({why})", flush=True)
        state["rung"] = rung
        scale.set_property("caps", Gst.Caps.from_string(f"video/x-raw,height={ladder[rung]}"))

    def step_up():
        state["timer"] = 0
        if state["rung"] > 0:
            set_rung(state["rung"] - 1, f"{args.step_up_after:g} s quiet")
        if state["rung"] > 0:  # keep climbing while it stays quiet
            state["timer"] = GLib.timeout_add(int(args.step_up_after * 1000), step_up)
        return GLib.SOURCE_REMOVE

    def on_warning(s):
        if state["timer"]:  # trouble again: no stepping up
            GLib.source_remove(state["timer"])
            state["timer"] = 0
        action, eta = s.get_value("action"), s.get_value("stall-eta")
        eta = "unknown" if eta == Gst.CLOCK_TIME_NONE else f"{eta / 1e6:.0f} ms"
        why = f"{s.get_value('level')} {s.get_value('cause')} {s.get_value('reasons')}, " \
              f"action {action}, stall in {eta}"
        if action in ("lower-resolution", "lower-bitrate"):
            if state["rung"] + 1 < len(ladder):
                set_rung(state["rung"] + 1, why)
            else:
                print(f"adapt: on the lowest rung already ({why})", flush=True)
        elif action == "request-keyframe":
            scale.get_static_pad("sink").push_event(
                GstVideo.video_event_new_upstream_force_key_unit(Gst.CLOCK_TIME_NONE, True, 0))
            print(f"adapt: keyframe requested ({why})", flush=True)
        else:  # circuit-break: a lone burst, hold; reinit-device, none
            print(f"adapt: holding ({why})", flush=True)

    def on_message(bus, msg):
        if msg.type == Gst.MessageType.ELEMENT:
            s = msg.get_structure()
            if s.get_name() == "vdropmon-warning":
                on_warning(s)
            elif s.get_name() == "vdropmon-clear":
                print(f"adapt: clear after {s.get_value('duration') / 1e9:.1f} s, "
                      f"{s.get_value('drops')} drops", flush=True)
                if state["rung"] > 0 and not state["timer"]:
                    state["timer"] = GLib.timeout_add(int(args.step_up_after * 1000), step_up)
        elif msg.type in (Gst.MessageType.EOS, Gst.MessageType.ERROR):
            if msg.type == Gst.MessageType.ERROR:
                print(f"adapt: error: {msg.parse_error()[0].message}", file=sys.stderr)
                state["error"] = True
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    if args.duration_s > 0:
        GLib.timeout_add(int(args.duration_s * 1000), loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, 2, loop.quit)   # SIGINT
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, 15, loop.quit)  # SIGTERM
    pipeline.set_state(Gst.State.PLAYING)
    loop.run()
    pipeline.set_state(Gst.State.NULL)
    sys.exit(1 if state.get("error") else 0)


if __name__ == "__main__":
    main()
