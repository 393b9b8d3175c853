/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The early-warning path through the element, driven by a GstTestClock:
 * RTP sequence gaps (collector=none, so no root needed) go through the
 * surge detector and come out as vdropmon-warning / vdropmon-clear at exact
 * pipeline-clock times, the same ones the detector's unit tests compute.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/rtp/gstrtpbuffer.h>
#include <gst/video/video.h>

#include "worker_round.h"
#include "structure_fields.h"

#define H264_CAPS "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"
#define SSRC 0x11223344u
#define TICK (10 * GST_MSECOND)  /* one packet every 10 ms of pipeline time */
#define BIN (100 * GST_MSECOND)  /* the default bin-duration */
#define REAL_WAIT (2 * G_USEC_PER_SEC)

typedef struct
{
  GstHarness *h;
  GstBus *bus;
  guint16 seq;
  GstClockTime now;
} Stream;

static GstBuffer *
make_rtp (guint16 seq, guint32 ts, gboolean keyframe)
{
  GstBuffer *buf = gst_rtp_buffer_new_allocate (100, 0, 0);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  guint8 *payload;

  gst_rtp_buffer_map (buf, GST_MAP_WRITE, &rtp);
  gst_rtp_buffer_set_payload_type (&rtp, 96);
  gst_rtp_buffer_set_seq (&rtp, seq);
  gst_rtp_buffer_set_timestamp (&rtp, ts);
  gst_rtp_buffer_set_ssrc (&rtp, SSRC);
  payload = gst_rtp_buffer_get_payload (&rtp);
  memset (payload, 0, 100);
  payload[0] = 0x7c;            /* FU-A */
  payload[1] = keyframe ? 0x05 : 0x01;  /* IDR or non-IDR slice fragment */
  gst_rtp_buffer_unmap (&rtp);
  return buf;
}

static void
stream_start (Stream * s, const gchar * first_property, ...)
{
  GstElement *element = gst_element_factory_make ("vdropmon", NULL);
  va_list args;

  fail_unless (element != NULL);
  g_object_set (element, "collector", 2 /* none */ , "post-messages", FALSE, NULL);
  va_start (args, first_property);
  if (first_property)
    g_object_set_valist (G_OBJECT (element), first_property, args);
  va_end (args);
  s->bus = gst_bus_new ();
  gst_element_set_bus (element, s->bus);
  s->h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  gst_harness_use_testclock (s->h);
  gst_harness_set_src_caps_str (s->h, H264_CAPS);
  s->seq = 1000;
  s->now = 0;
  /* No wait: the element adopts the test clock when it is set, and the
   * detector's bins are aligned on that clock's multiples of 100 ms. */
}

static void
stream_stop (Stream * s)
{
  gst_harness_teardown (s->h);
  gst_bus_set_flushing (s->bus, TRUE);
  gst_object_unref (s->bus);
}

/* Sends one packet at the current pipeline time, `missing` seqs after the
 * previous one (0: in order), then moves time on by one tick. */
static void
push_packet (Stream * s, guint missing, gboolean keyframe)
{
  guint32 ts = (guint32) gst_util_uint64_scale (s->now, 90000, GST_SECOND);
  GstBuffer *buf;

  s->seq += missing;
  buf = make_rtp (s->seq++, ts, keyframe);
  GST_BUFFER_PTS (buf) = s->now;
  fail_unless (gst_harness_set_time (s->h, s->now));
  fail_unless_equals_int (gst_harness_push (s->h, buf), GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (s->h));
  s->now += TICK;
}

/* Packets every tick until `until`, each `missing` seqs after the last. */
static void
push_until (Stream * s, GstClockTime until, guint missing)
{
  while (s->now < until)
    push_packet (s, missing, FALSE);
}

/* Leaves the clock at `at` (no packets) so that the worker advances the
 * detector to exactly that time. */
static void
hold_clock_at (Stream * s, GstClockTime at)
{
  fail_unless (gst_harness_set_time (s->h, at));
  s->now = at;
}

/* Moves the clock on to `at`, a bin's end, and returns once the worker's
 * round there, after every packet sent so far, has posted: no sleep. */
static void
round_at (Stream * s, GstClockTime at)
{
  vdm_worker_round_at (s->h, at);
  s->now = at;
}

