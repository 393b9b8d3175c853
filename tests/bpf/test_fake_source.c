/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of bpf/fake_source.c: it keeps the event_source.h contract
 * (callbacks on its own thread, shared watches, unsubscribe waits for a
 * running callback) and does what a test tells it. No privilege. */
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_source.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

typedef struct {
  GMutex lock;
  GCond cond;
  GArray *drops;        /* vdm_drop, payload pointer cleared */
  GArray *payloads;     /* first payload byte of each */
  GThread *caller;      /* the test's thread */
  gboolean on_caller_thread;
  gboolean block;       /* the callback waits until released */
  gboolean in_callback, callback_done;
} recorder;

static void
record_drop (void *user_data, const vdm_drop *drop)
{
  recorder *r = user_data;
  vdm_drop copy = *drop;
  guint8 first = drop->payload_len ? drop->payload[0] : 0;

  g_mutex_lock (&r->lock);
  if (g_thread_self () == r->caller)
    r->on_caller_thread = TRUE;
  copy.payload = NULL;
  g_array_append_val (r->drops, copy);
  g_array_append_val (r->payloads, first);
  r->in_callback = TRUE;
  g_cond_broadcast (&r->cond);
  while (r->block)
    g_cond_wait (&r->cond, &r->lock);
  r->callback_done = TRUE;
  g_mutex_unlock (&r->lock);
}

static void
recorder_init (recorder *r)
{
  memset (r, 0, sizeof (*r));
  g_mutex_init (&r->lock);
  g_cond_init (&r->cond);
  r->drops = g_array_new (FALSE, TRUE, sizeof (vdm_drop));
  r->payloads = g_array_new (FALSE, TRUE, 1);
  r->caller = g_thread_self ();
}

static void
recorder_clear (recorder *r)
{
  g_array_unref (r->drops);
  g_array_unref (r->payloads);
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->cond);
}

static const vdm_consumer consumer = { record_drop };

static int
bound_udp_socket (uint16_t *port)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof (addr);
  int fd = socket (AF_INET, SOCK_DGRAM, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof (addr)), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &addr, &len), ==, 0);
  *port = ntohs (addr.sin_port);
  return fd;
}

static void
test_watch_shows_fd_info (void)
{
  vdm_fake_source *fake = vdm_fake_source_new ();
  vdm_source *source = vdm_fake_source_as_source (fake);
  recorder r1, r2;
  vdm_subscription *s1, *s2;
  vdm_watch_spec spec = { .fd = -1 };
  vdm_fake_watch watches[4];
  uint64_t cookie = 0;
  socklen_t len = sizeof (cookie);
  uint16_t port;
  int id, id2, flow_id;

  recorder_init (&r1);
  recorder_init (&r2);
  spec.fd = bound_udp_socket (&port);
  g_assert_cmpint (getsockopt (spec.fd, SOL_SOCKET, SO_COOKIE, &cookie, &len), ==, 0);
  s1 = vdm_source_subscribe (source, &consumer, &r1);
  s2 = vdm_source_subscribe (source, &consumer, &r2);
  g_assert_cmpuint (vdm_fake_source_subscription_count (fake), ==, 2);
  g_assert_cmpuint (vdm_fake_source_subscribe_calls (fake), ==, 2);

  id = vdm_source_watch (source, s1, &spec);
  g_assert_cmpint (id, >, 0);
  g_assert_cmpint (vdm_source_watch (source, s1, &spec), ==, id);  /* twice: same id */
  id2 = vdm_source_watch (source, s2, &spec);
  g_assert_cmpint (id2, ==, id);                                   /* same socket: shared */

  spec.fd = -1;
  spec.flow.family = AF_INET;
  spec.flow.protocol = IPPROTO_UDP;
  spec.flow.local_port = 5004;
  flow_id = vdm_source_watch (source, s1, &spec);
  g_assert_cmpint (flow_id, >, id);
  spec.flow.local_port = 0;
  g_assert_cmpint (vdm_source_watch (source, s1, &spec), ==, -EINVAL);

  g_assert_cmpuint (vdm_fake_source_list_watches (fake, watches, 4), ==, 2);
  g_assert_cmpuint (watches[0].watch_id, ==, (uint32_t) id);
  g_assert_cmpuint (watches[0].cookie, ==, cookie);
  g_assert_cmpuint (watches[0].flow.local_port, ==, port);
  g_assert_cmpuint (watches[0].flow.protocol, ==, IPPROTO_UDP);
  g_assert_cmpuint (watches[0].n_subscribers, ==, 2);
  g_assert_cmpuint (watches[1].watch_id, ==, (uint32_t) flow_id);
  g_assert_cmpint (watches[1].fd, ==, -1);
  g_assert_cmpuint (watches[1].cookie, ==, 0);
  g_assert_cmpuint (watches[1].flow.local_port, ==, 5004);

  /* Unwatched by one of two: still there; by both: gone, and its id is not reused. */
  vdm_source_unwatch (source, s2, (uint32_t) id);
  g_assert_cmpuint (vdm_fake_source_list_watches (fake, watches, 4), ==, 2);
  g_assert_cmpuint (watches[0].n_subscribers, ==, 1);
  vdm_source_unsubscribe (source, s1);
  g_assert_cmpuint (vdm_fake_source_list_watches (fake, watches, 4), ==, 0);
  g_assert_cmpuint (vdm_fake_source_subscription_count (fake), ==, 1);
  spec.fd = bound_udp_socket (&port);
  g_assert_cmpint (vdm_source_watch (source, s2, &spec), >, flow_id);
  vdm_source_unsubscribe (source, s2);
  close (spec.fd);
  close (watches[0].fd);
  vdm_source_unref (source);
  recorder_clear (&r1);
  recorder_clear (&r2);
}

