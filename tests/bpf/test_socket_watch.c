/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How the BPF programs know a watched socket (issue 13): the collector marks
 * the socket itself (socket-local storage) and the programs count only ids
 * that are still live. Root: it loads the BPF program and sends loopback
 * UDP; without the privilege it skips, or fails when VDROPMON_REQUIRE_BPF=1.
 * Run twice by meson: as this kernel is, and as Debian 12's 6.1
 * (VDROPMON_BPF_EMULATE_6_1=1: no sk_data_ready, the socket of a
 * receive-buffer drop named by udp_fail_queue_rcv_skb). */
#include <arpa/inet.h>
#include <glib.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loopback_udp.h"

#include "event_source.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif
#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif

#define DATAGRAM 200
#define FLOOD 400

static vdm_source *
open_or_skip (void)
{
  char *error = NULL;
  vdm_source *source = vdm_source_open ("embedded", NULL, &error);

  if (!source) {
    if (g_strcmp0 (g_getenv ("VDROPMON_REQUIRE_BPF"), "1") == 0)
      g_error ("the embedded collector did not open: %s", error);
    g_test_skip (error);
  }
  free (error);
  return source;
}

static gboolean
has_queue_fill (vdm_source *source)
{
  vdm_source_info info;

  vdm_source_get_info (source, &info);
  return info.has_queue_fill;
}

/* What `ss` does to every socket it lists, and the programs look at first:
 * the socket gets a cookie. */
static void
give_cookie (int fd)
{
  guint64 cookie = 0;
  socklen_t len = sizeof (cookie);

  g_assert_cmpint (getsockopt (fd, SOL_SOCKET, SO_COOKIE, &cookie, &len), ==, 0);
  g_assert_cmpuint (cookie, !=, 0);
}

static void
send_n (int tx, const struct sockaddr_in *to, guint n)
{
  guint8 datagram[DATAGRAM] = { 0x80 };
  guint i;

  for (i = 0; i < n; i++)
    g_assert_cmpint (sendto (tx, datagram, sizeof (datagram), 0, (const struct sockaddr *) to,
            sizeof (*to)), ==, sizeof (datagram));
}

/* The socket's own receive queue, per mille of its buffer, as the program
 * computes it (rmem_alloc * 1000 / rcvbuf). */
static int
fill_per_mille (int fd)
{
  guint32 meminfo[SK_MEMINFO_VARS];
  socklen_t len = sizeof (meminfo);

  g_assert_cmpint (getsockopt (fd, SOL_SOCKET, SO_MEMINFO, meminfo, &len), ==, 0);
  g_assert_cmpuint (meminfo[SK_MEMINFO_RCVBUF], >, 0);
  return (int) ((guint64) meminfo[SK_MEMINFO_RMEM_ALLOC] * 1000 / meminfo[SK_MEMINFO_RCVBUF]);
}

static guint64
total_drops (vdm_source *source, int id)
{
  vdm_counters counters;

  g_assert_cmpint (vdm_source_counters (source, (uint32_t) id, &counters), ==, 0);
  return counters.total;
}

typedef struct {
  GMutex lock;
  guint per_id_count;
  uint32_t counted_id;
  guint others;
} drop_tally;

static void
tally_drop (void *user_data, const vdm_drop *drop)
{
  drop_tally *t = user_data;

  g_mutex_lock (&t->lock);
  if (drop->watch_id == t->counted_id)
    t->per_id_count++;
  else
    t->others++;
  g_mutex_unlock (&t->lock);
}

static const vdm_consumer tally_consumer = { tally_drop };

/* The peak a watched socket's queue reached is exactly the fill the socket
 * itself reports once everything sent is queued (nothing is read); on 6.1
 * there is no measure: -1. */
