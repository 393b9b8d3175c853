/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel-drop path through the element without root: collector=fake
 * opens the process's fake event source (bpf/fake_source.h), the test
 * injects the drops the kernel would report, and checks what comes out:
 * drop → batch → PTS/keyframe placement → vdropmon-drop; the surge
 * detector's warning and clear at exact GstTestClock times; counters in
 * stats; the same placement when the element sits after rtph264depay.
 *
 * Messages are awaited on the bus (a blocking pop, no sleep or poll); the
 * detector's times come from the GstTestClock the test moves.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/rtp/gstrtpbuffer.h>
#include <gio/gio.h>

#include <string.h>
#include <sys/socket.h>

#include "fake_harness.h"
#include "structure_fields.h"
#include "worker_round.h"

#define H264_CAPS "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"
/* with parameter sets, so that rtph264depay can set its caps at once */
#define H264_CAPS_SPROP H264_CAPS ",sprop-parameter-sets=\"Z0LAHtkDxWhAAAADAEAAAA8jxYuS,aMuMsg==\""
#define SSRC 0x11223344u
#define PT 96
#define WATCH "udp:127.0.0.1:5004"
#define WATCH_FLOW "udp 127.0.0.1:5004"    /* as the flow field says it */
#define REASON_RCVBUFF 6
#define MESSAGE_TIMEOUT (5 * GST_SECOND)

/* One H.264 NAL unit (IDR slice or not) in one RTP packet, marker set. */
static GstBuffer *
rtp_packet (guint16 seq, guint32 ts, GstClockTime pts, gboolean idr)
{
  GstBuffer *buf = gst_rtp_buffer_new_allocate (20, 0, 0);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  guint8 *payload;

  gst_rtp_buffer_map (buf, GST_MAP_WRITE, &rtp);
  gst_rtp_buffer_set_payload_type (&rtp, PT);
  gst_rtp_buffer_set_seq (&rtp, seq);
  gst_rtp_buffer_set_timestamp (&rtp, ts);
  gst_rtp_buffer_set_ssrc (&rtp, SSRC);
  gst_rtp_buffer_set_marker (&rtp, TRUE);
  payload = gst_rtp_buffer_get_payload (&rtp);
  memset (payload, 0xaa, 20);
  payload[0] = idr ? 0x65 : 0x41;       /* NRI 3, type 5 / NRI 2, type 1 */
  gst_rtp_buffer_unmap (&rtp);
  GST_BUFFER_PTS (buf) = pts;
  return buf;
}

/* The first bytes of that packet, as the kernel hands them over. */
static void
rtp_wire (guint16 seq, guint32 ts, gboolean idr, guint8 * out, gsize len)
{
  GstBuffer *buf = rtp_packet (seq, ts, 0, idr);

  gst_buffer_extract (buf, 0, out, len);
  gst_buffer_unref (buf);
}

static void
inject (VdmFakeHarness * f, const guint8 * payload, gsize len, guint n)
{
  vdm_fake_drop drop = {.reason = REASON_RCVBUFF,
    .reason_name = "SOCKET_RCVBUFF",.attributed_by = VDM_ATTR_SOCKET,
    .payload = payload,.payload_len = len
  };

  vdm_fake_harness_inject (f, &drop, n);
}

static GstStructure *
next_message (VdmFakeHarness * f, const gchar * name)
{
  return vdm_fake_harness_next_message (f, name, MESSAGE_TIMEOUT);
}


/* Frames 0..4 pass (frame 2 a keyframe, pts n * 40 ms); the kernel drops
 * the keyframe's second packet: one vdropmon-drop for it, placed on frame
 * 2's PTS and flagged keyframe. */
static void
check_kernel_drop_placed (VdmFakeHarness * f)
{
  guint8 wire[32];
  GstStructure *s;
  guint n;

  for (n = 0; n < 5; n++)
    gst_harness_push (f->h, rtp_packet (100 + n, n * 3600, n * 40 * GST_MSECOND, n == 2));
  rtp_wire (150, 2 * 3600, TRUE, wire, sizeof (wire));
  inject (f, wire, sizeof (wire), 1);
  s = next_message (f, "vdropmon-drop");
  fail_unless (s != NULL, "no vdropmon-drop for the injected drop");
  vdm_assert_str (s, "source", "kernel-udp");
  vdm_assert_str (s, "reason", "SOCKET_RCVBUFF");
  vdm_assert_str (s, "attribution", "socket");
  vdm_assert_str (s, "flow", WATCH_FLOW);
  fail_unless_equals_int (g_value_get_uint (gst_structure_get_value (s, "count")), 1);
  fail_unless_equals_int (g_value_get_int (gst_structure_get_value (s, "rtp-seq-first")), 150);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "pts"), 80 * GST_MSECOND);
  fail_unless (g_value_get_boolean (gst_structure_get_value (s, "keyframe")));
  gst_structure_free (s);
}