static void
test_inject_and_flush (void)
{
  vdm_fake_source *fake = vdm_fake_source_new ();
  vdm_source *source = vdm_fake_source_as_source (fake);
  recorder r;
  vdm_subscription *sub;
  vdm_watch_spec spec = { .fd = -1 };
  vdm_counters counters;
  uint8_t payload[100];
  uint16_t port;
  int id, i;

  recorder_init (&r);
  spec.fd = bound_udp_socket (&port);
  sub = vdm_source_subscribe (source, &consumer, &r);
  id = vdm_source_watch (source, sub, &spec);
  for (i = 0; i < 20; i++) {
    vdm_fake_drop drop = { .watch_id = (uint32_t) id, .ktime_ns = 1000 + i, .reason = 6,
      .reason_name = i == 0 ? "SOCKET_RCVBUFF" : NULL, .payload = payload,
      .payload_len = sizeof (payload) };
    memset (payload, i, sizeof (payload));
    g_assert_cmpint (vdm_fake_source_inject_drop (fake, &drop), ==, 0);
  }
  {
    vdm_fake_drop late = { .watch_id = (uint32_t) id, .reason = 2, .attributed_by = VDM_ATTR_FLOW,
      .uncounted = true };
    g_assert_cmpint (vdm_fake_source_inject_drop (fake, &late), ==, 0);
  }
  vdm_fake_source_flush (fake);

  g_assert_cmpuint (r.drops->len, ==, 21);
  g_assert_false (r.on_caller_thread);
  for (i = 0; i < 20; i++) {
    const vdm_drop *d = &g_array_index (r.drops, vdm_drop, i);
    g_assert_cmpuint (d->ktime_ns, ==, 1000 + i);                 /* in order */
    g_assert_cmpuint (g_array_index (r.payloads, guint8, i), ==, i); /* copied at inject time */
    g_assert_cmpuint (d->payload_len, ==, VDM_PAYLOAD_BYTES);
    g_assert_cmpstr (d->reason_name, ==, "SOCKET_RCVBUFF");          /* remembered for code 6 */
    g_assert_cmpuint (d->watch_id, ==, (uint32_t) id);
    g_assert_cmpuint (d->flow.local_port, ==, port);                 /* the watch's flow */
    g_assert_cmpuint (d->attributed_by, ==, VDM_ATTR_SOCKET);
    g_assert_cmpuint (d->sock_cookie, !=, 0);
  }
  g_assert_cmpuint (g_array_index (r.drops, vdm_drop, 20).attributed_by, ==, VDM_ATTR_FLOW);
  g_assert_cmpuint (g_array_index (r.drops, vdm_drop, 20).ktime_ns, >, 0); /* "now" */
  g_assert_cmpstr (g_array_index (r.drops, vdm_drop, 20).reason_name, ==, "UNKNOWN");

  /* Counted as the kernel would, except the uncounted one. */
  g_assert_cmpint (vdm_source_counters (source, (uint32_t) id, &counters), ==, 0);
  g_assert_cmpuint (counters.total, ==, 20);
  g_assert_cmpuint (counters.per_reason[6], ==, 20);
  g_assert_cmpuint (counters.per_reason[2], ==, 0);
  g_assert_cmpstr (vdm_source_reason_name (source, 6), ==, "SOCKET_RCVBUFF");

  /* Unknown or unwatched ids. */
  {
    vdm_fake_drop stray = { .watch_id = 9999 };
    g_assert_cmpint (vdm_fake_source_inject_drop (fake, &stray), ==, -ENOENT);
  }
  vdm_source_unsubscribe (source, sub);
  {
    vdm_fake_drop gone = { .watch_id = (uint32_t) id };
    g_assert_cmpint (vdm_fake_source_inject_drop (fake, &gone), ==, -ENOENT);
  }
  vdm_fake_source_flush (fake); /* nothing pending: returns at once */
  close (spec.fd);
  vdm_source_unref (source);
  recorder_clear (&r);
}

