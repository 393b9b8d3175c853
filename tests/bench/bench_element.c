/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * a) The element's own cost per RTP buffer in the streaming thread, next to
 *    identity silent=true in the same run.
 *
 * Real RTP packets (1200-byte H.264 FU-A, one memory each, as udpsrc makes
 * them) are pushed from a bare source pad into X ! fakesink, for X =
 * nothing (the baseline), identity silent=true, vdropmon collector=none and
 * vdropmon collector=auto (the embedded collector running when root). A bare
 * pad rather than appsrc keeps the source's own cost out: "minus baseline"
 * is the element's own cost.
 *
 *  - tight: 50,000 buffers back to back into one pipeline per
 *    configuration, configurations alternating, 20 times; median. Everything
 *    stays in L1/L2: this flatters. Timed as the pushing thread's CPU time
 *    (the streaming thread's own cost: since issue 13 the element's worker
 *    does part of the work on another thread, and on a busy 2-core host it
 *    would otherwise be charged to the streaming thread whenever the two
 *    share a core), and as the whole process's CPU time (all-in: the
 *    worker, the collector).
 *  - cold: BENCH_COLD_RATE buffers/s, configurations in turn, each
 *    round-robin over its COLD_SLOTS pipelines, a cache-thrashing step
 *    before each push, each push timed alone: the cost a stream among a
 *    thousand pays for each of its packets.
 */
#include "bench_parts.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <gst/gst.h>

#include "bench_util.h"

#define N_CONFIGS 4
#define TIGHT_CHUNKS 20
#define TIGHT_CHUNK 50000
#define RING 256                /* distinct pre-made packets pushed in turn */
#define PACKET_SIZE 1200
#define COLD_SLOTS 16
#define COLD_PACKETS 3000

typedef struct
{
  const gchar *label;
  const gchar *factory;         /* NULL: source pad straight into fakesink */
  const gchar *properties;      /* "name=value name=value" */
  gdouble tight_ns, cold_ns;
  gdouble tight_all_ns;         /* process CPU: all threads */
  gchar *note;
  guint64 buffers, unobserved;  /* vdropmon's stats, summed over its pipelines */
} Config;

typedef struct
{
  GstBuffer *buffers[RING];
  guint8 *data[RING];           /* written between pushes: we own the memory */
} PacketRing;

/* One pipeline: our pad ! [element] ! fakesink. */
typedef struct
{
  GstElement *pipeline, *element;
  GstPad *srcpad, *sinkpad;
} Slot;

static void
packet_ring_init (PacketRing * ring)
{
  guint i;

  for (i = 0; i < RING; i++) {
    ring->data[i] = g_malloc (PACKET_SIZE);
    bench_write_rtp (ring->data[i], PACKET_SIZE, i, 0);
    ring->buffers[i] = gst_buffer_new_wrapped_full (0, ring->data[i], PACKET_SIZE, 0,
        PACKET_SIZE, ring->data[i], g_free);
  }
}

static void
packet_ring_clear (PacketRing * ring)
{
  guint i;

  for (i = 0; i < RING; i++)
    gst_buffer_unref (ring->buffers[i]);
}

static GstElement *
make_sink (void)
{
  GstElement *sink = gst_element_factory_make ("fakesink", NULL);

  g_object_set (sink, "sync", FALSE, "async", FALSE, "silent", TRUE,
      "enable-last-sample", FALSE, NULL);
  return sink;
}

