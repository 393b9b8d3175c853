/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * d) Host: HOST_STREAMS pipelines `udpsrc ! X ! fakesink` in this process,
 *    each fed HOST_RATE RTP packets/s of 1200 bytes over loopback by a
 *    paced sender thread, X = identity silent=true or vdropmon
 *    (collector=auto), alternating in the same slot. Measured over
 *    HOST_SECONDS: the process's CPU time minus the sender's, plus the BPF
 *    programs' run time (kernel statistics); the difference between the
 *    two is what watching costs, per packet, per stream, and extrapolated to
 *    1,200 streams at 300 packets/s.
 */
#include "bench_parts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_pipes.h"
#include "bench_threads.h"
#include "bench_util.h"
#include "udp_proc.h"

#define HOST_RATE 300
#define HOST_SECONDS 6
#define HOST_WARMUP_US (1500 * 1000)
#define HOST_PAIRS 2            /* identity, vdropmon, identity, vdropmon */
#define HOST_SENDERS 1
#define PACKET_SIZE 1200

typedef struct
{
  gdouble cpu_ns, bpf_ns;
  guint64 packets, dropped;
  gdouble seconds;
  gdouble switches;             /* context switches per second per stream, all threads */
  BenchThreads *threads0, *threads1;
} SlotResult;

static guint64
sum_kernel_drops (BenchPipe * pipes, guint n)
{
  guint64 total = 0;
  uint64_t drops;
  guint i;

  for (i = 0; i < n; i++)
    if (vdm_udp_proc_drops (pipes[i].fd, &drops) == 0)
      total += drops;
  return total;
}

static guint
n_streams (void)
{
  const gchar *env = g_getenv ("VDM_BENCH_STREAMS");
  guint n = env ? (guint) atoi (env) : 200;

  return CLAMP (n, 1, 250);     /* the collector has 255 watch ids */
}

static gboolean
run_slot (const gchar * element, guint n, SlotResult * out)
{
  BenchPipe *pipes = g_new0 (BenchPipe, n);
  struct sockaddr_in *dst = g_new0 (struct sockaddr_in, n);
  BenchProgramStats bpf0 = { 0 }, bpf1 = { 0 };
  vdm_source *source = NULL;
  BenchSenders *senders;
  guint64 cpu0, cpu1, send_cpu0, send_cpu1, sent0, sent1, t0, t1, drops0, drops1;
  gboolean started = TRUE;
  char *error = NULL;
  guint i;

  for (i = 0; i < n && started; i++) {
    started = bench_pipe_start (&pipes[i], element, 0);
    dst[i] = pipes[i].addr;
  }
  if (started && g_str_has_prefix (element, "vdropmon"))
    source = vdm_source_open_embedded (&error);   /* the instance the elements share */
  free (error);
  if (started) {
    senders = bench_senders_start (dst, n, HOST_SENDERS, PACKET_SIZE, HOST_RATE,
        (HOST_SECONDS + 60) * G_GUINT64_CONSTANT (1000000000)); /* stopped below */
    g_usleep (HOST_WARMUP_US);
    if (source)
      bench_program_stats (source, &bpf0);
    cpu0 = bench_process_cpu_ns ();
    send_cpu0 = bench_senders_cpu_ns (senders);
    sent0 = bench_senders_sent (senders);
    drops0 = sum_kernel_drops (pipes, n);
    out->threads0 = bench_threads_snapshot ();
    t0 = bench_now_ns ();
    g_usleep (HOST_SECONDS * G_USEC_PER_SEC);
    if (source)
      bench_program_stats (source, &bpf1);
    cpu1 = bench_process_cpu_ns ();
    send_cpu1 = bench_senders_cpu_ns (senders);
    sent1 = bench_senders_sent (senders);
    drops1 = sum_kernel_drops (pipes, n);
    out->threads1 = bench_threads_snapshot ();
    t1 = bench_now_ns ();
    bench_senders_stop (senders);
    /* A sender thread's clock reads 0 once it ended: never subtract that. */
    out->cpu_ns = (gdouble) (cpu1 - cpu0)
        - (send_cpu1 >= send_cpu0 ? (gdouble) (send_cpu1 - send_cpu0) : 0);
    out->bpf_ns = (gdouble) (bpf1.kfree_ns - bpf0.kfree_ns) + (bpf1.ready_ns - bpf0.ready_ns);
    out->packets = sent1 - sent0;
    out->dropped = drops1 - drops0;
    out->seconds = (t1 - t0) / 1e9;
    out->switches = bench_threads_switches_per_stream (out->threads0, out->threads1,
        out->seconds, n);
  }
  if (source)
    vdm_source_unref (source);
  for (i = 0; i < n; i++)
    bench_pipe_stop (&pipes[i]);
  g_free (pipes);
  g_free (dst);
  return started;
}

