/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of daemon/metrics_vdropmon.c: the names vdropmond exports,
 * how an element's analytics become series, expiry of a stream that left. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "metrics_vdropmon.h"

#define S 1000000000ull

static char *
render (VdmFleetMetrics * fleet, uint64_t now)
{
  VdmMetricsText text;
  vdm_metrics_text_init (&text);
  g_assert_cmpint (vdm_fleet_metrics_render (fleet, now, &text), ==, 0);
  char *copy = g_strdup (text.data);
  vdm_metrics_text_clear (&text);
  return copy;
}

static void
assert_line (const char *text, const char *line)
{
  char *with_newline = g_strconcat (line, "\n", NULL);
  if (!strstr (text, with_newline))
    g_error ("no line \"%s\" in:\n%s", line, text);
  g_free (with_newline);
}

static void
test_names_follow_conventions (void)
{
  VdmFleetMetrics *fleet = vdm_fleet_metrics_new (60 * S, 1000, "1.2.3");
  g_assert_nonnull (fleet);
  size_t n = vdm_metrics_family_count (fleet->registry);
  g_assert_cmpuint (n, >=, 18);
  for (size_t i = 0; i < n; i++) {
    const VdmMetricFamily *f = vdm_metrics_family_at (fleet->registry, i);
    const char *name = vdm_metric_family_name (f);
    g_assert_true (g_str_has_prefix (name, "vdropmon_"));
    /* counters end in _total, gauges never do (promtool's lint rules) */
    g_assert_cmpint (g_str_has_suffix (name, "_total"), ==,
        vdm_metric_family_type (f) == VDM_METRIC_COUNTER);
  }
  vdm_fleet_metrics_free (fleet);
}

static const VdmStreamLabels cam1 = { "gst-launch-1.0", 4242, "pipeline0", "vdropmon0" };

static void
test_stream_analytics (void)
{
  VdmFleetMetrics *fleet = vdm_fleet_metrics_new (60 * S, 1000, "1.2.3");
  VdmStreamAnalytics a = {
    .keyframe_packets_dropped = 4, .rtp_gap_packets = 7, .events_lost = 1,
    .detector_state = VDM_DETECTOR_CRITICAL, .queue_fill_peak = 0.97,
    .jitter_seconds = 0.0125, .loss_ratio = 0.25, .stall_eta_seconds = 0.18,
  };
  a.warnings[VDM_CAUSE_KEYFRAME][VDM_LEVEL_CRITICAL] = 1;
  a.warnings[VDM_CAUSE_HOST][VDM_LEVEL_CRITICAL] = 2;
  vdm_fleet_stream_analytics (fleet, &cam1, &a, 1 * S);
  vdm_fleet_stream_kernel_drops (fleet, &cam1, "udp 127.0.0.1:5004", "SOCKET_RCVBUFF", 2476, 1 * S);
  char *text = render (fleet, 1 * S);
#define L "command=\"gst-launch-1.0\",pid=\"4242\",pipeline=\"pipeline0\",element=\"vdropmon0\""
  assert_line (text, "vdropmon_stream_kernel_drops_total{" L
      ",flow=\"udp 127.0.0.1:5004\",reason=\"SOCKET_RCVBUFF\"} 2476");
  assert_line (text, "vdropmon_stream_keyframe_packets_dropped_total{" L "} 4");
  assert_line (text, "vdropmon_stream_rtp_gap_packets_total{" L "} 7");
  assert_line (text, "vdropmon_stream_events_lost_total{" L "} 1");
  assert_line (text, "vdropmon_stream_detector_state{" L "} 2");
  assert_line (text, "vdropmon_stream_queue_fill_peak_ratio{" L "} 0.97");
  assert_line (text, "vdropmon_stream_jitter_seconds{" L "} 0.0125");
  assert_line (text, "vdropmon_stream_loss_ratio{" L "} 0.25");
  assert_line (text, "vdropmon_stream_stall_eta_seconds{" L "} 0.18");
  assert_line (text, "vdropmon_stream_warnings_total{" L ",cause=\"keyframe\",level=\"critical\"} 1");
  assert_line (text, "vdropmon_stream_warnings_total{" L ",cause=\"host\",level=\"critical\"} 2");
  /* warnings never given have no series */
  g_assert_null (strstr (text, "cause=\"network\""));
  g_assert_null (strstr (text, "level=\"warning\""));
  assert_line (text, "vdropmon_build_info{version=\"1.2.3\"} 1");
  g_free (text);

  /* The episode ends: state normal, no stall-eta, no queue measure; the
   * warning series stay (counters do not disappear while the stream lives). */
  a.detector_state = VDM_DETECTOR_NORMAL;
  a.stall_eta_seconds = -1;
  a.queue_fill_peak = -1;
  vdm_fleet_stream_analytics (fleet, &cam1, &a, 2 * S);
  text = render (fleet, 2 * S);
  assert_line (text, "vdropmon_stream_detector_state{" L "} 0");
  g_assert_null (strstr (text, "vdropmon_stream_stall_eta_seconds{"));
  g_assert_null (strstr (text, "vdropmon_stream_queue_fill_peak_ratio{"));
  assert_line (text, "vdropmon_stream_warnings_total{" L ",cause=\"keyframe\",level=\"critical\"} 1");
#undef L
  g_free (text);
  vdm_fleet_metrics_free (fleet);
}

static size_t
count_samples (const char *text)
{
  size_t n = 0;
  char **lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    if (**l && **l != '#')
      n++;
  g_strfreev (lines);
  return n;
}

