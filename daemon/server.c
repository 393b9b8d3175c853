/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * server.c — vdropmond's loop (server.h). One client per connection, one
 * subscription to the source per client; watches only from sockets handed
 * over (SCM_RIGHTS); every per-client resource bounded; any protocol
 * violation ends that client alone, with one log line.
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "collector.h"
#include "out_queue.h"
#include "wire.h"

#define FRAMES_PER_WAKE 32      /* a busy client yields to the others after this many */
#define THROTTLE_CHECK_MS 20

typedef struct {
  uint32_t id;                  /* the source's watch id, also the client's */
  uint64_t cookie;
  uint64_t sk_drops_at_start;
  vdm_proto_flow flow;
  char element[VDM_PROTO_NAME_MAX + 1];
  char pipeline[VDM_PROTO_NAME_MAX + 1];
  _Atomic uint64_t queue_lost;  /* events this client's queues could not hold */
  vdm_counters *counters;       /* the last read, reused for COUNTERS_FRESH_NS */
  uint64_t counters_at_ns;
  /* the sampler (sample_watches), every VDM_SERVER_SAMPLE_MS */
  _Atomic bool counters_dirty;  /* a drop or a loss since its counters were last pushed */
  uint64_t lost_sampled;        /* the ring's lost events of the watch at the last sample */
  uint16_t fill_now;            /* queue peak of the last period, per mille */
  uint16_t fill_sent;           /* the last one pushed in a FILL (version 2) */
  uint16_t fill_since_request;  /* peak of the periods since the last COUNTERS_REQUEST */
} client_watch;

/* Reading a watch's counters costs one bpf syscall per reason slot (256);
 * elements ask every 100 ms for the queue fill, which is one lookup. */
#define COUNTERS_FRESH_NS 500000000ull

typedef struct client client;
struct client {
  client *next;
  vdm_server *server;
  int fd;
  uint32_t client_id;
  vdm_peer peer;
  bool said_hello;
  uint16_t version;             /* the protocol version HELLO settled on */
  vdm_subscription *sub;
  uint32_t epoll_events;
  bool dead;                    /* ended; freed once the current epoll batch is done */
  bool said_why;                /* the reason it ends was logged already */

  /* watches: written by the loop under handoff_lock, read by the source's
   * thread under it; the loop reads them without (it is the only writer). */
  client_watch **watches;
  unsigned n_watches;

  pthread_mutex_t handoff_lock;
  vdm_proto_drop *handoff;      /* filled by the source's thread */
  unsigned n_handoff;
  bool handoff_signalled;

  vdm_out_queue out;
  double tokens;
  uint64_t tokens_at_ns;
  bool throttled;
};

struct vdm_server {
  vdm_server_config config;
  vdm_source *source;
  vdm_source_info info;
  int listen_fd, epoll_fd, wake_fd, signal_fd, sample_fd;
  bool sampling;                /* sample_fd armed: some client has a watch */
  unsigned sample_slots;        /* the collector's table, slot 0 included */
  uint64_t *sample_peaks, *sample_lost;
  client *clients;
  unsigned n_clients;
  uint32_t next_client_id;
  vdm_proto_drop *spare;        /* the loop's side of the handoff double buffer */
  bool stopping;
};

/* epoll tags for the fds that are not clients */
static char tag_listen, tag_wake, tag_signal, tag_sample;

static uint64_t
monotonic_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static void
log_line (const char *fmt, ...)
{
  va_list args;

  va_start (args, fmt);
  fputs ("vdropmond: ", stderr);
  vfprintf (stderr, fmt, args);
  fputc ('\n', stderr);
  va_end (args);
}

static void
log_client (const client *c, const char *fmt, ...)
{
  va_list args;

  va_start (args, fmt);
  fprintf (stderr, "vdropmond: client %u (pid %d uid %u %s): ", c->client_id, (int) c->peer.pid,
      (unsigned) c->peer.uid, c->peer.command);
  vfprintf (stderr, fmt, args);
  fputc ('\n', stderr);
  va_end (args);
}

static void
format_flow (const vdm_proto_flow *f, char *out, size_t size)
{
  char local[64] = "?", remote[64] = "";
  const char *proto = f->protocol == 6 ? "tcp" : "udp";

  if (f->family == AF_INET)
    snprintf (local, sizeof (local), "%u.%u.%u.%u:%u", f->local_addr[0], f->local_addr[1],
        f->local_addr[2], f->local_addr[3], f->local_port);
  else
    snprintf (local, sizeof (local), "[ipv6]:%u", f->local_port);
  if (f->remote_port && f->family == AF_INET)
    snprintf (remote, sizeof (remote), "->%u.%u.%u.%u:%u", f->remote_addr[0], f->remote_addr[1],
        f->remote_addr[2], f->remote_addr[3], f->remote_port);
  snprintf (out, size, "%s %s%s", proto, local, remote);
}

/* ---- the source's thread --------------------------------------------- */

static client_watch *
find_watch (client *c, uint32_t id)
{
  unsigned i;

  for (i = 0; i < c->n_watches; i++)
    if (c->watches[i]->id == id)
      return c->watches[i];
  return NULL;
}

