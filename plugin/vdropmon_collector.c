/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmon_collector.c — the element's kernel event source: which one it
 * opens (collector property; auto tries the host's daemon, then the
 * embedded collector, then goes on without), its drops into the monitor,
 * and the counters and queue fill it is asked for.
 *
 * The source is never called with self->lock held (it holds its own lock
 * while calling us back); whoever calls it takes a reference first, under
 * self->lock, so that stop() cannot free it meanwhile (issue 9 #2).
 */
#include "gstvdropmon_priv.h"

#include <stdlib.h>
#include <string.h>

#define GST_CAT_DEFAULT vdropmon_debug
/* How long an arrival gap waits for the kernel to name its packets. */
#define GAP_GRACE_WITH_KERNEL (50 * GST_MSECOND)

/* ------------------------------------------------------------------------ */
/* Drops, on the source's thread.                                            */

static guint
reason_slot (guint32 reason)
{
  return reason < VDM_REASON_SLOTS - 1 ? reason : VDM_REASON_SLOTS - 1;
}

/* What the counters say beyond this is a drop whose event was lost. */
static void
count_event_seen_locked (GstVdropmon * self, const vdm_drop * drop)
{
  VdmWatch *w = (VdmWatch *) vdm_watch_find_locked (self, drop->watch_id);

  if (w)
    w->events_seen[reason_slot (drop->reason)]++;
}

static void
on_kernel_drop (void *user_data, const vdm_drop * drop)
{
  GstVdropmon *self = user_data;
  vdm_kernel_drop kd = {
    .ktime_ns = drop->ktime_ns,
    .reason = drop->reason,
    .reason_name = drop->reason_name,
    .watch_id = drop->watch_id,
    .protocol = drop->flow.protocol,
    .attribution = (guint8) drop->attributed_by,
    .payload = drop->payload,
    .payload_len = drop->payload_len,
    .count = drop->count,
  };

  g_mutex_lock (&self->lock);
  /* the arrivals before it first: a gap it explains may be among them */
  vdm_feeds_sync_locked (self);
  count_event_seen_locked (self, drop);
  if (vdm_stream_monitor_kernel_drop (self->monitor, &kd, vdm_times_locked (self)))
    vdm_wake_worker_locked (self);
  g_mutex_unlock (&self->lock);
}

vdm_source *
vdm_collector_ref (GstVdropmon * self)
{
  vdm_source *source;

  g_mutex_lock (&self->lock);
  source = self->source ? vdm_source_ref (self->source) : NULL;
  g_mutex_unlock (&self->lock);
  return source;
}

/* ------------------------------------------------------------------------ */
/* Opening.                                                                  */

/* NULL: the daemon client's default ($VDROPMON_DAEMON_SOCKET, else its
 * default path). */
static const gchar *
daemon_socket_path (GstVdropmon * self, gchar ** owned)
{
  g_mutex_lock (&self->lock);
  *owned = g_strdup (self->daemon_socket);
  g_mutex_unlock (&self->lock);
  return *owned;
}

/* Opens and subscribes one source by name; on failure returns NULL and
 * sets *why (caller frees). */
static vdm_source *
try_source (GstVdropmon * self, const gchar * name, const gchar * socket,
    vdm_subscription ** sub, gchar ** why)
{
  static const vdm_consumer consumer = {.on_drop = on_kernel_drop };
  char *error = NULL;
  vdm_source *source = vdm_source_open (name, socket, &error);

  if (source && (*sub = vdm_source_subscribe (source, &consumer, self)))
    return source;
  *why = g_strdup_printf ("%s: %s", name, error ? error : "cannot subscribe");
  free (error);
  g_clear_pointer (&source, vdm_source_unref);
  return NULL;
}

static void
set_collector_locked (GstVdropmon * self, const gchar * name, const gchar * status)
{
  g_free (self->collector_name);
  g_free (self->collector_status);
  self->collector_name = g_strdup (name);
  self->collector_status = g_strdup (status);
}

static gboolean
report_failure (GstVdropmon * self, GstVdropmonCollector mode, const gchar * why)
{
  gchar *status = g_strdup_printf ("unavailable: %s", why);
  gboolean warn;

  g_mutex_lock (&self->lock);
  set_collector_locked (self, "none", status);
  warn = !self->warned_no_bpf;
  self->warned_no_bpf = TRUE;
  g_mutex_unlock (&self->lock);
  if (mode != GST_VDROPMON_COLLECTOR_AUTO) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Cannot open the %s event source",
            mode == GST_VDROPMON_COLLECTOR_DAEMON ? "daemon" : mode ==
            GST_VDROPMON_COLLECTOR_FAKE ? "fake" : "eBPF"), ("%s", status));
  } else if (warn) {
    GST_ELEMENT_WARNING (self, RESOURCE, OPEN_READ,
        ("Kernel drop monitoring is off; only RTP sequence gaps will be reported"), ("%s", status));
  }
  g_free (status);
  return mode == GST_VDROPMON_COLLECTOR_AUTO;
}