/* The bus right now, no waiting: a warning or clear, or NULL. */
static GstStructure *
alert_now (Stream * s)
{
  GstMessage *msg;
  GstStructure *found = NULL;

  while (!found && (msg = gst_bus_pop_filtered (s->bus, GST_MESSAGE_ELEMENT))) {
    const GstStructure *st = gst_message_get_structure (msg);
    if (gst_structure_has_name (st, "vdropmon-warning")
        || gst_structure_has_name (st, "vdropmon-clear"))
      found = gst_structure_copy (st);
    gst_message_unref (msg);
  }
  return found;
}

/* The next warning or clear message, waiting up to REAL_WAIT. */
static GstStructure *
next_alert (Stream * s)
{
  gint64 deadline = g_get_monotonic_time () + REAL_WAIT;

  while (g_get_monotonic_time () < deadline) {
    GstMessage *msg = gst_bus_timed_pop_filtered (s->bus, 50 * GST_MSECOND, GST_MESSAGE_ELEMENT);
    const GstStructure *st;

    if (!msg)
      continue;
    st = gst_message_get_structure (msg);
    if (gst_structure_has_name (st, "vdropmon-warning")
        || gst_structure_has_name (st, "vdropmon-clear")) {
      GstStructure *copy = gst_structure_copy (st);
      gst_message_unref (msg);
      return copy;
    }
    gst_message_unref (msg);
  }
  return NULL;
}


/* 10 drops per 100 ms bin from 2.0 s: the EWMA passes 1.8 x the floor
 * (0.9) in bins [2.0, 2.1) and [2.1, 2.2): a critical network warning at
 * exactly 2.2 s. Drops stop at 3.0 s; the EWMA is back under the threshold
 * from the 11th quiet bin on, and 10 quiet bins later, at 5.0 s, it clears
 * with the 100 drops of the episode (see tests/core/test_detector.c). */
GST_START_TEST (test_step_warns_then_clears)
{
  Stream s;
  GstStructure *w, *c;

  stream_start (&s, NULL);
  push_until (&s, 2 * GST_SECOND, 0);
  push_until (&s, 3 * GST_SECOND, 1);
  w = next_alert (&s);
  fail_unless (w != NULL, "no warning");
  fail_unless (gst_structure_has_name (w, "vdropmon-warning"));
  fail_unless_equals_uint64 (vdm_get_u64 (w, "detect-time"), 2200 * GST_MSECOND);
  vdm_assert_str (w, "level", "critical");
  vdm_assert_str (w, "cause", "network");
  vdm_assert_str (w, "action", "lower-bitrate");
  vdm_assert_str (w, "reasons", "RTP_SEQ_GAP");
  push_until (&s, 6 * GST_SECOND, 0);
  c = next_alert (&s);
  fail_unless (c != NULL, "no clear");
  fail_unless (gst_structure_has_name (c, "vdropmon-clear"), "%" GST_PTR_FORMAT, c);
  fail_unless_equals_uint64 (vdm_get_u64 (c, "detect-time"), 5 * GST_SECOND);
  fail_unless_equals_uint64 (vdm_get_u64 (c, "drops"), 100);
  fail_unless_equals_uint64 (vdm_get_u64 (c, "duration"), 2800 * GST_MSECOND);
  gst_structure_free (w);
  gst_structure_free (c);
  stream_stop (&s);
}

GST_END_TEST;

/* Ten seconds of clean stream: nothing to say. */
GST_START_TEST (test_clean_stream_is_quiet)
{
  Stream s;
  GstStructure *alert;

  stream_start (&s, NULL);
  push_until (&s, 10 * GST_SECOND, 0);
  round_at (&s, 10 * GST_SECOND);
  alert = alert_now (&s);
  fail_unless (alert == NULL, "unexpected %" GST_PTR_FORMAT, alert);
  stream_stop (&s);
}

GST_END_TEST;

/* Thresholds are live: with surge-factor 100 set while PLAYING, the same
 * step stays under the threshold. */
GST_START_TEST (test_threshold_changed_while_playing)
{
  Stream s;
  GstStructure *alert;

  stream_start (&s, NULL);
  push_until (&s, GST_SECOND, 0);
  /* applied to the monitor at once, no round to wait for */
  g_object_set (s.h->element, "surge-factor", 100.0, "critical-factor", 200.0, NULL);
  push_until (&s, 2 * GST_SECOND, 0);
  push_until (&s, 3 * GST_SECOND, 1);
  round_at (&s, 3 * GST_SECOND);        /* every bin of the step closed */
  alert = alert_now (&s);
  fail_unless (alert == NULL, "unexpected %" GST_PTR_FORMAT, alert);
  stream_stop (&s);
}

