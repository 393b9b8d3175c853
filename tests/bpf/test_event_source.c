/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of bpf/event_source.c: opening by name, the atomic reference
 * count, dispatch through the ops table, interned names. No privilege. */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "event_source.h"
#include "fake_source.h"

/* A source that records what reached it. */
typedef struct {
  vdm_source base;
  int destroyed;
  int subscribed, unsubscribed, watched, unwatched, counted, lost_asked, peaked;
  int counted_after_unwatch;
  uint32_t last_watch_id;
  const vdm_watch_spec *last_spec;
} probe_source;

static probe_source *probe_of (vdm_source *s) { return (probe_source *) s; }

static void probe_destroy (vdm_source *s) { __atomic_add_fetch (&probe_of (s)->destroyed, 1, __ATOMIC_SEQ_CST); }
static void probe_info (vdm_source *s, vdm_source_info *info) { info->has_rx_sk = true; }
static vdm_subscription *
probe_subscribe (vdm_source *s, const vdm_consumer *c, void *user_data)
{
  probe_of (s)->subscribed++;
  return (vdm_subscription *) user_data;
}
static void probe_unsubscribe (vdm_source *s, vdm_subscription *sub) { probe_of (s)->unsubscribed++; }
static int
probe_watch (vdm_source *s, vdm_subscription *sub, const vdm_watch_spec *spec)
{
  probe_of (s)->watched++;
  probe_of (s)->last_spec = spec;
  return 42;
}
static void
probe_unwatch (vdm_source *s, vdm_subscription *sub, uint32_t id)
{
  probe_of (s)->unwatched++;
  probe_of (s)->last_watch_id = id;
}
static int
probe_counters (vdm_source *s, uint32_t id, vdm_counters *out)
{
  probe_of (s)->counted++;
  probe_of (s)->counted_after_unwatch += probe_of (s)->unwatched;
  out->total = 7;
  out->ringbuf_lost = id * 10;
  return 0;
}
static int
probe_events_lost (vdm_source *s, uint32_t id, uint64_t *out)
{
  probe_of (s)->lost_asked++;
  *out = 99;
  return 0;
}
static int probe_queue_peak (vdm_source *s, uint32_t id) { probe_of (s)->peaked++; return 500; }
static const char *probe_reason_name (vdm_source *s, uint32_t reason) { return reason == 6 ? "X" : NULL; }

static const vdm_source_ops probe_ops = {
  .name = "probe", .destroy = probe_destroy, .get_info = probe_info,
  .subscribe = probe_subscribe, .unsubscribe = probe_unsubscribe,
  .watch = probe_watch, .unwatch = probe_unwatch, .counters = probe_counters,
  .events_lost = probe_events_lost, .queue_peak = probe_queue_peak,
  .reason_name = probe_reason_name,
};

/* Same, without the optional events_lost. */
static const vdm_source_ops probe_ops_no_lost = {
  .name = "probe", .destroy = probe_destroy, .get_info = probe_info,
  .subscribe = probe_subscribe, .unsubscribe = probe_unsubscribe,
  .watch = probe_watch, .unwatch = probe_unwatch, .counters = probe_counters,
  .queue_peak = probe_queue_peak, .reason_name = probe_reason_name,
};

static void
test_open_unknown_name (void)
{
  char *error = NULL;

  g_assert_null (vdm_source_open ("carrier-pigeon", NULL, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error, "unknown event source \"carrier-pigeon\""));
  free (error);
  error = NULL;
  g_assert_null (vdm_source_open (NULL, NULL, &error));
  g_assert_nonnull (error);
  free (error);
}

static void
test_open_daemon_without_client (void)
{
  char *error = NULL;

  g_assert_null (vdm_source_open ("daemon", "/run/vdropmon.sock", &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error, "daemon client not built yet"));
  free (error);
}

static probe_source registered;
static const char *registered_socket;

static vdm_source *
open_registered (const char *daemon_socket, char **error)
{
  registered_socket = daemon_socket;
  return vdm_source_ref (&registered.base);
}

static vdm_source *
open_failing_silently (const char *daemon_socket, char **error)
{
  return NULL;
}

