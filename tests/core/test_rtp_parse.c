/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of rtp_parse: RTP header rules and H.264/H.265 keyframe detection. */
#include <glib.h>
#include <string.h>

#include "rtp_parse.h"

/* Inputs are copied to a heap block of their exact size, so that a read
 * past the end is caught by ASan or valgrind. */
static gboolean
parse_exact (const guint8 *data, gsize len, gboolean complete, vdm_rtp_header *out)
{
  guint8 *copy = g_malloc (len > 0 ? len : 1);
  memcpy (copy, data, len);
  gboolean ok = vdm_rtp_parse (copy, len, complete, out);
  if (ok) {
    /* The payload must lie within the parsed bytes. */
    g_assert_true (out->payload >= copy);
    g_assert_cmpuint (out->payload - copy + out->payload_len, <=, len);
    out->payload = data + (out->payload - copy);
  }
  g_free (copy);
  return ok;
}

static gboolean
keyframe_exact (vdm_codec codec, const guint8 *data, gsize len)
{
  guint8 *copy = g_malloc (len > 0 ? len : 1);
  memcpy (copy, data, len);
  gboolean key = vdm_payload_is_keyframe (codec, copy, len);
  g_free (copy);
  return key;
}

/* Writes a fixed header: V=2, given flags, PT 96, seq 0x1234, ts 0xdeadbeef, ssrc 0x01020304. */
static void
write_fixed_header (guint8 *p, guint8 first_byte, gboolean marker)
{
  p[0] = first_byte;
  p[1] = (marker ? 0x80 : 0) | 96;
  p[2] = 0x12;
  p[3] = 0x34;
  p[4] = 0xde;
  p[5] = 0xad;
  p[6] = 0xbe;
  p[7] = 0xef;
  p[8] = 0x01;
  p[9] = 0x02;
  p[10] = 0x03;
  p[11] = 0x04;
}

static void
test_fixed_header (void)
{
  guint8 pkt[16];
  vdm_rtp_header h;

  write_fixed_header (pkt, 0x80, TRUE);
  memcpy (pkt + 12, "\x65\xaa\xbb\xcc", 4);
  g_assert_true (parse_exact (pkt, sizeof (pkt), TRUE, &h));
  g_assert_true (h.marker);
  g_assert_cmpuint (h.payload_type, ==, 96);
  g_assert_cmpuint (h.seq, ==, 0x1234);
  g_assert_cmpuint (h.timestamp, ==, 0xdeadbeef);
  g_assert_cmpuint (h.ssrc, ==, 0x01020304);
  g_assert_true (h.payload == pkt + 12);
  g_assert_cmpuint (h.payload_len, ==, 4);

  /* Header only: valid, empty payload. */
  g_assert_true (parse_exact (pkt, 12, TRUE, &h));
  g_assert_cmpuint (h.payload_len, ==, 0);
}

static void
test_rejects_non_rtp (void)
{
  guint8 pkt[20] = { 0 };
  vdm_rtp_header h;

  write_fixed_header (pkt, 0x80, FALSE);
  g_assert_false (parse_exact (pkt, 11, TRUE, &h));
  g_assert_false (vdm_rtp_parse (NULL, 0, TRUE, &h));

  for (guint version = 0; version < 4; version++) {
    pkt[0] = (guint8) (version << 6);
    g_assert_true (parse_exact (pkt, sizeof (pkt), TRUE, &h) == (version == 2));
  }

  /* RTCP multiplexed on the port: second byte 200..204. */
  pkt[0] = 0x80;
  for (guint second = 195; second <= 210; second++) {
    pkt[1] = (guint8) second;
    gboolean is_rtcp = second >= 200 && second <= 204;
    g_assert_true (parse_exact (pkt, sizeof (pkt), TRUE, &h) == !is_rtcp);
  }
}

static void
test_csrc_list (void)
{
  guint8 pkt[12 + 15 * 4 + 3];
  vdm_rtp_header h;

  memset (pkt, 0, sizeof (pkt));
  write_fixed_header (pkt, 0x80 | 15, FALSE);
  pkt[12 + 60] = 0x67;
  g_assert_true (parse_exact (pkt, sizeof (pkt), TRUE, &h));
  g_assert_true (h.payload == pkt + 72);
  g_assert_cmpuint (h.payload_len, ==, 3);

  /* Exactly the CSRC list and nothing else: valid, empty payload. */
  g_assert_true (parse_exact (pkt, 72, FALSE, &h));
  g_assert_cmpuint (h.payload_len, ==, 0);
  /* One byte short of its own CSRC list. */
  g_assert_false (parse_exact (pkt, 71, FALSE, &h));
  g_assert_false (parse_exact (pkt, 71, TRUE, &h));
}