GST_END_TEST;

/* A packet lost inside an IDR frame: critical, request-keyframe, at the
 * very time it was seen; with request-keyframe=true a GstForceKeyUnit
 * event goes upstream. stall-eta = the damage's time + the pipeline
 * latency (2 s, from the LATENCY event) - now = 2 s. */
GST_START_TEST (test_keyframe_loss)
{
  Stream s;
  GstStructure *w;
  GstEvent *event;
  gboolean force_key_unit = FALSE;

  stream_start (&s, "request-keyframe", TRUE, NULL);
  fail_unless (gst_harness_push_upstream_event (s.h, gst_event_new_latency (2 * GST_SECOND)));
  push_until (&s, GST_SECOND, 0);
  push_packet (&s, 1, TRUE);    /* seq gap revealed by an IDR fragment at 1.0 s */
  hold_clock_at (&s, GST_SECOND);
  w = next_alert (&s);
  fail_unless (w != NULL, "no warning");
  vdm_assert_str (w, "level", "critical");
  vdm_assert_str (w, "action", "request-keyframe");
  fail_unless (strstr (gst_structure_get_string (w, "cause"), "keyframe") != NULL);
  fail_unless_equals_uint64 (vdm_get_u64 (w, "detect-time"), GST_SECOND);
  fail_unless_equals_uint64 (vdm_get_u64 (w, "stall-eta"), 2 * GST_SECOND);
  /* the harness's upstream queue also holds our latency event: skip it
   * (gst_harness_pull_upstream_event blocks until one comes) */
  while (!force_key_unit && (event = gst_harness_pull_upstream_event (s.h))) {
    force_key_unit |= gst_video_event_is_force_key_unit (event);
    gst_event_unref (event);
  }
  fail_unless (force_key_unit);
  gst_structure_free (w);
  stream_stop (&s);
}

GST_END_TEST;

/* Packets stop coming. The stream paced them every 10 ms (a frame each),
 * so its stall threshold is 2 x 10 ms raised to the floor, 100 ms, not the
 * 200 ms silence-threshold: nothing at 90 ms after the last packet, a
 * network warning, lower-bitrate, at 110 ms. stall-eta = the buffered media
 * left: last arrival + the latency (200 ms) - now = 90 ms (the stream had
 * no queue delay to take off). */
GST_START_TEST (test_silence_warns)
{
  Stream s;
  GstStructure *w;
  GstClockTime last;

  /* 10 ms bins: a worker round can be had at 90 ms and at 110 ms */
  stream_start (&s, "bin-duration", (guint64) (10 * GST_MSECOND), NULL);
  fail_unless (gst_harness_push_upstream_event (s.h, gst_event_new_latency (200 * GST_MSECOND)));
  push_until (&s, GST_SECOND, 0);
  last = s.now - TICK;
  vdm_worker_round_at (s.h, last + 90 * GST_MSECOND);
  w = alert_now (&s);
  fail_unless (w == NULL, "too early: %" GST_PTR_FORMAT, w);
  vdm_worker_round_at (s.h, last + 110 * GST_MSECOND);
  w = alert_now (&s);
  fail_unless (w != NULL, "no warning");
  vdm_assert_str (w, "cause", "network");
  vdm_assert_str (w, "action", "lower-bitrate");
  fail_unless_equals_uint64 (vdm_get_u64 (w, "detect-time"), last + 110 * GST_MSECOND);
  fail_unless_equals_uint64 (vdm_get_u64 (w, "stall-eta"), 90 * GST_MSECOND);
  gst_structure_free (w);
  stream_stop (&s);
}

GST_END_TEST;

/* Packets every tick until 6 s, latency 2 s: the stream before the
 * congestion. */
static void
run_until_congestion (Stream * s)
{
  fail_unless (gst_harness_push_upstream_event (s->h, gst_event_new_latency (2 * GST_SECOND)));
  push_until (s, 6 * GST_SECOND, 0);
}

/* After a worker round without alerts at s->now, a bin's end (the runway
 * and trendline settle), each 10 ms packet arrives 11 ms after the one
 * before until `until`; the worker has a round at every bin end on the
 * way, after the packets before it, the last one at the last bin end
 * before `until`. The clock stays at the next arrival. */
