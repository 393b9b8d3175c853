/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rtp_parse.h — RTP fixed header (RFC 3550) and H.264/H.265 payload
 * inspection, without GStreamer, so the same code reads the packets that
 * pass through the element and the first bytes of packets the kernel dropped.
 */
#ifndef VDM_RTP_PARSE_H
#define VDM_RTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  VDM_CODEC_UNKNOWN = 0,
  VDM_CODEC_H264,
  VDM_CODEC_H265,
} vdm_codec;

typedef struct {
  bool marker;
  uint8_t payload_type;
  uint16_t seq;
  uint32_t timestamp;
  uint32_t ssrc;
  const uint8_t *payload; /* points into the parsed data */
  size_t payload_len;     /* bytes available after header, CSRCs and extension */
} vdm_rtp_header;

/* Parses an RTP header. When complete is false, data is only the first bytes
 * of a packet (a kernel capture): padding cannot be checked and payload_len is
 * what is available. Returns false for anything that is not RTP version 2 or
 * is too short for its own CSRC list / extension, or (complete only) whose
 * padding is inconsistent. RTCP (payload types 72..76 with marker, i.e. second
 * byte 200..204) is rejected. */
bool vdm_rtp_parse (const uint8_t *data, size_t len, bool complete, vdm_rtp_header *out);

/* "H264" / "H265" (case-insensitive, also "H.264", "HEVC"), else UNKNOWN. */
vdm_codec vdm_codec_from_encoding_name (const char *encoding_name);

/* True if the RTP payload starts a NAL unit that a decoder needs to start or
 * resynchronise: H.264 IDR (5), SPS (7), PPS (8), in single NAL, STAP-A/B,
 * MTAP or FU-A/B (any fragment: the FU header carries the type); H.265 IRAP
 * (16..21), VPS/SPS/PPS (32..34), in single NAL, AP (48) or FU (49).
 * Only the bytes given are inspected. */
bool vdm_payload_is_keyframe (vdm_codec codec, const uint8_t *payload, size_t len);

#endif