/* The names to try, in order, for a collector mode. */
static void
candidates (GstVdropmonCollector mode, const gchar ** names)
{
  names[0] = names[1] = NULL;
  switch (mode) {
    case GST_VDROPMON_COLLECTOR_AUTO:
      names[0] = "daemon";      /* the host's collector, if it runs */
      names[1] = "embedded";
      break;
    case GST_VDROPMON_COLLECTOR_EMBEDDED:
      names[0] = "embedded";
      break;
    case GST_VDROPMON_COLLECTOR_DAEMON:
      names[0] = "daemon";
      break;
    case GST_VDROPMON_COLLECTOR_FAKE:
      names[0] = "fake";
      break;
    case GST_VDROPMON_COLLECTOR_NONE:
      break;
  }
}

/* The daemon labels this element's series with these names (set before
 * any watch: the WATCH frames carry them). The top-level bin is the
 * pipeline; an element outside any bin has none. */
static void
attach_analytics (GstVdropmon * self, vdm_source * source, vdm_subscription * sub)
{
  GstObject *top = gst_object_get_parent (GST_OBJECT (self)), *up;
  gchar *element = gst_object_get_name (GST_OBJECT (self));
  gchar *pipeline;

  while (top && (up = gst_object_get_parent (top))) {
    gst_object_unref (top);
    top = up;
  }
  pipeline = top ? gst_object_get_name (top) : g_strdup ("");
  vdm_element_analytics_attach (self->analytics, source, sub, element, pipeline);
  g_free (pipeline);
  g_free (element);
  gst_clear_object (&top);
}

/* start(): opens the source the collector property asks for. FALSE when
 * the element cannot start (a collector named explicitly did not open). */
gboolean
vdm_collector_start (GstVdropmon * self)
{
  const gchar *names[2];
  GString *skipped = g_string_new (NULL);
  GstVdropmonCollector mode;
  vdm_subscription *sub = NULL;
  vdm_source *source = NULL;
  gchar *owned_socket;
  const gchar *socket = daemon_socket_path (self, &owned_socket);
  gboolean ok = TRUE;
  guint i;

  g_mutex_lock (&self->lock);
  mode = self->collector_mode;
  g_mutex_unlock (&self->lock);
  candidates (mode, names);
  for (i = 0; i < G_N_ELEMENTS (names) && names[i] && !source; i++) {
    gchar *why = NULL;
    source = try_source (self, names[i], socket, &sub, &why);
    if (!source) {
      GST_INFO_OBJECT (self, "event source %s", why);
      g_string_append_printf (skipped, "%s%s", skipped->len ? "; " : "", why);
      g_free (why);
    }
  }
  if (source)
    attach_analytics (self, source, sub);
  g_mutex_lock (&self->lock);
  self->source = source;
  self->subscription = sub;
  if (source || mode == GST_VDROPMON_COLLECTOR_NONE)
    set_collector_locked (self, source ? names[i - 1] : "none", source ? "running" : "disabled");
  g_free (self->collector_skipped);
  self->collector_skipped = g_strdup (skipped->str);
  self->config.gap_grace_ns = source ? GAP_GRACE_WITH_KERNEL : 0;
  vdm_stream_monitor_set_config (self->monitor, &self->config);
  g_mutex_unlock (&self->lock);
  if (!source && mode != GST_VDROPMON_COLLECTOR_NONE)
    ok = report_failure (self, mode, skipped->str);
  g_string_free (skipped, TRUE);
  g_free (owned_socket);
  return ok;
}

/* stop(), after the watches are released: no callback runs after this. */
void
vdm_collector_stop (GstVdropmon * self)
{
  vdm_source *source;
  vdm_subscription *sub;

  g_mutex_lock (&self->lock);
  source = self->source;
  sub = self->subscription;
  self->source = NULL;
  self->subscription = NULL;
  g_mutex_unlock (&self->lock);
  vdm_element_analytics_detach (self->analytics);
  if (source) {
    vdm_source_unsubscribe (source, sub);
    vdm_source_unref (source);
  }
}

