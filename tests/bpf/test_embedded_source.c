/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The embedded collector through the generic interface (root: it loads the
 * BPF program). Without the privilege it skips, or fails when
 * VDROPMON_REQUIRE_BPF=1. */
#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/sock_diag.h>
#include <glib.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loopback_udp.h"

#include "collector.h"

#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif

#ifndef VDM_WATCH_SLOT /* lets this test build against older trees, to show what it catches */
#define VDM_WATCH_SLOT(id) (id)
#endif

static gboolean
require_bpf (void)
{
  return g_strcmp0 (g_getenv ("VDROPMON_REQUIRE_BPF"), "1") == 0;
}

/* Opens the embedded collector, or skips/fails this test saying why. */
static vdm_source *
open_or_skip (void)
{
  char *error = NULL;
  vdm_source *source = vdm_source_open ("embedded", NULL, &error);

  if (!source) {
    if (require_bpf ())
      g_error ("the embedded collector did not open: %s", error);
    g_test_skip (error);
  }
  free (error);
  return source;
}

/* Issue 9, #1: drop batches kept reason_name pointers into the collector's
 * reason table, freed with the last reference. The lowest code's name sits
 * at the start of that table, where the allocator writes its own pointers
 * once the block is freed: read after the free, it no longer says what it
 * said (and AddressSanitizer calls it a heap-use-after-free). */
static void
test_reason_name_outlives_last_unref (void)
{
  vdm_source *source = open_or_skip ();
  const char *names[4];
  char *copies[4];
  uint32_t codes[4] = { 0, 1, 2, 6 };
  int i;

  if (!source)
    return;
  for (i = 0; i < 4; i++) {
    names[i] = vdm_source_reason_name (source, codes[i]);
    copies[i] = g_strdup (names[i]);
  }
  g_assert_cmpstr (names[2], ==, "NOT_SPECIFIED");
  vdm_source_unref (source); /* the last reference: unloaded, table freed */
  for (i = 0; i < 4; i++)
    g_assert_cmpstr (names[i], ==, copies[i]);
  for (i = 0; i < 4; i++)
    g_free (copies[i]);
}

static void
ignore_drop (void *user_data, const vdm_drop *drop)
{
}

/* Watches a flow by hand and reads its counters: the maps are there. */
static gboolean
watch_and_count (vdm_source *source)
{
  static const vdm_consumer consumer = { ignore_drop };
  vdm_subscription *sub = vdm_source_subscribe (source, &consumer, NULL);
  vdm_watch_spec spec = { .fd = -1, .flow = { .family = 2, .protocol = 17, .local_port = 9 } };
  vdm_counters counters;
  gboolean ok;
  int id;

  id = vdm_source_watch (source, sub, &spec);
  ok = id > 0 && vdm_source_counters (source, (uint32_t) id, &counters) == 0 && counters.total == 0;
  vdm_source_unsubscribe (source, sub);
  return ok;
}

#define N_OPENERS 4
#define N_ROUNDS 6

static gpointer
open_unref_loop (gpointer data)
{
  int *failures = data;
  int i;

  for (i = 0; i < N_ROUNDS; i++) {
    char *error = NULL;
    vdm_source *source = vdm_source_open_embedded (&error);
    vdm_source_info info;

    if (!source) {
      g_printerr ("open failed: %s\n", error);
      free (error);
      __atomic_add_fetch (failures, 1, __ATOMIC_SEQ_CST);
      continue;
    }
    /* A source handed out is alive: its maps answer. */
    vdm_source_get_info (source, &info);
    if (g_strcmp0 (info.name, "embedded") != 0 || !watch_and_count (source))
      __atomic_add_fetch (failures, 1, __ATOMIC_SEQ_CST);
    vdm_source_unref (source);
  }
  return NULL;
}

/* Opening while another thread drops the last reference never returns the
 * dying collector. */
