/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of frame_map: exact and extrapolated RTP lookups, keyframe flags, arrivals. */
#include <glib.h>

#include "frame_map.h"

#define SSRC 0xcafe0001u
#define FRAME_TICKS 3000u /* 30 fps at 90 kHz */

static vdm_frame_info
lookup_ok (vdm_frame_map *map, guint32 ssrc, guint32 rtp_ts)
{
  vdm_frame_info info = { 0 };
  g_assert_true (vdm_frame_map_lookup_rtp (map, ssrc, rtp_ts, &info));
  return info;
}

static void
test_exact (void)
{
  vdm_frame_map *map = vdm_frame_map_new (16);
  vdm_frame_info info;

  g_assert_false (vdm_frame_map_lookup_rtp (map, SSRC, 1000, &info));

  vdm_frame_map_observe_rtp (map, SSRC, 1000, 5 * VDM_SECOND, FALSE);
  info = lookup_ok (map, SSRC, 1000);
  g_assert_true (info.pts_exact);
  g_assert_cmpuint (info.pts, ==, 5 * VDM_SECOND);
  g_assert_false (info.keyframe);

  /* Another SSRC knows nothing. */
  g_assert_false (vdm_frame_map_lookup_rtp (map, SSRC + 1, 1000, &info));
  vdm_frame_map_free (map);
}

static void
test_keyframe_is_or_of_packets (void)
{
  vdm_frame_map *map = vdm_frame_map_new (16);

  /* The keyframe NAL is in the second packet of the frame only. */
  vdm_frame_map_observe_rtp (map, SSRC, 9000, VDM_TIME_NONE, FALSE);
  vdm_frame_map_observe_rtp (map, SSRC, 9000, 2 * VDM_SECOND, TRUE);
  vdm_frame_map_observe_rtp (map, SSRC, 9000, 2 * VDM_SECOND, FALSE);
  /* Another frame in between must not disturb it. */
  vdm_frame_map_observe_rtp (map, SSRC, 12000, VDM_TIME_NONE, FALSE);
  vdm_frame_map_observe_rtp (map, SSRC, 9000, 2 * VDM_SECOND, FALSE);

  vdm_frame_info info = lookup_ok (map, SSRC, 9000);
  g_assert_true (info.keyframe);
  g_assert_true (info.pts_exact);
  /* The PTS came with the second packet. */
  g_assert_cmpuint (info.pts, ==, 2 * VDM_SECOND);

  info = lookup_ok (map, SSRC, 12000);
  g_assert_false (info.keyframe);
  /* Exactly seen but without a PTS: placed from its neighbour. */
  g_assert_true (info.pts_exact);
  g_assert_cmpuint (info.pts, ==, 2 * VDM_SECOND + 3000 * VDM_SECOND / 90000);
  vdm_frame_map_free (map);
}

static void
test_extrapolation (void)
{
  vdm_frame_map *map = vdm_frame_map_new (16);
  vdm_frame_map_observe_rtp (map, SSRC, 90000, VDM_SECOND, TRUE);

  vdm_frame_info info = lookup_ok (map, SSRC, 90000 + FRAME_TICKS);
  g_assert_false (info.pts_exact);
  g_assert_false (info.keyframe); /* not known for a frame never seen */
  g_assert_cmpuint (info.pts, ==, VDM_SECOND + 33333333);

  info = lookup_ok (map, SSRC, 90000 - 45000);
  g_assert_cmpuint (info.pts, ==, VDM_SECOND / 2);
  info = lookup_ok (map, SSRC, 0);
  g_assert_cmpuint (info.pts, ==, 0);
  /* Before PTS 0: cannot be told. */
  info = lookup_ok (map, SSRC, 0u - 90u);
  g_assert_cmpuint (info.pts, ==, VDM_TIME_NONE);

  /* Other clock rates; 0 restores 90 kHz. */
  vdm_frame_map_set_clock_rate (map, 48000);
  info = lookup_ok (map, SSRC, 90000 + 48000);
  g_assert_cmpuint (info.pts, ==, 2 * VDM_SECOND);
  vdm_frame_map_set_clock_rate (map, 0);
  info = lookup_ok (map, SSRC, 90000 + 90000);
  g_assert_cmpuint (info.pts, ==, 2 * VDM_SECOND);
  vdm_frame_map_free (map);
}

