/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmon_arrivals.c — what the monitor learns from buffers: those that
 * pass the element (frame map, counters), those seen at arrival (gaps,
 * silence, jitter, runway) on the udpsrc source pads upstream as soon as
 * they leave the socket, and, when the element sits where the caps are no
 * longer RTP (after a depayloader), the nearest upstream RTP pad, so that
 * drops are placed on frames wherever the element is.
 *
 * Streaming threads: the RTP header parsed once per buffer, its facts
 * handed to the monitor through a feed (vdropmon_feed.c), no lock, no I/O.
 */
#include "gstvdropmon_priv.h"

#include <stdio.h>
#include <string.h>

#define GST_CAT_DEFAULT vdropmon_debug
/* How far upstream an RTP pad is looked for (pads, not elements). */
#define RTP_PAD_SEARCH_DEPTH 16

static guint32
buffer_size (GstBuffer * buf)
{
  return (guint32) MIN (gst_buffer_get_size (buf), G_MAXUINT32);
}

static void
fill_rtp (vdm_packet_record * r, const vdm_rtp_header * rtp, vdm_codec codec)
{
  r->ssrc = rtp->ssrc;
  r->seq = rtp->seq;
  r->rtp_ts = rtp->timestamp;
  r->payload_type = rtp->payload_type;
  r->flags |= VDM_PACKET_RTP | (rtp->marker ? VDM_PACKET_MARKER : 0)
      | (vdm_payload_is_keyframe (codec, rtp->payload, rtp->payload_len) ? VDM_PACKET_KEYFRAME :
      0);
}

/* The RTP facts of a buffer and its size into r; the buffer's memory is
 * unmapped again before the caller stamps or writes the record (the
 * unmap's atomic then does not wait for the ring's line). FALSE: not RTP. */
static gboolean
read_rtp (GstBuffer * buf, vdm_codec codec, vdm_packet_record * r)
{
  VdmPeek peek;
  vdm_rtp_header rtp;
  gboolean is_rtp;

  if (!vdm_peek_buffer (buf, &peek)) {
    r->size = buffer_size (buf);
    return FALSE;
  }
  is_rtp = vdm_rtp_parse (peek.data, peek.size, peek.complete, &rtp);
  if (is_rtp)
    fill_rtp (r, &rtp, codec);
  /* one memory: its size is the buffer's (no second walk of the memories) */
  r->size = peek.complete ? (guint32) MIN (peek.size, G_MAXUINT32) : buffer_size (buf);
  vdm_peek_release (&peek);
  return is_rtp;
}

/* ------------------------------------------------------------------------ */
/* Through the element.                                                      */

/* The streaming thread: the header parsed once, the facts into the
 * element's own feed, no lock (vdropmon_feed.c). */
void
vdm_arrivals_buffer_passed (GstVdropmon * self, GstBuffer * buf)
{
  VdmHot *hot = VDM_HOT (self);
  gint format = g_atomic_int_get (&hot->view.feed_format);
  vdm_packet_record r = {
    .pts = GST_BUFFER_PTS (buf),
    .flags = VDM_PACKET_PASSED,
  };

  /* `udpsrc ! vdropmon`: the probe recorded this very buffer as passed a
   * moment ago, on this thread. Taken back, so that a buffer reusing its
   * address after a relink is not mistaken for it. */
  if (g_atomic_pointer_get (&hot->passed_at_probe) == (gpointer) buf) {
    g_atomic_pointer_set (&hot->passed_at_probe, NULL);
    return;
  }
  if (VDM_FEED_FORMAT_IS_RTP (format)) {
    /* a stream among thousands finds the ring's next slot cold: ask for
     * it now, while the header is read and the clock asked */
    vdm_packet_ring_producer_prefetch ((vdm_packet_ring_producer *) hot->own_producer);
    if (read_rtp (buf, VDM_FEED_FORMAT_CODEC (format), &r)) {
      r.flags |= VDM_PACKET_FRAME;
      if (!g_atomic_int_get (&hot->arrival_probed))
        vdm_feed_stamp_arrival (self, &hot->view, &r);  /* we are the arrival point */
    }
  } else {
    r.size = buffer_size (buf);
    if (GST_BUFFER_PTS_IS_VALID (buf)) {
      /* live sources stamp buffers with their arrival running time */
      r.flags |= VDM_PACKET_FRAME;
      vdm_feed_stamp_arrival (self, &hot->view, &r);
    }
  }
  vdm_feed_push_own (self, &r);
}

