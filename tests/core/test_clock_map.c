/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of clock_map: monotonic time to running time, with offsets of either sign. */
#include <glib.h>

#include "clock_map.h"

static void
test_invalid_until_updated (void)
{
  vdm_clock_map map;
  vdm_clock_map_init (&map);
  g_assert_cmpuint (vdm_clock_map_running_time (&map, 0), ==, VDM_TIME_NONE);
  g_assert_cmpuint (vdm_clock_map_running_time (&map, 5 * VDM_SECOND), ==, VDM_TIME_NONE);

  /* A base time of NONE (element not playing) gives nothing either. */
  vdm_clock_map_update (&map, VDM_SECOND, VDM_SECOND, VDM_TIME_NONE);
  g_assert_cmpuint (vdm_clock_map_running_time (&map, 2 * VDM_SECOND), ==, VDM_TIME_NONE);
}

static void
test_clock_ahead (void)
{
  vdm_clock_map map;
  vdm_clock_map_init (&map);
  /* The pipeline clock reads 100 s while CLOCK_MONOTONIC reads 10 s; base time 95 s. */
  vdm_clock_map_update (&map, 10 * VDM_SECOND, 100 * VDM_SECOND, 95 * VDM_SECOND);
  g_assert_true (map.valid);
  g_assert_cmpint (map.mono_to_clock, ==, 90 * (gint64) VDM_SECOND);
  g_assert_cmpuint (vdm_clock_map_running_time (&map, 10 * VDM_SECOND), ==, 5 * VDM_SECOND);
  g_assert_cmpuint (vdm_clock_map_running_time (&map, 6 * VDM_SECOND), ==, VDM_SECOND);
  g_assert_cmpuint (vdm_clock_map_running_time (&map, 5 * VDM_SECOND), ==, 0);
  /* Before the pipeline started. */
  g_assert_cmpuint (vdm_clock_map_running_time (&map, 5 * VDM_SECOND - 1), ==, VDM_TIME_NONE);
  g_assert_cmpuint (vdm_clock_map_running_time (&map, 4 * VDM_SECOND), ==, VDM_TIME_NONE);
  g_assert_cmpuint (vdm_clock_map_running_time (&map, VDM_TIME_NONE), ==, VDM_TIME_NONE);
  /* Past the end of the clock's range. */
  g_assert_cmpuint (vdm_clock_map_running_time (&map, VDM_TIME_NONE - VDM_SECOND), ==,
      VDM_TIME_NONE);
}

static void
test_clock_behind (void)
{
  vdm_clock_map map;
  vdm_clock_map_init (&map);
  /* E.g. a clock that started at 0 when the monotonic clock was at 1000 s. */
  vdm_clock_map_update (&map, 1000 * VDM_SECOND, 3 * VDM_SECOND, VDM_SECOND);
  g_assert_cmpint (map.mono_to_clock, ==, -997 * (gint64) VDM_SECOND);
  g_assert_cmpuint (vdm_clock_map_running_time (&map, 1000 * VDM_SECOND), ==, 2 * VDM_SECOND);
  g_assert_cmpuint (vdm_clock_map_running_time (&map, 998 * VDM_SECOND), ==, 0);
  /* Would be before clock time 0. */
  g_assert_cmpuint (vdm_clock_map_running_time (&map, 900 * VDM_SECOND), ==, VDM_TIME_NONE);
  g_assert_cmpuint (vdm_clock_map_running_time (&map, 0), ==, VDM_TIME_NONE);

  /* A later sample replaces the offset (the clocks drift apart). */
  vdm_clock_map_update (&map, 2000 * VDM_SECOND, 1004 * VDM_SECOND, VDM_SECOND);
  g_assert_cmpuint (vdm_clock_map_running_time (&map, 2000 * VDM_SECOND), ==, 1003 * VDM_SECOND);
}

static void
test_extreme_offsets (void)
{
  vdm_clock_map map;
  vdm_clock_map_init (&map);
  /* Offset exactly INT64_MIN: monotonic 2^63, clock 0. */
  vdm_clock_map_update (&map, (guint64) 1 << 63, 0, 0);
  g_assert_cmpint (map.mono_to_clock, ==, G_MININT64);
  g_assert_cmpuint (vdm_clock_map_running_time (&map, (guint64) 1 << 63), ==, 0);
  g_assert_cmpuint (vdm_clock_map_running_time (&map, ((guint64) 1 << 63) + 7), ==, 7);
  g_assert_cmpuint (vdm_clock_map_running_time (&map, ((guint64) 1 << 63) - 1), ==,
      VDM_TIME_NONE);

  /* Offset INT64_MAX. */
  vdm_clock_map_update (&map, 0, G_MAXINT64, 0);
  g_assert_cmpuint (vdm_clock_map_running_time (&map, 0), ==, G_MAXINT64);
  g_assert_cmpuint (vdm_clock_map_running_time (&map, 5), ==, (guint64) G_MAXINT64 + 5);
  g_assert_cmpuint (vdm_clock_map_running_time (&map, (guint64) 1 << 63), ==, VDM_TIME_NONE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/clock_map/invalid-until-updated", test_invalid_until_updated);
  g_test_add_func ("/clock_map/clock-ahead", test_clock_ahead);
  g_test_add_func ("/clock_map/clock-behind", test_clock_behind);
  g_test_add_func ("/clock_map/extreme-offsets", test_extreme_offsets);
  return g_test_run ();
}
