/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rtp_parse.c — RTP fixed header (RFC 3550 §5.1) and a look at the first
 * NAL units of H.264 (RFC 6184) and H.265 (RFC 7798) payloads.
 *
 * Every read is checked against the length given: the same code reads
 * 64-byte captures of packets the kernel dropped, which are cut anywhere.
 */
#include "rtp_parse.h"

#define RTP_FIXED_HEADER_LEN 12
#define RTP_VERSION 2

static uint16_t
read_be16 (const uint8_t *p)
{
  return (uint16_t) ((p[0] << 8) | p[1]);
}

static uint32_t
read_be32 (const uint8_t *p)
{
  return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

/* With RTP/RTCP multiplexing (RFC 5761) RTCP SR/RR/SDES/BYE/APP share the
 * port; their second byte is the RTCP packet type. */
static bool
looks_like_rtcp (uint8_t second_byte)
{
  return second_byte >= 200 && second_byte <= 204;
}

bool
vdm_rtp_parse (const uint8_t *data, size_t len, bool complete, vdm_rtp_header *out)
{
  if (data == NULL || len < RTP_FIXED_HEADER_LEN)
    return false;
  if ((data[0] >> 6) != RTP_VERSION || looks_like_rtcp (data[1]))
    return false;

  bool has_padding = (data[0] & 0x20) != 0;
  bool has_extension = (data[0] & 0x10) != 0;
  unsigned csrc_count = data[0] & 0x0f;

  size_t header_len = RTP_FIXED_HEADER_LEN + 4 * (size_t) csrc_count;
  if (len < header_len)
    return false;

  if (has_extension) {
    /* 16-bit profile id, 16-bit length in 32-bit words (not counting
     * this 4-byte extension header itself). */
    if (len < header_len + 4)
      return false;
    size_t ext_words = read_be16 (data + header_len + 2);
    header_len += 4 + 4 * ext_words;
    if (len < header_len)
      return false;
  }

  size_t payload_len = len - header_len;

  if (has_padding && complete) {
    /* The last byte counts the padding bytes, itself included. */
    if (payload_len == 0)
      return false;
    uint8_t padding = data[len - 1];
    if (padding == 0 || padding > payload_len)
      return false;
    payload_len -= padding;
  }

  if (out) {
    out->marker = (data[1] & 0x80) != 0;
    out->payload_type = data[1] & 0x7f;
    out->seq = read_be16 (data + 2);
    out->timestamp = read_be32 (data + 4);
    out->ssrc = read_be32 (data + 8);
    out->payload = data + header_len;
    out->payload_len = payload_len;
  }
  return true;
}

static char
ascii_lower (char c)
{
  return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

/* Locale-independent, unlike strcasecmp under e.g. a Turkish locale. */
static bool
ascii_equal_nocase (const char *a, const char *b)
{
  while (*a && *b) {
    if (ascii_lower (*a) != ascii_lower (*b))
      return false;
    a++;
    b++;
  }
  return *a == *b;
}

vdm_codec
vdm_codec_from_encoding_name (const char *encoding_name)
{
  if (encoding_name == NULL)
    return VDM_CODEC_UNKNOWN;
  if (ascii_equal_nocase (encoding_name, "H264") || ascii_equal_nocase (encoding_name, "H.264"))
    return VDM_CODEC_H264;
  if (ascii_equal_nocase (encoding_name, "H265") || ascii_equal_nocase (encoding_name, "H.265")
      || ascii_equal_nocase (encoding_name, "HEVC"))
    return VDM_CODEC_H265;
  return VDM_CODEC_UNKNOWN;
}

/* ---- H.264 (RFC 6184) ---- */

enum {
  H264_NAL_IDR = 5,
  H264_NAL_SPS = 7,
  H264_NAL_PPS = 8,
  H264_STAP_A = 24,
  H264_STAP_B = 25,
  H264_MTAP16 = 26,
  H264_MTAP24 = 27,
  H264_FU_A = 28,
  H264_FU_B = 29,
};

static bool
h264_type_is_keyframe (uint8_t nal_type)
{
  return nal_type == H264_NAL_IDR || nal_type == H264_NAL_SPS || nal_type == H264_NAL_PPS;
}

/* Aggregation units: 16-bit size, then `skip` bytes (MTAP's DOND and
 * timestamp offset), then the NAL unit; size covers skip + NAL. Stops at
 * the first unit whose NAL header is not within the bytes given. */
static bool
h264_aggregate_has_keyframe (const uint8_t *p, size_t len, size_t offset, size_t skip)
{
  while (offset + 2 <= len) {
    size_t unit_size = read_be16 (p + offset);
    offset += 2;
    if (unit_size <= skip)
      return false; /* malformed: no room for a NAL header */
    size_t nal_header = offset + skip;
    if (nal_header >= len)
      return false;
    if (h264_type_is_keyframe (p[nal_header] & 0x1f))
      return true;
    offset += unit_size;
  }
  return false;
}

static bool
h264_payload_is_keyframe (const uint8_t *p, size_t len)
{
  if (len < 1)
    return false;
  uint8_t type = p[0] & 0x1f;

  switch (type) {
    case H264_STAP_A:
      return h264_aggregate_has_keyframe (p, len, 1, 0);
    case H264_STAP_B: /* 16-bit DON before the first unit */
      return h264_aggregate_has_keyframe (p, len, 3, 0);
    case H264_MTAP16: /* 16-bit DONB; units carry DOND(8) + TS offset(16) */
      return h264_aggregate_has_keyframe (p, len, 3, 3);
    case H264_MTAP24: /* 16-bit DONB; units carry DOND(8) + TS offset(24) */
      return h264_aggregate_has_keyframe (p, len, 3, 4);
    case H264_FU_A:
    case H264_FU_B:
      /* Every fragment's FU header repeats the NAL type, so a lost middle
       * fragment of an IDR is still known to be one. */
      return len >= 2 && h264_type_is_keyframe (p[1] & 0x1f);
    default:
      return h264_type_is_keyframe (type);
  }
}

/* ---- H.265 (RFC 7798) ---- */

enum {
  H265_NAL_BLA_W_LP = 16,
  H265_NAL_CRA = 21,
  H265_NAL_VPS = 32,
  H265_NAL_PPS = 34,
  H265_AP = 48,
  H265_FU = 49,
  H265_NAL_HEADER_LEN = 2,
};

static uint8_t
h265_nal_type (uint8_t first_byte)
{
  return (first_byte >> 1) & 0x3f;
}

static bool
h265_type_is_keyframe (uint8_t nal_type)
{
  /* IRAP pictures are 16..23, but 22/23 are reserved: only 16..21 exist. */
  return (nal_type >= H265_NAL_BLA_W_LP && nal_type <= H265_NAL_CRA)
      || (nal_type >= H265_NAL_VPS && nal_type <= H265_NAL_PPS);
}

/* AP: 16-bit size then a NAL unit (DONL/DOND, only present when
 * sprop-max-don-diff > 0, are not known here and not handled). */
static bool
h265_aggregate_has_keyframe (const uint8_t *p, size_t len)
{
  size_t offset = H265_NAL_HEADER_LEN;
  while (offset + 2 <= len) {
    size_t unit_size = read_be16 (p + offset);
    offset += 2;
    if (unit_size < H265_NAL_HEADER_LEN)
      return false;
    if (offset >= len)
      return false;
    if (h265_type_is_keyframe (h265_nal_type (p[offset])))
      return true;
    offset += unit_size;
  }
  return false;
}

static bool
h265_payload_is_keyframe (const uint8_t *p, size_t len)
{
  if (len < H265_NAL_HEADER_LEN)
    return false;
  uint8_t type = h265_nal_type (p[0]);

  switch (type) {
    case H265_AP:
      return h265_aggregate_has_keyframe (p, len);
    case H265_FU:
      /* FU header follows the 2-byte payload header, in every fragment. */
      return len >= 3 && h265_type_is_keyframe (p[2] & 0x3f);
    default:
      return h265_type_is_keyframe (type);
  }
}

bool
vdm_payload_is_keyframe (vdm_codec codec, const uint8_t *payload, size_t len)
{
  if (payload == NULL)
    return false;
  switch (codec) {
    case VDM_CODEC_H264:
      return h264_payload_is_keyframe (payload, len);
    case VDM_CODEC_H265:
      return h265_payload_is_keyframe (payload, len);
    default:
      return false;
  }
}