static void
test_open_races_last_unref (void)
{
  vdm_source *probe = open_or_skip ();
  GThread *threads[N_OPENERS];
  int failures = 0, i;

  if (!probe)
    return;
  vdm_source_unref (probe);
  for (i = 0; i < N_OPENERS; i++)
    threads[i] = g_thread_new ("opener", open_unref_loop, &failures);
  for (i = 0; i < N_OPENERS; i++)
    g_thread_join (threads[i]);
  g_assert_cmpint (failures, ==, 0);
}

/* events_lost reads the one per-watch counter; it agrees with counters(),
 * and a released watch's id answers for nobody (issue 9, #7). */
static void
test_events_lost_matches_counters (void)
{
  static const vdm_consumer consumer = { ignore_drop };
  vdm_source *source = open_or_skip ();
  vdm_watch_spec spec = { .fd = -1, .flow = { .family = 2, .protocol = 17, .local_port = 9 } };
  vdm_subscription *sub;
  vdm_counters counters;
  uint64_t lost = 1;
  int id, again;

  if (!source)
    return;
  sub = vdm_source_subscribe (source, &consumer, NULL);
  id = vdm_source_watch (source, sub, &spec);
  g_assert_cmpint (id, >, 0);
  g_assert_cmpint (vdm_source_events_lost (source, (uint32_t) id, &lost), ==, 0);
  g_assert_cmpint (vdm_source_counters (source, (uint32_t) id, &counters), ==, 0);
  g_assert_cmpuint (lost, ==, counters.ringbuf_lost);
  vdm_source_unwatch (source, sub, (uint32_t) id);
  g_assert_cmpint (vdm_source_events_lost (source, (uint32_t) id, &lost), <, 0);
  g_assert_cmpint (vdm_source_counters (source, (uint32_t) id, &counters), <, 0);
  /* The slot comes back with another generation: a new id. */
  again = vdm_source_watch (source, sub, &spec);
  g_assert_cmpint (again, >, 0);
  g_assert_cmpint (again, !=, id);
  g_assert_cmpint (VDM_WATCH_SLOT (again), ==, VDM_WATCH_SLOT (id));
  vdm_source_unsubscribe (source, sub);
  vdm_source_unref (source);
}

/* Every drop event's payload bytes, copied whole (all VDM_PAYLOAD_BYTES). */
typedef struct {
  GMutex lock;
  GArray *payloads;  /* VDM_PAYLOAD_BYTES each */
  GArray *lengths;   /* size_t */
} payload_recorder;

static void
record_payload (void *user_data, const vdm_drop *drop)
{
  payload_recorder *r = user_data;

  g_mutex_lock (&r->lock);
  /* The event's payload array has VDM_PAYLOAD_BYTES bytes whatever
   * payload_len says: look at all of them, as a curious consumer could. */
  g_array_append_vals (r->payloads, drop->payload, VDM_PAYLOAD_BYTES);
  g_array_append_val (r->lengths, drop->payload_len);
  g_mutex_unlock (&r->lock);
}

/* Issue 9, #12: the BPF program copied VDM_PAYLOAD_BYTES from the payload
 * start whatever the packet's length, so kernel memory past a short
 * packet's end reached userspace. Tiny datagrams to a socket that is never
 * read: every drop event carries exactly the datagram, zeros after it. */
