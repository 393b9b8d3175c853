/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * c) Flood: FLOOD_PIPES real pipelines `udpsrc buffer-size=65536 ! vdropmon
 *    ! fakesink`, flooded over loopback by FLOOD_SENDERS threads for
 *    FLOOD_SECONDS (bench_flood_send.c: sendmmsg of UDP GSO messages, each
 *    FLOOD_GSO_SEGMENTS small RTP datagrams, cut apart on the receiving
 *    socket). Most datagrams overflow the sockets: the drops/s reached, and
 *    whether every drop is accounted for: per socket, the sum of the `count`
 *    of the element's kernel vdropmon-drop messages (those of lost events
 *    included, count-only) must equal the kernel's own per-socket counter
 *    (/proc/net/udp `drops`), every datagram sent must be either dropped
 *    there or received, and each pipeline must keep passing buffers every
 *    second of it. A message may come late (the last batch, the count-only
 *    message of lost events): the check waits for it, up to LATE_MAX_US
 *    after the settle, and says how late it was. First the same flood for CEILING_SECONDS with identity
 *    instead of vdropmon: what this host carries at all.
 *
 *    Knobs (for trying other shapes; the defaults are the benchmark):
 *    VDM_BENCH_FLOOD_GSO (datagrams per message, 1 = plain sendmmsg),
 *    VDM_BENCH_FLOOD_SENDERS, VDM_BENCH_FLOOD_PIPES, VDM_BENCH_FLOOD_BATCH
 *    (messages per sendmmsg), VDM_BENCH_FLOOD_RCVBUF (udpsrc buffer-size).
 */
#include "bench_parts.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench_flood_send.h"
#include "bench_pipes.h"
#include "bench_threads.h"
#include "bench_util.h"
#include "udp_proc.h"

#define FLOOD_MAX_PIPES 16
#define FLOOD_PIPES 4
#define FLOOD_SENDERS 3
#define FLOOD_SECONDS 10
#define FLOOD_PACKET_SIZE 64
#define FLOOD_GSO_SEGMENTS 64
#define FLOOD_RCVBUF 65536
#define CEILING_SECONDS 3
#define START_US (500 * 1000)   /* the workers find and watch the sockets */
#define SETTLE_US (1500 * 1000) /* batch-interval, worker round, ring drain */
#define LATE_STEP_US (250 * 1000)
#define LATE_MAX_US (10 * 1000 * 1000)  /* a message later than this counts as missing */
#define COLLECTOR_THREAD "vdm-collector"

typedef struct
{
  guint pipes;
  gint rcvbuf;
  FloodSendPlan send;
} FloodShape;

/* What the flood with vdropmon saw, second by second and in total. */
typedef struct
{
  guint64 passed[FLOOD_MAX_PIPES];      /* buffers during the flood */
  guint good_seconds;           /* every pipeline passed buffers */
  gdouble min_drops_per_s, max_drops_per_s;
  guint64 collector_cpu_ns, senders_cpu_ns;
  guint64 collector_waits, collector_preempted;   /* its context switches */
  guint64 collector_runqueue_ns;        /* runnable, waiting for a CPU */
  guint64 late_ms;              /* after the settle, until messages == kernel */
  guint64 refused, backlog_drops;       /* sends refused (ENOBUFS), host backlog drops */
  guint64 bpf_run_ns, bpf_runs;
  guint bpf_programs;
} FloodWatch;

static guint
env_uint (const gchar * name, guint fallback, guint max)
{
  const gchar *value = g_getenv (name);

  return value && *value ? CLAMP ((guint) atoi (value), 1, max) : fallback;
}

