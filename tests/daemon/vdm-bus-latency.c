/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdm-bus-latency — drop → bus latency of one real pipeline, for the scale
 * benchmark (tests/daemon/bench.sh): the same pipeline behind the daemon
 * (as nobody) and with the embedded collector (as root), side by side.
 *
 *   vdm-bus-latency --port P --collector daemon|embedded [--seconds S]
 *                   [--stop-file F] [--ready-file F]
 *
 * Runs `udpsrc address=127.0.0.1 port=P buffer-size=4096 ! vdropmon
 * collector=C ! fakesink` and, from the bus sync handler (the posting
 * thread, CLOCK_MONOTONIC), takes for each vdropmon-drop of the kernel the
 * time since its first drop (kernel-time: the oldest packet of the message,
 * so the batch-interval is included, as a user sees it) and since its last
 * (kernel-time-last). Prints one line:
 *
 *   bus collector=C messages=N packets=K first-p50-ms=.. first-p99-ms=.. last-p50-ms=.. last-p99-ms=..
 *
 * Not a test: figures only. Never sends anything itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gst/gst.h>

#include "bus_recorder.h"

typedef struct {
  const gchar *collector;
  gint port;
  gdouble seconds;
  const gchar *stop_file, *ready_file;
} options;

static gboolean
parse_options (int argc, char **argv, options * o)
{
  GOptionEntry entries[] = {
    { "port", 0, 0, G_OPTION_ARG_INT, &o->port, "UDP port on 127.0.0.1", "P" },
    { "collector", 0, 0, G_OPTION_ARG_STRING, &o->collector, "daemon or embedded", "C" },
    { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &o->seconds, "longest run", "S" },
    { "stop-file", 0, 0, G_OPTION_ARG_FILENAME, &o->stop_file, "stop when it exists", "F" },
    { "ready-file", 0, 0, G_OPTION_ARG_FILENAME, &o->ready_file, "created once watching", "F" },
    { NULL }
  };
  GOptionContext *ctx = g_option_context_new ("- drop to bus latency of one pipeline");
  GError *error = NULL;
  gboolean ok;

  o->seconds = 60;
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  ok = g_option_context_parse (ctx, &argc, &argv, &error);
  g_option_context_free (ctx);
  if (!ok) {
    g_printerr ("vdm-bus-latency: %s\n", error->message);
    g_error_free (error);
    return FALSE;
  }
  return o->port > 0 && o->port < 65536 && o->collector && o->seconds > 0 && o->seconds <= 600;
}

static gint
compare_u64 (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;
  return x < y ? -1 : x > y;
}

static gdouble
percentile_ms (GArray * values, gdouble p)
{
  if (values->len == 0)
    return -1;
  g_array_sort (values, compare_u64);
  return g_array_index (values, guint64, (guint) (values->len * p)) / 1e6;
}

/* The pipeline's watch is in place once its stats say a collector runs. */
static gboolean
collector_running (GPtrArray * stats)
{
  guint i;

  for (i = 0; i < stats->len; i++) {
    const GstStructure *s = ((VdmKtMessage *) g_ptr_array_index (stats, i))->s;
    if (g_strcmp0 (gst_structure_get_string (s, "collector-status"), "running") == 0)
      return TRUE;
  }
  return FALSE;
}

static GPtrArray *
route (GstMessage * msg, const GstStructure * s, gpointer user_data)
{
  GPtrArray **arrays = user_data;

  if (gst_structure_has_name (s, "vdropmon-drop"))
    return arrays[0];
  if (gst_structure_has_name (s, "vdropmon-stats"))
    return arrays[1];
  return NULL;
}

static void
report (const options * o, GPtrArray * drops)
{
  GArray *first = g_array_new (FALSE, FALSE, sizeof (guint64));
  GArray *last = g_array_new (FALSE, FALSE, sizeof (guint64));
  guint64 packets = 0;
  guint i;

  for (i = 0; i < drops->len; i++) {
    VdmKtMessage *m = g_ptr_array_index (drops, i);
    guint64 kt = 0, kt_last = 0;
    guint count = 0;
    if (g_strcmp0 (gst_structure_get_string (m->s, "source"), "kernel-udp") != 0
        || !gst_structure_get_uint64 (m->s, "kernel-time", &kt)
        || !gst_structure_get_uint64 (m->s, "kernel-time-last", &kt_last) || kt == 0
        || m->arrival_ns < kt_last)
      continue;                 /* catch-up drops carry no packet time */
    gst_structure_get_uint (m->s, "count", &count);
    packets += count;
    kt = m->arrival_ns - kt;
    kt_last = m->arrival_ns - kt_last;
    g_array_append_val (first, kt);
    g_array_append_val (last, kt_last);
  }
  printf ("bus collector=%s messages=%u packets=%" G_GUINT64_FORMAT " first-p50-ms=%.2f "
      "first-p99-ms=%.2f last-p50-ms=%.2f last-p99-ms=%.2f\n", o->collector, first->len, packets,
      percentile_ms (first, 0.5), percentile_ms (first, 0.99), percentile_ms (last, 0.5),
      percentile_ms (last, 0.99));
  g_array_unref (first);
  g_array_unref (last);
}

int
main (int argc, char **argv)
{
  options o = { 0 };
  GMutex lock;
  GPtrArray *arrays[2];
  VdmBusRecorder rec = { .label = "vdm-bus-latency", .lock = &lock, .route = route,
    .user_data = arrays };
  GstElement *pipeline;
  GError *error = NULL;
  gchar *desc;
  gint64 end;
  gboolean ready = FALSE;

  if (!parse_options (argc, argv, &o)) {
    g_printerr ("usage: vdm-bus-latency --port P --collector daemon|embedded [--seconds S] "
        "[--stop-file F] [--ready-file F]\n");
    return 2;
  }
  g_mutex_init (&lock);
  arrays[0] = vdm_kt_messages_new ();
  arrays[1] = vdm_kt_messages_new ();
  rec.problems = g_ptr_array_new_with_free_func (g_free);
  desc = g_strdup_printf ("udpsrc address=127.0.0.1 port=%d buffer-size=4096 "
      "caps=\"application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96\" "
      "! vdropmon collector=%s interval=200000000 ! fakesink", o.port, o.collector);
  pipeline = gst_parse_launch (desc, &error);
  g_free (desc);
  if (!pipeline) {
    g_printerr ("vdm-bus-latency: %s\n", error->message);
    return 1;
  }
  vdm_bus_recorder_attach (&rec, pipeline);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  end = g_get_monotonic_time () + (gint64) (o.seconds * G_USEC_PER_SEC);
  while (g_get_monotonic_time () < end) {
    if (o.stop_file && access (o.stop_file, F_OK) == 0) {
      g_usleep (500 * 1000);    /* the last batch and stats */
      break;
    }
    g_mutex_lock (&lock);
    if (!ready && collector_running (arrays[1]) && o.ready_file) {
      ready = TRUE;
      fclose (fopen (o.ready_file, "w"));
    }
    g_mutex_unlock (&lock);
    g_usleep (20 * 1000);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  vdm_bus_recorder_detach (pipeline);
  gst_object_unref (pipeline);
  report (&o, arrays[0]);
  for (guint i = 0; i < rec.problems->len; i++)
    g_printerr ("%s\n", (const gchar *) g_ptr_array_index (rec.problems, i));
  g_ptr_array_unref (arrays[0]);
  g_ptr_array_unref (arrays[1]);
  g_ptr_array_unref (rec.problems);
  return ready ? 0 : 1;
}
