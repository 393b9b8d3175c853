/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An episode that gets worse warns again (issue 12 part 5), through the
 * element: a GstHarness whose GstTestClock the test moves a detector bin
 * at a time (tests/common/worker_round.h), kernel drops and receive-queue
 * fill injected through the process's fake event source (collector=fake,
 * bpf/fake_source.h), every vdropmon-warning and vdropmon-clear recorded as
 * it is posted (tests/common/bus_recorder.h). Each test opens an episode,
 * makes it worse in one of the ways docs/messages.md ("Warnings are not
 * repeated for the same trouble") lists, and checks the second warning's
 * fields — and that nothing is repeated while the trouble only goes on:
 *
 *   - a new freeze predicted: a stall that comes back after the stream was
 *     back for renew-after (a trickle faster than that repeats nothing);
 *   - a new freeze predicted: a congestion that never ends, once the
 *     freeze the last warning predicted has come (over RTP, the modelled
 *     jitterbuffer's restart and its freeze over);
 *   - a higher level, same cause;
 *   - a new cause (and then another one).
 *
 * Times asserted are windows, not single rounds, where the detectors'
 * tuning decides (they change); the rules of when a warning repeats are
 * asserted exactly.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/base/gstbasetransform.h>
#include <gst/rtp/gstrtpbuffer.h>

#include <string.h>

#include "bus_recorder.h"
#include "fake_harness.h"
#include "structure_fields.h"
#include "worker_round.h"

#define H264_CAPS "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"
#define SSRC 0x11223344u
#define PT 96
#define WATCH "udp:127.0.0.1:5004"
#define REASON_RCVBUFF 6        /* SOCKET_RCVBUFF: this host's */
#define REASON_NETFILTER 3      /* NETFILTER_DROP: the network's */
#define TICK (10 * GST_MSECOND) /* one packet per 10 ms of media */
#define BIN (100 * GST_MSECOND) /* the default bin-duration */
#define MS GST_MSECOND

/* ------------------------------------------------------------------------ */
/* A stand-in for rtpjitterbuffer: the element reads only its "latency"
 * property (plugin/socket_discovery.c) to model the jitterbuffer's
 * timeline. A real one waits on the test clock for its own timers, which
 * vdm_worker_round_at cannot tell from the element's wait: the stand-in
 * keeps the test deterministic. Passthrough. */

typedef struct
{
  GstBaseTransform parent;
  guint latency;
} VdmTestLatency;

typedef struct
{
  GstBaseTransformClass parent_class;
} VdmTestLatencyClass;

GType vdm_test_latency_get_type (void);
G_DEFINE_TYPE (VdmTestLatency, vdm_test_latency, GST_TYPE_BASE_TRANSFORM);

static GstStaticPadTemplate any_sink = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK,
    GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate any_src = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC,
    GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static void
vdm_test_latency_set_property (GObject * object, guint id, const GValue * value,
    GParamSpec * pspec)
{
  ((VdmTestLatency *) object)->latency = g_value_get_uint (value);
}

static void
vdm_test_latency_get_property (GObject * object, guint id, GValue * value, GParamSpec * pspec)
{
  g_value_set_uint (value, ((VdmTestLatency *) object)->latency);
}

static void
vdm_test_latency_class_init (VdmTestLatencyClass * klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  object_class->set_property = vdm_test_latency_set_property;
  object_class->get_property = vdm_test_latency_get_property;
  g_object_class_install_property (object_class, 1, g_param_spec_uint ("latency", "Latency",
          "ms, as rtpjitterbuffer's", 0, G_MAXUINT, 0, G_PARAM_READWRITE));
  gst_element_class_add_static_pad_template (element_class, &any_sink);
  gst_element_class_add_static_pad_template (element_class, &any_src);
  gst_element_class_set_static_metadata (element_class, "Test latency", "Filter",
      "Passthrough with rtpjitterbuffer's latency property", "vdropmon tests");
}

static void
vdm_test_latency_init (VdmTestLatency * self)
{
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
}

/* ------------------------------------------------------------------------ */
/* The fixture.                                                             */

typedef struct
{
  VdmFakeHarness f;
  GMutex lock;
  GPtrArray *problems;          /* bus errors and warnings */
  GPtrArray *alerts;            /* VdmKtMessage*: warnings and clears, as posted */
  VdmBusRecorder rec;
  guint16 seq;
  GstClockTime now;             /* the test clock's time */
  GstClockTime next;            /* the next packet's time (steady stream) */
} Episode;

static GPtrArray *
route_alerts (GstMessage * msg, const GstStructure * s, gpointer into)
{
  return gst_structure_has_name (s, "vdropmon-warning")
      || gst_structure_has_name (s, "vdropmon-clear") ? into : NULL;
}

/* props: more of the vdropmon launch line; after: what follows it. */
static void
episode_start (Episode * e, const gchar * props, const gchar * after)
{
  gchar *launch = g_strdup_printf ("vdropmon name=mon collector=fake post-messages=false watch="
      WATCH " %s%s", props, after ? after : "");

  memset (e, 0, sizeof (*e));
  g_mutex_init (&e->lock);
  e->problems = g_ptr_array_new_with_free_func (g_free);
  e->alerts = vdm_kt_messages_new ();
  e->rec = (VdmBusRecorder) {
  .label = "episode",.lock = &e->lock,.problems = e->problems,.route = route_alerts,
        .user_data = e->alerts};
  vdm_fake_harness_start (&e->f, launch, H264_CAPS, NULL);
  vdm_bus_recorder_attach (&e->rec, e->f.mon);
  vdm_fake_source_set_reason_name (e->f.fake, REASON_RCVBUFF, "SOCKET_RCVBUFF");
  vdm_fake_source_set_reason_name (e->f.fake, REASON_NETFILTER, "NETFILTER_DROP");
  e->seq = 1000;
  g_free (launch);
}

static void
episode_stop (Episode * e)
{
  vdm_fake_harness_stop (&e->f);
  fail_unless (e->problems->len == 0, "bus: %s", (gchar *) g_ptr_array_index (e->problems, 0));
  g_ptr_array_unref (e->problems);
  g_ptr_array_unref (e->alerts);
  g_mutex_clear (&e->lock);
}

static void
set_latency (Episode * e, GstClockTime latency)
{
  fail_unless (gst_harness_push_upstream_event (e->f.h, gst_event_new_latency (latency)));
}

/* The alerts posted so far. */
static guint
n_alerts (Episode * e)
{
  guint n;

  g_mutex_lock (&e->lock);
  n = e->alerts->len;
  g_mutex_unlock (&e->lock);
  return n;
}

/* Alert i (posted by a round that is over: no lock needed to read it). */
static const GstStructure *
alert (Episode * e, guint i)
{
  const GstStructure *s;

  g_mutex_lock (&e->lock);
  fail_unless (i < e->alerts->len, "alert %u of %u", i, e->alerts->len);
  s = ((VdmKtMessage *) g_ptr_array_index (e->alerts, i))->s;
  g_mutex_unlock (&e->lock);
  return s;
}

static gboolean
is_warning (const GstStructure * s)
{
  return gst_structure_has_name (s, "vdropmon-warning");
}

/* What the recorded alerts were, for a failure message: the first few,
 * their deciding fields (check's messages have a size limit). */
static gchar *
alerts_text (Episode * e)
{
  GString *text = g_string_new ("");
  guint n = n_alerts (e);

  for (guint i = 0; i < n && i < 8; i++) {
    const GstStructure *s = alert (e, i);

    if (!is_warning (s)) {
      g_string_append_printf (text, "\n  clear at %.3f s", vdm_get_u64 (s, "detect-time") / 1e9);
      continue;
    }
    g_string_append_printf (text, "\n  warning at %.3f s: %s, %s, %s, stall-eta %.3f s",
        vdm_get_u64 (s, "detect-time") / 1e9, vdm_get_str (s, "level"), vdm_get_str (s, "cause"),
        vdm_get_str (s, "action"), vdm_get_u64 (s, "stall-eta") / 1e9);
  }
  if (n > 8)
    g_string_append_printf (text, "\n  (%u more)", n - 8);
  return g_string_free (text, FALSE);
}

static void
assert_n_alerts (Episode * e, guint expected, const gchar * when)
{
  gchar *text;

  if (n_alerts (e) == expected)
    return;
  text = alerts_text (e);
  fail ("%s: %u alerts, expected %u:%s", when, n_alerts (e), expected, text);
  g_free (text);
}

/* One H.264 NAL unit (an IDR slice or not) in one RTP packet. */
static GstBuffer *
rtp_packet (guint16 seq, GstClockTime media, gboolean idr)
{
  GstBuffer *buf = gst_rtp_buffer_new_allocate (100, 0, 0);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  guint8 *payload;

  gst_rtp_buffer_map (buf, GST_MAP_WRITE, &rtp);
  gst_rtp_buffer_set_payload_type (&rtp, PT);
  gst_rtp_buffer_set_seq (&rtp, seq);
  gst_rtp_buffer_set_timestamp (&rtp, (guint32) gst_util_uint64_scale (media, 90000,
          GST_SECOND));
  gst_rtp_buffer_set_ssrc (&rtp, SSRC);
  gst_rtp_buffer_set_marker (&rtp, TRUE);
  payload = gst_rtp_buffer_get_payload (&rtp);
  memset (payload, 0xaa, 100);
  payload[0] = idr ? 0x65 : 0x41;
  gst_rtp_buffer_unmap (&rtp);
  GST_BUFFER_PTS (buf) = media;
  return buf;
}

/* A packet of media time `media` arriving at `arrival` (>= the clock's
 * time), `missing` sequence numbers after the one before. */
static void
push_at (Episode * e, GstClockTime media, GstClockTime arrival, guint missing, gboolean idr)
{
  e->seq += missing;
  fail_unless (gst_harness_set_time (e->f.h, arrival));
  e->now = arrival;
  fail_unless_equals_int (gst_harness_push (e->f.h, rtp_packet (e->seq++, media, idr)),
      GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (e->f.h));
}

/* The worker's round at bin end `at`, after everything sent so far. */
static void
round_at (Episode * e, GstClockTime at)
{
  vdm_worker_round_at (e->f.h, at);
  e->now = at;
}

/* n drops the kernel saw (reason SOCKET_RCVBUFF), 5 ms before the bin's
 * end `bin_end`: however late the fake source delivers them (their age
 * comes off the clock), they stay in that bin. */
static void
host_drops_before (Episode * e, GstClockTime bin_end, guint n)
{
  vdm_fake_drop drop = {.reason = REASON_RCVBUFF,.reason_name = "SOCKET_RCVBUFF" };

  fail_unless (gst_harness_set_time (e->f.h, bin_end - 5 * MS));
  e->now = bin_end - 5 * MS;
  vdm_fake_harness_inject (&e->f, &drop, n);
}

/* The next packet of a steady stream (media time = arrival), `missing`
 * seqs after the one before. */
static void
push_next (Episode * e, guint missing, gboolean idr)
{
  push_at (e, e->next, e->next, missing, idr);
  e->next += TICK;
}

/* The steady stream until `until` (not included), each packet `missing`
 * seqs after the one before; a round at every bin end on the way, before
 * the packet of that time. */
static void
stream_until (Episode * e, GstClockTime until, guint missing)
{
  while (e->next < until) {
    GstClockTime bin_end = e->now - e->now % BIN + BIN;

    if (bin_end <= e->next)
      round_at (e, bin_end);
    else
      push_next (e, missing, FALSE);
  }
}

/* The same, then the round at `until` (a bin end). */
static void
stream_round (Episode * e, GstClockTime until, guint missing)
{
  stream_until (e, until, missing);
  round_at (e, until);
}

/* Nothing arrives until `until`, a round at every bin end up to it; the
 * stream then resumes where the sender is by then (it paused). */
static void
silence_until (Episode * e, GstClockTime until)
{
  for (GstClockTime t = e->now - e->now % BIN + BIN; t <= until; t += BIN)
    round_at (e, t);
  e->next = MAX (e->next, until);
}

/* The common fields of a warning: level, cause, action. */
static void
assert_warning (const GstStructure * w, const gchar * level, const gchar * cause,
    const gchar * action)
{
  fail_unless (is_warning (w), "not a warning: %" GST_PTR_FORMAT, w);
  vdm_assert_str (w, "level", level);
  vdm_assert_str (w, "cause", cause);
  vdm_assert_str (w, "action", action);
  /* plain RTP caps say no height */
  fail_unless_equals_int (vdm_get_int (w, "suggested-height"), -1);
  fail_unless (vdm_get_u64 (w, "running-time") == vdm_get_u64 (w, "detect-time"),
      "running-time %" G_GUINT64_FORMAT " (the base time is 0)", vdm_get_u64 (w, "running-time"));
}

/* ------------------------------------------------------------------------ */
/* A new freeze predicted: the stall comes back.                            */

/* Latency 200 ms, a packet every 10 ms until 0.99 s, then none until
 * 1.5 s: a stall (the stream's threshold is the 100 ms floor), warned at
 * the round at 1.1 s, network, lower-bitrate, stall-eta the buffered media
 * left (0.99 + 0.2 - 1.1 = 90 ms). The silence going on repeats nothing.
 * The stream comes back for 1 s (>= renew-after, 500 ms) and stalls again
 * (last packet 2.49 s): a new freeze, warned again with the same cause and
 * action and a fresh stall-eta — the buffered media left after that last
 * packet. Back for 200 ms and stalled again (3.19 s): a trickle through a
 * stalled link, faster than renew-after: nothing. The episode stays open
 * (clear-bins 50). */
static void
stall_episode (Episode * e, GstClockTime * second_stall_last)
{
  set_latency (e, 200 * MS);
  stream_until (e, GST_SECOND, 0);
  silence_until (e, 1500 * MS);
  stream_until (e, 2500 * MS, 0);
  *second_stall_last = 2490 * MS;
  silence_until (e, 3000 * MS);
  stream_until (e, 3200 * MS, 0);
  silence_until (e, 3700 * MS);
}

GST_START_TEST (test_stall_again_warns_again)
{
  Episode e;
  GstClockTime last, detect;
  const GstStructure *w;

  episode_start (&e, "clear-bins=50", NULL);
  set_latency (&e, 200 * MS);
  stream_until (&e, GST_SECOND, 0);
  silence_until (&e, 1500 * MS);
  assert_n_alerts (&e, 1, "a stall going on for 0.5 s");
  w = alert (&e, 0);
  assert_warning (w, "warning", "network", "lower-bitrate");
  fail_unless_equals_uint64 (vdm_get_u64 (w, "detect-time"), 1100 * MS);
  fail_unless_equals_uint64 (vdm_get_u64 (w, "stall-eta"), 90 * MS);
  vdm_assert_str (w, "reasons", "");

  stream_until (&e, 2500 * MS, 0);
  assert_n_alerts (&e, 1, "the stream back for 1 s");
  last = 2490 * MS;
  silence_until (&e, 3000 * MS);
  assert_n_alerts (&e, 2, "the second stall");
  w = alert (&e, 1);
  assert_warning (w, "warning", "network", "lower-bitrate");
  detect = vdm_get_u64 (w, "detect-time");
  /* past the stall threshold (the 100 ms floor, up to the 200 ms
   * silence-threshold since the stream paused once) */
  fail_unless (detect > last + 100 * MS && detect <= last + 300 * MS,
      "second warning at %" GST_TIME_FORMAT, GST_TIME_ARGS (detect));
  /* the buffered media left after the last packet, 0 once it is gone */
  fail_unless_equals_uint64 (vdm_get_u64 (w, "stall-eta"),
      last + 200 * MS > detect ? last + 200 * MS - detect : 0);

  /* back for 200 ms only, then stalled again: the same freeze */
  stream_until (&e, 3200 * MS, 0);
  silence_until (&e, 3800 * MS);
  assert_n_alerts (&e, 2, "a stall back within renew-after");
  episode_stop (&e);
}

GST_END_TEST;

/* The same with renew-after 0: the second stall is not warned again. */
GST_START_TEST (test_stall_again_renew_off)
{
  Episode e;
  GstClockTime last;

  episode_start (&e, "clear-bins=50 renew-after=0", NULL);
  stall_episode (&e, &last);
  assert_n_alerts (&e, 1, "renew-after 0");
  episode_stop (&e);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* A new freeze predicted: a congestion that never ends.                    */

/* Behind vdropmon a jitterbuffer of 2 s (the stand-in above, as
 * `rtspsrc latency=2000` would be found). A 30 fps stream, a frame per
 * packet (the jitterbuffer's skew follows the delay per frame: at 100
 * frames per second it would keep up with this ramp and never restart);
 * from 6 s on the path delay grows by 0.2 s per s of arrival and never
 * stops (the queue keeps building), until `until` of arrival time. A
 * round at every bin end. Returns the number of warnings. */
static guint
long_congestion (Episode * e, const gchar * props, GstClockTime until)
{
  const GstClockTime ramp_at = 6 * GST_SECOND;
  GstClockTime media = 0, arrival = 0, bin_end = BIN;
  guint64 frame = 0;
  guint warnings = 0;

  episode_start (e, props, " ! vdmtestlatency latency=2000");
  while (arrival < until) {
    if (arrival >= bin_end) {
      round_at (e, bin_end);
      bin_end += BIN;
      continue;
    }
    push_at (e, media, arrival, 0, frame % 30 == 0);
    media = ++frame * GST_SECOND / 30;
    /* 0.25 s of delay per s of media: 0.2 s per s of arrival */
    arrival = media + (media > ramp_at ? (media - ramp_at) / 4 : 0);
  }
  round_at (e, bin_end);
  for (guint i = 0; i < n_alerts (e); i++)
    warnings += is_warning (alert (e, i));
  return warnings;
}

/* The long congestion for 16 s: the delay gradient warns within ~1.5 s
 * (network, lower-bitrate, a stall-eta: the jitterbuffer's restart, ~1 s
 * of deficit, plus the 1 s of frames it had stamped). The jitterbuffer
 * restarts its timeline, the screen holds the last frame ~1 s, and the
 * delay keeps growing: another freeze is coming. Warned again once the
 * freeze the last warning predicted has come and is over (restart + the
 * 2 s buffer), at least renew-after after that warning, with a stall-eta
 * for the next one: one warning per freeze, none in between, no clear. */
GST_START_TEST (test_long_congestion_warns_each_freeze)
{
  const GstClockTime ramp_at = 6 * GST_SECOND;
  Episode e;
  guint warnings = long_congestion (&e, "clear-bins=10", 22 * GST_SECOND);
  gchar *text = alerts_text (&e);
  GstClockTime prev_detect = 0, prev_due = 0;

  GST_INFO ("alerts:%s", text);
  fail_unless (warnings >= 2, "%u warnings in 16 s of congestion:%s", warnings, text);
  /* ~5.9 s from one restart to the next: at most one warning each */
  fail_unless (warnings <= 3, "%u warnings in 16 s of congestion:%s", warnings, text);
  fail_unless_equals_int (n_alerts (&e), warnings);     /* no clear */
  for (guint i = 0; i < warnings; i++) {
    const GstStructure *w = alert (&e, i);
    GstClockTime detect = vdm_get_u64 (w, "detect-time"), eta = vdm_get_u64 (w, "stall-eta");

    assert_warning (w, "warning", "network", "lower-bitrate");
    vdm_assert_str (w, "reasons", "");
    fail_unless (eta != GST_CLOCK_TIME_NONE && eta > 0, "warning %u: no freeze ahead:%s", i, text);
    if (i == 0) {
      fail_unless (detect > ramp_at && detect < ramp_at + 2 * GST_SECOND,
          "first warning %.3f s into the congestion:%s", (detect - ramp_at) / 1e9, text);
    } else {
      /* the freeze the last warning predicted has come... */
      fail_unless (detect >= prev_due, "warning %u at %.3f s, the freeze predicted for %.3f s "
          "had not come:%s", i, detect / 1e9, prev_due / 1e9, text);
      fail_unless (detect >= prev_detect + 500 * MS, "within renew-after:%s", text);
      /* ...and another is at least renew-after ahead */
      fail_unless (eta >= 500 * MS, "warning %u: stall-eta %.3f s:%s", i, eta / 1e9, text);
    }
    prev_detect = detect;
    prev_due = detect + eta;
  }
  g_free (text);
  episode_stop (&e);
}

GST_END_TEST;

/* renew-after 0: the same congestion warns once. */
GST_START_TEST (test_long_congestion_renew_off)
{
  Episode e;
  guint warnings = long_congestion (&e, "clear-bins=10 renew-after=0", 22 * GST_SECOND);
  gchar *text = alerts_text (&e);

  fail_unless_equals_int (warnings, 1);
  fail_unless_equals_int (n_alerts (&e), 1);
  g_free (text);
  episode_stop (&e);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* A higher level, the same cause.                                          */

/* Latency 200 ms, a steady stream. From 2.0 s the kernel drops 10 of its
 * packets per bin for want of receive buffer (SOCKET_RCVBUFF: host); with
 * critical-factor 1000 the surge is level warning: warned at 2.2 s (host,
 * lower-resolution). The drops go on: the same trouble, nothing repeated.
 * From 3.0 s the receive queue is 95 % full at every round (over
 * queue-fill-threshold: critical, host): the situation got worse, warned
 * again — level critical, the same cause and action (only the level rose),
 * stall-eta 0 (the damage since the last warning is on the screen
 * already). The queue stays full
 * and the drops go on until 4 s: critical is as high as it gets, nothing
 * more. */
GST_START_TEST (test_higher_level_warns_again)
{
  Episode e;
  const GstStructure *w;
  GstClockTime t, detect;

  episode_start (&e, "critical-factor=1000.0 clear-bins=50", NULL);
  set_latency (&e, 200 * MS);
  stream_until (&e, 2 * GST_SECOND, 0);
  for (t = 2 * GST_SECOND; t < 3 * GST_SECOND; t += BIN) {
    stream_until (&e, t + BIN - 5 * MS, 0);
    host_drops_before (&e, t + BIN, 10);
    round_at (&e, t + BIN);
  }
  assert_n_alerts (&e, 1, "1 s of host drops");
  w = alert (&e, 0);
  assert_warning (w, "warning", "host", "lower-resolution");
  fail_unless_equals_uint64 (vdm_get_u64 (w, "detect-time"), 2200 * MS);
  vdm_assert_str (w, "reasons", "SOCKET_RCVBUFF");
  fail_unless_equals_int (vdm_get_int (w, "suggested-bitrate"), -1);

  for (; t < 4 * GST_SECOND; t += BIN) {
    stream_until (&e, t + BIN - 5 * MS, 0);
    host_drops_before (&e, t + BIN, 10);
    fail_unless_equals_int (vdm_fake_source_set_queue_peak (e.f.fake, e.f.watch_id, 950), 0);
    round_at (&e, t + BIN);
  }
  assert_n_alerts (&e, 2, "the queue full from 3 s");
  w = alert (&e, 1);
  assert_warning (w, "critical", "host", "lower-resolution");
  detect = vdm_get_u64 (w, "detect-time");
  /* the fill is read after the round at 3.1 s and decided by the next */
  fail_unless (detect >= 3100 * MS && detect <= 3200 * MS, "at %" GST_TIME_FORMAT,
      GST_TIME_ARGS (detect));
  vdm_assert_str (w, "reasons", "SOCKET_RCVBUFF");
  /* the first damage since the last warning (a drop at ~2.3 s) + 200 ms
   * is past: on the screen already */
  fail_unless_equals_uint64 (vdm_get_u64 (w, "stall-eta"), 0);
  episode_stop (&e);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* A new cause.                                                             */

/* n drops the kernel saw for the network's reason NETFILTER_DROP (a
 * packet of ours lost on the way: not this host's fault), as above. */
static void
network_drops_before (Episode * e, GstClockTime bin_end, guint n)
{
  vdm_fake_drop drop = {.reason = REASON_NETFILTER,.reason_name = "NETFILTER_DROP" };

  fail_unless (gst_harness_set_time (e->f.h, bin_end - 5 * MS));
  e->now = bin_end - 5 * MS;
  vdm_fake_harness_inject (&e->f, &drop, n);
}

/* The kernel drops the stream's next packet, a keyframe's (SOCKET_RCVBUFF,
 * its RTP header and first payload bytes in the event); the stream goes
 * on without it. */
static void
keyframe_dropped (Episode * e)
{
  GstBuffer *buf = rtp_packet (e->seq, e->next, TRUE);
  vdm_fake_drop drop = {.reason = REASON_RCVBUFF,.reason_name = "SOCKET_RCVBUFF" };
  guint8 wire[32];

  gst_buffer_extract (buf, 0, wire, sizeof (wire));
  gst_buffer_unref (buf);
  drop.payload = wire;
  drop.payload_len = sizeof (wire);
  fail_unless (gst_harness_set_time (e->f.h, e->next));
  e->now = e->next;
  vdm_fake_harness_inject (&e->f, &drop, 1);
  e->seq++;
  e->next += TICK;
}

/* Latency 200 ms, a steady stream. From 2.0 s the kernel drops 10 of its
 * packets per bin on the way in (NETFILTER_DROP: the network's): warned at
 * 2.2 s, critical, network, lower-bitrate. The drops go on (nothing
 * repeated). From 3.0 s it also drops 10 per bin for want of receive
 * buffer (SOCKET_RCVBUFF: this host's): a cause no warning of the episode
 * has answered yet — warned again, lower-resolution, causes and reasons
 * both, level critical (never below the episode's), stall-eta 0 (the
 * damage since the last warning is on the screen already). The host
 * drops go on (nothing repeated). At 3.55 s a keyframe's packet is
 * dropped: another new cause, request-keyframe. More keyframes lost, more
 * of both drops until 4.5 s: all answered already, nothing. */
GST_START_TEST (test_new_cause_warns_again)
{
  Episode e;
  const GstStructure *w;
  GstClockTime t, detect;

  episode_start (&e, "clear-bins=50", NULL);
  set_latency (&e, 200 * MS);
  stream_until (&e, 2 * GST_SECOND, 0);
  for (t = 2 * GST_SECOND; t < 3 * GST_SECOND; t += BIN) {
    stream_until (&e, t + BIN - 5 * MS, 0);
    network_drops_before (&e, t + BIN, 10);
    round_at (&e, t + BIN);
  }
  assert_n_alerts (&e, 1, "1 s of network drops");
  w = alert (&e, 0);
  assert_warning (w, "critical", "network", "lower-bitrate");
  fail_unless_equals_uint64 (vdm_get_u64 (w, "detect-time"), 2200 * MS);
  vdm_assert_str (w, "reasons", "NETFILTER_DROP");

  for (; t < 3500 * MS; t += BIN) {
    stream_until (&e, t + BIN - 5 * MS, 0);
    network_drops_before (&e, t + BIN, 5);
    host_drops_before (&e, t + BIN, 10);
    round_at (&e, t + BIN);
  }
  assert_n_alerts (&e, 2, "host drops besides the network's");
  w = alert (&e, 1);
  /* the causes behind it: both; the action: the new one's */
  assert_warning (w, "critical", "host,network", "lower-resolution");
  detect = vdm_get_u64 (w, "detect-time");
  /* the first bin with host drops is [3.0, 3.1) */
  fail_unless (detect >= 3100 * MS && detect <= 3300 * MS, "at %" GST_TIME_FORMAT,
      GST_TIME_ARGS (detect));
  vdm_assert_str (w, "reasons", "NETFILTER_DROP,SOCKET_RCVBUFF");
  fail_unless_equals_int (vdm_get_int (w, "suggested-bitrate"), -1);
  fail_unless_equals_uint64 (vdm_get_u64 (w, "stall-eta"), 0);

  stream_until (&e, 3550 * MS, 0);
  keyframe_dropped (&e);
  stream_round (&e, 3700 * MS, 0);
  assert_n_alerts (&e, 3, "a keyframe lost");
  w = alert (&e, 2);
  fail_unless (is_warning (w));
  vdm_assert_str (w, "level", "critical");
  vdm_assert_str (w, "action", "request-keyframe");
  fail_unless (strstr (vdm_get_str (w, "cause"), "keyframe") != NULL, "%" GST_PTR_FORMAT, w);
  detect = vdm_get_u64 (w, "detect-time");
  /* decided at the first round after the drop */
  fail_unless (detect >= 3550 * MS && detect <= 3600 * MS, "at %" GST_TIME_FORMAT,
      GST_TIME_ARGS (detect));

  for (t = 3700 * MS; t < 4500 * MS; t += BIN) {
    keyframe_dropped (&e);
    stream_until (&e, t + BIN - 5 * MS, 0);
    network_drops_before (&e, t + BIN, 5);
    host_drops_before (&e, t + BIN, 10);
    round_at (&e, t + BIN);
  }
  assert_n_alerts (&e, 3, "the same three causes going on");
  episode_stop (&e);
}

GST_END_TEST;

static Suite *
episode_suite (void)
{
  Suite *s = suite_create ("vdropmon-episode");
  TCase *tc = tcase_create ("worse");

  gst_element_register (NULL, "vdmtestlatency", GST_RANK_NONE, vdm_test_latency_get_type ());
  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_stall_again_warns_again);
  tcase_add_test (tc, test_stall_again_renew_off);
  tcase_add_test (tc, test_long_congestion_warns_each_freeze);
  tcase_add_test (tc, test_long_congestion_renew_off);
  tcase_add_test (tc, test_higher_level_warns_again);
  tcase_add_test (tc, test_new_cause_warns_again);
  return s;
}

GST_CHECK_MAIN (episode);
