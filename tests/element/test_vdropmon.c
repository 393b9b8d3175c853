/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_vdropmon.c — the vdropmon element seen from outside: a GstHarness
 * pushes buffers and events, the tests read what comes out, the `stats`
 * property and the messages on a bus of their own.
 *
 * Almost every test runs with collector=none, so that it needs no privilege
 * and sees the userspace signal (RTP sequence gaps) the element reports
 * without eBPF. The collector=auto tests pass as root and not root; one of
 * them clears this thread's effective capabilities to take the no-eBPF path
 * even as root. VDROPMON_REQUIRE_BPF=1 makes test_collector_auto fail when
 * eBPF does not load.
 *
 * Messages come from the element's worker thread in real time, so the tests
 * wait for them with timeouts on the bus; batch-interval is kept small
 * where the test does not measure batching.
 *
 * The "fixed-bugs" tcase keeps the tests of element bugs found here and
 * fixed since, as regression tests.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/allocators/gstfdmemory.h>
#include <gst/rtp/gstrtpbuffer.h>
#include <gio/gio.h>

#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <glib/gstdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "structure_fields.h"

#define H264_CAPS "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"
#define H264_CAPS_NO_RATE "application/x-rtp,media=video,encoding-name=H264,payload=96"
#define SSRC 0x11223344u
#define PT 96
#define FRAME_TICKS 3000        /* 30 fps at 90 kHz */
#define MESSAGE_TIMEOUT (2 * GST_SECOND)
#define QUIET_PERIOD (150 * GST_MSECOND)

/* FU-A fragments (RFC 6184 5.8): FU indicator (NRI 3, type 28), FU header
 * (S/E bits, NAL type 5 = IDR slice, 1 = non-IDR slice). */
typedef enum
{
  FRAG_START,
  FRAG_MIDDLE,
  FRAG_END,
} Fragment;

/* ------------------------------------------------------------------------ */
/* Harness and bus.                                                          */

/* Sets "name", "value" string pairs, as gst-launch would. */
static void
set_properties_valist (GstElement * element, const gchar * first, va_list args)
{
  const gchar *name;

  for (name = first; name; name = va_arg (args, const gchar *))
    gst_util_set_object_arg (G_OBJECT (element), name, va_arg (args, const gchar *));
}

static GstElement *
vdropmon_new (GstBus * bus, const gchar * first, ...)
{
  GstElement *element = gst_element_factory_make ("vdropmon", NULL);
  va_list args;

  fail_unless (element != NULL, "no vdropmon element: is GST_PLUGIN_PATH set?");
  va_start (args, first);
  set_properties_valist (element, first, args);
  va_end (args);
  /* Before the harness starts it: start() may already post a warning. */
  gst_element_set_bus (element, bus);
  return element;
}

/* A started vdropmon with collector=none, no stats messages and a short
 * batch interval, then the properties given. */
static GstHarness *
harness_new (GstBus * bus, const gchar * first, ...)
{
  GstElement *element = vdropmon_new (bus, "collector", "none", "post-messages", "false",
      "batch-interval", "5000000", NULL);
  GstHarness *h;
  va_list args;

  va_start (args, first);
  set_properties_valist (element, first, args);
  va_end (args);
  h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  return h;
}

static void
bus_free (GstBus * bus)
{
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}

static gint64
deadline_after (GstClockTime timeout)
{
  return g_get_monotonic_time () + (gint64) (timeout / GST_USECOND);
}

static GstClockTime
time_left (gint64 deadline)
{
  gint64 left = deadline - g_get_monotonic_time ();
  return left > 0 ? (GstClockTime) left * GST_USECOND : 0;
}

/* The next element message called `name` (others are dropped), as a
 * structure the caller frees; NULL after timeout. */
static GstStructure *
wait_element_message (GstBus * bus, const gchar * name, GstClockTime timeout)
{
  gint64 deadline = deadline_after (timeout);
  GstMessage *msg;

  while ((msg = gst_bus_timed_pop_filtered (bus, time_left (deadline), GST_MESSAGE_ELEMENT))) {
    if (gst_message_has_name (msg, name)) {
      GstStructure *s = gst_structure_copy (gst_message_get_structure (msg));
      gst_message_unref (msg);
      return s;
    }
    gst_message_unref (msg);
  }
  return NULL;
}

static void
expect_element_message (GstBus * bus, const gchar * name, GstClockTime timeout)
{
  GstStructure *s = wait_element_message (bus, name, timeout);

  fail_unless (s != NULL, "no %s message", name);
  gst_structure_free (s);
}

static void
expect_no_element_message (GstBus * bus, const gchar * name, GstClockTime period,
    const gchar * why)
{
  GstStructure *s = wait_element_message (bus, name, period);

  fail_unless (s == NULL, "%s: %s", why, gst_structure_to_string (s));
}

/* How many messages of `type` (and, for element messages, `name`) arrive
 * within `period`. */
static guint
count_messages (GstBus * bus, GstMessageType type, const gchar * name, GstClockTime period)
{
  gint64 deadline = deadline_after (period);
  GstMessage *msg;
  guint n = 0;

  while ((msg = gst_bus_timed_pop_filtered (bus, time_left (deadline), type))) {
    if (!name || gst_message_has_name (msg, name))
      n++;
    gst_message_unref (msg);
  }
  return n;
}

/* ------------------------------------------------------------------------ */
/* Buffers.                                                                  */

static void
write_fu_a (guint8 * payload, guint len, gboolean idr, Fragment fragment)
{
  static const guint8 start_end_bits[] = {[FRAG_START] = 0x80,[FRAG_MIDDLE] = 0,[FRAG_END] = 0x40 };
  guint i;

  payload[0] = (3 << 5) | 28;
  payload[1] = start_end_bits[fragment] | (idr ? 5 : 1);
  for (i = 2; i < len; i++)
    payload[i] = (guint8) (i * 7);
}

/* As a payloader makes it: header and payload may be separate memories. */
static GstBuffer *
rtp_packet_payloaded (guint32 ssrc, guint16 seq, guint32 ts, GstClockTime pts, gboolean idr,
    Fragment fragment, guint payload_len)
{
  GstBuffer *buf = gst_rtp_buffer_new_allocate (payload_len, 0, 0);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;

  fail_unless (gst_rtp_buffer_map (buf, GST_MAP_WRITE, &rtp));
  gst_rtp_buffer_set_payload_type (&rtp, PT);
  gst_rtp_buffer_set_ssrc (&rtp, ssrc);
  gst_rtp_buffer_set_seq (&rtp, seq);
  gst_rtp_buffer_set_timestamp (&rtp, ts);
  gst_rtp_buffer_set_marker (&rtp, fragment == FRAG_END);
  write_fu_a (gst_rtp_buffer_get_payload (&rtp), payload_len, idr, fragment);
  gst_rtp_buffer_unmap (&rtp);
  GST_BUFFER_PTS (buf) = pts;
  return buf;
}

/* As udpsrc makes it: one memory per datagram. */
static GstBuffer *
rtp_packet_full (guint32 ssrc, guint16 seq, guint32 ts, GstClockTime pts, gboolean idr,
    Fragment fragment, guint payload_len)
{
  GstBuffer *payloaded = rtp_packet_payloaded (ssrc, seq, ts, pts, idr, fragment, payload_len);
  gsize size = gst_buffer_get_size (payloaded);
  gpointer data = NULL;
  GstBuffer *buf;

  gst_buffer_extract_dup (payloaded, 0, size, &data, &size);
  buf = gst_buffer_new_wrapped (data, size);
  GST_BUFFER_PTS (buf) = pts;
  gst_buffer_unref (payloaded);
  return buf;
}

/* A middle fragment of a non-IDR frame: the common case. */
static GstBuffer *
rtp_packet (guint32 ssrc, guint16 seq, guint32 ts, GstClockTime pts)
{
  return rtp_packet_full (ssrc, seq, ts, pts, FALSE, FRAG_MIDDLE, 100);
}

static GstBuffer *
buffer_from_bytes (const guint8 * data, gsize size)
{
  return gst_buffer_new_memdup (data, size);
}

/* Pushes and checks that the very same buffer came out. */
static void
push_through (GstHarness * h, GstBuffer * buf)
{
  GstBuffer *out;

  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  out = gst_harness_try_pull (h);
  fail_unless (out != NULL, "the buffer did not come out");
  fail_unless (out == buf, "a passthrough element must push the buffer it got");
  gst_buffer_unref (out);
}

static void
push_seq (GstHarness * h, guint32 ssrc, guint16 seq)
{
  push_through (h, rtp_packet (ssrc, seq, 1000u + seq * FRAME_TICKS, seq * 33 * GST_MSECOND));
}

/* A new stream after the element's pads were deactivated. */
static void
restart_stream (GstHarness * h, const gchar * caps, guint n)
{
  gchar *stream_id = g_strdup_printf ("vdropmon-test-%u", n);
  GstCaps *c = gst_caps_from_string (caps);
  GstSegment segment;

  fail_unless (gst_harness_push_event (h, gst_event_new_stream_start (stream_id)));
  g_free (stream_id);
  fail_unless (gst_harness_push_event (h, gst_event_new_caps (c)));
  gst_caps_unref (c);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
}