/* "a-framesize=H264 1920-1080" (SDP) or "x-dimensions=1920,1080": the
 * resolution an RTP stream announces, when it does. */
static gint
height_from_caps (const GstStructure * s)
{
  const gchar *text;
  gint height = -1, width;

  if (gst_structure_get_int (s, "height", &height))
    return height;
  text = gst_structure_get_string (s, "a-framesize");
  if (text && (text = strchr (text, ' ')) && sscanf (text, " %d-%d", &width, &height) == 2)
    return height;
  text = gst_structure_get_string (s, "x-dimensions");
  if (text && sscanf (text, "%d,%d", &width, &height) == 2)
    return height;
  return -1;
}

void
vdm_arrivals_set_caps_locked (GstVdropmon * self, const GstStructure * s)
{
  gint clock_rate = 0;

  if (!gst_structure_has_name (s, "application/x-rtp")) {
    /* the codec and clock rate stay those of the RTP pad upstream, if any */
    vdm_stream_monitor_set_format (self->monitor, FALSE,
        vdm_stream_monitor_codec (self->monitor), 0, height_from_caps (s));
    vdm_feeds_publish_format_locked (self);
    return;
  }
  if (!gst_structure_get_int (s, "clock-rate", &clock_rate) || clock_rate < 0)
    clock_rate = 0;
  vdm_stream_monitor_set_format (self->monitor, TRUE,
      vdm_codec_from_encoding_name (gst_structure_get_string (s, "encoding-name")),
      (guint32) clock_rate, height_from_caps (s));
  vdm_feeds_publish_format_locked (self);
}

/* ------------------------------------------------------------------------ */
/* At udpsrc.                                                                */

/* single: the buffer goes on to the element's chain alone (not in a list,
 * whose buffers transform_ip sees only after the probe saw them all). */
static void
observe_arrival (VdmFeed * feed, GstBuffer * buf, gboolean single)
{
  GstVdropmon *self = vdm_feed_element (feed);
  /* the probes' copy: transform_ip's may be on another thread's core */
  gint format = g_atomic_int_get (&self->probe_view.feed_format);
  vdm_packet_record r = {.pts = GST_BUFFER_PTS (buf) };

  if (!read_rtp (buf, VDM_FEED_FORMAT_CODEC (format), &r))
    return;
  vdm_feed_stamp_arrival (self, &self->probe_view, &r);
  if (single && VDM_FEED_FORMAT_IS_RTP (format) && vdm_feed_is_direct (feed)) {
    /* nothing between us and the element: the buffer passes it next, with
     * this PTS and size; one record for both, one header read */
    r.flags |= VDM_PACKET_PASSED | VDM_PACKET_FRAME;
    /* direct: we are on transform_ip's thread, its line is ours too */
    g_atomic_pointer_set (&VDM_HOT (self)->passed_at_probe, buf);
  }
  vdm_feed_push (feed, &r);
}

static gboolean
observe_arrival_in_list (GstBuffer ** buf, guint idx, gpointer user_data)
{
  observe_arrival (user_data, *buf, FALSE);
  return TRUE;
}

/* udpsrc's streaming thread, right after recvmsg: no lock, never blocks. */
static GstPadProbeReturn
on_udpsrc_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  VdmFeed *feed = user_data;

  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER)
    observe_arrival (feed, GST_PAD_PROBE_INFO_BUFFER (info), TRUE);
  else if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    gst_buffer_list_foreach (GST_PAD_PROBE_INFO_BUFFER_LIST (info), observe_arrival_in_list,
        feed);
  return GST_PAD_PROBE_OK;
}

/* Whether @pad is linked straight to our sink pad: only then do its
 * buffers reach transform_ip as they leave it ("passed" at the probe). */