static FloodShape
flood_shape (void)
{
  FloodShape shape;

  shape.pipes = env_uint ("VDM_BENCH_FLOOD_PIPES", FLOOD_PIPES, FLOOD_MAX_PIPES);
  shape.rcvbuf = (gint) env_uint ("VDM_BENCH_FLOOD_RCVBUF", FLOOD_RCVBUF, 1 << 30);
  shape.send.n_threads = env_uint ("VDM_BENCH_FLOOD_SENDERS", FLOOD_SENDERS, 64);
  shape.send.gso_segments = env_uint ("VDM_BENCH_FLOOD_GSO", FLOOD_GSO_SEGMENTS,
      FLOOD_MAX_GSO_SEGMENTS);
  shape.send.packet_size = FLOOD_PACKET_SIZE;
  /* GSO: one message per destination per call (~256 datagrams); plain:
   * the 32 datagrams per call of before. */
  shape.send.messages_per_call = env_uint ("VDM_BENCH_FLOOD_BATCH",
      shape.send.gso_segments > 1 ? shape.pipes : 32, FLOOD_MAX_BATCH);
  return shape;
}

/* Packets dropped host-wide because a CPU's receive backlog was full
 * (/proc/net/softnet_stat, second column): before any socket. */
static guint64
backlog_drops (void)
{
  gchar *text = NULL, **lines;
  guint64 total = 0;
  guint i;

  if (!g_file_get_contents ("/proc/net/softnet_stat", &text, NULL, NULL))
    return 0;
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i]; i++) {
    gchar **fields = g_strsplit (lines[i], " ", 3);

    if (fields[0] && fields[1])
      total += g_ascii_strtoull (fields[1], NULL, 16);
    g_strfreev (fields);
  }
  g_strfreev (lines);
  g_free (text);
  return total;
}

static guint64
kernel_drops (BenchPipe * pipe)
{
  uint64_t drops = 0;

  return vdm_udp_proc_drops (pipe->fd, &drops) == 0 ? drops : 0;
}

static guint64
all_kernel_drops (BenchPipe * pipes, guint n)
{
  guint64 total = 0;
  guint p;

  for (p = 0; p < n; p++)
    total += kernel_drops (&pipes[p]);
  return total;
}

static gboolean
start_pipes (BenchPipe * pipes, const FloodShape * shape, const gchar * element,
    struct sockaddr_in *dst)
{
  guint p;

  for (p = 0; p < shape->pipes; p++) {
    if (!bench_pipe_start (&pipes[p], element, shape->rcvbuf)) {
      while (p-- > 0)
        bench_pipe_stop (&pipes[p]);
      return FALSE;
    }
    dst[p] = pipes[p].addr;
  }
  g_usleep (START_US);
  return TRUE;
}

static void
stop_pipes (BenchPipe * pipes, guint n)
{
  guint p;

  for (p = 0; p < n; p++)
    bench_pipe_stop (&pipes[p]);
}

/* Every second: whether every pipeline passed a buffer, and the drop rate. */
static void
watch_flood (BenchPipe * pipes, guint n, FloodWatch * w)
{
  guint64 last[FLOOD_MAX_PIPES], last_drops = all_kernel_drops (pipes, n);
  guint64 last_time = bench_now_ns ();
  guint s, p;

  w->min_drops_per_s = G_MAXDOUBLE;
  for (p = 0; p < n; p++)
    last[p] = bench_pipe_stat (&pipes[p], "buffers");
  for (s = 0; s < FLOOD_SECONDS; s++) {
    gboolean all = TRUE;
    guint64 drops, now_time;
    gdouble rate;

    g_usleep (G_USEC_PER_SEC);
    for (p = 0; p < n; p++) {
      guint64 now = bench_pipe_stat (&pipes[p], "buffers");
      all = all && now > last[p];
      w->passed[p] += now - last[p];
      last[p] = now;
    }
    drops = all_kernel_drops (pipes, n);
    now_time = bench_now_ns ();
    rate = (drops - last_drops) / ((now_time - last_time) / 1e9);
    w->min_drops_per_s = MIN (w->min_drops_per_s, rate);
    w->max_drops_per_s = MAX (w->max_drops_per_s, rate);
    last_drops = drops;
    last_time = now_time;
    w->good_seconds += all;
  }
}

/* Per socket: messages == kernel. Returns whether all agree; adds up the
 * totals into the summary and *received (datagrams the pipelines read). */