/* ------------------------------------------------------------------------ */
/* Structures.                                                               */

static GstStructure *
get_stats (GstHarness * h)
{
  GstStructure *s = NULL;

  g_object_get (h->element, "stats", &s, NULL);
  fail_unless (s != NULL);
  return s;
}

typedef struct
{
  const gchar *name;
  GType type;
} Field;

/* Every documented field with its type, and nothing else: the field names
 * are a public API. (Failure messages leak their strings: the test ends.) */
static void
assert_fields (const GstStructure * s, const Field * fields, guint n_fields)
{
  guint i;

  for (i = 0; i < n_fields; i++) {
    fail_unless (gst_structure_has_field_typed (s, fields[i].name, fields[i].type),
        "field %s of type %s missing in %s", fields[i].name,
        g_type_name (fields[i].type), gst_structure_to_string (s));
  }
  fail_unless_equals_int (gst_structure_n_fields (s), n_fields);
}

static void
assert_drop_fields (const GstStructure * s)
{
  const Field fields[] = {
    {"source", G_TYPE_STRING}, {"reason", G_TYPE_STRING}, {"reason-code", G_TYPE_UINT},
    {"count", G_TYPE_UINT}, {"kernel-time", G_TYPE_UINT64}, {"kernel-time-last", G_TYPE_UINT64},
    {"running-time", G_TYPE_UINT64}, {"pts", G_TYPE_UINT64}, {"pts-last", G_TYPE_UINT64},
    {"rtp-seq-first", G_TYPE_INT}, {"rtp-seq-last", G_TYPE_INT}, {"rtp-seqs", GST_TYPE_ARRAY},
    {"rtp-seqs-truncated", G_TYPE_BOOLEAN}, {"frames", G_TYPE_UINT}, {"ssrc", G_TYPE_UINT},
    {"payload-type", G_TYPE_INT}, {"keyframe", G_TYPE_BOOLEAN}, {"flow", G_TYPE_STRING},
    {"attribution", G_TYPE_STRING}, {"events-lost", G_TYPE_UINT64},
  };
  const GValue *seqs;
  guint i;

  fail_unless (gst_structure_has_name (s, "vdropmon-drop"));
  assert_fields (s, fields, G_N_ELEMENTS (fields));
  seqs = gst_structure_get_value (s, "rtp-seqs");
  for (i = 0; i < gst_value_array_get_size (seqs); i++)
    fail_unless (G_VALUE_HOLDS_UINT (gst_value_array_get_value (seqs, i)));
}

static void
assert_stats_fields (const GstStructure * s, const gchar * name)
{
  const Field fields[] = {
    {"collector", G_TYPE_STRING}, {"collector-status", G_TYPE_STRING},
    {"collector-skipped", G_TYPE_STRING}, {"flows", GST_TYPE_ARRAY},
    {"kernel-drops", G_TYPE_UINT64}, {"reasons", GST_TYPE_STRUCTURE},
    {"events-lost", G_TYPE_UINT64}, {"buffers", G_TYPE_UINT64}, {"rtp-packets", G_TYPE_UINT64},
    {"rtp-lost", G_TYPE_UINT64}, {"rtp-reordered", G_TYPE_UINT64},
    {"rtp-duplicates", G_TYPE_UINT64}, {"queue-fill-peak", G_TYPE_DOUBLE},
    {"drop-messages", G_TYPE_UINT64}, {"loss-fraction", G_TYPE_DOUBLE},
    {"jitter", G_TYPE_DOUBLE}, {"fid", G_TYPE_DOUBLE}, {"fid-max", G_TYPE_DOUBLE},
    {"bitrate", G_TYPE_DOUBLE}, {"warnings", G_TYPE_UINT64},
    {"keyframe-requests-sent", G_TYPE_UINT64}, {"keyframe-requests-seen", G_TYPE_UINT64},
    {"detector-state", G_TYPE_STRING}, {"ewma", G_TYPE_DOUBLE}, {"baseline", G_TYPE_DOUBLE},
    {"lag", G_TYPE_DOUBLE}, {"runway", G_TYPE_DOUBLE},
    {"queue-delay", G_TYPE_DOUBLE}, {"trend", G_TYPE_DOUBLE}, {"path-usage", G_TYPE_STRING},
    {"stall-threshold", G_TYPE_DOUBLE}, {"reader-stalls", G_TYPE_UINT64},
    {"packets-unobserved", G_TYPE_UINT64},
  };
  const GValue *flows = gst_structure_get_value (s, "flows");
  const GstStructure *reasons;
  gdouble peak;
  guint i;

  fail_unless (gst_structure_has_name (s, name), "%s is not %s",
      gst_structure_to_string (s), name);
  assert_fields (s, fields, G_N_ELEMENTS (fields));
  for (i = 0; i < gst_value_array_get_size (flows); i++)
    fail_unless (G_VALUE_HOLDS_STRING (gst_value_array_get_value (flows, i)));
  reasons = gst_value_get_structure (gst_structure_get_value (s, "reasons"));
  fail_unless (gst_structure_has_name (reasons, "reasons"));
  for (i = 0; i < (guint) gst_structure_n_fields (reasons); i++)
    fail_unless (gst_structure_has_field_typed (reasons, gst_structure_nth_field_name (reasons, i),
            G_TYPE_UINT64));
  fail_unless (gst_structure_get_double (s, "queue-fill-peak", &peak));
  fail_unless (peak == -1.0 || (peak >= 0.0 && peak <= 1.1), "queue-fill-peak %f", peak);
  fail_unless (g_strv_contains ((const gchar *[]) {"normal", "warning", "critical", NULL},
          vdm_get_str (s, "detector-state")));
}

static guint
seq_at (const GstStructure * s, guint i)
{
  return g_value_get_uint (gst_value_array_get_value (gst_structure_get_value (s, "rtp-seqs"), i));
}

static guint
n_seqs (const GstStructure * s)
{
  return gst_value_array_get_size (gst_structure_get_value (s, "rtp-seqs"));
}

/* Drop messages until their counts add up to `expected` (or time runs
 * out), then a quiet period to catch any extra one. Returns them. */
static GPtrArray *
collect_drops (GstBus * bus, guint64 expected, GstClockTime timeout)
{
  GPtrArray *drops = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  gint64 deadline = deadline_after (timeout);
  guint64 total = 0;
  GstStructure *s;

  while (total < expected
      && (s = wait_element_message (bus, "vdropmon-drop", time_left (deadline)))) {
    assert_drop_fields (s);
    total += vdm_get_uint (s, "count");
    g_ptr_array_add (drops, s);
  }
  while ((s = wait_element_message (bus, "vdropmon-drop", QUIET_PERIOD)))
    g_ptr_array_add (drops, s);
  return drops;
}

static guint64
sum_counts (GPtrArray * drops)
{
  guint64 total = 0;
  guint i;

  for (i = 0; i < drops->len; i++)
    total += vdm_get_uint (g_ptr_array_index (drops, i), "count");
  return total;
}

/* drop-messages counts a report when the worker takes it, before the
 * message is posted: once the message is on the bus, stats say so. */
static void
assert_drop_messages_stat (GstHarness * h, guint64 expected)
{
  GstStructure *stats = get_stats (h);

  fail_unless_equals_uint64 (vdm_get_u64 (stats, "drop-messages"), expected);
  gst_structure_free (stats);
}

/* ------------------------------------------------------------------------ */
/* Passthrough.                                                              */

static void
assert_untouched_passthrough (GstHarness * h, GstBuffer * buf)
{
  GstMemory *mems[16];
  guint n_mem = gst_buffer_n_memory (buf), i;
  GstClockTime pts = GST_BUFFER_PTS (buf);
  gsize size = gst_buffer_get_size (buf);
  gpointer before = NULL, after;
  GstBuffer *out;

  fail_unless (n_mem <= G_N_ELEMENTS (mems));
  for (i = 0; i < n_mem; i++)
    mems[i] = gst_buffer_peek_memory (buf, i);
  gst_buffer_extract_dup (buf, 0, size, &before, &size);

  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless (out == buf, "passthrough must push the very buffer it got");
  fail_unless_equals_int (gst_buffer_n_memory (out), n_mem);
  for (i = 0; i < n_mem; i++)
    fail_unless (gst_buffer_peek_memory (out, i) == mems[i], "memory %u was replaced (a copy)", i);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), pts);
  fail_unless_equals_int (gst_buffer_get_size (out), size);
  after = g_malloc (size);
  gst_buffer_extract (out, 0, after, size);
  fail_unless (memcmp (before, after, size) == 0, "the data changed");
  g_free (before);
  g_free (after);
  gst_buffer_unref (out);
}