GST_START_TEST (test_kernel_drop_message)
{
  VdmFakeHarness f;

  vdm_fake_harness_start (&f, "vdropmon name=mon collector=fake post-messages=false batch-interval=5000000 "
      "watch=" WATCH, H264_CAPS, NULL);
  check_kernel_drop_placed (&f);
  vdm_fake_harness_stop (&f);
}

GST_END_TEST;

/* Placement independence: after rtph264depay the caps are H.264, not RTP;
 * the frames and codec come from the depayloader's RTP sink pad, so the
 * drop carries the same PTS and keyframe flag as above. */
GST_START_TEST (test_kernel_drop_after_depayloader)
{
  VdmFakeHarness f;

  vdm_fake_harness_start (&f, "rtph264depay ! vdropmon name=mon collector=fake post-messages=false "
      "batch-interval=5000000 watch=" WATCH, H264_CAPS_SPROP,
      "video/x-h264,stream-format=byte-stream,alignment=nal");
  /* one frame first: the depayloader sets its caps, we find its RTP pad */
  gst_harness_push (f.h, rtp_packet (90, 0, 0, TRUE));
  check_kernel_drop_placed (&f);
  vdm_fake_harness_stop (&f);
}

GST_END_TEST;

/* 10 kernel drops (SOCKET_RCVBUFF: the host's) per 100 ms bin from 2.0 s
 * to 3.0 s of pipeline time: a critical host warning at exactly 2.2 s, and
 * the clear 10 quiet bins after the EWMA is back under the threshold, at
 * exactly 5.0 s, with the 100 drops of the episode (the timeline of
 * tests/core/test_stream_monitor.c). Bins are aligned on the pipeline
 * clock, and an event is stamped with the end of the bin that decided it,
 * whenever the worker's round comes. The clock moves a bin at a time; the
 * drops come 95 ms into their bin, so that however late the fake source
 * delivers them (their age is taken off the clock) they stay in it, and
 * the worker has a round at every bin end: by 6 s both messages are on the
 * bus. */
GST_START_TEST (test_kernel_drops_warn_and_clear)
{
  VdmFakeHarness f;
  GstStructure *w, *c;
  GstClockTime t;

  vdm_fake_harness_start (&f, "vdropmon name=mon collector=fake post-messages=false watch=" WATCH,
      H264_CAPS, NULL);
  for (t = 0; t < 6 * GST_SECOND; t += 100 * GST_MSECOND) {
    fail_unless (gst_harness_set_time (f.h, t + 95 * GST_MSECOND));
    if (t >= 2 * GST_SECOND && t < 3 * GST_SECOND)
      inject (&f, NULL, 0, 10);
    vdm_worker_round_at (f.h, t + 100 * GST_MSECOND);
  }
  w = vdm_fake_harness_next_message (&f, "vdropmon-warning", 0);
  fail_unless (w != NULL, "no warning");
  fail_unless_equals_uint64 (vdm_get_u64 (w, "detect-time"), 2200 * GST_MSECOND);
  vdm_assert_str (w, "level", "critical");
  vdm_assert_str (w, "cause", "host");
  vdm_assert_str (w, "reasons", "SOCKET_RCVBUFF");
  c = vdm_fake_harness_next_message (&f, "vdropmon-clear", 0);
  fail_unless (c != NULL, "no clear");
  fail_unless_equals_uint64 (vdm_get_u64 (c, "detect-time"), 5 * GST_SECOND);
  fail_unless_equals_uint64 (vdm_get_u64 (c, "drops"), 100);
  gst_structure_free (w);
  gst_structure_free (c);
  vdm_fake_harness_stop (&f);
}

GST_END_TEST;