static void
push_stream_start (GstPad * srcpad)
{
  GstCaps *caps = gst_caps_from_string (BENCH_H264_CAPS);
  GstSegment segment;

  gst_pad_push_event (srcpad, gst_event_new_stream_start ("vdm-bench"));
  gst_pad_push_event (srcpad, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (srcpad, gst_event_new_segment (&segment));
}

static gchar *
collector_note (GstElement * element, Config * config)
{
  GstStructure *stats = NULL;
  guint64 unobserved = 0, buffers = 0;
  gchar unobserved_text[32] = "-";      /* a build before the packet rings */
  gchar *note;

  g_object_get (element, "stats", &stats, NULL);
  /* the element must not look cheap by leaving packets out: its worker
   * has to keep up with the streaming thread's ring (issue 13) */
  if (gst_structure_get_uint64 (stats, "packets-unobserved", &unobserved))
    g_snprintf (unobserved_text, sizeof (unobserved_text), "%" G_GUINT64_FORMAT, unobserved);
  gst_structure_get_uint64 (stats, "buffers", &buffers);
  config->buffers += buffers;
  config->unobserved += unobserved;
  note = g_strdup_printf ("%s: %s; buffers %" G_GUINT64_FORMAT ", packets-unobserved %s",
      gst_structure_get_string (stats, "collector"),
      gst_structure_get_string (stats, "collector-status"), buffers, unobserved_text);
  gst_structure_free (stats);
  return note;
}

static void
set_properties (GstElement * element, const gchar * properties)
{
  gchar **pairs = g_strsplit (properties ? properties : "", " ", -1), **pair;

  for (pair = pairs; *pair; pair++) {
    gchar **kv = g_strsplit (*pair, "=", 2);
    if (kv[0] && kv[1])
      gst_util_set_object_arg (G_OBJECT (element), kv[0], kv[1]);
    g_strfreev (kv);
  }
  g_strfreev (pairs);
}

static GstBusSyncReply
discard_message (GstBus * bus, GstMessage * message, gpointer user_data)
{
  return GST_BUS_DROP;          /* nobody reads these buses: do not let them pile up */
}

static void
slot_start (Slot * slot, Config * config)
{
  GstElement *sink = make_sink ();
  GstBus *bus;

  memset (slot, 0, sizeof (*slot));
  slot->pipeline = gst_pipeline_new (NULL);
  bus = gst_element_get_bus (slot->pipeline);
  gst_bus_set_sync_handler (bus, discard_message, NULL, NULL);
  gst_object_unref (bus);
  slot->srcpad = gst_pad_new ("src", GST_PAD_SRC);
  gst_bin_add (GST_BIN (slot->pipeline), sink);
  if (config->factory) {
    slot->element = gst_element_factory_make (config->factory, NULL);
    g_assert (slot->element);
    set_properties (slot->element, config->properties);
    gst_bin_add (GST_BIN (slot->pipeline), slot->element);
    g_assert (gst_element_link (slot->element, sink));
  }
  slot->sinkpad = gst_element_get_static_pad (slot->element ? slot->element : sink, "sink");
  gst_pad_set_active (slot->srcpad, TRUE);
  g_assert (gst_pad_link (slot->srcpad, slot->sinkpad) == GST_PAD_LINK_OK);
  if (gst_element_set_state (slot->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_printerr ("vdm-bench: %s: cannot start\n", config->label);
    exit (1);
  }
  gst_element_get_state (slot->pipeline, NULL, NULL, GST_CLOCK_TIME_NONE);
  push_stream_start (slot->srcpad);
}

static void
slot_stop (Slot * slot, Config * config)
{
  if (slot->element && g_str_equal (config->factory, "vdropmon")) {
    gchar *note = collector_note (slot->element, config);
    if (!config->note)
      config->note = note;      /* the first pipeline's: the tight flood's */
    else
      g_free (note);
  }
  gst_element_set_state (slot->pipeline, GST_STATE_NULL);
  gst_pad_unlink (slot->srcpad, slot->sinkpad);
  gst_object_unref (slot->sinkpad);
  gst_object_unref (slot->srcpad);
  gst_object_unref (slot->pipeline);
}

/* Continuous seqs (no gap to report), a frame every 8 packets. */
static inline void
push_packet (Slot * slot, PacketRing * ring, guint32 seq, const gchar * label)
{
  guint k = seq % RING;
  GstBuffer *buf = ring->buffers[k];

  bench_set_seq (ring->data[k], seq & 0xffff, seq / 8 * 3000);
  GST_BUFFER_PTS (buf) = (GstClockTime) (seq / 8) * 33 * GST_MSECOND;
  if (gst_pad_push (slot->srcpad, gst_buffer_ref (buf)) != GST_FLOW_OK) {
    g_printerr ("vdm-bench: %s: push failed\n", label);
    exit (1);
  }
}

/* All configurations' pipelines live at once, so that the measures of
 * one configuration and the next are taken in the same moments: on a busy
 * 2-core host the CPU time others leave us changes by the second. */
typedef struct
{
  Slot slots[N_CONFIGS][COLD_SLOTS];
  guint32 seqs[N_CONFIGS][COLD_SLOTS];
} Bench;

/* Back to back into the first pipeline of each configuration, in chunks
 * alternating between configurations; median ns per buffer of the chunks. */
static guint64
cpu_ns (clockid_t clock)
{
  struct timespec ts;

  clock_gettime (clock, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + (guint64) ts.tv_nsec;
}

static void
run_tight (Bench * b, Config * configs, PacketRing * ring)
{
  gdouble samples[N_CONFIGS][TIGHT_CHUNKS], all[N_CONFIGS][TIGHT_CHUNKS];
  guint64 t0, p0;
  guint r, c, i;

  for (r = 0; r < TIGHT_CHUNKS; r++) {
    for (c = 0; c < N_CONFIGS; c++) {
      /* what the previous configuration's worker still has to drain is
       * not this one's */
      g_usleep (20000);
      p0 = cpu_ns (CLOCK_PROCESS_CPUTIME_ID);
      t0 = cpu_ns (CLOCK_THREAD_CPUTIME_ID);
      for (i = 0; i < TIGHT_CHUNK; i++)
        push_packet (&b->slots[c][0], ring, b->seqs[c][0]++, configs[c].label);
      samples[c][r] = (gdouble) (cpu_ns (CLOCK_THREAD_CPUTIME_ID) - t0) / TIGHT_CHUNK;
      g_usleep (20000);         /* and this one's worker drains its share */
      all[c][r] = (gdouble) (cpu_ns (CLOCK_PROCESS_CPUTIME_ID) - p0) / TIGHT_CHUNK;
    }
  }
  for (c = 0; c < N_CONFIGS; c++) {
    configs[c].tight_ns = bench_median (samples[c], TIGHT_CHUNKS);
    configs[c].tight_all_ns = bench_median (all[c], TIGHT_CHUNKS);
  }
}

/* Paced, each configuration in turn, round-robin over its COLD_SLOTS
 * pipelines, caches thrashed before each push, each push timed alone;
 * median ns of one push (a mean would mostly measure who else got the CPU
 * meanwhile). */
static void
run_cold (Bench * b, Config * configs, PacketRing * ring)
{
  gdouble *samples[N_CONFIGS];
  guint64 next = bench_now_ns (), t0;
  guint i, c;

  for (c = 0; c < N_CONFIGS; c++)
    samples[c] = g_new (gdouble, COLD_PACKETS);
  for (i = 0; i < COLD_PACKETS; i++) {
    guint s = i % COLD_SLOTS;

    for (c = 0; c < N_CONFIGS; c++) {
      bench_pace (&next, G_GUINT64_CONSTANT (1000000000) / BENCH_COLD_RATE);
      bench_thrash_caches ();
      t0 = bench_now_ns ();
      push_packet (&b->slots[c][s], ring, b->seqs[c][s]++, configs[c].label);
      samples[c][i] = (gdouble) (bench_now_ns () - t0);
    }
  }
  for (c = 0; c < N_CONFIGS; c++) {
    configs[c].cold_ns = bench_median (samples[c], COLD_PACKETS);
    g_free (samples[c]);
  }
}

static void
print_row (const Config * config, gdouble value, gdouble base, gdouble identity_own,
    gboolean is_base)
{
  gchar own[32] = "-", ratio[32] = "-";

  if (!is_base) {
    g_snprintf (own, sizeof (own), "%.1f", value - base);
    if (identity_own > 0)
      g_snprintf (ratio, sizeof (ratio), "%.2f", (value - base) / identity_own);
  }
  printf ("   %-28s %9.1f %9s %9s %s%s%s\n", config->label, value, own, ratio,
      config->note ? "[" : "", config->note ? config->note : "", config->note ? "]" : "");
}

/* cold: 0 tight (streaming thread), 1 cold, 2 tight (all threads) */
static void
print_table (const gchar * title, const Config * configs, gint cold, BenchSummary * summary)
{
  gdouble base, identity_own, vdm_auto_own;
  guint c;

#define VALUE(c) (cold == 1 ? configs[c].cold_ns : cold == 2 ? configs[c].tight_all_ns \
    : configs[c].tight_ns)
  base = VALUE (0);
  identity_own = VALUE (1) - base;
  vdm_auto_own = VALUE (3) - base;
  printf ("%s\n   %-28s %9s %9s %9s\n", title, "pipeline", "ns/buf", "own", "x ident");
  for (c = 0; c < N_CONFIGS; c++)
    print_row (&configs[c], VALUE (c), base, identity_own, c == 0);
#undef VALUE
  if (cold == 1) {
    summary->element_cold_ns = vdm_auto_own;
    summary->identity_cold_ns = identity_own;
  } else if (cold == 2) {
    summary->element_tight_all_ns = vdm_auto_own;
    summary->identity_tight_all_ns = identity_own;
  } else {
    summary->element_tight_ns = vdm_auto_own;
    summary->identity_tight_ns = identity_own;
  }
}

void
bench_element (BenchSummary * summary)
{
  /* identity's default (silent=false) formats a last-message string per
   * buffer: silent=true is the bare passthrough to compare with. */
  Config configs[N_CONFIGS] = {
    {"baseline (src ! fakesink)", NULL, NULL},
    {"identity silent=true", "identity", "silent=true"},
    {"vdropmon collector=none", "vdropmon", "collector=none"},
    {"vdropmon collector=auto", "vdropmon", "collector=auto"},
  };
  Bench *b = g_new0 (Bench, 1);
  PacketRing ring;
  guint s, c;

  packet_ring_init (&ring);
  for (c = 0; c < N_CONFIGS; c++)
    for (s = 0; s < COLD_SLOTS; s++)
      slot_start (&b->slots[c][s], &configs[c]);
  run_tight (b, configs, &ring);
  run_cold (b, configs, &ring);
  for (c = 0; c < N_CONFIGS; c++)
    for (s = 0; s < COLD_SLOTS; s++)
      slot_stop (&b->slots[c][s], &configs[c]);
  packet_ring_clear (&ring);
  g_free (b);

  print_table ("a) element, streaming-thread cost per RTP buffer of 1200 bytes\n"
      "   tight: 20 chunks of 50,000 buffers back to back per configuration, alternating; "
      "median chunk;\n   the pushing (streaming) thread's CPU time", configs, 0, summary);
  print_table ("   tight, all-in: the same chunks, the whole process's CPU time (the element's "
      "worker\n   draining what the streaming thread handed over, the collector)", configs, 2,
      summary);
  print_table ("   cold: 4,000 buffers/s, the configurations in turn, each round-robin over its "
      "16 pipelines,\n   caches thrashed before each push, each push timed alone (wall); "
      "median of 3,000 pushes", configs, 1, summary);
  printf ("   own: minus the baseline; x ident: own cost over identity silent=true's.\n\n");
  /* `buffers` counts those the monitor saw: the others are the unobserved */
  if (configs[3].buffers + configs[3].unobserved)
    summary->element_unobserved_fraction = (gdouble) configs[3].unobserved
        / (configs[3].buffers + configs[3].unobserved);
  for (c = 0; c < N_CONFIGS; c++)
    g_free (configs[c].note);
}