GST_START_TEST (test_passthrough_any_caps)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, NULL);
  GstStructure *stats;
  guint i;

  /* Caps that are not RTP (the templates are ANY). RTP bytes under
   * non-RTP caps must not be parsed as RTP. */
  gst_harness_set_src_caps_str (h, "application/octet-stream");
  for (i = 0; i < 5; i++)
    assert_untouched_passthrough (h, rtp_packet (SSRC, i, 0, i * GST_MSECOND));
  gst_harness_set_src_caps_str (h, "video/x-h264,stream-format=byte-stream,alignment=au");
  for (i = 0; i < 5; i++)
    assert_untouched_passthrough (h, rtp_packet (SSRC, 10 + 5 * i, 0, GST_CLOCK_TIME_NONE));

  stats = get_stats (h);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "buffers"), 10);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "rtp-packets"), 0);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "rtp-lost"), 0);
  gst_structure_free (stats);
  expect_no_element_message (bus, "vdropmon-drop", QUIET_PERIOD, "unexpected message");

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

GST_START_TEST (test_passthrough_rtp)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, NULL);
  GstStructure *stats;
  guint i;

  gst_harness_set_src_caps_str (h, H264_CAPS);
  /* 25 frames of 4 packets, the first one IDR, seqs wrapping at 65536. */
  for (i = 0; i < 100; i++) {
    Fragment fragment = i % 4 == 0 ? FRAG_START : i % 4 == 3 ? FRAG_END : FRAG_MIDDLE;
    assert_untouched_passthrough (h, rtp_packet_full (SSRC, 65500 + i, i / 4 * FRAME_TICKS,
            i / 4 * 33 * GST_MSECOND, i < 4, fragment, 1188));
  }

  stats = get_stats (h);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "buffers"), 100);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "rtp-packets"), 100);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "rtp-lost"), 0);
  gst_structure_free (stats);
  expect_no_element_message (bus, "vdropmon-drop", QUIET_PERIOD, "unexpected message");

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* RTP sequence gaps.                                                        */

static void
check_single_gap (const gchar * caps)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, NULL);
  guint64 before, after;
  GstStructure *s, *stats;

  gst_harness_set_src_caps_str (h, caps);
  before = g_get_monotonic_time () * 1000;
  push_seq (h, SSRC, 100);
  push_seq (h, SSRC, 101);
  push_seq (h, SSRC, 102);
  push_seq (h, SSRC, 105);      /* 103 and 104 lost */
  after = g_get_monotonic_time () * 1000 + 1000;

  s = wait_element_message (bus, "vdropmon-drop", MESSAGE_TIMEOUT);
  fail_unless (s != NULL, "no vdropmon-drop for an RTP sequence gap");
  assert_drop_fields (s);
  assert_equals_string (vdm_get_str (s, "source"), "rtp-gap");
  assert_equals_string (vdm_get_str (s, "reason"), "RTP_SEQ_GAP");
  fail_unless_equals_int (vdm_get_uint (s, "reason-code"), 0);
  fail_unless_equals_int (vdm_get_uint (s, "count"), 2);
  fail_unless_equals_int (vdm_get_int (s, "rtp-seq-first"), 103);
  fail_unless_equals_int (vdm_get_int (s, "rtp-seq-last"), 104);
  fail_unless_equals_int (n_seqs (s), 2);
  fail_unless_equals_int (seq_at (s, 0), 103);
  fail_unless_equals_int (seq_at (s, 1), 104);
  fail_unless (!vdm_get_bool (s, "rtp-seqs-truncated"));
  fail_unless_equals_int (vdm_get_uint (s, "ssrc"), SSRC);
  fail_unless_equals_int (vdm_get_int (s, "payload-type"), PT);
  fail_unless (!vdm_get_bool (s, "keyframe"), "no keyframe was hit");
  assert_equals_string (vdm_get_str (s, "attribution"), "userspace");
  assert_equals_string (vdm_get_str (s, "flow"), "");
  fail_unless_equals_uint64 (vdm_get_u64 (s, "events-lost"), 0);
  /* The gap is seen when 105 arrives: the frame of 105 is the damaged one. */
  fail_unless_equals_int (vdm_get_uint (s, "frames"), 1);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "pts"), 105 * 33 * GST_MSECOND);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "pts-last"), 105 * 33 * GST_MSECOND);
  /* CLOCK_MONOTONIC of the arrival that revealed the gap. */
  fail_unless (vdm_get_u64 (s, "kernel-time") >= before && vdm_get_u64 (s, "kernel-time") <= after,
      "kernel-time %" G_GUINT64_FORMAT " not in [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "]",
      vdm_get_u64 (s, "kernel-time"), before, after);
  fail_unless (vdm_get_u64 (s, "kernel-time-last") >= vdm_get_u64 (s, "kernel-time"));
  /* No pipeline clock in a bare harness: no running time. */
  fail_unless_equals_uint64 (vdm_get_u64 (s, "running-time"), GST_CLOCK_TIME_NONE);
  gst_structure_free (s);
  expect_no_element_message (bus, "vdropmon-drop", QUIET_PERIOD, "unexpected message");

  stats = get_stats (h);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "rtp-packets"), 4);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "rtp-lost"), 2);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "drop-messages"), 1);
  gst_structure_free (stats);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_START_TEST (test_gap_with_clock_rate)
{
  check_single_gap (H264_CAPS);
}

GST_END_TEST;

GST_START_TEST (test_gap_without_clock_rate)
{
  check_single_gap (H264_CAPS_NO_RATE);
}

GST_END_TEST;

/* The streaming thread hands packets to the worker through a ring, without
 * the lock (issue 13), and wakes it at a sequence break: a gap is posted one
 * batch-interval (5 ms here) after the packet that revealed it, not at the
 * worker's next planned round (here the 500 ms rescan: detector bins of 10 s,
 * stats every 60 s). Ten gaps, none may take 300 ms; without the wake each
 * would wait 0-500 ms, and all ten would come in time with a probability of
 * 0.6^10 (0.6 %). */
GST_START_TEST (test_gap_posted_without_waiting_for_a_round)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, "interval", "60000000000", "bin-duration", "10000000000",
      NULL);
  guint16 seq = 100;
  guint i;

  gst_harness_set_src_caps_str (h, H264_CAPS);
  push_seq (h, SSRC, seq++);
  for (i = 0; i < 10; i++) {
    gint64 pushed, latency_us;
    GstStructure *s;

    g_usleep (30 * G_TIME_SPAN_MILLISECOND);
    seq++;                      /* one lost */
    pushed = g_get_monotonic_time ();
    push_seq (h, SSRC, seq++);
    s = wait_element_message (bus, "vdropmon-drop", MESSAGE_TIMEOUT);
    latency_us = g_get_monotonic_time () - pushed;
    fail_unless (s != NULL, "gap %u: no vdropmon-drop", i);
    fail_unless_equals_int (vdm_get_int (s, "rtp-seq-first"), seq - 2);
    gst_structure_free (s);
    fail_unless (latency_us < 300 * G_TIME_SPAN_MILLISECOND,
        "gap %u posted %" G_GINT64_FORMAT " ms after the packet that revealed it", i,
        latency_us / 1000);
  }
  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

GST_START_TEST (test_gap_running_time)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, NULL);
  GstClock *clock = gst_system_clock_obtain ();
  GstClockTime base_time;
  GstStructure *s;
  gint64 expected, diff;

  /* The system clock is CLOCK_MONOTONIC, the time base of kernel-time:
   * running time must be kernel-time - base time. */
  g_object_set (clock, "clock-type", GST_CLOCK_TYPE_MONOTONIC, NULL);
  gst_harness_use_systemclock (h);
  base_time = gst_clock_get_time (clock) - 5 * GST_SECOND;
  gst_element_set_base_time (h->element, base_time);
  gst_harness_set_src_caps_str (h, H264_CAPS);
  push_seq (h, SSRC, 1);
  push_seq (h, SSRC, 3);

  s = wait_element_message (bus, "vdropmon-drop", MESSAGE_TIMEOUT);
  fail_unless (s != NULL);
  expected = (gint64) (vdm_get_u64 (s, "kernel-time") - base_time);
  diff = (gint64) vdm_get_u64 (s, "running-time") - expected;
  /* Loose: the element samples both clocks from a thread that may be
   * preempted on a loaded machine. */
  fail_unless (ABS (diff) < 20 * GST_MSECOND, "running-time %" G_GUINT64_FORMAT
      " but kernel-time - base-time %" G_GINT64_FORMAT, vdm_get_u64 (s, "running-time"), expected);
  gst_structure_free (s);

  gst_object_unref (clock);
  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

/* An rtp-gap message places the gap in its stream: the payload type of the
 * stream, and the PTS of the frame the missing packets belong to (here the
 * packets before and after the gap are of one frame, so there is no doubt). */