/* collector=fake says so in stats; the kernel's counters show up there. */
GST_START_TEST (test_stats_from_fake_source)
{
  VdmFakeHarness f;
  vdm_counters counters = { 0 };
  GstStructure *stats, *reasons;

  vdm_fake_harness_start (&f, "vdropmon name=mon collector=fake post-messages=false watch=" WATCH,
      H264_CAPS, NULL);
  counters.per_reason[REASON_RCVBUFF] = 7;
  counters.total = 7;
  vdm_fake_source_set_reason_name (f.fake, REASON_RCVBUFF, "SOCKET_RCVBUFF");
  fail_unless_equals_int (vdm_fake_source_set_counters (f.fake, f.watch_id, &counters), 0);
  g_object_get (f.mon, "stats", &stats, NULL);
  vdm_assert_str (stats, "collector", "fake");
  vdm_assert_str (stats, "collector-status", "running");
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "kernel-drops"), 7);
  fail_unless (gst_structure_get (stats, "reasons", GST_TYPE_STRUCTURE, &reasons, NULL));
  fail_unless_equals_uint64 (vdm_get_u64 (reasons, "SOCKET_RCVBUFF"), 7);
  gst_structure_free (reasons);
  gst_structure_free (stats);
  vdm_fake_harness_stop (&f);
}

GST_END_TEST;

/* Issue 9 #6: the ring buffer is full, no event comes; the kernel's
 * per-reason counters and events-lost grow by 10 per 100 ms bin from 2.0 s
 * to 3.0 s while RTP packets arrive with the 10 matching seq gaps. The
 * detector still sees the host's drops (cause host, lower-resolution,
 * reason SOCKET_RCVBUFF, not network / lower-bitrate / RTP_SEQ_GAP), and
 * the gaps are not reported again as rtp-gap drops. Reading stats reads
 * the counters, so each bin's drops are known before the clock moves on. */
/* Drops whose events the ring lost (counters and events-lost only) still
 * reach the detector and the drop messages, each exactly once. counter_lag:
 * how many of each step's lost drops the per-reason counters show only at
 * the next step, while events-lost already has them — what the collector
 * reads when a drop lands between its two reads (the flood's race). */
static void
check_lost_events (guint counter_lag)
{
  VdmFakeHarness f;
  vdm_counters counters = { 0 };
  GstStructure *w = NULL, *stats;
  const GstStructure *s;
  GstMessage *msg;
  GstClockTime t;
  guint16 seq = 1000;
  guint64 lost = 0, gap_drops = 0, kernel_drops = 0;
  guint i;

  vdm_fake_harness_start (&f, "vdropmon name=mon collector=fake post-messages=false watch=" WATCH,
      H264_CAPS, NULL);
  vdm_fake_source_set_reason_name (f.fake, REASON_RCVBUFF, "SOCKET_RCVBUFF");
  for (t = 0; t < 3500 * GST_MSECOND; t += 100 * GST_MSECOND) {
    gboolean lossy = t >= 2 * GST_SECOND && t < 3 * GST_SECOND;

    fail_unless (gst_harness_set_time (f.h, t + 95 * GST_MSECOND));
    for (i = 0; i < 10; i++) {
      seq += lossy ? 1 : 0;
      gst_harness_push (f.h, rtp_packet (seq, (guint32) (t / GST_MSECOND * 90), t, FALSE));
      seq++;
    }
    if (lossy) {
      lost += 10;
      counters.ringbuf_lost = lost;
      if (counter_lag) {        /* a read that sees the losses before their drops */
        counters.per_reason[REASON_RCVBUFF] = counters.total = lost - counter_lag;
        fail_unless_equals_int (vdm_fake_source_set_counters (f.fake, f.watch_id, &counters), 0);
        fail_unless_equals_int (vdm_fake_source_set_events_lost (f.fake, f.watch_id, lost), 0);
        g_object_get (f.mon, "stats", &stats, NULL);
        gst_structure_free (stats);
      }
      counters.per_reason[REASON_RCVBUFF] = counters.total = lost;
      fail_unless_equals_int (vdm_fake_source_set_counters (f.fake, f.watch_id, &counters), 0);
      fail_unless_equals_int (vdm_fake_source_set_events_lost (f.fake, f.watch_id, lost), 0);
    }
    g_object_get (f.mon, "stats", &stats, NULL);
    gst_structure_free (stats);
    g_usleep (60 * 1000);       /* the gaps' grace (50 ms of CLOCK_MONOTONIC) */
  }
  gst_harness_teardown (f.h);   /* everything pending is posted */
  while ((msg = gst_bus_timed_pop_filtered (f.bus, GST_SECOND, GST_MESSAGE_ELEMENT))) {
    s = gst_message_get_structure (msg);
    if (gst_structure_has_name (s, "vdropmon-warning") && !w)
      w = gst_structure_copy (s);
    if (gst_structure_has_name (s, "vdropmon-drop")) {
      guint count = g_value_get_uint (gst_structure_get_value (s, "count"));
      if (!g_strcmp0 (gst_structure_get_string (s, "source"), "rtp-gap"))
        gap_drops += count;
      else
        kernel_drops += count;
    }
    gst_message_unref (msg);
  }
  fail_unless (w != NULL, "no warning");
  vdm_assert_str (w, "cause", "host");
  vdm_assert_str (w, "action", "lower-resolution");
  vdm_assert_str (w, "reasons", "SOCKET_RCVBUFF");
  gst_structure_free (w);
  fail_unless_equals_uint64 (gap_drops, 0);
  fail_unless_equals_uint64 (kernel_drops, 100);
  gst_object_unref (f.mon);
  gst_bus_set_flushing (f.bus, TRUE);
  gst_object_unref (f.bus);
}