static void
test_open_registered (void)
{
  char *error = NULL;
  vdm_source *source;

  vdm_source_init (&registered.base, &probe_ops);
  g_assert_cmpint (vdm_source_register_opener ("test-daemon", open_registered), ==, 0);
  source = vdm_source_open ("test-daemon", "/tmp/sock", &error);
  g_assert_null (error);
  g_assert_true (source == &registered.base);
  g_assert_cmpstr (registered_socket, ==, "/tmp/sock");
  vdm_source_unref (source);
  g_assert_cmpint (registered.destroyed, ==, 0); /* our own reference is still there */
  vdm_source_unref (&registered.base);
  g_assert_cmpint (registered.destroyed, ==, 1);

  /* An opener that fails without a word still gets a sentence. */
  g_assert_cmpint (vdm_source_register_opener ("test-mute", open_failing_silently), ==, 0);
  g_assert_null (vdm_source_open ("test-mute", NULL, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error, "test-mute"));
  free (error);
}

static void
test_open_fake_is_the_default_instance (void)
{
  char *error = NULL;
  vdm_source *a = vdm_source_open ("fake", NULL, &error);
  vdm_source *b = vdm_source_open ("fake", NULL, &error);
  vdm_source_info info;

  g_assert_null (error);
  g_assert_nonnull (a);
  g_assert_true (a == b);
  g_assert_true (vdm_fake_source_from_source (a) == vdm_fake_source_get_default ());
  vdm_source_get_info (a, &info);
  g_assert_cmpstr (info.name, ==, "fake");
  vdm_source_unref (a);
  vdm_source_unref (b);
  /* Still usable: the process keeps the default instance. */
  g_assert_cmpuint (vdm_fake_source_subscription_count (vdm_fake_source_get_default ()), ==, 0);
}

/* Without the optional unwatch_final, the counters are read while the
 * watch still counts, then it is unwatched: in that order, both once. */
static void
test_unwatch_final_fallback (void)
{
  probe_source p = { 0 };
  vdm_counters counters = { .total = 123 };

  vdm_source_init (&p.base, &probe_ops);
  g_assert_cmpint (vdm_source_unwatch_final (&p.base, (vdm_subscription *) 0x1, 5, &counters),
      ==, 0);
  g_assert_cmpuint (counters.total, ==, 7);
  g_assert_cmpuint (counters.ringbuf_lost, ==, 50);
  g_assert_cmpint (p.counted, ==, 1);
  g_assert_cmpint (p.unwatched, ==, 1);
  g_assert_cmpint (p.counted_after_unwatch, ==, 0);
  g_assert_cmpuint (p.last_watch_id, ==, 5);
  /* id 0 and no subscription never reach the implementation */
  g_assert_cmpint (vdm_source_unwatch_final (&p.base, (vdm_subscription *) 0x1, 0, &counters),
      ==, -EINVAL);
  g_assert_cmpint (vdm_source_unwatch_final (&p.base, NULL, 5, &counters), ==, -EINVAL);
  g_assert_cmpuint (counters.total, ==, 0);
  g_assert_cmpint (p.unwatched, ==, 1);
}

static void
test_dispatch (void)
{
  probe_source p = { 0 };
  vdm_consumer consumer = { NULL };
  vdm_watch_spec spec = { .fd = -1 };
  vdm_subscription *sub;
  vdm_source_info info;
  vdm_counters counters;
  uint64_t lost = 0;

  vdm_source_init (&p.base, &probe_ops);
  sub = vdm_source_subscribe (&p.base, &consumer, (void *) 0x1);
  g_assert_true (sub == (void *) 0x1);
  g_assert_cmpint (vdm_source_watch (&p.base, sub, &spec), ==, 42);
  g_assert_true (p.last_spec == &spec);
  vdm_source_unwatch (&p.base, sub, 42);
  g_assert_cmpuint (p.last_watch_id, ==, 42);
  g_assert_cmpint (vdm_source_counters (&p.base, 3, &counters), ==, 0);
  g_assert_cmpuint (counters.total, ==, 7);
  g_assert_cmpint (vdm_source_events_lost (&p.base, 3, &lost), ==, 0);
  g_assert_cmpuint (lost, ==, 99);
  g_assert_cmpint (p.counted, ==, 1); /* events_lost used its own op */
  g_assert_cmpint (vdm_source_queue_peak (&p.base, 3), ==, 500);
  g_assert_cmpstr (vdm_source_reason_name (&p.base, 6), ==, "X");
  g_assert_cmpstr (vdm_source_reason_name (&p.base, 7), ==, "UNKNOWN");
  vdm_source_get_info (&p.base, &info);
  g_assert_cmpstr (info.name, ==, "probe");
  g_assert_true (info.has_rx_sk);
  vdm_source_unsubscribe (&p.base, sub);
  g_assert_cmpint (p.unsubscribed, ==, 1);

  /* Watch id 0 never reaches the implementation. */
  g_assert_cmpint (vdm_source_counters (&p.base, 0, &counters), ==, -EINVAL);
  g_assert_cmpint (vdm_source_queue_peak (&p.base, 0), ==, -1);
  vdm_source_unwatch (&p.base, sub, 0);
  g_assert_cmpint (p.unwatched, ==, 1);
  g_assert_cmpint (p.counted, ==, 1);
  g_assert_cmpint (p.peaked, ==, 1);

  /* Without the optional op, events_lost comes from counters(). */
  p.base.ops = &probe_ops_no_lost;
  g_assert_cmpint (vdm_source_events_lost (&p.base, 4, &lost), ==, 0);
  g_assert_cmpuint (lost, ==, 40);
  g_assert_cmpint (p.counted, ==, 2);
  vdm_source_unref (&p.base);
  g_assert_cmpint (p.destroyed, ==, 1);
}