GST_START_TEST (test_gap_frame_fields)
{
  const GstClockTime pts = 7 * GST_SECOND;
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, NULL);
  GstStructure *s;

  gst_harness_set_src_caps_str (h, H264_CAPS);
  push_through (h, rtp_packet_full (SSRC, 10, 123456789, pts, FALSE, FRAG_START, 1188));
  /* 11, 12 lost */
  push_through (h, rtp_packet_full (SSRC, 13, 123456789, pts, FALSE, FRAG_END, 1188));
  s = wait_element_message (bus, "vdropmon-drop", MESSAGE_TIMEOUT);
  fail_unless (s != NULL);
  fail_unless_equals_int (vdm_get_uint (s, "count"), 2);
  fail_unless_equals_int (vdm_get_int (s, "payload-type"), PT);
  fail_unless_equals_int (vdm_get_uint (s, "frames"), 1);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "pts"), pts);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "pts-last"), pts);
  gst_structure_free (s);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

/* The frame of the gap is known to be a keyframe (fragments of it that
 * passed carried an IDR NAL): keyframe is TRUE. The same gap in a non-IDR
 * frame: FALSE. The element takes the frame of the packet after the gap. */
GST_START_TEST (test_gap_keyframe_flag)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, NULL);
  const GstClockTime pts_idr = GST_SECOND, pts_p = GST_SECOND + 33 * GST_MSECOND;
  GstStructure *s;

  gst_harness_set_src_caps_str (h, H264_CAPS);
  push_through (h, rtp_packet_full (SSRC, 10, 90000, pts_idr, TRUE, FRAG_START, 1188));
  push_through (h, rtp_packet_full (SSRC, 11, 90000, pts_idr, TRUE, FRAG_MIDDLE, 1188));
  /* 12 and 13 lost */
  push_through (h, rtp_packet_full (SSRC, 14, 90000, pts_idr, TRUE, FRAG_END, 1188));
  s = wait_element_message (bus, "vdropmon-drop", MESSAGE_TIMEOUT);
  fail_unless (s != NULL);
  fail_unless_equals_int (vdm_get_uint (s, "count"), 2);
  fail_unless (vdm_get_bool (s, "keyframe"), "a gap inside an IDR frame must say keyframe");
  fail_unless_equals_uint64 (vdm_get_u64 (s, "pts"), pts_idr);
  gst_structure_free (s);

  push_through (h, rtp_packet_full (SSRC, 15, 93000, pts_p, FALSE, FRAG_START, 1188));
  /* 16 lost */
  push_through (h, rtp_packet_full (SSRC, 17, 93000, pts_p, FALSE, FRAG_END, 1188));
  s = wait_element_message (bus, "vdropmon-drop", MESSAGE_TIMEOUT);
  fail_unless (s != NULL);
  fail_unless_equals_int (vdm_get_uint (s, "count"), 1);
  fail_unless_equals_int (vdm_get_int (s, "rtp-seq-first"), 16);
  fail_unless (!vdm_get_bool (s, "keyframe"), "a gap in a P frame is not a keyframe loss");
  fail_unless_equals_uint64 (vdm_get_u64 (s, "pts"), pts_p);
  gst_structure_free (s);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

/* Many gaps within one batch-interval make few messages whose counts add
 * up; the seq list stops at 64 and says so. */
GST_START_TEST (test_gap_batching)
{
  const guint n_gaps = 200;
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, "batch-interval", "500000000", NULL);
  GstStructure *first_drop, *last_drop, *stats;
  GPtrArray *drops;
  guint16 seq = 1000;
  guint i;

  gst_harness_set_src_caps_str (h, H264_CAPS);
  push_seq (h, SSRC, seq);
  for (i = 0; i < n_gaps; i++) {
    seq += 2;                   /* one lost each time */
    push_seq (h, SSRC, seq);
  }

  drops = collect_drops (bus, n_gaps, 3 * GST_SECOND);
  fail_unless_equals_uint64 (sum_counts (drops), n_gaps);
  fail_unless (drops->len <= 3, "%u messages for gaps within one batch interval", drops->len);
  first_drop = g_ptr_array_index (drops, 0);
  last_drop = g_ptr_array_index (drops, drops->len - 1);
  fail_unless_equals_int (vdm_get_int (first_drop, "rtp-seq-first"), 1001);
  fail_unless_equals_int (vdm_get_int (last_drop, "rtp-seq-last"), seq - 1);
  if (vdm_get_uint (first_drop, "count") > 64) {
    fail_unless (vdm_get_bool (first_drop, "rtp-seqs-truncated"));
    fail_unless_equals_int (n_seqs (first_drop), 64);
  }
  for (i = 0; i < n_seqs (first_drop); i++)
    fail_unless_equals_int (seq_at (first_drop, i), 1001 + 2 * i);
  fail_unless (vdm_get_uint (first_drop, "frames") >= 1 && vdm_get_uint (first_drop, "frames") <= 16);

  stats = get_stats (h);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "rtp-lost"), n_gaps);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "rtp-packets"), n_gaps + 1);
  gst_structure_free (stats);
  assert_drop_messages_stat (h, drops->len);

  g_ptr_array_unref (drops);
  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

/* Batches are per SSRC. */
GST_START_TEST (test_gap_two_ssrcs)
{
  const guint32 other = 0xcafe0001;
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, "batch-interval", "300000000", NULL);
  GPtrArray *drops;
  guint i, seen = 0;

  gst_harness_set_src_caps_str (h, H264_CAPS);
  push_seq (h, SSRC, 1);
  push_seq (h, other, 500);
  push_seq (h, SSRC, 4);        /* 2, 3 */
  push_seq (h, other, 501);
  push_seq (h, other, 505);     /* 502..504 */
  push_seq (h, SSRC, 5);

  drops = collect_drops (bus, 5, 3 * GST_SECOND);
  fail_unless_equals_int (drops->len, 2);
  for (i = 0; i < drops->len; i++) {
    const GstStructure *s = g_ptr_array_index (drops, i);
    if (vdm_get_uint (s, "ssrc") == SSRC) {
      fail_unless_equals_int (vdm_get_uint (s, "count"), 2);
      fail_unless_equals_int (vdm_get_int (s, "rtp-seq-first"), 2);
      seen |= 1;
    } else {
      fail_unless_equals_int (vdm_get_uint (s, "ssrc"), other);
      fail_unless_equals_int (vdm_get_uint (s, "count"), 3);
      fail_unless_equals_int (vdm_get_int (s, "rtp-seq-first"), 502);
      fail_unless_equals_int (vdm_get_int (s, "rtp-seq-last"), 504);
      seen |= 2;
    }
  }
  fail_unless_equals_int (seen, 3);

  g_ptr_array_unref (drops);
  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

GST_START_TEST (test_seq_wrap_is_not_a_gap)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, NULL);
  GstStructure *stats, *s;
  guint16 seq;

  gst_harness_set_src_caps_str (h, H264_CAPS);
  for (seq = 65530; seq != 6; seq++)
    push_seq (h, SSRC, seq);
  expect_no_element_message (bus, "vdropmon-drop", QUIET_PERIOD,
        "65535 -> 0 is the next packet, not a gap");
  stats = get_stats (h);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "rtp-lost"), 0);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "rtp-packets"), 12);
  gst_structure_free (stats);

  /* Still counting right after the wrap. */
  push_seq (h, SSRC, 8);
  s = wait_element_message (bus, "vdropmon-drop", MESSAGE_TIMEOUT);
  fail_unless (s != NULL);
  fail_unless_equals_int (vdm_get_int (s, "rtp-seq-first"), 6);
  fail_unless_equals_int (vdm_get_uint (s, "count"), 2);
  gst_structure_free (s);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

GST_START_TEST (test_seq_gap_across_wrap)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, NULL);
  GstStructure *s;

  gst_harness_set_src_caps_str (h, H264_CAPS);
  push_seq (h, SSRC, 65534);
  push_seq (h, SSRC, 2);        /* 65535, 0, 1 lost */
  s = wait_element_message (bus, "vdropmon-drop", MESSAGE_TIMEOUT);
  fail_unless (s != NULL);
  fail_unless_equals_int (vdm_get_uint (s, "count"), 3);
  fail_unless_equals_int (vdm_get_int (s, "rtp-seq-first"), 65535);
  fail_unless_equals_int (vdm_get_int (s, "rtp-seq-last"), 1);
  fail_unless_equals_int (n_seqs (s), 3);
  fail_unless_equals_int (seq_at (s, 0), 65535);
  fail_unless_equals_int (seq_at (s, 1), 0);
  fail_unless_equals_int (seq_at (s, 2), 1);
  gst_structure_free (s);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Events and state.                                                         */