static void
test_extrapolation_wraps (void)
{
  vdm_frame_map *map = vdm_frame_map_new (16);
  vdm_frame_map_observe_rtp (map, SSRC, 0xffffff00u, 5 * VDM_SECOND, FALSE);

  /* 0x100 is 512 ticks after 0xffffff00, not 4 billion before. */
  vdm_frame_info info = lookup_ok (map, SSRC, 0x100);
  g_assert_cmpuint (info.pts, ==, 5 * VDM_SECOND + 512 * VDM_SECOND / 90000);

  /* And the other way round. */
  vdm_frame_map_reset (map);
  vdm_frame_map_observe_rtp (map, SSRC, 0x100, 5 * VDM_SECOND, FALSE);
  info = lookup_ok (map, SSRC, 0xffffff00u);
  g_assert_cmpuint (info.pts, ==, 5 * VDM_SECOND - 512 * VDM_SECOND / 90000);

  /* Nearest by wrap-safe distance: 0xffffff00 is 512 ticks from 0x100,
   * 0x80000000 is 2^31 - 256 away. */
  vdm_frame_map_reset (map);
  vdm_frame_map_observe_rtp (map, SSRC, 0x80000000u, 1000 * VDM_SECOND, FALSE);
  vdm_frame_map_observe_rtp (map, SSRC, 0xffffff00u, 10 * VDM_SECOND, FALSE);
  info = lookup_ok (map, SSRC, 0x100);
  g_assert_cmpuint (info.pts, ==, 10 * VDM_SECOND + 512 * VDM_SECOND / 90000);
  vdm_frame_map_reset (map);
  vdm_frame_map_observe_rtp (map, SSRC, 0x100, 5 * VDM_SECOND, FALSE);

  /* The largest distance either way (2^31 ticks) with a tiny clock rate:
   * 2^31 * 1e9 must not overflow. */
  vdm_frame_map_set_clock_rate (map, 1);
  info = lookup_ok (map, SSRC, 0x100 + 0x7fffffffu);
  g_assert_cmpuint (info.pts, ==, 5 * VDM_SECOND + (guint64) 0x7fffffff * VDM_SECOND);
  info = lookup_ok (map, SSRC, 0x100 + 0x80000000u);
  g_assert_cmpuint (info.pts, ==, VDM_TIME_NONE);
  vdm_frame_map_free (map);
}

static void
test_nearest_anchor (void)
{
  vdm_frame_map *map = vdm_frame_map_new (16);

  /* Two anchors that disagree (e.g. a PTS discontinuity between them):
   * the nearer one wins, on either side. */
  vdm_frame_map_observe_rtp (map, SSRC, 0, 10 * VDM_SECOND, FALSE);
  vdm_frame_map_observe_rtp (map, SSRC, 900000, 100 * VDM_SECOND, FALSE);
  /* Anchors of another SSRC, nearer, are ignored. */
  vdm_frame_map_observe_rtp (map, SSRC + 1, 800000, 500 * VDM_SECOND, FALSE);
  /* A frame without PTS cannot anchor. */
  vdm_frame_map_observe_rtp (map, SSRC, 810000, VDM_TIME_NONE, FALSE);

  vdm_frame_info info = lookup_ok (map, SSRC, 810000 - 9000);
  g_assert_cmpuint (info.pts, ==, 100 * VDM_SECOND - (900000 - 801000) * VDM_SECOND / 90000);
  info = lookup_ok (map, SSRC, 90000);
  g_assert_cmpuint (info.pts, ==, 11 * VDM_SECOND);
  vdm_frame_map_free (map);
}

static void
test_no_pts_known (void)
{
  vdm_frame_map *map = vdm_frame_map_new (4);
  vdm_frame_map_observe_rtp (map, SSRC, 100, VDM_TIME_NONE, TRUE);
  /* The SSRC is known, the PTS is not. */
  vdm_frame_info info = lookup_ok (map, SSRC, 3100);
  g_assert_cmpuint (info.pts, ==, VDM_TIME_NONE);
  g_assert_false (info.pts_exact);
  info = lookup_ok (map, SSRC, 100);
  g_assert_cmpuint (info.pts, ==, VDM_TIME_NONE);
  g_assert_true (info.pts_exact);
  g_assert_true (info.keyframe);
  vdm_frame_map_free (map);
}

