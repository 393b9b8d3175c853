/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * b) What the BPF programs cost per invocation, from the kernel's own
 *    run-time statistics (kernel.bpf_stats_enabled=1 while it runs, restored
 *    at exit): kfree_skb for a drop on a socket nobody watches, for a drop
 *    with no socket (a closed port: the flow path), and for a drop on a
 *    watched socket (an event emitted); sk_data_ready for a packet queued on
 *    a watched and on an unwatched socket. An unwatched socket comes twice:
 *    without a cookie, and with one (the kernel gives a socket its cookie
 *    the first time anyone asks: SO_COOKIE, or `ss`/sock_diag listing it),
 *    since the programs look at a socket's cookie first.
 *
 *  - tight: 100,000 packets back to back into one never-read socket (tiny
 *    SO_RCVBUF), or bursts of 64 into one read socket.
 *  - cold: BENCH_COLD_RATE packets/s round-robin over 64 sockets (64 watches
 *    for the watched cases), a cache-thrashing step before each send. On
 *    loopback the receive path and so the programs run in the sender's
 *    softirq, on the CPU that was just thrashed.
 *
 * Loopback only, bounded in count and time. Needs root.
 */
#include "bench_parts.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sock_diag.h>

#include "bench_util.h"

#define PACKET_SIZE 1200
#define FLOOD_PACKETS 100000
#define BURST 64
#define N_SOCKETS 64
#define COLD_PACKETS 4000
#define TIME_LIMIT_NS (8 * G_GUINT64_CONSTANT (1000000000))

static atomic_uint_fast64_t drops_delivered;

static void
count_drop (void *user_data, const vdm_drop * drop)
{
  atomic_fetch_add (&drops_delivered, 1);
}

typedef struct
{
  int sender;
  guint8 packet[PACKET_SIZE];
  guint32 seq;
} Sender;

static gboolean
send_one (Sender * s, const struct sockaddr_in *dst)
{
  bench_set_seq (s->packet, s->seq & 0xffff, s->seq / 8 * 3000);
  s->seq++;
  return sendto (s->sender, s->packet, sizeof (s->packet), 0, (const struct sockaddr *) dst,
      sizeof (*dst)) > 0;
}

static void
drain (int fd)
{
  guint8 buf[PACKET_SIZE];

  while (recv (fd, buf, sizeof (buf), MSG_DONTWAIT) > 0);
}

/* A group of sockets a case sends to. */
typedef struct
{
  struct sockaddr_in addr[N_SOCKETS];
  int fd[N_SOCKETS];            /* -1 for closed ports */
  guint32 watch_id[N_SOCKETS];  /* 0: not watched */
  gboolean readable;            /* drained after each send (queue, no drop) */
} Targets;

static void
targets_open (Targets * t, int rcvbuf, gboolean closed)
{
  guint i;

  memset (t, 0, sizeof (*t));
  t->readable = rcvbuf > 1;
  for (i = 0; i < N_SOCKETS; i++) {
    if (closed) {
      t->addr[i] = bench_closed_port ();
      t->fd[i] = -1;
    } else {
      t->fd[i] = bench_udp_receiver (&t->addr[i], rcvbuf);
    }
  }
}

/* What `ss` does to every socket it lists: the kernel assigns a cookie. */
static void
targets_give_cookies (Targets * t)
{
  guint64 cookie;
  socklen_t len;
  guint i;

  for (i = 0; i < N_SOCKETS; i++) {
    len = sizeof (cookie);
    if (t->fd[i] >= 0)
      getsockopt (t->fd[i], SOL_SOCKET, SO_COOKIE, &cookie, &len);
  }
}

static void
targets_close (Targets * t)
{
  guint i;

  for (i = 0; i < N_SOCKETS; i++)
    if (t->fd[i] >= 0)
      close (t->fd[i]);
}

static gboolean
targets_watch (Targets * t, vdm_source * source, vdm_subscription * sub)
{
  guint i;

  for (i = 0; i < N_SOCKETS; i++) {
    vdm_watch_spec spec = {.fd = t->fd[i] };
    int id = vdm_source_watch (source, sub, &spec);
    if (id < 0) {
      printf ("   cannot watch a socket: %s\n", g_strerror (-id));
      return FALSE;
    }
    t->watch_id[i] = id;
  }
  return TRUE;
}

/* Drops the kernel program attributed to the targets' watches: their
 * exact per-CPU counters, summed (0 for unwatched targets). */
static guint64
targets_matched (Targets * t, vdm_source * source)
{
  vdm_counters counters;
  guint64 sum = 0;
  guint i;

  for (i = 0; i < N_SOCKETS; i++)
    if (t->watch_id[i] && vdm_source_counters (source, t->watch_id[i], &counters) == 0)
      sum += counters.total;
  return sum;
}

