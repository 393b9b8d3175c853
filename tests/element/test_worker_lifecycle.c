/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The shared worker (issue 13, plugin/vdropmon_shared_worker.c): one
 * thread runs the rounds of every vdropmon element of the process. These
 * tests make elements come and go while that thread runs the others'
 * rounds, and check that
 *
 *   - there is one worker thread however many elements run, and none once
 *     the last one stopped;
 *   - elements started, fed and disposed from several threads at random
 *     moments never have a round run after their disposal (the element
 *     says so with a critical, which fails the test, when a round finds it
 *     finalized or finalizing), and the elements that stay keep getting
 *     their rounds meanwhile;
 *   - an element stopped from within its own round (a bus sync handler on
 *     the worker thread sets it to NULL) stops, instead of waiting for
 *     itself forever, and the others go on.
 *
 * collector=none: no privilege, no kernel.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/rtp/gstrtpbuffer.h>
#include <string.h>

#define RTP_CAPS "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"
#define N_STAYING 12
#define N_CHURNERS 3
#define CHURN_SECONDS 2
#define CHURN_MAX_ELEMENTS 300  /* per churning thread: bounded in count too */

/* Threads of this process called `name` now. */
static guint
threads_named (const gchar * name)
{
  GDir *dir = g_dir_open ("/proc/self/task", 0, NULL);
  const gchar *tid;
  guint n = 0;

  fail_unless (dir != NULL);
  while ((tid = g_dir_read_name (dir))) {
    gchar *path = g_strdup_printf ("/proc/self/task/%s/comm", tid), *comm = NULL;

    if (g_file_get_contents (path, &comm, NULL, NULL) && g_strcmp0 (g_strstrip (comm), name) == 0)
      n++;
    g_free (comm);
    g_free (path);
  }
  g_dir_close (dir);
  return n;
}

/* Waits up to 2 s for the count of worker threads to become `want`. */
static guint
wait_worker_threads (guint want)
{
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  guint n;

  while ((n = threads_named ("vdropmon")) != want && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  return n;
}

/* Counts each element's vdropmon-stats, by the index set on it; drops every
 * message (nobody runs a main loop). */
static GQuark index_quark;

typedef struct
{
  gint stats[N_STAYING];
  gint churned_stats;
  GstElement *stop_on_first_stats;      /* set it to NULL from its own round */
  gint stopped_from_round;
} Counts;

static GstBusSyncReply
count_stats (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Counts *counts = user_data;
  const GstStructure *s = gst_message_get_structure (msg);
  GstElement *src;
  gint index;

  if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ELEMENT || !gst_structure_has_name (s,
          "vdropmon-stats"))
    return GST_BUS_DROP;
  src = GST_ELEMENT (GST_MESSAGE_SRC (msg));
  index = GPOINTER_TO_INT (g_object_get_qdata (G_OBJECT (src), index_quark));
  if (index > 0)
    g_atomic_int_inc (&counts->stats[index - 1]);
  else
    g_atomic_int_inc (&counts->churned_stats);
  if (src == counts->stop_on_first_stats
      && g_atomic_int_compare_and_exchange (&counts->stopped_from_round, 0, 1)) {
    /* on the worker thread, inside the element's round */
    fail_unless (gst_element_set_state (src, GST_STATE_NULL) == GST_STATE_CHANGE_SUCCESS);
    g_atomic_int_set (&counts->stopped_from_round, 2);
  }
  return GST_BUS_DROP;
}

/* A playing vdropmon with stats every `interval_ms`, posting to `bus`. */
static GstHarness *
harness_new (GstBus * bus, gint index, guint interval_ms)
{
  GstElement *element = gst_element_factory_make ("vdropmon", NULL);
  GstHarness *h;

  fail_unless (element != NULL, "no vdropmon element: is GST_PLUGIN_PATH set?");
  gst_util_set_object_arg (G_OBJECT (element), "collector", "none");
  g_object_set (element, "post-messages", TRUE,
      "interval", (guint64) interval_ms * GST_MSECOND, "batch-interval", GST_MSECOND, NULL);
  g_object_set_qdata (G_OBJECT (element), index_quark, GINT_TO_POINTER (index));
  gst_element_set_bus (element, bus);
  h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  gst_harness_set_src_caps_str (h, RTP_CAPS);
  return h;
}

static GstBuffer *
rtp_packet (guint16 seq)
{
  GstBuffer *buf = gst_rtp_buffer_new_allocate (100, 0, 0);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;

  fail_unless (gst_rtp_buffer_map (buf, GST_MAP_WRITE, &rtp));
  gst_rtp_buffer_set_payload_type (&rtp, 96);
  gst_rtp_buffer_set_ssrc (&rtp, 0x1234);
  gst_rtp_buffer_set_seq (&rtp, seq);
  gst_rtp_buffer_set_timestamp (&rtp, seq * 3000u);
  gst_rtp_buffer_unmap (&rtp);
  GST_BUFFER_PTS (buf) = seq * 33 * GST_MSECOND;
  return buf;
}

/* A few packets with a sequence break (the streaming thread wakes the
 * worker for it), then the harness's output dropped. */
static void
push_some (GstHarness * h, guint16 first)
{
  guint16 seqs[] = { 0, 1, 2, 5, 6 };

  for (guint i = 0; i < G_N_ELEMENTS (seqs); i++)
    fail_unless_equals_int (gst_harness_push (h, rtp_packet (first + seqs[i])), GST_FLOW_OK);
  while (gst_harness_buffers_in_queue (h))
    gst_buffer_unref (gst_harness_pull (h));
}