static void
test_extension (void)
{
  guint8 pkt[12 + 4 + 4 + 8 + 2] = { 0 };
  vdm_rtp_header h;

  /* CC = 1, X = 1, extension of 2 words. */
  write_fixed_header (pkt, 0x80 | 0x10 | 1, FALSE);
  pkt[16] = 0xbe;
  pkt[17] = 0xde;
  pkt[18] = 0x00;
  pkt[19] = 0x02;
  pkt[28] = 0x7c;
  pkt[29] = 0x85;
  g_assert_true (parse_exact (pkt, sizeof (pkt), TRUE, &h));
  g_assert_true (h.payload == pkt + 28);
  g_assert_cmpuint (h.payload_len, ==, 2);

  /* Extension body cut short. */
  g_assert_false (parse_exact (pkt, 27, FALSE, &h));
  /* Extension header itself cut short. */
  g_assert_false (parse_exact (pkt, 18, FALSE, &h));
  g_assert_false (parse_exact (pkt, 16, FALSE, &h));

  /* A length far past the packet (0xffff words = 262140 bytes). */
  pkt[18] = 0xff;
  pkt[19] = 0xff;
  g_assert_false (parse_exact (pkt, sizeof (pkt), TRUE, &h));
  g_assert_false (parse_exact (pkt, sizeof (pkt), FALSE, &h));

  /* Zero-length extension: just the 4-byte header. */
  pkt[18] = 0;
  pkt[19] = 0;
  g_assert_true (parse_exact (pkt, sizeof (pkt), TRUE, &h));
  g_assert_true (h.payload == pkt + 20);
  g_assert_cmpuint (h.payload_len, ==, sizeof (pkt) - 20);
}

static void
test_padding (void)
{
  guint8 pkt[12 + 5];
  vdm_rtp_header h;

  write_fixed_header (pkt, 0x80 | 0x20, FALSE);
  memcpy (pkt + 12, "\x41\x42\x00\x00\x03", 5);
  g_assert_true (parse_exact (pkt, sizeof (pkt), TRUE, &h));
  g_assert_cmpuint (h.payload_len, ==, 2);

  /* Padding that covers the whole payload: allowed, empty payload. */
  pkt[16] = 5;
  g_assert_true (parse_exact (pkt, sizeof (pkt), TRUE, &h));
  g_assert_cmpuint (h.payload_len, ==, 0);

  /* More padding than payload. */
  pkt[16] = 6;
  g_assert_false (parse_exact (pkt, sizeof (pkt), TRUE, &h));
  /* A padding count of zero cannot be: it counts itself. */
  pkt[16] = 0;
  g_assert_false (parse_exact (pkt, sizeof (pkt), TRUE, &h));
  /* P bit with no payload byte at all to hold the count. */
  g_assert_false (parse_exact (pkt, 12, TRUE, &h));

  /* A kernel capture ends anywhere: padding is not checked, all bytes count. */
  pkt[16] = 200;
  g_assert_true (parse_exact (pkt, sizeof (pkt), FALSE, &h));
  g_assert_cmpuint (h.payload_len, ==, 5);
}

static void
test_truncations_never_overread (void)
{
  guint8 pkt[64];
  vdm_rtp_header h;

  for (gsize i = 0; i < sizeof (pkt); i++)
    pkt[i] = (guint8) (i * 37 + 11);
  write_fixed_header (pkt, 0x80 | 0x20 | 0x10 | 3, TRUE);
  pkt[24 + 2] = 0;
  pkt[24 + 3] = 3; /* extension: 3 words */
  for (gsize len = 0; len <= sizeof (pkt); len++) {
    gboolean ok = parse_exact (pkt, len, FALSE, &h);
    g_assert_true (ok == (len >= 12 + 12 + 4 + 12));
    if (ok)
      g_assert_cmpuint (h.payload_len, ==, len - 40);
    parse_exact (pkt, len, TRUE, &h);
  }
}

