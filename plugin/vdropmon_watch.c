/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmon_watch.c — which sockets and flows the element watches: the
 * udpsrc elements upstream (found again every rescan, so those rtspsrc
 * creates later are picked up and closed ones let go), the flows named in
 * the "watch" property, and the arrival probes on each udpsrc's source pad
 * that see gaps and silence when they happen, not one jitterbuffer later.
 */
#include "gstvdropmon_priv.h"

#include <string.h>

#include "socket_discovery.h"
#include "socket_flow.h"

#define GST_CAT_DEFAULT vdropmon_debug
#define MAX_MANUAL_FLOWS 32

/* ------------------------------------------------------------------------ */
/* Arrivals.                                                                 */

static void
on_unexplained_gap (uint32_t ssrc, uint16_t first_seq, uint16_t count, uint64_t detected_ns,
    const vdm_gap_context * context, void *user_data);

/* RTP timestamps as media time: extended past their 32-bit wrap; a new
 * SSRC starts over. */
static void
observe_rtp_media_locked (GstVdropmon * self, const vdm_rtp_header * rtp, guint64 arrival_ns)
{
  if (rtp->ssrc != self->runway_ssrc || !self->runway.started) {
    vdm_runway_init (&self->runway);
    self->runway_ssrc = rtp->ssrc;
    self->rtp_ts_ext = (guint64) 1 << 32;      /* room to go back */
  } else {
    self->rtp_ts_ext += (gint64) (gint32) (rtp->timestamp - self->last_rtp_ts);
  }
  self->last_rtp_ts = rtp->timestamp;
  vdm_runway_observe (&self->runway, arrival_ns,
      gst_util_uint64_scale (self->rtp_ts_ext, GST_SECOND, self->arrival.clock_rate));
}

void
vdm_observe_media_locked (GstVdropmon * self, GstClockTime pts)
{
  vdm_runway_observe (&self->runway, vdm_now_locked (self), pts);
}

void
vdm_observe_arrival_locked (GstVdropmon * self, const vdm_rtp_header * rtp, gsize size)
{
  guint64 arrival_ns = vdm_now_locked (self);
  vdm_gap_context context = {
    .stamp = arrival_ns,
    .rtp_ts = rtp->timestamp,
    .payload_type = rtp->payload_type,
    .keyframe = vdm_payload_is_keyframe (self->codec, rtp->payload, rtp->payload_len),
  };
  vdm_seq_gap gap;

  self->arrival_bytes += size;
  vdm_arrival_stats_packet (&self->arrival, arrival_ns, rtp->ssrc, rtp->timestamp);
  observe_rtp_media_locked (self, rtp, arrival_ns);
  vdm_gap_reconciler_arrived (self->gaps, rtp->ssrc, rtp->seq);
  if (!vdm_seq_tracker_push (self->seqs, rtp->ssrc, rtp->seq, &gap))
    return;
  /* The grace period runs on real time (waiting for the kernel's events),
   * the damage on detector time. */
  vdm_gap_reconciler_gap (self->gaps, vdm_monotonic_ns (), &context, gap.ssrc,
      gap.first_missing, gap.count, on_unexplained_gap, self);
  vdm_worker_wake_locked (self);
}

/* Loss the kernel did not explain: it happened before this host. */
static void
on_unexplained_gap (uint32_t ssrc, uint16_t first_seq, uint16_t count, uint64_t detected_ns,
    const vdm_gap_context * context, void *user_data)
{
  GstVdropmon *self = user_data;
  vdm_drop_record record = {
    .source = VDM_DROP_SOURCE_RTP_GAP,
    .reason_name = "RTP_SEQ_GAP",
    .time_ns = detected_ns,
    .count = count,
    .has_rtp = true,
    .ssrc = ssrc,
    .rtp_seq = first_seq,
    /* the frame of the packet after the gap: the one known to be damaged */
    .rtp_ts = context->rtp_ts,
    .payload_type = context->payload_type,
  };

  vdm_frame_info frame;

  /* Lost inside a keyframe: the packet after the gap, or its frame, says so. */
  record.keyframe_packet = context->keyframe
      || (vdm_frame_map_lookup_rtp (self->frames, ssrc, context->rtp_ts, &frame)
      && frame.pts_exact && frame.keyframe);
  vdm_drop_batcher_add (self->batcher, &record, vdm_monotonic_ns ());
  vdm_detector_add_drops (self->detector, context->stamp, VDM_CAUSE_NETWORK, count);
  if (record.keyframe_packet)
    vdm_detector_keyframe_lost (self->detector, context->stamp);
  self->episode.gap_seen = TRUE;
  if (!GST_CLOCK_TIME_IS_VALID (self->episode.first_damage))
    self->episode.first_damage = context->stamp;
}