static void
test_queue_peak_is_the_socket_fill (void)
{
  vdm_source *source = open_or_skip ();
  vdm_subscription *sub;
  struct sockaddr_in rx_addr, tx_addr;
  vdm_watch_spec spec = { .fd = -1 };
  int tx, id, peak, expected;

  if (!source)
    return;
  spec.fd = vdm_test_loopback_udp (&rx_addr, 256 * 1024);
  tx = vdm_test_loopback_udp (&tx_addr, 0);
  sub = vdm_source_subscribe (source, &tally_consumer, NULL);
  id = vdm_source_watch (source, sub, &spec);
  g_assert_cmpint (id, >, 0);
  g_assert_cmpint (vdm_source_queue_peak (source, (uint32_t) id), <=, 0);
  send_n (tx, &rx_addr, 40);
  g_usleep (20 * 1000);
  expected = fill_per_mille (spec.fd);
  peak = vdm_source_queue_peak (source, (uint32_t) id);
  g_test_message ("peak %d per mille, the socket says %d", peak, expected);
  if (!has_queue_fill (source)) {
    g_assert_cmpint (peak, ==, -1);
  } else {
    g_assert_cmpint (expected, >, 0);
    g_assert_cmpint (peak, ==, expected);
    /* Read and reset: nothing queued since. */
    g_assert_cmpint (vdm_source_queue_peak (source, (uint32_t) id), ==, 0);
  }
  vdm_source_unsubscribe (source, sub);
  vdm_source_unref (source);
  close (spec.fd);
  close (tx);
}

static void
read_all (int fd)
{
  char buf[DATAGRAM];

  while (recv (fd, buf, sizeof (buf), MSG_DONTWAIT) > 0);
}

/* Every period has its own peak: after a read (and reset), a queue that
 * fills less than before reports that lower fill, not 0 — the program keeps
 * the peak on the socket per period, and a stored peak of an older period
 * must not hide the new one. */
static void
test_queue_peak_per_period (void)
{
  vdm_source *source = open_or_skip ();
  vdm_subscription *sub;
  struct sockaddr_in rx_addr, tx_addr;
  vdm_watch_spec spec = { .fd = -1 };
  int tx, id, first, second, expected;

  if (!source)
    return;
  if (!has_queue_fill (source)) {
    g_test_skip ("no sk_data_ready on this kernel (or its 6.1 emulation)");
    vdm_source_unref (source);
    return;
  }
  spec.fd = vdm_test_loopback_udp (&rx_addr, 256 * 1024);
  tx = vdm_test_loopback_udp (&tx_addr, 0);
  sub = vdm_source_subscribe (source, &tally_consumer, NULL);
  id = vdm_source_watch (source, sub, &spec);
  g_assert_cmpint (id, >, 0);
  send_n (tx, &rx_addr, 40);
  g_usleep (20 * 1000);
  first = vdm_source_queue_peak (source, (uint32_t) id);
  read_all (spec.fd);
  send_n (tx, &rx_addr, 10);
  g_usleep (20 * 1000);
  expected = fill_per_mille (spec.fd);
  second = vdm_source_queue_peak (source, (uint32_t) id);
  g_test_message ("peaks %d then %d per mille, the socket says %d", first, second, expected);
  g_assert_cmpint (expected, >, 0);
  g_assert_cmpint (expected, <, first);
  g_assert_cmpint (second, ==, expected);
  vdm_source_unsubscribe (source, sub);
  vdm_source_unref (source);
  close (spec.fd);
  close (tx);
}

/* A socket nobody watches, but with a cookie (so the programs look it up):
 * neither its queue nor its drops reach a watched socket. */
static void
test_unwatched_socket_with_cookie_is_nobodys (void)
{
  drop_tally t = { 0 };
  vdm_source *source = open_or_skip ();
  vdm_subscription *sub;
  struct sockaddr_in watched_addr, full_addr, queued_addr, tx_addr;
  vdm_watch_spec spec = { .fd = -1 };
  int tx, full, queued, id;

  if (!source)
    return;
  g_mutex_init (&t.lock);
  spec.fd = vdm_test_loopback_udp (&watched_addr, 256 * 1024);
  full = vdm_test_loopback_udp (&full_addr, 1);
  queued = vdm_test_loopback_udp (&queued_addr, 256 * 1024);
  give_cookie (full);
  give_cookie (queued);
  tx = vdm_test_loopback_udp (&tx_addr, 0);
  sub = vdm_source_subscribe (source, &tally_consumer, &t);
  id = vdm_source_watch (source, sub, &spec);
  g_assert_cmpint (id, >, 0);
  t.counted_id = (uint32_t) id;
  vdm_source_queue_peak (source, (uint32_t) id);
  send_n (tx, &full_addr, FLOOD);
  send_n (tx, &queued_addr, 40);
  g_usleep (100 * 1000);
  g_assert_cmpint (fill_per_mille (queued), >, 0);
  g_assert_cmpint (vdm_source_queue_peak (source, (uint32_t) id), <=, 0);
  g_assert_cmpuint (total_drops (source, id), ==, 0);
  vdm_source_unsubscribe (source, sub);
  g_assert_cmpuint (t.per_id_count + t.others, ==, 0);
  vdm_source_unref (source);
  close (spec.fd);
  close (full);
  close (queued);
  close (tx);
  g_mutex_clear (&t.lock);
}

