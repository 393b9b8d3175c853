/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fake_source.c — the test-driven event source (fake_source.h).
 *
 * Two locks, as the embedded collector has in effect: sub_lock guards the
 * subscriptions and the watches' subscriber lists and is held while a drop
 * is delivered (so unsubscribe waits for a running callback); data_lock
 * guards what a callback may read back (counters, queue peak, events lost)
 * and the queue of injected drops. Order: sub_lock, then data_lock.
 */
#define _GNU_SOURCE
#include "fake_source.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "socket_flow.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

#define MAX_WATCHES 1024
#define MAX_SUBSCRIBERS_PER_WATCH 8

struct vdm_subscription {
  vdm_consumer consumer;
  void *user_data;
};

typedef struct {
  vdm_fake_watch public;
  vdm_subscription *subscribers[MAX_SUBSCRIBERS_PER_WATCH];
  vdm_counters counters;
  int queue_peak;
} fake_watch;

typedef struct pending_drop {
  struct pending_drop *next;
  vdm_drop drop;
  uint8_t payload[VDM_PAYLOAD_BYTES];
} pending_drop;

struct vdm_fake_source {
  vdm_source base;
  pthread_mutex_t sub_lock;
  pthread_mutex_t data_lock;
  pthread_cond_t changed;       /* with data_lock: queue, delivery, watches */
  pthread_t thread;
  bool stopping;
  vdm_source_info info;
  fake_watch *watches[MAX_WATCHES];
  uint32_t next_watch_id;       /* ids are never reused */
  unsigned n_subscriptions, subscribe_calls;
  pending_drop *queue_head, *queue_tail;
  uint64_t injected, delivered;
  const char *reason_names[VDM_REASON_SLOTS - 1];
};

static const vdm_source_ops fake_ops;

static vdm_fake_source *
fake_of (vdm_source *source)
{
  return (vdm_fake_source *) source;
}

static fake_watch *
find_watch_by_id (vdm_fake_source *fake, uint32_t watch_id)
{
  unsigned i;

  for (i = 0; i < MAX_WATCHES; i++)
    if (fake->watches[i] && fake->watches[i]->public.watch_id == watch_id)
      return fake->watches[i];
  return NULL;
}

/* Delivers one drop to the watch's subscribers; a watch gone meanwhile
 * takes its drop with it, as the embedded collector does. */
static void
deliver (vdm_fake_source *fake, const vdm_drop *drop)
{
  fake_watch *watch;
  unsigned i;

  pthread_mutex_lock (&fake->sub_lock);
  pthread_mutex_lock (&fake->data_lock);
  watch = find_watch_by_id (fake, drop->watch_id);
  pthread_mutex_unlock (&fake->data_lock);
  for (i = 0; watch && i < watch->public.n_subscribers; i++)
    watch->subscribers[i]->consumer.on_drop (watch->subscribers[i]->user_data, drop);
  pthread_mutex_unlock (&fake->sub_lock);
}

static void *
dispatch_thread (void *data)
{
  vdm_fake_source *fake = data;
  pending_drop *item;

  pthread_mutex_lock (&fake->data_lock);
  while (!fake->stopping) {
    item = fake->queue_head;
    if (!item) {
      pthread_cond_wait (&fake->changed, &fake->data_lock);
      continue;
    }
    fake->queue_head = item->next;
    if (!fake->queue_head)
      fake->queue_tail = NULL;
    pthread_mutex_unlock (&fake->data_lock);
    item->drop.payload = item->payload;
    deliver (fake, &item->drop);
    free (item);
    pthread_mutex_lock (&fake->data_lock);
    fake->delivered++;
    pthread_cond_broadcast (&fake->changed);
  }
  pthread_mutex_unlock (&fake->data_lock);
  return NULL;
}

static vdm_fake_source *
create_fake (void)
{
  vdm_fake_source *fake = calloc (1, sizeof (*fake));
  pthread_condattr_t attr;

  if (!fake)
    return NULL;
  vdm_source_init (&fake->base, &fake_ops);
  pthread_mutex_init (&fake->sub_lock, NULL);
  pthread_mutex_init (&fake->data_lock, NULL);
  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (&fake->changed, &attr);
  pthread_condattr_destroy (&attr);
  fake->info.name = "fake";
  fake->info.has_rx_sk = true;
  fake->info.has_queue_fill = true;
  if (pthread_create (&fake->thread, NULL, dispatch_thread, fake) != 0) {
    free (fake);
    return NULL;
  }
  pthread_setname_np (fake->thread, "vdm-fake");
  return fake;
}

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static vdm_fake_source *default_fake;

