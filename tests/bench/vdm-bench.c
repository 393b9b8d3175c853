/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdm-bench — what vdropmon costs.
 *
 * a) In the streaming thread, per buffer, next to identity in the same run:
 *    real RTP packets (1200-byte H.264 FU-A, one memory each, as udpsrc
 *    makes them) are pushed from a bare source pad into X ! fakesink, for
 *    X = nothing (the baseline), identity, vdropmon collector=none and
 *    vdropmon collector=auto. The configurations alternate, each runs
 *    REPEATS times; medians are printed. A bare pad rather than appsrc or
 *    fakesrc keeps the source's own cost (queues, allocation) out of the
 *    numbers, so that "minus baseline" is the element's cost.
 *
 * b) In the kernel, per invocation of the kfree_skb BPF program, from the
 *    kernel's own run-time statistics (kernel.bpf_stats_enabled=1 while it
 *    runs, restored at exit): drops on a socket nobody watches, drops on a
 *    closed port (no socket: the flow path), and drops on a watched socket.
 *    Drops are made by flooding, over loopback only and a bounded number of
 *    times, a UDP socket whose receive buffer is tiny and never read.
 *    Needs root (CAP_BPF + CAP_PERFMON, and writing the sysctl).
 *
 * Not a test: it prints a table. Bounded to well under a minute.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gst/gst.h>

#include "collector.h"

#define N_BUFFERS 1000000
#define REPEATS 5
#define RING 256                /* distinct pre-made packets pushed in turn */
#define PACKET_SIZE 1200
#define RTP_HEADER 12
#define FLOOD_PACKETS 100000
#define STALLED_PACKETS 4000
#define FLOOD_TIME_LIMIT_NS (8 * GST_SECOND)
#define H264_CAPS "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"
#define BPF_STATS_SYSCTL "/proc/sys/kernel/bpf_stats_enabled"

static guint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * GST_SECOND + (guint64) ts.tv_nsec;
}

/* An RTP packet carrying a middle FU-A fragment of a non-IDR slice. */
static void
write_rtp_packet (guint8 * p, gsize size, guint16 seq, guint32 ts)
{
  gsize i;

  p[0] = 0x80;
  p[1] = 96;
  p[2] = seq >> 8;
  p[3] = seq & 0xff;
  p[4] = ts >> 24;
  p[5] = (ts >> 16) & 0xff;
  p[6] = (ts >> 8) & 0xff;
  p[7] = ts & 0xff;
  p[8] = 0x11;
  p[9] = 0x22;
  p[10] = 0x33;
  p[11] = 0x44;
  p[12] = (3 << 5) | 28;
  p[13] = 1;
  for (i = RTP_HEADER + 2; i < size; i++)
    p[i] = (guint8) i;
}

static void
set_seq (guint8 * p, guint16 seq, guint32 ts)
{
  p[2] = seq >> 8;
  p[3] = seq & 0xff;
  p[4] = ts >> 24;
  p[5] = (ts >> 16) & 0xff;
  p[6] = (ts >> 8) & 0xff;
  p[7] = ts & 0xff;
}

/* ------------------------------------------------------------------------ */
/* a) Per-buffer cost in the streaming thread.                               */

typedef struct
{
  const gchar *label;
  const gchar *factory;         /* NULL: source pad straight into fakesink */
  const gchar *properties;      /* "name=value name=value" */
  gdouble ns[REPEATS];
  gchar *note;
} Config;

typedef struct
{
  GstBuffer *buffers[RING];
  guint8 *data[RING];           /* written between pushes: we own the memory */
} PacketRing;