static void
test_payload_stops_at_packet_end (void)
{
  static const vdm_consumer consumer = { record_payload };
  payload_recorder r = { 0 };
  vdm_source *source = open_or_skip ();
  vdm_subscription *sub;
  vdm_watch_spec spec = { .fd = -1 };
  struct sockaddr_in rx_addr, tx_addr;
  uint8_t datagram[12];
  int tx, id, i;
  gint64 deadline;
  guint n;

  if (!source)
    return;
  g_mutex_init (&r.lock);
  r.payloads = g_array_new (FALSE, TRUE, 1);
  r.lengths = g_array_new (FALSE, TRUE, sizeof (size_t));
  spec.fd = vdm_test_loopback_udp (&rx_addr, 1);
  tx = vdm_test_loopback_udp (&tx_addr, 0);
  sub = vdm_source_subscribe (source, &consumer, &r);
  id = vdm_source_watch (source, sub, &spec);
  g_assert_cmpint (id, >, 0);
  memset (datagram, 0xaa, sizeof (datagram));
  for (i = 0; i < 400; i++)
    sendto (tx, datagram, sizeof (datagram), 0, (struct sockaddr *) &rx_addr, sizeof (rx_addr));
  deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  do {
    g_usleep (20 * 1000);
    g_mutex_lock (&r.lock);
    n = r.lengths->len;
    g_mutex_unlock (&r.lock);
  } while (n < 100 && g_get_monotonic_time () < deadline);
  vdm_source_unsubscribe (source, sub);
  vdm_source_unref (source);

  g_assert_cmpuint (n, >, 0);
  for (i = 0; i < (int) n; i++) {
    const uint8_t *p = &g_array_index (r.payloads, uint8_t, i * VDM_PAYLOAD_BYTES);
    size_t j;
    g_assert_cmpuint (g_array_index (r.lengths, size_t, i), ==, sizeof (datagram));
    for (j = 0; j < sizeof (datagram); j++)
      g_assert_cmphex (p[j], ==, 0xaa);
    for (j = sizeof (datagram); j < VDM_PAYLOAD_BYTES; j++)
      if (p[j] != 0)
        g_error ("drop %d: byte %zu past the datagram's end is 0x%02x, not 0", i, j, p[j]);
  }
  g_test_message ("%u drops, each exactly the %zu-byte datagram", n, sizeof (datagram));
  close (spec.fd);
  close (tx);
  g_array_unref (r.payloads);
  g_array_unref (r.lengths);
  g_mutex_clear (&r.lock);
}

typedef struct {
  GMutex lock;
  GArray *ids;      /* uint32_t watch id of each drop delivered */
  GArray *cookies;  /* uint64_t sock_cookie */
} id_recorder;

static void
record_id (void *user_data, const vdm_drop *drop)
{
  id_recorder *r = user_data;

  g_mutex_lock (&r->lock);
  g_array_append_val (r->ids, drop->watch_id);
  g_array_append_val (r->cookies, drop->sock_cookie);
  g_mutex_unlock (&r->lock);
}

/* Issue 9, #7: watch ids were reused (lowest free) and dispatch did not
 * check them, so drop events still in the ring for a released socket went
 * to the next socket given the same id (an rtspsrc reconnect). Overflow a
 * socket, release its watch before the collector drains the ring (every
 * 5 ms), watch a silent socket in the same slot: it must get nothing. */
