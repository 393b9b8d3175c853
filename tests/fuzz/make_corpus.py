#!/usr/bin/env python3
"""make_corpus.py — writes the seed corpus of the fuzz targets into corpus/.

The seeds are committed; this script says where they came from and
regenerates them (python3 tests/fuzz/make_corpus.py). Each seed is a valid
example of the input format the target's comment describes, so the fuzzer
starts from the interesting paths instead of discovering RTP by chance.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def rtp(payload, pt=96, seq=1000, ts=90000, ssrc=0x1234, marker=False, csrcs=0,
        extension=None, padding=0):
    first = 0x80 | (0x20 if padding else 0) | (0x10 if extension is not None else 0) | csrcs
    header = struct.pack("!BBHII", first, (0x80 if marker else 0) | pt, seq, ts, ssrc)
    header += b"".join(struct.pack("!I", 0x1000 + i) for i in range(csrcs))
    if extension is not None:
        header += struct.pack("!HH", 0xBEDE, len(extension) // 4) + extension
    tail = (b"\0" * (padding - 1) + bytes([padding])) if padding else b""
    return header + payload + tail


# fuzz_rtp_parse: byte 0 = complete (bit 0) | codec (bits 1-2: 0 unknown, 1 H264, 2 H265)
H264, H265 = 1 << 1, 2 << 1
COMPLETE = 1
rtp_seeds = {
    "h264-idr": (COMPLETE | H264, rtp(bytes([0x65, 0x88, 0x84]) + b"\0" * 20, marker=True)),
    "h264-fua-idr-start": (COMPLETE | H264, rtp(bytes([0x7C, 0x85, 0x88]) + b"\1" * 30)),
    "h264-fua-p-middle": (COMPLETE | H264, rtp(bytes([0x5C, 0x01, 0x9A]) + b"\2" * 30)),
    "h264-stapa-sps-pps": (COMPLETE | H264,
                           rtp(bytes([0x78, 0x00, 0x04, 0x67, 0x42, 0x00, 0x1F, 0x00, 0x02, 0x68, 0xCE]))),
    "h264-stapb": (COMPLETE | H264, rtp(bytes([0x79, 0x00, 0x01, 0x00, 0x02, 0x65, 0x88]))),
    "h264-mtap16": (COMPLETE | H264,
                    rtp(bytes([0x7A, 0x00, 0x01, 0x00, 0x05, 0x00, 0x00, 0x01, 0x65, 0x88]))),
    "h264-p-slice": (COMPLETE | H264, rtp(bytes([0x41, 0x9A]) + b"\3" * 40)),
    "h265-idr": (COMPLETE | H265, rtp(bytes([0x26, 0x01, 0xAF]) + b"\4" * 20)),
    "h265-ap-vps-sps": (COMPLETE | H265,
                        rtp(bytes([0x60, 0x01, 0x00, 0x03, 0x40, 0x01, 0x0C, 0x00, 0x03, 0x42, 0x01, 0x01]))),
    "h265-fu-cra": (COMPLETE | H265, rtp(bytes([0x62, 0x01, 0x95]) + b"\5" * 20)),
    "csrc-ext-padding": (COMPLETE | H264,
                         rtp(bytes([0x65, 0x88]), csrcs=2, extension=b"\x10\xAA\0\0", padding=4)),
    "partial-capture": (H264, rtp(bytes([0x7C, 0x85]) + b"\6" * 64)[:40]),
    "rtcp-sr": (COMPLETE, struct.pack("!BBHII", 0x80, 200, 6, 0x1234, 0) + b"\0" * 20),
    "encoding-name": (COMPLETE, b"H264"),
    "encoding-name-hevc": (COMPLETE | H265, b"hevc"),
}
for name, (selector, packet) in rtp_seeds.items():
    write("rtp_parse", name, bytes([selector]) + packet)

# fuzz_flow_spec: byte 0 = error/format buffer size % 64, then the text
flow_seeds = [
    "5004", "udp:5004", "tcp:8554", "udp:0.0.0.0:5004", "udp:239.1.1.1:5004",
    "udp:[::1]:5004", "udp:[::]:5004", "tcp:127.0.0.1:41234->127.0.0.1:8554",
    "tcp:[::1]:41234->[2001:db8::1]:8554", "udp:5004, udp:5006; tcp:8554 5008",
    "UDP:5004", "udp:0", "udp:65536", "tcp:1.2.3.4:5->", "sctp:5004", "udp:[::1:5004",
]
for i, text in enumerate(flow_seeds):
    write("flow_spec", "flow-%02d" % i, bytes([63]) + text.encode())
write("flow_spec", "truncating-buffers", bytes([5]) + b"tcp:[2001:db8::1]:41234->[2001:db8::2]:8554")


# fuzz_timeline: opcode byte % 8 then operands (see fuzz_timeline.c)
def packet(flags, step_ms=33, ssrc=None, seq=None, ts=None):
    out = bytes([0, flags]) + bytes([0]) + struct.pack("<H", step_ms * 64)
    if flags & 1:
        out += bytes([ssrc])
    if flags & 2:
        out += struct.pack("<H", seq)
    if flags & 4:
        out += struct.pack("<I", ts)
    return out


def tick(step_ms=100):
    return bytes([5, 0]) + struct.pack("<H", step_ms * 64) + bytes([255]) + b"\0" * 8


def clock_rate(kind):
    return bytes([7, 1, kind])   # 7: clock-rate or reset; odd byte: clock rate


def drops(count):
    return bytes([4, 0, 255, 0]) + struct.pack("<I", count)


steady = b"".join(packet(8 | 32 * (i % 30 == 0)) + (tick() if i % 3 == 0 else b"")
                  for i in range(90))
write("timeline", "steady-stream", steady)
write("timeline", "gap-and-drops",
      steady[:200] + packet(2 | 8, seq=50) + drops(40) + tick() + drops(40) + tick() + steady[200:])
# clock-rate=1 (SDP) and timestamp steps of +2^31 (issue 9 #4)
write("timeline", "clock-rate-1-ts-jumps",
      clock_rate(10) + b"".join(packet(4, ts=1 << 31) + tick(10) for _ in range(16)))
write("timeline", "time-backwards",
      steady[:120] + bytes([0, 8, 210]) + struct.pack("<I", 0xFFFFFFFF) + steady[120:240])
write("timeline", "ssrc-churn", b"".join(packet(1 | 8, ssrc=i % 20) for i in range(60)) + tick())
media = b"".join(bytes([3, 0]) + struct.pack("<H", 33 * 64) + bytes([0]) for _ in range(40))
write("timeline", "non-rtp-media", media + tick())