static void
create_default (void)
{
  default_fake = create_fake ();
}

vdm_fake_source *
vdm_fake_source_get_default (void)
{
  pthread_once (&default_once, create_default);
  return default_fake;
}

vdm_fake_source *
vdm_fake_source_new (void)
{
  return create_fake ();
}

vdm_source *
vdm_fake_source_as_source (vdm_fake_source *fake)
{
  return fake ? &fake->base : NULL;
}

vdm_fake_source *
vdm_fake_source_from_source (vdm_source *source)
{
  return source && source->ops == &fake_ops ? fake_of (source) : NULL;
}

static void
fake_destroy (vdm_source *source)
{
  vdm_fake_source *fake = fake_of (source);
  pending_drop *item;
  unsigned i;

  if (fake == default_fake)
    return; /* the process keeps the default one; an extra unref must not free it */
  pthread_mutex_lock (&fake->data_lock);
  fake->stopping = true;
  pthread_cond_broadcast (&fake->changed);
  pthread_mutex_unlock (&fake->data_lock);
  pthread_join (fake->thread, NULL);
  while ((item = fake->queue_head)) {
    fake->queue_head = item->next;
    free (item);
  }
  for (i = 0; i < MAX_WATCHES; i++)
    free (fake->watches[i]);
  pthread_cond_destroy (&fake->changed);
  pthread_mutex_destroy (&fake->data_lock);
  pthread_mutex_destroy (&fake->sub_lock);
  free (fake);
}

static void
fake_get_info (vdm_source *source, vdm_source_info *info)
{
  vdm_fake_source *fake = fake_of (source);

  pthread_mutex_lock (&fake->data_lock);
  *info = fake->info;
  pthread_mutex_unlock (&fake->data_lock);
}

void
vdm_fake_source_set_info (vdm_fake_source *fake, bool has_rx_sk, bool has_queue_fill)
{
  pthread_mutex_lock (&fake->data_lock);
  fake->info.has_rx_sk = has_rx_sk;
  fake->info.has_queue_fill = has_queue_fill;
  pthread_mutex_unlock (&fake->data_lock);
}

static vdm_subscription *
fake_subscribe (vdm_source *source, const vdm_consumer *consumer, void *user_data)
{
  vdm_fake_source *fake = fake_of (source);
  vdm_subscription *sub = calloc (1, sizeof (*sub));

  if (!sub)
    return NULL;
  sub->consumer = *consumer;
  sub->user_data = user_data;
  pthread_mutex_lock (&fake->sub_lock);
  pthread_mutex_lock (&fake->data_lock);
  fake->n_subscriptions++;
  fake->subscribe_calls++;
  pthread_mutex_unlock (&fake->data_lock);
  pthread_mutex_unlock (&fake->sub_lock);
  return sub;
}

/* Both locks held. Removes sub from the watch, and the watch once unwatched by all. */
static void
remove_subscriber (vdm_fake_source *fake, unsigned slot, vdm_subscription *sub)
{
  fake_watch *watch = fake->watches[slot];
  unsigned i;

  for (i = 0; i < watch->public.n_subscribers; i++) {
    if (watch->subscribers[i] != sub)
      continue;
    watch->subscribers[i] = watch->subscribers[--watch->public.n_subscribers];
    break;
  }
  if (watch->public.n_subscribers == 0) {
    free (watch);
    fake->watches[slot] = NULL;
    pthread_cond_broadcast (&fake->changed);
  }
}

static void
fake_unsubscribe (vdm_source *source, vdm_subscription *sub)
{
  vdm_fake_source *fake = fake_of (source);
  unsigned i;

  /* Delivery holds sub_lock: once we have it, no callback of sub runs. */
  pthread_mutex_lock (&fake->sub_lock);
  pthread_mutex_lock (&fake->data_lock);
  for (i = 0; i < MAX_WATCHES; i++)
    if (fake->watches[i])
      remove_subscriber (fake, i, sub);
  fake->n_subscriptions--;
  pthread_mutex_unlock (&fake->data_lock);
  pthread_mutex_unlock (&fake->sub_lock);
  free (sub);
}

