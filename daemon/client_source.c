/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * client_source.c — the "daemon" event source (client_source.h).
 *
 * Threads: the I/O thread ("vdm-daemon") owns reading the socket,
 * reconnecting and calling the consumers; callers (element threads) send
 * requests themselves and wait for the I/O thread to hand them the reply.
 * Locks: dispatch_lock (held while consumers run; unsubscribe takes it so
 * no callback outlives it) before lock (all state, briefly). Callbacks run
 * without `lock`, so they may call counters()/queue_peak(), which on the I/O
 * thread answer from what is cached instead of waiting for themselves.
 *
 * Accounting, per watch, so totals survive a dead daemon exactly: counters
 * = carried (closed sessions + catch-ups) + this session's per-reason
 * maximum of what the daemon's counters said and what events arrived. At
 * each (re)registration the socket's own drop counter at that moment, minus
 * what was accounted for, is one catch-up drop.
 */
#define _GNU_SOURCE
#include "client_source.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"
#include "socket_flow.h"
#include "wire.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

#define CALL_TIMEOUT_MS 1000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 1000
#define HELLO_TIMEOUT_MS 3000    /* a daemon just started may still be loading its program */
#define REASON_NOT_SPECIFIED 2  /* enum skb_drop_reason: SKB_DROP_REASON_NOT_SPECIFIED */
#define MAX_TARGETS 16          /* local watches sharing one daemon watch */

struct vdm_subscription {
  vdm_consumer consumer;
  void *user_data;
  struct vdm_subscription *next;
  char element[VDM_PROTO_NAME_MAX + 1];  /* sent with its watches (issue 11 metrics) */
  char pipeline[VDM_PROTO_NAME_MAX + 1];
};

typedef struct local_watch local_watch;
struct local_watch {
  local_watch *next;
  uint32_t local_id;            /* what the consumer knows; stable across reconnections */
  int fd;                       /* our copy of the consumer's socket, to hand over again */
  vdm_subscription *sub;
  uint32_t remote_id;           /* the daemon's id in this session; 0: not registered */
  uint64_t cookie;
  struct vdm_flow_key flow;
  uint64_t sk_accounted;        /* socket drops accounted for before this session */
  uint64_t session_sk_start;
  uint64_t pending_catch_up;    /* to report on the I/O thread */
  vdm_counters carried;         /* closed sessions + catch-ups */
  vdm_counters polled;          /* this session: the daemon's last counters */
  uint64_t polled_queue_lost;
  uint64_t received[VDM_REASON_SLOTS];   /* this session: events that arrived */
  int peak_pending;             /* queue peak seen by a counters reply or FILL, not yet read */
  int fill_last;                /* version 2: the last FILL's peak, which holds until the next */
  bool refused;                 /* the daemon refused it in this session */
};

typedef struct daemon_source daemon_source;
struct daemon_source {
  vdm_source base;
  daemon_source *next_open;     /* in the list of open sources */
  char *path;

  pthread_mutex_t dispatch_lock;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  pthread_mutex_t call_lock;    /* one request in flight */

  int sock;                     /* -1 while reconnecting */
  unsigned session;             /* +1 at each disconnection */
  uint16_t version;             /* the protocol version of this session (HELLO) */
  vdm_source_info info;
  pthread_t thread;
  int wake[2];
  bool stopping;

  uint32_t call_id;
  bool call_done;
  vdm_msg call_reply;
  uint32_t next_request_id;

  vdm_subscription *subs;
  local_watch *watches;
  uint32_t next_local_id;
  const char *reason_names[VDM_REASON_SLOTS]; /* learnt from drop records */
};

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static daemon_source *open_sources;

static uint64_t
monotonic_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static daemon_source *
as_daemon (vdm_source *source)
{
  return (daemon_source *) source;
}

static bool
on_io_thread (daemon_source *ds)
{
  return pthread_equal (pthread_self (), ds->thread);
}

static void
wake_io_thread (daemon_source *ds)
{
  char byte = 1;
  if (write (ds->wake[1], &byte, 1) < 0) {
    /* pipe full: the thread is being woken anyway */
  }
}

/* ---- talking to the daemon ------------------------------------------- */

/* Waits up to timeout_ms for one frame and decodes it. */
static int
receive_msg (int sock, vdm_msg *msg, int timeout_ms)
{
  static __thread uint8_t frame[VDM_PROTO_MAX_FRAME];
  struct pollfd p = { .fd = sock, .events = POLLIN };
  const char *why;
  int len, fd;

  if (timeout_ms >= 0 && poll (&p, 1, timeout_ms) <= 0)
    return -ETIMEDOUT;
  len = vdm_wire_recv (sock, frame, &fd);
  if (fd >= 0)
    close (fd);                 /* the daemon never sends fds */
  if (len <= 0)
    return len == 0 ? -ECONNRESET : len;
  return vdm_proto_decode (frame, (size_t) len, msg, &why) < 0 ? -EPROTO : 0;
}

/* The highest protocol version offered: VDM_PROTO_VERSION_MAX, or lower
 * with VDROPMON_DAEMON_PROTOCOL_MAX (to compare versions, or to talk like
 * an older client). A switch that changes behaviour, so, like the
 * collector's (bpf/debug_switch.c): secure_getenv, said once on stderr. */