GST_START_TEST (test_lost_events_still_reach_the_detector)
{
  check_lost_events (0);
}

GST_END_TEST;

GST_START_TEST (test_lost_events_counted_before_their_drops)
{
  check_lost_events (4);
}

GST_END_TEST;

/* Issue 9 #9: a flood of rotating (spoofed) SSRCs, a batch each. Drop
 * messages stay within the element's budget (burst plus rate × elapsed);
 * the rest comes as vdropmon-drop-summary messages, and counts add up. A
 * second element's one drop, after the flood, still gets its own message:
 * the budget is per element. */
#define FLOOD_DROPS 3000
GST_START_TEST (test_rotating_ssrcs_bounded)
{
  VdmFakeHarness f;
  GstHarness *h2;
  GstElement *mon2;
  vdm_fake_watch watches[4];
  guint32 watch2 = 0;
  GstMessage *msg;
  guint64 drop_messages = 0, counted = 0, summaries = 0, second = 0;
  gint64 start, elapsed_us;
  guint8 wire[16] = { 0x80, PT };
  guint i, n, max_ssrcs = 0;
  gboolean truncated = FALSE;

  vdm_fake_harness_start (&f, "vdropmon name=mon collector=fake post-messages=false watch=" WATCH,
      H264_CAPS, NULL);
  h2 = gst_harness_new_parse ("vdropmon name=mon2 collector=fake post-messages=false "
      "watch=udp:127.0.0.1:5006");
  mon2 = GST_IS_BIN (h2->element) ? gst_bin_get_by_name (GST_BIN (h2->element), "mon2") : NULL;
  if (!mon2)
    mon2 = gst_object_ref (h2->element);
  gst_element_set_bus (mon2, f.bus);
  gst_harness_set_src_caps_str (h2, H264_CAPS);
  fail_unless (vdm_fake_source_wait_watches (f.fake, 2, 5000));
  n = vdm_fake_source_list_watches (f.fake, watches, 4);
  for (i = 0; i < n; i++)
    if (watches[i].watch_id != f.watch_id)
      watch2 = watches[i].watch_id;
  fail_unless (watch2 != 0);
  start = g_get_monotonic_time ();
  for (i = 0; i < FLOOD_DROPS; i++) {
    vdm_fake_drop drop = {.watch_id = f.watch_id,.reason = REASON_RCVBUFF,
      .reason_name = "SOCKET_RCVBUFF",.payload = wire,.payload_len = sizeof (wire)
    };
    GST_WRITE_UINT16_BE (wire + 2, i);
    GST_WRITE_UINT32_BE (wire + 8, 0x1000 + i);       /* a new SSRC each */
    fail_unless_equals_int (vdm_fake_source_inject_drop (f.fake, &drop), 0);
  }
  {
    vdm_fake_drop drop = {.watch_id = watch2,.reason = REASON_RCVBUFF,
      .reason_name = "SOCKET_RCVBUFF"
    };
    fail_unless_equals_int (vdm_fake_source_inject_drop (f.fake, &drop), 0);
  }
  vdm_fake_source_flush (f.fake);
  gst_harness_teardown (f.h);   /* everything pending is posted */
  gst_harness_teardown (h2);
  elapsed_us = g_get_monotonic_time () - start;
  while ((msg = gst_bus_timed_pop_filtered (f.bus, GST_SECOND, GST_MESSAGE_ELEMENT))) {
    const GstStructure *s = gst_message_get_structure (msg);
    guint64 c = 0;
    if (GST_MESSAGE_SRC (msg) == GST_OBJECT (mon2)) {
      second++;
    } else if (gst_structure_has_name (s, "vdropmon-drop")) {
      drop_messages++;
      counted += g_value_get_uint (gst_structure_get_value (s, "count"));
    } else if (gst_structure_has_name (s, "vdropmon-drop-summary")) {
      summaries++;
      fail_unless (gst_structure_get_uint64 (s, "count", &c));
      counted += c;
      /* one per second at most: the first may come before 64 SSRCs were held back */
      max_ssrcs = MAX (max_ssrcs, g_value_get_uint (gst_structure_get_value (s, "ssrcs")));
      truncated |= g_value_get_boolean (gst_structure_get_value (s, "ssrcs-truncated"));
    }
    gst_message_unref (msg);
  }
  GST_INFO ("%" G_GUINT64_FORMAT " drop messages, %" G_GUINT64_FORMAT " summaries in %"
      G_GINT64_FORMAT " us", drop_messages, summaries, elapsed_us);
  fail_unless (drop_messages <= 400 + 200 * (elapsed_us / 1e6) + 1,
      "%" G_GUINT64_FORMAT " drop messages in %" G_GINT64_FORMAT " us", drop_messages, elapsed_us);
  fail_unless (summaries >= 1);
  fail_unless_equals_int (max_ssrcs, 64);
  fail_unless (truncated);
  fail_unless (summaries <= 2 + (guint64) elapsed_us / G_USEC_PER_SEC);
  fail_unless_equals_uint64 (counted, FLOOD_DROPS);
  fail_unless_equals_uint64 (second, 1);
  gst_object_unref (mon2);
  gst_object_unref (f.mon);
  gst_bus_set_flushing (f.bus, TRUE);
  gst_object_unref (f.bus);
}