/* ------------------------------------------------------------------------ */
/* Counters and queue fill.                                                  */

/* The drops the counters count and no event named, up to the events the
 * ring buffer lost (the rest are events still on their way): they reach
 * the monitor as drops of their reason (issue 9 #6), so a full ring
 * neither blinds the detector nor turns host drops into network gaps. */
static void
announce_unseen_locked (GstVdropmon * self, vdm_source * source, VdmWatch * w,
    const vdm_counters * c)
{
  guint64 budget = c->ringbuf_lost > w->events_lost_announced ?
      c->ringbuf_lost - w->events_lost_announced : 0;
  guint slot;

  for (slot = 0; slot < VDM_REASON_SLOTS && budget; slot++) {
    guint64 known = w->events_seen[slot] + w->unseen_announced[slot];
    guint64 n = c->per_reason[slot] > known ? MIN (c->per_reason[slot] - known, budget) : 0;
    vdm_kernel_drop kd = {
      .reason = slot,
      /* interned for the whole process: no source lock needed */
      .reason_name = vdm_source_reason_name (source, slot),
      .watch_id = w->watch_id,
      .protocol = w->protocol,
      .attribution = VDM_ATTR_SOCKET,
    };

    if (!n)
      continue;
    GST_DEBUG_OBJECT (self, "%" G_GUINT64_FORMAT " %s drops of watch %u lost their events", n,
        kd.reason_name, w->watch_id);
    vdm_stream_monitor_kernel_drops_unseen (self->monitor, &kd, n, vdm_times_locked (self));
    w->unseen_announced[slot] += n;
    budget -= n;
  }
  /* What the budget could not place is kept for the next refresh: the
   * program counts a drop before it tries the ring, and the counters are
   * read before events-lost, so a drop that lands between the two reads is
   * lost here and not yet in its reason's counter — the next read shows it.
   * Never announced twice: every unseen drop spends one unit of the
   * budget, and events-lost counts each lost event once. */
  w->events_lost_announced = c->ringbuf_lost - budget;
}

/* Refreshes a watch's counters; returns the ring-buffer losses since the
 * previous call. */
static guint64
refresh_watch (GstVdropmon * self, vdm_source * source, guint32 watch_id)
{
  vdm_counters counters;
  guint64 delta = 0;
  guint i;

  if (!watch_id || vdm_source_counters (source, watch_id, &counters) < 0)
    return 0;
  g_mutex_lock (&self->lock);
  /* before the unseen drops explain gaps: the arrivals that revealed them */
  vdm_feeds_sync_locked (self);
  for (i = 0; i < self->watches->len; i++) {
    VdmWatch *w = &g_array_index (self->watches, VdmWatch, i);
    if (w->watch_id != watch_id)
      continue;
    w->last_counters = counters;
    announce_unseen_locked (self, source, w, &counters);
    delta = counters.ringbuf_lost - w->events_lost_reported;
    w->events_lost_reported = counters.ringbuf_lost;
  }
  g_mutex_unlock (&self->lock);
  return delta;
}

/* The ring-buffer losses of one watch since the previous call: one per-CPU
 * lookup (vdm_source_events_lost), not the 257 of a full counters refresh,
 * which only the stats interval needs. */
static guint64
take_watch_events_lost (GstVdropmon * self, vdm_source * source, guint32 watch_id)
{
  guint64 lost, delta = 0;
  guint i;

  if (!watch_id || vdm_source_events_lost (source, watch_id, &lost) < 0)
    return 0;
  g_mutex_lock (&self->lock);
  for (i = 0; i < self->watches->len; i++) {
    VdmWatch *w = &g_array_index (self->watches, VdmWatch, i);
    if (w->watch_id != watch_id)
      continue;
    if (lost > w->events_lost_reported)
      delta = lost - w->events_lost_reported;
    w->events_lost_reported = MAX (w->events_lost_reported, lost);
    w->last_counters.ringbuf_lost = MAX (w->last_counters.ringbuf_lost, lost);
  }
  g_mutex_unlock (&self->lock);
  return delta;
}

guint64
vdm_collector_take_events_lost (GstVdropmon * self, guint32 watch_id)
{
  vdm_source *source = vdm_collector_ref (self);
  guint64 lost = source ? take_watch_events_lost (self, source, watch_id) : 0;

  if (source)
    vdm_source_unref (source);
  return lost;
}

static void
refresh_watch_counters (GstVdropmon * self, vdm_source * source, guint32 id)
{
  refresh_watch (self, source, id);
}