static void
test_stream_that_left_expires (void)
{
  VdmFleetMetrics *fleet = vdm_fleet_metrics_new (60 * S, 1000, "1.2.3");
  VdmStreamLabels cam2 = { "rtsp-recorder", 77, "cam2", "vdropmon0" };
  VdmStreamAnalytics a = { .queue_fill_peak = 0.5, .stall_eta_seconds = -1 };
  VdmDaemonState d = { .clients = 2, .watches = 3, .ring_events_lost = 0 };
  vdm_fleet_daemon_state (fleet, &d, 0);
  vdm_fleet_host_kernel_drops (fleet, "SOCKET_RCVBUFF", 10, 0);
  vdm_fleet_stream_analytics (fleet, &cam1, &a, 0);
  for (uint64_t t = 0; t <= 100; t += 1) {    /* cam2 and the host report every second */
    vdm_fleet_stream_analytics (fleet, &cam2, &a, t * S);
    vdm_fleet_daemon_state (fleet, &d, t * S);
    vdm_fleet_host_kernel_drops (fleet, "SOCKET_RCVBUFF", 10 + t, t * S);
  }
  char *text = render (fleet, 100 * S);
  g_assert_null (strstr (text, "pid=\"4242\""));  /* cam1 left 100 s ago */
  g_assert_nonnull (strstr (text, "pid=\"77\""));
  assert_line (text, "vdropmon_host_kernel_drops_total{reason=\"SOCKET_RCVBUFF\"} 110");
  assert_line (text, "vdropmon_daemon_clients 2");
  /* vdropmon_metrics_series counts every sample in the scrape, itself too */
  char *series_line = g_strdup_printf ("vdropmon_metrics_series %zu", count_samples (text));
  assert_line (text, series_line);
  g_free (series_line);
  g_free (text);
  vdm_fleet_metrics_free (fleet);
}

static void
test_bpf_program (void)
{
  VdmFleetMetrics *fleet = vdm_fleet_metrics_new (60 * S, 1000, "1.2.3");
  vdm_fleet_bpf_program (fleet, "kfree_skb_rx_sk", 1, 2500000000ull, 12345, 0);
  char *text = render (fleet, 0);
  assert_line (text, "vdropmon_bpf_stats_enabled 1");
  assert_line (text, "vdropmon_bpf_prog_run_seconds_total{program=\"kfree_skb_rx_sk\"} 2.5");
  assert_line (text, "vdropmon_bpf_prog_runs_total{program=\"kfree_skb_rx_sk\"} 12345");
  g_free (text);
  vdm_fleet_metrics_free (fleet);
}

static void
test_analytics_parse (void)
{
  const char *keys[] = {
    "keyframe-packets-dropped", "rtp-gap-packets", "events-lost", "detector-state",
    "queue-fill-peak", "jitter", "loss-fraction", "stall-eta",
    "warnings-keyframe-critical", "warnings-network-warning",
    "some-future-key", "detector-state", "warnings-nonsense-critical", "events-lost", NULL,
  };
  const double values[] = { 4, 7, 1, 2, 0.97, 12.5, 0.25, 180, 3, 5,
    1, 7 /* out of range */, 1, -3 /* negative */, 1 };
  VdmStreamAnalytics a;
  size_t n = G_N_ELEMENTS (keys);
  g_assert_cmpuint (vdm_fleet_analytics_parse (keys, values, n, &a), ==, 5);
  g_assert_cmpuint (a.keyframe_packets_dropped, ==, 4);
  g_assert_cmpuint (a.rtp_gap_packets, ==, 7);
  g_assert_cmpuint (a.events_lost, ==, 1);        /* the bad later value is ignored */
  g_assert_cmpint (a.detector_state, ==, VDM_DETECTOR_CRITICAL);
  g_assert_cmpfloat (a.queue_fill_peak, ==, 0.97);
  g_assert_cmpfloat_with_epsilon (a.jitter_seconds, 0.0125, 1e-12);  /* ms to s */
  g_assert_cmpfloat (a.loss_ratio, ==, 0.25);
  g_assert_cmpfloat_with_epsilon (a.stall_eta_seconds, 0.18, 1e-12);
  g_assert_cmpuint (a.warnings[VDM_CAUSE_KEYFRAME][VDM_LEVEL_CRITICAL], ==, 3);
  g_assert_cmpuint (a.warnings[VDM_CAUSE_NETWORK][VDM_LEVEL_WARNING], ==, 5);
  g_assert_cmpuint (a.warnings[VDM_CAUSE_HOST][VDM_LEVEL_CRITICAL], ==, 0);

  /* nothing sent: unknowns stay unknown, so those series are left out */
  g_assert_cmpuint (vdm_fleet_analytics_parse (NULL, NULL, 0, &a), ==, 0);
  g_assert_cmpfloat (a.queue_fill_peak, <, 0);
  g_assert_cmpfloat (a.stall_eta_seconds, <, 0);
  const char *nan_key[] = { "loss-fraction" };
  const double nan_value[] = { NAN };
  g_assert_cmpuint (vdm_fleet_analytics_parse (nan_key, nan_value, 1, &a), ==, 1);
  g_assert_cmpfloat (a.loss_ratio, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics_vdropmon/names-follow-conventions", test_names_follow_conventions);
  g_test_add_func ("/metrics_vdropmon/stream-analytics", test_stream_analytics);
  g_test_add_func ("/metrics_vdropmon/stream-that-left-expires", test_stream_that_left_expires);
  g_test_add_func ("/metrics_vdropmon/bpf-program", test_bpf_program);
  g_test_add_func ("/metrics_vdropmon/analytics-parse", test_analytics_parse);
  return g_test_run ();
}