static gboolean
pad_links_straight_to_us (GstVdropmon * self, GstPad * pad)
{
  GstPad *peer = gst_pad_get_peer (GST_BASE_TRANSFORM_SINK_PAD (self));
  gboolean straight = pad && peer == pad;

  gst_clear_object (&peer);
  return straight;
}

/* Until the first udpsrc probe, transform_ip saw the arrivals, up to a
 * jitterbuffer's latency later than the probe will (rtspsrc): the monitor
 * forgets the sequence state it left, or the switch shows as a gap of that
 * many packets. From here on transform_ip leaves arrivals to the probes
 * (what it handed over before is drained first, as arrivals). */
void
vdm_arrivals_probe_udpsrc (GstVdropmon * self, GstElement * udpsrc, GSocket * socket,
    VdmWatch * watch)
{
  GstPad *pad = gst_element_get_static_pad (udpsrc, "src");
  gboolean direct = pad_links_straight_to_us (self, pad);

  if (!pad)
    return;
  g_mutex_lock (&self->lock);
  vdm_feeds_sync_locked (self);
  if (!VDM_HOT (self)->arrival_probed) {
    g_atomic_int_set (&VDM_HOT (self)->arrival_probed, TRUE);
    vdm_stream_monitor_arrivals_moved (self->monitor);
  }
  watch->feed = vdm_feeds_add_locked (self);
  vdm_feed_set_direct (watch->feed, direct);
  g_mutex_unlock (&self->lock);
  /* The probe's feed keeps the element alive; stop() removes it. */
  watch->probe_id = gst_pad_add_probe (pad,
      GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, on_udpsrc_buffer,
      vdm_feed_ref (watch->feed), vdm_feed_unref);
  watch->probed_pad = pad;
  watch->probed_socket = socket ? g_object_ref (socket) : NULL;
}

void
vdm_arrivals_unprobe (GstVdropmon * self, VdmWatch * watch)
{
  if (watch->probed_pad) {
    gst_pad_remove_probe (watch->probed_pad, watch->probe_id);
    gst_clear_object (&watch->probed_pad);
  }
  if (watch->feed && vdm_feed_is_direct (watch->feed)) {
    vdm_feed_set_direct (watch->feed, FALSE);
    g_atomic_pointer_set (&VDM_HOT (self)->passed_at_probe, NULL);
  }
  if (watch->feed) {
    g_mutex_lock (&self->lock);
    vdm_feeds_remove_locked (self, watch->feed);
    g_mutex_unlock (&self->lock);
    vdm_feed_unref (watch->feed);
    watch->feed = NULL;
  }
  g_clear_object (&watch->probed_socket);
}

/* A probe's records say "passed" only while its pad is linked straight to
 * our sink pad: a relink that puts an element between (a queue, a
 * jitterbuffer) ends that at the next rescan. */
void
vdm_arrivals_recheck_direct (GstVdropmon * self)
{
  /* Read outside self->lock: the peer takes the pad's object lock. */
  GstPad *peer = gst_pad_get_peer (GST_BASE_TRANSFORM_SINK_PAD (self));
  guint i;

  g_mutex_lock (&self->lock);
  for (i = 0; i < self->watches->len; i++) {
    VdmWatch *w = &g_array_index (self->watches, VdmWatch, i);
    gboolean direct = w->probed_pad && w->probed_pad == peer;
    if (w->feed && vdm_feed_is_direct (w->feed) != direct) {
      vdm_feed_set_direct (w->feed, direct);
      g_atomic_pointer_set (&VDM_HOT (self)->passed_at_probe, NULL);
    }
  }
  g_mutex_unlock (&self->lock);
  gst_clear_object (&peer);
}

/* Packets waiting in a probed socket were delivered by the network: a
 * silence at the probe is then the reading thread's delay (a loaded host),
 * not a stall. One FIONREAD per socket and tick (non-blocking; for UDP the
 * size of the next datagram, which is all that matters: any). */
static guint64
udp_unread_locked (GstVdropmon * self, gboolean * any_probed)
{
  guint64 unread = 0;
  guint i;

  for (i = 0; i < self->watches->len; i++) {
    GSocket *socket = g_array_index (self->watches, VdmWatch, i).probed_socket;
    gssize n = socket ? g_socket_get_available_bytes (socket) : -1;

    *any_probed |= socket != NULL;
    if (n > 0)
      unread += (guint64) n;
  }
  return unread;
}

