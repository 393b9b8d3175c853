/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include "bench_flood_send.h"

#include <errno.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103         /* linux/udp.h, 4.18 */
#endif

typedef struct
{
  FloodSenders *owner;
  guint index;
  pthread_t thread;
  atomic_uint_fast64_t sent;    /* datagrams */
  atomic_uint_fast64_t refused; /* sendmmsg calls the kernel refused (ENOBUFS: backlog full) */
  int error;                    /* errno of a failed sendmmsg, 0 none */
  atomic_uint_fast64_t cpu_ns;  /* its own CPU time when it ends (its clock ends with it) */
} FloodThread;

struct _FloodSenders
{
  struct sockaddr_in *dst;
  guint n_dst;
  FloodSendPlan plan;           /* gso_segments: what is used (>= 1) */
  guint64 deadline;
  atomic_bool stop;
  FloodThread *threads;
};

/* One socket of a sender thread; with UDP_SEGMENT set when segments > 1. */
static int
flood_socket (guint segments, gsize packet_size)
{
  int fd = socket (AF_INET, SOCK_DGRAM, 0);
  int gso_size = (int) packet_size;

  if (fd >= 0 && segments > 1
      && setsockopt (fd, SOL_UDP, UDP_SEGMENT, &gso_size, sizeof (gso_size)) != 0) {
    close (fd);
    return -1;
  }
  return fd;
}

/* Whether this kernel takes UDP_SEGMENT at all (4.18+). */
static gboolean
gso_supported (gsize packet_size)
{
  int fd = flood_socket (2, packet_size);

  if (fd < 0)
    return FALSE;
  close (fd);
  return TRUE;
}

/* Stamps message m's datagrams with the next sequence numbers of its
 * destination: each destination gets this thread's stream, consecutive
 * seqs, a new frame every 8 packets. */
static void
stamp_message (guint8 * data, guint segments, gsize packet_size, guint32 * seq)
{
  guint k;

  for (k = 0; k < segments; k++) {
    guint32 s = (*seq)++;

    bench_set_seq (data + k * packet_size, s & 0xffff, s / 8 * 3000);
  }
}

/* One sendmmsg of plan.messages_per_call messages round-robin from
 * destination *next on; returns datagrams sent, -errno on failure. */
static gint64
send_burst (int fd, FloodSenders * s, guint8 * packets, guint * next, guint32 * seqs)
{
  const FloodSendPlan *plan = &s->plan;
  gsize message_bytes = plan->gso_segments * plan->packet_size;
  struct mmsghdr msgs[FLOOD_MAX_BATCH];
  struct iovec iov[FLOOD_MAX_BATCH];
  guint i;
  int n;

  memset (msgs, 0, sizeof (msgs));
  for (i = 0; i < plan->messages_per_call; i++) {
    guint8 *data = packets + i * message_bytes;

    stamp_message (data, plan->gso_segments, plan->packet_size, &seqs[*next]);
    iov[i].iov_base = data;
    iov[i].iov_len = message_bytes;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &s->dst[*next];
    msgs[i].msg_hdr.msg_namelen = sizeof (s->dst[0]);
    *next = (*next + 1) % s->n_dst;
  }
  n = sendmmsg (fd, msgs, plan->messages_per_call, 0);
  if (n < 0)
    return -errno;
  return (gint64) n *plan->gso_segments;
}

static guint64
thread_cpu_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static void *
flood_thread_main (void *data)
{
  FloodThread *t = data;
  FloodSenders *s = t->owner;
  const FloodSendPlan *plan = &s->plan;
  guint per_call = plan->messages_per_call * plan->gso_segments;
  int fd = flood_socket (plan->gso_segments, plan->packet_size);
  guint8 *packets = g_malloc (per_call * plan->packet_size);
  guint32 *seqs = g_new0 (guint32, s->n_dst);
  guint next = t->index % s->n_dst, i;

  for (i = 0; i < per_call; i++) {
    bench_write_rtp (packets + i * plan->packet_size, plan->packet_size, 0, 0);
    packets[i * plan->packet_size + 8] = (guint8) t->index;      /* one SSRC per sender */
  }
  while (fd >= 0 && !atomic_load (&s->stop) && bench_now_ns () < s->deadline) {
    gint64 n = send_burst (fd, s, packets, &next, seqs);

    if (n < 0 && n != -EINTR && n != -ENOBUFS && n != -EAGAIN) {
      t->error = (int) -n;      /* said by the caller; a broken send must not spin */
      break;
    }
    if (n > 0)
      atomic_fetch_add (&t->sent, (guint64) n);
    else if (n == -ENOBUFS)
      atomic_fetch_add (&t->refused, 1);
  }
  if (fd < 0)
    t->error = errno;
  atomic_store (&t->cpu_ns, thread_cpu_ns ());
  g_free (packets);
  g_free (seqs);
  if (fd >= 0)
    close (fd);
  return NULL;
}

FloodSenders *
flood_senders_start (const struct sockaddr_in *dst, guint n_dst, const FloodSendPlan * plan,
    guint64 duration_ns)
{
  FloodSenders *s = g_new0 (FloodSenders, 1);
  guint i;

  s->dst = g_memdup2 (dst, n_dst * sizeof (*dst));
  s->n_dst = n_dst;
  s->plan = *plan;
  s->plan.packet_size = MAX (plan->packet_size, BENCH_RTP_HEADER + 2);
  s->plan.messages_per_call = CLAMP (plan->messages_per_call, 1, FLOOD_MAX_BATCH);
  s->plan.gso_segments = CLAMP (plan->gso_segments, 1, FLOOD_MAX_GSO_SEGMENTS);
  if (s->plan.gso_segments > 1 && !gso_supported (s->plan.packet_size))
    s->plan.gso_segments = 1;
  s->deadline = bench_now_ns () + duration_ns;
  s->threads = g_new0 (FloodThread, plan->n_threads);
  for (i = 0; i < plan->n_threads; i++) {
    s->threads[i].owner = s;
    s->threads[i].index = i;
    pthread_create (&s->threads[i].thread, NULL, flood_thread_main, &s->threads[i]);
  }
  return s;
}

guint64
flood_senders_refused (FloodSenders * s)
{
  guint64 total = 0;
  guint i;

  for (i = 0; i < s->plan.n_threads; i++)
    total += atomic_load (&s->threads[i].refused);
  return total;
}

guint
flood_senders_gso (FloodSenders * s)
{
  return s->plan.gso_segments;
}

guint64
flood_senders_sent (FloodSenders * s)
{
  guint64 total = 0;
  guint i;

  for (i = 0; i < s->plan.n_threads; i++)
    total += atomic_load (&s->threads[i].sent);
  return total;
}

guint64
flood_senders_stop (FloodSenders * s, guint64 * cpu_ns, guint64 * refused)
{
  guint64 sent;
  guint i;

  atomic_store (&s->stop, TRUE);
  if (cpu_ns)
    *cpu_ns = 0;
  for (i = 0; i < s->plan.n_threads; i++) {
    pthread_join (s->threads[i].thread, NULL);
    if (cpu_ns)
      *cpu_ns += atomic_load (&s->threads[i].cpu_ns);
    if (s->threads[i].error)
      printf ("   sender %u stopped early: %s\n", i, g_strerror (s->threads[i].error));
  }
  sent = flood_senders_sent (s);
  if (refused)
    *refused = flood_senders_refused (s);
  g_free (s->threads);
  g_free (s->dst);
  g_free (s);
  return sent;
}