static int
resolve_spec (const vdm_watch_spec *spec, vdm_fake_watch *out)
{
  socklen_t len = sizeof (out->cookie);

  memset (out, 0, sizeof (*out));
  out->fd = spec->fd;
  if (spec->fd < 0) {
    out->flow = spec->flow;
    return out->flow.local_port ? 0 : -EINVAL;
  }
  if (getsockopt (spec->fd, SOL_SOCKET, SO_COOKIE, &out->cookie, &len) < 0)
    return -errno;
  return vdm_flow_from_socket (spec->fd, &out->flow);
}

static int
find_same_watch (vdm_fake_source *fake, const vdm_fake_watch *key)
{
  unsigned i;

  for (i = 0; i < MAX_WATCHES; i++) {
    const fake_watch *watch = fake->watches[i];
    if (!watch)
      continue;
    if (key->cookie ? watch->public.cookie == key->cookie
        : watch->public.cookie == 0 && memcmp (&watch->public.flow, &key->flow, sizeof (key->flow)) == 0)
      return (int) i;
  }
  return -1;
}

static int
new_watch (vdm_fake_source *fake, const vdm_fake_watch *key)
{
  unsigned i;

  for (i = 0; i < MAX_WATCHES && fake->watches[i]; i++)
    ;
  if (i == MAX_WATCHES)
    return -ENOSPC;
  fake->watches[i] = calloc (1, sizeof (fake_watch));
  if (!fake->watches[i])
    return -ENOMEM;
  fake->watches[i]->public = *key;
  fake->watches[i]->public.watch_id = ++fake->next_watch_id;
  return (int) i;
}

static int
add_subscriber (fake_watch *watch, vdm_subscription *sub)
{
  unsigned i;

  for (i = 0; i < watch->public.n_subscribers; i++)
    if (watch->subscribers[i] == sub)
      return 0;
  if (watch->public.n_subscribers == MAX_SUBSCRIBERS_PER_WATCH)
    return -ENOSPC;
  watch->subscribers[watch->public.n_subscribers++] = sub;
  return 0;
}

static int
fake_watch_op (vdm_source *source, vdm_subscription *sub, const vdm_watch_spec *spec)
{
  vdm_fake_source *fake = fake_of (source);
  vdm_fake_watch key;
  int slot, err;

  err = resolve_spec (spec, &key);
  if (err)
    return err;
  pthread_mutex_lock (&fake->sub_lock);
  pthread_mutex_lock (&fake->data_lock);
  slot = find_same_watch (fake, &key);
  if (slot < 0)
    slot = new_watch (fake, &key);
  err = slot < 0 ? slot : add_subscriber (fake->watches[slot], sub);
  if (err && slot >= 0 && fake->watches[slot]->public.n_subscribers == 0) {
    free (fake->watches[slot]);
    fake->watches[slot] = NULL;
  }
  if (!err)
    pthread_cond_broadcast (&fake->changed);
  pthread_mutex_unlock (&fake->data_lock);
  pthread_mutex_unlock (&fake->sub_lock);
  return err ? err : (int) fake->watches[slot]->public.watch_id;
}

static void
fake_unwatch (vdm_source *source, vdm_subscription *sub, uint32_t watch_id)
{
  vdm_fake_source *fake = fake_of (source);
  unsigned i;

  pthread_mutex_lock (&fake->sub_lock);
  pthread_mutex_lock (&fake->data_lock);
  for (i = 0; i < MAX_WATCHES; i++)
    if (fake->watches[i] && fake->watches[i]->public.watch_id == watch_id)
      remove_subscriber (fake, i, sub);
  pthread_mutex_unlock (&fake->data_lock);
  pthread_mutex_unlock (&fake->sub_lock);
}

static int
fake_counters (vdm_source *source, uint32_t watch_id, vdm_counters *out)
{
  vdm_fake_source *fake = fake_of (source);
  fake_watch *watch;

  pthread_mutex_lock (&fake->data_lock);
  watch = find_watch_by_id (fake, watch_id);
  if (watch)
    *out = watch->counters;
  pthread_mutex_unlock (&fake->data_lock);
  return watch ? 0 : -ENOENT;
}