static void
test_random_bytes (void)
{
  GRand *rand = g_rand_new_with_seed (4242);
  vdm_rtp_header h;

  for (int i = 0; i < 20000; i++) {
    guint8 buf[96];
    gsize len = g_rand_int_range (rand, 0, sizeof (buf) + 1);
    for (gsize j = 0; j < len; j++)
      buf[j] = (guint8) g_rand_int (rand);
    if (len > 0 && g_rand_boolean (rand))
      buf[0] = (buf[0] & 0x3f) | 0x80; /* make it look like RTP more often */
    parse_exact (buf, len, g_rand_boolean (rand), &h);
    keyframe_exact (VDM_CODEC_H264, buf, len);
    keyframe_exact (VDM_CODEC_H265, buf, len);
    /* Aggregation packets with random sizes inside. */
    if (len > 0) {
      buf[0] = (guint8) (24 + g_rand_int_range (rand, 0, 6));
      keyframe_exact (VDM_CODEC_H264, buf, len);
      buf[0] = 48 << 1;
      keyframe_exact (VDM_CODEC_H265, buf, len);
    }
  }
  g_rand_free (rand);
}

static void
test_codec_names (void)
{
  g_assert_cmpint (vdm_codec_from_encoding_name ("H264"), ==, VDM_CODEC_H264);
  g_assert_cmpint (vdm_codec_from_encoding_name ("h264"), ==, VDM_CODEC_H264);
  g_assert_cmpint (vdm_codec_from_encoding_name ("H.264"), ==, VDM_CODEC_H264);
  g_assert_cmpint (vdm_codec_from_encoding_name ("H265"), ==, VDM_CODEC_H265);
  g_assert_cmpint (vdm_codec_from_encoding_name ("h.265"), ==, VDM_CODEC_H265);
  g_assert_cmpint (vdm_codec_from_encoding_name ("HEVC"), ==, VDM_CODEC_H265);
  g_assert_cmpint (vdm_codec_from_encoding_name ("hevc"), ==, VDM_CODEC_H265);
  g_assert_cmpint (vdm_codec_from_encoding_name ("H26"), ==, VDM_CODEC_UNKNOWN);
  g_assert_cmpint (vdm_codec_from_encoding_name ("H2645"), ==, VDM_CODEC_UNKNOWN);
  g_assert_cmpint (vdm_codec_from_encoding_name ("VP8"), ==, VDM_CODEC_UNKNOWN);
  g_assert_cmpint (vdm_codec_from_encoding_name (""), ==, VDM_CODEC_UNKNOWN);
  g_assert_cmpint (vdm_codec_from_encoding_name (NULL), ==, VDM_CODEC_UNKNOWN);
}

#define H264_KEY(...) keyframe_exact (VDM_CODEC_H264, (const guint8[]) { __VA_ARGS__ }, \
      sizeof ((const guint8[]) { __VA_ARGS__ }))
#define H265_KEY(...) keyframe_exact (VDM_CODEC_H265, (const guint8[]) { __VA_ARGS__ }, \
      sizeof ((const guint8[]) { __VA_ARGS__ }))

static void
test_h264_single_nal (void)
{
  g_assert_true (H264_KEY (0x65, 0x88));  /* IDR */
  g_assert_true (H264_KEY (0x67));        /* SPS */
  g_assert_true (H264_KEY (0x68, 0xce));  /* PPS */
  g_assert_true (H264_KEY (0x25));        /* IDR with nal_ref_idc 1 */
  g_assert_false (H264_KEY (0x41, 0x9a)); /* non-IDR slice */
  g_assert_false (H264_KEY (0x06, 0x05)); /* SEI */
  g_assert_false (H264_KEY (0x09, 0x10)); /* AUD */
  g_assert_false (H264_KEY (0x00));       /* reserved */
  g_assert_false (H264_KEY (0x1e));
  g_assert_false (H264_KEY (0x1f));
  g_assert_false (keyframe_exact (VDM_CODEC_H264, (const guint8 *) "", 0));
  g_assert_false (vdm_payload_is_keyframe (VDM_CODEC_H264, NULL, 0));
  /* Unknown codec: never a keyframe, whatever the bytes. */
  g_assert_false (keyframe_exact (VDM_CODEC_UNKNOWN, (const guint8[]) { 0x65 }, 1));
}

