/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmon_watch.c — which sockets and flows the element watches: the
 * udpsrc elements upstream (found again every rescan, so those rtspsrc
 * creates later are picked up and closed ones let go), the TCP
 * connections of the sources that fetch from a server, and the flows named
 * in the "watch" property. Each udpsrc found also gets an arrival probe
 * (vdropmon_arrivals.c). Worker thread and start/stop only.
 */
#include "gstvdropmon_priv.h"

#include <errno.h>
#include <string.h>

#include "socket_discovery.h"
#include "socket_flow.h"
#include "tcp_sockets.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

#define GST_CAT_DEFAULT vdropmon_debug
#define MAX_MANUAL_FLOWS 32
#define FD_SCAN_MIN (500 * GST_MSECOND)
#define FD_SCAN_MAX (8 * GST_SECOND)
/* A released watch's flow is kept as long as a batch opened before its
 * release can wait (the longest batch-interval, 10 s, and a margin), for at
 * most this many watches; a report of one forgotten sooner goes into the
 * drop summary instead of a vdropmon-drop without flow. */
#define RELEASED_KEEP (11 * GST_SECOND)
#define RELEASED_MAX 64

/* ------------------------------------------------------------------------ */
/* Watches.                                                                  */

/* A socket found upstream in this scan. */
typedef struct
{
  guint64 cookie;
  int fd;
  GSocket *socket;              /* udpsrc's (owned ref), keeps fd open; NULL for TCP */
  GstElement *udpsrc;           /* owned ref, or NULL */
  gboolean owns_fd;             /* a pinned duplicate of a TCP socket (tcp_sockets.h) */
} VdmFound;

static void
clear_found (gpointer data)
{
  VdmFound *found = data;

  g_clear_object (&found->socket);
  gst_clear_object (&found->udpsrc);
  if (found->owns_fd && found->fd >= 0)
    close (found->fd);
}

static guint64
cookie_of (int fd)
{
  guint64 cookie = 0;
  socklen_t len = sizeof (cookie);

  if (getsockopt (fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) < 0)
    return 0;
  return cookie;
}

/* TCP sockets belong to the element that fetches through them; when two
 * elements fetch from one server, each vdropmon claims one, process-wide. */
static GMutex claims_lock;
static GHashTable *claims;      /* cookie -> claiming GstVdropmon* */

static gboolean
claim_tcp_socket (GstVdropmon * self, guint64 cookie)
{
  gpointer owner;
  gboolean mine;

  g_mutex_lock (&claims_lock);
  if (!claims)
    claims = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  owner = g_hash_table_lookup (claims, &cookie);
  mine = !owner || owner == self;
  if (!owner)
    g_hash_table_insert (claims, g_memdup2 (&cookie, sizeof (cookie)), self);
  g_mutex_unlock (&claims_lock);
  return mine;
}

static gboolean
claimed_by_other (GstVdropmon * self, guint64 cookie)
{
  gpointer owner;

  g_mutex_lock (&claims_lock);
  owner = claims ? g_hash_table_lookup (claims, &cookie) : NULL;
  g_mutex_unlock (&claims_lock);
  return owner && owner != self;
}

static void
release_claim (GstVdropmon * self, guint64 cookie)
{
  g_mutex_lock (&claims_lock);
  if (claims && g_hash_table_lookup (claims, &cookie) == self)
    g_hash_table_remove (claims, &cookie);
  g_mutex_unlock (&claims_lock);
}

/* A flow named by hand has no socket to hand over: the daemon refuses it
 * (docs/design.md, "Flows named by hand have no socket"). Say which and why. */
static void
warn_not_watched (GstVdropmon * self, gboolean socket, const struct vdm_flow_key *flow, int err)
{
  gchar text[96] = "";

  if (flow)
    vdm_flow_format (flow, text, sizeof (text));
  if (!socket && err == -EPERM)
    GST_WARNING_OBJECT (self, "kernel drops of the flow %s (watch property) are not watched: "
        "the collector daemon watches only sockets handed to it, and a flow named by hand has "
        "none; let vdropmon find the socket upstream, or use collector=embedded", text);
  else if (err == -ENOSPC)
    GST_WARNING_OBJECT (self, "kernel drops of this %s%s are not watched: the collector's "
        "watch table is full", socket ? "socket" : "flow ", text);
  else
    GST_WARNING_OBJECT (self, "kernel drops of this %s%s are not watched: %s",
        socket ? "socket" : "flow ", text, g_strerror (-err));
}