typedef struct
{
  guint sent;
  guint64 matched, delivered;
  BenchProgramStats before, after;
} CaseResult;

static void
tight_case (Sender * s, Targets * t, vdm_source * source, CaseResult * r)
{
  guint64 deadline = bench_now_ns () + TIME_LIMIT_NS, matched0, matched1;
  guint i;

  memset (r, 0, sizeof (*r));
  matched0 = targets_matched (t, source);
  r->delivered = atomic_load (&drops_delivered);
  bench_program_stats (source, &r->before);
  for (i = 0; i < FLOOD_PACKETS && (i % 1024 || bench_now_ns () < deadline); i++) {
    r->sent += send_one (s, &t->addr[0]);
    if (t->readable && i % BURST == BURST - 1)
      drain (t->fd[0]);
  }
  if (t->readable)
    drain (t->fd[0]);
  bench_program_stats (source, &r->after);
  g_usleep (50 * 1000);         /* the collector drains the ring every 5 ms */
  matched1 = targets_matched (t, source);
  r->matched = matched1 - matched0;
  r->delivered = atomic_load (&drops_delivered) - r->delivered;
}

static void
cold_case (Sender * s, Targets * t, vdm_source * source, CaseResult * r)
{
  guint64 next = bench_now_ns (), deadline = next + TIME_LIMIT_NS, matched0, matched1;
  guint i;

  memset (r, 0, sizeof (*r));
  matched0 = targets_matched (t, source);
  r->delivered = atomic_load (&drops_delivered);
  bench_program_stats (source, &r->before);
  for (i = 0; i < COLD_PACKETS && bench_now_ns () < deadline; i++) {
    guint k = i % N_SOCKETS;

    bench_pace (&next, G_GUINT64_CONSTANT (1000000000) / BENCH_COLD_RATE);
    bench_thrash_caches ();
    r->sent += send_one (s, &t->addr[k]);
    if (t->readable)
      drain (t->fd[k]);
  }
  bench_program_stats (source, &r->after);
  g_usleep (50 * 1000);
  matched1 = targets_matched (t, source);
  r->matched = matched1 - matched0;
  r->delivered = atomic_load (&drops_delivered) - r->delivered;
}

/* Prints one case and returns its ns per run of the program it is about. */
static gdouble
print_case (const gchar * label, gboolean ready, const CaseResult * r)
{
  guint64 runs = ready ? r->after.ready_runs - r->before.ready_runs
      : r->after.kfree_runs - r->before.kfree_runs;
  gdouble ns = ready ? bench_ns_per_run (r->before.ready_ns, r->after.ready_ns,
      r->before.ready_runs, r->after.ready_runs)
      : bench_ns_per_run (r->before.kfree_ns, r->after.kfree_ns, r->before.kfree_runs,
      r->after.kfree_runs);

  printf ("   %-44s %8u %9" G_GUINT64_FORMAT " %8.1f %8" G_GUINT64_FORMAT " %8" G_GUINT64_FORMAT
      "\n", label, r->sent, runs, ns, r->matched, r->delivered);
  return ns;
}

static void
run_cases (vdm_source * source, vdm_subscription * sub, BenchSummary * summary)
{
  Targets unwatched, unwatched_cookie, nosock, watched, queued, queued_unwatched,
      queued_unwatched_cookie;
  Sender s = { 0 };
  CaseResult r;
  int mode;

  s.sender = socket (AF_INET, SOCK_DGRAM, 0);
  bench_write_rtp (s.packet, sizeof (s.packet), 0, 0);
  targets_open (&unwatched, 1, FALSE);
  targets_open (&unwatched_cookie, 1, FALSE);
  targets_give_cookies (&unwatched_cookie);
  targets_open (&queued_unwatched_cookie, 4 << 20, FALSE);
  targets_give_cookies (&queued_unwatched_cookie);
  targets_open (&nosock, 1, TRUE);
  targets_open (&watched, 1, FALSE);
  targets_open (&queued, 4 << 20, FALSE);
  targets_open (&queued_unwatched, 4 << 20, FALSE);
  if (!targets_watch (&watched, source, sub) || !targets_watch (&queued, source, sub))
    goto out;

  printf ("   %-44s %8s %9s %8s %8s %8s\n", "program / packets", "sent", "runs", "ns/run",
      "matched", "events");
  for (mode = 0; mode < 2; mode++) {
    void (*run) (Sender *, Targets *, vdm_source *, CaseResult *) = mode ? cold_case : tight_case;
    printf ("   %s\n", mode ? "cold (4,000 packets/s over 64 sockets, caches thrashed before each)"
        : "tight (back to back into one socket)");
    run (&s, &unwatched, source, &r);
    summary->kfree_unwatched[mode] = print_case ("kfree_skb: drop, unwatched socket", FALSE, &r);
    run (&s, &unwatched_cookie, source, &r);
    summary->kfree_unwatched_cookie[mode] = print_case ("kfree_skb: drop, unwatched, with cookie",
        FALSE, &r);
    run (&s, &nosock, source, &r);
    summary->kfree_nosock[mode] = print_case ("kfree_skb: drop, no socket (closed port)", FALSE,
        &r);
    run (&s, &watched, source, &r);
    summary->kfree_watched[mode] = print_case ("kfree_skb: drop, watched socket (event)", FALSE,
        &r);
    run (&s, &queued, source, &r);
    summary->ready_watched[mode] = print_case ("sk_data_ready: queued, watched socket", TRUE, &r);
    run (&s, &queued_unwatched, source, &r);
    summary->ready_unwatched[mode] = print_case ("sk_data_ready: queued, unwatched socket", TRUE,
        &r);
    run (&s, &queued_unwatched_cookie, source, &r);
    summary->ready_unwatched_cookie[mode] = print_case ("sk_data_ready: queued, unwatched, cookie",
        TRUE, &r);
  }
  printf ("   runs: program invocations (kfree_skb: every drop on the host meanwhile); matched: "
      "drops attributed\n   to a watch; events: drops that reached the consumer.\n");
out:
  targets_close (&unwatched);
  targets_close (&unwatched_cookie);
  targets_close (&queued_unwatched_cookie);
  targets_close (&nosock);
  targets_close (&watched);
  targets_close (&queued);
  targets_close (&queued_unwatched);
  close (s.sender);
}