static int
fake_events_lost (vdm_source *source, uint32_t watch_id, uint64_t *out)
{
  vdm_counters counters;
  int err = fake_counters (source, watch_id, &counters);

  *out = err ? 0 : counters.ringbuf_lost;
  return err;
}

static int
fake_queue_peak (vdm_source *source, uint32_t watch_id)
{
  vdm_fake_source *fake = fake_of (source);
  fake_watch *watch;
  int peak = -1;

  pthread_mutex_lock (&fake->data_lock);
  watch = find_watch_by_id (fake, watch_id);
  if (watch && fake->info.has_queue_fill) {
    peak = watch->queue_peak;
    watch->queue_peak = 0;
  }
  pthread_mutex_unlock (&fake->data_lock);
  return peak;
}

static const char *
fake_reason_name (vdm_source *source, uint32_t reason)
{
  vdm_fake_source *fake = fake_of (source);
  const char *name = NULL;

  pthread_mutex_lock (&fake->data_lock);
  if (reason < VDM_REASON_SLOTS - 1)
    name = fake->reason_names[reason];
  pthread_mutex_unlock (&fake->data_lock);
  return name;
}

static const vdm_source_ops fake_ops = {
  .name = "fake",
  .destroy = fake_destroy,
  .get_info = fake_get_info,
  .subscribe = fake_subscribe,
  .unsubscribe = fake_unsubscribe,
  .watch = fake_watch_op,
  .unwatch = fake_unwatch,
  .counters = fake_counters,
  .events_lost = fake_events_lost,
  .queue_peak = fake_queue_peak,
  .reason_name = fake_reason_name,
};

/* ---- the test's side ---- */

size_t
vdm_fake_source_list_watches (vdm_fake_source *fake, vdm_fake_watch *out, size_t max)
{
  size_t n = 0;
  uint32_t id, last = 0;
  unsigned i;

  pthread_mutex_lock (&fake->data_lock);
  /* Lowest id first: repeatedly the smallest id above the last one. */
  for (;;) {
    fake_watch *next = NULL;
    for (i = 0; i < MAX_WATCHES; i++) {
      fake_watch *w = fake->watches[i];
      if (w && w->public.watch_id > last && (!next || w->public.watch_id < next->public.watch_id))
        next = w;
    }
    if (!next)
      break;
    id = next->public.watch_id;
    if (n < max)
      out[n] = next->public;
    n++;
    last = id;
  }
  pthread_mutex_unlock (&fake->data_lock);
  return n;
}

static size_t
count_watches_locked (vdm_fake_source *fake)
{
  size_t n = 0;
  unsigned i;

  for (i = 0; i < MAX_WATCHES; i++)
    n += fake->watches[i] != NULL;
  return n;
}