/* What the watch is (its flow, protocol, a TCP connection's identity),
 * read from the socket before the source is told: once the source has it,
 * drops may come, and the socket's owner may close it at any moment. */
static void
describe_watch (const VdmFound * found, const struct vdm_flow_key *flow, VdmWatch * watch)
{
  struct vdm_flow_key socket_flow;

  watch->cookie = found ? found->cookie : 0;
  watch->protocol = IPPROTO_UDP;
  if (flow) {
    vdm_flow_format (flow, watch->flow, sizeof (watch->flow));
    watch->protocol = flow->protocol;
  } else if (vdm_flow_from_socket (found->fd, &socket_flow) == 0) {
    vdm_flow_format (&socket_flow, watch->flow, sizeof (watch->flow));
    watch->protocol = socket_flow.protocol;
  } else
    g_strlcpy (watch->flow, "unbound", sizeof (watch->flow));
  /* a TCP connection (our pinned duplicate, closed after this scan): kept
   * by identity, for its unread bytes (vdropmon_arrivals.c) */
  if (found && found->owns_fd)
    watch->tcp_known = vdm_tcp_identity_of (found->fd, &watch->tcp) == 0;
}

static void
add_watch (GstVdropmon * self, const VdmFound * found, const struct vdm_flow_key *flow)
{
  vdm_watch_spec spec = { .fd = found ? found->fd : -1 };
  VdmWatch watch = { 0 };
  vdm_subscription *sub;
  vdm_source *source;
  int id = 0;

  if (flow)
    spec.flow = *flow;
  describe_watch (found, flow, &watch);
  g_mutex_lock (&self->lock);
  source = self->source ? vdm_source_ref (self->source) : NULL;
  sub = self->subscription;
  g_mutex_unlock (&self->lock);
  if (source) {
    id = vdm_source_watch (source, sub, &spec);
    vdm_source_unref (source);
  }
  if (id < 0)
    warn_not_watched (self, found != NULL, flow, id);
  watch.watch_id = id > 0 ? (guint32) id : 0;
  if (found && found->udpsrc)
    vdm_arrivals_probe_udpsrc (self, found->udpsrc, found->socket, &watch);
  GST_INFO_OBJECT (self, "watching %s (watch id %u)", watch.flow, watch.watch_id);
  g_mutex_lock (&self->lock);
  g_array_append_val (self->watches, watch);
  g_mutex_unlock (&self->lock);
}

const VdmWatch *
vdm_watch_find_locked (GstVdropmon * self, guint32 watch_id)
{
  guint i;

  for (i = 0; watch_id && i < self->watches->len; i++) {
    const VdmWatch *w = &g_array_index (self->watches, VdmWatch, i);
    if (w->watch_id == watch_id)
      return w;
  }
  return NULL;
}

static void
forget_old_released_locked (GstVdropmon * self, guint64 mono)
{
  guint n = 0;

  while (n < self->released->len && (self->released->len - n >= RELEASED_MAX
          || g_array_index (self->released, VdmReleasedWatch, n).released_mono + RELEASED_KEEP
          <= mono))
    n++;
  if (n)
    g_array_remove_range (self->released, 0, n);
}

static void
remember_released_locked (GstVdropmon * self, const VdmWatch * watch)
{
  VdmReleasedWatch r = {.watch_id = watch->watch_id,.released_mono = vdm_monotonic_ns () };

  if (!watch->watch_id)
    return;
  forget_old_released_locked (self, r.released_mono);
  g_strlcpy (r.flow, watch->flow, sizeof (r.flow));
  g_array_append_val (self->released, r);
}

const gchar *
vdm_watch_flow_locked (GstVdropmon * self, guint32 watch_id)
{
  const VdmWatch *w = vdm_watch_find_locked (self, watch_id);
  guint i;

  if (w)
    return w->flow;
  for (i = 0; watch_id && i < self->released->len; i++) {
    const VdmReleasedWatch *r = &g_array_index (self->released, VdmReleasedWatch, i);
    if (r->watch_id == watch_id)
      return r->flow;
  }
  return NULL;
}