static void
test_capacity (void)
{
  vdm_frame_map *map = vdm_frame_map_new (4);
  for (guint i = 0; i < 6; i++)
    vdm_frame_map_observe_rtp (map, SSRC, i * FRAME_TICKS, i * 100 * VDM_MSECOND, i == 0);

  /* Frames 0 and 1 were forgotten: extrapolated from frame 2, keyframe unknown. */
  vdm_frame_info info = lookup_ok (map, SSRC, 0);
  g_assert_false (info.pts_exact);
  g_assert_false (info.keyframe);
  g_assert_cmpuint (info.pts, ==, 200 * VDM_MSECOND - 2 * 33333333);
  info = lookup_ok (map, SSRC, 2 * FRAME_TICKS);
  g_assert_true (info.pts_exact);
  g_assert_cmpuint (info.pts, ==, 200 * VDM_MSECOND);

  /* An SSRC whose frames all left the ring is unknown again. */
  vdm_frame_map_observe_rtp (map, SSRC + 1, 0, 0, FALSE);
  for (guint i = 0; i < 4; i++)
    vdm_frame_map_observe_rtp (map, SSRC, (10 + i) * FRAME_TICKS, VDM_SECOND, FALSE);
  g_assert_false (vdm_frame_map_lookup_rtp (map, SSRC + 1, 0, &info));

  /* Capacity 0 still works (one frame). */
  vdm_frame_map_free (map);
  map = vdm_frame_map_new (0);
  vdm_frame_map_observe_rtp (map, SSRC, 1, VDM_SECOND, TRUE);
  vdm_frame_map_observe_rtp (map, SSRC, 2, VDM_SECOND, FALSE);
  info = lookup_ok (map, SSRC, 2);
  g_assert_true (info.pts_exact);
  g_assert_false (lookup_ok (map, SSRC, 1).pts_exact);
  vdm_frame_map_free (map);
}

static void
test_pts_limits (void)
{
  vdm_frame_map *map = vdm_frame_map_new (4);
  vdm_frame_map_observe_rtp (map, SSRC, 0, VDM_TIME_NONE - 10, FALSE);
  /* Past the end of time: unknown rather than wrapped. */
  g_assert_cmpuint (lookup_ok (map, SSRC, 90).pts, ==, VDM_TIME_NONE);
  g_assert_cmpuint (lookup_ok (map, SSRC, 0u - 90u).pts, ==, VDM_TIME_NONE - 10 - VDM_MSECOND);
  vdm_frame_map_free (map);
}

static void
test_reset (void)
{
  vdm_frame_map *map = vdm_frame_map_new (4);
  vdm_frame_map_observe_rtp (map, SSRC, 0, 0, FALSE);
  vdm_frame_map_observe_arrival (map, 10, 20);
  vdm_frame_map_reset (map);
  g_assert_false (vdm_frame_map_lookup_rtp (map, SSRC, 0, NULL));
  g_assert_cmpuint (vdm_frame_map_lookup_arrival (map, 0), ==, VDM_TIME_NONE);
  vdm_frame_map_free (map);
}

static void
test_arrival (void)
{
  vdm_frame_map *map = vdm_frame_map_new (8);

  g_assert_cmpuint (vdm_frame_map_lookup_arrival (map, 100), ==, VDM_TIME_NONE);
  vdm_frame_map_observe_arrival (map, 100, 1000);
  vdm_frame_map_observe_arrival (map, 200, 2000);
  vdm_frame_map_observe_arrival (map, 200, 2500); /* same arrival: the first one counts */
  vdm_frame_map_observe_arrival (map, 300, 3000);
  /* Buffers without times teach nothing. */
  vdm_frame_map_observe_arrival (map, VDM_TIME_NONE, 9000);
  vdm_frame_map_observe_arrival (map, 400, VDM_TIME_NONE);

  g_assert_cmpuint (vdm_frame_map_lookup_arrival (map, 50), ==, 1000);
  g_assert_cmpuint (vdm_frame_map_lookup_arrival (map, 100), ==, 1000);
  g_assert_cmpuint (vdm_frame_map_lookup_arrival (map, 101), ==, 2000);
  g_assert_cmpuint (vdm_frame_map_lookup_arrival (map, 200), ==, 2000);
  g_assert_cmpuint (vdm_frame_map_lookup_arrival (map, 300), ==, 3000);
  /* Nothing arrived since: extrapolated from the last arrival. */
  g_assert_cmpuint (vdm_frame_map_lookup_arrival (map, 350), ==, 3050);
  g_assert_cmpuint (vdm_frame_map_lookup_arrival (map, VDM_TIME_NONE), ==, VDM_TIME_NONE);

  /* The ring forgets the oldest. */
  for (guint i = 0; i < 8; i++)
    vdm_frame_map_observe_arrival (map, 1000 + i * 10, 10000 + i * 10);
  g_assert_cmpuint (vdm_frame_map_lookup_arrival (map, 150), ==, 10000);
  g_assert_cmpuint (vdm_frame_map_lookup_arrival (map, 1075), ==, 10070 + 5);
  vdm_frame_map_free (map);
}