static gboolean
report_sockets (BenchPipe * pipes, guint n, const guint64 * drops_before, const FloodWatch * w,
    BenchSummary * summary, guint64 * received)
{
  gboolean all_ok = TRUE;
  guint p;

  printf ("   %-6s %10s %10s %10s %10s %9s %9s %s\n", "socket", "kernel", "messages", "ev.lost",
      "counters", "messages", "buffers", "");
  for (p = 0; p < n; p++) {
    guint64 kernel = kernel_drops (&pipes[p]) - drops_before[p];
    guint64 lost = bench_pipe_stat (&pipes[p], "events-lost");
    guint64 counted = bench_pipe_stat (&pipes[p], "kernel-drops");
    guint64 in_messages = (guint64) g_atomic_pointer_get (&pipes[p].kernel_drop_count);
    /* Since the events-lost path (issue 9 #6) the drops of lost events come
     * as count-only vdropmon-drop messages too: every drop is in a message,
     * events-lost of them without details. */
    gboolean ok = in_messages == kernel && lost <= in_messages;

    printf ("   %-6u %10" G_GUINT64_FORMAT " %10" G_GUINT64_FORMAT " %10" G_GUINT64_FORMAT
        " %10" G_GUINT64_FORMAT " %9" G_GINT64_FORMAT " %9" G_GUINT64_FORMAT " %s\n",
        ntohs (pipes[p].addr.sin_port), kernel, in_messages, lost, counted,
        (gint64) g_atomic_pointer_get (&pipes[p].drop_messages), w->passed[p],
        ok ? "ok" : "MISMATCH: messages != kernel");
    all_ok = all_ok && ok;
    summary->flood_kernel_drops += kernel;
    summary->flood_messages += in_messages;
    summary->flood_events_lost += lost;
    *received += bench_pipe_stat (&pipes[p], "buffers")
        + bench_pipe_stat (&pipes[p], "packets-unobserved");
  }
  return all_ok;
}

/* Where the time went: the senders, the collector thread that drains the
 * event ring, and every kfree_skb program of the host. */
static void
report_costs (const FloodWatch * w, const BenchSummary * s, gdouble seconds)
{
  guint64 delivered = s->flood_kernel_drops - MIN (s->flood_kernel_drops, s->flood_events_lost);

  printf ("   drops/s per second: %.0f to %.0f; events lost to a full ring: %.2f %% of the "
      "drops\n", w->min_drops_per_s, w->max_drops_per_s,
      s->flood_kernel_drops ? 100.0 * s->flood_events_lost / s->flood_kernel_drops : 0);
  printf ("   CPU, of one core: senders %.0f %%, collector thread (%s, drains every 5 ms) "
      "%.1f %% = %.0f ns per event delivered (%.0f events/s)\n",
      100 * w->senders_cpu_ns / 1e9 / seconds, COLLECTOR_THREAD,
      100 * w->collector_cpu_ns / 1e9 / seconds,
      delivered ? (gdouble) w->collector_cpu_ns / delivered : 0, delivered / seconds);
  printf ("   collector thread: %.0f waits/s (its poll every 5 ms is 200/s; the rest: "
      "locks), %.0f preemptions/s, runnable but without a CPU %.1f %% of the time\n",
      w->collector_waits / seconds, w->collector_preempted / seconds,
      100 * w->collector_runqueue_ns / 1e9 / seconds);
  if (w->bpf_runs)
    printf ("   kfree_skb programs loaded on the host: %u (every drop runs each; 1 is this "
        "process's): %.0f ns per run, %.0f runs/s\n", w->bpf_programs,
        (gdouble) w->bpf_run_ns / w->bpf_runs, w->bpf_runs / seconds);
  else
    printf ("   kfree_skb programs loaded on the host: %u (run times not available)\n",
        w->bpf_programs);
}

static gboolean
messages_complete (BenchPipe * pipes, guint n, const guint64 * drops_before)
{
  guint p;

  for (p = 0; p < n; p++)
    if ((guint64) g_atomic_pointer_get (&pipes[p].kernel_drop_count)
        != kernel_drops (&pipes[p]) - drops_before[p])
      return FALSE;
  return TRUE;
}