static void
test_reused_slot_gets_no_stale_events (void)
{
  static const vdm_consumer consumer = { record_id };
  id_recorder r = { 0 };
  vdm_source *source = open_or_skip ();
  vdm_subscription *sub;
  vdm_watch_spec first = { .fd = -1 }, second = { .fd = -1 };
  struct sockaddr_in first_addr, second_addr, tx_addr;
  uint8_t datagram[12] = { 0x80 };
  int tx, id1, id2, i;
  guint stale = 0, before = 0;
  vdm_counters counters;
  uint64_t first_total;

  if (!source)
    return;
  g_mutex_init (&r.lock);
  r.ids = g_array_new (FALSE, TRUE, sizeof (uint32_t));
  r.cookies = g_array_new (FALSE, TRUE, sizeof (uint64_t));
  first.fd = vdm_test_loopback_udp (&first_addr, 1);
  second.fd = vdm_test_loopback_udp (&second_addr, 0);
  tx = vdm_test_loopback_udp (&tx_addr, 0);
  sub = vdm_source_subscribe (source, &consumer, &r);
  id1 = vdm_source_watch (source, sub, &first);
  g_assert_cmpint (id1, >, 0);
  for (i = 0; i < 400; i++)
    sendto (tx, datagram, sizeof (datagram), 0, (struct sockaddr *) &first_addr,
        sizeof (first_addr));
  g_assert_cmpint (vdm_source_counters (source, (uint32_t) id1, &counters), ==, 0);
  g_assert_cmpuint (counters.total, >, 0);
  first_total = counters.total;
  vdm_source_unwatch (source, sub, (uint32_t) id1);
  id2 = vdm_source_watch (source, sub, &second);
  g_assert_cmpint (id2, >, 0);
  g_assert_cmpint (VDM_WATCH_SLOT (id2), ==, VDM_WATCH_SLOT (id1));
  /* the slot's counters start at zero (one batched update of its 256
   * reason slots): the first socket's drops are not its successor's */
  g_assert_cmpint (vdm_source_counters (source, (uint32_t) id2, &counters), ==, 0);
  g_test_message ("%" G_GUINT64_FORMAT " drops counted for the first socket, %" G_GUINT64_FORMAT
      " for its successor", first_total, counters.total);
  for (i = 0; i < VDM_REASON_SLOTS; i++)
    g_assert_cmpuint (counters.per_reason[i], ==, 0);
  g_usleep (100 * 1000);
  vdm_source_unsubscribe (source, sub);
  vdm_source_unref (source);

  for (i = 0; i < (int) r.ids->len; i++) {
    if (g_array_index (r.ids, uint32_t, i) == (uint32_t) id2)
      stale++;
    else
      before++;
  }
  g_test_message ("%u drops delivered for the first socket before its release, %u to its "
      "successor", before, stale);
  g_assert_cmpuint (stale, ==, 0);
  close (first.fd);
  close (second.fd);
  close (tx);
  g_array_unref (r.ids);
  g_array_unref (r.cookies);
  g_mutex_clear (&r.lock);
}

/* Issue 9 (rtsp-reconnect): a closing socket's last drops were counted but
 * their events, still in the ring when the watch went, were dropped as
 * stale — and the counters, last read before, missed them too. Overflow a
 * socket and unwatch it at once, before the collector's 5 ms drain: every
 * drop counted must have been delivered before unwatch_final returns, and
 * its final counters must count exactly those. */
static void
test_unwatch_delivers_queued_events (void)
{
  static const vdm_consumer consumer = { record_id };
  id_recorder r = { 0 };
  vdm_source *source = open_or_skip ();
  vdm_subscription *sub;
  vdm_watch_spec spec = { .fd = -1 };
  struct sockaddr_in rx_addr, tx_addr;
  uint8_t datagram[12] = { 0x80 };
  vdm_counters final;
  guint delivered, after;
  int tx, id, i;

  if (!source)
    return;
  g_mutex_init (&r.lock);
  r.ids = g_array_new (FALSE, TRUE, sizeof (uint32_t));
  r.cookies = g_array_new (FALSE, TRUE, sizeof (uint64_t));
  spec.fd = vdm_test_loopback_udp (&rx_addr, 1);
  tx = vdm_test_loopback_udp (&tx_addr, 0);
  sub = vdm_source_subscribe (source, &consumer, &r);
  id = vdm_source_watch (source, sub, &spec);
  g_assert_cmpint (id, >, 0);
  for (i = 0; i < 400; i++)
    sendto (tx, datagram, sizeof (datagram), 0, (struct sockaddr *) &rx_addr, sizeof (rx_addr));
  g_assert_cmpint (vdm_source_unwatch_final (source, sub, (uint32_t) id, &final), ==, 0);
  g_mutex_lock (&r.lock);
  delivered = r.ids->len;
  g_mutex_unlock (&r.lock);
  /* nothing more comes for it, and the kernel counts no more for it */
  for (i = 0; i < 50; i++)
    sendto (tx, datagram, sizeof (datagram), 0, (struct sockaddr *) &rx_addr, sizeof (rx_addr));
  g_usleep (50 * 1000);
  g_mutex_lock (&r.lock);
  after = r.ids->len;
  g_mutex_unlock (&r.lock);
  vdm_source_unsubscribe (source, sub);
  vdm_source_unref (source);

  g_test_message ("final counters %" G_GUINT64_FORMAT " (lost events %" G_GUINT64_FORMAT
      "), %u drops delivered before unwatch returned, %u after", final.total,
      final.ringbuf_lost, delivered, after - delivered);
  g_assert_cmpuint (final.total, >, 0);
  g_assert_cmpuint (final.ringbuf_lost, ==, 0);
  g_assert_cmpuint (delivered, ==, final.total);
  g_assert_cmpuint (after, ==, delivered);
  for (i = 0; i < (int) r.ids->len; i++)
    g_assert_cmpuint (g_array_index (r.ids, uint32_t, i), ==, (uint32_t) id);
  close (spec.fd);
  close (tx);
  g_array_unref (r.ids);
  g_array_unref (r.cookies);
  g_mutex_clear (&r.lock);
}