static uint16_t
offered_version (void)
{
  static atomic_bool announced;
  const char *env = secure_getenv ("VDROPMON_DAEMON_PROTOCOL_MAX");
  long v = env && *env ? strtol (env, NULL, 10) : VDM_PROTO_VERSION_MAX;

  if (v < VDM_PROTO_VERSION_MIN || v > VDM_PROTO_VERSION_MAX)
    return VDM_PROTO_VERSION_MAX;
  if (v != VDM_PROTO_VERSION_MAX && !atomic_exchange (&announced, true))
    fprintf (stderr, "vdropmon: VDROPMON_DAEMON_PROTOCOL_MAX=%ld: offering the daemon protocol "
        "versions %d to %ld only\n", v, VDM_PROTO_VERSION_MIN, v);
  return (uint16_t) v;
}

static int
say_hello (int sock, vdm_msg_hello_reply *reply, char **error)
{
  vdm_msg m = { .type = VDM_MSG_HELLO, .request_id = 1 };
  uint16_t offered = offered_version ();
  int err;

  m.u.hello.version_min = VDM_PROTO_VERSION_MIN;
  m.u.hello.version_max = offered;
  m.u.hello.pid = (uint32_t) getpid ();
  snprintf (m.u.hello.client_name, sizeof (m.u.hello.client_name), "%s",
      program_invocation_short_name);
  err = vdm_wire_send (sock, &m, -1);
  if (!err)
    err = receive_msg (sock, &m, HELLO_TIMEOUT_MS);
  if (!err && m.type == VDM_MSG_RESULT) {
    *error = vdm_source_format_error ("the daemon refused the connection: %s", m.u.result.text);
    return -(int) m.u.result.status;
  }
  if (!err && m.type != VDM_MSG_HELLO_REPLY)
    err = -EPROTO;
  if (err) {
    *error = vdm_source_format_error ("no hello from the daemon: %s", strerror (-err));
    return err;
  }
  if (m.u.hello_reply.version < VDM_PROTO_VERSION_MIN || m.u.hello_reply.version > offered) {
    *error = vdm_source_format_error ("the daemon answered protocol version %u, this client "
        "speaks %d to %u", m.u.hello_reply.version, VDM_PROTO_VERSION_MIN, offered);
    return -EPROTONOSUPPORT;
  }
  *reply = m.u.hello_reply;
  return 0;
}

/* Connects and says hello. Returns the socket or -1 with *error set. */
static int
connect_daemon (const char *path, vdm_msg_hello_reply *reply, char **error)
{
  struct timeval timeout = { .tv_sec = CALL_TIMEOUT_MS / 1000 };
  int sock = vdm_wire_connect (path, 0);

  if (sock < 0) {
    *error = vdm_source_format_error ("no vdropmond answers on %s: %s", path, strerror (-sock));
    return -1;
  }
  /* A daemon that stops reading must not hang an element's thread. */
  setsockopt (sock, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof (timeout));
  if (say_hello (sock, reply, error) < 0) {
    close (sock);
    return -1;
  }
  return sock;
}

/* Sends req and waits for its reply (caller threads). Returns 0 with
 * *reply filled, or a negative errno (-ENOTCONN while reconnecting). */