static void
packet_ring_init (PacketRing * ring)
{
  guint i;

  for (i = 0; i < RING; i++) {
    ring->data[i] = g_malloc (PACKET_SIZE);
    write_rtp_packet (ring->data[i], PACKET_SIZE, i, 0);
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
  GstCaps *caps = gst_caps_from_string (H264_CAPS);
  GstSegment segment;

  gst_pad_push_event (srcpad, gst_event_new_stream_start ("vdm-bench"));
  gst_pad_push_event (srcpad, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (srcpad, gst_event_new_segment (&segment));
}

static gchar *
collector_note (GstElement * element)
{
  GstStructure *stats = NULL;
  gchar *note;

  g_object_get (element, "stats", &stats, NULL);
  note = g_strdup_printf ("%s: %s", gst_structure_get_string (stats, "collector"),
      gst_structure_get_string (stats, "collector-status"));
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

/* Pushes `n` packets, seqs continuing from *seq; returns ns per buffer. */
static gdouble
run_once (Config * config, PacketRing * ring, guint n, guint32 * seq)
{
  GstElement *pipeline = gst_pipeline_new (NULL), *sink = make_sink (), *element = NULL;
  GstPad *srcpad = gst_pad_new ("src", GST_PAD_SRC), *sinkpad;
  guint64 start, elapsed;
  guint i;

  gst_bin_add (GST_BIN (pipeline), sink);
  if (config->factory) {
    element = gst_element_factory_make (config->factory, NULL);
    g_assert (element);
    set_properties (element, config->properties);
    gst_bin_add (GST_BIN (pipeline), element);
    g_assert (gst_element_link (element, sink));
  }
  sinkpad = gst_element_get_static_pad (element ? element : sink, "sink");
  gst_pad_set_active (srcpad, TRUE);
  g_assert (gst_pad_link (srcpad, sinkpad) == GST_PAD_LINK_OK);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_printerr ("%s: cannot start\n", config->label);
    exit (1);
  }
  gst_element_get_state (pipeline, NULL, NULL, GST_CLOCK_TIME_NONE);
  push_stream_start (srcpad);

  start = now_ns ();
  for (i = 0; i < n; i++, (*seq)++) {
    guint k = *seq % RING;
    GstBuffer *buf = ring->buffers[k];

    /* Continuous seqs (no gap to report), a frame every 8 packets. */
    set_seq (ring->data[k], *seq & 0xffff, *seq / 8 * 3000);
    GST_BUFFER_PTS (buf) = (GstClockTime) (*seq / 8) * 33 * GST_MSECOND;
    if (gst_pad_push (srcpad, gst_buffer_ref (buf)) != GST_FLOW_OK) {
      g_printerr ("%s: push failed\n", config->label);
      exit (1);
    }
  }
  elapsed = now_ns () - start;

  if (element && g_str_equal (config->factory, "vdropmon") && !config->note)
    config->note = collector_note (element);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_pad_unlink (srcpad, sinkpad);
  gst_object_unref (sinkpad);
  gst_object_unref (srcpad);
  gst_object_unref (pipeline);
  return (gdouble) elapsed / n;
}

static int
compare_doubles (const void *a, const void *b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return (x > y) - (x < y);
}

static gdouble
median (const gdouble * values, guint n)
{
  gdouble sorted[REPEATS];

  memcpy (sorted, values, n * sizeof (gdouble));
  qsort (sorted, n, sizeof (gdouble), compare_doubles);
  return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

static void
bench_element (void)
{
  /* identity's default (silent=false) formats a last-message string per
   * buffer: silent=true is the bare passthrough to compare with. */
  Config configs[] = {
    {"baseline (src ! fakesink)", NULL, NULL},
    {"identity silent=true", "identity", "silent=true"},
    {"vdropmon collector=none", "vdropmon", "collector=none"},
    {"vdropmon collector=auto", "vdropmon", "collector=auto"},
    {"identity (silent=false)", "identity", NULL},
  };
  const guint n_configs = G_N_ELEMENTS (configs);
  gdouble med[G_N_ELEMENTS (configs)], base, identity_cost;
  guint32 seq = 0;
  PacketRing ring;
  guint r, c;

  packet_ring_init (&ring);
  /* Warm caches and the registry; not measured. */
  for (c = 0; c < n_configs; c++)
    run_once (&configs[c], &ring, N_BUFFERS / 20, &seq);
  for (r = 0; r < REPEATS; r++)
    for (c = 0; c < n_configs; c++)
      configs[c].ns[r] = run_once (&configs[c], &ring, N_BUFFERS, &seq);
  packet_ring_clear (&ring);

  for (c = 0; c < n_configs; c++)
    med[c] = median (configs[c].ns, REPEATS);
  base = med[0];
  identity_cost = med[1] - base;

  printf ("a) streaming-thread cost, %d RTP packets of %d bytes per run, median of %d runs\n",
      N_BUFFERS, PACKET_SIZE, REPEATS);
  printf ("   %-28s %9s %9s %9s %9s %s\n", "pipeline", "ns/buf", "-base", "x ident", "min..max",
      "");
  for (c = 0; c < n_configs; c++) {
    gdouble lo = configs[c].ns[0], hi = configs[c].ns[0];
    gchar own[32] = "-", ratio[32] = "-";

    for (r = 1; r < REPEATS; r++) {
      lo = MIN (lo, configs[c].ns[r]);
      hi = MAX (hi, configs[c].ns[r]);
    }
    if (c > 0) {
      g_snprintf (own, sizeof (own), "%.1f", med[c] - base);
      if (identity_cost > 0)
        g_snprintf (ratio, sizeof (ratio), "%.2f", (med[c] - base) / identity_cost);
    }
    printf ("   %-28s %9.1f %9s %9s %4.0f..%-4.0f %s%s%s\n", configs[c].label, med[c], own, ratio,
        lo, hi, configs[c].note ? "[" : "", configs[c].note ? configs[c].note : "",
        configs[c].note ? "]" : "");
    g_free (configs[c].note);
  }
  printf ("   -base: minus the baseline (the element's own cost); x ident: that over "
      "identity silent=true's.\n   Whole pipeline, vdropmon collector=none / identity "
      "silent=true: %.2f\n\n", med[2] / med[1]);
}

/* ------------------------------------------------------------------------ */
/* b) BPF program cost per invocation.                                       */

static gchar saved_stats_setting[16];
static gboolean stats_setting_changed;

static void
restore_bpf_stats (void)
{
  FILE *f;

  if (!stats_setting_changed)
    return;
  f = fopen (BPF_STATS_SYSCTL, "w");
  if (f) {
    fputs (saved_stats_setting, f);
    fclose (f);
  }
  stats_setting_changed = FALSE;
}

static void
on_signal (int sig)
{
  restore_bpf_stats ();
  signal (sig, SIG_DFL);
  raise (sig);
}

/* Returns FALSE (with *why) if the statistics cannot be switched on. */
static gboolean
enable_bpf_stats (gchar ** why)
{
  FILE *f = fopen (BPF_STATS_SYSCTL, "r");

  if (!f || !fgets (saved_stats_setting, sizeof (saved_stats_setting), f)) {
    *why = g_strdup_printf ("cannot read %s: %s", BPF_STATS_SYSCTL, g_strerror (errno));
    if (f)
      fclose (f);
    return FALSE;
  }
  fclose (f);
  g_strchomp (saved_stats_setting);
  f = fopen (BPF_STATS_SYSCTL, "w");
  if (!f || fputs ("1", f) < 0 || fclose (f) != 0) {
    *why = g_strdup_printf ("cannot write %s: %s", BPF_STATS_SYSCTL, g_strerror (errno));
    return FALSE;
  }
  stats_setting_changed = TRUE;
  atexit (restore_bpf_stats);
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);
  return TRUE;
}

static atomic_uint_fast64_t drops_delivered;

/* While set, the consumer callback blocks: the collector thread stops
 * reading the ring buffer, so the kernel stops waking it up. */
static GMutex stall_lock;
static GCond stall_cond;
static gboolean stall_consumer;

static void
count_drop (void *user_data, const vdm_drop * drop)
{
  gint64 give_up = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;

  atomic_fetch_add (&drops_delivered, 1);
  g_mutex_lock (&stall_lock);
  while (stall_consumer && g_cond_wait_until (&stall_cond, &stall_lock, give_up));
  g_mutex_unlock (&stall_lock);
}

static void
set_stall (gboolean stall)
{
  g_mutex_lock (&stall_lock);
  stall_consumer = stall;
  g_cond_broadcast (&stall_cond);
  g_mutex_unlock (&stall_lock);
}

/* A UDP socket on 127.0.0.1 that holds about one packet and is never read. */
static int
open_tiny_receiver (struct sockaddr_in *addr)
{
  int fd = socket (AF_INET, SOCK_DGRAM, 0), tiny = 1;
  socklen_t len = sizeof (*addr);

  memset (addr, 0, sizeof (*addr));
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (fd < 0 || setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &tiny, sizeof (tiny)) < 0
      || bind (fd, (struct sockaddr *) addr, sizeof (*addr)) < 0
      || getsockname (fd, (struct sockaddr *) addr, &len) < 0) {
    perror ("receiver socket");
    exit (1);
  }
  return fd;
}

/* A loopback port nobody listens on: bound, its number noted, closed. */
static struct sockaddr_in
closed_port (void)
{
  struct sockaddr_in addr;
  int fd = open_tiny_receiver (&addr);

  close (fd);
  return addr;
}

/* Sends up to n RTP packets to dst; returns how many went. */
static guint
flood (const struct sockaddr_in *dst, guint n)
{
  int fd = socket (AF_INET, SOCK_DGRAM, 0);
  guint8 packet[PACKET_SIZE];
  guint64 deadline = now_ns () + FLOOD_TIME_LIMIT_NS;
  guint sent = 0, i;

  write_rtp_packet (packet, sizeof (packet), 0, 0);
  for (i = 0; i < n && (i % 1024 || now_ns () < deadline); i++) {
    set_seq (packet, i & 0xffff, i / 8 * 3000);
    /* Unconnected: ICMP port unreachable must not fail later sends. */
    if (sendto (fd, packet, sizeof (packet), 0, (const struct sockaddr *) dst, sizeof (*dst)) > 0)
      sent++;
  }
  close (fd);
  return sent;
}

typedef struct
{
  guint64 kfree_time, kfree_count;
  guint64 ready_time, ready_count;
  guint64 matched, lost, delivered;
} ProgramSample;

static void
sample (vdm_source * source, ProgramSample * s)
{
  memset (s, 0, sizeof (*s));
  vdm_embedded_program_stats (source, VDM_PROGRAM_KFREE_SKB, &s->kfree_time, &s->kfree_count);
  if (vdm_embedded_program_stats (source, VDM_PROGRAM_SK_DATA_READY, &s->ready_time,
          &s->ready_count) < 0)
    s->ready_time = s->ready_count = 0;
  vdm_embedded_health (source, VDM_HEALTH_MATCHED, &s->matched);
  vdm_embedded_health (source, VDM_HEALTH_RINGBUF_LOST, &s->lost);
  s->delivered = atomic_load (&drops_delivered);
}

static void
print_case (const gchar * label, guint sent, const ProgramSample * a, const ProgramSample * b)
{
  guint64 runs = b->kfree_count - a->kfree_count, ready = b->ready_count - a->ready_count;
  gdouble ns = runs ? (gdouble) (b->kfree_time - a->kfree_time) / runs : 0;
  gdouble ready_ns = ready ? (gdouble) (b->ready_time - a->ready_time) / ready : 0;

  printf ("   %-34s %8u %10" G_GUINT64_FORMAT " %8.1f %8" G_GUINT64_FORMAT " %8" G_GUINT64_FORMAT
      " %8" G_GUINT64_FORMAT "   %8" G_GUINT64_FORMAT " %6.1f\n", label, sent, runs, ns,
      b->matched - a->matched, b->delivered - a->delivered, b->lost - a->lost, ready, ready_ns);
}

static void
measure (vdm_source * source, const gchar * label, const struct sockaddr_in *dst, guint n,
    gboolean stalled)
{
  ProgramSample before, after;
  guint sent;

  set_stall (stalled);
  sample (source, &before);
  sent = flood (dst, n);
  if (!stalled)
    g_usleep (100 * 1000);      /* the collector thread drains the ring buffer */
  sample (source, &after);
  set_stall (FALSE);
  g_usleep (100 * 1000);
  print_case (label, sent, &before, &after);
}

static void
bench_bpf (void)
{
  static const vdm_consumer consumer = { .on_drop = count_drop };
  struct sockaddr_in unwatched_addr, watched_addr, nobody = closed_port ();
  vdm_subscription *sub;
  vdm_source *source;
  vdm_watch_spec spec;
  char *error = NULL;
  gchar *why = NULL;
  int unwatched, watched, id;

  printf ("b) kfree_skb BPF program, ns per invocation (kernel.bpf_stats_enabled run time)\n");
  if (geteuid () != 0) {
    printf ("   skipped: needs root (loading the BPF program needs CAP_BPF + CAP_PERFMON, "
        "and %s must be set)\n", BPF_STATS_SYSCTL);
    return;
  }
  source = vdm_source_open_embedded (&error);
  if (!source) {
    printf ("   skipped: the collector does not load: %s\n", error);
    free (error);
    return;
  }
  if (!enable_bpf_stats (&why)) {
    printf ("   skipped: %s\n", why);
    g_free (why);
    vdm_source_unref (source);
    return;
  }
  sub = vdm_source_subscribe (source, &consumer, NULL);
  unwatched = open_tiny_receiver (&unwatched_addr);
  watched = open_tiny_receiver (&watched_addr);
  spec.fd = watched;
  memset (&spec.flow, 0, sizeof (spec.flow));
  id = vdm_source_watch (source, sub, &spec);
  if (id < 0) {
    printf ("   skipped: cannot watch a socket: %s\n", g_strerror (-id));
  } else {
    printf ("   loopback floods of %d packets of %d bytes into a never-read socket "
        "(SO_RCVBUF minimum)\n", FLOOD_PACKETS, PACKET_SIZE);
    printf ("   %-34s %8s %10s %8s %8s %8s %8s   %8s %6s\n", "drops on", "sent", "runs",
        "ns/run", "matched", "events", "ev.lost", "sk_ready", "ns/run");
    measure (source, "(i) unwatched socket", &unwatched_addr, FLOOD_PACKETS, FALSE);
    measure (source, "(i') closed port (no socket)", &nobody, FLOOD_PACKETS, FALSE);
    measure (source, "(ii) watched socket", &watched_addr, FLOOD_PACKETS, FALSE);
    /* Fewer than the ring buffer holds (1 MiB / ~150 bytes). */
    measure (source, "(ii') watched, consumer not waiting", &watched_addr, STALLED_PACKETS, TRUE);
    printf ("   runs: kfree_skb invocations (every drop on the system during the flood); "
        "matched: drops attributed to a watch;\n   events: reached the consumer; sk_ready: "
        "the queue-fill program, run per enqueued packet.\n   (ii') blocks the consumer after "
        "its first event, so the kernel does not wake it for each one:\n   (ii) - (ii') is "
        "the cost of the ring-buffer wakeup, counted in the program's run time.\n");
    vdm_source_unwatch (source, sub, (uint32_t) id);
  }
  close (unwatched);
  close (watched);
  vdm_source_unsubscribe (source, sub);
  vdm_source_unref (source);
  restore_bpf_stats ();
}

int
main (int argc, char **argv)
{
  guint64 start = now_ns ();

  /* Run from anywhere: find the plugin in the build tree. */
  if (!g_getenv ("GST_PLUGIN_PATH"))
    g_setenv ("GST_PLUGIN_PATH", VDM_PLUGIN_DIR, TRUE);
  if (!g_getenv ("GST_REGISTRY"))
    g_setenv ("GST_REGISTRY", VDM_BENCH_REGISTRY, TRUE);
  gst_init (&argc, &argv);
  if (!gst_element_factory_find ("vdropmon")) {
    g_printerr ("vdropmon not found (GST_PLUGIN_PATH=%s)\n", g_getenv ("GST_PLUGIN_PATH"));
    return 1;
  }
  if (!g_getenv ("VDM_BENCH_SKIP_ELEMENT"))
    bench_element ();
  bench_bpf ();
  printf ("\ntotal %.1f s\n", (now_ns () - start) / 1e9);
  return 0;
}