static void
copy_drop (const vdm_drop *drop, const client_watch *w, vdm_proto_drop *out)
{
  memset (out, 0, sizeof (*out));
  out->ktime_ns = drop->ktime_ns;
  out->sock_cookie = drop->sock_cookie;
  out->reason = drop->reason;
  out->watch_id = drop->watch_id;
  out->skb_len = drop->skb_len;
  out->attribution = drop->attributed_by == VDM_ATTR_FLOW ? VDM_PROTO_ATTR_FLOW
      : VDM_PROTO_ATTR_SOCKET;
  out->flow.family = drop->flow.family;
  out->flow.protocol = drop->flow.protocol;
  out->flow.local_port = drop->flow.local_port;
  out->flow.remote_port = drop->flow.remote_port;
  memcpy (out->flow.local_addr, drop->flow.local_addr, 16);
  memcpy (out->flow.remote_addr, drop->flow.remote_addr, 16);
  out->flow.netns_cookie = w->flow.netns_cookie;
  if (out->flow.family != AF_INET && out->flow.family != AF_INET6)
    out->flow.family = w->flow.family;     /* a drop whose headers could not be read */
  if (out->flow.protocol != 6 && out->flow.protocol != 17)
    out->flow.protocol = w->flow.protocol;
  snprintf (out->reason_name, sizeof (out->reason_name), "%s",
      drop->reason_name && drop->reason_name[0] ? drop->reason_name : "UNKNOWN");
  out->payload_len = (uint8_t) (drop->payload_len < VDM_PROTO_PAYLOAD_BYTES ? drop->payload_len
      : VDM_PROTO_PAYLOAD_BYTES);
  if (drop->payload && out->payload_len)
    memcpy (out->payload, drop->payload, out->payload_len);
}

/* Copies the drop into the client's handoff and wakes the loop once per
 * batch. A full handoff loses the event for this client only, counted. */
static void
on_drop (void *user_data, const vdm_drop *drop)
{
  client *c = user_data;
  client_watch *w;
  bool wake = false;

  pthread_mutex_lock (&c->handoff_lock);
  w = find_watch (c, drop->watch_id);
  if (w)
    atomic_store (&w->counters_dirty, true);
  if (w && c->n_handoff == VDM_SERVER_HANDOFF_EVENTS)
    atomic_fetch_add (&w->queue_lost, 1);
  else if (w) {
    copy_drop (drop, w, &c->handoff[c->n_handoff++]);
    wake = !c->handoff_signalled;
    c->handoff_signalled = true;
  }
  pthread_mutex_unlock (&c->handoff_lock);
  if (wake) {
    uint64_t one = 1;
    if (write (c->server->wake_fd, &one, sizeof (one)) < 0) {
      /* eventfd counter saturated: the loop is awake anyway */
    }
  }
}

/* ---- output ---------------------------------------------------------- */

