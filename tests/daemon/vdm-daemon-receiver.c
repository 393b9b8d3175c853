/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdm-daemon-receiver — a small unprivileged receiver behind vdropmond, for
 * the daemon tests and the scale benchmark. No GStreamer: it opens the
 * "daemon" event source directly (what the element does), binds N UDP
 * sockets on 127.0.0.1, hands them to the daemon, reads them slowly or not
 * at all (so they overflow), and at the end prints, per socket, what the
 * daemon path reported next to the kernel's own counter:
 *
 *   socket PORT events=E catch-up=C counters=T events-lost=L kernel=K seqs=S keyframes=F
 *   summary sockets=N events=... kernel=... status=running|reconnecting latency-p50-us=..
 *
 * Runs until --seconds pass, or until the file named by --stop-file
 * appears (then it waits --settle-ms for the last events), so a test can
 * flood, kill and restart the daemon meanwhile.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client_source.h"
#include "event_source.h"

#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif
#define MAX_SOCKETS 2048
#define MAX_LATENCIES 200000

typedef struct {
  int fd;
  uint16_t port;
  uint32_t watch_id;
  uint64_t events, catch_up, keyframes;
  uint64_t foreign;             /* events naming another socket: must stay 0 */
  uint8_t seen_seq[65536 / 8];
  unsigned distinct_seqs;
} rx_socket;

typedef struct {
  const char *socket_path;
  unsigned n_sockets;
  uint16_t first_port;
  int rcvbuf;
  double seconds;
  const char *stop_file;
  unsigned settle_ms;
  unsigned read_every_ms;       /* 0: never read */
  unsigned poll_ms;             /* like the element: queue peak every poll_ms, counters every 10 */
  const char *source_name;      /* "daemon" (default) or "embedded", for comparisons */
  const char *ready_file;
} options;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static rx_socket sockets[MAX_SOCKETS];
static unsigned n_sockets;
static uint64_t latencies_ns[MAX_LATENCIES];
static unsigned n_latencies;
/* How long an element's per-watch question takes (a round trip to the
 * daemon in protocol version 1, a look at what was pushed in version 2):
 * the element's worker asks before it posts. Only the poll thread writes. */
static uint64_t call_ns[MAX_LATENCIES];
static unsigned n_calls;

static uint64_t
monotonic_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

/* H.264 in RTP (as vdm-rtp-sender sends it): an FU-A of an IDR, or an IDR. */
static bool
is_keyframe (const uint8_t *p, size_t len)
{
  uint8_t nal;

  if (len < 14 || (p[0] >> 6) != 2)
    return false;
  nal = p[12] & 0x1f;
  if (nal == 28)
    return (p[13] & 0x1f) == 5;
  return nal == 5 || nal == 7 || nal == 8;
}

static void
on_drop (void *user_data, const vdm_drop *drop)
{
  uint64_t now = monotonic_ns ();
  rx_socket *s;

  pthread_mutex_lock (&lock);
  if (drop->watch_id == 0 || drop->watch_id > MAX_SOCKETS)
    goto out;
  s = &sockets[drop->watch_id - 1];     /* watch ids are given in order, 1.. */
  if (drop->attributed_by == VDM_ATTR_CATCH_UP) {
    s->catch_up += drop->count ? drop->count : 1;
    goto out;
  }
  if (s->port && drop->flow.local_port != s->port) {
    s->foreign++;
    goto out;
  }
  s->events++;
  if (n_latencies < MAX_LATENCIES && now > drop->ktime_ns)
    latencies_ns[n_latencies++] = now - drop->ktime_ns;
  if (drop->payload_len >= 12 && (drop->payload[0] >> 6) == 2) {
    uint16_t seq = (uint16_t) (drop->payload[2] << 8 | drop->payload[3]);
    if (!(s->seen_seq[seq / 8] & (1 << (seq % 8)))) {
      s->seen_seq[seq / 8] |= (uint8_t) (1 << (seq % 8));
      s->distinct_seqs++;
    }
    s->keyframes += is_keyframe (drop->payload, drop->payload_len);
  }
out:
  pthread_mutex_unlock (&lock);
}

static int
open_udp (uint16_t port, int rcvbuf)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (port),
    .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

  if (fd < 0)
    return -1;
  setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof (rcvbuf));
  if (bind (fd, (struct sockaddr *) &addr, sizeof (addr)) < 0) {
    close (fd);
    return -1;
  }
  return fd;
}