static void
congest_until (Stream * s, GstClockTime until)
{
  GstClockTime media, arrival, bin_end;

  round_at (s, s->now);
  fail_unless (alert_now (s) == NULL);
  media = arrival = s->now;
  bin_end = s->now + BIN;
  while (arrival < until) {
    GstBuffer *buf = make_rtp (s->seq++, (guint32) gst_util_uint64_scale (media, 90000,
            GST_SECOND), FALSE);

    if (arrival >= bin_end) {
      round_at (s, bin_end);
      bin_end += BIN;
    }
    GST_BUFFER_PTS (buf) = media;
    fail_unless (gst_harness_set_time (s->h, arrival));
    fail_unless_equals_int (gst_harness_push (s->h, buf), GST_FLOW_OK);
    gst_buffer_unref (gst_harness_pull (s->h));
    media += 10 * GST_MSECOND;
    arrival += 11 * GST_MSECOND;
  }
  round_at (s, bin_end);
  hold_clock_at (s, arrival);
}

/* The congestion until `until` (a bin's end), a worker round at every bin
 * end: what it has to say by then is on the bus. */
static void
congestion_for (Stream * s, GstClockTime until)
{
  run_until_congestion (s);
  congest_until (s, until);
}

/* A path that delivers 10/11 of the bitrate: from 6 s on, each 10 ms
 * packet arrives 11 ms after the one before, so the delay grows by 1 ms per
 * packet and the media lags 1/11 s more every second (a bottleneck queue
 * filling, nothing lost). Latency 2 s. By 8.5 s (lag 0.23 s) the trendline
 * has seen overuse hold for over 0.5 s with a queue delay above 80 ms: a
 * network warning, lower-bitrate, with stall-eta the time until the lag
 * reaches the 2 s buffer: (2 - 0.227) / (1/11) = 19.5 s, within 25 %. The
 * runway alone would wait until the buffer runs dry within 2 s. */
GST_START_TEST (test_queue_building_warns)
{
  Stream s;
  GstStructure *w;
  const gdouble truth_s = (2.0 - 2.5 / 11) * 11;
  gdouble eta_s;

  stream_start (&s, NULL);
  congestion_for (&s, 8500 * GST_MSECOND);
  w = next_alert (&s);
  fail_unless (w != NULL, "no warning");
  vdm_assert_str (w, "cause", "network");
  vdm_assert_str (w, "action", "lower-bitrate");
  eta_s = vdm_get_u64 (w, "stall-eta") / 1e9;
  fail_unless (eta_s > 0.75 * truth_s && eta_s < 1.25 * truth_s,
      "stall-eta %.2f s, truth %.2f s: %s", eta_s, truth_s, gst_structure_to_string (w));
  gst_structure_free (w);
  stream_stop (&s);
}

GST_END_TEST;

/* Cranks the test clock to the worker's next wait (its next detector bin)
 * and returns once that round is over: the worker has registered its next
 * wait. Whatever the round posted is on the bus by then. */
static GstClockTime
crank_worker (Stream * s)
{
  GstTestClock *clock = GST_TEST_CLOCK (gst_harness_get_testclock (s->h));
  GstClockID next;
  GstClockTime now;

  fail_unless (gst_test_clock_crank (clock));
  now = gst_clock_get_time (GST_CLOCK (clock));
  gst_test_clock_wait_for_next_pending_id (clock, &next);
  gst_clock_id_unref (next);
  gst_object_unref (clock);
  s->now = now;
  return now;
}


/* Time driven by cranking the clock, not by waiting: the worker waits on
 * the element's clock for each bin's end, so every crank is one round at
 * exactly that time, and the test reads the bus without a timeout. The
 * last packet arrives at 0.99 s; the arrival stall is warned of at the
 * round of the first bin end past the stall threshold, stamped with that
 * very time, and at no round before. */
GST_START_TEST (test_stall_by_cranking)
{
  Stream s;
  GstStructure *w = NULL;
  GstClockTime t = 0;

  stream_start (&s, NULL);
  push_until (&s, GST_SECOND, 0);
  while (!w && t < 2 * GST_SECOND) {
    t = crank_worker (&s);
    w = alert_now (&s);
  }
  fail_unless (w != NULL, "no warning by 2 s");
  fail_unless (t > GST_SECOND && t % (100 * GST_MSECOND) == 0, "round at %" GST_TIME_FORMAT,
      GST_TIME_ARGS (t));
  vdm_assert_str (w, "cause", "network");
  fail_unless_equals_uint64 (vdm_get_u64 (w, "detect-time"), t);
  gst_structure_free (w);
  stream_stop (&s);
}

