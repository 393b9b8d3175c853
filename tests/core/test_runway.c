/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of runway: lag of arrival behind media time and time to empty. */
#include <glib.h>

#include "runway.h"

#define MS VDM_MSECOND
#define FRAME (40 * MS)          /* 25 fps */

/* Frames arriving exactly in real time: no lag, never empties. */
static void
test_steady_stream (void)
{
  vdm_runway r;
  guint i;

  vdm_runway_init (&r);
  for (i = 0; i < 500; i++)
    vdm_runway_observe (&r, 1000 * VDM_SECOND + i * FRAME + (i % 3) * MS, i * FRAME);
  g_assert_cmpint (vdm_runway_lag (&r), <=, (gint64) (2 * MS));
  g_assert_cmpuint (vdm_runway_time_to_empty (&r, 2 * VDM_SECOND), ==, VDM_TIME_NONE);
}

/* Throughput at 80 % of the bitrate: each 40 ms frame takes 50 ms, the lag
 * grows by 0.25 s per second of media... per 1.25 s of wall time: slope
 * 0.2. After 5 s of wall time the lag is 1 s; a 2 s buffer empties in
 * (2 - 1) / 0.2 = 5 s. */
static void
test_slow_path_eats_the_buffer (void)
{
  vdm_runway r;
  guint i;
  guint64 t = 0, eta;

  vdm_runway_init (&r);
  for (i = 0; i < 100; i++)     /* 4 s of normal arrival first */
    vdm_runway_observe (&r, 50 * VDM_SECOND + i * FRAME, i * FRAME);
  t = 50 * VDM_SECOND + 100 * FRAME;
  for (i = 100; i < 200; i++, t += 50 * MS)
    vdm_runway_observe (&r, t, i * FRAME);
  g_assert_cmpint (vdm_runway_lag (&r), >=, (gint64) (950 * MS));
  g_assert_cmpint (vdm_runway_lag (&r), <=, (gint64) (1050 * MS));
  eta = vdm_runway_time_to_empty (&r, 2 * VDM_SECOND);
  g_assert_cmpuint (eta, >=, 4 * VDM_SECOND);
  g_assert_cmpuint (eta, <=, 6 * VDM_SECOND);
  /* a buffer smaller than the lag is already empty */
  g_assert_cmpuint (vdm_runway_time_to_empty (&r, 500 * MS), ==, 0);
}

/* The slow path of test_slow_path_eats_the_buffer, 1 s of lag, and the
 * player starts its timeline over there (vdm_runway_rebase): the lag is 0,
 * its growth (0.2) stays, so the 2 s buffer empties in ~10 s, not 5 s;
 * 2.5 s later (50 frames of 50 ms) the lag is back at ~0.5 s. Without the
 * rebase it would be ~1.5 s. */
static void
test_rebase_keeps_growth (void)
{
  vdm_runway r;
  guint i;
  guint64 t, eta;

  vdm_runway_init (&r);
  vdm_runway_rebase (&r);               /* not started: nothing to do */
  g_assert_false (r.started);
  for (i = 0; i < 100; i++)
    vdm_runway_observe (&r, 50 * VDM_SECOND + i * FRAME, i * FRAME);
  t = 50 * VDM_SECOND + 100 * FRAME;
  for (i = 100; i < 200; i++, t += 50 * MS)
    vdm_runway_observe (&r, t, i * FRAME);
  vdm_runway_rebase (&r);
  g_assert_cmpint (vdm_runway_lag (&r), ==, 0);
  eta = vdm_runway_time_to_empty (&r, 2 * VDM_SECOND);
  g_assert_cmpuint (eta, >=, 8 * VDM_SECOND);
  g_assert_cmpuint (eta, <=, 12 * VDM_SECOND);
  for (i = 200; i < 250; i++, t += 50 * MS)
    vdm_runway_observe (&r, t, i * FRAME);
  g_assert_cmpint (vdm_runway_lag (&r), >=, (gint64) (450 * MS));
  g_assert_cmpint (vdm_runway_lag (&r), <=, (gint64) (550 * MS));
}

/* Arriving early (a burst after a stall) is not lag; nor is a big
 * discontinuity (a new stream): it restarts. */
static void
test_early_and_discontinuity (void)
{
  vdm_runway r;
  guint i;

  vdm_runway_init (&r);
  for (i = 0; i < 50; i++)
    vdm_runway_observe (&r, VDM_SECOND + i * FRAME, i * FRAME);
  vdm_runway_observe (&r, VDM_SECOND + 50 * FRAME - 30 * MS, 50 * FRAME);
  g_assert_cmpint (vdm_runway_lag (&r), ==, 0);
  vdm_runway_observe (&r, VDM_SECOND + 51 * FRAME, 51 * FRAME + 3600 * VDM_SECOND);
  g_assert_cmpint (vdm_runway_lag (&r), ==, 0);
  g_assert_cmpuint (vdm_runway_time_to_empty (&r, VDM_SECOND), ==, VDM_TIME_NONE);
}