void
vdm_settle_gaps_locked (GstVdropmon * self, guint64 now, guint64 grace)
{
  vdm_gap_reconciler_settle (self->gaps, now, grace, on_unexplained_gap, self);
}

static void
observe_buffer (GstVdropmon * self, GstBuffer * buf)
{
  VdmPeek peek;
  vdm_rtp_header rtp;

  if (!vdm_peek_buffer (buf, &peek))
    return;
  if (vdm_rtp_parse (peek.data, peek.size, peek.complete, &rtp)) {
    g_mutex_lock (&self->lock);
    vdm_observe_arrival_locked (self, &rtp, gst_buffer_get_size (buf));
    g_mutex_unlock (&self->lock);
  }
  vdm_peek_release (&peek);
}

static gboolean
observe_list_item (GstBuffer ** buf, guint idx, gpointer user_data)
{
  observe_buffer (user_data, *buf);
  return TRUE;
}

/* udpsrc's streaming thread, right after recvmsg: cheap, never blocks long. */
static GstPadProbeReturn
on_udpsrc_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstVdropmon *self = user_data;

  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER)
    observe_buffer (self, GST_PAD_PROBE_INFO_BUFFER (info));
  else if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    gst_buffer_list_foreach (GST_PAD_PROBE_INFO_BUFFER_LIST (info), observe_list_item, self);
  return GST_PAD_PROBE_OK;
}

static void
add_arrival_probe (GstVdropmon * self, GstElement * udpsrc, VdmWatch * watch)
{
  GstPad *pad = gst_element_get_static_pad (udpsrc, "src");

  if (!pad)
    return;
  /* The probe keeps the element alive; stop() removes it. */
  watch->probe_id = gst_pad_add_probe (pad,
      GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, on_udpsrc_buffer,
      gst_object_ref (self), gst_object_unref);
  watch->probed_pad = pad;
}

static void
remove_arrival_probe (VdmWatch * watch)
{
  if (watch->probed_pad) {
    gst_pad_remove_probe (watch->probed_pad, watch->probe_id);
    gst_clear_object (&watch->probed_pad);
  }
}

/* ------------------------------------------------------------------------ */
/* Watches.                                                                  */

static void
format_socket_flow (GSocket * socket, gchar * buf, gsize len)
{
  struct vdm_flow_key flow;

  if (vdm_flow_from_socket (g_socket_get_fd (socket), &flow) == 0)
    vdm_flow_format (&flow, buf, len);
  else
    g_strlcpy (buf, "unbound", len);
}