static uint64_t
socket_drops (int fd)
{
  uint32_t meminfo[SK_MEMINFO_VARS] = { 0 };
  socklen_t len = sizeof (meminfo);

  g_assert_cmpint (getsockopt (fd, SOL_SOCKET, SO_MEMINFO, meminfo, &len), ==, 0);
  return meminfo[SK_MEMINFO_DROPS];
}

#define WIDE_TABLE 300  /* more watches than an 8-bit slot can name */

/* Issue 10: one collector for a host needs more than the 255 watches an
 * 8-bit slot allowed. With the maps sized for 300, 300 sockets are
 * watched, the 301st is refused with ENOSPC (no crash), and the drops of
 * the socket in slot 300 count for it alone, not for slot 300 & 0xff = 44,
 * which an id scheme narrower than the table would alias. */
static void
test_capacity_beyond_255 (void)
{
  static const vdm_consumer consumer = { record_id };
  id_recorder r = { 0 };
  vdm_source *source;
  vdm_subscription *sub;
  vdm_watch_spec specs[WIDE_TABLE + 1];
  struct sockaddr_in addr, last_addr, tx_addr;
  vdm_counters *counters = g_new0 (vdm_counters, 1);
  unsigned in_use = 0, capacity = 0, delivered_last = 0, delivered_other = 0;
  uint8_t datagram[12] = { 0x80 };
  int ids[WIDE_TABLE + 1], tx, i, n_sent = 200;
  uint64_t kernel;

  g_assert_cmpint (vdm_embedded_set_capacity (0), ==, -EINVAL);
  g_assert_cmpint (vdm_embedded_set_capacity (VDM_WATCH_SLOTS_MAX), ==, -EINVAL);
  g_assert_cmpint (vdm_embedded_set_capacity (WIDE_TABLE), ==, 0);
  source = open_or_skip ();
  if (!source) {
    vdm_embedded_set_capacity (VDM_DEFAULT_WATCH_SLOTS - 1);
    g_free (counters);
    return;
  }
  g_assert_cmpint (vdm_embedded_set_capacity (50), ==, -EBUSY);
  g_mutex_init (&r.lock);
  r.ids = g_array_new (FALSE, TRUE, sizeof (uint32_t));
  r.cookies = g_array_new (FALSE, TRUE, sizeof (uint64_t));
  sub = vdm_source_subscribe (source, &consumer, &r);
  for (i = 0; i <= WIDE_TABLE; i++) {
    specs[i].fd = vdm_test_loopback_udp (i == WIDE_TABLE - 1 ? &last_addr : &addr, 1);
    ids[i] = vdm_source_watch (source, sub, &specs[i]);
    if (i < WIDE_TABLE)
      g_assert_cmpint (ids[i], >, 0);
  }
  g_assert_cmpint (ids[WIDE_TABLE], ==, -ENOSPC);
  g_assert_cmpint (vdm_embedded_table (source, &in_use, &capacity), ==, 0);
  g_assert_cmpuint (in_use, ==, WIDE_TABLE);
  g_assert_cmpuint (capacity, ==, WIDE_TABLE);
  g_assert_cmpuint (VDM_WATCH_SLOT (ids[WIDE_TABLE - 1]), ==, WIDE_TABLE);

  tx = vdm_test_loopback_udp (&tx_addr, 0);
  for (i = 0; i < n_sent; i++)
    sendto (tx, datagram, sizeof (datagram), 0, (struct sockaddr *) &last_addr, sizeof (last_addr));
  g_usleep (100 * 1000);
  kernel = socket_drops (specs[WIDE_TABLE - 1].fd);
  g_assert_cmpuint (kernel, >, 0);
  g_assert_cmpint (vdm_source_counters (source, (uint32_t) ids[WIDE_TABLE - 1], counters), ==, 0);
  g_assert_cmpuint (counters->total, ==, kernel);
  g_assert_cmpint (vdm_source_counters (source, (uint32_t) ids[(WIDE_TABLE & 0xff) - 1], counters),
      ==, 0);
  g_assert_cmpuint (counters->total, ==, 0);
  vdm_source_unsubscribe (source, sub);
  vdm_source_unref (source);
  g_assert_cmpint (vdm_embedded_set_capacity (VDM_DEFAULT_WATCH_SLOTS - 1), ==, 0);

  for (i = 0; i < (int) r.ids->len; i++) {
    if (g_array_index (r.ids, uint32_t, i) == (uint32_t) ids[WIDE_TABLE - 1])
      delivered_last++;
    else
      delivered_other++;
  }
  g_test_message ("%llu drops on the socket in slot %d: counters and %u events for it, %u for "
      "any other watch", (unsigned long long) kernel, WIDE_TABLE, delivered_last, delivered_other);
  g_assert_cmpuint (delivered_last, >, 0);
  g_assert_cmpuint (delivered_other, ==, 0);
  for (i = 0; i <= WIDE_TABLE; i++)
    close (specs[i].fd);
  close (tx);
  g_free (counters);
  g_array_unref (r.ids);
  g_array_unref (r.cookies);
  g_mutex_clear (&r.lock);
}