#define N_THREADS 8
#define N_ROUNDS 100000

static gpointer
ref_unref_loop (gpointer data)
{
  vdm_source *source = data;
  int i;

  for (i = 0; i < N_ROUNDS; i++)
    vdm_source_unref (vdm_source_ref (source));
  return NULL;
}

/* Many threads taking and dropping references around the owner's: destroy
 * runs exactly once, after the owner's last unref, never before. */
static void
test_refcount_atomic (void)
{
  probe_source p = { 0 };
  GThread *threads[N_THREADS];
  int i;

  vdm_source_init (&p.base, &probe_ops);
  for (i = 0; i < N_THREADS; i++)
    threads[i] = g_thread_new ("ref", ref_unref_loop, &p.base);
  for (i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);
  g_assert_cmpint (p.destroyed, ==, 0);
  g_assert_cmpint (p.base.refcount, ==, 1);
  vdm_source_unref (&p.base);
  g_assert_cmpint (p.destroyed, ==, 1);
  vdm_source_unref (NULL); /* harmless */
  g_assert_null (vdm_source_ref (NULL));
}

static gpointer
intern_loop (gpointer data)
{
  const char **out = data;
  char name[32];
  int i;

  for (i = 0; i < 200; i++) {
    g_snprintf (name, sizeof (name), "REASON_%d", i);
    out[i] = vdm_source_intern_name (name);
  }
  return NULL;
}

static void
test_intern (void)
{
  char buffer[32] = "SOCKET_RCVBUFF";
  const char *a = vdm_source_intern_name (buffer);
  const char *results[4][200];
  GThread *threads[4];
  int i, t;

  g_assert_true (a != buffer);
  strcpy (buffer, "overwritten");
  g_assert_cmpstr (a, ==, "SOCKET_RCVBUFF");
  g_assert_true (vdm_source_intern_name ("SOCKET_RCVBUFF") == a);
  g_assert_true (vdm_source_intern_name ("NO_SOCKET") != a);
  g_assert_null (vdm_source_intern_name (NULL));
  for (t = 0; t < 4; t++)
    threads[t] = g_thread_new ("intern", intern_loop, results[t]);
  for (t = 0; t < 4; t++)
    g_thread_join (threads[t]);
  for (i = 0; i < 200; i++) {
    char expected[32];
    g_snprintf (expected, sizeof (expected), "REASON_%d", i);
    g_assert_cmpstr (results[0][i], ==, expected);
    for (t = 1; t < 4; t++)
      g_assert_true (results[t][i] == results[0][i]);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/event-source/open/unknown-name", test_open_unknown_name);
  g_test_add_func ("/event-source/open/daemon-without-client", test_open_daemon_without_client);
  g_test_add_func ("/event-source/open/registered", test_open_registered);
  g_test_add_func ("/event-source/open/fake-default", test_open_fake_is_the_default_instance);
  g_test_add_func ("/event-source/dispatch", test_dispatch);
  g_test_add_func ("/event-source/unwatch-final-fallback", test_unwatch_final_fallback);
  g_test_add_func ("/event-source/refcount-atomic", test_refcount_atomic);
  g_test_add_func ("/event-source/intern", test_intern);
  return g_test_run ();
}