bool
vdm_fake_source_wait_watches (vdm_fake_source *fake, size_t n, unsigned timeout_ms)
{
  struct timespec deadline;
  bool reached;

  clock_gettime (CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock (&fake->data_lock);
  while (!(reached = count_watches_locked (fake) >= n))
    if (pthread_cond_timedwait (&fake->changed, &fake->data_lock, &deadline) == ETIMEDOUT) {
      reached = count_watches_locked (fake) >= n;
      break;
    }
  pthread_mutex_unlock (&fake->data_lock);
  return reached;
}

unsigned
vdm_fake_source_subscription_count (vdm_fake_source *fake)
{
  unsigned n;

  pthread_mutex_lock (&fake->data_lock);
  n = fake->n_subscriptions;
  pthread_mutex_unlock (&fake->data_lock);
  return n;
}

unsigned
vdm_fake_source_subscribe_calls (vdm_fake_source *fake)
{
  unsigned n;

  pthread_mutex_lock (&fake->data_lock);
  n = fake->subscribe_calls;
  pthread_mutex_unlock (&fake->data_lock);
  return n;
}

static uint64_t
monotonic_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

/* data_lock held. The drop as the consumer will see it, defaults filled in. */
static void
fill_pending (vdm_fake_source *fake, const fake_watch *watch, const vdm_fake_drop *in,
    pending_drop *out)
{
  vdm_drop *drop = &out->drop;
  const char *name = in->reason_name ? vdm_source_intern_name (in->reason_name) : NULL;

  if (name && in->reason < VDM_REASON_SLOTS - 1)
    fake->reason_names[in->reason] = name;
  if (!name && in->reason < VDM_REASON_SLOTS - 1)
    name = fake->reason_names[in->reason];
  out->next = NULL;
  drop->payload_len = in->payload_len < VDM_PAYLOAD_BYTES ? in->payload_len : VDM_PAYLOAD_BYTES;
  if (in->payload && drop->payload_len)
    memcpy (out->payload, in->payload, drop->payload_len);
  drop->ktime_ns = in->ktime_ns ? in->ktime_ns : monotonic_now_ns ();
  drop->reason = in->reason;
  drop->reason_name = name ? name : "UNKNOWN";
  drop->watch_id = in->watch_id;
  drop->sock_cookie = in->sock_cookie ? in->sock_cookie : watch->public.cookie;
  drop->attributed_by = in->attributed_by ? in->attributed_by : VDM_ATTR_SOCKET;
  drop->skb_len = in->skb_len ? in->skb_len : (uint32_t) (28 + in->payload_len);
  drop->flow = in->flow.family ? in->flow : watch->public.flow;
}

static void
count_drop (fake_watch *watch, uint32_t reason)
{
  watch->counters.per_reason[reason < VDM_REASON_SLOTS - 1 ? reason : VDM_REASON_SLOTS - 1]++;
  watch->counters.total++;
}

int
vdm_fake_source_inject_drop (vdm_fake_source *fake, const vdm_fake_drop *drop)
{
  pending_drop *item = calloc (1, sizeof (*item));
  fake_watch *watch;

  if (!item)
    return -ENOMEM;
  pthread_mutex_lock (&fake->data_lock);
  watch = find_watch_by_id (fake, drop->watch_id);
  if (watch) {
    fill_pending (fake, watch, drop, item);
    if (!drop->uncounted)
      count_drop (watch, drop->reason);
    if (fake->queue_tail)
      fake->queue_tail->next = item;
    else
      fake->queue_head = item;
    fake->queue_tail = item;
    fake->injected++;
    pthread_cond_broadcast (&fake->changed);
  }
  pthread_mutex_unlock (&fake->data_lock);
  if (!watch)
    free (item);
  return watch ? 0 : -ENOENT;
}

void
vdm_fake_source_flush (vdm_fake_source *fake)
{
  uint64_t target;

  if (pthread_equal (pthread_self (), fake->thread))
    return; /* from a callback: waiting would wait for ourselves */
  pthread_mutex_lock (&fake->data_lock);
  target = fake->injected;
  while (fake->delivered < target)
    pthread_cond_wait (&fake->changed, &fake->data_lock);
  pthread_mutex_unlock (&fake->data_lock);
}

int
vdm_fake_source_set_counters (vdm_fake_source *fake, uint32_t watch_id,
    const vdm_counters *counters)
{
  fake_watch *watch;

  pthread_mutex_lock (&fake->data_lock);
  watch = find_watch_by_id (fake, watch_id);
  if (watch)
    watch->counters = *counters;
  pthread_mutex_unlock (&fake->data_lock);
  return watch ? 0 : -ENOENT;
}

int
vdm_fake_source_set_queue_peak (vdm_fake_source *fake, uint32_t watch_id, int per_mille)
{
  fake_watch *watch;

  pthread_mutex_lock (&fake->data_lock);
  watch = find_watch_by_id (fake, watch_id);
  if (watch)
    watch->queue_peak = per_mille;
  pthread_mutex_unlock (&fake->data_lock);
  return watch ? 0 : -ENOENT;
}

int
vdm_fake_source_set_events_lost (vdm_fake_source *fake, uint32_t watch_id, uint64_t lost)
{
  fake_watch *watch;

  pthread_mutex_lock (&fake->data_lock);
  watch = find_watch_by_id (fake, watch_id);
  if (watch)
    watch->counters.ringbuf_lost = lost;
  pthread_mutex_unlock (&fake->data_lock);
  return watch ? 0 : -ENOENT;
}

void
vdm_fake_source_set_reason_name (vdm_fake_source *fake, uint32_t reason, const char *name)
{
  const char *interned = vdm_source_intern_name (name);

  if (reason >= VDM_REASON_SLOTS - 1)
    return;
  pthread_mutex_lock (&fake->data_lock);
  fake->reason_names[reason] = interned;
  pthread_mutex_unlock (&fake->data_lock);
}
