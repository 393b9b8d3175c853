/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of arrival_stats: RFC 3550 jitter, frame-interval deviation, silence. */
#include <glib.h>

#include "arrival_stats.h"

#define SSRC 0xabcdef01u
#define FRAME_TS 3000u           /* 30 fps at 90 kHz */
#define FRAME_NS 33333333ull

/* Packets that arrive exactly when their timestamps say: no jitter, no FID. */
static void
test_perfect_pacing (void)
{
  vdm_arrival_stats s;
  double mean, max;
  guint i;

  vdm_arrival_stats_init (&s, 90000);
  for (i = 0; i < 300; i++)
    vdm_arrival_stats_packet (&s, 1000 * VDM_SECOND + i * FRAME_NS,
        SSRC, 12345 + i * FRAME_TS);
  g_assert_cmpfloat (vdm_arrival_stats_jitter_ms (&s), <, 0.05);
  vdm_arrival_stats_take_fid (&s, &mean, &max);
  g_assert_cmpfloat (mean, <, 0.01);
  g_assert_cmpfloat (max, <, 0.01);
}

/* Every other frame arrives 10 ms late: |D| alternates 10 ms, and the
 * jitter estimate converges to 10 ms; FID mean is 10 ms, max 10 ms. */
static void
test_alternating_delay (void)
{
  vdm_arrival_stats s;
  double mean, max;
  guint i;

  vdm_arrival_stats_init (&s, 90000);
  for (i = 0; i < 400; i++) {
    guint64 late = (i % 2) ? 10 * VDM_MSECOND : 0;
    vdm_arrival_stats_packet (&s, VDM_SECOND + i * FRAME_NS + late, SSRC, i * FRAME_TS);
  }
  g_assert_cmpfloat_with_epsilon (vdm_arrival_stats_jitter_ms (&s), 10.0, 0.2);
  vdm_arrival_stats_take_fid (&s, &mean, &max);
  g_assert_cmpfloat_with_epsilon (mean, 10.0, 0.01);
  g_assert_cmpfloat_with_epsilon (max, 10.0, 0.01);
  /* taken: the next interval starts from zero */
  vdm_arrival_stats_take_fid (&s, &mean, &max);
  g_assert_cmpfloat (mean, ==, 0.0);
  g_assert_cmpfloat (max, ==, 0.0);
}

/* A frame of several packets counts once for FID. */
static void
test_packets_of_one_frame (void)
{
  vdm_arrival_stats s;
  double mean, max;

  vdm_arrival_stats_init (&s, 90000);
  vdm_arrival_stats_packet (&s, VDM_SECOND, SSRC, 0);
  vdm_arrival_stats_packet (&s, VDM_SECOND + 1 * VDM_MSECOND, SSRC, 0);
  vdm_arrival_stats_packet (&s, VDM_SECOND + 2 * VDM_MSECOND, SSRC, 0);
  vdm_arrival_stats_packet (&s, VDM_SECOND + FRAME_NS + 5 * VDM_MSECOND, SSRC, FRAME_TS);
  vdm_arrival_stats_take_fid (&s, &mean, &max);
  g_assert_cmpfloat_with_epsilon (mean, 5.0, 0.001);
  g_assert_cmpfloat_with_epsilon (max, 5.0, 0.001);
}