typedef void (*VdmWatchVisit) (GstVdropmon * self, vdm_source * source, guint32 id);

/* Calls visit for each watch id, on a copy of the ids taken under the lock
 * and without holding it: visit may read the source and take the lock. */
static void
for_each_watch (GstVdropmon * self, VdmWatchVisit visit)
{
  vdm_source *source = vdm_collector_ref (self);
  GArray *ids;
  guint i;

  if (!source)
    return;
  ids = vdm_watch_copy_ids (self);
  for (i = 0; i < ids->len; i++)
    visit (self, source, g_array_index (ids, guint32, i));
  g_array_unref (ids);
  vdm_source_unref (source);
}

void
vdm_collector_refresh_counters (GstVdropmon * self)
{
  for_each_watch (self, refresh_watch_counters);
}

/* One cheap look at a watch's lost events; its counters are read only when
 * some were lost since. */
static void
refresh_watch_if_lost (GstVdropmon * self, vdm_source * source, guint32 id)
{
  const VdmWatch *w;
  guint64 lost;
  gboolean grown;

  if (vdm_source_events_lost (source, id, &lost) < 0)
    return;
  g_mutex_lock (&self->lock);
  w = vdm_watch_find_locked (self, id);
  grown = w && lost > w->events_lost_announced;
  g_mutex_unlock (&self->lock);
  if (grown)
    refresh_watch_counters (self, source, id);
}

/* Each worker round. */
void
vdm_collector_announce_unseen (GstVdropmon * self)
{
  for_each_watch (self, refresh_watch_if_lost);
}

void
vdm_collector_feed_queue_fill (GstVdropmon * self)
{
  vdm_source *source = vdm_collector_ref (self);
  GArray *ids;
  int peak = -1;
  guint i;

  if (!source)
    return;
  ids = vdm_watch_copy_ids (self);
  for (i = 0; i < ids->len; i++) {
    /* reads and resets the kernel's peak: call once (not inside MAX) */
    int p = vdm_source_queue_peak (source, g_array_index (ids, guint32, i));
    peak = MAX (peak, p);
  }
  g_array_unref (ids);
  vdm_source_unref (source);
  g_mutex_lock (&self->lock);
  vdm_stream_monitor_queue_fill (self->monitor, peak / 1000.0, vdm_now_locked (self));
  g_mutex_unlock (&self->lock);
}

/* ------------------------------------------------------------------------ */
/* Stats.                                                                    */

static void
add_counters (VdmStatsSnapshot * snap, const vdm_counters * c)
{
  guint slot;

  for (slot = 0; slot < VDM_REASON_SLOTS; slot++)
    snap->per_reason[slot] += c->per_reason[slot];
  snap->kernel_drops += c->total;
  snap->events_lost += c->ringbuf_lost;
}

GstStructure *
vdm_build_stats (GstVdropmon * self, const gchar * name)
{
  VdmStatsSnapshot snap = { 0 };
  vdm_source *source = vdm_collector_ref (self);
  vdm_source_info info = { 0 };
  GstStructure *s;
  guint i;

  if (source)                   /* no I/O: the daemon source says whether it reconnects */
    vdm_source_get_info (source, &info);
  snap.flows = g_ptr_array_new_with_free_func (g_free);
  g_mutex_lock (&self->lock);
  vdm_feeds_sync_locked (self);
  snap.packets_unobserved = vdm_feeds_unobserved_locked (self);
  snap.collector = self->collector_name ? self->collector_name : "none";
  snap.collector_status = info.status ? info.status
      : self->collector_status ? self->collector_status : "disabled";
  snap.collector_skipped = self->collector_skipped ? self->collector_skipped : "";
  add_counters (&snap, &self->retired);
  for (i = 0; i < self->watches->len; i++) {
    const VdmWatch *w = &g_array_index (self->watches, VdmWatch, i);
    g_ptr_array_add (snap.flows, g_strdup (w->flow));
    add_counters (&snap, &w->last_counters);
  }
  /* reason names are interned for the whole process: no source lock needed */
  for (i = 0; source && i < VDM_REASON_SLOTS; i++)
    snap.reason_names[i] = snap.per_reason[i] ? vdm_source_reason_name (source, i) : NULL;
  vdm_stream_monitor_stats (self->monitor, &snap.stream);
  s = vdm_stats_to_structure (&snap, name);
  g_mutex_unlock (&self->lock);
  g_ptr_array_unref (snap.flows);
  if (source)
    vdm_source_unref (source);
  return s;
}