/* A released socket stays open and keeps its mark (the collector may hold
 * no fd of it any more); its slot goes to another socket. The old socket's
 * drops and queue must not count for the new owner; watched again, it
 * counts for its new id. */
static void
test_released_socket_feeds_nobody (void)
{
  drop_tally t = { 0 };
  vdm_source *source = open_or_skip ();
  vdm_subscription *sub;
  struct sockaddr_in old_addr, new_addr, tx_addr;
  vdm_watch_spec old_spec = { .fd = -1 }, new_spec = { .fd = -1 };
  int tx, old_id, new_id, again_id;
  guint64 dropped_meanwhile;

  if (!source)
    return;
  g_mutex_init (&t.lock);
  old_spec.fd = vdm_test_loopback_udp (&old_addr, 1);
  new_spec.fd = vdm_test_loopback_udp (&new_addr, 256 * 1024);
  tx = vdm_test_loopback_udp (&tx_addr, 0);
  sub = vdm_source_subscribe (source, &tally_consumer, &t);
  old_id = vdm_source_watch (source, sub, &old_spec);
  g_assert_cmpint (old_id, >, 0);
  vdm_source_unwatch (source, sub, (uint32_t) old_id);
  new_id = vdm_source_watch (source, sub, &new_spec);
  g_assert_cmpint (new_id, >, 0);
  g_assert_cmpint (VDM_WATCH_SLOT (new_id), ==, VDM_WATCH_SLOT (old_id));
  g_assert_cmpint (new_id, !=, old_id);
  t.counted_id = (uint32_t) new_id;
  vdm_source_queue_peak (source, (uint32_t) new_id);

  send_n (tx, &old_addr, FLOOD);
  g_usleep (100 * 1000);
  g_assert_cmpuint (total_drops (source, new_id), ==, 0);
  g_assert_cmpint (vdm_source_queue_peak (source, (uint32_t) new_id), <=, 0);
  g_mutex_lock (&t.lock);
  g_assert_cmpuint (t.per_id_count + t.others, ==, 0);
  g_mutex_unlock (&t.lock);

  /* Watched again (another slot now): its drops are its own again. */
  again_id = vdm_source_watch (source, sub, &old_spec);
  g_assert_cmpint (again_id, >, 0);
  g_assert_cmpint (again_id, !=, old_id);
  g_mutex_lock (&t.lock);
  t.counted_id = (uint32_t) again_id;
  g_mutex_unlock (&t.lock);
  send_n (tx, &old_addr, FLOOD);
  g_usleep (100 * 1000);
  dropped_meanwhile = total_drops (source, again_id);
  g_test_message ("watched again: %" G_GUINT64_FORMAT " drops counted, %u delivered",
      dropped_meanwhile, t.per_id_count);
  g_assert_cmpuint (dropped_meanwhile, >, 0);
  g_assert_cmpuint (total_drops (source, new_id), ==, 0);
  vdm_source_unsubscribe (source, sub);
  g_assert_cmpuint (t.per_id_count, ==, dropped_meanwhile);
  g_assert_cmpuint (t.others, ==, 0);
  vdm_source_unref (source);
  close (old_spec.fd);
  close (new_spec.fd);
  close (tx);
  g_mutex_clear (&t.lock);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/socket-watch/queue-peak-is-the-socket-fill",
      test_queue_peak_is_the_socket_fill);
  g_test_add_func ("/socket-watch/queue-peak-per-period", test_queue_peak_per_period);
  g_test_add_func ("/socket-watch/unwatched-socket-with-cookie-is-nobodys",
      test_unwatched_socket_with_cookie_is_nobodys);
  g_test_add_func ("/socket-watch/released-socket-feeds-nobody",
      test_released_socket_feeds_nobody);
  return g_test_run ();
}