static uint64_t
kernel_drops (int fd)
{
  uint32_t meminfo[SK_MEMINFO_VARS] = { 0 };
  socklen_t len = sizeof (meminfo);

  if (getsockopt (fd, SOL_SOCKET, SO_MEMINFO, meminfo, &len) < 0)
    return 0;
  return meminfo[SK_MEMINFO_DROPS];
}

static void
drain (int fd)
{
  char buf[2048];
  while (recv (fd, buf, sizeof (buf), MSG_DONTWAIT) > 0)
    ;
}

static int
parse_options (int argc, char **argv, options *o)
{
  static const struct option opts[] = {
    { "socket", required_argument, NULL, 's' },
    { "sockets", required_argument, NULL, 'n' },
    { "port", required_argument, NULL, 'p' },
    { "rcvbuf", required_argument, NULL, 'b' },
    { "seconds", required_argument, NULL, 't' },
    { "stop-file", required_argument, NULL, 'f' },
    { "ready-file", required_argument, NULL, 'r' },
    { "settle-ms", required_argument, NULL, 'S' },
    { "read-every-ms", required_argument, NULL, 'R' },
    { "poll-ms", required_argument, NULL, 'P' },
    { "source", required_argument, NULL, 'o' },
    { NULL, 0, NULL, 0 },
  };
  int opt;

  *o = (options) { .n_sockets = 1, .first_port = 0, .rcvbuf = 4096, .seconds = 10,
    .settle_ms = 500, .source_name = "daemon" };
  while ((opt = getopt_long (argc, argv, "", opts, NULL)) != -1) {
    switch (opt) {
      case 's': o->socket_path = optarg; break;
      case 'n': o->n_sockets = (unsigned) atoi (optarg); break;
      case 'p': o->first_port = (uint16_t) atoi (optarg); break;
      case 'b': o->rcvbuf = atoi (optarg); break;
      case 't': o->seconds = atof (optarg); break;
      case 'f': o->stop_file = optarg; break;
      case 'r': o->ready_file = optarg; break;
      case 'S': o->settle_ms = (unsigned) atoi (optarg); break;
      case 'R': o->read_every_ms = (unsigned) atoi (optarg); break;
      case 'P': o->poll_ms = (unsigned) atoi (optarg); break;
      case 'o': o->source_name = optarg; break;
      default: return -1;
    }
  }
  if (!o->first_port || o->n_sockets == 0 || o->n_sockets > MAX_SOCKETS || o->seconds <= 0
      || o->seconds > 600)
    return -1;
  return 0;
}

static int
compare_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return x < y ? -1 : x > y;
}

static void
report (vdm_source *source)
{
  uint64_t events = 0, catch_up = 0, counters_total = 0, lost = 0, kernel = 0;
  vdm_source_info info;
  vdm_counters *c = malloc (sizeof (*c));
  unsigned i;

  for (i = 0; i < n_sockets; i++) {
    rx_socket *s = &sockets[i];
    uint64_t k = kernel_drops (s->fd);
    vdm_source_counters (source, s->watch_id, c);
    pthread_mutex_lock (&lock);
    printf ("socket %u events=%llu catch-up=%llu counters=%llu events-lost=%llu kernel=%llu "
        "seqs=%u keyframes=%llu foreign=%llu\n", s->port, (unsigned long long) s->events,
        (unsigned long long) s->catch_up, (unsigned long long) c->total,
        (unsigned long long) c->ringbuf_lost, (unsigned long long) k, s->distinct_seqs,
        (unsigned long long) s->keyframes, (unsigned long long) s->foreign);
    events += s->events;
    catch_up += s->catch_up;
    pthread_mutex_unlock (&lock);
    counters_total += c->total;
    lost += c->ringbuf_lost;
    kernel += k;
  }
  free (c);
  vdm_source_get_info (source, &info);
  qsort (latencies_ns, n_latencies, sizeof (uint64_t), compare_u64);
  qsort (call_ns, n_calls, sizeof (uint64_t), compare_u64);
  printf ("summary sockets=%u events=%llu catch-up=%llu counters=%llu events-lost=%llu "
      "kernel=%llu status=%s protocol=%u call-p50-us=%.1f call-p99-us=%.1f "
      "latency-n=%u latency-p50-us=%.1f latency-p99-us=%.1f\n", n_sockets,
      (unsigned long long) events, (unsigned long long) catch_up,
      (unsigned long long) counters_total, (unsigned long long) lost,
      (unsigned long long) kernel, info.status ? info.status : "running",
      (unsigned) vdm_daemon_client_protocol (source),
      n_calls ? call_ns[n_calls / 2] / 1e3 : -1.0,
      n_calls ? call_ns[(size_t) (n_calls * 0.99)] / 1e3 : -1.0, n_latencies,
      n_latencies ? latencies_ns[n_latencies / 2] / 1e3 : -1.0,
      n_latencies ? latencies_ns[(size_t) (n_latencies * 0.99)] / 1e3 : -1.0);
  fflush (stdout);
}