/* A drop posted late is not silent: waits (bounded) until every socket's
 * messages add up to its kernel counter; how long it took is reported. */
static guint64
wait_for_messages (BenchPipe * pipes, guint n, const guint64 * drops_before)
{
  guint64 waited = 0;

  while (!messages_complete (pipes, n, drops_before) && waited < LATE_MAX_US) {
    g_usleep (LATE_STEP_US);
    waited += LATE_STEP_US;
  }
  return waited / 1000;
}

static void
report (BenchPipe * pipes, const FloodShape * shape, const guint64 * drops_before,
    const FloodWatch * w, guint64 sent, gdouble seconds, BenchSummary * summary)
{
  guint64 received = 0, outside;

  summary->flood_accounted = report_sockets (pipes, shape->pipes, drops_before, w, summary,
      &received);
  summary->flood_drops_per_s = summary->flood_kernel_drops / seconds;
  summary->flood_sent_per_s = sent / seconds;
  /* Every datagram sent is dropped at its socket or read by udpsrc; the
   * rest was lost before the socket (backlog, memory) or is still queued. */
  outside = sent - MIN (sent, summary->flood_kernel_drops + received);
  summary->flood_outside_sockets = outside;
  printf ("   %" G_GUINT64_FORMAT " datagrams sent, %" G_GUINT64_FORMAT " dropped at the "
      "sockets, %" G_GUINT64_FORMAT " received, %" G_GUINT64_FORMAT " neither, in %.1f s: "
      "%.0f drops/s (%.0f sent/s)\n", sent, summary->flood_kernel_drops, received, outside,
      seconds, summary->flood_drops_per_s, summary->flood_sent_per_s);
  printf ("   kernel: /proc/net/udp drops; messages: sum of `count` of kernel vdropmon-drop "
      "messages; ev.lost: stats\n   events-lost; counters: stats kernel-drops (the per-CPU "
      "counters); buffers: passed during the flood;\n   received: stats buffers + "
      "packets-unobserved after the flood.\n");
  printf ("   not sent: %" G_GUINT64_FORMAT " sendmmsg calls refused (ENOBUFS); host-wide "
      "backlog drops (softnet_stat): %" G_GUINT64_FORMAT "\n", w->refused, w->backlog_drops);
  report_costs (w, summary, seconds);
  if (w->late_ms)
    printf ("   the last drops' messages came %" G_GUINT64_FORMAT " ms after the %d ms settle%s\n",
        w->late_ms, SETTLE_US / 1000, summary->flood_accounted ? "" : " (and not all of them)");
}

/* The same flood for a few seconds without vdropmon: what this host's
 * loopback carries at all, the ceiling for the drops/s with it. */
static void
flood_ceiling (const FloodShape * shape, BenchSummary * summary)
{
  BenchPipe pipes[FLOOD_MAX_PIPES];
  struct sockaddr_in dst[FLOOD_MAX_PIPES];
  guint64 before, start, sent, refused, backlog;
  gdouble seconds;

  if (!start_pipes (pipes, shape, "identity silent=true", dst))
    return;
  before = all_kernel_drops (pipes, shape->pipes);
  backlog = backlog_drops ();
  start = bench_now_ns ();
  sent = flood_senders_stop (flood_senders_start (dst, shape->pipes, &shape->send,
          CEILING_SECONDS * G_GUINT64_CONSTANT (1000000000)), NULL, &refused);
  seconds = (bench_now_ns () - start) / 1e9;
  backlog = backlog_drops () - backlog;
  summary->flood_ceiling_per_s = (all_kernel_drops (pipes, shape->pipes) - before) / seconds;
  stop_pipes (pipes, shape->pipes);
  printf ("   ceiling, identity instead of vdropmon, %d s: %.0f drops/s (%.0f sent/s; "
      "%" G_GUINT64_FORMAT " sends refused, %" G_GUINT64_FORMAT " backlog drops)\n",
      CEILING_SECONDS, summary->flood_ceiling_per_s, sent / seconds, refused, backlog);
}