GArray *
vdm_watch_copy_ids (GstVdropmon * self)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  guint i;

  g_mutex_lock (&self->lock);
  for (i = 0; i < self->watches->len; i++)
    g_array_append_val (ids, g_array_index (self->watches, VdmWatch, i).watch_id);
  g_mutex_unlock (&self->lock);
  return ids;
}

void
vdm_watch_retire_counters_locked (GstVdropmon * self, const VdmWatch * watch)
{
  guint slot;

  for (slot = 0; slot < VDM_REASON_SLOTS; slot++)
    self->retired.per_reason[slot] += watch->last_counters.per_reason[slot];
  self->retired.total += watch->last_counters.total;
  self->retired.ringbuf_lost += watch->last_counters.ringbuf_lost;
}

static gboolean
cookie_found (GArray * found, guint64 cookie)
{
  guint i;

  for (i = 0; i < found->len; i++)
    if (g_array_index (found, VdmFound, i).cookie == cookie)
      return TRUE;
  return FALSE;
}

/* Takes out the watches whose socket is no longer upstream (udpsrc closed,
 * rtspsrc reconnected) and returns them, for the caller to release. Flows
 * named by hand stay. */
static GArray *
take_vanished_locked (GstVdropmon * self, GArray * found)
{
  GArray *gone = g_array_new (FALSE, FALSE, sizeof (VdmWatch));
  guint i = 0;

  while (i < self->watches->len) {
    VdmWatch *w = &g_array_index (self->watches, VdmWatch, i);
    if (!w->cookie || cookie_found (found, w->cookie)) {
      i++;
      continue;
    }
    GST_INFO_OBJECT (self, "no longer watching %s", w->flow);
    vdm_watch_retire_counters_locked (self, w);
    remember_released_locked (self, w);
    g_array_append_val (gone, *w);
    g_array_remove_index (self->watches, i);
  }
  return gone;
}

/* What the watch counted after its counters were last read (and retired):
 * the drops of its last moments, a TCP connection's close above all. */
static void
retire_final_counters (GstVdropmon * self, const VdmWatch * watch, const vdm_counters * final)
{
  const vdm_counters *last = &watch->last_counters;
  guint slot;

  g_mutex_lock (&self->lock);
  for (slot = 0; slot < VDM_REASON_SLOTS; slot++)
    if (final->per_reason[slot] > last->per_reason[slot])
      self->retired.per_reason[slot] += final->per_reason[slot] - last->per_reason[slot];
  if (final->total > last->total)
    self->retired.total += final->total - last->total;
  if (final->ringbuf_lost > last->ringbuf_lost)
    self->retired.ringbuf_lost += final->ringbuf_lost - last->ringbuf_lost;
  g_mutex_unlock (&self->lock);
}

/* The watch's counters were retired as last read; its final ones (read as
 * the source lets it go, after its queued events were delivered) add the
 * rest, so kernel-drops misses none of its drops. */
static void
release_watch (GstVdropmon * self, VdmWatch * watch)
{
  vdm_subscription *sub;
  vdm_source *source;
  vdm_counters final;

  vdm_arrivals_unprobe (self, watch);
  g_mutex_lock (&self->lock);
  source = self->source && watch->watch_id ? vdm_source_ref (self->source) : NULL;
  sub = self->subscription;
  g_mutex_unlock (&self->lock);
  if (source) {
    if (vdm_source_unwatch_final (source, sub, watch->watch_id, &final) == 0)
      retire_final_counters (self, watch, &final);
    vdm_source_unref (source);
  }
  if (watch->cookie)
    release_claim (self, watch->cookie);
}

static gboolean
is_watched_locked (GstVdropmon * self, guint64 cookie)
{
  guint i;

  for (i = 0; i < self->watches->len; i++)
    if (g_array_index (self->watches, VdmWatch, i).cookie == cookie)
      return TRUE;
  return FALSE;
}

static void
find_udp_sockets (GPtrArray * udp_sources, GArray * found)
{
  guint i;

  for (i = 0; i < udp_sources->len; i++) {
    VdmFound f = { 0 };
    g_object_get (g_ptr_array_index (udp_sources, i), "used-socket", &f.socket, NULL);
    if (!f.socket)
      continue;                 /* not opened yet: the next scan sees it */
    f.fd = g_socket_get_fd (f.socket);
    f.cookie = cookie_of (f.fd);
    f.udpsrc = gst_object_ref (g_ptr_array_index (udp_sources, i));
    g_array_append_val (found, f);
  }
}