GST_END_TEST;

typedef struct
{
  GstElement *mon;
  gint stop;
  guint reads;
} Poller;

static gpointer
poll_stats (gpointer data)
{
  Poller *p = data;

  while (!g_atomic_int_get (&p->stop)) {
    GstStructure *stats = NULL;
    g_object_get (p->mon, "stats", &stats, NULL);
    fail_unless (stats != NULL);
    gst_structure_free (stats);
    p->reads++;
  }
  return NULL;
}

/* Issue 9 #2: an application's UI timer reads stats while the element
 * stops and starts; stop() frees the event source. Stats calls the source
 * only through a reference taken under the element's lock. (The use after
 * free this guards against shows under the ASan build; here the test
 * shows stats stay readable and consistent through 100 restarts with drops
 * coming in.) */
GST_START_TEST (test_stats_while_restarting)
{
  VdmFakeHarness f;
  Poller p = { 0 };
  GThread *thread;
  guint8 wire[16];
  guint i;

  vdm_fake_harness_start (&f, "vdropmon name=mon collector=fake post-messages=false watch=" WATCH,
      H264_CAPS, NULL);
  rtp_wire (1, 0, FALSE, wire, sizeof (wire));
  p.mon = f.mon;
  thread = g_thread_new ("stats-poller", poll_stats, &p);
  for (i = 0; i < 100; i++) {
    vdm_fake_drop drop = {.watch_id = vdm_fake_harness_wait_watch (f.fake),.reason = REASON_RCVBUFF,
      .reason_name = "SOCKET_RCVBUFF",.payload = wire,.payload_len = sizeof (wire)
    };
    vdm_fake_source_inject_drop (f.fake, &drop);        /* may race the stop: -ENOENT is fine */
    fail_unless_equals_int (gst_element_set_state (f.mon, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    fail_unless (gst_element_set_state (f.mon, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  }
  g_atomic_int_set (&p.stop, 1);
  g_thread_join (thread);
  fail_unless (p.reads > 0);
  vdm_fake_harness_stop (&f);
}

GST_END_TEST;

/* Issue 9 (rtsp-reconnect): the drops of a socket's last moments came as
 * vdropmon-drop with flow "" — their batch closed after the watch was
 * released — and were missing from kernel-drops: the counters were last
 * read a stats interval before. Here a udpsrc's socket is watched, the
 * kernel (the fake) drops one of its packets, and the socket closes before
 * the batch does (batch-interval 2 s, rescans every 500 ms); stats
 * counters are never refreshed meanwhile (interval 1 h). */
GST_START_TEST (test_released_watch_keeps_flow_and_count)
{
  GstElement *pipeline = gst_parse_launch ("udpsrc name=src address=127.0.0.1 port=0 "
      "caps=\"" H264_CAPS "\" ! vdropmon name=mon collector=fake batch-interval=2000000000 "
      "interval=3600000000000 ! fakesink", NULL);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  GstElement *mon = gst_bin_get_by_name (GST_BIN (pipeline), "mon");
  vdm_fake_source *fake = vdm_fake_source_get_default ();
  GstBus *bus = gst_element_get_bus (pipeline);
  GSocketAddress *local;
  GSocket *socket = NULL;
  GstStructure *s, *stats;
  GstMessage *msg;
  gchar *expected;
  guint8 wire[32];
  vdm_fake_drop drop = {.reason = REASON_RCVBUFF,.reason_name = "SOCKET_RCVBUFF",
    .attributed_by = VDM_ATTR_SOCKET,.payload = wire,.payload_len = sizeof (wire)
  };

  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  g_object_get (src, "used-socket", &socket, NULL);
  fail_unless (socket != NULL);
  local = g_socket_get_local_address (socket, NULL);
  expected = g_strdup_printf ("udp 127.0.0.1:%u",
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)));
  g_object_unref (local);
  g_object_unref (socket);
  drop.watch_id = vdm_fake_harness_wait_watch (fake);
  rtp_wire (7, 0, FALSE, wire, sizeof (wire));
  fail_unless_equals_int (vdm_fake_source_inject_drop (fake, &drop), 0);
  vdm_fake_source_flush (fake);

  /* the socket closes: the next rescan releases its watch */
  gst_element_set_locked_state (src, TRUE);
  gst_element_set_state (src, GST_STATE_NULL);
  s = NULL;
  while (!s && (msg = gst_bus_timed_pop_filtered (bus, MESSAGE_TIMEOUT, GST_MESSAGE_ELEMENT))) {
    if (gst_structure_has_name (gst_message_get_structure (msg), "vdropmon-drop"))
      s = gst_structure_copy (gst_message_get_structure (msg));
    gst_message_unref (msg);
  }
  fail_unless (s != NULL, "no vdropmon-drop for the closed socket's drop");
  {
    vdm_fake_watch watches[4];
    fail_unless_equals_int (vdm_fake_source_list_watches (fake, watches, 4), 0);
  }
  vdm_assert_str (s, "flow", expected);
  vdm_assert_str (s, "source", "kernel-udp");
  fail_unless_equals_int (g_value_get_uint (gst_structure_get_value (s, "count")), 1);
  gst_structure_free (s);
  g_object_get (mon, "stats", &stats, NULL);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "kernel-drops"), 1);
  gst_structure_free (stats);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_element_set_state (src, GST_STATE_NULL);
  g_free (expected);
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (mon);
  gst_object_unref (pipeline);
}