/* After a flush the stream may restart anywhere: no gap across it. */
GST_START_TEST (test_flush)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, NULL);
  GstSegment segment;
  GstStructure *stats;

  gst_harness_set_src_caps_str (h, H264_CAPS);
  push_seq (h, SSRC, 10);
  push_seq (h, SSRC, 11);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless_equals_int (gst_harness_push (h, rtp_packet (SSRC, 12, 0, 0)), GST_FLOW_FLUSHING);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  push_seq (h, SSRC, 900);
  push_seq (h, SSRC, 901);
  expect_no_element_message (bus, "vdropmon-drop", QUIET_PERIOD,
        "a seq jump across a flush is not a loss");

  stats = get_stats (h);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "buffers"), 4);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "rtp-lost"), 0);
  gst_structure_free (stats);

  /* Gaps after the flush are still found. */
  push_seq (h, SSRC, 903);
  expect_element_message (bus, "vdropmon-drop", MESSAGE_TIMEOUT);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

/* EOS closes the open batches at once instead of after batch-interval, and
 * goes on downstream. */
GST_START_TEST (test_eos_flushes_batches)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, "batch-interval", "8000000000", NULL);
  GstStructure *s;
  GstEvent *event;
  gboolean eos = FALSE;

  gst_harness_set_src_caps_str (h, H264_CAPS);
  push_seq (h, SSRC, 1);
  push_seq (h, SSRC, 3);
  expect_no_element_message (bus, "vdropmon-drop", QUIET_PERIOD,
        "the batch closed before its interval");
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  s = wait_element_message (bus, "vdropmon-drop", MESSAGE_TIMEOUT);
  fail_unless (s != NULL, "EOS did not flush the open batch");
  fail_unless_equals_int (vdm_get_uint (s, "count"), 1);
  gst_structure_free (s);

  while ((event = gst_harness_try_pull_event (h))) {
    eos |= GST_EVENT_TYPE (event) == GST_EVENT_EOS;
    gst_event_unref (event);
  }
  fail_unless (eos, "EOS did not go downstream");

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

static void
set_state_checked (GstElement * element, GstState state)
{
  fail_unless_equals_int (gst_element_set_state (element, state), GST_STATE_CHANGE_SUCCESS);
}

GST_START_TEST (test_state_changes_without_data)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, "post-messages", "true", "interval", "10000000", NULL);
  guint i;

  for (i = 0; i < 50; i++) {
    set_state_checked (h->element, GST_STATE_NULL);
    set_state_checked (h->element, GST_STATE_PLAYING);
  }
  /* Same with READY <-> PLAYING, the start/stop boundary. */
  for (i = 0; i < 50; i++) {
    set_state_checked (h->element, GST_STATE_READY);
    set_state_checked (h->element, GST_STATE_PLAYING);
  }
  /* Still alive. */
  expect_element_message (bus, "vdropmon-stats", MESSAGE_TIMEOUT);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

/* Each cycle leaves one gap; stopping closes open batches, so every gap is
 * reported exactly once, and counters restart with the stream. */
GST_START_TEST (test_state_changes_with_data)
{
  const guint cycles = 50;
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, "batch-interval", "5000000000", NULL);
  GstStructure *stats;
  GPtrArray *drops;
  guint i;

  for (i = 0; i < cycles; i++) {
    if (i > 0) {
      set_state_checked (h->element, GST_STATE_NULL);
      set_state_checked (h->element, GST_STATE_PLAYING);
    }
    restart_stream (h, H264_CAPS, i);
    push_seq (h, SSRC, 7 * i);
    push_seq (h, SSRC, 7 * i + 2);
    push_seq (h, SSRC, 7 * i + 3);
  }
  stats = get_stats (h);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "buffers"), 3);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "rtp-lost"), 1);
  gst_structure_free (stats);
  set_state_checked (h->element, GST_STATE_NULL);

  drops = collect_drops (bus, cycles, 3 * GST_SECOND);
  fail_unless_equals_int (drops->len, cycles);
  for (i = 0; i < drops->len; i++) {
    const GstStructure *s = g_ptr_array_index (drops, i);
    fail_unless_equals_int (vdm_get_uint (s, "count"), 1);
    fail_unless_equals_int (vdm_get_int (s, "rtp-seq-first"), 7 * i + 1);
  }
  g_ptr_array_unref (drops);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Odd input.                                                                */

GST_START_TEST (test_buffers_without_pts)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, NULL);
  GstStructure *s;
  guint i;

  gst_harness_set_src_caps_str (h, H264_CAPS);
  push_through (h, rtp_packet (SSRC, 1, 3000, GST_CLOCK_TIME_NONE));
  push_through (h, rtp_packet (SSRC, 3, 6000, GST_CLOCK_TIME_NONE));
  s = wait_element_message (bus, "vdropmon-drop", MESSAGE_TIMEOUT);
  fail_unless (s != NULL, "a gap must be reported even without PTS");
  fail_unless_equals_uint64 (vdm_get_u64 (s, "pts"), GST_CLOCK_TIME_NONE);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "pts-last"), GST_CLOCK_TIME_NONE);
  gst_structure_free (s);

  gst_harness_set_src_caps_str (h, "application/octet-stream");
  for (i = 0; i < 10; i++) {
    GstBuffer *buf = gst_harness_create_buffer (h, 188);
    gst_buffer_memset (buf, 0, 0x47, 188);
    push_through (h, buf);
  }
  s = get_stats (h);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "buffers"), 12);
  gst_structure_free (s);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

GST_START_TEST (test_pts_going_backwards)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, NULL);
  GstStructure *s;
  guint i;

  gst_harness_set_src_caps_str (h, H264_CAPS);
  for (i = 0; i < 20; i++)
    push_through (h, rtp_packet (SSRC, i, i * FRAME_TICKS, (20 - i) * GST_SECOND));
  /* A gap with PTS and RTP time running backwards. */
  push_through (h, rtp_packet (SSRC, 22, 0x80000000u, 0));
  s = wait_element_message (bus, "vdropmon-drop", MESSAGE_TIMEOUT);
  fail_unless (s != NULL);
  fail_unless_equals_int (vdm_get_uint (s, "count"), 2);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "pts"), 0);
  gst_structure_free (s);

  gst_harness_set_src_caps_str (h, "video/x-raw,format=GRAY8,width=4,height=4,framerate=0/1");
  for (i = 0; i < 20; i++) {
    GstBuffer *buf = gst_harness_create_buffer (h, 16);
    GST_BUFFER_PTS (buf) = (i % 3 == 0 ? 100 - i : 50 + i) * GST_MSECOND;
    push_through (h, buf);
  }
  s = get_stats (h);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "buffers"), 41);
  gst_structure_free (s);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

GST_START_TEST (test_garbage_under_rtp_caps)
{
  static const guint8 short_rtp[11] = { 0x80, 96, 0, 1 };
  static const guint8 rtcp_sr[28] = { 0x80, 200, 0, 6 };
  static const guint8 bad_padding[16] = { 0xa0, 96, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 200 };
  static const guint8 csrc_overflow[16] = { 0x8f, 96, 0, 9 };
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, NULL);
  GRand *rand = g_rand_new_with_seed (42);
  GstStructure *stats;
  guint i, j;

  gst_harness_set_src_caps_str (h, H264_CAPS);
  push_seq (h, SSRC, 1);
  push_through (h, gst_buffer_new ());  /* no memory at all */
  push_through (h, gst_buffer_new_allocate (NULL, 0, NULL));
  push_through (h, buffer_from_bytes (short_rtp, 1));
  push_through (h, buffer_from_bytes (short_rtp, sizeof (short_rtp)));
  push_through (h, buffer_from_bytes (rtcp_sr, sizeof (rtcp_sr)));
  push_through (h, buffer_from_bytes (bad_padding, sizeof (bad_padding)));
  push_through (h, buffer_from_bytes (csrc_overflow, sizeof (csrc_overflow)));
  for (i = 0; i < 200; i++) {
    guint size = g_rand_int_range (rand, 1, 1500);
    guint8 *data = g_malloc (size);
    for (j = 0; j < size; j++)
      data[j] = (guint8) g_rand_int (rand);
    data[0] &= 0x3f;            /* version 0: not RTP, so no random SSRC/seq */
    push_through (h, gst_buffer_new_wrapped (data, size));
  }
  push_seq (h, SSRC, 2);

  stats = get_stats (h);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "buffers"), 1 + 7 + 200 + 1);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "rtp-packets"), 2);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "rtp-lost"), 0);
  gst_structure_free (stats);
  expect_no_element_message (bus, "vdropmon-drop", QUIET_PERIOD, "unexpected message");

  g_rand_free (rand);
  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

/* The RTP header is read straight from system memory, without a map
 * (vdropmon_peek.c), and through gst_memory_map() from any other memory:
 * both must find the header where the memory's offset says, whatever the
 * memory. Each kind carries seqs 10, 11, 12, 15 (13 and 14 lost). */
typedef enum
{
  MEMORY_WRAPPED,               /* system memory, offset 0: udpsrc's and most */
  MEMORY_RESIZED,               /* system memory whose data starts 37 bytes in */
  MEMORY_SHARED,                /* a sub-memory of a larger system memory */
  MEMORY_FD,                    /* another allocator (a file's fd): mapped */
  N_MEMORY_KINDS
} MemoryKind;