static void
print_slot (const gchar * label, const SlotResult * r, guint n)
{
  gdouble total = r->cpu_ns + r->bpf_ns;

  printf ("   %-24s %8.1f %% %9.0f %9.0f %9.0f %8.0f/s %8" G_GUINT64_FORMAT " %8.3f %% %7.1f\n",
      label, 100.0 * total / (r->seconds * 1e9), r->cpu_ns / r->packets, r->bpf_ns / r->packets,
      total / r->packets, r->packets / r->seconds, r->dropped,
      100.0 * total / (r->seconds * 1e9) / n, r->switches);
  if (g_getenv ("VDM_BENCH_THREADS"))
    bench_threads_print (r->threads0, r->threads1, r->seconds, n);
  bench_threads_free (r->threads0);
  bench_threads_free (r->threads1);
}

/* VDM_BENCH_HOST_PAIRS: how many identity / vdropmon pairs (2). */
static guint
n_pairs (void)
{
  const gchar *env = g_getenv ("VDM_BENCH_HOST_PAIRS");
  guint n = env ? (guint) atoi (env) : HOST_PAIRS;

  return CLAMP (n, 1, 20);
}

void
bench_host (BenchSummary * summary)
{
  const gchar *elements[2] = { "identity silent=true", "vdropmon" };
  SlotResult result;
  gdouble per_packet[2] = { 0, 0 }, switches[2] = { 0, 0 }, extra, pps;
  guint n = n_streams (), pairs = n_pairs (), s;
  gchar *why = NULL;

  printf ("d) host: %u pipelines udpsrc ! X ! fakesink in one process, %d packets/s of %d bytes "
      "each over loopback,\n   %d s per slot, %u pairs of slots identity / vdropmon\n", n,
      HOST_RATE, PACKET_SIZE, HOST_SECONDS, pairs);
  if (geteuid () != 0) {
    printf ("   skipped: needs root (the collector)\n\n");
    return;
  }
  if (!bench_bpf_stats_enable (&why)) {
    printf ("   (BPF run time not counted: %s)\n", why);
    g_free (why);
  }
  printf ("   %-24s %10s %9s %9s %9s %10s %8s %10s %7s\n", "X", "CPU", "proc ns", "BPF ns",
      "ns/pkt", "sent", "dropped", "per stream", "cs/s/st");
  for (s = 0; s < 2 * pairs; s++) {
    memset (&result, 0, sizeof (result));
    if (!run_slot (elements[s % 2], n, &result)) {
      printf ("   skipped: %u pipelines do not start\n\n", n);
      return;
    }
    print_slot (elements[s % 2], &result, n);
    per_packet[s % 2] += (result.cpu_ns + result.bpf_ns) / result.packets / pairs;
    switches[s % 2] += result.switches / pairs;
  }
  extra = per_packet[1] - per_packet[0];
  pps = 1200.0 * HOST_RATE;
  summary->host_streams = n;
  summary->host_identity_ns_per_packet = per_packet[0];
  summary->host_vdropmon_ns_per_packet = per_packet[1];
  summary->host_extra_ns_per_packet = extra;
  summary->host_core_share_1200 = extra * pps / 1e9;
  summary->host_identity_switches = switches[0];
  summary->host_vdropmon_switches = switches[1];
  printf ("   CPU: receiving process minus the sender thread, plus the BPF programs' run time "
      "(%% of one core);\n   ns/pkt: per packet sent; dropped: by the kernel (the receivers did "
      "not keep up);\n   cs/s/st: context switches per second per stream, every thread of the "
      "process (VDM_BENCH_THREADS=1: by thread).\n   vdropmon minus identity: %.0f ns per "
      "packet, %.3f %% of a core per stream;\n   1,200 streams at 300 packets/s: %.1f %% of one "
      "core\n\n", extra, 100.0 * extra * HOST_RATE / 1e9, 100.0 * extra * pps / 1e9);
}