/* A frame already remembered is found again whatever the timestamp order
 * (B-frames: decode order is not timestamp order; the 32-bit wrap; two
 * SSRCs), never remembered twice: with capacity 4, a duplicate would evict
 * the oldest frame. */
static void
test_known_frame_found_in_any_order (void)
{
  const guint32 ts[] = { 0xfffff000u, 0x00000400u, 0xfffff800u, 0x00000c00u };
  vdm_frame_map *map = vdm_frame_map_new (4);
  vdm_frame_info info;

  for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
    vdm_frame_map_observe_rtp (map, SSRC, ts[i], (i + 1) * VDM_SECOND, FALSE);
  /* later packets of each frame, newest timestamp last, one a keyframe's */
  vdm_frame_map_observe_rtp (map, SSRC, 0xfffff800u, VDM_TIME_NONE, TRUE);
  vdm_frame_map_observe_rtp (map, SSRC, 0xfffff000u, VDM_TIME_NONE, FALSE);
  vdm_frame_map_observe_rtp (map, SSRC, 0x00000400u, VDM_TIME_NONE, FALSE);
  vdm_frame_map_observe_rtp (map, SSRC, 0x00000c00u, VDM_TIME_NONE, FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (ts); i++) {
    info = lookup_ok (map, SSRC, ts[i]);
    g_assert_true (info.pts_exact);
    g_assert_cmpuint (info.pts, ==, (i + 1) * VDM_SECOND);
    g_assert_cmpint (info.keyframe, ==, i == 2);
  }
  /* a second SSRC with the same timestamps: its own frames, and the first
   * SSRC's frames are still found after it (the ring now holds both) */
  vdm_frame_map_reset (map);
  vdm_frame_map_observe_rtp (map, SSRC, 6000, VDM_SECOND, FALSE);
  vdm_frame_map_observe_rtp (map, SSRC + 1, 9000, 2 * VDM_SECOND, FALSE);
  vdm_frame_map_observe_rtp (map, SSRC, 3000, 3 * VDM_SECOND, FALSE);
  vdm_frame_map_observe_rtp (map, SSRC, 6000, VDM_TIME_NONE, TRUE);
  vdm_frame_map_observe_rtp (map, SSRC + 1, 9000, VDM_TIME_NONE, TRUE);
  g_assert_true (lookup_ok (map, SSRC, 6000).keyframe);
  g_assert_cmpuint (lookup_ok (map, SSRC, 6000).pts, ==, VDM_SECOND);
  g_assert_true (lookup_ok (map, SSRC + 1, 9000).keyframe);
  g_assert_false (lookup_ok (map, SSRC, 3000).keyframe);
  /* nothing was remembered twice: the ring of 4 has room for one more */
  vdm_frame_map_observe_rtp (map, SSRC, 12000, 4 * VDM_SECOND, FALSE);
  info = lookup_ok (map, SSRC, 6000);
  g_assert_true (info.pts_exact);
  vdm_frame_map_free (map);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/frame_map/exact", test_exact);
  g_test_add_func ("/frame_map/keyframe-or", test_keyframe_is_or_of_packets);
  g_test_add_func ("/frame_map/extrapolation", test_extrapolation);
  g_test_add_func ("/frame_map/extrapolation-wraps", test_extrapolation_wraps);
  g_test_add_func ("/frame_map/nearest-anchor", test_nearest_anchor);
  g_test_add_func ("/frame_map/no-pts-known", test_no_pts_known);
  g_test_add_func ("/frame_map/capacity", test_capacity);
  g_test_add_func ("/frame_map/pts-limits", test_pts_limits);
  g_test_add_func ("/frame_map/reset", test_reset);
  g_test_add_func ("/frame_map/arrival", test_arrival);
  g_test_add_func ("/frame_map/known-frame-found-in-any-order",
      test_known_frame_found_in_any_order);
  return g_test_run ();
}