GST_END_TEST;

/* stall-floor: the same stream as test_silence_warns, whose own stall
 * threshold is the 100 ms floor; raised to 150 ms, nothing is said 140 ms
 * after the last packet, and the warning comes at 160 ms. */
GST_START_TEST (test_stall_floor_property)
{
  Stream s;
  GstStructure *w;
  GstClockTime last;
  guint64 floor = 0;

  /* 10 ms bins: a worker round can be had at 140 ms and at 160 ms */
  stream_start (&s, "stall-floor", (guint64) (150 * GST_MSECOND), "bin-duration",
      (guint64) (10 * GST_MSECOND), NULL);
  g_object_get (s.h->element, "stall-floor", &floor, NULL);
  fail_unless_equals_uint64 (floor, 150 * GST_MSECOND);
  fail_unless (gst_harness_push_upstream_event (s.h, gst_event_new_latency (200 * GST_MSECOND)));
  push_until (&s, GST_SECOND, 0);
  last = s.now - TICK;
  vdm_worker_round_at (s.h, last + 140 * GST_MSECOND);
  w = alert_now (&s);
  fail_unless (w == NULL, "warned under the floor: %" GST_PTR_FORMAT, w);
  vdm_worker_round_at (s.h, last + 160 * GST_MSECOND);
  w = alert_now (&s);
  fail_unless (w != NULL, "no warning");
  vdm_assert_str (w, "cause", "network");
  fail_unless_equals_uint64 (vdm_get_u64 (w, "detect-time"), last + 160 * GST_MSECOND);
  gst_structure_free (w);
  stream_stop (&s);
}

GST_END_TEST;

/* The congestion of test_queue_building_warns (10/11 of the bitrate from
 * 6 s, latency 2 s), 2.5 s of it: with congestion-sustain 5 s, or with
 * congestion-min-delay 1 s (the queue delay is ~230 ms), the delay
 * gradient does not warn (nor does anything else: the runway is 19 s). */
GST_START_TEST (test_congestion_sustain_property)
{
  Stream s;
  GstStructure *w;

  stream_start (&s, "congestion-sustain", (guint64) (5 * GST_SECOND), NULL);
  congestion_for (&s, 8500 * GST_MSECOND);
  w = alert_now (&s);
  fail_unless (w == NULL, "warned before 5 s of build-up: %" GST_PTR_FORMAT, w);
  stream_stop (&s);
}

GST_END_TEST;

GST_START_TEST (test_congestion_min_delay_property)
{
  Stream s;
  GstStructure *w;

  stream_start (&s, "congestion-min-delay", (guint64) GST_SECOND, NULL);
  congestion_for (&s, 8500 * GST_MSECOND);
  w = alert_now (&s);
  fail_unless (w == NULL, "warned under 1 s of queue delay: %" GST_PTR_FORMAT, w);
  stream_stop (&s);
}

GST_END_TEST;

/* renew-after: a stall (warned), the stream back for 800 ms, a second
 * stall inside the open episode (clear-bins 30: 3 s of quiet to clear).
 * With renew-after 300 ms the second stall warns again; with 1.5 s it does
 * not. */
static gboolean
second_stall_warns (guint64 renew_after)
{
  Stream s;
  GstStructure *w;
  GstClockTime last;
  gboolean warned;

  stream_start (&s, "renew-after", renew_after, "clear-bins", 30u, NULL);
  fail_unless (gst_harness_push_upstream_event (s.h, gst_event_new_latency (200 * GST_MSECOND)));
  push_until (&s, GST_SECOND, 0);
  last = s.now - TICK;
  hold_clock_at (&s, last + 100 * GST_MSECOND);
  w = next_alert (&s);
  fail_unless (w != NULL && gst_structure_has_name (w, "vdropmon-warning"), "no first warning");
  gst_structure_free (w);
  s.now = 1200 * GST_MSECOND;
  /* 100 ms at a time, a worker round at each bin end seeing the stream back */
  for (GstClockTime until = 1300 * GST_MSECOND; until <= 2000 * GST_MSECOND;
      until += 100 * GST_MSECOND) {
    push_until (&s, until, 0);
    round_at (&s, until);
  }
  /* the second stall: 110 ms without a packet by the round at 2.1 s */
  round_at (&s, 2100 * GST_MSECOND);
  w = alert_now (&s);
  warned = w != NULL && gst_structure_has_name (w, "vdropmon-warning");
  if (w)
    gst_structure_free (w);
  stream_stop (&s);
  return warned;
}