/* 16 elements, one worker thread; none once they are gone. */
GST_START_TEST (test_one_thread_for_many)
{
  GstBus *bus = gst_bus_new ();
  Counts counts = { {0} };
  GstHarness *h[16];

  gst_bus_set_sync_handler (bus, count_stats, &counts, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (h); i++)
    h[i] = harness_new (bus, 0, 100);
  fail_unless_equals_int (wait_worker_threads (1), 1);
  for (guint i = 0; i < G_N_ELEMENTS (h); i++)
    gst_harness_teardown (h[i]);
  fail_unless_equals_int (wait_worker_threads (0), 0);
  gst_object_unref (bus);
}

GST_END_TEST;

typedef struct
{
  GstBus *bus;
  guint seed, made;
} Churner;

/* Elements made, fed and disposed one after the other, each living for a
 * random 0–3 ms: a round at once, one for the sequence break, one at the
 * gap's grace, one for the property change, and stats every 10 ms. */
static gpointer
churn (gpointer data)
{
  Churner *c = data;
  GRand *rand = g_rand_new_with_seed (c->seed);
  gint64 end = g_get_monotonic_time () + CHURN_SECONDS * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < end && c->made < CHURN_MAX_ELEMENTS) {
    GstHarness *h = harness_new (c->bus, 0, 10);

    push_some (h, (guint16) g_rand_int (rand));
    if (g_rand_boolean (rand))  /* a property change wakes the worker too */
      g_object_set (h->element, "interval", (guint64) 11 * GST_MSECOND, NULL);
    g_usleep (g_rand_int_range (rand, 0, 3000));
    gst_harness_teardown (h);
    c->made++;
  }
  g_rand_free (rand);
  return NULL;
}

GST_START_TEST (test_elements_come_and_go)
{
  GstBus *bus = gst_bus_new ();
  Counts counts = { {0} };
  GstHarness *staying[N_STAYING];
  Churner churners[N_CHURNERS];
  GThread *threads[N_CHURNERS];
  guint made = 0;

  gst_bus_set_sync_handler (bus, count_stats, &counts, NULL);
  for (guint i = 0; i < N_STAYING; i++)
    staying[i] = harness_new (bus, (gint) i + 1, 20);
  for (guint i = 0; i < N_CHURNERS; i++) {
    churners[i] = (Churner) {.bus = bus,.seed = 13 + i };
    threads[i] = g_thread_new ("churn", churn, &churners[i]);
  }
  for (guint i = 0; i < N_CHURNERS; i++) {
    g_thread_join (threads[i]);
    made += churners[i].made;
  }
  GST_INFO ("%u elements came and went, %d stats of theirs", made,
      g_atomic_int_get (&counts.churned_stats));
  fail_unless (made >= N_CHURNERS * 20, "only %u elements made", made);
  /* the staying ones had their rounds all along: a stats every 20 ms for
   * 2 s is ~100; a worker stuck or lost would leave them at a few */
  for (guint i = 0; i < N_STAYING; i++)
    fail_unless (g_atomic_int_get (&counts.stats[i]) >= 20, "element %u: %d stats in %d s", i,
        g_atomic_int_get (&counts.stats[i]), CHURN_SECONDS);
  fail_unless_equals_int (threads_named ("vdropmon"), 1);
  for (guint i = 0; i < N_STAYING; i++)
    gst_harness_teardown (staying[i]);
  fail_unless_equals_int (wait_worker_threads (0), 0);
  gst_object_unref (bus);
}

GST_END_TEST;

/* A bus sync handler stops the element from inside the element's own
 * round; a thread per element would have waited for itself (a join of
 * itself). The other element goes on having rounds. */
GST_START_TEST (test_stop_from_own_round)
{
  GstBus *bus = gst_bus_new ();
  Counts counts = { {0} };
  GstHarness *victim, *other;
  gint64 deadline;
  gint before;

  gst_bus_set_sync_handler (bus, count_stats, &counts, NULL);
  other = harness_new (bus, 1, 10);
  victim = harness_new (bus, 0, 10);
  counts.stop_on_first_stats = victim->element;
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (g_atomic_int_get (&counts.stopped_from_round) != 2
      && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  fail_unless_equals_int (g_atomic_int_get (&counts.stopped_from_round), 2);
  before = g_atomic_int_get (&counts.stats[0]);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (g_atomic_int_get (&counts.stats[0]) < before + 5 && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  fail_unless (g_atomic_int_get (&counts.stats[0]) >= before + 5,
      "the other element's rounds stopped");
  gst_harness_teardown (victim);
  gst_harness_teardown (other);
  fail_unless_equals_int (wait_worker_threads (0), 0);
  gst_object_unref (bus);
}

GST_END_TEST;

static Suite *
worker_lifecycle_suite (void)
{
  Suite *s = suite_create ("vdropmon-worker-lifecycle");
  TCase *tc = tcase_create ("shared-worker");

  index_quark = g_quark_from_static_string ("vdm-test-index");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_one_thread_for_many);
  tcase_add_test (tc, test_elements_come_and_go);
  tcase_add_test (tc, test_stop_from_own_round);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (worker_lifecycle);