/* A loopback TCP connection: *server is the accepted end. */
static void
loopback_tcp_pair (int *client, int *server, struct sockaddr_in *client_addr,
    struct sockaddr_in *server_addr)
{
  socklen_t len = sizeof (*server_addr);
  int listener = socket (AF_INET, SOCK_STREAM, 0);

  memset (server_addr, 0, sizeof (*server_addr));
  server_addr->sin_family = AF_INET;
  server_addr->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (listener, (struct sockaddr *) server_addr, len), ==, 0);
  g_assert_cmpint (getsockname (listener, (struct sockaddr *) server_addr, &len), ==, 0);
  g_assert_cmpint (listen (listener, 1), ==, 0);
  *client = socket (AF_INET, SOCK_STREAM, 0);
  g_assert_cmpint (connect (*client, (struct sockaddr *) server_addr, len), ==, 0);
  *server = accept (listener, NULL, NULL);
  g_assert_cmpint (*server, >=, 0);
  len = sizeof (*client_addr);
  g_assert_cmpint (getsockname (*client, (struct sockaddr *) client_addr, &len), ==, 0);
  close (listener);
}

/* Issue 10: a TCP connection named by hand (the watch property: a flow, no
 * socket, no cookie). Since 6.11 the kernel names the receiving socket of
 * TCP's own drops, and a named socket nobody watched by cookie was never
 * ours, so these drops went unreported. A socket filter that refuses every
 * packet on the accepted end makes SOCKET_FILTER drops naming it; the
 * flow, named by its full 5-tuple, must count them. */