/* The same for a stream fetched over TCP (HTTP-FLV through souphttpsrc,
 * RTSP interleaved, tcpclientsrc): bytes waiting in the connection's
 * receive queue, asked by the socket's identity (tcp_unread.h: one
 * sock_diag round trip per connection and tick, answered at once). Only
 * when no udpsrc is probed: then the TCP connection carries the stream;
 * beside a udpsrc it is RTSP's control connection and says nothing of the
 * media. A connection gone meanwhile says nothing (the next rescan
 * releases its watch). */
static guint64
tcp_unread_locked (GstVdropmon * self)
{
  guint64 unread = 0;
  guint i;

  for (i = 0; i < self->watches->len; i++) {
    const VdmWatch *w = &g_array_index (self->watches, VdmWatch, i);
    guint64 n = 0;

    if (w->tcp_known && vdm_tcp_unread_bytes (&w->tcp, &n) == 0)
      unread += n;
  }
  return unread;
}

void
vdm_arrivals_feed_backlog_locked (GstVdropmon * self, guint64 now_clock)
{
  gboolean any_probed = FALSE;
  guint64 unread = udp_unread_locked (self, &any_probed);

  if (!any_probed)
    unread += tcp_unread_locked (self);
  vdm_stream_monitor_socket_backlog (self->monitor, unread, now_clock);
}

/* ------------------------------------------------------------------------ */
/* The nearest RTP pad upstream (placement independence).                    */

/* Frames only: arrivals stay where they are (udpsrc, or our own buffers
 * as media), or the runway would see two media clocks. */
static void
observe_rtp_upstream (VdmFeed * feed, GstBuffer * buf)
{
  vdm_packet_record r = {
    .pts = GST_BUFFER_PTS (buf),
    .flags = VDM_PACKET_FRAME,
  };

  if (read_rtp (buf, vdm_feed_codec (feed), &r))
    vdm_feed_push (feed, &r);
}

static gboolean
observe_rtp_in_list (GstBuffer ** buf, guint idx, gpointer user_data)
{
  observe_rtp_upstream (user_data, *buf);
  return TRUE;
}

static GstPadProbeReturn
on_rtp_pad_data (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  VdmFeed *feed = user_data;
  GstVdropmon *self = vdm_feed_element (feed);
  GstEvent *event;

  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    observe_rtp_upstream (feed, GST_PAD_PROBE_INFO_BUFFER (info));
  } else if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    gst_buffer_list_foreach (GST_PAD_PROBE_INFO_BUFFER_LIST (info), observe_rtp_in_list, feed);
  } else if ((event = GST_PAD_PROBE_INFO_EVENT (info)) && GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
    GstCaps *caps;
    gst_event_parse_caps (event, &caps);
    g_mutex_lock (&self->lock);
    vdm_feeds_sync_locked (self);
    if (!vdm_stream_monitor_is_rtp (self->monitor))
      vdm_arrivals_set_upstream_caps_locked (self, gst_caps_get_structure (caps, 0));
    g_mutex_unlock (&self->lock);
  }
  return GST_PAD_PROBE_OK;
}

static gboolean
pad_is_rtp (GstPad * pad)
{
  GstCaps *caps = gst_pad_get_current_caps (pad);
  gboolean rtp = caps && gst_caps_get_size (caps) > 0
      && gst_structure_has_name (gst_caps_get_structure (caps, 0), "application/x-rtp");

  gst_clear_caps (&caps);
  return rtp;
}

/* The next pad upstream of a src pad: into a bin through its ghost pad,
 * out of a bin through the ghost sink pad's internal pad, else the first
 * sink pad of the element (if it carries RTP) or that pad's peer. */