static void
test_h264_stap (void)
{
  /* STAP-A: SEI (3 bytes) then IDR (2 bytes). */
  g_assert_true (H264_KEY (0x18, 0x00, 0x03, 0x06, 0x05, 0x01, 0x00, 0x02, 0x65, 0x88));
  /* STAP-A: SEI then a non-IDR slice. */
  g_assert_false (H264_KEY (0x18, 0x00, 0x03, 0x06, 0x05, 0x01, 0x00, 0x02, 0x41, 0x9a));
  /* STAP-A: SPS first. */
  g_assert_true (H264_KEY (0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x41, 0x9a));
  /* Cut right after the second size: the IDR header is not in the bytes. */
  g_assert_false (H264_KEY (0x18, 0x00, 0x03, 0x06, 0x05, 0x01, 0x00, 0x02));
  /* Cut inside the second size field. */
  g_assert_false (H264_KEY (0x18, 0x00, 0x03, 0x06, 0x05, 0x01, 0x00));
  /* The IDR's header is present though its body is cut (a kernel capture). */
  g_assert_true (H264_KEY (0x18, 0x00, 0x03, 0x06, 0x05, 0x01, 0x00, 0x40, 0x65));
  /* First size points past the end: the IDR behind it is not reached. */
  g_assert_false (H264_KEY (0x18, 0xff, 0xff, 0x06, 0x05, 0x01, 0x00, 0x02, 0x65, 0x88));
  /* Zero size: malformed, stop. */
  g_assert_false (H264_KEY (0x18, 0x00, 0x00, 0x00, 0x02, 0x65, 0x88));
  /* STAP-A with nothing after the header. */
  g_assert_false (H264_KEY (0x18));

  /* STAP-B: 2-byte DON, then units. 0x65 inside the DON must not count. */
  g_assert_true (H264_KEY (0x19, 0x00, 0x07, 0x00, 0x01, 0x06, 0x00, 0x02, 0x65, 0x88));
  g_assert_false (H264_KEY (0x19, 0x65, 0x65, 0x00, 0x01, 0x06));
  /* Read as STAP-A, DON 0x0001 would be a size followed by an IDR header. */
  g_assert_false (H264_KEY (0x19, 0x00, 0x01, 0x65, 0x00, 0x41));
  g_assert_true (H264_KEY (0x18, 0x00, 0x01, 0x65, 0x00, 0x41));
}

static void
test_h264_mtap (void)
{
  /* MTAP16: DONB(2); unit: size(2) DOND(1) TS offset(2) NAL. */
  g_assert_true (H264_KEY (0x1a, 0x00, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00, 0x65, 0x88));
  g_assert_false (H264_KEY (0x1a, 0x00, 0x01, 0x00, 0x05, 0x65, 0x65, 0x65, 0x41, 0x88));
  /* Second unit is the IDR. */
  g_assert_true (H264_KEY (0x1a, 0x00, 0x01,
          0x00, 0x04, 0x00, 0x00, 0x00, 0x41,
          0x00, 0x04, 0x01, 0x00, 0x00, 0x65));
  /* MTAP24: TS offset is 3 bytes. */
  g_assert_true (H264_KEY (0x1b, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x65, 0x88));
  g_assert_false (H264_KEY (0x1b, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00, 0x65, 0x41, 0x88));
  /* Size too small to hold DOND + TS offset + NAL header. */
  g_assert_false (H264_KEY (0x1a, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x65));
  /* Cut before the NAL header. */
  g_assert_false (H264_KEY (0x1b, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00));
}

static void
test_h264_fu (void)
{
  /* FU-A start, middle and end fragments of an IDR: all keyframe packets. */
  g_assert_true (H264_KEY (0x7c, 0x85, 0x88, 0x80));
  g_assert_true (H264_KEY (0x7c, 0x05, 0x11, 0x22));
  g_assert_true (H264_KEY (0x7c, 0x45, 0x11));
  /* FU header only, no fragment bytes: still known. */
  g_assert_true (H264_KEY (0x7c, 0x05));
  /* Non-IDR slice fragments. */
  g_assert_false (H264_KEY (0x5c, 0x81, 0x9a));
  g_assert_false (H264_KEY (0x5c, 0x01, 0x65));
  /* Indicator without FU header. */
  g_assert_false (H264_KEY (0x7c));
  /* FU-B: FU header then DON. */
  g_assert_true (H264_KEY (0x7d, 0x85, 0x00, 0x01, 0x88));
  g_assert_false (H264_KEY (0x7d, 0x81, 0x00, 0x05));
}