static int
call (daemon_source *ds, vdm_msg *req, int pass_fd, vdm_msg *reply)
{
  struct timespec deadline;
  unsigned session;
  int err = 0;

  clock_gettime (CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += CALL_TIMEOUT_MS / 1000;
  pthread_mutex_lock (&ds->call_lock);
  pthread_mutex_lock (&ds->lock);
  if (ds->sock < 0) {
    err = -ENOTCONN;
    goto out;
  }
  req->request_id = ds->call_id = ++ds->next_request_id;
  ds->call_done = false;
  session = ds->session;
  err = vdm_wire_send (ds->sock, req, pass_fd);
  while (!err && !ds->call_done && session == ds->session)
    if (pthread_cond_timedwait (&ds->cond, &ds->lock, &deadline) == ETIMEDOUT)
      err = -ETIMEDOUT;
  if (!err && !ds->call_done)
    err = -ENOTCONN;
  if (!err)
    *reply = ds->call_reply;
out:
  ds->call_id = 0;
  pthread_mutex_unlock (&ds->lock);
  pthread_mutex_unlock (&ds->call_lock);
  return err;
}

/* ---- accounting ------------------------------------------------------ */

static uint64_t
session_count (const local_watch *w, unsigned slot)
{
  return w->polled.per_reason[slot] > w->received[slot] ? w->polled.per_reason[slot]
      : w->received[slot];
}

static void
fill_counters (const local_watch *w, vdm_counters *out)
{
  unsigned slot;

  *out = w->carried;
  for (slot = 0; slot < VDM_REASON_SLOTS; slot++) {
    uint64_t n = session_count (w, slot);
    out->per_reason[slot] += n;
    out->total += n;
  }
  out->ringbuf_lost += w->polled.ringbuf_lost + w->polled_queue_lost;
}

/* The daemon went away: this session's counts become carried ones. */
static void
close_session (local_watch *w)
{
  uint64_t session_total = 0, received = 0, known_lost;

  if (!w->remote_id)
    return;
  fill_counters (w, &w->carried);
  for (unsigned slot = 0; slot < VDM_REASON_SLOTS; slot++) {
    session_total += session_count (w, slot);
    received += w->received[slot];
  }
  /* Drops the daemon counted whose events died with it (in its ring, its
   * queues, the socket): lost events, so counts and messages still add up. */
  known_lost = w->polled.ringbuf_lost + w->polled_queue_lost;
  if (w->polled.total > received + known_lost)
    w->carried.ringbuf_lost += w->polled.total - received - known_lost;
  w->sk_accounted = w->session_sk_start + session_total;
  memset (&w->polled, 0, sizeof (w->polled));
  memset (w->received, 0, sizeof (w->received));
  w->polled_queue_lost = 0;
  w->remote_id = 0;
}

/* A (re)registration: the socket's counter now, against what was accounted. */
static void
open_session (local_watch *w, const vdm_msg_watch_reply *r)
{
  w->remote_id = r->watch_id;
  w->cookie = r->sock_cookie;
  w->session_sk_start = r->sk_drops_at_start;
  w->fill_last = 0;
  if (r->sk_drops_at_start > w->sk_accounted) {
    uint64_t gap = r->sk_drops_at_start - w->sk_accounted;
    w->carried.per_reason[REASON_NOT_SPECIFIED] += gap;
    w->carried.total += gap;
    w->pending_catch_up += gap;
  }
  w->sk_accounted = r->sk_drops_at_start;
}

static void
apply_counters (local_watch *w, const vdm_msg_counters_reply *r)
{
  memset (&w->polled, 0, sizeof (w->polled));
  for (unsigned i = 0; i < r->n_reasons; i++)
    w->polled.per_reason[r->reasons[i].slot] = r->reasons[i].count;
  w->polled.total = r->total;
  w->polled.ringbuf_lost = r->ringbuf_lost;
  w->polled_queue_lost = r->queue_lost;
  if (r->queue_peak > w->peak_pending)
    w->peak_pending = r->queue_peak;
}

/* ---- events (I/O thread) --------------------------------------------- */

static local_watch *
find_local (daemon_source *ds, uint32_t local_id)
{
  local_watch *w;

  for (w = ds->watches; w; w = w->next)
    if (w->local_id == local_id)
      return w;
  return NULL;
}

static void
flow_from_proto (const vdm_proto_flow *p, struct vdm_flow_key *k)
{
  memset (k, 0, sizeof (*k));
  k->family = p->family;
  k->protocol = p->protocol;
  k->local_port = p->local_port;
  k->remote_port = p->remote_port;
  memcpy (k->local_addr, p->local_addr, 16);
  memcpy (k->remote_addr, p->remote_addr, 16);
}

static const char *
reason_name_of (daemon_source *ds, uint32_t reason, const char *name)
{
  unsigned slot = reason < VDM_REASON_SLOTS - 1 ? reason : VDM_REASON_SLOTS - 1;

  if (reason < VDM_REASON_SLOTS - 1 && !ds->reason_names[slot])
    ds->reason_names[slot] = vdm_source_intern_name (name);
  return reason < VDM_REASON_SLOTS - 1 && ds->reason_names[slot] ? ds->reason_names[slot]
      : vdm_source_intern_name (name);
}

typedef struct {
  vdm_subscription *sub;
  uint32_t local_id;
} target;

/* Local watches fed by one daemon watch (two elements on one socket). */
static unsigned
find_targets (daemon_source *ds, uint32_t remote_id, uint32_t reason, target *out)
{
  unsigned n = 0, slot = reason < VDM_REASON_SLOTS - 1 ? reason : VDM_REASON_SLOTS - 1;
  local_watch *w;

  for (w = ds->watches; w && n < MAX_TARGETS; w = w->next) {
    if (w->remote_id != remote_id)
      continue;
    w->received[slot]++;
    out[n].sub = w->sub;
    out[n++].local_id = w->local_id;
  }
  return n;
}

static void
deliver_drop (daemon_source *ds, const vdm_proto_drop *rec)
{
  target targets[MAX_TARGETS];
  vdm_drop drop = {
    .ktime_ns = rec->ktime_ns,
    .reason = rec->reason,
    .sock_cookie = rec->sock_cookie,
    .attributed_by = (enum vdm_attribution) rec->attribution,
    .skb_len = rec->skb_len,
    .payload = rec->payload,
    .payload_len = rec->payload_len,
    .count = 1,
  };
  unsigned i, n;

  flow_from_proto (&rec->flow, &drop.flow);
  pthread_mutex_lock (&ds->lock);
  drop.reason_name = reason_name_of (ds, rec->reason, rec->reason_name);
  n = find_targets (ds, rec->watch_id, rec->reason, targets);
  pthread_mutex_unlock (&ds->lock);
  for (i = 0; i < n; i++) {
    drop.watch_id = targets[i].local_id;
    targets[i].sub->consumer.on_drop (targets[i].sub->user_data, &drop);
  }
}

/* Pending catch-ups become one drop each, on this thread. */
static void
deliver_catch_ups (daemon_source *ds)
{
  local_watch *w;

  pthread_mutex_lock (&ds->dispatch_lock);
  for (;;) {
    vdm_drop drop = { .reason = REASON_NOT_SPECIFIED, .attributed_by = VDM_ATTR_CATCH_UP };
    vdm_subscription *sub = NULL;

    pthread_mutex_lock (&ds->lock);
    for (w = ds->watches; w && !w->pending_catch_up; w = w->next)
      ;
    if (w) {
      drop.count = w->pending_catch_up > UINT32_MAX ? UINT32_MAX : (uint32_t) w->pending_catch_up;
      w->pending_catch_up -= drop.count;
      drop.watch_id = w->local_id;
      drop.sock_cookie = w->cookie;
      drop.flow = w->flow;
      drop.reason_name = vdm_source_intern_name ("NOT_SPECIFIED");
      drop.ktime_ns = monotonic_ns ();
      sub = w->sub;
    }
    pthread_mutex_unlock (&ds->lock);
    if (!sub)
      break;
    sub->consumer.on_drop (sub->user_data, &drop);
  }
  pthread_mutex_unlock (&ds->dispatch_lock);
}

/* Version 2: a watch's peak holds until the daemon says it changed. */
static void
apply_fills (daemon_source *ds, const vdm_msg_fill *f)
{
  local_watch *w;
  unsigned i;

  pthread_mutex_lock (&ds->lock);
  for (i = 0; i < f->n_fills; i++) {
    for (w = ds->watches; w; w = w->next) {
      if (w->remote_id != f->fills[i].watch_id)
        continue;
      w->fill_last = f->fills[i].peak;
      if (w->fill_last > w->peak_pending)
        w->peak_pending = w->fill_last;
    }
  }
  pthread_mutex_unlock (&ds->lock);
}

/* Version 2: counters the daemon pushed because they moved. */
static void
apply_pushed_counters (daemon_source *ds, const vdm_msg_counters_reply *r)
{
  local_watch *w;

  pthread_mutex_lock (&ds->lock);
  for (w = ds->watches; w; w = w->next)
    if (w->remote_id == r->watch_id)
      apply_counters (w, r);
  pthread_mutex_unlock (&ds->lock);
}

static void
handle_pushed_or_reply (daemon_source *ds, const vdm_msg *m)
{
  unsigned i;

  switch (m->type) {
    case VDM_MSG_FILL:
      apply_fills (ds, &m->u.fill);
      return;
    case VDM_MSG_COUNTERS_REPLY:
      if (m->request_id == 0) {
        apply_pushed_counters (ds, &m->u.counters_reply);
        return;
      }
      break;
    case VDM_MSG_DROPS:
      pthread_mutex_lock (&ds->dispatch_lock);
      for (i = 0; i < m->u.drops.n_drops; i++)
        deliver_drop (ds, &m->u.drops.drops[i]);
      pthread_mutex_unlock (&ds->dispatch_lock);
      return;
    case VDM_MSG_CATCH_UP:
      return;                   /* computed here from WATCH_REPLY, for reconnections too */
    default:
      break;
  }
  pthread_mutex_lock (&ds->lock);
  if (ds->call_id && m->request_id == ds->call_id && !ds->call_done) {
    ds->call_reply = *m;
    ds->call_done = true;
    pthread_cond_broadcast (&ds->cond);
  }
  pthread_mutex_unlock (&ds->lock);
}

/* ---- the I/O thread -------------------------------------------------- */

static void
lose_daemon (daemon_source *ds)
{
  local_watch *w;

  pthread_mutex_lock (&ds->lock);
  if (ds->sock >= 0)
    close (ds->sock);
  ds->sock = -1;
  ds->session++;
  ds->info.status = "reconnecting";
  for (w = ds->watches; w; w = w->next) {
    close_session (w);
    w->refused = false;
  }
  pthread_cond_broadcast (&ds->cond);
  pthread_mutex_unlock (&ds->lock);
  fprintf (stderr, "vdropmon: lost vdropmond (%s); reconnecting\n", ds->path);
}

/* WATCH on the I/O thread itself: frames pushed meanwhile are handled
 * inline until the reply comes. */
static int
register_watch (daemon_source *ds, int sock, int fd, const vdm_msg_watch *names, vdm_msg *reply)
{
  vdm_msg req = { .type = VDM_MSG_WATCH, .request_id = ++ds->next_request_id };
  uint64_t deadline = monotonic_ns () + CALL_TIMEOUT_MS * 1000000ull;
  int err;

  req.u.watch = *names;
  err = vdm_wire_send (sock, &req, fd);
  while (!err) {
    err = receive_msg (sock, reply, CALL_TIMEOUT_MS);
    if (!err && reply->request_id == req.request_id)
      return 0;
    if (!err)
      handle_pushed_or_reply (ds, reply);
    if (!err && monotonic_ns () > deadline)
      err = -ETIMEDOUT;
  }
  return err;
}

/* The unregistered watch with the lowest id above after_id, or NULL. */
static local_watch *
next_unregistered_locked (daemon_source *ds, uint32_t after_id)
{
  local_watch *w, *best = NULL;

  for (w = ds->watches; w; w = w->next)
    if (!w->remote_id && !w->refused && w->local_id > after_id
        && (!best || w->local_id < best->local_id))
      best = w;
  return best;
}

/* Hands every kept socket not yet registered over (again). Returns false if
 * the daemon went away meanwhile. */
static bool
register_all (daemon_source *ds, int sock)
{
  uint32_t id = 0;

  for (;;) {
    local_watch *w;
    vdm_msg reply;
    vdm_msg_watch names = { { 0 } };
    int fd = -1, err;

    pthread_mutex_lock (&ds->lock);
    w = next_unregistered_locked (ds, id);
    if (w) {
      id = w->local_id;
      fd = fcntl (w->fd, F_DUPFD_CLOEXEC, 3);
      memcpy (names.element, w->sub->element, sizeof (names.element));
      memcpy (names.pipeline, w->sub->pipeline, sizeof (names.pipeline));
    }
    pthread_mutex_unlock (&ds->lock);
    if (!w)
      return true;
    err = fd < 0 ? -errno : register_watch (ds, sock, fd, &names, &reply);
    if (fd >= 0)
      close (fd);
    if (err == -ECONNRESET || err == -EPIPE || err == -ETIMEDOUT || err == -EPROTO)
      return false;
    pthread_mutex_lock (&ds->lock);
    w = find_local (ds, id);
    if (w && !err && reply.type == VDM_MSG_WATCH_REPLY)
      open_session (w, &reply.u.watch_reply);
    else if (w)
      w->refused = true;        /* e.g. the socket was closed meanwhile: not retried */
    pthread_mutex_unlock (&ds->lock);
  }
}

static void
wait_backoff (daemon_source *ds, int ms)
{
  struct pollfd p = { .fd = ds->wake[0], .events = POLLIN };
  char buf[64];

  if (poll (&p, 1, ms) > 0 && read (ds->wake[0], buf, sizeof (buf)) < 0) {
    /* nothing to drain */
  }
}

static void
reconnect (daemon_source *ds, int *backoff_ms)
{
  vdm_msg_hello_reply hello;
  char *error = NULL;
  int sock = connect_daemon (ds->path, &hello, &error);

  free (error);
  if (sock < 0 || !register_all (ds, sock)) {
    if (sock >= 0)
      close (sock);
    wait_backoff (ds, *backoff_ms);
    *backoff_ms = *backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff_ms * 2;
    return;
  }
  *backoff_ms = BACKOFF_MIN_MS;
  pthread_mutex_lock (&ds->lock);
  ds->sock = sock;
  ds->version = hello.version;
  ds->info.status = NULL;
  pthread_mutex_unlock (&ds->lock);
  fprintf (stderr, "vdropmon: reconnected to vdropmond (%s)\n", ds->path);
  /* Watches added while we registered the others (their fds are kept). */
  wake_io_thread (ds);
}

/* Reads what the daemon sent. Returns false when it is gone. */
static bool
read_daemon (daemon_source *ds, int sock)
{
  static __thread vdm_msg m;
  int err;

  while ((err = receive_msg (sock, &m, 0)) == 0)
    handle_pushed_or_reply (ds, &m);
  return err == -ETIMEDOUT || err == -EAGAIN;
}

static void
register_new_watches (daemon_source *ds)
{
  int sock;

  pthread_mutex_lock (&ds->lock);
  sock = ds->sock;
  pthread_mutex_unlock (&ds->lock);
  if (sock >= 0 && !register_all (ds, sock))
    lose_daemon (ds);
}

static void *
io_thread (void *data)
{
  daemon_source *ds = data;
  int backoff_ms = BACKOFF_MIN_MS;

  while (!__atomic_load_n (&ds->stopping, __ATOMIC_ACQUIRE)) {
    struct pollfd p[2] = { { .fd = ds->wake[0], .events = POLLIN }, { .events = POLLIN } };
    int sock;

    pthread_mutex_lock (&ds->lock);
    sock = ds->sock;
    pthread_mutex_unlock (&ds->lock);
    if (sock < 0) {
      reconnect (ds, &backoff_ms);
      deliver_catch_ups (ds);
      continue;
    }
    p[1].fd = sock;
    if (poll (p, 2, -1) < 0)
      continue;
    if (p[0].revents) {
      char buf[64];
      if (read (ds->wake[0], buf, sizeof (buf)) < 0) {
        /* nothing */
      }
      register_new_watches (ds);
    }
    if (p[1].revents && !read_daemon (ds, sock))
      lose_daemon (ds);
    deliver_catch_ups (ds);
  }
  return NULL;
}

/* ---- the ops --------------------------------------------------------- */

static void refresh_counters (daemon_source *ds, uint32_t watch_id, bool even_if_pushed);

static void
ds_get_info (vdm_source *source, vdm_source_info *info)
{
  daemon_source *ds = as_daemon (source);

  pthread_mutex_lock (&ds->lock);
  *info = ds->info;
  pthread_mutex_unlock (&ds->lock);
}

static vdm_subscription *
ds_subscribe (vdm_source *source, const vdm_consumer *consumer, void *user_data)
{
  daemon_source *ds = as_daemon (source);
  vdm_subscription *sub = calloc (1, sizeof (*sub));

  if (!sub)
    return NULL;
  sub->consumer = *consumer;
  sub->user_data = user_data;
  pthread_mutex_lock (&ds->lock);
  sub->next = ds->subs;
  ds->subs = sub;
  pthread_mutex_unlock (&ds->lock);
  return sub;
}

/* Tells the daemon, without waiting: the reply is not needed. */
static void
send_unwatch_locked (daemon_source *ds, uint32_t remote_id)
{
  vdm_msg m = { .type = VDM_MSG_UNWATCH, .request_id = ++ds->next_request_id };
  local_watch *w;

  for (w = ds->watches; w; w = w->next)
    if (w->remote_id == remote_id)
      return;                   /* another element still watches that socket */
  m.u.watch_ref.watch_id = remote_id;
  if (ds->sock >= 0)
    vdm_wire_send (ds->sock, &m, -1);
}

static void
remove_watch_locked (daemon_source *ds, local_watch *gone)
{
  local_watch **link;

  for (link = &ds->watches; *link; link = &(*link)->next) {
    if (*link == gone) {
      *link = gone->next;
      break;
    }
  }
  if (gone->remote_id)
    send_unwatch_locked (ds, gone->remote_id);
  close (gone->fd);
  free (gone);
}

static void
ds_unsubscribe (vdm_source *source, vdm_subscription *sub)
{
  daemon_source *ds = as_daemon (source);
  vdm_subscription **link;
  local_watch *w, *next;

  if (!sub)
    return;
  pthread_mutex_lock (&ds->dispatch_lock);  /* no callback of sub is running */
  pthread_mutex_lock (&ds->lock);
  for (w = ds->watches; w; w = next) {
    next = w->next;
    if (w->sub == sub)
      remove_watch_locked (ds, w);
  }
  for (link = &ds->subs; *link; link = &(*link)->next) {
    if (*link == sub) {
      *link = sub->next;
      break;
    }
  }
  pthread_mutex_unlock (&ds->lock);
  pthread_mutex_unlock (&ds->dispatch_lock);
  free (sub);
}

static local_watch *
find_by_cookie_locked (daemon_source *ds, vdm_subscription *sub, uint64_t cookie)
{
  local_watch *w;

  for (w = ds->watches; w; w = w->next)
    if (w->sub == sub && w->cookie == cookie)
      return w;
  return NULL;
}

static uint64_t
socket_cookie (int fd)
{
  uint64_t cookie = 0;
  socklen_t len = sizeof (cookie);

  getsockopt (fd, SOL_SOCKET, SO_COOKIE, &cookie, &len);
  return cookie;
}

/* The daemon is the judge of what may be watched; only a socket can be
 * handed over, so a flow without one is refused here with its words. */
static int
ds_watch (vdm_source *source, vdm_subscription *sub, const vdm_watch_spec *spec)
{
  daemon_source *ds = as_daemon (source);
  vdm_msg req = { .type = VDM_MSG_WATCH }, reply;
  local_watch *w;
  uint64_t cookie;
  int id, err;

  if (spec->fd < 0)
    return -EPERM;              /* "a watch must carry the socket itself" (docs/daemon.md) */
  cookie = socket_cookie (spec->fd);
  w = calloc (1, sizeof (*w));
  if (!w)
    return -ENOMEM;
  w->fd = fcntl (spec->fd, F_DUPFD_CLOEXEC, 3);
  if (w->fd < 0) {
    free (w);
    return -errno;
  }
  w->sub = sub;
  w->cookie = cookie;
  w->peak_pending = -1;
  pthread_mutex_lock (&ds->lock);
  memcpy (req.u.watch.element, sub->element, sizeof (req.u.watch.element));
  memcpy (req.u.watch.pipeline, sub->pipeline, sizeof (req.u.watch.pipeline));
  pthread_mutex_unlock (&ds->lock);
  if (vdm_flow_from_socket (spec->fd, &w->flow) < 0)
    w->flow = spec->flow;
  pthread_mutex_lock (&ds->lock);
  if (cookie && find_by_cookie_locked (ds, sub, cookie)) {
    id = (int) find_by_cookie_locked (ds, sub, cookie)->local_id;
    pthread_mutex_unlock (&ds->lock);
    close (w->fd);
    free (w);
    return id;
  }
  pthread_mutex_unlock (&ds->lock);

  err = call (ds, &req, spec->fd, &reply);
  if (!err && reply.type == VDM_MSG_RESULT) {
    close (w->fd);
    free (w);
    return -(int) reply.u.result.status;  /* refused: the daemon said why (its log too) */
  }
  pthread_mutex_lock (&ds->lock);
  w->local_id = ++ds->next_local_id;
  if (!err && reply.type == VDM_MSG_WATCH_REPLY)
    open_session (w, &reply.u.watch_reply);
  /* else: no daemon now; the I/O thread registers it on reconnection */
  w->next = ds->watches;
  ds->watches = w;
  id = (int) w->local_id;
  pthread_mutex_unlock (&ds->lock);
  if (!err && reply.type == VDM_MSG_WATCH_REPLY)
    refresh_counters (ds, (uint32_t) id, true);
  wake_io_thread (ds);          /* a catch-up to deliver, or a watch to register */
  return id;
}

static void
ds_unwatch (vdm_source *source, vdm_subscription *sub, uint32_t watch_id)
{
  daemon_source *ds = as_daemon (source);
  local_watch *w;

  pthread_mutex_lock (&ds->lock);
  w = find_local (ds, watch_id);
  if (w && w->sub == sub)
    remove_watch_locked (ds, w);
  pthread_mutex_unlock (&ds->lock);
}

/* Asks the daemon for a watch's counters and folds them in. A version 2
 * daemon pushes them when they move, so then only a new watch asks (once:
 * a push that overtook its WATCH_REPLY found no watch to update). */
static void
refresh_counters (daemon_source *ds, uint32_t watch_id, bool even_if_pushed)
{
  vdm_msg req = { .type = VDM_MSG_COUNTERS_REQUEST }, reply;
  local_watch *w;
  uint32_t remote_id;
  unsigned session;
  bool pushed;

  if (on_io_thread (ds))
    return;                     /* a consumer callback: answer from what is known */
  pthread_mutex_lock (&ds->lock);
  w = find_local (ds, watch_id);
  remote_id = w ? w->remote_id : 0;
  session = ds->session;
  pushed = ds->version >= 2;
  pthread_mutex_unlock (&ds->lock);
  if (!remote_id || (pushed && !even_if_pushed))
    return;
  req.u.watch_ref.watch_id = remote_id;
  if (call (ds, &req, -1, &reply) < 0 || reply.type != VDM_MSG_COUNTERS_REPLY)
    return;
  pthread_mutex_lock (&ds->lock);
  w = find_local (ds, watch_id);
  if (w && w->remote_id == remote_id && ds->session == session)
    apply_counters (w, &reply.u.counters_reply);
  pthread_mutex_unlock (&ds->lock);
}

static int
ds_counters (vdm_source *source, uint32_t watch_id, vdm_counters *out)
{
  daemon_source *ds = as_daemon (source);
  local_watch *w;

  memset (out, 0, sizeof (*out));
  refresh_counters (ds, watch_id, false);
  pthread_mutex_lock (&ds->lock);
  w = find_local (ds, watch_id);
  if (w)
    fill_counters (w, out);
  pthread_mutex_unlock (&ds->lock);
  return w ? 0 : -EINVAL;
}

static int
ds_events_lost (vdm_source *source, uint32_t watch_id, uint64_t *out)
{
  vdm_counters *counters = malloc (sizeof (*counters));
  int err;

  if (!counters)
    return -ENOMEM;
  err = ds_counters (source, watch_id, counters);
  *out = counters->ringbuf_lost;
  free (counters);
  return err;
}

static int
ds_queue_peak (vdm_source *source, uint32_t watch_id)
{
  daemon_source *ds = as_daemon (source);
  local_watch *w;
  int peak = -1;

  if (!ds->info.has_queue_fill)
    return -1;
  refresh_counters (ds, watch_id, false);
  pthread_mutex_lock (&ds->lock);
  w = find_local (ds, watch_id);
  if (w && ds->version >= 2 && w->remote_id) {
    /* the peak of the periods since the last read: at least the last one */
    peak = w->peak_pending > w->fill_last ? w->peak_pending : w->fill_last;
    w->peak_pending = -1;
  } else if (w) {
    peak = w->peak_pending;
    w->peak_pending = -1;
  }
  pthread_mutex_unlock (&ds->lock);
  return peak;
}

static const char *
ds_reason_name (vdm_source *source, uint32_t reason)
{
  daemon_source *ds = as_daemon (source);
  const char *name = NULL;

  if (reason == REASON_NOT_SPECIFIED)
    return vdm_source_intern_name ("NOT_SPECIFIED");
  pthread_mutex_lock (&ds->lock);
  if (reason < VDM_REASON_SLOTS - 1)
    name = ds->reason_names[reason];
  pthread_mutex_unlock (&ds->lock);
  return name ? name : "UNKNOWN";
}

static void
ds_destroy (vdm_source *source)
{
  daemon_source *ds = as_daemon (source);
  daemon_source **link;
  local_watch *w;

  pthread_mutex_lock (&open_lock);
  for (link = &open_sources; *link; link = &(*link)->next_open) {
    if (*link == ds) {
      *link = ds->next_open;
      break;
    }
  }
  pthread_mutex_unlock (&open_lock);
  __atomic_store_n (&ds->stopping, true, __ATOMIC_RELEASE);
  wake_io_thread (ds);
  pthread_join (ds->thread, NULL);
  while ((w = ds->watches)) {
    ds->watches = w->next;
    close (w->fd);
    free (w);
  }
  if (ds->sock >= 0)
    close (ds->sock);
  close (ds->wake[0]);
  close (ds->wake[1]);
  pthread_mutex_destroy (&ds->dispatch_lock);
  pthread_mutex_destroy (&ds->lock);
  pthread_mutex_destroy (&ds->call_lock);
  pthread_cond_destroy (&ds->cond);
  free (ds->path);
  free (ds);
}

static const vdm_source_ops daemon_ops = {
  .name = "daemon",
  .destroy = ds_destroy,
  .get_info = ds_get_info,
  .subscribe = ds_subscribe,
  .unsubscribe = ds_unsubscribe,
  .watch = ds_watch,
  .unwatch = ds_unwatch,
  .counters = ds_counters,
  .events_lost = ds_events_lost,
  .queue_peak = ds_queue_peak,
  .reason_name = ds_reason_name,
};

/* ---- opening --------------------------------------------------------- */

static void
init_locks (daemon_source *ds)
{
  pthread_condattr_t attr;

  pthread_mutex_init (&ds->dispatch_lock, NULL);
  pthread_mutex_init (&ds->lock, NULL);
  pthread_mutex_init (&ds->call_lock, NULL);
  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (&ds->cond, &attr);
  pthread_condattr_destroy (&attr);
}

static daemon_source *
create (const char *path, char **error)
{
  daemon_source *ds = calloc (1, sizeof (*ds));
  vdm_msg_hello_reply hello;

  if (!ds || !(ds->path = strdup (path))) {
    free (ds);
    *error = vdm_source_format_error ("out of memory");
    return NULL;
  }
  ds->sock = connect_daemon (path, &hello, error);
  if (ds->sock < 0 || pipe2 (ds->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
    if (ds->sock >= 0) {
      close (ds->sock);
      *error = vdm_source_format_error ("pipe: %s", strerror (errno));
    }
    free (ds->path);
    free (ds);
    return NULL;
  }
  vdm_source_init (&ds->base, &daemon_ops);
  init_locks (ds);
  ds->info.name = "daemon";
  ds->info.has_rx_sk = (hello.flags & VDM_HELLO_HAS_RX_SK) != 0;
  ds->info.has_queue_fill = (hello.flags & VDM_HELLO_HAS_QUEUE_FILL) != 0;
  ds->version = hello.version;
  if (pthread_create (&ds->thread, NULL, io_thread, ds) != 0) {
    *error = vdm_source_format_error ("cannot start the daemon client thread");
    close (ds->sock);
    close (ds->wake[0]);
    close (ds->wake[1]);
    free (ds->path);
    free (ds);
    return NULL;
  }
  pthread_setname_np (ds->thread, "vdm-daemon");
  return ds;
}

/* A reference on a source still alive, or false if it is being destroyed. */
static bool
try_ref (daemon_source *ds)
{
  int n = __atomic_load_n (&ds->base.refcount, __ATOMIC_ACQUIRE);

  while (n > 0)
    if (__atomic_compare_exchange_n (&ds->base.refcount, &n, n + 1, false, __ATOMIC_ACQ_REL,
            __ATOMIC_ACQUIRE))
      return true;
  return false;
}

const char *
vdm_daemon_client_default_socket (void)
{
  const char *env = getenv (VDM_DAEMON_SOCKET_ENV);
  return env && *env ? env : VDM_DAEMON_DEFAULT_SOCKET;
}

static vdm_source *
open_daemon (const char *daemon_socket, char **error)
{
  const char *path = daemon_socket && *daemon_socket ? daemon_socket
      : vdm_daemon_client_default_socket ();
  daemon_source *ds;

  *error = NULL;
  pthread_mutex_lock (&open_lock);
  for (ds = open_sources; ds; ds = ds->next_open)
    if (strcmp (ds->path, path) == 0 && try_ref (ds))
      break;
  if (!ds) {
    ds = create (path, error);
    if (ds) {
      ds->next_open = open_sources;
      open_sources = ds;
    }
  }
  pthread_mutex_unlock (&open_lock);
  return ds ? &ds->base : NULL;
}

int
vdm_daemon_client_register (void)
{
  return vdm_source_register_opener ("daemon", open_daemon);
}

unsigned
vdm_daemon_client_protocol (vdm_source *source)
{
  daemon_source *ds;
  unsigned version;

  if (!source || source->ops != &daemon_ops)
    return 0;
  ds = as_daemon (source);
  pthread_mutex_lock (&ds->lock);
  version = ds->sock >= 0 ? ds->version : 0;
  pthread_mutex_unlock (&ds->lock);
  return version;
}

/* ---- issue 11: names and analytics for the daemon's metrics ---------- */

int
vdm_daemon_client_set_names (vdm_source *source, vdm_subscription *sub, const char *element,
    const char *pipeline)
{
  daemon_source *ds;

  if (!source || source->ops != &daemon_ops || !sub)
    return -EINVAL;
  ds = as_daemon (source);
  pthread_mutex_lock (&ds->lock);
  snprintf (sub->element, sizeof (sub->element), "%s", element ? element : "");
  snprintf (sub->pipeline, sizeof (sub->pipeline), "%s", pipeline ? pipeline : "");
  pthread_mutex_unlock (&ds->lock);
  return 0;
}

int
vdm_daemon_client_send_analytics (vdm_source *source, const char *element,
    const char *const *keys, const double *values, size_t n)
{
  static __thread uint8_t frame[VDM_PROTO_MAX_FRAME];
  vdm_msg m = { .type = VDM_MSG_ANALYTICS };
  daemon_source *ds;
  ssize_t sent;
  size_t i;
  int err, len;

  if (!source || source->ops != &daemon_ops || n > VDM_PROTO_MAX_ANALYTICS)
    return -EINVAL;
  snprintf (m.u.analytics.element, sizeof (m.u.analytics.element), "%s", element ? element : "");
  m.u.analytics.n_metrics = (uint16_t) n;
  for (i = 0; i < n; i++) {
    snprintf (m.u.analytics.metrics[i].key, sizeof (m.u.analytics.metrics[i].key), "%s", keys[i]);
    m.u.analytics.metrics[i].value = values[i];
  }
  len = vdm_proto_encode (&m, frame, sizeof (frame));
  if (len < 0)
    return len;
  ds = as_daemon (source);
  pthread_mutex_lock (&ds->lock);
  /* one datagram (SOCK_SEQPACKET): safe beside the I/O thread's frames.
   * MSG_DONTWAIT: the element's worker calls this; a daemon that stops
   * reading costs this frame (-EAGAIN), never a wait */
  if (ds->sock < 0)
    err = -ENOTCONN;
  else {
    do
      sent = send (ds->sock, frame, (size_t) len, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    err = sent < 0 ? (errno == EWOULDBLOCK ? -EAGAIN : -errno) : sent == len ? 0 : -EIO;
  }
  pthread_mutex_unlock (&ds->lock);
  return err;
}
