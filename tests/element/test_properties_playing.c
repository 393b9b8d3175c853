/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One test per property documented as changeable while PLAYING
 * (docs/messages.md, "Properties", column "changeable": any state): each is
 * set after the element reached PLAYING, and its effect is checked (issue 9
 * part 6). The detector's settings are checked on the timeline of
 * test_fake_source.c (10 SOCKET_RCVBUFF drops per 100 ms bin from 2.0 to
 * 3.0 s of GstTestClock time; with the defaults: a critical host warning at
 * 2.2 s, the clear at 5.0 s), the rest by what the element posts. Those
 * about arrivals — window, warning-interval, silence-threshold,
 * request-keyframe, playout-buffer, runway-threshold — are in
 * test_warning.c, on its RTP stream.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/rtp/gstrtpbuffer.h>

#include <string.h>

#include "fake_harness.h"
#include "worker_round.h"

#define H264_CAPS "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"
#define WATCH "udp:127.0.0.1:5004"
#define REASON_RCVBUFF 6

/* PLAYING with collector=fake on WATCH and the given properties. */
static void
fixture_start (VdmFakeHarness * f, const gchar * props)
{
  gchar *launch = g_strdup_printf ("vdropmon name=mon collector=fake watch=" WATCH " %s", props);

  vdm_fake_harness_start (f, launch, H264_CAPS, NULL);
  g_free (launch);
}

static void
inject (VdmFakeHarness * f, guint n)
{
  vdm_fake_drop drop = {.reason = REASON_RCVBUFF,.reason_name = "SOCKET_RCVBUFF" };

  vdm_fake_harness_inject (f, &drop, n);
}

/* ---- the detector's settings, on the warning timeline ---- */

typedef struct
{
  gboolean warned, cleared;
  GstClockTime warn_time, clear_time;
  gchar level[16], action[32];
} Outcome;

/* The timeline of test_fake_source.c: 10 drops 95 ms into each 100 ms
 * bin from 2.0 s to 3.0 s, then quiet until 8 s, with a worker round at
 * every bin end: by the end, everything it has to say is on the bus. */
static void
run_timeline (VdmFakeHarness * f)
{
  GstClockTime t;

  for (t = 0; t < 8 * GST_SECOND; t += 100 * GST_MSECOND) {
    fail_unless (gst_harness_set_time (f->h, t + 95 * GST_MSECOND));
    if (t >= 2 * GST_SECOND && t < 3 * GST_SECOND)
      inject (f, 10);
    vdm_worker_round_at (f->h, t + 100 * GST_MSECOND);
  }
}

/* Starts PLAYING with the defaults, then sets name=value, then runs the
 * timeline and reports the first warning and clear. */
static Outcome
timeline_with (const gchar * name, const gchar * value)
{
  VdmFakeHarness f;
  Outcome out = { 0 };
  GstStructure *s;
  GValue v = G_VALUE_INIT;
  GParamSpec *spec;

  fixture_start (&f, "post-messages=false");
  spec = g_object_class_find_property (G_OBJECT_GET_CLASS (f.mon), name);
  fail_unless (spec != NULL, "no property %s", name);
  g_value_init (&v, spec->value_type);
  fail_unless (gst_value_deserialize (&v, value));
  g_object_set_property (G_OBJECT (f.mon), name, &v);
  g_value_unset (&v);
  run_timeline (&f);
  s = vdm_fake_harness_next_message (&f, "vdropmon-warning", 0);
  vdm_fake_harness_stop (&f);
  if (s) {
    out.warned = TRUE;
    gst_structure_get_uint64 (s, "detect-time", &out.warn_time);
    g_strlcpy (out.level, gst_structure_get_string (s, "level"), sizeof (out.level));
    g_strlcpy (out.action, gst_structure_get_string (s, "action"), sizeof (out.action));
    gst_structure_free (s);
  }
  GST_INFO ("%s=%s: warned %d at %" GST_TIME_FORMAT " level %s action %s", name, value,
      out.warned, GST_TIME_ARGS (out.warn_time), out.level, out.action);
  return out;
}

static Outcome
timeline_clear_with (const gchar * name, const gchar * value)
{
  VdmFakeHarness f;
  Outcome out = { 0 };
  GstStructure *s;

  fixture_start (&f, "post-messages=false");
  g_object_set (f.mon, name, (guint) atoi (value), NULL);
  run_timeline (&f);
  s = vdm_fake_harness_next_message (&f, "vdropmon-clear", 0);
  if (s) {
    out.cleared = TRUE;
    gst_structure_get_uint64 (s, "detect-time", &out.clear_time);
    gst_structure_free (s);
  }
  vdm_fake_harness_stop (&f);
  return out;
}