static void
set_epoll_events (client *c)
{
  uint32_t events = (c->throttled ? 0 : EPOLLIN) | (vdm_out_queue_empty (&c->out) ? 0 : EPOLLOUT);
  struct epoll_event ev = { .events = events, .data.ptr = c };

  if (events == c->epoll_events)
    return;
  c->epoll_events = events;
  epoll_ctl (c->server->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Sends what is queued, in order. Returns false when the client is dead. */
static bool
flush_client (client *c)
{
  const uint8_t *frame;
  size_t len;

  while ((frame = vdm_out_queue_peek (&c->out, &len))) {
    int err = vdm_wire_send_frame (c->fd, frame, len, -1);
    if (err == -EAGAIN)
      break;
    if (err < 0)
      return false;
    vdm_out_queue_pop (&c->out);
  }
  set_epoll_events (c);
  return true;
}

/* Queues (or sends at once when nothing waits) one frame. Returns 0,
 * -ENOBUFS when that kind is full, or another negative errno when the
 * client is dead. */
static int
send_or_queue (client *c, vdm_out_kind kind, const vdm_msg *msg)
{
  static uint8_t frame[VDM_PROTO_MAX_FRAME];
  int len = vdm_proto_encode (msg, frame, sizeof (frame));
  int err;

  if (len < 0)
    return len;
  if (vdm_out_queue_empty (&c->out)) {
    err = vdm_wire_send_frame (c->fd, frame, (size_t) len, -1);
    if (err != -EAGAIN)
      return err;
  }
  err = vdm_out_queue_push (&c->out, kind, frame, (size_t) len);
  set_epoll_events (c);
  return err;
}

static int
send_result (client *c, uint32_t request_id, int err, const char *fmt, ...)
{
  vdm_msg m = { .type = VDM_MSG_RESULT, .request_id = request_id };
  va_list args;

  m.u.result.status = (uint32_t) (err < 0 ? -err : err);
  va_start (args, fmt);
  vsnprintf (m.u.result.text, sizeof (m.u.result.text), fmt, args);
  va_end (args);
  return send_or_queue (c, VDM_OUT_REPLY, &m);
}

/* ---- requests -------------------------------------------------------- */

static int
handle_hello (client *c, const vdm_msg *in)
{
  vdm_msg m = { .type = VDM_MSG_HELLO_REPLY, .request_id = in->request_id };
  const vdm_msg_hello *h = &in->u.hello;

  if (h->version_min > VDM_PROTO_VERSION_MAX || h->version_max < VDM_PROTO_VERSION_MIN) {
    send_result (c, in->request_id, EPROTONOSUPPORT, "this daemon speaks protocol versions %d "
        "to %d, the client %u to %u: upgrade the older side", VDM_PROTO_VERSION_MIN,
        VDM_PROTO_VERSION_MAX, h->version_min, h->version_max);
    log_client (c, "refused: it speaks protocol versions %u to %u, this daemon %d to %d",
        h->version_min, h->version_max, VDM_PROTO_VERSION_MIN, VDM_PROTO_VERSION_MAX);
    c->said_why = true;
    return -EPROTONOSUPPORT;
  }
  c->said_hello = true;
  c->version = h->version_max < VDM_PROTO_VERSION_MAX ? h->version_max : VDM_PROTO_VERSION_MAX;
  m.u.hello_reply.version = c->version;
  m.u.hello_reply.flags = (c->server->info.has_rx_sk ? VDM_HELLO_HAS_RX_SK : 0)
      | (c->server->info.has_queue_fill ? VDM_HELLO_HAS_QUEUE_FILL : 0);
  m.u.hello_reply.max_watches = c->server->config.max_watches;
  m.u.hello_reply.max_messages_per_second = c->server->config.max_rate;
  snprintf (m.u.hello_reply.daemon_version, sizeof (m.u.hello_reply.daemon_version), "%s",
      VDM_DAEMON_VERSION);
  return send_or_queue (c, VDM_OUT_REPLY, &m);
}

static int
add_watch (client *c, const client_watch *w)
{
  client_watch *copy = malloc (sizeof (*copy));
  client_watch **grown;

  if (!copy)
    return -ENOMEM;
  memcpy (copy, w, sizeof (*copy));
  pthread_mutex_lock (&c->handoff_lock);
  grown = realloc (c->watches, (c->n_watches + 1) * sizeof (*grown));
  if (grown) {
    c->watches = grown;
    c->watches[c->n_watches++] = copy;
  }
  pthread_mutex_unlock (&c->handoff_lock);
  if (!grown)
    free (copy);
  return grown ? 0 : -ENOMEM;
}

static void
remove_watch (client *c, uint32_t id)
{
  unsigned i;

  pthread_mutex_lock (&c->handoff_lock);
  for (i = 0; i < c->n_watches; i++) {
    if (c->watches[i]->id != id)
      continue;
    free (c->watches[i]->counters);
    free (c->watches[i]);
    c->watches[i] = c->watches[--c->n_watches];
    break;
  }
  pthread_mutex_unlock (&c->handoff_lock);
}

static int
reply_watch (client *c, const vdm_msg *in, const client_watch *w)
{
  vdm_msg m = { .type = VDM_MSG_WATCH_REPLY, .request_id = in->request_id };
  int err;

  m.u.watch_reply.watch_id = w->id;
  m.u.watch_reply.sock_cookie = w->cookie;
  m.u.watch_reply.sk_drops_at_start = w->sk_drops_at_start;
  m.u.watch_reply.flow = w->flow;
  err = send_or_queue (c, VDM_OUT_REPLY, &m);
  if (err || w->sk_drops_at_start == 0)
    return err;
  memset (&m, 0, sizeof (m));
  m.type = VDM_MSG_CATCH_UP;
  m.u.catch_up.watch_id = w->id;
  m.u.catch_up.kind = VDM_CATCH_UP_BEFORE_WATCH;
  m.u.catch_up.count = w->sk_drops_at_start;
  m.u.catch_up.sk_drops_now = w->sk_drops_at_start;
  err = send_or_queue (c, VDM_OUT_EVENT, &m);
  return err == -ENOBUFS ? 0 : err;
}

/* ENOSPC from the collector: its watch table (--max-sockets) is full, or
 * that one socket has all the subscribers a watch takes. Said with the
 * numbers, to the client and in the log. */
static int
refuse_full_table (client *c, const vdm_msg *in)
{
  unsigned in_use = 0, capacity = 0;

  if (vdm_embedded_table (c->server->source, &in_use, &capacity) < 0 || in_use < capacity)
    return send_result (c, in->request_id, ENOSPC, "watch refused: this socket is watched by as "
        "many clients as a watch can serve");
  log_client (c, "watch refused: the daemon watches %u sockets, the limit (--max-sockets %u)",
      in_use, capacity);
  return send_result (c, in->request_id, ENOSPC, "watch refused: the daemon watches %u sockets, "
      "its limit (vdropmond --max-sockets %u)", in_use, capacity);
}

/* The heart of the security model: everything about a watch comes from the
 * socket handed over, nothing from the frame. */
static int
handle_watch (client *c, const vdm_msg *in, int fd)
{
  vdm_watch_spec spec = { .fd = fd };
  client_watch w = { 0 };
  vdm_socket_info info;
  const char *why = NULL;
  char flow[128];
  int id, err;

  if (fd < 0)
    return send_result (c, in->request_id, EPERM, "watch refused: a watch must carry the socket "
        "itself (SCM_RIGHTS); ports and flows without a socket are not accepted");
  err = vdm_socket_info_read (fd, &info, &why);
  if (err)
    return send_result (c, in->request_id, err, "watch refused: %s", why);
  if (c->n_watches >= c->server->config.max_watches)
    return send_result (c, in->request_id, ENOSPC, "watch refused: this client has %u watches, "
        "the limit (--max-watches)", c->n_watches);
  id = vdm_source_watch (c->server->source, c->sub, &spec);
  if (id == -ENOSPC)
    return refuse_full_table (c, in);
  if (id < 0)
    return send_result (c, in->request_id, id, "watch refused: the collector could not watch "
        "the socket: %s", strerror (-id));
  w.id = (uint32_t) id;
  if (find_watch (c, w.id))     /* the same socket again: the same watch */
    return reply_watch (c, in, find_watch (c, w.id));
  w.cookie = info.cookie;
  w.sk_drops_at_start = info.sk_drops;
  w.counters_dirty = true;      /* version 2: pushed at the first sample */
  w.flow = info.flow;
  memcpy (w.element, in->u.watch.element, sizeof (w.element));
  memcpy (w.pipeline, in->u.watch.pipeline, sizeof (w.pipeline));
  if (add_watch (c, &w) < 0) {
    vdm_source_unwatch (c->server->source, c->sub, w.id);
    return send_result (c, in->request_id, ENOMEM, "watch refused: out of memory");
  }
  format_flow (&w.flow, flow, sizeof (flow));
  if (c->server->config.on_watch)
    c->server->config.on_watch (c->server->config.hook_data, &c->peer, w.id, w.element,
        w.pipeline, flow, true);
  log_client (c, "watch %u: %s netns %llu cookie %llu, %llu drops before", w.id, flow,
      (unsigned long long) w.flow.netns_cookie, (unsigned long long) w.cookie,
      (unsigned long long) w.sk_drops_at_start);
  return reply_watch (c, in, &w);
}

static int
handle_unwatch (client *c, const vdm_msg *in)
{
  uint32_t id = in->u.watch_ref.watch_id;

  if (!find_watch (c, id))
    return send_result (c, in->request_id, ENOENT, "unwatch: watch %u is not this client's", id);
  vdm_source_unwatch (c->server->source, c->sub, id);
  remove_watch (c, id);
  if (c->server->config.on_watch)
    c->server->config.on_watch (c->server->config.hook_data, &c->peer, id, NULL, NULL, NULL,
        false);
  return send_result (c, in->request_id, 0, "unwatched %u", id);
}

static void
fill_reasons (const vdm_counters *counters, vdm_msg_counters_reply *r)
{
  unsigned slot;

  for (slot = 0; slot < VDM_PROTO_REASON_SLOTS; slot++) {
    if (!counters->per_reason[slot])
      continue;
    if (r->n_reasons < VDM_PROTO_MAX_REASONS) {
      r->reasons[r->n_reasons].slot = (uint16_t) slot;
      r->reasons[r->n_reasons++].count = counters->per_reason[slot];
    } else {                    /* more than 64 distinct reasons: the rest share the last */
      r->reasons[VDM_PROTO_MAX_REASONS - 1].count += counters->per_reason[slot];
    }
  }
}

/* Reads a watch's counters unless the last read is younger than max_age_ns. */
static int
read_counters (vdm_server *s, client_watch *w, uint64_t max_age_ns)
{
  uint64_t now = monotonic_ns ();
  int err;

  if (w->counters && now - w->counters_at_ns < max_age_ns)
    return 0;
  if (!w->counters && !(w->counters = malloc (sizeof (*w->counters))))
    return -ENOMEM;
  err = vdm_source_counters (s->source, w->id, w->counters);
  w->counters_at_ns = now;
  return err;
}

static void
fill_counters_reply (client_watch *w, int peak, vdm_msg_counters_reply *r)
{
  r->watch_id = w->id;
  r->total = w->counters->total;
  r->ringbuf_lost = w->counters->ringbuf_lost;
  r->queue_lost = atomic_load (&w->queue_lost);
  r->queue_peak = peak < -1 ? -1 : peak > 1000 ? 1000 : peak;
  fill_reasons (w->counters, r);
}

static int
handle_counters (client *c, const vdm_msg *in)
{
  vdm_msg m = { .type = VDM_MSG_COUNTERS_REPLY, .request_id = in->request_id };
  vdm_msg_counters_reply *r = &m.u.counters_reply;
  client_watch *w = find_watch (c, in->u.watch_ref.watch_id);
  int err, peak;

  if (!w)
    return send_result (c, in->request_id, ENOENT, "counters: watch %u is not this client's",
        in->u.watch_ref.watch_id);
  err = read_counters (c->server, w, COUNTERS_FRESH_NS);
  if (err < 0)
    return send_result (c, in->request_id, err, "counters: %s", strerror (-err));
  /* the sampler owns the kernel's peaks (reading one resets it): the peak
   * of the periods since this client last asked */
  peak = c->server->info.has_queue_fill ? w->fill_since_request : -1;
  w->fill_since_request = 0;
  fill_counters_reply (w, peak, r);
  return send_or_queue (c, VDM_OUT_REPLY, &m);
}

static bool
may_see (const client *asker, const client *other)
{
  return !other->dead && (asker->peer.uid == 0 || asker->peer.uid == other->peer.uid);
}

static int
send_status_entry (client *asker, const client *c, const client_watch *w)
{
  vdm_msg m = { .type = VDM_MSG_STATUS_ENTRY };
  vdm_msg_status_entry *e = &m.u.status_entry;
  vdm_counters counters;

  e->client_id = c->client_id;
  e->pid = (uint32_t) c->peer.pid;
  e->uid = c->peer.uid;
  memcpy (e->command, c->peer.command, sizeof (e->command));
  if (w) {
    e->watch_id = w->id;
    memcpy (e->element, w->element, sizeof (e->element));
    memcpy (e->pipeline, w->pipeline, sizeof (e->pipeline));
    e->flow = w->flow;
    if (vdm_source_counters (asker->server->source, w->id, &counters) == 0) {
      e->drops = counters.total;
      e->events_lost = counters.ringbuf_lost;
    }
    e->events_lost += atomic_load (&w->queue_lost);
  }
  return send_or_queue (asker, VDM_OUT_STATUS, &m);
}

static int
handle_status (client *asker, const vdm_msg *in)
{
  const client *c;
  unsigned i;
  int err = 0;

  if (asker->out.count[VDM_OUT_STATUS])
    return send_result (asker, in->request_id, EBUSY, "status: the previous listing is still "
        "being sent");
  for (c = asker->server->clients; c && !err; c = c->next) {
    if (!may_see (asker, c))
      continue;
    if (c->n_watches == 0)
      err = send_status_entry (asker, c, NULL);
    for (i = 0; i < c->n_watches && !err; i++)
      err = send_status_entry (asker, c, c->watches[i]);
  }
  return err ? err : send_result (asker, in->request_id, 0, "%u clients", asker->server->n_clients);
}

/* Returns 0 to go on, or a negative errno to disconnect (after logging). */
static int
handle_frame (client *c, const uint8_t *frame, int len, int fd)
{
  static vdm_msg msg;
  const char *why = NULL;
  int err;

  if (vdm_proto_decode (frame, (size_t) len, &msg, &why) < 0) {
    log_client (c, "disconnected: malformed frame: %s", why);
    c->said_why = true;
    return -EBADMSG;
  }
  if (!vdm_proto_type_from_client (msg.type)) {
    log_client (c, "disconnected: a client may not send %s frames", vdm_proto_type_name (msg.type));
    c->said_why = true;
    return -EBADMSG;
  }
  if (fd >= 0 && msg.type != VDM_MSG_WATCH) {
    log_client (c, "disconnected: an fd came with a %s frame", vdm_proto_type_name (msg.type));
    c->said_why = true;
    return -EBADMSG;
  }
  if (!c->said_hello && msg.type != VDM_MSG_HELLO) {
    log_client (c, "disconnected: %s before hello", vdm_proto_type_name (msg.type));
    c->said_why = true;
    return -EBADMSG;
  }
  switch ((vdm_msg_type) msg.type) {
    case VDM_MSG_HELLO:
      err = c->said_hello ? -EBADMSG : handle_hello (c, &msg);
      if (c->said_hello && err == -EBADMSG && !c->said_why) {
        log_client (c, "disconnected: hello twice");
        c->said_why = true;
      }
      break;
    case VDM_MSG_WATCH:
      err = handle_watch (c, &msg, fd);
      break;
    case VDM_MSG_UNWATCH:
      err = handle_unwatch (c, &msg);
      break;
    case VDM_MSG_COUNTERS_REQUEST:
      err = handle_counters (c, &msg);
      break;
    case VDM_MSG_ANALYTICS:
      if (c->server->config.on_analytics)
        c->server->config.on_analytics (c->server->config.hook_data, &c->peer, &msg.u.analytics);
      err = 0;
      break;
    case VDM_MSG_STATUS_REQUEST:
      err = handle_status (c, &msg);
      break;
    default:
      err = -EBADMSG;
      break;
  }
  if (err == -ENOBUFS) {
    log_client (c, "disconnected: not reading its replies (%u queued)", VDM_SERVER_REPLY_FRAMES);
    c->said_why = true;
  }
  return err;
}

/* ---- clients --------------------------------------------------------- */

/* Ends a client at once (its watches, its socket) but frees it only in
 * reap_clients(), since later events of the same epoll batch may name it. */
static void
kill_client (vdm_server *s, client *c)
{
  if (c->dead)
    return;
  c->dead = true;
  /* After unsubscribe returns no callback runs, so the handoff is ours. */
  vdm_source_unsubscribe (s->source, c->sub);
  c->sub = NULL;
  epoll_ctl (s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
  close (c->fd);
  c->fd = -1;
  s->n_clients--;
  for (unsigned i = 0; i < c->n_watches && s->config.on_watch; i++)
    s->config.on_watch (s->config.hook_data, &c->peer, c->watches[i]->id, NULL, NULL, NULL, false);
  if (s->config.on_clients)
    s->config.on_clients (s->config.hook_data, s->n_clients);
  if (!c->said_why)             /* a protocol violation is one line, said where it was seen */
    log_client (c, "gone, %u watch%s ended", c->n_watches, c->n_watches == 1 ? "" : "es");
}

static void
free_client (client *c)
{
  unsigned i;

  for (i = 0; i < c->n_watches; i++) {
    free (c->watches[i]->counters);
    free (c->watches[i]);
  }
  free (c->watches);
  free (c->handoff);
  vdm_out_queue_clear (&c->out);
  pthread_mutex_destroy (&c->handoff_lock);
  free (c);
}

static void
reap_clients (vdm_server *s)
{
  client **link = &s->clients;

  while (*link) {
    client *c = *link;
    if (c->dead) {
      *link = c->next;
      free_client (c);
    } else {
      link = &c->next;
    }
  }
}

static const vdm_consumer consumer = { .on_drop = on_drop };

static client *
new_client (vdm_server *s, int fd)
{
  client *c = calloc (1, sizeof (*c));

  if (!c)
    return NULL;
  c->handoff = calloc (VDM_SERVER_HANDOFF_EVENTS, sizeof (*c->handoff));
  if (!c->handoff) {
    free (c);
    return NULL;
  }
  c->server = s;
  c->fd = fd;
  c->client_id = ++s->next_client_id;
  pthread_mutex_init (&c->handoff_lock, NULL);
  vdm_out_queue_init (&c->out, VDM_SERVER_EVENT_FRAMES, VDM_SERVER_REPLY_FRAMES);
  c->tokens = 2.0 * s->config.max_rate;
  c->tokens_at_ns = monotonic_ns ();
  vdm_peer_read (fd, &c->peer);
  return c;
}

static void
refuse_connection (int fd, const char *text)
{
  vdm_msg m = { .type = VDM_MSG_RESULT };

  m.u.result.status = EUSERS;
  snprintf (m.u.result.text, sizeof (m.u.result.text), "%s", text);
  vdm_wire_send (fd, &m, -1);
  close (fd);
}

static void
accept_clients (vdm_server *s)
{
  for (;;) {
    int fd = accept4 (s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN };
    client *c;

    if (fd < 0)
      return;
    if (s->n_clients >= s->config.max_clients) {
      log_line ("connection refused: %u clients, the limit (--max-clients)", s->n_clients);
      refuse_connection (fd, "too many clients (--max-clients)");
      continue;
    }
    c = new_client (s, fd);
    if (c)
      c->sub = vdm_source_subscribe (s->source, &consumer, c);
    if (!c || !c->sub) {
      log_line ("connection refused: out of memory");
      if (c) {
        free (c->handoff);
        free (c);
      }
      close (fd);
      continue;
    }
    ev.data.ptr = c;
    c->epoll_events = EPOLLIN;
    epoll_ctl (s->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    c->next = s->clients;
    s->clients = c;
    s->n_clients++;
    if (s->config.on_clients)
      s->config.on_clients (s->config.hook_data, s->n_clients);
    log_client (c, "connected");
  }
}

/* Token bucket: max_rate per second, up to 2 s worth saved. */
static bool
take_token (client *c)
{
  uint64_t now = monotonic_ns ();
  double rate = c->server->config.max_rate;

  c->tokens += (double) (now - c->tokens_at_ns) * rate / 1e9;
  if (c->tokens > 2 * rate)
    c->tokens = 2 * rate;
  c->tokens_at_ns = now;
  if (c->tokens < 1)
    return false;
  c->tokens -= 1;
  return true;
}

/* Returns false when the client must go. */
static bool
read_client (client *c)
{
  static uint8_t frame[VDM_PROTO_MAX_FRAME];
  int i, len, fd;

  for (i = 0; i < FRAMES_PER_WAKE; i++) {
    if (!take_token (c)) {
      c->throttled = true;      /* back-pressure: not read until the bucket refills */
      set_epoll_events (c);
      return true;
    }
    len = vdm_wire_recv (c->fd, frame, &fd);
    if (len == -EAGAIN)
      return true;
    if (len == 0)
      return false;
    if (len < 0) {
      if (len == -EMSGSIZE) {
        log_client (c, "disconnected: frame larger than %d bytes or more than one fd",
            VDM_PROTO_MAX_FRAME);
        c->said_why = true;
      }
      return false;
    }
    len = handle_frame (c, frame, len, fd);
    if (fd >= 0)
      close (fd);               /* everything needed was read from it */
    if (len < 0)
      return false;
  }
  return true;
}

/* Moves every client's handed-over events into DROPS frames. */
static void
drain_handoffs (vdm_server *s)
{
  static vdm_msg m;
  client *c, *next;
  unsigned n, i, j;

  for (c = s->clients; c; c = next) {
    vdm_proto_drop *events;
    next = c->next;
    if (c->dead)
      continue;
    pthread_mutex_lock (&c->handoff_lock);
    events = c->handoff;
    n = c->n_handoff;
    c->handoff = s->spare;
    c->n_handoff = 0;
    c->handoff_signalled = false;
    pthread_mutex_unlock (&c->handoff_lock);
    s->spare = events;
    for (i = 0; i < n; i += VDM_PROTO_MAX_DROPS) {
      int err;
      m.type = VDM_MSG_DROPS;
      m.request_id = 0;
      m.u.drops.n_drops = (uint16_t) (n - i < VDM_PROTO_MAX_DROPS ? n - i : VDM_PROTO_MAX_DROPS);
      memcpy (m.u.drops.drops, events + i, m.u.drops.n_drops * sizeof (*events));
      err = send_or_queue (c, VDM_OUT_EVENT, &m);
      for (j = 0; err == -ENOBUFS && j < m.u.drops.n_drops; j++) {
        client_watch *w = find_watch (c, m.u.drops.drops[j].watch_id);
        if (w)
          atomic_fetch_add (&w->queue_lost, 1);
      }
      if (err < 0 && err != -ENOBUFS) {
        kill_client (s, c);
        break;
      }
    }
  }
}

/* ---- the sampler (protocol version 2) -------------------------------- */

/* The peak and lost events of one watch this period: from the table read
 * once for all (vdm_embedded_sample), or asked of the source one by one. */
static void
sample_one (vdm_server *s, client_watch *w, int table_slots)
{
  uint32_t slot = VDM_WATCH_SLOT (w->id);
  uint64_t peak = 0, lost = w->lost_sampled;

  if (table_slots > 0 && slot < (unsigned) table_slots) {
    peak = s->sample_peaks[slot];
    lost = s->sample_lost[slot];
  } else if (table_slots <= 0) {
    int p = vdm_source_queue_peak (s->source, w->id);
    peak = p > 0 ? (uint64_t) p : 0;
    vdm_source_events_lost (s->source, w->id, &lost);
  }
  w->fill_now = (uint16_t) (peak > 1000 ? 1000 : peak);
  if (w->fill_now > w->fill_since_request)
    w->fill_since_request = w->fill_now;
  if (lost != w->lost_sampled) {
    w->lost_sampled = lost;
    atomic_store (&w->counters_dirty, true);
  }
}

/* One FILL frame per VDM_PROTO_MAX_FILLS watches whose peak changed since
 * it was last pushed. Returns a negative errno when the client is dead; a
 * full queue keeps the rest for the next period. */
static int
push_fills (client *c)
{
  static vdm_msg m;
  static client_watch *in_frame[VDM_PROTO_MAX_FILLS];
  unsigned i = 0, j, n;
  int err = 0;

  while (i < c->n_watches && !err) {
    m.type = VDM_MSG_FILL;
    m.request_id = 0;
    for (n = 0; i < c->n_watches && n < VDM_PROTO_MAX_FILLS; i++) {
      client_watch *w = c->watches[i];
      if (w->fill_now == w->fill_sent)
        continue;
      in_frame[n] = w;
      m.u.fill.fills[n].watch_id = w->id;
      m.u.fill.fills[n++].peak = w->fill_now;
    }
    if (n == 0)
      break;
    m.u.fill.n_fills = (uint16_t) n;
    err = send_or_queue (c, VDM_OUT_EVENT, &m);
    for (j = 0; !err && j < n; j++)
      in_frame[j]->fill_sent = m.u.fill.fills[j].peak;
  }
  return err == -ENOBUFS ? 0 : err;
}

/* A COUNTERS_REPLY with request id 0 for each watch whose counters moved:
 * the client needs no request to know them. */
static int
push_counters (client *c)
{
  static vdm_msg m;
  unsigned i;
  int err = 0;

  for (i = 0; i < c->n_watches && !err; i++) {
    client_watch *w = c->watches[i];
    if (!atomic_exchange (&w->counters_dirty, false))
      continue;
    if (read_counters (c->server, w, 0) < 0) {
      atomic_store (&w->counters_dirty, true);
      continue;
    }
    m = (vdm_msg) { .type = VDM_MSG_COUNTERS_REPLY };
    fill_counters_reply (w, -1, &m.u.counters_reply);
    err = send_or_queue (c, VDM_OUT_EVENT, &m);
    if (err)
      atomic_store (&w->counters_dirty, true);  /* a full queue: again next period */
  }
  return err == -ENOBUFS ? 0 : err;
}

/* The table up to its highest slot watched: slots are given lowest
 * first, so 1,200 watches read 1,201 slots of a table of 4,096. */
static unsigned
slots_in_use (vdm_server *s)
{
  unsigned top = 0, i;
  client *c;

  for (c = s->clients; c; c = c->next)
    for (i = 0; !c->dead && i < c->n_watches; i++)
      if (VDM_WATCH_SLOT (c->watches[i]->id) > top)
        top = VDM_WATCH_SLOT (c->watches[i]->id);
  return top + 1 < s->sample_slots ? top + 1 : s->sample_slots;
}

/* Every VDM_SERVER_SAMPLE_MS while any client has a watch: what an element
 * used to ask for each of its watches (issue 10 part 5), read for all
 * watches at once and pushed to version 2 clients only when it changed. */
static void
sample_watches (vdm_server *s)
{
  uint64_t expirations;
  int table_slots;
  client *c;

  if (read (s->sample_fd, &expirations, sizeof (expirations)) < 0) {
    /* not due yet */
  }
  table_slots = s->sample_slots ? vdm_embedded_sample (s->source, slots_in_use (s),
      s->sample_peaks, s->sample_lost) : -ENOTSUP;
  for (c = s->clients; c; c = c->next) {
    unsigned i;
    int err = 0;
    if (c->dead)
      continue;
    for (i = 0; i < c->n_watches; i++)
      sample_one (s, c->watches[i], table_slots);
    if (c->version >= 2)
      err = push_fills (c);
    if (c->version >= 2 && !err)
      err = push_counters (c);
    if (err < 0)
      kill_client (s, c);
  }
}

/* The sampler's timer runs only while there is something to sample. */
static void
arm_sampler (vdm_server *s)
{
  struct itimerspec period = { 0 };
  bool want = false;
  client *c;

  for (c = s->clients; c && !want; c = c->next)
    want = !c->dead && c->n_watches > 0;
  if (want == s->sampling)
    return;
  if (want) {
    period.it_interval.tv_nsec = VDM_SERVER_SAMPLE_MS * 1000000l;
    period.it_value = period.it_interval;
  }
  timerfd_settime (s->sample_fd, 0, &period, NULL);
  s->sampling = want;
}

static void
unthrottle (vdm_server *s)
{
  client *c;

  for (c = s->clients; c; c = c->next) {
    if (!c->dead && c->throttled && c->tokens + (double) (monotonic_ns () - c->tokens_at_ns)
        * s->config.max_rate / 1e9 >= 1) {
      c->throttled = false;
      set_epoll_events (c);
    }
  }
}

static bool
any_throttled (vdm_server *s)
{
  client *c;

  for (c = s->clients; c; c = c->next)
    if (c->throttled)
      return true;
  return false;
}

static void
serve_client (vdm_server *s, client *c, uint32_t events)
{
  bool alive = true;

  if (c->dead)
    return;
  if (events & (EPOLLERR | EPOLLHUP))
    alive = (events & EPOLLIN) != 0;   /* read what is left, then the EOF */
  if (alive && (events & EPOLLOUT))
    alive = flush_client (c);
  if (alive && (events & EPOLLIN))
    alive = read_client (c);
  if (!alive)
    kill_client (s, c);
}

int
vdm_server_run (vdm_server *s)
{
  struct epoll_event events[64];

  while (!s->stopping) {
    int i, n = epoll_wait (s->epoll_fd, events, 64, any_throttled (s) ? THROTTLE_CHECK_MS : -1);

    if (n < 0 && errno != EINTR)
      return -errno;
    for (i = 0; i < n; i++) {
      void *tag = events[i].data.ptr;
      if (tag == &tag_listen) {
        accept_clients (s);
      } else if (tag == &tag_wake) {
        uint64_t count;
        if (read (s->wake_fd, &count, sizeof (count)) < 0) {
          /* spurious wakeup: nothing to read */
        }
        drain_handoffs (s);
      } else if (tag == &tag_sample) {
        sample_watches (s);
      } else if (tag == &tag_signal) {
        struct signalfd_siginfo si;
        if (read (s->signal_fd, &si, sizeof (si)) == sizeof (si))
          log_line ("signal %u: stopping", si.ssi_signo);
        s->stopping = true;
      } else {
        serve_client (s, tag, events[i].events);
      }
    }
    reap_clients (s);
    unthrottle (s);
    arm_sampler (s);
  }
  return 0;
}

/* Room for one sample of the collector's whole table (none for a source
 * that is not the embedded collector: its watches are asked one by one). */
static int
alloc_sample_table (vdm_server *s)
{
  unsigned in_use, capacity;

  if (vdm_embedded_table (s->source, &in_use, &capacity) < 0)
    return 0;
  s->sample_slots = capacity + 1;
  s->sample_peaks = calloc (s->sample_slots, sizeof (*s->sample_peaks));
  s->sample_lost = calloc (s->sample_slots, sizeof (*s->sample_lost));
  if (!s->sample_peaks || !s->sample_lost) {
    errno = ENOMEM;
    return -ENOMEM;
  }
  return 0;
}

static int
add_fd (vdm_server *s, int fd, void *tag)
{
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };
  return epoll_ctl (s->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

vdm_server *
vdm_server_new (const vdm_server_config *config, vdm_source *source, int listen_fd, char **error)
{
  vdm_server *s = calloc (1, sizeof (*s));
  sigset_t mask;

  *error = NULL;
  if (!s || !(s->spare = calloc (VDM_SERVER_HANDOFF_EVENTS, sizeof (*s->spare)))) {
    free (s);
    *error = strdup ("out of memory");
    return NULL;
  }
  s->config = *config;
  s->source = source;
  s->listen_fd = listen_fd;
  vdm_source_get_info (source, &s->info);
  sigemptyset (&mask);
  sigaddset (&mask, SIGINT);
  sigaddset (&mask, SIGTERM);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  signal (SIGPIPE, SIG_IGN);
  s->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  s->wake_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  s->signal_fd = signalfd (-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  s->sample_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (s->epoll_fd < 0 || s->wake_fd < 0 || s->signal_fd < 0 || s->sample_fd < 0
      || add_fd (s, listen_fd, &tag_listen) < 0 || add_fd (s, s->wake_fd, &tag_wake) < 0
      || add_fd (s, s->signal_fd, &tag_signal) < 0 || add_fd (s, s->sample_fd, &tag_sample) < 0
      || alloc_sample_table (s) < 0) {
    if (asprintf (error, "setting up the event loop failed: %s", strerror (errno)) < 0)
      *error = NULL;
    vdm_server_free (s);
    return NULL;
  }
  return s;
}

void
vdm_server_free (vdm_server *s)
{
  if (!s)
    return;
  client *c;

  for (c = s->clients; c; c = c->next)
    kill_client (s, c);
  reap_clients (s);
  if (s->epoll_fd > 0)
    close (s->epoll_fd);
  if (s->wake_fd > 0)
    close (s->wake_fd);
  if (s->signal_fd > 0)
    close (s->signal_fd);
  if (s->sample_fd > 0)
    close (s->sample_fd);
  free (s->sample_peaks);
  free (s->sample_lost);
  free (s->spare);
  free (s);
}
