#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""flv_replay.py — a live HTTP-FLV server that replays a recorded FLV file.

  flv_replay.py --file F.flv --port P [--streams N] [--duration-s S]

  GET /liveN.flv   200, video/x-flv, the file's tags in real time, looped
                   (timestamps carried on across loops), until S seconds
                   after start or the client goes; N in [0, --streams)

Why not vdm-flv-server (tests/servers): it encodes one x264 pipeline per
client. Twelve soak streams of it cost this 2-core host more than a core,
at the real-time priority the soak gives its senders, and so starve the
very receivers the soak measures. A camera on another machine costs this
host nothing; a replay of an x264 recording costs a few writes per frame.
The stream is the same encoder's output, frame by frame, at its own pace.

Each connection gets the file's FLV header, its script tag and the AVC
sequence header first, then the media tags, each when its timestamp is
due. Stream N starts N/streams of a second later (keyframes of the
streams apart, as cameras' are). TCP_NODELAY: a tag goes out when due, as
a streaming server sends it. A tag written 50 ms or more after it was due
is noted on stderr (the sender's own silence). Prints `READY http://ADDR:PORT/liveN.flv` per
stream once listening. Exit 0 at the end, 2 on a bad file or arguments.
"""
import argparse
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TAG_AUDIO, TAG_VIDEO, TAG_SCRIPT = 8, 9, 18
LATE_NOTE_S = 0.05   # half the soak's stall floor


def read_flv(path):
    """(header bytes incl. PreviousTagSize0, [(type, ts_ms, tag bytes incl. its trailing size)])."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:3] != b"FLV":
        raise ValueError(f"{path}: not an FLV file")
    offset = struct.unpack(">I", data[5:9])[0]
    header, pos, tags = data[:offset + 4], offset + 4, []
    while pos + 11 <= len(data):
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        end = pos + 11 + size + 4
        if end > len(data):
            break  # a truncated last tag
        ts = int.from_bytes(data[pos + 4:pos + 7], "big") | (data[pos + 7] << 24)
        tags.append((data[pos], ts, data[pos:end]))
        pos = end
    return header, tags


def is_sequence_header(tag_type, tag):
    # video: codec 7 (AVC) and AVCPacketType 0; audio: AAC (10) and packet type 0
    if tag_type == TAG_VIDEO:
        return len(tag) > 12 and tag[11] & 0x0F == 7 and tag[12] == 0
    if tag_type == TAG_AUDIO:
        return len(tag) > 12 and tag[11] >> 4 == 10 and tag[12] == 0
    return False


def is_end_of_sequence(tag_type, tag):
    # AVC packet type 2: the recording's end, not the stream's
    return tag_type == TAG_VIDEO and len(tag) > 12 and tag[11] & 0x0F == 7 and tag[12] == 2


def with_timestamp(tag, ts):
    ts &= 0xFFFFFFFF
    return tag[:4] + (ts & 0xFFFFFF).to_bytes(3, "big") + bytes([ts >> 24]) + tag[8:]


class Stream:
    def __init__(self, path):
        header, tags = read_flv(path)
        # one script tag (flvmux updates its metadata in a file; live, once)
        scripts = [t for typ, _, t in tags if typ == TAG_SCRIPT][:1]
        self.prefix = header + b"".join(scripts + [t for typ, _, t in tags if is_sequence_header(typ, t)])
        self.media = [(ts, t) for typ, ts, t in tags
                      if typ in (TAG_AUDIO, TAG_VIDEO) and not is_sequence_header(typ, t)
                      and not is_end_of_sequence(typ, t)]
        if len(self.media) < 2:
            raise ValueError(f"{path}: fewer than two media tags")
        first = self.media[0][0]
        self.media = [(ts - first, t) for ts, t in self.media]
        video = [ts for ts, _ in self.media]
        step = max(1, (video[-1] - video[0]) // max(1, len(video) - 1))
        self.loop_ms = self.media[-1][0] + step


def make_handler(stream, streams, deadline):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the body ends when the connection does

        def log_message(self, fmt, *args):
            sys.stderr.write("flv_replay: " + (fmt % args) + "\n")

        def do_GET(self):
            path = self.path.split("?")[0]
            n = path[len("/live"):-len(".flv")] if path.startswith("/live") and path.endswith(".flv") else None
            if n == "":
                n = "0"
            if n is None or not n.isdigit() or int(n) >= streams:
                self.send_error(404)
                return
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.send_response(200)
            self.send_header("Content-Type", "video/x-flv")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            try:
                self.play(int(n))
            except (BrokenPipeError, ConnectionResetError):
                pass

        def play(self, n):
            self.wfile.write(stream.prefix)
            start = time.monotonic() + n / streams
            loop = 0
            while True:
                for ts, tag in stream.media:
                    due_ms = loop * stream.loop_ms + ts
                    due = start + due_ms / 1000.0
                    if due >= deadline:
                        return
                    wait = due - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    self.wfile.write(with_timestamp(tag, due_ms))
                    self.note_if_late(n, due)
                loop += 1

        def note_if_late(self, n, due):
            # a tag written late is a silence of the sender, not of the path
            late = time.monotonic() - due
            if late >= LATE_NOTE_S:
                sys.stderr.write(f"flv_replay: stream {n} tag written {late * 1000:.0f} ms late at "
                                 f"{time.strftime('%H:%M:%S', time.gmtime())}.{int(time.time() % 1 * 1000):03d}\n")

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", required=True)
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--streams", type=int, default=1)
    ap.add_argument("--duration-s", type=float, default=60.0)
    args = ap.parse_args()
    try:
        stream = Stream(args.file)
    except (OSError, ValueError) as e:
        print(f"flv_replay: {e}", file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.duration_s
    server = ThreadingHTTPServer((args.address, args.port),
                                 make_handler(stream, args.streams, deadline))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for n in range(args.streams):
        print(f"READY http://{args.address}:{args.port}/live{n}.flv", flush=True)
    time.sleep(max(0.0, deadline - time.monotonic()))
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