/* The other way to learn a receive queue's peak: the worker asks the
 * socket (SO_MEMINFO: rmem_alloc, rcvbuf, drops) on a timer instead of the
 * kernel running a program per queued packet. ns per read, tight and cold
 * (over 64 sockets, caches thrashed). No root needed. */
static void
bench_meminfo (BenchSummary * summary)
{
  Targets t;
  guint32 meminfo[SK_MEMINFO_VARS];
  socklen_t len;
  guint64 t0, next;
  gdouble *samples = g_new (gdouble, COLD_PACKETS);
  guint i;

  targets_open (&t, 4 << 20, FALSE);
  t0 = bench_now_ns ();
  for (i = 0; i < FLOOD_PACKETS; i++) {
    len = sizeof (meminfo);
    getsockopt (t.fd[0], SOL_SOCKET, SO_MEMINFO, meminfo, &len);
  }
  summary->meminfo_ns[0] = (gdouble) (bench_now_ns () - t0) / FLOOD_PACKETS;
  next = bench_now_ns ();
  for (i = 0; i < COLD_PACKETS; i++) {
    bench_pace (&next, G_GUINT64_CONSTANT (1000000000) / BENCH_COLD_RATE);
    bench_thrash_caches ();
    len = sizeof (meminfo);
    t0 = bench_now_ns ();
    getsockopt (t.fd[i % N_SOCKETS], SOL_SOCKET, SO_MEMINFO, meminfo, &len);
    samples[i] = (gdouble) (bench_now_ns () - t0);
  }
  summary->meminfo_ns[1] = bench_median (samples, COLD_PACKETS);
  g_free (samples);
  targets_close (&t);
  printf ("   alternative to sk_data_ready: the worker reads getsockopt(SO_MEMINFO): %.0f ns tight, "
      "%.0f ns cold (median)\n   per read; at 50 reads/s per stream (every 20 ms) that is "
      "%.1f us/s per stream, against\n   sk_data_ready's %.1f us/s at 300 packets/s (cold)\n",
      summary->meminfo_ns[0], summary->meminfo_ns[1], summary->meminfo_ns[1] * 50 / 1000,
      summary->ready_watched[1] * 300 / 1000);
}

void
bench_bpf (BenchSummary * summary)
{
  static const vdm_consumer consumer = {.on_drop = count_drop };
  vdm_subscription *sub;
  vdm_source *source;
  char *error = NULL;
  gchar *why = NULL;

  printf ("b) BPF programs, ns per invocation (kernel.bpf_stats_enabled run time), loopback, "
      "%d-byte packets\n", PACKET_SIZE);
  if (geteuid () != 0) {
    printf ("   skipped: needs root (CAP_BPF + CAP_PERFMON, and kernel.bpf_stats_enabled)\n\n");
    return;
  }
  source = vdm_source_open_embedded (&error);
  if (!source) {
    printf ("   skipped: the collector does not load: %s\n\n", error);
    free (error);
    return;
  }
  if (!bench_bpf_stats_enable (&why)) {
    printf ("   skipped: %s\n\n", why);
    g_free (why);
    vdm_source_unref (source);
    return;
  }
  sub = vdm_source_subscribe (source, &consumer, NULL);
  run_cases (source, sub, summary);
  bench_meminfo (summary);
  vdm_source_unsubscribe (source, sub);
  vdm_source_unref (source);
  printf ("\n");
}