static GstMemory *
memory_of_kind (MemoryKind kind, const guint8 * packet, gsize size)
{
  GstAllocator *fd_allocator;
  GstMemory *mem, *whole;
  GstMapInfo map;
  gpointer copy;
  gchar *name;
  gint fd;

  switch (kind) {
    case MEMORY_WRAPPED:
      copy = g_memdup2 (packet, size);
      return gst_memory_new_wrapped (0, copy, size, 0, size, copy, g_free);
    case MEMORY_RESIZED:
    case MEMORY_SHARED:
      whole = gst_allocator_alloc (NULL, size + 37 + 11, NULL);
      fail_unless (gst_memory_map (whole, &map, GST_MAP_WRITE));
      memset (map.data, 0xee, map.size);  /* anything but the header before it */
      memcpy (map.data + 37, packet, size);
      gst_memory_unmap (whole, &map);
      if (kind == MEMORY_SHARED) {
        mem = gst_memory_share (whole, 37, size);
        gst_memory_unref (whole);
        return mem;
      }
      gst_memory_resize (whole, 37, size);
      return whole;
    case MEMORY_FD:
      fd = g_file_open_tmp ("vdropmon-test-XXXXXX", &name, NULL);
      fail_unless (fd >= 0 && write (fd, packet, size) == (gssize) size);
      g_unlink (name);
      g_free (name);
      fd_allocator = gst_fd_allocator_new ();
      mem = gst_fd_allocator_alloc (fd_allocator, fd, size, GST_FD_MEMORY_FLAG_NONE);
      gst_object_unref (fd_allocator);
      return mem;
    default:
      g_assert_not_reached ();
  }
}

static GstBuffer *
rtp_packet_in_memory (MemoryKind kind, guint16 seq)
{
  GstBuffer *model = rtp_packet (SSRC, seq, 1000u + seq * FRAME_TICKS, seq * 33 * GST_MSECOND);
  GstBuffer *buf = gst_buffer_new ();
  GstMapInfo map;

  fail_unless (gst_buffer_map (model, &map, GST_MAP_READ));
  gst_buffer_append_memory (buf, memory_of_kind (kind, map.data, map.size));
  gst_buffer_unmap (model, &map);
  GST_BUFFER_PTS (buf) = GST_BUFFER_PTS (model);
  gst_buffer_unref (model);
  return buf;
}

GST_START_TEST (test_rtp_in_any_memory)
{
  static const guint16 seqs[] = { 10, 11, 12, 15 };
  MemoryKind kind;
  guint i;

  for (kind = 0; kind < N_MEMORY_KINDS; kind++) {
    GstBus *bus = gst_bus_new ();
    GstHarness *h = harness_new (bus, NULL);
    GstStructure *s;

    gst_harness_set_src_caps_str (h, H264_CAPS);
    for (i = 0; i < G_N_ELEMENTS (seqs); i++)
      push_through (h, rtp_packet_in_memory (kind, seqs[i]));
    s = wait_element_message (bus, "vdropmon-drop", MESSAGE_TIMEOUT);
    fail_unless (s != NULL, "memory kind %d: no vdropmon-drop for the gap", kind);
    fail_unless_equals_int (vdm_get_int (s, "rtp-seq-first"), 13);
    fail_unless_equals_int (vdm_get_int (s, "rtp-seq-last"), 14);
    fail_unless_equals_int (vdm_get_uint (s, "ssrc"), SSRC);
    gst_structure_free (s);
    s = get_stats (h);
    fail_unless_equals_uint64 (vdm_get_u64 (s, "rtp-packets"), 4);
    fail_unless_equals_uint64 (vdm_get_u64 (s, "rtp-lost"), 2);
    gst_structure_free (s);
    gst_harness_teardown (h);
    bus_free (bus);
  }
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Stats.                                                                    */

GST_START_TEST (test_stats_property)
{
  static const guint8 not_rtp[5] = { 1, 2, 3, 4, 5 };
  GstBus *bus = gst_bus_new ();
  GstElement *element = vdropmon_new (bus, "collector", "none", "post-messages", "false",
      "batch-interval", "200000000", NULL);
  GstStructure *s;
  GPtrArray *drops;
  GstHarness *h;
  guint i;

  /* Readable before the element ever started. */
  g_object_get (element, "stats", &s, NULL);
  assert_stats_fields (s, "application/x-vdropmon-stats");
  gst_structure_free (s);

  h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  gst_harness_set_src_caps_str (h, H264_CAPS);
  for (i = 0; i < 29; i++)
    if (i % 10 != 9)            /* 9 and 19 lost */
      push_seq (h, SSRC, i);
  push_seq (h, SSRC, 28);       /* a duplicate */
  push_through (h, buffer_from_bytes (not_rtp, sizeof (not_rtp)));

  s = get_stats (h);
  assert_stats_fields (s, "application/x-vdropmon-stats");
  assert_equals_string (vdm_get_str (s, "collector"), "none");
  assert_equals_string (vdm_get_str (s, "collector-status"), "disabled");
  fail_unless_equals_int (gst_value_array_get_size (gst_structure_get_value (s, "flows")), 0);
  fail_unless_equals_int (gst_structure_n_fields (gst_value_get_structure
          (gst_structure_get_value (s, "reasons"))), 0);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "kernel-drops"), 0);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "events-lost"), 0);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "buffers"), 29);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "rtp-packets"), 28);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "rtp-lost"), 2);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "rtp-duplicates"), 1);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "rtp-reordered"), 0);
  fail_unless (vdm_get_u64 (s, "drop-messages") == 0 || vdm_get_u64 (s, "drop-messages") == 1);
  gst_structure_free (s);

  /* A late packet fills its gap: reordered, not lost. */
  push_seq (h, SSRC, 19);
  s = get_stats (h);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "rtp-lost"), 1);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "rtp-reordered"), 1);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "buffers"), 30);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "rtp-packets"), 29);
  gst_structure_free (s);

  drops = collect_drops (bus, 2, MESSAGE_TIMEOUT);
  fail_unless_equals_uint64 (sum_counts (drops), 2);
  assert_drop_messages_stat (h, drops->len);
  g_ptr_array_unref (drops);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

static GstStructure *
stats_message_fields (GstBus * bus)
{
  GstStructure *s = wait_element_message (bus, "vdropmon-stats", MESSAGE_TIMEOUT);

  fail_unless (s != NULL, "no vdropmon-stats message");
  assert_stats_fields (s, "vdropmon-stats");
  return s;
}

GST_START_TEST (test_stats_messages_periodic)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, "post-messages", "true", "interval", "50000000", NULL);
  GstStructure *s;
  guint n;

  gst_harness_set_src_caps_str (h, H264_CAPS);
  push_seq (h, SSRC, 1);
  s = stats_message_fields (bus);
  gst_structure_free (s);
  /* 600 ms at 50 ms: about 12. */
  n = count_messages (bus, GST_MESSAGE_ELEMENT, "vdropmon-stats", 600 * GST_MSECOND);
  fail_unless (n >= 4 && n <= 14, "%u stats messages in 600 ms at a 50 ms interval", n);

  /* The counters are those of the stats property. */
  s = stats_message_fields (bus);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "buffers"), 1);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "rtp-packets"), 1);
  gst_structure_free (s);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

GST_START_TEST (test_stats_messages_disabled)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, "post-messages", "false", "interval", "10000000", NULL);

  gst_harness_set_src_caps_str (h, H264_CAPS);
  push_seq (h, SSRC, 1);
  fail_unless_equals_int (count_messages (bus, GST_MESSAGE_ELEMENT, "vdropmon-stats",
          300 * GST_MSECOND), 0);
  /* Drop messages are not stats: they still come. */
  push_seq (h, SSRC, 3);
  expect_element_message (bus, "vdropmon-drop", MESSAGE_TIMEOUT);

  /* post-messages may change while playing. */
  g_object_set (h->element, "post-messages", TRUE, NULL);
  gst_structure_free (stats_message_fields (bus));

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* The watch property.                                                       */

static void
check_invalid_watch (const gchar * watch)
{
  GstBus *bus = gst_bus_new ();
  GstElement *element = vdropmon_new (bus, "collector", "none", "watch", watch, NULL);
  GstMessage *msg;
  GError *error = NULL;
  gchar *debug = NULL;

  fail_unless_equals_int (gst_element_set_state (element, GST_STATE_PLAYING),
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (bus, 0, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "watch=\"%s\": no error message", watch);
  gst_message_parse_error (msg, &error, &debug);
  fail_unless (g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS),
      "watch=\"%s\": %s", watch, error->message);
  fail_unless (strstr (error->message, "watch") != NULL, "unclear message: %s", error->message);
  fail_unless (strstr (error->message, watch) != NULL, "message does not quote the value: %s",
      error->message);
  fail_unless (debug != NULL && *debug, "no reason in the debug text");
  GST_INFO ("watch=\"%s\": %s (%s)", watch, error->message, debug);
  g_clear_error (&error);
  g_free (debug);
  gst_message_unref (msg);

  set_state_checked (element, GST_STATE_NULL);
  gst_object_unref (element);
  bus_free (bus);
}