static void
print_plan (const FloodShape * shape)
{
  printf ("c) flood: %u pipelines udpsrc buffer-size=%d ! vdropmon ! fakesink, %u sender "
      "threads\n   flat out for %d s over loopback: sendmmsg of %u messages, each %u x %zu-byte "
      "RTP datagrams%s\n", shape->pipes, shape->rcvbuf, shape->send.n_threads, FLOOD_SECONDS,
      shape->send.messages_per_call, shape->send.gso_segments, shape->send.packet_size,
      shape->send.gso_segments > 1 ? " (UDP GSO: cut apart at the receiving socket)" : "");
}

void
bench_flood (BenchSummary * summary)
{
  FloodShape shape = flood_shape ();
  BenchPipe pipes[FLOOD_MAX_PIPES];
  struct sockaddr_in dst[FLOOD_MAX_PIPES];
  guint64 drops_before[FLOOD_MAX_PIPES], start, sent, bpf_ns0, bpf_runs0, backlog_before;
  BenchThreads *threads_before, *threads_after;
  BenchThreadTotals collector;
  FloodWatch watch = { 0 };
  FloodSenders *senders;
  gchar *why = NULL;
  gdouble seconds;
  guint p;

  print_plan (&shape);
  if (geteuid () != 0) {
    printf ("   skipped: needs root\n\n");
    return;
  }
  if (!bench_bpf_stats_enable (&why)) {
    printf ("   (BPF run times not measured: %s)\n", why);
    g_free (why);
  }
  flood_ceiling (&shape, summary);
  if (!start_pipes (pipes, &shape, "vdropmon", dst)) {
    printf ("   skipped: a pipeline does not start\n\n");
    return;
  }
  for (p = 0; p < shape.pipes; p++)
    drops_before[p] = kernel_drops (&pipes[p]);
  backlog_before = backlog_drops ();
  threads_before = bench_threads_snapshot ();
  bench_bpf_programs ("kfree_skb", &bpf_ns0, &bpf_runs0);

  start = bench_now_ns ();
  senders = flood_senders_start (dst, shape.pipes, &shape.send,
      FLOOD_SECONDS * G_GUINT64_CONSTANT (1000000000));
  summary->flood_gso_segments = flood_senders_gso (senders);
  watch_flood (pipes, shape.pipes, &watch);
  sent = flood_senders_stop (senders, &watch.senders_cpu_ns, &watch.refused);
  watch.backlog_drops = backlog_drops () - backlog_before;
  seconds = (bench_now_ns () - start) / 1e9;
  threads_after = bench_threads_snapshot ();
  bench_threads_named (threads_before, threads_after, COLLECTOR_THREAD, &collector);
  bench_threads_free (threads_before);
  bench_threads_free (threads_after);
  watch.collector_cpu_ns = collector.run_ns;
  watch.collector_runqueue_ns = collector.wait_ns;
  watch.collector_waits = collector.voluntary;
  watch.collector_preempted = collector.involuntary;
  watch.bpf_programs = bench_bpf_programs ("kfree_skb", &watch.bpf_run_ns, &watch.bpf_runs);
  watch.bpf_run_ns -= MIN (watch.bpf_run_ns, bpf_ns0);
  watch.bpf_runs -= MIN (watch.bpf_runs, bpf_runs0);
  summary->flood_kfree_programs = watch.bpf_programs;
  g_usleep (SETTLE_US);
  watch.late_ms = summary->flood_late_ms = wait_for_messages (pipes, shape.pipes, drops_before);

  report (pipes, &shape, drops_before, &watch, sent, seconds, summary);
  summary->flood_kept_passing = watch.good_seconds == FLOOD_SECONDS;
  printf ("   every pipeline passed buffers in %u of %d seconds\n\n", watch.good_seconds,
      FLOOD_SECONDS);
  stop_pipes (pipes, shape.pipes);
}