/* The defaults, for reference: every test below differs from this. */
GST_START_TEST (test_defaults)
{
  Outcome o = timeline_with ("surge-bins", "2");

  fail_unless (o.warned);
  fail_unless_equals_uint64 (o.warn_time, 2200 * GST_MSECOND);
  assert_equals_string (o.level, "critical");
}

GST_END_TEST;

GST_START_TEST (test_surge_factor)
{
  fail_if (timeline_with ("surge-factor", "1000").warned);
}

GST_END_TEST;

GST_START_TEST (test_surge_bins)
{
  fail_if (timeline_with ("surge-bins", "100").warned);
}

GST_END_TEST;

GST_START_TEST (test_baseline_floor)
{
  fail_if (timeline_with ("baseline-floor", "1000000").warned);
}

GST_END_TEST;

GST_START_TEST (test_critical_factor)
{
  Outcome o = timeline_with ("critical-factor", "1000000");

  fail_unless (o.warned);
  assert_equals_string (o.level, "warning");
}

GST_END_TEST;

GST_START_TEST (test_ewma_alpha)
{
  Outcome o = timeline_with ("ewma-alpha", "0.01");

  fail_unless (!o.warned || o.warn_time > 2200 * GST_MSECOND);
}

GST_END_TEST;

GST_START_TEST (test_bin_duration)
{
  Outcome o = timeline_with ("bin-duration", "500000000");

  /* bins of 500 ms: the warning comes on that grid, never at 2.2 s */
  fail_unless (o.warned);
  fail_unless_equals_uint64 (o.warn_time % (500 * GST_MSECOND), 0);
}

GST_END_TEST;

/* 10 drops in a bin after quiet ones: a transient burst past 5 */
GST_START_TEST (test_burst_drops)
{
  Outcome o = timeline_with ("burst-drops", "5");

  fail_unless (o.warned);
  assert_equals_string (o.action, "circuit-break");
}

GST_END_TEST;

GST_START_TEST (test_clear_bins)
{
  Outcome o = timeline_clear_with ("clear-bins", "20");

  fail_unless (o.cleared);
  fail_unless_equals_uint64 (o.clear_time, 6 * GST_SECOND);
}

GST_END_TEST;

/* ---- the rest ---- */

/* A drop waits in a 10 s batch; batch-interval 1 ms applies to the batch
 * already open: the message comes at once. */
GST_START_TEST (test_batch_interval)
{
  VdmFakeHarness f;
  GstStructure *s;

  fixture_start (&f, "post-messages=false batch-interval=10000000000");
  inject (&f, 1);
  fail_if ((s = vdm_fake_harness_next_message (&f, "vdropmon-drop", 300 * GST_MSECOND)) != NULL);
  g_object_set (f.mon, "batch-interval", (guint64) GST_MSECOND, NULL);
  s = vdm_fake_harness_next_message (&f, "vdropmon-drop", 2 * GST_SECOND);
  fail_unless (s != NULL, "the open batch kept its 10 s");
  gst_structure_free (s);
  vdm_fake_harness_stop (&f);
}

GST_END_TEST;

GST_START_TEST (test_post_messages)
{
  VdmFakeHarness f;
  GstStructure *s;

  fixture_start (&f, "post-messages=false interval=20000000");
  fail_if ((s = vdm_fake_harness_next_message (&f, "vdropmon-stats", 300 * GST_MSECOND)) != NULL);
  g_object_set (f.mon, "post-messages", TRUE, NULL);
  s = vdm_fake_harness_next_message (&f, "vdropmon-stats", 2 * GST_SECOND);
  fail_unless (s != NULL);
  gst_structure_free (s);
  vdm_fake_harness_stop (&f);
}

GST_END_TEST;

GST_START_TEST (test_interval)
{
  VdmFakeHarness f;
  GstStructure *s;

  fixture_start (&f, "interval=3600000000000");
  fail_if ((s = vdm_fake_harness_next_message (&f, "vdropmon-stats", 300 * GST_MSECOND)) != NULL);
  g_object_set (f.mon, "interval", (guint64) 20 * GST_MSECOND, NULL);
  s = vdm_fake_harness_next_message (&f, "vdropmon-stats", 2 * GST_SECOND);
  fail_unless (s != NULL, "the old interval still counts");
  gst_structure_free (s);
  vdm_fake_harness_stop (&f);
}

GST_END_TEST;

/* The queue fill of the watched socket (450 ‰) is below the default
 * threshold (0.9) and the default queue-fill-warning (0.5): quiet; with a
 * threshold of 0.4 it warns, cause host. */