static void
test_named_tcp_connection_counts_socket_drops (void)
{
  static const vdm_consumer consumer = { record_id };
  struct sock_filter drop_all[] = { BPF_STMT (BPF_RET | BPF_K, 0) };
  struct sock_fprog prog = { .len = 1, .filter = drop_all };
  id_recorder r = { 0 };
  vdm_source *source = open_or_skip ();
  vdm_subscription *sub;
  vdm_watch_spec spec = { .fd = -1 };
  struct sockaddr_in client_addr, server_addr;
  vdm_counters *counters = g_new0 (vdm_counters, 1);
  int client, server, id, i;
  uint64_t kernel = 0;

  if (!source) {
    g_free (counters);
    return;
  }
  g_mutex_init (&r.lock);
  r.ids = g_array_new (FALSE, TRUE, sizeof (uint32_t));
  r.cookies = g_array_new (FALSE, TRUE, sizeof (uint64_t));
  loopback_tcp_pair (&client, &server, &client_addr, &server_addr);
  /* Packets go to the server end: local = server, remote = client. */
  spec.flow.family = AF_INET;
  spec.flow.protocol = IPPROTO_TCP;
  spec.flow.local_port = ntohs (server_addr.sin_port);
  spec.flow.remote_port = ntohs (client_addr.sin_port);
  memcpy (spec.flow.local_addr, &server_addr.sin_addr, 4);
  memcpy (spec.flow.remote_addr, &client_addr.sin_addr, 4);
  sub = vdm_source_subscribe (source, &consumer, &r);
  id = vdm_source_watch (source, sub, &spec);
  g_assert_cmpint (id, >, 0);
  g_assert_cmpint (setsockopt (server, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof (prog)), ==, 0);
  for (i = 0; i < 3; i++)
    g_assert_cmpint (send (client, "0123456789", 10, MSG_DONTWAIT), ==, 10);
  for (i = 0; i < 50 && kernel == 0; i++) {
    g_usleep (20 * 1000);
    kernel = socket_drops (server);
  }
  g_usleep (50 * 1000);
  g_assert_cmpint (vdm_source_counters (source, (uint32_t) id, counters), ==, 0);
  kernel = socket_drops (server);
  g_test_message ("the server end dropped %llu packets (socket counter); the named flow counted "
      "%llu, %u events", (unsigned long long) kernel, (unsigned long long) counters->total,
      r.ids->len);
  g_assert_cmpuint (kernel, >, 0);
  g_assert_cmpuint (counters->total, >, 0);
  vdm_source_unsubscribe (source, sub);
  vdm_source_unref (source);
  close (client);
  close (server);
  g_free (counters);
  g_array_unref (r.ids);
  g_array_unref (r.cookies);
  g_mutex_clear (&r.lock);
}

static int
host_print (enum libbpf_print_level level, const char *fmt, va_list args)
{
  return 0;
}

/* Issue 9, #11: the collector replaced the host application's libbpf print
 * callback for good. It may use its own while it loads, then gives it back. */
static void
test_host_libbpf_print_restored (void)
{
  vdm_source *source;

  libbpf_set_print (host_print);
  source = open_or_skip ();
  if (!source)
    return;
  g_assert_true (libbpf_set_print (host_print) == host_print);
  vdm_source_unref (source);
  g_assert_true (libbpf_set_print (NULL) == host_print);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/embedded-source/reason-name-outlives-last-unref",
      test_reason_name_outlives_last_unref);
  g_test_add_func ("/embedded-source/open-races-last-unref", test_open_races_last_unref);
  g_test_add_func ("/embedded-source/events-lost", test_events_lost_matches_counters);
  g_test_add_func ("/embedded-source/payload-stops-at-packet-end", test_payload_stops_at_packet_end);
  g_test_add_func ("/embedded-source/host-libbpf-print-restored", test_host_libbpf_print_restored);
  g_test_add_func ("/embedded-source/reused-slot-gets-no-stale-events",
      test_reused_slot_gets_no_stale_events);
  g_test_add_func ("/embedded-source/unwatch-delivers-queued-events",
      test_unwatch_delivers_queued_events);
  g_test_add_func ("/embedded-source/capacity-beyond-255", test_capacity_beyond_255);
  g_test_add_func ("/embedded-source/named-tcp-connection-counts-socket-drops",
      test_named_tcp_connection_counts_socket_drops);
  return g_test_run ();
}