static void
test_counters_peak_lost (void)
{
  vdm_fake_source *fake = vdm_fake_source_new ();
  vdm_source *source = vdm_fake_source_as_source (fake);
  recorder r;
  vdm_subscription *sub;
  vdm_watch_spec spec = { .fd = -1, .flow = { .family = AF_INET, .protocol = IPPROTO_UDP,
      .local_port = 6000 } };
  vdm_counters set = { 0 }, got;
  vdm_source_info info;
  uint64_t lost = 0;
  int id;

  recorder_init (&r);
  sub = vdm_source_subscribe (source, &consumer, &r);
  id = vdm_source_watch (source, sub, &spec);
  set.per_reason[6] = 5;
  set.per_reason[VDM_REASON_SLOTS - 1] = 2;
  set.total = 7;
  g_assert_cmpint (vdm_fake_source_set_counters (fake, (uint32_t) id, &set), ==, 0);
  g_assert_cmpint (vdm_fake_source_set_events_lost (fake, (uint32_t) id, 3), ==, 0);
  g_assert_cmpint (vdm_source_counters (source, (uint32_t) id, &got), ==, 0);
  g_assert_cmpuint (got.total, ==, 7);
  g_assert_cmpuint (got.per_reason[VDM_REASON_SLOTS - 1], ==, 2);
  g_assert_cmpuint (got.ringbuf_lost, ==, 3);
  g_assert_cmpint (vdm_source_events_lost (source, (uint32_t) id, &lost), ==, 0);
  g_assert_cmpuint (lost, ==, 3);

  g_assert_cmpint (vdm_fake_source_set_queue_peak (fake, (uint32_t) id, 930), ==, 0);
  g_assert_cmpint (vdm_source_queue_peak (source, (uint32_t) id), ==, 930);
  g_assert_cmpint (vdm_source_queue_peak (source, (uint32_t) id), ==, 0); /* reset by reading */
  vdm_fake_source_set_info (fake, true, false);
  vdm_source_get_info (source, &info);
  g_assert_false (info.has_queue_fill);
  g_assert_cmpstr (info.name, ==, "fake");
  g_assert_cmpint (vdm_source_queue_peak (source, (uint32_t) id), ==, -1);

  g_assert_cmpint (vdm_fake_source_set_counters (fake, 12345, &set), ==, -ENOENT);
  g_assert_cmpint (vdm_fake_source_set_queue_peak (fake, 12345, 1), ==, -ENOENT);
  g_assert_cmpint (vdm_fake_source_set_events_lost (fake, 12345, 1), ==, -ENOENT);
  g_assert_cmpint (vdm_source_counters (source, 12345, &got), ==, -ENOENT);
  vdm_source_unsubscribe (source, sub);
  vdm_source_unref (source);
  recorder_clear (&r);
}

typedef struct {
  vdm_source *source;
  vdm_subscription *sub;
  recorder *r;
  gboolean done_when_returned;
} unsubscriber;