/* Of the sockets connected to a client's server, the one that carries our
 * stream: not claimed by another vdropmon, and with the received byte count
 * nearest to what passed through us (the best guess when one process
 * fetches twice from one server; see docs/design.md). */
static const vdm_tcp_socket *
pick_tcp_socket (GstVdropmon * self, const vdm_tcp_socket * sockets, gint n)
{
  const vdm_tcp_socket *best = NULL;
  guint64 ours, best_distance = G_MAXUINT64;
  gint i;

  g_mutex_lock (&self->lock);
  {
    vdm_monitor_stats stats;
    vdm_stream_monitor_stats (self->monitor, &stats);
    ours = stats.bytes;
  }
  g_mutex_unlock (&self->lock);
  for (i = 0; i < n; i++) {
    guint64 received = sockets[i].bytes_received;
    guint64 distance = received > ours ? received - ours : ours - received;
    if (claimed_by_other (self, sockets[i].cookie))
      continue;
    g_mutex_lock (&self->lock);
    if (is_watched_locked (self, sockets[i].cookie)) {
      g_mutex_unlock (&self->lock);
      return &sockets[i];       /* ours already: keep it */
    }
    g_mutex_unlock (&self->lock);
    if (distance < best_distance) {
      best = &sockets[i];
      best_distance = distance;
    }
  }
  return best;
}

/* The TCP sockets already watched, as found: kept when /proc/self/fd is
 * not read this time. */
static void
keep_tcp_watches (GstVdropmon * self, GArray * found)
{
  guint i;

  g_mutex_lock (&self->lock);
  for (i = 0; i < self->watches->len; i++) {
    const VdmWatch *w = &g_array_index (self->watches, VdmWatch, i);
    VdmFound f = {.cookie = w->cookie,.fd = -1 };
    if (w->cookie && w->protocol == IPPROTO_TCP)
      g_array_append_val (found, f);
  }
  g_mutex_unlock (&self->lock);
}

/* /proc/self/fd is read at once after a new upstream pad or start, then
 * less and less often (up to FD_SCAN_MAX) while every server's socket is
 * watched and nothing changes; back to FD_SCAN_MIN when one is missing. */
static gboolean
fd_scan_due (GstVdropmon * self)
{
  guint64 mono = vdm_monotonic_ns ();
  gboolean due;

  g_mutex_lock (&self->lock);
  due = mono >= self->next_fd_scan_mono;
  g_mutex_unlock (&self->lock);
  return due;
}

static void
fd_scan_done (GstVdropmon * self, gboolean all_watched)
{
  g_mutex_lock (&self->lock);
  self->fd_scan_backoff = all_watched ? MIN (MAX (self->fd_scan_backoff * 2, FD_SCAN_MIN),
      FD_SCAN_MAX) : FD_SCAN_MIN;
  self->next_fd_scan_mono = vdm_monotonic_ns () + self->fd_scan_backoff;
  g_mutex_unlock (&self->lock);
}

static void
find_tcp_sockets (GstVdropmon * self, GPtrArray * clients, GArray * found)
{
  gboolean all_watched = TRUE;
  guint i;
  gint j;

  if (!clients->len)
    return;
  if (!fd_scan_due (self)) {
    keep_tcp_watches (self, found);
    return;
  }
  for (i = 0; i < clients->len; i++) {
    const VdmNetClient *client = g_ptr_array_index (clients, i);
    struct sockaddr_storage addrs[8];
    vdm_tcp_socket sockets[16];
    const vdm_tcp_socket *pick;
    gint n_addrs = vdm_resolve_host (self, client->host, addrs, G_N_ELEMENTS (addrs));
    gint n = n_addrs > 0 ? vdm_tcp_sockets_to (addrs, n_addrs, client->port, sockets,
        G_N_ELEMENTS (sockets)) : 0;

    pick = n > 0 ? pick_tcp_socket (self, sockets, n) : NULL;
    if (pick && claim_tcp_socket (self, pick->cookie)) {
      VdmFound f = {.cookie = pick->cookie,.fd = pick->fd,.owns_fd = TRUE };
      g_mutex_lock (&self->lock);
      all_watched &= is_watched_locked (self, pick->cookie);
      g_mutex_unlock (&self->lock);
      g_array_append_val (found, f);
    } else {
      pick = NULL;
      all_watched = FALSE;
    }
    for (j = 0; j < n; j++)
      if (&sockets[j] != pick)
        close (sockets[j].fd);
  }
  fd_scan_done (self, all_watched);
}