GST_START_TEST (test_invalid_watch)
{
  check_invalid_watch ("udp:0");
  check_invalid_watch ("udp:70000");
  check_invalid_watch ("sctp:5004");
  check_invalid_watch ("udp:5004, udp:300.1.1.1:5004");
  check_invalid_watch ("tcp:127.0.0.1:41234->");
}

GST_END_TEST;

GST_START_TEST (test_watch_flows_in_stats)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, "watch",
      "udp:5004, tcp:127.0.0.1:41234->127.0.0.1:8554; udp:[::1]:6000", NULL);
  GstStructure *s = get_stats (h);
  const GValue *flows = gst_structure_get_value (s, "flows");

  fail_unless_equals_int (gst_value_array_get_size (flows), 3);
  assert_equals_string (g_value_get_string (gst_value_array_get_value (flows, 0)),
      "udp 0.0.0.0:5004");
  assert_equals_string (g_value_get_string (gst_value_array_get_value (flows, 1)),
      "tcp 127.0.0.1:41234->127.0.0.1:8554");
  assert_equals_string (g_value_get_string (gst_value_array_get_value (flows, 2)),
      "udp [::1]:6000");
  gst_structure_free (s);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

/* The socket of a udpsrc upstream is found and watched by itself (with
 * collector=none it is listed, not watched in the kernel). */
static gboolean
discovers_udpsrc (gboolean auto_discover, gchar ** expected)
{
  GstElement *pipeline = gst_parse_launch ("udpsrc name=src address=127.0.0.1 port=0 "
      "caps=\"" H264_CAPS "\" ! vdropmon name=mon collector=none post-messages=false "
      "! fakesink", NULL);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  GstElement *mon = gst_bin_get_by_name (GST_BIN (pipeline), "mon");
  gint64 deadline = deadline_after (3 * GST_SECOND);
  GSocketAddress *local;
  GSocket *socket = NULL;
  gboolean found = FALSE;

  g_object_set (mon, "auto-discover", auto_discover, NULL);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  g_object_get (src, "used-socket", &socket, NULL);
  fail_unless (socket != NULL);
  local = g_socket_get_local_address (socket, NULL);
  *expected = g_strdup_printf ("udp 127.0.0.1:%u",
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)));
  /* Rescans run at start and every 500 ms: wait for one after PLAYING. */
  do {
    GstStructure *stats;
    const GValue *flows;
    guint i;

    g_usleep (20 * 1000);
    g_object_get (mon, "stats", &stats, NULL);
    flows = gst_structure_get_value (stats, "flows");
    for (i = 0; i < gst_value_array_get_size (flows); i++)
      found |= g_str_equal (g_value_get_string (gst_value_array_get_value (flows, i)), *expected);
    gst_structure_free (stats);
  } while (!found && time_left (deadline) > 0
      && (auto_discover || time_left (deadline) > 2 * GST_SECOND));

  set_state_checked (pipeline, GST_STATE_NULL);
  g_object_unref (local);
  g_object_unref (socket);
  gst_object_unref (src);
  gst_object_unref (mon);
  gst_object_unref (pipeline);
  return found;
}

GST_START_TEST (test_auto_discover_udpsrc)
{
  gchar *expected;

  fail_unless (discovers_udpsrc (TRUE, &expected), "%s not in flows", expected);
  g_free (expected);
  fail_if (discovers_udpsrc (FALSE, &expected), "auto-discover=false, yet %s watched", expected);
  g_free (expected);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* collector=auto.                                                           */

static gboolean
bpf_required (void)
{
  return g_strcmp0 (g_getenv ("VDROPMON_REQUIRE_BPF"), "1") == 0;
}

/* Starts collector=auto twice, pushes a stream through and returns the
 * number of warnings; *collector is the stats' collector field. */
static guint
run_collector_auto (gchar ** collector, gchar ** status, gchar ** skipped)
{
  GstBus *bus = gst_bus_new ();
  /* no daemon answers there: auto must say so and go on */
  GstElement *element = vdropmon_new (bus, "collector", "auto", "post-messages", "false",
      "daemon-socket", "/nonexistent/vdropmond.sock", NULL);
  GstHarness *h = gst_harness_new_with_element (element, "sink", "src");
  GstMessage *msg;
  GstStructure *s;
  guint16 seq;
  guint warnings = 0;

  gst_object_unref (element);   /* the harness holds it */
  gst_harness_set_src_caps_str (h, H264_CAPS);
  for (seq = 0; seq < 20; seq++)
    push_seq (h, SSRC, seq);
  /* A restart must not warn again. */
  set_state_checked (h->element, GST_STATE_NULL);
  set_state_checked (h->element, GST_STATE_PLAYING);
  restart_stream (h, H264_CAPS, 1);
  for (seq = 0; seq < 20; seq++)
    push_seq (h, SSRC, seq);

  s = get_stats (h);
  fail_unless_equals_uint64 (vdm_get_u64 (s, "buffers"), 20);
  *collector = g_strdup (vdm_get_str (s, "collector"));
  *status = g_strdup (vdm_get_str (s, "collector-status"));
  *skipped = g_strdup (vdm_get_str (s, "collector-skipped"));
  gst_structure_free (s);

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING | GST_MESSAGE_ERROR))) {
    GError *error = NULL;
    gchar *debug = NULL;

    fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_WARNING);
    gst_message_parse_warning (msg, &error, &debug);
    GST_INFO ("warning: %s (%s)", error->message, debug);
    fail_unless (error->domain == GST_RESOURCE_ERROR && *error->message);
    /* Why, as the stats say it. */
    fail_unless (debug != NULL && strstr (debug, *status) != NULL,
        "the warning does not say why (%s): %s", *status, debug);
    warnings++;
    g_clear_error (&error);
    g_free (debug);
    gst_message_unref (msg);
  }

  gst_harness_teardown (h);
  bus_free (bus);
  return warnings;
}

/* auto tries the daemon first, then the embedded collector, and says why
 * each one it did not get was not used. */
static void
check_collector_auto_result (guint warnings, const gchar * collector, const gchar * status,
    const gchar * skipped)
{
  fail_unless (g_str_has_prefix (skipped, "daemon: "), "collector-skipped %s", skipped);
  if (g_str_equal (collector, "embedded")) {
    assert_equals_string (status, "running");
    fail_unless_equals_int (warnings, 0);
  } else {
    assert_equals_string (collector, "none");
    fail_unless (g_str_has_prefix (status, "unavailable: daemon: "), "status %s", status);
    fail_unless (strstr (status, "; embedded: ") != NULL, "status %s", status);
    fail_unless_equals_int (warnings, 1);
  }
}

GST_START_TEST (test_collector_auto)
{
  gchar *collector, *status, *skipped;
  guint warnings = run_collector_auto (&collector, &status, &skipped);

  GST_INFO ("collector %s (%s), %u warnings", collector, status, warnings);
  if (!g_str_equal (collector, "embedded")) {
    fail_if (bpf_required (), "VDROPMON_REQUIRE_BPF=1 but the collector is %s: %s", collector,
        status);
    g_printerr ("test_collector_auto: no eBPF here (%s): checked the fallback only\n", status);
  }
  check_collector_auto_result (warnings, collector, status, skipped);
  g_free (collector);
  g_free (status);
  g_free (skipped);
}

GST_END_TEST;

/* Capabilities are per thread: clearing the effective set of this thread
 * makes the BPF load in start() (which runs in this thread) fail as it
 * would for an unprivileged user, without touching the rest of the
 * process. Returns FALSE if capget/capset are not allowed. */
static gboolean
set_effective_caps (struct __user_cap_data_struct *saved, gboolean restore)
{
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3 };
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

  if (restore)
    return syscall (SYS_capset, &header, saved) == 0;
  if (syscall (SYS_capget, &header, saved) != 0)
    return FALSE;
  memcpy (data, saved, sizeof (data));
  data[0].effective = data[1].effective = 0;
  return syscall (SYS_capset, &header, data) == 0;
}

/* The fallback path, also when the tests run as root. */
GST_START_TEST (test_collector_auto_unprivileged)
{
  struct __user_cap_data_struct saved[_LINUX_CAPABILITY_U32S_3];
  gchar *collector, *status, *skipped;
  guint warnings;

  fail_unless (set_effective_caps (saved, FALSE), "capset: %s", g_strerror (errno));
  warnings = run_collector_auto (&collector, &status, &skipped);
  fail_unless (set_effective_caps (saved, TRUE), "capset: %s", g_strerror (errno));

  GST_INFO ("collector %s (%s), %u warnings", collector, status, warnings);
  assert_equals_string (collector, "none");
  check_collector_auto_result (warnings, collector, status, skipped);
  g_free (collector);
  g_free (status);
  g_free (skipped);
}

GST_END_TEST;