static void
test_h265 (void)
{
  /* Single NAL units: type in bits 1..6 of the first byte. */
  g_assert_true (H265_KEY (19 << 1, 0x01, 0xaf));  /* IDR_W_RADL */
  g_assert_true (H265_KEY (20 << 1, 0x01));        /* IDR_N_LP */
  g_assert_true (H265_KEY (16 << 1, 0x01));        /* BLA_W_LP */
  g_assert_true (H265_KEY (21 << 1, 0x01));        /* CRA */
  g_assert_true (H265_KEY (32 << 1, 0x01));        /* VPS */
  g_assert_true (H265_KEY (33 << 1, 0x01));        /* SPS */
  g_assert_true (H265_KEY (34 << 1, 0x01));        /* PPS */
  g_assert_true (H265_KEY ((19 << 1) | 0x01, 0x01)); /* layer id bit set in byte 0 */
  g_assert_false (H265_KEY (1 << 1, 0x01));        /* TRAIL_R */
  g_assert_false (H265_KEY (22 << 1, 0x01));       /* reserved IRAP */
  g_assert_false (H265_KEY (35 << 1, 0x01));       /* AUD */
  g_assert_false (H265_KEY (39 << 1, 0x01));       /* prefix SEI */
  g_assert_false (H265_KEY (19 << 1));             /* payload header cut */
  /* H.264 reading of the same byte would differ: 0x26 & 0x1f = 6 (SEI). */
  g_assert_false (H264_KEY (19 << 1, 0x01));

  /* FU: payload header (49), FU header (S/E + type). */
  g_assert_true (H265_KEY (49 << 1, 0x01, 0x80 | 19, 0xaa));  /* start of IDR_W_RADL */
  g_assert_true (H265_KEY (49 << 1, 0x01, 19, 0xaa, 0xbb));   /* middle */
  g_assert_true (H265_KEY (49 << 1, 0x01, 0x40 | 19));        /* end */
  g_assert_true (H265_KEY (49 << 1, 0x01, 0x80 | 21));        /* CRA */
  g_assert_false (H265_KEY (49 << 1, 0x01, 0x80 | 1, 0xaa));  /* TRAIL_R */
  g_assert_false (H265_KEY (49 << 1, 0x01));                  /* FU header cut */
  /* All 6 type bits count: SPS (33) is a keyframe, 51 (= 19 + 32) is not. */
  g_assert_true (H265_KEY (49 << 1, 0x01, 33, 0xaa));
  g_assert_false (H265_KEY (49 << 1, 0x01, 0x80 | 51, 0xaa));

  /* AP: prefix SEI (3 bytes) then IDR_W_RADL (3 bytes). */
  g_assert_true (H265_KEY (48 << 1, 0x01,
          0x00, 0x03, 39 << 1, 0x01, 0x05,
          0x00, 0x03, 19 << 1, 0x01, 0xaf));
  g_assert_false (H265_KEY (48 << 1, 0x01,
          0x00, 0x03, 39 << 1, 0x01, 0x05,
          0x00, 0x03, 1 << 1, 0x01, 0xaf));
  /* AP with VPS first. */
  g_assert_true (H265_KEY (48 << 1, 0x01, 0x00, 0x02, 32 << 1, 0x01));
  /* Cut inside the second size, and size past the end. */
  g_assert_false (H265_KEY (48 << 1, 0x01, 0x00, 0x03, 39 << 1, 0x01, 0x05, 0x00));
  g_assert_false (H265_KEY (48 << 1, 0x01, 0xff, 0xf0, 39 << 1, 0x01, 0x05,
          0x00, 0x03, 19 << 1, 0x01, 0xaf));
  /* Size smaller than a NAL header: malformed. */
  g_assert_false (H265_KEY (48 << 1, 0x01, 0x00, 0x01, 0x00, 0x00, 0x03, 19 << 1, 0x01));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/rtp_parse/fixed-header", test_fixed_header);
  g_test_add_func ("/rtp_parse/rejects-non-rtp", test_rejects_non_rtp);
  g_test_add_func ("/rtp_parse/csrc-list", test_csrc_list);
  g_test_add_func ("/rtp_parse/extension", test_extension);
  g_test_add_func ("/rtp_parse/padding", test_padding);
  g_test_add_func ("/rtp_parse/truncations", test_truncations_never_overread);
  g_test_add_func ("/rtp_parse/random-bytes", test_random_bytes);
  g_test_add_func ("/rtp_parse/codec-names", test_codec_names);
  g_test_add_func ("/rtp_parse/h264-single-nal", test_h264_single_nal);
  g_test_add_func ("/rtp_parse/h264-stap", test_h264_stap);
  g_test_add_func ("/rtp_parse/h264-mtap", test_h264_mtap);
  g_test_add_func ("/rtp_parse/h264-fu", test_h264_fu);
  g_test_add_func ("/rtp_parse/h265", test_h265);
  return g_test_run ();
}