GST_START_TEST (test_renew_after_property)
{
  fail_unless (second_stall_warns (300 * GST_MSECOND), "no renewed warning at 300 ms");
  fail_if (second_stall_warns (1500 * GST_MSECOND), "renewed although renew-after is 1.5 s");
}

GST_END_TEST;

/* Issue 9 #12: a paused pipeline is no outage. Packets stop while PAUSED
 * and the clock goes on: nothing is said; once PLAYING again, silence
 * counts from the resume. */
GST_START_TEST (test_no_silence_while_paused)
{
  Stream s;
  GstStructure *w;

  stream_start (&s, NULL);
  push_until (&s, GST_SECOND, 0);
  fail_unless_equals_int (gst_element_set_state (s.h->element, GST_STATE_PAUSED),
      GST_STATE_CHANGE_SUCCESS);
  round_at (&s, 3 * GST_SECOND);
  w = alert_now (&s);
  fail_unless (w == NULL, "warned while paused: %" GST_PTR_FORMAT, w);
  fail_unless_equals_int (gst_element_set_state (s.h->element, GST_STATE_PLAYING),
      GST_STATE_CHANGE_SUCCESS);
  push_until (&s, 4 * GST_SECOND, 0);
  round_at (&s, 4 * GST_SECOND);
  w = alert_now (&s);
  fail_unless (w == NULL, "warned after the resume: %" GST_PTR_FORMAT, w);
  stream_stop (&s);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Properties set while PLAYING (issue 9 part 6: one test per property
 * documented as changeable in any state; the others are in
 * test_properties_playing.c). Each is set after the harness reached
 * PLAYING, in both directions where one direction could pass by default. */

/* Drops a packet of an IDR frame at 1.0 s (a keyframe loss: warning
 * action request-keyframe) after request-keyframe was set to `live` while
 * PLAYING (from `initial`); TRUE if a GstForceKeyUnit event went upstream. */
static gboolean
keyframe_request_sent (gboolean initial, gboolean live)
{
  Stream s;
  GstStructure *w;
  GstEvent *event;
  gboolean force_key_unit = FALSE;

  stream_start (&s, "request-keyframe", initial, NULL);
  fail_unless_equals_int (GST_STATE (s.h->element), GST_STATE_PLAYING);
  g_object_set (s.h->element, "request-keyframe", live, NULL);
  push_until (&s, GST_SECOND, 0);
  push_packet (&s, 1, TRUE);
  push_until (&s, GST_SECOND + BIN - TICK, 0);
  /* the round that posts the warning sends the request before it ends */
  round_at (&s, GST_SECOND + BIN);
  w = alert_now (&s);
  fail_unless (w != NULL, "no warning");
  vdm_assert_str (w, "action", "request-keyframe");
  gst_structure_free (w);
  while ((event = gst_harness_try_pull_upstream_event (s.h))) {
    force_key_unit |= gst_video_event_is_force_key_unit (event);
    gst_event_unref (event);
  }
  stream_stop (&s);
  return force_key_unit;
}

GST_START_TEST (test_request_keyframe_set_while_playing)
{
  fail_unless (keyframe_request_sent (FALSE, TRUE), "turned on, yet no keyframe request");
  fail_if (keyframe_request_sent (TRUE, FALSE), "turned off, yet a keyframe request");
}

GST_END_TEST;

/* Packets every 10 ms until 1 s, then none. With the default (200 ms, and
 * the stream's own stall threshold of 60 ms) nothing is said 50 ms after
 * the last packet (test_silence_warns); silence-threshold 10 ms set while
 * PLAYING leaves three frame intervals, 30 ms: a warning by then. */
GST_START_TEST (test_silence_threshold_set_while_playing)
{
  Stream s;
  GstStructure *w;
  GstClockTime last;

  stream_start (&s, NULL);
  push_until (&s, 500 * GST_MSECOND, 0);
  g_object_set (s.h->element, "silence-threshold", (guint64) 10 * GST_MSECOND, NULL);
  push_until (&s, GST_SECOND, 0);
  last = s.now - TICK;
  hold_clock_at (&s, last + 50 * GST_MSECOND);
  w = next_alert (&s);
  fail_unless (w != NULL, "no warning 50 ms into the silence with silence-threshold 10 ms");
  vdm_assert_str (w, "cause", "network");
  fail_unless (vdm_get_u64 (w, "detect-time") <= last + 50 * GST_MSECOND);
  gst_structure_free (w);
  stream_stop (&s);
}

GST_END_TEST;

/* A silence warning (network) by 1.12 s (the stream's stall floor, 100 ms
 * after the last packet at 0.99 s), then at 1.15 s packets resume
 * with a keyframe lost: a new cause in the same episode, so a second
 * warning, no sooner than warning-interval (set while PLAYING) after the
 * first. Returns the second warning's detect-time (NONE if none by 3.5 s)
 * and the first's. */
static GstClockTime
second_warning_time (guint64 interval, GstClockTime * first)
{
  Stream s;
  GstStructure *w;
  GstClockTime second = GST_CLOCK_TIME_NONE;

  stream_start (&s, NULL);
  g_object_set (s.h->element, "warning-interval", interval, NULL);
  push_until (&s, GST_SECOND, 0);
  hold_clock_at (&s, 1120 * GST_MSECOND);
  w = next_alert (&s);
  fail_unless (w != NULL, "no silence warning");
  *first = vdm_get_u64 (w, "detect-time");
  gst_structure_free (w);
  s.now = 1150 * GST_MSECOND;
  push_packet (&s, 1, TRUE);
  /* the round must come at 1.15 s, not a bin end: the decision's time */
  hold_clock_at (&s, 1150 * GST_MSECOND);
  w = next_alert (&s);
  if (!w) {                     /* held back: it comes once the interval is over */
    push_until (&s, 3500 * GST_MSECOND, 0);
    round_at (&s, 3500 * GST_MSECOND);
    w = alert_now (&s);
  }
  if (w && gst_structure_has_name (w, "vdropmon-warning"))
    second = vdm_get_u64 (w, "detect-time");
  if (w)
    gst_structure_free (w);
  stream_stop (&s);
  return second;
}

GST_START_TEST (test_warning_interval_set_while_playing)
{
  GstClockTime first, second;

  second = second_warning_time (0, &first);
  fail_unless_equals_uint64 (second, 1150 * GST_MSECOND);
  second = second_warning_time (2 * GST_SECOND, &first);
  fail_unless (second != GST_CLOCK_TIME_NONE && second >= first + 2 * GST_SECOND,
      "second warning at %" GST_TIME_FORMAT ", first at %" GST_TIME_FORMAT,
      GST_TIME_ARGS (second), GST_TIME_ARGS (first));
}

GST_END_TEST;

/* The baseline is the mean drops per bin over `window` of the bins outside
 * surges (surge-factor 1000: none here). One drop per 100 ms bin until 3 s,
 * then a clean second: over the default 5 s window the mean is 30 / 40
 * bins; with window set to 500 ms while PLAYING it is the clean bins' 0,
 * raised to the floor, 0.5. */
static gdouble
baseline_at_4s (guint64 window)
{
  Stream s;
  GstStructure *stats;
  gdouble baseline = -1;
  guint tick = 0;

  stream_start (&s, "surge-factor", 1000.0, "critical-factor", 1000.0, NULL);
  if (window)
    g_object_set (s.h->element, "window", window, NULL);
  while (s.now < 3 * GST_SECOND)
    push_packet (&s, tick++ % 10 == 5 ? 1 : 0, FALSE);
  push_until (&s, 4 * GST_SECOND, 0);
  round_at (&s, 4 * GST_SECOND);        /* a worker round at 4 s closes the bins */
  g_object_get (s.h->element, "stats", &stats, NULL);
  fail_unless (gst_structure_get_double (stats, "baseline", &baseline));
  gst_structure_free (stats);
  stream_stop (&s);
  return baseline;
}

GST_START_TEST (test_window_set_while_playing)
{
  gdouble wide = baseline_at_4s (0), narrow = baseline_at_4s (500 * GST_MSECOND);

  GST_INFO ("baseline at 4 s: %f with the 5 s window, %f with 500 ms", wide, narrow);
  fail_unless (wide > 0.6 && wide < 0.9, "5 s window: baseline %f, not about 30/40", wide);
  fail_unless (narrow == 0.5, "500 ms window: baseline %f, not the floor", narrow);
}

GST_END_TEST;

/* A path that delivers 10/11 of the bitrate from 6 s on (as in
 * test_queue_building_warns): the media lags 1/11 s more every second.
 * Until 6.8 s the lag stays under 73 ms and the queue delay under 65 ms,
 * too little for the queue-delay trendline (80 ms), and against the 2 s
 * pipeline latency the runway is 20 s and more; against a 100 ms playout
 * buffer it is about a second from 6.5 s on. Whether a warning comes thus
 * depends on the playout buffer and the runway threshold, set (the
 * properties named) while PLAYING, before the congestion. */
static gboolean
runway_warns (const gchar * first_property, ...)
{
  Stream s;
  GstStructure *w;
  gboolean warned = FALSE;
  va_list args;

  stream_start (&s, NULL);
  run_until_congestion (&s);
  va_start (args, first_property);
  g_object_set_valist (G_OBJECT (s.h->element), first_property, args);
  va_end (args);
  congest_until (&s, 6800 * GST_MSECOND);
  while ((w = alert_now (&s))) {
    if (gst_structure_has_name (w, "vdropmon-warning")) {
      GST_INFO ("%" GST_PTR_FORMAT, w);
      warned = TRUE;
      vdm_assert_str (w, "cause", "network");
      vdm_assert_str (w, "action", "lower-bitrate");
    }
    gst_structure_free (w);
  }
  stream_stop (&s);
  return warned;
}

/* Against the pipeline latency (2 s) the lag is far from eating the
 * buffer; against a 100 ms playout buffer the runway is under 2 s. */
GST_START_TEST (test_playout_buffer_set_while_playing)
{
  fail_if (runway_warns ("playout-buffer", (guint64) 0, NULL), "a 2 s buffer is far from dry");
  fail_unless (runway_warns ("playout-buffer", (guint64) 100 * GST_MSECOND, NULL),
      "a 100 ms buffer running dry within 2 s, and no warning");
}

GST_END_TEST;

/* A 500 ms playout buffer: by 6.8 s the lag (73 ms) is past the jitter
 * floor (50 ms) and the buffer runs dry in about ten seconds at its growth:
 * not within the default 2 s, within a runway-threshold of 60 s. */
GST_START_TEST (test_runway_threshold_set_while_playing)
{
  fail_if (runway_warns ("playout-buffer", (guint64) 500 * GST_MSECOND, "runway-threshold",
          (guint64) 2 * GST_SECOND, NULL), "runway-threshold 2 s, yet a warning");
  fail_unless (runway_warns ("playout-buffer", (guint64) 500 * GST_MSECOND, "runway-threshold",
          (guint64) 60 * GST_SECOND, NULL), "runway-threshold 60 s, and no warning");
}

GST_END_TEST;

static Suite *
warning_suite (void)
{
  Suite *s = suite_create ("vdropmon-warning");
  TCase *tc = tcase_create ("testclock");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_step_warns_then_clears);
  tcase_add_test (tc, test_clean_stream_is_quiet);
  tcase_add_test (tc, test_threshold_changed_while_playing);
  tcase_add_test (tc, test_keyframe_loss);
  tcase_add_test (tc, test_silence_warns);
  tcase_add_test (tc, test_no_silence_while_paused);
  tcase_add_test (tc, test_request_keyframe_set_while_playing);
  tcase_add_test (tc, test_silence_threshold_set_while_playing);
  tcase_add_test (tc, test_warning_interval_set_while_playing);
  tcase_add_test (tc, test_window_set_while_playing);
  tcase_add_test (tc, test_playout_buffer_set_while_playing);
  tcase_add_test (tc, test_runway_threshold_set_while_playing);
  tcase_add_test (tc, test_stall_by_cranking);
  tcase_add_test (tc, test_queue_building_warns);
  tcase_add_test (tc, test_stall_floor_property);
  tcase_add_test (tc, test_congestion_sustain_property);
  tcase_add_test (tc, test_congestion_min_delay_property);
  tcase_add_test (tc, test_renew_after_property);
  return s;
}

GST_CHECK_MAIN (warning);