/* What an element does every detector bin (queue fill) and every stats
 * interval (counters), for every watch. */
static void
poll_like_an_element (vdm_source *source, unsigned round)
{
  vdm_counters *c = malloc (sizeof (*c));

  for (unsigned i = 0; c && i < n_sockets; i++) {
    uint64_t t0 = monotonic_ns ();
    vdm_source_queue_peak (source, sockets[i].watch_id);
    if (n_calls < MAX_LATENCIES)
      call_ns[n_calls++] = monotonic_ns () - t0;
    if (round % 10 == 0)
      vdm_source_counters (source, sockets[i].watch_id, c);
  }
  free (c);
}

static void
run (const options *o, vdm_source *source)
{
  uint64_t end = monotonic_ns () + (uint64_t) (o->seconds * 1e9), last_read = 0, last_poll = 0;
  unsigned round = 0;

  while (monotonic_ns () < end) {
    if (o->stop_file && access (o->stop_file, F_OK) == 0) {
      usleep (o->settle_ms * 1000);
      return;
    }
    if (o->read_every_ms && monotonic_ns () - last_read >= o->read_every_ms * 1000000ull) {
      for (unsigned i = 0; i < n_sockets; i++)
        drain (sockets[i].fd);
      last_read = monotonic_ns ();
    }
    if (o->poll_ms && monotonic_ns () - last_poll >= o->poll_ms * 1000000ull) {
      last_poll = monotonic_ns ();
      poll_like_an_element (source, round++);
    }
    usleep (10000);
  }
}

int
main (int argc, char **argv)
{
  static const vdm_consumer consumer = { .on_drop = on_drop };
  vdm_subscription *sub;
  vdm_source *source;
  char *error = NULL;
  options o;
  unsigned i;

  if (parse_options (argc, argv, &o) < 0) {
    fprintf (stderr, "usage: vdm-daemon-receiver --port P [--sockets N] [--socket PATH] "
        "[--rcvbuf B] [--seconds S] [--stop-file F] [--ready-file F] [--read-every-ms MS]\n");
    return 2;
  }
  vdm_daemon_client_register ();
  source = vdm_source_open (o.source_name, o.socket_path, &error);
  if (!source) {
    fprintf (stderr, "vdm-daemon-receiver: %s\n", error);
    return 1;
  }
  sub = vdm_source_subscribe (source, &consumer, NULL);
  for (i = 0; i < o.n_sockets; i++) {
    vdm_watch_spec spec = { .fd = open_udp ((uint16_t) (o.first_port + i), o.rcvbuf) };
    int id;
    if (spec.fd < 0) {
      fprintf (stderr, "vdm-daemon-receiver: cannot bind 127.0.0.1:%u: %s\n", o.first_port + i,
          strerror (errno));
      return 1;
    }
    id = vdm_source_watch (source, sub, &spec);
    if (id <= 0) {
      fprintf (stderr, "vdm-daemon-receiver: watch of port %u refused: %s\n", o.first_port + i,
          strerror (-id));
      return 1;
    }
    if ((unsigned) id != i + 1) {
      fprintf (stderr, "vdm-daemon-receiver: watch ids not given in order (%d for socket %u)\n",
          id, i + 1);
      return 1;
    }
    pthread_mutex_lock (&lock);
    sockets[i].fd = spec.fd;    /* events may already have counted into this slot */
    sockets[i].port = (uint16_t) (o.first_port + i);
    sockets[i].watch_id = (uint32_t) id;
    n_sockets = i + 1;
    pthread_mutex_unlock (&lock);
  }
  if (o.ready_file)
    fclose (fopen (o.ready_file, "w"));
  run (&o, source);
  report (source);
  vdm_source_unsubscribe (source, sub);
  vdm_source_unref (source);
  return 0;
}