/* Without eBPF, RTP gaps are still reported. */
GST_START_TEST (test_collector_auto_fallback_reports_gaps)
{
  struct __user_cap_data_struct saved[_LINUX_CAPABILITY_U32S_3];
  GstBus *bus = gst_bus_new ();
  GstHarness *h;
  GstStructure *s;

  fail_unless (set_effective_caps (saved, FALSE), "capset: %s", g_strerror (errno));
  h = harness_new (bus, "collector", "auto", NULL);
  fail_unless (set_effective_caps (saved, TRUE), "capset: %s", g_strerror (errno));
  gst_harness_set_src_caps_str (h, H264_CAPS);
  push_seq (h, SSRC, 1);
  push_seq (h, SSRC, 5);
  s = wait_element_message (bus, "vdropmon-drop", MESSAGE_TIMEOUT);
  fail_unless (s != NULL);
  assert_equals_string (vdm_get_str (s, "source"), "rtp-gap");
  fail_unless_equals_int (vdm_get_uint (s, "count"), 3);
  gst_structure_free (s);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Element bugs found by these tests and fixed: regression tests.           */

/* A payloader's buffer (header and payload in two memories) must come out
 * as it went in: mapping it whole merges the memories (a copy) and, the
 * buffer being writable, replaces them in the buffer. */
GST_START_TEST (test_passthrough_multi_memory_rtp)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, NULL);
  GstBuffer *buf = rtp_packet_payloaded (SSRC, 1, 0, 0, FALSE, FRAG_MIDDLE, 1188);

  fail_unless (gst_buffer_n_memory (buf) > 1, "test premise: a multi-memory RTP buffer");
  gst_harness_set_src_caps_str (h, H264_CAPS);
  assert_untouched_passthrough (h, buf);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

/* Counters are totals since start: a flush restarts sequence tracking but
 * must not take back the losses already counted. */
GST_START_TEST (test_flush_keeps_counters)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, NULL);
  GstSegment segment;
  GstStructure *stats;

  gst_harness_set_src_caps_str (h, H264_CAPS);
  push_seq (h, SSRC, 10);
  push_seq (h, SSRC, 13);       /* 2 lost */
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  push_seq (h, SSRC, 900);

  stats = get_stats (h);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "rtp-lost"), 2);
  fail_unless_equals_uint64 (vdm_get_u64 (stats, "rtp-packets"), 3);
  gst_structure_free (stats);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

/* interval is a guint64 up to G_MAXUINT64 ("practically never"); the next
 * deadline must not wrap around into the past. */
GST_START_TEST (test_huge_interval)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, "post-messages", "true",
      "interval", "18446744073709551615", NULL);

  fail_unless_equals_int (count_messages (bus, GST_MESSAGE_ELEMENT, "vdropmon-stats",
          300 * GST_MSECOND), 0);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

/* Issue 9 #5: an interval lowered while PLAYING counts at once, not after
 * the old one (an hour here) has passed. */
GST_START_TEST (test_interval_lowered_while_playing)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, "post-messages", "true", "interval", "3600000000000", NULL);

  expect_no_element_message (bus, "vdropmon-stats", QUIET_PERIOD, "stats before the interval");
  g_object_set (h->element, "interval", (guint64) 20 * GST_MSECOND, NULL);
  expect_element_message (bus, "vdropmon-stats", MESSAGE_TIMEOUT);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

/* Issue 9 #5 for batches: a batch open with an interval of 8 s closes on
 * the new interval of 5 ms once it is set. */
GST_START_TEST (test_batch_interval_lowered_while_open)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = harness_new (bus, "batch-interval", "8000000000", NULL);

  gst_harness_set_src_caps_str (h, H264_CAPS);
  push_seq (h, SSRC, 1);
  push_seq (h, SSRC, 3);
  expect_no_element_message (bus, "vdropmon-drop", QUIET_PERIOD, "the batch closed early");
  g_object_set (h->element, "batch-interval", (guint64) 5 * GST_MSECOND, NULL);
  expect_element_message (bus, "vdropmon-drop", MESSAGE_TIMEOUT);

  gst_harness_teardown (h);
  bus_free (bus);
}

GST_END_TEST;

static guint
count_bpf_program_fds (void)
{
  GDir *dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const gchar *name;
  guint n = 0;

  fail_unless (dir != NULL);
  while ((name = g_dir_read_name (dir))) {
    gchar *path = g_build_filename ("/proc/self/fd", name, NULL);
    gchar *target = g_file_read_link (path, NULL);
    n += target && g_str_equal (target, "anon_inode:bpf-prog");
    g_free (target);
    g_free (path);
  }
  g_dir_close (dir);
  return n;
}

/* A start that fails after loading the collector (bad watch) must unload
 * it again: nothing else will, GstBaseTransform does not call stop(). */
GST_START_TEST (test_failed_start_releases_collector)
{
  GstBus *bus = gst_bus_new ();
  GstElement *element = vdropmon_new (bus, "collector", "auto", "watch", "udp:0", NULL);
  guint before = count_bpf_program_fds ();

  fail_unless_equals_int (gst_element_set_state (element, GST_STATE_PLAYING),
      GST_STATE_CHANGE_FAILURE);
  set_state_checked (element, GST_STATE_NULL);
  gst_object_unref (element);
  fail_unless_equals_int (count_bpf_program_fds (), before);
  bus_free (bus);
}

GST_END_TEST;

static Suite *
vdropmon_suite (void)
{
  Suite *s = suite_create ("vdropmon");
  TCase *tc_pass = tcase_create ("passthrough");
  TCase *tc_gaps = tcase_create ("rtp-gaps");
  TCase *tc_events = tcase_create ("events-and-state");
  TCase *tc_input = tcase_create ("odd-input");
  TCase *tc_stats = tcase_create ("stats");
  TCase *tc_watch = tcase_create ("watch");
  TCase *tc_collector = tcase_create ("collector");

  suite_add_tcase (s, tc_pass);
  tcase_add_test (tc_pass, test_passthrough_any_caps);
  tcase_add_test (tc_pass, test_passthrough_rtp);

  suite_add_tcase (s, tc_gaps);
  tcase_add_test (tc_gaps, test_gap_with_clock_rate);
  tcase_add_test (tc_gaps, test_gap_without_clock_rate);
  tcase_add_test (tc_gaps, test_gap_posted_without_waiting_for_a_round);
  tcase_add_test (tc_gaps, test_gap_running_time);
  tcase_add_test (tc_gaps, test_gap_frame_fields);
  tcase_add_test (tc_gaps, test_gap_keyframe_flag);
  tcase_add_test (tc_gaps, test_gap_batching);
  tcase_add_test (tc_gaps, test_gap_two_ssrcs);
  tcase_add_test (tc_gaps, test_seq_wrap_is_not_a_gap);
  tcase_add_test (tc_gaps, test_seq_gap_across_wrap);

  suite_add_tcase (s, tc_events);
  tcase_add_test (tc_events, test_flush);
  tcase_add_test (tc_events, test_flush_keeps_counters);
  tcase_add_test (tc_events, test_eos_flushes_batches);
  tcase_add_test (tc_events, test_state_changes_without_data);
  tcase_add_test (tc_events, test_state_changes_with_data);

  suite_add_tcase (s, tc_input);
  tcase_add_test (tc_input, test_buffers_without_pts);
  tcase_add_test (tc_input, test_pts_going_backwards);
  tcase_add_test (tc_input, test_garbage_under_rtp_caps);
  tcase_add_test (tc_input, test_rtp_in_any_memory);

  suite_add_tcase (s, tc_stats);
  tcase_add_test (tc_stats, test_stats_property);
  tcase_add_test (tc_stats, test_stats_messages_periodic);
  tcase_add_test (tc_stats, test_stats_messages_disabled);

  suite_add_tcase (s, tc_watch);
  tcase_add_test (tc_watch, test_invalid_watch);
  tcase_add_test (tc_watch, test_watch_flows_in_stats);
  tcase_add_test (tc_watch, test_auto_discover_udpsrc);

  suite_add_tcase (s, tc_collector);
  tcase_set_timeout (tc_collector, 30);
  tcase_add_test (tc_collector, test_collector_auto);
  tcase_add_test (tc_collector, test_collector_auto_unprivileged);
  tcase_add_test (tc_collector, test_collector_auto_fallback_reports_gaps);

  {
    /* once known bugs, now fixed: they stay as regression tests */
    TCase *tc_fixed = tcase_create ("fixed-bugs");
    tcase_set_timeout (tc_fixed, 30);
    suite_add_tcase (s, tc_fixed);
    tcase_add_test (tc_fixed, test_passthrough_multi_memory_rtp);
    tcase_add_test (tc_fixed, test_huge_interval);
    tcase_add_test (tc_fixed, test_interval_lowered_while_playing);
    tcase_add_test (tc_fixed, test_batch_interval_lowered_while_open);
    tcase_add_test (tc_fixed, test_failed_start_releases_collector);
  }
  return s;
}

GST_CHECK_MAIN (vdropmon);