/* Lag that stopped growing (a one-off delay) does not keep warning once
 * the memory of the best offset has moved on... but while remembered it
 * is lag; its growth decays to zero. */
static void
test_one_off_delay_stops_growing (void)
{
  vdm_runway r;
  guint i;

  vdm_runway_init (&r);
  for (i = 0; i < 50; i++)
    vdm_runway_observe (&r, VDM_SECOND + i * FRAME, i * FRAME);
  for (i = 50; i < 300; i++)    /* everything 300 ms late from now on */
    vdm_runway_observe (&r, VDM_SECOND + i * FRAME + 300 * MS, i * FRAME);
  g_assert_cmpint (vdm_runway_lag (&r), ==, (gint64) (300 * MS));
  g_assert_cmpuint (vdm_runway_time_to_empty (&r, 2 * VDM_SECOND), ==, VDM_TIME_NONE);
}

/* media_ns as the element computes it from an extended RTP timestamp:
 * ts_ext * 1 s / clock_rate, saturating as gst_util_uint64_scale does. */
static guint64
media_of (guint64 rtp_ts_ext, guint32 clock_rate)
{
  unsigned __int128 ns = (unsigned __int128) rtp_ts_ext * VDM_SECOND / clock_rate;
  return ns > G_MAXUINT64 ? G_MAXUINT64 : (guint64) ns;
}

/* Issue 9 #4: clock-rate=1 (the server's SDP says so) and timestamps that
 * step by almost 2^31 put the offsets (arrival - media) at both ends of the
 * int64 range: offset - best overflowed (UBSan: signed integer overflow in
 * runway.c) and the wrapped difference hid the discontinuity, so the lag
 * came out negative or absurd. Each such jump is a new timeline: the lag
 * must stay within the 10 s discontinuity limit and never go negative, and
 * time-to-empty must be a real answer. */
static void
test_clock_rate_1_timestamp_jumps (void)
{
  vdm_runway r;
  guint64 ts_ext = G_GUINT64_CONSTANT (1) << 32;   /* where the element starts */
  guint64 arrival = 10 * VDM_SECOND;
  guint i;

  vdm_runway_init (&r);
  for (i = 0; i < 64; i++, arrival += 20 * MS) {
    vdm_runway_observe (&r, arrival, media_of (ts_ext, 1));
    g_assert_cmpint (vdm_runway_lag (&r), >=, 0);
    g_assert_cmpint (vdm_runway_lag (&r), <=, (gint64) (10 * VDM_SECOND));
    (void) vdm_runway_time_to_empty (&r, 2 * VDM_SECOND);
    (void) vdm_runway_time_to_empty (&r, G_MAXUINT64);
    ts_ext += G_MAXINT32;       /* +2^31 - 1: forward, as (gint32) casts it */
  }
}

/* Offsets at the two ends of the int64 range, in both orders, and a buffer
 * beyond INT64_MAX: no overflow, a restart each time. */
static void
test_extreme_offsets (void)
{
  vdm_runway r;

  vdm_runway_init (&r);
  vdm_runway_observe (&r, 0, (guint64) G_MAXINT64);          /* offset ~ INT64_MIN */
  vdm_runway_observe (&r, 1, G_MAXUINT64 - (guint64) G_MAXINT64 + 2); /* offset ~ INT64_MAX */
  g_assert_cmpint (vdm_runway_lag (&r), ==, 0);
  vdm_runway_observe (&r, 2, (guint64) G_MAXINT64);
  g_assert_cmpint (vdm_runway_lag (&r), ==, 0);
  g_assert_cmpuint (vdm_runway_time_to_empty (&r, G_MAXUINT64), ==, VDM_TIME_NONE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/runway/steady-stream", test_steady_stream);
  g_test_add_func ("/runway/slow-path-eats-the-buffer", test_slow_path_eats_the_buffer);
  g_test_add_func ("/runway/early-and-discontinuity", test_early_and_discontinuity);
  g_test_add_func ("/runway/rebase-keeps-growth", test_rebase_keeps_growth);
  g_test_add_func ("/runway/one-off-delay-stops-growing", test_one_off_delay_stops_growing);
  g_test_add_func ("/runway/clock-rate-1-timestamp-jumps", test_clock_rate_1_timestamp_jumps);
  g_test_add_func ("/runway/extreme-offsets", test_extreme_offsets);
  return g_test_run ();
}