GST_END_TEST;

/* Issue 9: a kernel batch whose watch the element no longer remembers —
 * released, and 64 watches released after it (RELEASED_MAX), before the
 * batch closed — has no flow to name. It must go into
 * vdropmon-drop-summary, never out as a vdropmon-drop with flow "" (or
 * another stream's). 65 udpsrc feed one vdropmon through a funnel; the
 * kernel (the fake) drops a packet of the first one watched; all 65 close
 * at once, the next rescan releases them in order, so the first is
 * forgotten before its batch (batch-interval 2 s) closes. */
#define FORGOTTEN_SOURCES 65
static guint16
udpsrc_port (GstElement * udpsrc, guint64 * cookie)
{
  GSocket *socket = NULL;
  GSocketAddress *local;
  socklen_t len = sizeof (*cookie);
  guint16 port;

  g_object_get (udpsrc, "used-socket", &socket, NULL);
  fail_unless (socket != NULL);
  local = g_socket_get_local_address (socket, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  fail_unless (getsockopt (g_socket_get_fd (socket), SOL_SOCKET, 57 /* SO_COOKIE */ , cookie,
          &len) == 0);
  g_object_unref (local);
  g_object_unref (socket);
  return port;
}

static GPtrArray *
stats_flows (GstElement * mon)
{
  GstStructure *stats = NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  const GValue *flows;
  guint i;

  g_object_get (mon, "stats", &stats, NULL);
  flows = gst_structure_get_value (stats, "flows");
  for (i = 0; flows && i < gst_value_array_get_size (flows); i++)
    g_ptr_array_add (out, g_value_dup_string (gst_value_array_get_value (flows, i)));
  gst_structure_free (stats);
  return out;
}

GST_START_TEST (test_forgotten_watch_goes_to_summary)
{
  GString *launch = g_string_new ("funnel name=f ! vdropmon name=mon collector=fake "
      "batch-interval=2000000000 interval=3600000000000 ! fakesink ");
  vdm_fake_source *fake = vdm_fake_source_get_default ();
  vdm_fake_watch watches[FORGOTTEN_SOURCES + 4];
  GstElement *pipeline, *mon, *src[FORGOTTEN_SOURCES];
  GPtrArray *flows = NULL;
  GstStructure *summary = NULL, *stats;
  GstMessage *msg;
  GstBus *bus;
  gchar *first_flow;
  guint64 cookie = 0, c, kernel_count = 0, messages = 0;
  guint8 wire[32];
  guint i, n, drop_messages = 0, tries;
  vdm_fake_drop drop = {.reason = REASON_RCVBUFF,.reason_name = "SOCKET_RCVBUFF",
    .attributed_by = VDM_ATTR_SOCKET,.payload = wire,.payload_len = sizeof (wire)
  };

  for (i = 0; i < FORGOTTEN_SOURCES; i++)
    g_string_append_printf (launch, "udpsrc name=s%u address=127.0.0.1 port=0 caps=\""
        H264_CAPS "\" ! f. ", i);
  pipeline = gst_parse_launch (launch->str, NULL);
  fail_unless (pipeline != NULL);
  mon = gst_bin_get_by_name (GST_BIN (pipeline), "mon");
  for (i = 0; i < FORGOTTEN_SOURCES; i++) {
    gchar *name = g_strdup_printf ("s%u", i);
    src[i] = gst_bin_get_by_name (GST_BIN (pipeline), name);
    g_free (name);
  }
  bus = gst_element_get_bus (pipeline);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  fail_unless (vdm_fake_source_wait_watches (fake, FORGOTTEN_SOURCES, 10000));
  for (tries = 0; tries < 100; tries++) {
    g_clear_pointer (&flows, g_ptr_array_unref);
    flows = stats_flows (mon);
    if (flows->len == FORGOTTEN_SOURCES)
      break;
    g_usleep (50000);
  }
  fail_unless_equals_int (flows->len, FORGOTTEN_SOURCES);

  /* the first watch of the element's list: released first, forgotten */
  first_flow = g_strdup (g_ptr_array_index (flows, 0));
  for (i = 0; i < FORGOTTEN_SOURCES && !cookie; i++) {
    guint64 k;
    gchar *flow = g_strdup_printf ("udp 127.0.0.1:%u", udpsrc_port (src[i], &k));
    if (g_strcmp0 (flow, first_flow) == 0)
      cookie = k;
    g_free (flow);
  }
  fail_unless (cookie != 0, "no udpsrc has the first watched flow %s", first_flow);
  n = vdm_fake_source_list_watches (fake, watches, G_N_ELEMENTS (watches));
  for (i = 0; i < n; i++)
    if (watches[i].cookie == cookie)
      drop.watch_id = watches[i].watch_id;
  fail_unless (drop.watch_id != 0);
  rtp_wire (9, 0, FALSE, wire, sizeof (wire));
  fail_unless_equals_int (vdm_fake_source_inject_drop (fake, &drop), 0);
  vdm_fake_source_flush (fake);

  /* all sockets close: the next rescan releases the 65 watches */
  for (i = 0; i < FORGOTTEN_SOURCES; i++) {
    gst_element_set_locked_state (src[i], TRUE);
    gst_element_set_state (src[i], GST_STATE_NULL);
  }
  while ((msg = gst_bus_timed_pop_filtered (bus, summary ? GST_SECOND / 2 : MESSAGE_TIMEOUT,
              GST_MESSAGE_ELEMENT))) {
    const GstStructure *s = gst_message_get_structure (msg);
    if (gst_structure_has_name (s, "vdropmon-drop")) {
      GST_ERROR ("posted: %" GST_PTR_FORMAT, s);
      drop_messages++;
    } else if (gst_structure_has_name (s, "vdropmon-drop-summary") && !summary) {
      summary = gst_structure_copy (s);
    }
    gst_message_unref (msg);
  }
  fail_unless_equals_int (drop_messages, 0);
  fail_unless (summary != NULL, "no vdropmon-drop-summary for the forgotten watch's drop");
  fail_unless (gst_structure_get_uint64 (summary, "kernel-count", &kernel_count));
  fail_unless (gst_structure_get_uint64 (summary, "messages", &messages));
  fail_unless (gst_structure_get_uint64 (summary, "count", &c));
  fail_unless_equals_uint64 (kernel_count, 1);
  fail_unless_equals_uint64 (c, 1);
  fail_unless_equals_uint64 (messages, 1);
  fail_unless_equals_int (vdm_fake_source_list_watches (fake, watches, G_N_ELEMENTS (watches)),
      0);
  g_object_get (mon, "stats", &stats, NULL);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "kernel-drops"), 1);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "drop-messages"), 1);
  gst_structure_free (stats);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  for (i = 0; i < FORGOTTEN_SOURCES; i++) {
    gst_element_set_state (src[i], GST_STATE_NULL);
    gst_object_unref (src[i]);
  }
  gst_structure_free (summary);
  g_ptr_array_unref (flows);
  g_free (first_flow);
  g_string_free (launch, TRUE);
  gst_object_unref (bus);
  gst_object_unref (mon);
  gst_object_unref (pipeline);
}