static gpointer
unsubscribe_thread (gpointer data)
{
  unsubscriber *u = data;

  vdm_source_unsubscribe (u->source, u->sub);
  g_mutex_lock (&u->r->lock);
  u->done_when_returned = u->r->callback_done;
  g_mutex_unlock (&u->r->lock);
  return NULL;
}

/* The contract: after unsubscribe returns, no callback runs or will run. */
static void
test_unsubscribe_waits_for_callback (void)
{
  vdm_fake_source *fake = vdm_fake_source_new ();
  vdm_source *source = vdm_fake_source_as_source (fake);
  recorder r;
  vdm_watch_spec spec = { .fd = -1, .flow = { .family = AF_INET, .protocol = IPPROTO_UDP,
      .local_port = 6001 } };
  unsubscriber u = { .source = source, .r = &r };
  vdm_fake_drop drop = { 0 };
  GThread *thread;

  recorder_init (&r);
  r.block = TRUE;
  u.sub = vdm_source_subscribe (source, &consumer, &r);
  drop.watch_id = (uint32_t) vdm_source_watch (source, u.sub, &spec);
  g_assert_cmpint (vdm_fake_source_inject_drop (fake, &drop), ==, 0);
  g_mutex_lock (&r.lock);
  while (!r.in_callback)
    g_cond_wait (&r.cond, &r.lock);
  g_mutex_unlock (&r.lock);

  thread = g_thread_new ("unsubscribe", unsubscribe_thread, &u);
  g_usleep (50 * 1000); /* give unsubscribe the chance to return too early */
  g_mutex_lock (&r.lock);
  r.block = FALSE;
  g_cond_broadcast (&r.cond);
  g_mutex_unlock (&r.lock);
  g_thread_join (thread);
  g_assert_true (u.done_when_returned);
  vdm_source_unref (source);
  recorder_clear (&r);
}

/* What a test waiting for an element's sockets uses. */
static void
test_wait_watches (void)
{
  vdm_fake_source *fake = vdm_fake_source_new ();
  vdm_source *source = vdm_fake_source_as_source (fake);
  recorder r;
  vdm_subscription *sub;
  vdm_watch_spec spec = { .fd = -1, .flow = { .family = AF_INET, .protocol = IPPROTO_UDP,
      .local_port = 6002 } };
  gint64 start = g_get_monotonic_time ();

  recorder_init (&r);
  sub = vdm_source_subscribe (source, &consumer, &r);
  g_assert_false (vdm_fake_source_wait_watches (fake, 1, 30));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 30 * 1000);
  g_assert_cmpint (vdm_source_watch (source, sub, &spec), >, 0);
  g_assert_true (vdm_fake_source_wait_watches (fake, 1, 0));
  vdm_source_unsubscribe (source, sub);
  vdm_source_unref (source);
  recorder_clear (&r);
}

/* Names a source hands out stay valid after the source is gone: a drop
 * report may keep them across an element restart (issue 9, #1). */
static void
test_reason_name_outlives_source (void)
{
  vdm_fake_source *fake = vdm_fake_source_new ();
  vdm_source *source = vdm_fake_source_as_source (fake);
  char name[] = "FAKE_REASON_OUTLIVES";
  const char *kept;

  vdm_fake_source_set_reason_name (fake, 77, name);
  name[0] = 'X'; /* the source kept its own copy */
  kept = vdm_source_reason_name (source, 77);
  g_assert_cmpstr (kept, ==, "FAKE_REASON_OUTLIVES");
  vdm_source_unref (source); /* the last reference: destroyed */
  g_assert_cmpstr (kept, ==, "FAKE_REASON_OUTLIVES");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fake-source/watch-shows-fd-info", test_watch_shows_fd_info);
  g_test_add_func ("/fake-source/inject-and-flush", test_inject_and_flush);
  g_test_add_func ("/fake-source/counters-peak-lost", test_counters_peak_lost);
  g_test_add_func ("/fake-source/unsubscribe-waits-for-callback", test_unsubscribe_waits_for_callback);
  g_test_add_func ("/fake-source/wait-watches", test_wait_watches);
  g_test_add_func ("/fake-source/reason-name-outlives-source", test_reason_name_outlives_source);
  return g_test_run ();
}