static void
add_watch (GstVdropmon * self, GSocket * socket, GstElement * udpsrc,
    const struct vdm_flow_key *flow)
{
  vdm_watch_spec spec = { .fd = socket ? g_socket_get_fd (socket) : -1 };
  VdmWatch watch = { 0 };
  int id = 0;

  if (flow)
    spec.flow = *flow;
  if (self->source)
    id = vdm_source_watch (self->source, self->subscription, &spec);
  if (id < 0)
    GST_WARNING_OBJECT (self, "kernel drops of this %s are not watched: %s",
        socket ? "socket" : "flow", g_strerror (-id));
  watch.watch_id = id > 0 ? (guint32) id : 0;
  watch.socket = socket ? g_object_ref (socket) : NULL;
  if (flow)
    vdm_flow_format (flow, watch.flow, sizeof (watch.flow));
  else
    format_socket_flow (socket, watch.flow, sizeof (watch.flow));
  if (udpsrc)
    add_arrival_probe (self, udpsrc, &watch);
  GST_INFO_OBJECT (self, "watching %s (watch id %u)", watch.flow, watch.watch_id);
  g_mutex_lock (&self->lock);
  g_array_append_val (self->watches, watch);
  if (watch.probed_pad)
    self->arrival_probed = TRUE;
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
retire_counters_locked (GstVdropmon * self, const VdmWatch * watch)
{
  guint slot;

  for (slot = 0; slot < VDM_REASON_SLOTS; slot++)
    self->retired.per_reason[slot] += watch->last_counters.per_reason[slot];
  self->retired.total += watch->last_counters.total;
  self->retired.ringbuf_lost += watch->last_counters.ringbuf_lost;
}

static gboolean
socket_in (GPtrArray * sockets, GSocket * socket)
{
  guint i;

  for (i = 0; i < sockets->len; i++)
    if (g_ptr_array_index (sockets, i) == socket)
      return TRUE;
  return FALSE;
}

/* Takes out the watches whose socket is no longer upstream (udpsrc closed,
 * rtspsrc reconnected) and returns them, for the caller to release. */
static GArray *
take_vanished_locked (GstVdropmon * self, GPtrArray * sockets)
{
  GArray *gone = g_array_new (FALSE, FALSE, sizeof (VdmWatch));
  guint i = 0;

  while (i < self->watches->len) {
    VdmWatch *w = &g_array_index (self->watches, VdmWatch, i);
    if (!w->socket || socket_in (sockets, w->socket)) {
      i++;
      continue;
    }
    GST_INFO_OBJECT (self, "no longer watching %s", w->flow);
    retire_counters_locked (self, w);
    g_array_append_val (gone, *w);
    g_array_remove_index (self->watches, i);
  }
  return gone;
}

static void
release_watch (GstVdropmon * self, VdmWatch * watch)
{
  remove_arrival_probe (watch);
  if (self->source && watch->watch_id)
    vdm_source_unwatch (self->source, self->subscription, watch->watch_id);
  g_clear_object (&watch->socket);
}

static gboolean
is_watched_locked (GstVdropmon * self, GSocket * socket)
{
  guint i;

  for (i = 0; i < self->watches->len; i++)
    if (g_array_index (self->watches, VdmWatch, i).socket == socket)
      return TRUE;
  return FALSE;
}

/* The open sockets of the udpsrc elements, in the same order. */
static GPtrArray *
sockets_of (GPtrArray * sources)
{
  GPtrArray *sockets = g_ptr_array_new_with_free_func (g_object_unref);
  guint i;

  for (i = 0; i < sources->len; i++) {
    GSocket *socket = NULL;
    g_object_get (g_ptr_array_index (sources, i), "used-socket", &socket, NULL);
    g_ptr_array_add (sockets, socket);  /* NULL until udpsrc has opened it */
  }
  return sockets;
}

void
vdm_watch_rescan (GstVdropmon * self)
{
  GPtrArray *sources = vdm_discover_upstream_udp_sources (GST_BASE_TRANSFORM_SINK_PAD (self));
  GPtrArray *sockets = sockets_of (sources);
  GArray *gone, *fresh = g_array_new (FALSE, FALSE, sizeof (guint));
  guint i;

  g_mutex_lock (&self->lock);
  gone = take_vanished_locked (self, sockets);
  for (i = 0; i < sockets->len; i++) {
    GSocket *socket = g_ptr_array_index (sockets, i);
    if (socket && !is_watched_locked (self, socket))
      g_array_append_val (fresh, i);
  }
  g_mutex_unlock (&self->lock);

  for (i = 0; i < gone->len; i++)
    release_watch (self, &g_array_index (gone, VdmWatch, i));
  for (i = 0; i < fresh->len; i++) {
    guint index = g_array_index (fresh, guint, i);
    add_watch (self, g_ptr_array_index (sockets, index), g_ptr_array_index (sources, index), NULL);
  }
  g_array_unref (gone);
  g_array_unref (fresh);
  g_ptr_array_unref (sockets);
  g_ptr_array_unref (sources);
}

gboolean
vdm_watch_manual_flows (GstVdropmon * self)
{
  struct vdm_flow_key flows[MAX_MANUAL_FLOWS];
  gchar *text, err[128] = "";
  int n, i;

  GST_OBJECT_LOCK (self);
  text = g_strdup (self->watch);
  GST_OBJECT_UNLOCK (self);
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
    add_watch (self, NULL, NULL, &flows[i]);
  g_free (text);
  return TRUE;
}

void
vdm_watch_release_all (GstVdropmon * self)
{
  GArray *watches;
  guint i;

  /* Keep what the watches counted: stats must not shrink after a stop. */
  vdm_refresh_kernel_counters (self);
  g_mutex_lock (&self->lock);
  for (i = 0; i < self->watches->len; i++)
    retire_counters_locked (self, &g_array_index (self->watches, VdmWatch, i));
  watches = self->watches;
  self->watches = g_array_new (FALSE, TRUE, sizeof (VdmWatch));
  self->arrival_probed = FALSE;
  g_mutex_unlock (&self->lock);
  for (i = 0; i < watches->len; i++)
    release_watch (self, &g_array_index (watches, VdmWatch, i));
  g_array_unref (watches);
}