/* Where the stream waits between arrival and the screen, for stall-eta and
 * the runway when the pipeline's LATENCY event says nothing (a plain
 * rtpjitterbuffer pipeline reports latency 0). */
static void
note_buffer_latency (GstVdropmon * self, GstClockTime upstream)
{
  GstClockTime downstream = vdm_discover_downstream_latency (GST_BASE_TRANSFORM_SRC_PAD (self));
  GstClockTime latency = upstream;

  if (GST_CLOCK_TIME_IS_VALID (downstream)
      && (!GST_CLOCK_TIME_IS_VALID (latency) || downstream > latency))
    latency = downstream;
  g_mutex_lock (&self->lock);
  vdm_stream_monitor_set_buffer_latency (self->monitor, latency);
  g_mutex_unlock (&self->lock);
}

void
vdm_watch_rescan (GstVdropmon * self)
{
  GArray *found = g_array_new (FALSE, TRUE, sizeof (VdmFound));
  GArray *gone, *fresh = g_array_new (FALSE, FALSE, sizeof (guint));
  VdmUpstream upstream;
  guint i;

  g_array_set_clear_func (found, clear_found);
  vdm_discover_upstream (GST_BASE_TRANSFORM_SINK_PAD (self), &upstream);
  find_udp_sockets (upstream.udp_sources, found);
  find_tcp_sockets (self, upstream.net_clients, found);
  note_buffer_latency (self, upstream.buffer_latency);

  g_mutex_lock (&self->lock);
  gone = take_vanished_locked (self, found);
  for (i = 0; i < found->len; i++) {
    guint64 cookie = g_array_index (found, VdmFound, i).cookie;
    if (cookie && !is_watched_locked (self, cookie))
      g_array_append_val (fresh, i);
  }
  g_mutex_unlock (&self->lock);

  for (i = 0; i < gone->len; i++)
    release_watch (self, &g_array_index (gone, VdmWatch, i));
  for (i = 0; i < fresh->len; i++)
    add_watch (self, &g_array_index (found, VdmFound, g_array_index (fresh, guint, i)), NULL);
  g_array_unref (gone);
  g_array_unref (fresh);
  g_array_unref (found);
  vdm_upstream_clear (&upstream);
  vdm_arrivals_recheck_direct (self);
}

gboolean
vdm_watch_manual_flows (GstVdropmon * self)
{
  struct vdm_flow_key flows[MAX_MANUAL_FLOWS];
  gchar *text, err[128] = "";
  int n, i;

  g_mutex_lock (&self->lock);
  text = g_strdup (self->watch);
  g_mutex_unlock (&self->lock);
  if (!text || !*text) {
    g_free (text);
    return TRUE;
  }
  n = vdm_flow_parse_list (text, flows, MAX_MANUAL_FLOWS, err, sizeof (err));
  if (n < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Invalid watch property \"%s\"", text),
        ("%s", err));
    g_free (text);
    return FALSE;
  }
  for (i = 0; i < n; i++)
    add_watch (self, NULL, &flows[i]);
  g_free (text);
  return TRUE;
}

void
vdm_watch_release_all (GstVdropmon * self)
{
  GArray *watches;
  guint i;

  /* Keep what the watches counted: stats must not shrink after a stop. */
  vdm_collector_refresh_counters (self);
  g_mutex_lock (&self->lock);
  for (i = 0; i < self->watches->len; i++) {
    vdm_watch_retire_counters_locked (self, &g_array_index (self->watches, VdmWatch, i));
    remember_released_locked (self, &g_array_index (self->watches, VdmWatch, i));
  }
  watches = self->watches;
  self->watches = g_array_new (FALSE, TRUE, sizeof (VdmWatch));
  g_atomic_int_set (&VDM_HOT (self)->arrival_probed, FALSE);
  g_mutex_unlock (&self->lock);
  for (i = 0; i < watches->len; i++)
    release_watch (self, &g_array_index (watches, VdmWatch, i));
  g_array_unref (watches);
}