GST_END_TEST;

/* Issue 13: in `udpsrc ! vdropmon` the probe on udpsrc's pad records each
 * packet's arrival and, the pad being linked straight to the element, that
 * it passed (one header read instead of two); transform_ip then takes the
 * buffer back and records nothing. Every packet must be counted once:
 * neither twice (the probe and transform_ip both) nor not at all. */
static guint64
stat_u64 (GstElement * mon, const gchar * field)
{
  GstStructure *stats = NULL;
  guint64 value;

  g_object_get (mon, "stats", &stats, NULL);
  value = vdm_get_u64 (stats, field);
  gst_structure_free (stats);
  return value;
}

#define DIRECT_PACKETS 60

GST_START_TEST (test_udpsrc_packets_counted_once)
{
  GstElement *pipeline = gst_parse_launch ("udpsrc name=src address=127.0.0.1 port=0 "
      "caps=\"" H264_CAPS "\" ! vdropmon name=mon collector=fake ! fakesink", NULL);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  GstElement *mon = gst_bin_get_by_name (GST_BIN (pipeline), "mon");
  GSocket *socket = NULL, *sender;
  GSocketAddress *dest;
  gint64 deadline;
  guint8 wire[32];
  guint i;

  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  g_object_get (src, "used-socket", &socket, NULL);
  fail_unless (socket != NULL);
  dest = g_socket_get_local_address (socket, NULL);
  /* the watch, and with it the probe on udpsrc's pad */
  vdm_fake_harness_wait_watch (vdm_fake_source_get_default ());
  sender = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP,
      NULL);
  fail_unless (sender != NULL);
  for (i = 0; i < DIRECT_PACKETS; i++) {
    rtp_wire ((guint16) i, i / 4 * 3000, i == 0, wire, sizeof (wire));
    fail_unless_equals_int (g_socket_send_to (sender, dest, (const gchar *) wire, sizeof (wire),
            NULL, NULL), sizeof (wire));
    g_usleep (1000);            /* one at a time: no socket overflow on a busy host */
  }
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (stat_u64 (mon, "rtp-packets") < DIRECT_PACKETS && g_get_monotonic_time () < deadline)
    g_usleep (10 * 1000);
  g_usleep (200 * 1000);        /* a late second count would show by now */
  fail_unless_equals_uint64 (stat_u64 (mon, "rtp-packets"), DIRECT_PACKETS);
  fail_unless_equals_uint64 (stat_u64 (mon, "buffers"), DIRECT_PACKETS);
  fail_unless_equals_uint64 (stat_u64 (mon, "rtp-lost"), 0);
  fail_unless_equals_uint64 (stat_u64 (mon, "packets-unobserved"), 0);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_object_unref (sender);
  g_object_unref (dest);
  g_object_unref (socket);
  gst_object_unref (src);
  gst_object_unref (mon);
  gst_object_unref (pipeline);
}

GST_END_TEST;

static Suite *
fake_source_suite (void)
{
  Suite *s = suite_create ("vdropmon-fake-source");
  TCase *tc = tcase_create ("kernel-drops");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_kernel_drop_message);
  tcase_add_test (tc, test_kernel_drop_after_depayloader);
  tcase_add_test (tc, test_kernel_drops_warn_and_clear);
  tcase_add_test (tc, test_stats_from_fake_source);
  tcase_add_test (tc, test_lost_events_still_reach_the_detector);
  tcase_add_test (tc, test_lost_events_counted_before_their_drops);
  tcase_add_test (tc, test_rotating_ssrcs_bounded);
  tcase_add_test (tc, test_stats_while_restarting);
  tcase_add_test (tc, test_released_watch_keeps_flow_and_count);
  tcase_add_test (tc, test_forgotten_watch_goes_to_summary);
  tcase_add_test (tc, test_udpsrc_packets_counted_once);
  return s;
}

GST_CHECK_MAIN (fake_source);