static GstPad *
next_upstream (GstPad * pad)
{
  GstObject *parent;
  GstPad *next = NULL;

  if (GST_IS_GHOST_PAD (pad))
    return gst_ghost_pad_get_target (GST_GHOST_PAD (pad));
  parent = gst_pad_get_parent (pad);
  if (parent && GST_IS_GHOST_PAD (parent)) {
    next = gst_pad_get_peer (GST_PAD (parent));
  } else if (parent && GST_IS_ELEMENT (parent)) {
    GstIterator *it = gst_element_iterate_sink_pads (GST_ELEMENT (parent));
    GValue item = G_VALUE_INIT;
    if (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
      GstPad *sink = g_value_get_object (&item);
      next = pad_is_rtp (sink) ? gst_object_ref (sink) : gst_pad_get_peer (sink);
      g_value_unset (&item);
    }
    gst_iterator_free (it);
  }
  gst_clear_object (&parent);
  return next;
}

/* The first pad carrying RTP upstream of sinkpad (one path: the first sink
 * pad of each element), or NULL. */
static GstPad *
find_rtp_pad_upstream (GstPad * sinkpad)
{
  GstPad *pad = gst_pad_get_peer (sinkpad);
  guint depth;

  for (depth = 0; pad && depth < RTP_PAD_SEARCH_DEPTH; depth++) {
    GstPad *next;

    GST_LOG ("looking for RTP at %" GST_PTR_FORMAT, pad);
    if (pad_is_rtp (pad))
      return pad;
    next = next_upstream (pad);
    gst_object_unref (pad);
    pad = next;
  }
  gst_clear_object (&pad);
  return NULL;
}

void
vdm_arrivals_set_upstream_caps_locked (GstVdropmon * self, const GstStructure * s)
{
  gint clock_rate = 0;

  if (!gst_structure_get_int (s, "clock-rate", &clock_rate) || clock_rate < 0)
    clock_rate = 0;
  vdm_stream_monitor_set_format (self->monitor, FALSE,
      vdm_codec_from_encoding_name (gst_structure_get_string (s, "encoding-name")),
      (guint32) clock_rate, height_from_caps (s));
  vdm_feeds_publish_format_locked (self);
}

/* When our caps are not RTP and no RTP pad is probed yet, probe the
 * nearest one upstream: at set_caps (streaming thread: the first frames
 * are not missed) and at every rescan (pads linked later). */
void
vdm_arrivals_find_rtp_pad (GstVdropmon * self)
{
  GstPad *sinkpad = GST_BASE_TRANSFORM_SINK_PAD (self), *pad;
  GstCaps *caps;
  gboolean wanted;
  VdmFeed *feed;

  g_mutex_lock (&self->lock);
  /* our caps known, not RTP, and no RTP pad yet */
  wanted = self->have_caps && !vdm_stream_monitor_is_rtp (self->monitor) && !self->rtp_pad;
  g_mutex_unlock (&self->lock);
  if (!wanted || !(pad = find_rtp_pad_upstream (sinkpad)))
    return;
  caps = gst_pad_get_current_caps (pad);
  g_mutex_lock (&self->lock);
  if (caps)
    vdm_arrivals_set_upstream_caps_locked (self, gst_caps_get_structure (caps, 0));
  self->rtp_pad = pad;
  feed = self->rtp_feed = vdm_feeds_add_locked (self);
  g_mutex_unlock (&self->lock);
  gst_clear_caps (&caps);
  GST_INFO_OBJECT (self, "frames and codec from the RTP pad %" GST_PTR_FORMAT, pad);
  /* the probe's feed keeps the element alive */
  self->rtp_probe_id = gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER
      | GST_PAD_PROBE_TYPE_BUFFER_LIST | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_rtp_pad_data,
      vdm_feed_ref (feed), vdm_feed_unref);
}

void
vdm_arrivals_release_rtp_pad (GstVdropmon * self)
{
  GstPad *pad;
  VdmFeed *feed;

  g_mutex_lock (&self->lock);
  pad = self->rtp_pad;
  self->rtp_pad = NULL;
  g_mutex_unlock (&self->lock);
  if (pad) {
    gst_pad_remove_probe (pad, self->rtp_probe_id);
    gst_object_unref (pad);
  }
  g_mutex_lock (&self->lock);
  feed = self->rtp_feed;
  self->rtp_feed = NULL;
  if (feed)
    vdm_feeds_remove_locked (self, feed);
  g_mutex_unlock (&self->lock);
  if (feed)
    vdm_feed_unref (feed);
}
