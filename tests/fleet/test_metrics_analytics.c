/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of daemon/metrics_analytics.c: what the element tallies and
 * sends, read back by the daemon's parser (the two sides of ANALYTICS). */
#include <glib.h>
#include <string.h>

#include "metrics_analytics.h"

static void
test_round_trip (void)
{
  VdmAnalyticsTally t;
  vdm_analytics_tally_reset (&t);
  vdm_analytics_tally_drop (&t, 0, 1, 4);      /* kernel drops hitting a keyframe */
  vdm_analytics_tally_drop (&t, 0, 0, 100);    /* kernel drops, no keyframe */
  vdm_analytics_tally_drop (&t, 1, 1, 3);      /* loss before this host */
  vdm_analytics_tally_warning (&t, "critical", "keyframe", 180000000);
  vdm_analytics_tally_warning (&t, "critical", "host,keyframe", 150000000);
  vdm_analytics_tally_warning (&t, "warning", "network,nonsense", UINT64_MAX);
  vdm_analytics_tally_warning (&t, "bogus", "host", 1);  /* ignored */
  VdmAnalyticsStats stats = { "critical", 0.97, 12.5, 0.25, 2 };
  const char *keys[VDM_ANALYTICS_MAX_PAIRS];
  double values[VDM_ANALYTICS_MAX_PAIRS];
  size_t n = vdm_analytics_pairs (&t, &stats, keys, values);
  g_assert_cmpuint (n, ==, 8 + 3);

  VdmStreamAnalytics a;
  g_assert_cmpuint (vdm_fleet_analytics_parse (keys, values, n, &a), ==, 0);  /* all known */
  g_assert_cmpuint (a.keyframe_packets_dropped, ==, 4);
  g_assert_cmpuint (a.rtp_gap_packets, ==, 3);
  g_assert_cmpuint (a.events_lost, ==, 2);
  g_assert_cmpint (a.detector_state, ==, VDM_DETECTOR_CRITICAL);
  g_assert_cmpfloat (a.queue_fill_peak, ==, 0.97);
  g_assert_cmpfloat_with_epsilon (a.jitter_seconds, 0.0125, 1e-12);
  g_assert_cmpfloat (a.loss_ratio, ==, 0.25);
  g_assert_cmpfloat (a.stall_eta_seconds, <, 0);  /* the last warning had none */
  g_assert_cmpuint (a.warnings[VDM_CAUSE_KEYFRAME][VDM_LEVEL_CRITICAL], ==, 2);
  g_assert_cmpuint (a.warnings[VDM_CAUSE_HOST][VDM_LEVEL_CRITICAL], ==, 1);
  g_assert_cmpuint (a.warnings[VDM_CAUSE_NETWORK][VDM_LEVEL_WARNING], ==, 1);
  g_assert_cmpuint (a.warnings[VDM_CAUSE_HOST][VDM_LEVEL_WARNING], ==, 0);

  /* a warning with a stall-eta, then the episode clears */
  vdm_analytics_tally_warning (&t, "warning", "host", 250000000);
  n = vdm_analytics_pairs (&t, &stats, keys, values);
  vdm_fleet_analytics_parse (keys, values, n, &a);
  g_assert_cmpfloat_with_epsilon (a.stall_eta_seconds, 0.25, 1e-12);
  vdm_analytics_tally_clear (&t);
  stats.detector_state = "normal";
  n = vdm_analytics_pairs (&t, &stats, keys, values);
  vdm_fleet_analytics_parse (keys, values, n, &a);
  g_assert_cmpint (a.detector_state, ==, VDM_DETECTOR_NORMAL);
  g_assert_cmpfloat (a.stall_eta_seconds, <, 0);
  g_assert_cmpuint (a.warnings[VDM_CAUSE_HOST][VDM_LEVEL_WARNING], ==, 1);  /* counters stay */
}

static void
test_every_warning_key_is_known (void)
{
  VdmAnalyticsTally t;
  vdm_analytics_tally_reset (&t);
  for (int c = 0; c < VDM_CAUSE_COUNT; c++)
    for (int l = 0; l < VDM_LEVEL_COUNT; l++)
      vdm_analytics_tally_warning (&t, vdm_warning_level_name (l), vdm_warning_cause_name (c),
          UINT64_MAX);
  VdmAnalyticsStats stats = { "normal", -1, 0, 0, 0 };
  const char *keys[VDM_ANALYTICS_MAX_PAIRS];
  double values[VDM_ANALYTICS_MAX_PAIRS];
  size_t n = vdm_analytics_pairs (&t, &stats, keys, values);
  g_assert_cmpuint (n, ==, VDM_ANALYTICS_MAX_PAIRS);
  VdmStreamAnalytics a;
  g_assert_cmpuint (vdm_fleet_analytics_parse (keys, values, n, &a), ==, 0);
  for (int c = 0; c < VDM_CAUSE_COUNT; c++)
    for (int l = 0; l < VDM_LEVEL_COUNT; l++)
      g_assert_cmpuint (a.warnings[c][l], ==, 1);
  g_assert_cmpfloat (a.queue_fill_peak, <, 0);
  for (size_t i = 0; i < n; i++)   /* the protocol's key limit and alphabet */
    g_assert_cmpuint (strlen (keys[i]), <=, 32);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics_analytics/round-trip", test_round_trip);
  g_test_add_func ("/metrics_analytics/every-warning-key-is-known", test_every_warning_key_is_known);
  return g_test_run ();
}