GST_START_TEST (test_queue_fill_threshold)
{
  VdmFakeHarness f;
  GstStructure *s;
  GstClockTime t = 0;

  fixture_start (&f, "post-messages=false");
  for (guint i = 0; i < 5; i++) {
    vdm_fake_source_set_queue_peak (f.fake, f.watch_id, 450);
    vdm_worker_round_at (f.h, t += 100 * GST_MSECOND);
  }
  fail_if ((s = vdm_fake_harness_next_message (&f, "vdropmon-warning", 0)) != NULL);
  g_object_set (f.mon, "queue-fill-threshold", 0.4, NULL);
  for (guint i = 0; i < 10; i++) {
    vdm_fake_source_set_queue_peak (f.fake, f.watch_id, 450);
    vdm_worker_round_at (f.h, t += 100 * GST_MSECOND);
  }
  s = vdm_fake_harness_next_message (&f, "vdropmon-warning", 2 * GST_SECOND);
  fail_unless (s != NULL, "no warning at fill 0.45 over a threshold of 0.4");
  assert_equals_string (gst_structure_get_string (s, "cause"), "host");
  gst_structure_free (s);
  vdm_fake_harness_stop (&f);
}

GST_END_TEST;

/* queue-fill-warning: the queue at 600 ‰ reading after reading is a
 * reader falling behind once it is over queue-fill-warning: quiet at 0.7,
 * a host warning (level warning, not critical: the queue is not full)
 * once lowered to 0.5 while playing. */
GST_START_TEST (test_queue_fill_warning)
{
  VdmFakeHarness f;
  GstStructure *s;
  GstClockTime t = 0;

  fixture_start (&f, "post-messages=false queue-fill-warning=0.7");
  for (guint i = 0; i < 5; i++) {
    vdm_fake_source_set_queue_peak (f.fake, f.watch_id, 600);
    vdm_worker_round_at (f.h, t += 100 * GST_MSECOND);
  }
  fail_if ((s = vdm_fake_harness_next_message (&f, "vdropmon-warning", 0)) != NULL);
  g_object_set (f.mon, "queue-fill-warning", 0.5, NULL);
  for (guint i = 0; i < 10; i++) {
    vdm_fake_source_set_queue_peak (f.fake, f.watch_id, 600);
    vdm_worker_round_at (f.h, t += 100 * GST_MSECOND);
  }
  s = vdm_fake_harness_next_message (&f, "vdropmon-warning", 2 * GST_SECOND);
  fail_unless (s != NULL, "no warning at fill 0.6, 0.6 over queue-fill-warning 0.5");
  assert_equals_string (gst_structure_get_string (s, "cause"), "host");
  assert_equals_string (gst_structure_get_string (s, "level"), "warning");
  gst_structure_free (s);
  vdm_fake_harness_stop (&f);
}

GST_END_TEST;

/* auto-discover off in PLAYING: a udpsrc upstream is not watched; on: it
 * is (a socket bound to loopback, no traffic). */
GST_START_TEST (test_auto_discover)
{
  GstElement *pipeline, *mon;
  vdm_fake_source *fake = vdm_fake_source_get_default ();
  vdm_fake_watch watches[4];

  pipeline = gst_parse_launch ("udpsrc address=127.0.0.1 port=0 ! vdropmon name=mon "
      "collector=fake auto-discover=false ! fakesink", NULL);
  mon = gst_bin_get_by_name (GST_BIN (pipeline), "mon");
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  gst_element_get_state (pipeline, NULL, NULL, 5 * GST_SECOND);
  g_usleep (700 * 1000);        /* more than a rescan period */
  fail_unless_equals_int (vdm_fake_source_list_watches (fake, watches, 4), 0);
  g_object_set (mon, "auto-discover", TRUE, NULL);
  fail_unless (vdm_fake_source_wait_watches (fake, 1, 3000), "the udpsrc is not watched");
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (mon);
  gst_object_unref (pipeline);
}

GST_END_TEST;

static Suite *
properties_suite (void)
{
  Suite *s = suite_create ("vdropmon-properties-playing");
  TCase *tc = tcase_create ("playing");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_defaults);
  tcase_add_test (tc, test_surge_factor);
  tcase_add_test (tc, test_surge_bins);
  tcase_add_test (tc, test_baseline_floor);
  tcase_add_test (tc, test_critical_factor);
  tcase_add_test (tc, test_ewma_alpha);
  tcase_add_test (tc, test_bin_duration);
  tcase_add_test (tc, test_burst_drops);
  tcase_add_test (tc, test_clear_bins);
  tcase_add_test (tc, test_batch_interval);
  tcase_add_test (tc, test_post_messages);
  tcase_add_test (tc, test_interval);
  tcase_add_test (tc, test_queue_fill_threshold);
  tcase_add_test (tc, test_queue_fill_warning);
  tcase_add_test (tc, test_auto_discover);
  return s;
}

GST_CHECK_MAIN (properties);
