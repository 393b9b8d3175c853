/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include "bench_pipes.h"

#include <arpa/inet.h>
#include <gio/gio.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define BATCH 32
#define TICK_NS (10 * G_GUINT64_CONSTANT (1000000)) /* paced senders send every 10 ms */

static GstBusSyncReply
count_message (GstBus * bus, GstMessage * message, gpointer user_data)
{
  BenchPipe *pipe = user_data;
  const GstStructure *s = gst_message_get_structure (message);
  const gchar *source;
  guint count = 0;
  guint64 lost = 0;

  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ELEMENT && s
      && gst_structure_has_name (s, "vdropmon-drop")
      && (source = gst_structure_get_string (s, "source")) && g_str_has_prefix (source, "kernel")) {
    gst_structure_get_uint (s, "count", &count);
    gst_structure_get_uint64 (s, "events-lost", &lost);
    g_atomic_pointer_add (&pipe->kernel_drop_count, count);
    g_atomic_pointer_add (&pipe->message_events_lost, lost);
    g_atomic_pointer_add (&pipe->drop_messages, 1);
  }
  return GST_BUS_DROP;          /* counted; nobody else reads these buses */
}

gboolean
bench_pipe_start (BenchPipe * pipe, const gchar * element_desc, gint buffer_size)
{
  gchar *desc = g_strdup_printf ("udpsrc name=src address=127.0.0.1 port=0 buffer-size=%d "
      "caps=\"%s\" ! %s name=x ! fakesink sync=false async=false enable-last-sample=false",
      buffer_size, BENCH_H264_CAPS, element_desc);
  GError *error = NULL;
  GSocket *socket = NULL;
  socklen_t len = sizeof (pipe->addr);
  GstBus *bus;

  memset (pipe, 0, sizeof (*pipe));
  pipe->fd = -1;
  pipe->pipeline = gst_parse_launch (desc, &error);
  g_free (desc);
  if (!pipe->pipeline) {
    g_printerr ("vdm-bench: %s\n", error->message);
    g_error_free (error);
    return FALSE;
  }
  bus = gst_element_get_bus (pipe->pipeline);
  gst_bus_set_sync_handler (bus, count_message, pipe, NULL);
  gst_object_unref (bus);
  pipe->udpsrc = gst_bin_get_by_name (GST_BIN (pipe->pipeline), "src");
  pipe->element = gst_bin_get_by_name (GST_BIN (pipe->pipeline), "x");
  if (gst_element_set_state (pipe->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    return FALSE;
  g_object_get (pipe->udpsrc, "used-socket", &socket, NULL);
  if (!socket)
    return FALSE;
  pipe->fd = g_socket_get_fd (socket);
  g_object_unref (socket);
  return getsockname (pipe->fd, (struct sockaddr *) &pipe->addr, &len) == 0;
}

void
bench_pipe_stop (BenchPipe * pipe)
{
  if (!pipe->pipeline)
    return;
  gst_element_set_state (pipe->pipeline, GST_STATE_NULL);
  gst_clear_object (&pipe->udpsrc);
  gst_clear_object (&pipe->element);
  gst_clear_object (&pipe->pipeline);
}

guint64
bench_pipe_stat (BenchPipe * pipe, const gchar * field)
{
  GstStructure *stats = NULL;
  guint64 value = 0;

  if (!pipe->element || !g_object_class_find_property (G_OBJECT_GET_CLASS (pipe->element),
          "stats"))
    return 0;
  g_object_get (pipe->element, "stats", &stats, NULL);
  if (stats) {
    gst_structure_get_uint64 (stats, field, &value);
    gst_structure_free (stats);
  }
  return value;
}

/* ------------------------------------------------------------------------ */

typedef struct
{
  BenchSenders *owner;
  guint index;
  pthread_t thread;
  atomic_uint_fast64_t sent;
} SenderThread;

struct _BenchSenders
{
  struct sockaddr_in *dst;
  guint n_dst, n_threads, rate;
  gsize packet_size;
  guint64 deadline;
  atomic_bool stop;
  SenderThread *threads;
};

/* Sends count packets round-robin from destination *next on; returns sent.
 * Each destination gets its own stream: consecutive seqs, a new frame (RTP
 * timestamp) every 8 packets, as a 720p stream at 300 packets/s has. */
static guint
send_batch (int fd, BenchSenders * s, guint8 * packets, guint * next, guint count, guint32 * seqs)
{
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  guint i;
  int n;

  memset (msgs, 0, sizeof (msgs));
  for (i = 0; i < count; i++) {
    guint8 *p = packets + i * s->packet_size;

    guint32 seq = seqs[*next]++;

    bench_set_seq (p, seq & 0xffff, seq / 8 * 3000);
    iov[i].iov_base = p;
    iov[i].iov_len = s->packet_size;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &s->dst[*next];
    msgs[i].msg_hdr.msg_namelen = sizeof (s->dst[0]);
    *next = (*next + 1) % s->n_dst;
  }
  n = sendmmsg (fd, msgs, count, 0);
  return n > 0 ? (guint) n : 0;
}

static void *
sender_main (void *data)
{
  SenderThread *t = data;
  BenchSenders *s = t->owner;
  int fd = socket (AF_INET, SOCK_DGRAM, 0);
  guint8 *packets = g_malloc (BATCH * s->packet_size);
  guint next = t->index % s->n_dst, i;
  guint32 *seqs = g_new0 (guint32, s->n_dst);
  guint64 tick = bench_now_ns ();
  /* paced: packets per 10 ms tick for all destinations */
  guint per_tick = s->rate ? MAX (1, s->rate * s->n_dst / 100 / s->n_threads) : BATCH;

  /* A paced sender is the network: it must not be what the receivers
   * starve (a real NIC does not wait for the CPU). Realtime priority when
   * allowed; it sleeps between its 10 ms ticks. */
  if (s->rate) {
    struct sched_param param = {.sched_priority = 1 };
    pthread_setschedparam (pthread_self (), SCHED_FIFO, &param);
  }
  for (i = 0; i < BATCH; i++) {
    bench_write_rtp (packets + i * s->packet_size, s->packet_size, 0, 0);
    packets[i * s->packet_size + 8] = (guint8) t->index; /* one SSRC per sender */
  }
  while (!atomic_load (&s->stop) && bench_now_ns () < s->deadline) {
    guint left = per_tick;

    if (s->rate)
      bench_pace (&tick, TICK_NS);
    while (left > 0) {
      guint n = send_batch (fd, s, packets, &next, MIN (left, BATCH), seqs);
      atomic_fetch_add (&t->sent, n);
      left -= MIN (left, BATCH);
    }
  }
  g_free (packets);
  g_free (seqs);
  close (fd);
  return NULL;
}

BenchSenders *
bench_senders_start (const struct sockaddr_in *dst, guint n_dst, guint n_threads,
    gsize packet_size, guint rate, guint64 duration_ns)
{
  BenchSenders *s = g_new0 (BenchSenders, 1);
  guint i;

  s->dst = g_memdup2 (dst, n_dst * sizeof (*dst));
  s->n_dst = n_dst;
  s->n_threads = n_threads;
  s->packet_size = MAX (packet_size, BENCH_RTP_HEADER + 2);
  s->rate = rate;
  s->deadline = bench_now_ns () + duration_ns;
  s->threads = g_new0 (SenderThread, n_threads);
  for (i = 0; i < n_threads; i++) {
    s->threads[i].owner = s;
    s->threads[i].index = i;
    pthread_create (&s->threads[i].thread, NULL, sender_main, &s->threads[i]);
  }
  return s;
}

guint64
bench_senders_cpu_ns (BenchSenders * s)
{
  guint64 total = 0;
  guint i;

  for (i = 0; i < s->n_threads; i++) {
    clockid_t clock;
    struct timespec ts;

    if (pthread_getcpuclockid (s->threads[i].thread, &clock) == 0
        && clock_gettime (clock, &ts) == 0)
      total += (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + ts.tv_nsec;
  }
  return total;
}

guint64
bench_senders_sent (BenchSenders * s)
{
  guint64 total = 0;
  guint i;

  for (i = 0; i < s->n_threads; i++)
    total += atomic_load (&s->threads[i].sent);
  return total;
}

guint64
bench_senders_stop (BenchSenders * s)
{
  guint64 sent;
  guint i;

  atomic_store (&s->stop, TRUE);
  for (i = 0; i < s->n_threads; i++)
    pthread_join (s->threads[i].thread, NULL);
  sent = bench_senders_sent (s);
  g_free (s->threads);
  g_free (s->dst);
  g_free (s);
  return sent;
}