static void
test_silence (void)
{
  vdm_arrival_stats s;
  guint i;

  vdm_arrival_stats_init (&s, 90000);
  g_assert_false (vdm_arrival_stats_is_silent (&s, 10 * VDM_SECOND, 200 * VDM_MSECOND));
  for (i = 0; i < 30; i++)
    vdm_arrival_stats_packet (&s, VDM_SECOND + i * FRAME_NS, SSRC, i * FRAME_TS);
  guint64 last = VDM_SECOND + 29 * FRAME_NS;
  g_assert_false (vdm_arrival_stats_is_silent (&s, last + 199 * VDM_MSECOND, 200 * VDM_MSECOND));
  g_assert_true (vdm_arrival_stats_is_silent (&s, last + 200 * VDM_MSECOND, 200 * VDM_MSECOND));
  /* a slow stream (2 fps) needs 3 frame intervals of nothing */
  vdm_arrival_stats_init (&s, 90000);
  for (i = 0; i < 30; i++)
    vdm_arrival_stats_packet (&s, VDM_SECOND + i * 500 * VDM_MSECOND, SSRC, i * 45000);
  last = VDM_SECOND + 29 * 500 * VDM_MSECOND;
  g_assert_false (vdm_arrival_stats_is_silent (&s, last + 1400 * VDM_MSECOND, 200 * VDM_MSECOND));
  g_assert_true (vdm_arrival_stats_is_silent (&s, last + 1500 * VDM_MSECOND, 200 * VDM_MSECOND));
}

static void
test_ssrc_change_and_wrap (void)
{
  vdm_arrival_stats s;
  double mean, max;
  guint i;

  vdm_arrival_stats_init (&s, 90000);
  for (i = 0; i < 10; i++)
    vdm_arrival_stats_packet (&s, VDM_SECOND + i * FRAME_NS + (i % 2) * 20 * VDM_MSECOND, SSRC,
        i * FRAME_TS);
  g_assert_cmpfloat (vdm_arrival_stats_jitter_ms (&s), >, 1.0);
  /* a new sender restarts everything */
  vdm_arrival_stats_packet (&s, 5 * VDM_SECOND, SSRC + 1, 777);
  g_assert_cmpfloat (vdm_arrival_stats_jitter_ms (&s), ==, 0.0);
  g_assert_cmpuint (s.packets, ==, 1);
  /* timestamps wrapping through 2^32 are one frame apart, not 13 hours */
  vdm_arrival_stats_init (&s, 90000);
  vdm_arrival_stats_packet (&s, VDM_SECOND, SSRC, 0xffffffffu - 1000);
  vdm_arrival_stats_packet (&s, VDM_SECOND + FRAME_NS, SSRC, 0xffffffffu - 1000 + FRAME_TS);
  vdm_arrival_stats_take_fid (&s, &mean, &max);
  g_assert_cmpfloat (max, <, 0.01);
  g_assert_cmpfloat (vdm_arrival_stats_jitter_ms (&s), <, 0.05);
}

/* Arrival times whose RTP-unit value crosses 2^63 between two packets (the
 * highest clock rate caps allow, a monotonic clock far from zero): the
 * transit difference overflowed int64 (UBSan: signed integer overflow in
 * arrival_stats.c, found by tests/fuzz/fuzz_timeline.c). Transit is only
 * meaningful modulo 2^32: perfect pacing must still give no jitter. */
static void
test_transit_past_int64 (void)
{
  const guint32 rate = G_MAXINT32;
  guint64 t0 = (guint64) ((unsigned __int128) (G_MAXINT64 - 2 * (guint64) rate) * VDM_SECOND
      / rate);
  vdm_arrival_stats s;
  guint i;

  vdm_arrival_stats_init (&s, rate);
  for (i = 0; i < 6; i++)       /* one frame a second, timestamps +rate */
    vdm_arrival_stats_packet (&s, t0 + i * VDM_SECOND, SSRC, 7 + i * rate);
  g_assert_cmpfloat (vdm_arrival_stats_jitter_ms (&s), <, 0.001);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/arrival-stats/perfect-pacing", test_perfect_pacing);
  g_test_add_func ("/arrival-stats/alternating-delay", test_alternating_delay);
  g_test_add_func ("/arrival-stats/packets-of-one-frame", test_packets_of_one_frame);
  g_test_add_func ("/arrival-stats/silence", test_silence);
  g_test_add_func ("/arrival-stats/ssrc-change-and-wrap", test_ssrc_change_and_wrap);
  g_test_add_func ("/arrival-stats/transit-past-int64", test_transit_past_int64);
  return g_test_run ();
}
