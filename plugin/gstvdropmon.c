/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-vdropmon
 * @title: vdropmon
 *
 * vdropmon watches the sockets that feed it and tells, through element
 * messages on the bus, which packets of this very stream the kernel dropped,
 * why (the kernel's drop reason), and which frames they belonged to — within
 * a few milliseconds of the drop, long before a jitterbuffer declares the
 * packets lost.
 *
 * It learns of drops through an eBPF program on the skb:kfree_skb tracepoint
 * that it loads itself (the embedded collector; needs root or CAP_BPF +
 * CAP_PERFMON and a kernel with BTF). Without eBPF it passes buffers through,
 * posts one warning saying why, and reports the RTP sequence gaps it sees.
 *
 * The element is a passthrough: it never copies, delays or drops a buffer.
 * It finds the udpsrc elements upstream of it by itself (also those rtspsrc
 * creates later); #GstVdropmon:watch names more flows by hand.
 *
 * Messages (all GST_MESSAGE_ELEMENT, fields in docs/messages.md):
 *
 * * `vdropmon-drop`: a batch of drops of one reason and stream, posted within
 *   #GstVdropmon:batch-interval of the first drop in it.
 * * `vdropmon-stats`: counters, every #GstVdropmon:interval when
 *   #GstVdropmon:post-messages is %TRUE.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m udpsrc port=5004 buffer-size=16384 \
 *   caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96" \
 *   ! vdropmon ! rtpjitterbuffer ! rtph264depay ! h264parse ! avdec_h264 ! fakesink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstvdropmon.h"

#include <string.h>
#include <time.h>

#include "clock_map.h"
#include "drop_batcher.h"
#include "event_source.h"
#include "flow_spec.h"
#include "frame_map.h"
#include "rtp_parse.h"
#include "seq_tracker.h"
#include "socket_discovery.h"
#include "socket_flow.h"
#include "vdropmon_messages.h"

GST_DEBUG_CATEGORY (vdropmon_debug);
#define GST_CAT_DEFAULT vdropmon_debug

#define DEFAULT_COLLECTOR GST_VDROPMON_COLLECTOR_AUTO
#define DEFAULT_AUTO_DISCOVER TRUE
#define DEFAULT_BATCH_INTERVAL (20 * GST_MSECOND)
#define DEFAULT_POST_MESSAGES TRUE
#define DEFAULT_INTERVAL GST_SECOND
#define RESCAN_PERIOD (500 * GST_MSECOND)
#define FRAME_MAP_CAPACITY 512
#define MAX_MANUAL_FLOWS 32

enum
{
  PROP_0,
  PROP_COLLECTOR,
  PROP_WATCH,
  PROP_AUTO_DISCOVER,
  PROP_BATCH_INTERVAL,
  PROP_POST_MESSAGES,
  PROP_INTERVAL,
  PROP_STATS,
};

/* One socket or flow this element asked the event source to watch. */
typedef struct
{
  guint32 watch_id;
  GSocket *socket;              /* NULL for a flow named by hand */
  gchar flow[VDM_FLOW_STRING_MAX];
  vdm_counters last_counters;   /* kept when the watch goes, so totals never shrink */
  guint64 events_lost_reported;
} VdmWatch;

struct _GstVdropmon
{
  GstBaseTransform parent;

  /* Properties, under the object lock. */
  GstVdropmonCollector collector_mode;
  gchar *watch;
  gboolean auto_discover;
  GstClockTime batch_interval;
  gboolean post_messages;
  GstClockTime interval;

  /* Everything below is under `lock`. The streaming thread holds it only
   * to record what passed; the collector thread to queue a drop. Never call
   * the event source while holding it: the source holds its own lock while
   * calling us. */
  GMutex lock;
  GCond cond;
  GThread *worker;
  gboolean worker_stop;
  gboolean wake;
  gboolean rescan_requested;
  guint64 next_rescan_ns, next_stats_ns;

  gboolean is_rtp;
  vdm_codec codec;
  vdm_frame_map *frames;
  vdm_seq_tracker *seqs;
  vdm_clock_map clock_map;
  vdm_drop_batcher *batcher;
  GArray *ready_reports;        /* VdmDropReport, filled by the batcher */
  guint64 buffers;
  guint64 rtp_packets;
  guint64 drop_messages;
  gdouble queue_fill_peak;

  GArray *watches;              /* VdmWatch */
  vdm_counters retired;         /* counters of watches that went away */

  /* Set in start(), cleared in stop(); read by the worker without lock. */
  vdm_source *source;
  vdm_subscription *subscription;
  gchar *collector_status;
  gboolean warned_no_bpf;
};

#define gst_vdropmon_parent_class parent_class
G_DEFINE_TYPE (GstVdropmon, gst_vdropmon, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (vdropmon, "vdropmon", GST_RANK_NONE, GST_TYPE_VDROPMON,
    GST_DEBUG_CATEGORY_INIT (vdropmon_debug, "vdropmon", 0, "kernel packet-drop monitor"));

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

GType
gst_vdropmon_collector_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_VDROPMON_COLLECTOR_AUTO, "Load eBPF if allowed, else warn and use userspace signals",
        "auto"},
    {GST_VDROPMON_COLLECTOR_EMBEDDED, "Load eBPF in this process or fail to start", "embedded"},
    {GST_VDROPMON_COLLECTOR_NONE, "Userspace signals only (RTP sequence gaps)", "none"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVdropmonCollector", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static guint64
monotonic_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * GST_SECOND + (guint64) ts.tv_nsec;
}

/* ------------------------------------------------------------------------ */
/* Drops: from the source (or the sequence tracker) into the batcher.       */

static vdm_drop_source
drop_source_of_protocol (guint8 protocol)
{
  if (protocol == 17)
    return VDM_DROP_SOURCE_KERNEL_UDP;
  if (protocol == 6)
    return VDM_DROP_SOURCE_KERNEL_TCP;
  return VDM_DROP_SOURCE_KERNEL_OTHER;
}

static void
add_drop_locked (GstVdropmon * self, const vdm_drop_record * record)
{
  guint64 before = vdm_drop_batcher_next_deadline (self->batcher);

  vdm_drop_batcher_add (self->batcher, record, monotonic_ns ());
  /* Only an earlier deadline changes when the worker must wake. */
  if (vdm_drop_batcher_next_deadline (self->batcher) < before) {
    self->wake = TRUE;
    g_cond_signal (&self->cond);
  }
}

/* Collector thread. */
static void
on_kernel_drop (void *user_data, const vdm_drop * drop)
{
  GstVdropmon *self = user_data;
  vdm_rtp_header rtp;
  vdm_drop_record record = {
    .source = drop_source_of_protocol (drop->flow.protocol),
    .watch_id = drop->watch_id,
    .reason = drop->reason,
    .reason_name = drop->reason_name,
    .time_ns = drop->ktime_ns,
    .count = 1,
    .attribution = (guint8) drop->attributed_by,
  };

  g_mutex_lock (&self->lock);
  if (drop->flow.protocol == 17 && vdm_rtp_parse (drop->payload, drop->payload_len, false, &rtp)) {
    record.has_rtp = true;
    record.ssrc = rtp.ssrc;
    record.rtp_seq = rtp.seq;
    record.rtp_ts = rtp.timestamp;
    record.payload_type = rtp.payload_type;
    record.keyframe_packet = vdm_payload_is_keyframe (self->codec, rtp.payload, rtp.payload_len);
  }
  add_drop_locked (self, &record);
  g_mutex_unlock (&self->lock);
}

static const VdmWatch *
find_watch_locked (GstVdropmon * self, guint32 watch_id)
{
  guint i;

  for (i = 0; i < self->watches->len; i++) {
    const VdmWatch *w = &g_array_index (self->watches, VdmWatch, i);
    if (w->watch_id == watch_id)
      return w;
  }
  return NULL;
}

static void
place_rtp_batch_locked (GstVdropmon * self, VdmDropReport * report)
{
  const vdm_drop_batch *b = &report->batch;
  guint i;

  for (i = 0; i < b->n_frames; i++) {
    vdm_frame_info info;
    if (!vdm_frame_map_lookup_rtp (self->frames, b->ssrc, b->rtp_ts[i], &info))
      continue;
    report->keyframe |= info.keyframe;
    if (info.pts == VDM_TIME_NONE)
      continue;
    if (report->pts_first == GST_CLOCK_TIME_NONE || info.pts < report->pts_first)
      report->pts_first = info.pts;
    if (report->pts_last == GST_CLOCK_TIME_NONE || info.pts > report->pts_last)
      report->pts_last = info.pts;
  }
}

/* Batcher callback, under lock (worker thread, or a thread adding a drop
 * when too many batches are open): place the batch on the timeline now,
 * while the frame map still remembers its frames. */
static void
on_batch_ready (const vdm_drop_batch * batch, void *user_data)
{
  GstVdropmon *self = user_data;
  VdmDropReport report = { 0 };
  const VdmWatch *watch = find_watch_locked (self, batch->watch_id);

  report.batch = *batch;
  report.running_time = vdm_clock_map_running_time (&self->clock_map, batch->first_time_ns);
  report.pts_first = report.pts_last = GST_CLOCK_TIME_NONE;
  report.keyframe = batch->keyframe;
  if (batch->has_rtp) {
    place_rtp_batch_locked (self, &report);
  } else {
    report.pts_first = vdm_frame_map_lookup_arrival (self->frames, report.running_time);
    report.pts_last = vdm_frame_map_lookup_arrival (self->frames,
        vdm_clock_map_running_time (&self->clock_map, batch->last_time_ns));
  }
  g_strlcpy (report.flow, watch ? watch->flow : "", sizeof (report.flow));
  g_array_append_val (self->ready_reports, report);
}

/* ------------------------------------------------------------------------ */
/* Streaming thread: learn from what passes. Short, under lock, no I/O.     */

static void
observe_rtp_locked (GstVdropmon * self, GstBuffer * buf, const guint8 * data, gsize size)
{
  vdm_rtp_header rtp;
  vdm_seq_gap gap;

  if (!vdm_rtp_parse (data, size, true, &rtp))
    return;
  self->rtp_packets++;
  vdm_frame_map_observe_rtp (self->frames, rtp.ssrc, rtp.timestamp, GST_BUFFER_PTS (buf),
      vdm_payload_is_keyframe (self->codec, rtp.payload, rtp.payload_len));
  if (!vdm_seq_tracker_push (self->seqs, rtp.ssrc, rtp.seq, &gap) || self->source)
    return;
  /* Without the kernel's view, a gap at arrival is the best drop signal. */
  {
    vdm_drop_record record = {
      .source = VDM_DROP_SOURCE_RTP_GAP,
      .reason_name = "RTP_SEQ_GAP",
      .time_ns = monotonic_ns (),
      .count = gap.count,
      .has_rtp = true,
      .ssrc = gap.ssrc,
      .rtp_seq = gap.first_missing,
      .rtp_ts = rtp.timestamp,
      .payload_type = rtp.payload_type,
    };
    add_drop_locked (self, &record);
  }
}

static GstClockTime
arrival_running_time (GstVdropmon * self, GstBuffer * buf)
{
  /* Live sources stamp buffers with their arrival running time. */
  return GST_BUFFER_PTS (buf);
}

static GstFlowReturn
gst_vdropmon_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstVdropmon *self = GST_VDROPMON (trans);
  GstMapInfo map;

  g_mutex_lock (&self->lock);
  self->buffers++;
  if (self->is_rtp) {
    if (gst_buffer_map (buf, &map, GST_MAP_READ)) {
      observe_rtp_locked (self, buf, map.data, map.size);
      gst_buffer_unmap (buf, &map);
    }
  } else if (GST_BUFFER_PTS_IS_VALID (buf)) {
    vdm_frame_map_observe_arrival (self->frames, arrival_running_time (self, buf),
        GST_BUFFER_PTS (buf));
  }
  g_mutex_unlock (&self->lock);
  return GST_FLOW_OK;
}

static gboolean
gst_vdropmon_set_caps (GstBaseTransform * trans, GstCaps * incaps, GstCaps * outcaps)
{
  GstVdropmon *self = GST_VDROPMON (trans);
  const GstStructure *s = gst_caps_get_structure (incaps, 0);
  gint clock_rate = 0;

  g_mutex_lock (&self->lock);
  self->is_rtp = gst_structure_has_name (s, "application/x-rtp");
  self->codec = vdm_codec_from_encoding_name (gst_structure_get_string (s, "encoding-name"));
  if (gst_structure_get_int (s, "clock-rate", &clock_rate) && clock_rate > 0)
    vdm_frame_map_set_clock_rate (self->frames, (uint32_t) clock_rate);
  g_mutex_unlock (&self->lock);
  GST_DEBUG_OBJECT (self, "caps %" GST_PTR_FORMAT ": rtp %d", incaps, self->is_rtp);
  return TRUE;
}

static void
request_rescan (GstVdropmon * self)
{
  g_mutex_lock (&self->lock);
  self->rescan_requested = TRUE;
  self->wake = TRUE;
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
}

static gboolean
gst_vdropmon_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstVdropmon *self = GST_VDROPMON (trans);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_STREAM_START:
      request_rescan (self);
      break;
    case GST_EVENT_FLUSH_STOP:
      /* Timestamps restart after a flushing seek: forget the old mapping. */
      g_mutex_lock (&self->lock);
      vdm_frame_map_reset (self->frames);
      vdm_seq_tracker_reset (self->seqs);
      g_mutex_unlock (&self->lock);
      break;
    case GST_EVENT_EOS:
      g_mutex_lock (&self->lock);
      vdm_drop_batcher_flush_all (self->batcher);
      self->wake = TRUE;
      g_cond_signal (&self->cond);
      g_mutex_unlock (&self->lock);
      break;
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

/* ------------------------------------------------------------------------ */
/* Watches: which sockets and flows the event source looks at for us.       */

static void
add_watch (GstVdropmon * self, GSocket * socket, const struct vdm_flow_key *flow)
{
  vdm_watch_spec spec = { .fd = socket ? g_socket_get_fd (socket) : -1 };
  VdmWatch watch = { 0 };
  int id;

  if (flow)
    spec.flow = *flow;
  id = self->source ? vdm_source_watch (self->source, self->subscription, &spec) : 0;
  if (id < 0) {
    GST_WARNING_OBJECT (self, "cannot watch %s: %s", socket ? "socket" : "flow", g_strerror (-id));
    return;
  }
  watch.watch_id = (guint32) id;
  watch.socket = socket ? g_object_ref (socket) : NULL;
  if (flow) {
    vdm_flow_format (flow, watch.flow, sizeof (watch.flow));
  } else {
    struct vdm_flow_key local;
    if (vdm_flow_from_socket (spec.fd, &local) == 0)
      vdm_flow_format (&local, watch.flow, sizeof (watch.flow));
  }
  GST_INFO_OBJECT (self, "watching %s (watch id %u)", watch.flow, watch.watch_id);
  g_mutex_lock (&self->lock);
  g_array_append_val (self->watches, watch);
  g_mutex_unlock (&self->lock);
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

/* Drops watches whose socket is no longer upstream (udpsrc closed, rtspsrc
 * reconnected). Returns the ids to unwatch. */
static GArray *
remove_vanished_locked (GstVdropmon * self, GPtrArray * sockets)
{
  GArray *gone = g_array_new (FALSE, FALSE, sizeof (guint32));
  guint i = 0;

  while (i < self->watches->len) {
    VdmWatch *w = &g_array_index (self->watches, VdmWatch, i);
    if (!w->socket || socket_in (sockets, w->socket)) {
      i++;
      continue;
    }
    GST_INFO_OBJECT (self, "no longer watching %s", w->flow);
    retire_counters_locked (self, w);
    if (w->watch_id)
      g_array_append_val (gone, w->watch_id);
    g_object_unref (w->socket);
    g_array_remove_index (self->watches, i);
  }
  return gone;
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

static void
rescan_sockets (GstVdropmon * self)
{
  GstPad *sinkpad = GST_BASE_TRANSFORM_SINK_PAD (self);
  GPtrArray *sockets = vdm_discover_upstream_sockets (sinkpad);
  GPtrArray *fresh = g_ptr_array_new ();
  GArray *gone;
  guint i;

  g_mutex_lock (&self->lock);
  gone = remove_vanished_locked (self, sockets);
  for (i = 0; i < sockets->len; i++) {
    GSocket *socket = g_ptr_array_index (sockets, i);
    if (!is_watched_locked (self, socket))
      g_ptr_array_add (fresh, socket);
  }
  g_mutex_unlock (&self->lock);

  for (i = 0; self->source && i < gone->len; i++)
    vdm_source_unwatch (self->source, self->subscription, g_array_index (gone, guint32, i));
  for (i = 0; i < fresh->len; i++)
    add_watch (self, g_ptr_array_index (fresh, i), NULL);
  g_array_unref (gone);
  g_ptr_array_unref (fresh);
  g_ptr_array_unref (sockets);
}

static gboolean
watch_manual_flows (GstVdropmon * self)
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
    add_watch (self, NULL, &flows[i]);
  g_free (text);
  return TRUE;
}

static void
release_watches (GstVdropmon * self)
{
  GArray *watches;
  guint i;

  g_mutex_lock (&self->lock);
  watches = self->watches;
  self->watches = g_array_new (FALSE, TRUE, sizeof (VdmWatch));
  g_mutex_unlock (&self->lock);
  for (i = 0; i < watches->len; i++) {
    VdmWatch *w = &g_array_index (watches, VdmWatch, i);
    if (self->source && w->watch_id)
      vdm_source_unwatch (self->source, self->subscription, w->watch_id);
    g_clear_object (&w->socket);
  }
  g_array_unref (watches);
}

/* ------------------------------------------------------------------------ */
/* Worker thread: closes batches, posts messages, rescans, keeps stats.     */

static void
refresh_clock_map_locked (GstVdropmon * self)
{
  GstClock *clock = gst_element_get_clock (GST_ELEMENT (self));
  guint64 before, after;
  GstClockTime now;

  if (!clock) {
    self->clock_map.valid = false;
    return;
  }
  before = monotonic_ns ();
  now = gst_clock_get_time (clock);
  after = monotonic_ns ();
  vdm_clock_map_update (&self->clock_map, before + (after - before) / 2, now,
      gst_element_get_base_time (GST_ELEMENT (self)));
  gst_object_unref (clock);
}

/* Counters of a watch since the last call; remembered for totals. */
static guint64
refresh_events_lost (GstVdropmon * self, guint32 watch_id)
{
  vdm_counters counters;
  guint64 delta = 0;
  guint i;

  if (!self->source || vdm_source_counters (self->source, watch_id, &counters) < 0)
    return 0;
  g_mutex_lock (&self->lock);
  for (i = 0; i < self->watches->len; i++) {
    VdmWatch *w = &g_array_index (self->watches, VdmWatch, i);
    if (w->watch_id != watch_id)
      continue;
    w->last_counters = counters;
    delta = counters.ringbuf_lost - w->events_lost_reported;
    w->events_lost_reported = counters.ringbuf_lost;
  }
  g_mutex_unlock (&self->lock);
  return delta;
}

static void
post_reports (GstVdropmon * self, GArray * reports)
{
  guint i;

  for (i = 0; i < reports->len; i++) {
    VdmDropReport *report = &g_array_index (reports, VdmDropReport, i);
    GstStructure *s;

    if (report->batch.source != VDM_DROP_SOURCE_RTP_GAP)
      report->events_lost = refresh_events_lost (self, report->batch.watch_id);
    s = vdm_drop_report_to_structure (report);
    GST_DEBUG_OBJECT (self, "%" GST_PTR_FORMAT, s);
    gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
    g_mutex_lock (&self->lock);
    self->drop_messages++;
    g_mutex_unlock (&self->lock);
  }
}

/* Reads every watch's kernel counters and queue peak (event-source calls,
 * so without our lock), then stores them. */
static void
refresh_kernel_counters (GstVdropmon * self)
{
  GArray *ids;
  guint i;
  int peak = -1;

  if (!self->source)
    return;
  ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_mutex_lock (&self->lock);
  for (i = 0; i < self->watches->len; i++)
    g_array_append_val (ids, g_array_index (self->watches, VdmWatch, i).watch_id);
  g_mutex_unlock (&self->lock);
  for (i = 0; i < ids->len; i++) {
    guint32 id = g_array_index (ids, guint32, i);
    int p = vdm_source_queue_peak (self->source, id);
    peak = MAX (peak, p);
    refresh_events_lost (self, id);
  }
  g_mutex_lock (&self->lock);
  self->queue_fill_peak = peak < 0 ? -1.0 : peak / 1000.0;
  g_mutex_unlock (&self->lock);
  g_array_unref (ids);
}

static void
add_counters (VdmStatsSnapshot * snap, const vdm_counters * c)
{
  guint slot;

  for (slot = 0; slot < VDM_REASON_SLOTS; slot++)
    snap->per_reason[slot] += c->per_reason[slot];
  snap->kernel_drops += c->total;
  snap->events_lost += c->ringbuf_lost;
}

static GstStructure *
build_stats (GstVdropmon * self, const gchar * name)
{
  VdmStatsSnapshot snap = { 0 };
  vdm_seq_stats seq;
  GstStructure *s;
  guint i;

  snap.flows = g_ptr_array_new_with_free_func (g_free);
  g_mutex_lock (&self->lock);
  snap.collector = self->source ? "embedded" : "none";
  snap.collector_status = self->collector_status ? self->collector_status : "disabled";
  add_counters (&snap, &self->retired);
  for (i = 0; i < self->watches->len; i++) {
    const VdmWatch *w = &g_array_index (self->watches, VdmWatch, i);
    g_ptr_array_add (snap.flows, g_strdup (w->flow));
    add_counters (&snap, &w->last_counters);
  }
  for (i = 0; self->source && i < VDM_REASON_SLOTS; i++)
    snap.reason_names[i] = snap.per_reason[i] ? vdm_source_reason_name (self->source, i) : NULL;
  vdm_seq_tracker_stats (self->seqs, &seq);
  snap.buffers = self->buffers;
  snap.rtp_packets = self->rtp_packets;
  snap.rtp_lost = seq.lost;
  snap.rtp_reordered = seq.reordered;
  snap.rtp_duplicates = seq.duplicates;
  snap.queue_fill_peak = self->queue_fill_peak;
  snap.drop_messages = self->drop_messages;
  s = vdm_stats_to_structure (&snap, name);
  g_mutex_unlock (&self->lock);
  g_ptr_array_unref (snap.flows);
  return s;
}

static void
post_stats (GstVdropmon * self)
{
  gboolean post;

  refresh_kernel_counters (self);
  GST_OBJECT_LOCK (self);
  post = self->post_messages;
  GST_OBJECT_UNLOCK (self);
  if (post)
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_element (GST_OBJECT (self), build_stats (self, VDM_STATS_MESSAGE)));
}

static guint64
next_wakeup_locked (GstVdropmon * self)
{
  guint64 wake = MIN (self->next_rescan_ns, self->next_stats_ns);
  return MIN (wake, vdm_drop_batcher_next_deadline (self->batcher));
}

static GstClockTime
get_interval (GstVdropmon * self)
{
  GstClockTime interval;

  GST_OBJECT_LOCK (self);
  interval = self->interval;
  GST_OBJECT_UNLOCK (self);
  return interval;
}

static gboolean
get_auto_discover (GstVdropmon * self)
{
  gboolean auto_discover;

  GST_OBJECT_LOCK (self);
  auto_discover = self->auto_discover;
  GST_OBJECT_UNLOCK (self);
  return auto_discover;
}

/* One round of the worker, entered and left with the lock held. */
static void
worker_round_locked (GstVdropmon * self, gboolean final)
{
  guint64 now = monotonic_ns ();
  gboolean rescan, stats;
  GArray *reports;

  refresh_clock_map_locked (self);
  if (final)
    vdm_drop_batcher_flush_all (self->batcher);
  else
    vdm_drop_batcher_flush_due (self->batcher, now);
  reports = self->ready_reports;
  self->ready_reports = g_array_new (FALSE, TRUE, sizeof (VdmDropReport));
  rescan = !final && (self->rescan_requested || now >= self->next_rescan_ns);
  stats = !final && now >= self->next_stats_ns;
  if (rescan) {
    self->rescan_requested = FALSE;
    self->next_rescan_ns = now + RESCAN_PERIOD;
  }
  g_mutex_unlock (&self->lock);

  post_reports (self, reports);
  g_array_unref (reports);
  if (rescan && get_auto_discover (self))
    rescan_sockets (self);
  if (stats) {
    post_stats (self);
    now = monotonic_ns ();
  }
  g_mutex_lock (&self->lock);
  if (stats)
    self->next_stats_ns = now + get_interval (self);
}

static gpointer
worker_main (gpointer data)
{
  GstVdropmon *self = data;

  g_mutex_lock (&self->lock);
  while (!self->worker_stop) {
    worker_round_locked (self, FALSE);
    while (!self->wake && !self->worker_stop) {
      guint64 wake_ns = next_wakeup_locked (self);
      if (!g_cond_wait_until (&self->cond, &self->lock, (gint64) (wake_ns / 1000)))
        break;                  /* deadline reached */
    }
    self->wake = FALSE;
  }
  worker_round_locked (self, TRUE);
  g_mutex_unlock (&self->lock);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Start/stop: open the event source, start the worker.                     */

static void
set_collector_status (GstVdropmon * self, const gchar * status)
{
  g_mutex_lock (&self->lock);
  g_free (self->collector_status);
  self->collector_status = g_strdup (status);
  g_mutex_unlock (&self->lock);
}

static gboolean
open_collector (GstVdropmon * self, GstVdropmonCollector mode)
{
  static const vdm_consumer consumer = { .on_drop = on_kernel_drop };
  char *error = NULL;
  gchar *status;

  if (mode == GST_VDROPMON_COLLECTOR_NONE) {
    set_collector_status (self, "disabled");
    return TRUE;
  }
  self->source = vdm_source_open_embedded (&error);
  if (self->source)
    self->subscription = vdm_source_subscribe (self->source, &consumer, self);
  if (self->source && self->subscription) {
    set_collector_status (self, "running");
    return TRUE;
  }
  g_clear_pointer (&self->source, vdm_source_unref);
  status = g_strdup_printf ("unavailable: %s", error ? error : "out of memory");
  set_collector_status (self, status);
  if (mode == GST_VDROPMON_COLLECTOR_EMBEDDED) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Cannot load the eBPF collector"), ("%s", status));
  } else if (!self->warned_no_bpf) {
    GST_ELEMENT_WARNING (self, RESOURCE, OPEN_READ,
        ("Kernel drop monitoring is off; only RTP sequence gaps will be reported"), ("%s", status));
    self->warned_no_bpf = TRUE;
  }
  g_free (status);
  free (error);
  return mode != GST_VDROPMON_COLLECTOR_EMBEDDED;
}

static void
reset_stream_state_locked (GstVdropmon * self)
{
  vdm_frame_map_reset (self->frames);
  vdm_seq_tracker_reset (self->seqs);
  vdm_clock_map_init (&self->clock_map);
  memset (&self->retired, 0, sizeof (self->retired));
  self->buffers = self->rtp_packets = self->drop_messages = 0;
  self->queue_fill_peak = -1.0;
  self->worker_stop = self->wake = FALSE;
  self->rescan_requested = TRUE;
  self->next_rescan_ns = self->next_stats_ns = monotonic_ns ();
}

static gboolean
gst_vdropmon_start (GstBaseTransform * trans)
{
  GstVdropmon *self = GST_VDROPMON (trans);
  GstVdropmonCollector mode;
  GstClockTime batch_interval, interval;

  GST_OBJECT_LOCK (self);
  mode = self->collector_mode;
  batch_interval = self->batch_interval;
  interval = self->interval;
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  reset_stream_state_locked (self);
  vdm_drop_batcher_set_interval (self->batcher, batch_interval);
  self->next_stats_ns += interval;
  g_mutex_unlock (&self->lock);

  if (!open_collector (self, mode))
    return FALSE;
  if (!watch_manual_flows (self)) {
    release_watches (self);
    return FALSE;
  }
  self->worker = g_thread_new ("vdropmon", worker_main, self);
  return TRUE;
}

static gboolean
gst_vdropmon_stop (GstBaseTransform * trans)
{
  GstVdropmon *self = GST_VDROPMON (trans);

  if (self->worker) {
    g_mutex_lock (&self->lock);
    self->worker_stop = TRUE;
    g_cond_signal (&self->cond);
    g_mutex_unlock (&self->lock);
    g_thread_join (self->worker);
    self->worker = NULL;
  }
  release_watches (self);
  if (self->source) {
    vdm_source_unsubscribe (self->source, self->subscription);
    self->subscription = NULL;
    g_clear_pointer (&self->source, vdm_source_unref);
  }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* GObject.                                                                  */

static void
gst_vdropmon_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstVdropmon *self = GST_VDROPMON (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_COLLECTOR:
      self->collector_mode = g_value_get_enum (value);
      break;
    case PROP_WATCH:
      g_free (self->watch);
      self->watch = g_value_dup_string (value);
      break;
    case PROP_AUTO_DISCOVER:
      self->auto_discover = g_value_get_boolean (value);
      break;
    case PROP_BATCH_INTERVAL:
      self->batch_interval = g_value_get_uint64 (value);
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean (value);
      break;
    case PROP_INTERVAL:
      self->interval = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
  if (prop_id == PROP_BATCH_INTERVAL) {
    g_mutex_lock (&self->lock);
    vdm_drop_batcher_set_interval (self->batcher, g_value_get_uint64 (value));
    g_mutex_unlock (&self->lock);
  }
}

static void
gst_vdropmon_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstVdropmon *self = GST_VDROPMON (object);

  if (prop_id == PROP_STATS) {
    refresh_kernel_counters (self);
    g_value_take_boxed (value, build_stats (self, VDM_STATS_STRUCTURE));
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_COLLECTOR:
      g_value_set_enum (value, self->collector_mode);
      break;
    case PROP_WATCH:
      g_value_set_string (value, self->watch);
      break;
    case PROP_AUTO_DISCOVER:
      g_value_set_boolean (value, self->auto_discover);
      break;
    case PROP_BATCH_INTERVAL:
      g_value_set_uint64 (value, self->batch_interval);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_INTERVAL:
      g_value_set_uint64 (value, self->interval);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vdropmon_finalize (GObject * object)
{
  GstVdropmon *self = GST_VDROPMON (object);

  g_free (self->watch);
  g_free (self->collector_status);
  vdm_frame_map_free (self->frames);
  vdm_seq_tracker_free (self->seqs);
  vdm_drop_batcher_free (self->batcher);
  g_array_unref (self->ready_reports);
  g_array_unref (self->watches);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vdropmon_install_properties (GObjectClass * gobject_class)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  g_object_class_install_property (gobject_class, PROP_COLLECTOR,
      g_param_spec_enum ("collector", "Collector",
          "Where kernel drop events come from: auto loads eBPF if allowed and otherwise warns "
          "once and keeps userspace signals; embedded fails to start without eBPF; none never "
          "loads it", GST_TYPE_VDROPMON_COLLECTOR, DEFAULT_COLLECTOR,
          rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_WATCH,
      g_param_spec_string ("watch", "Watch",
          "Flows to watch besides the discovered sockets, separated by commas: \"udp:5004\", "
          "\"udp:239.1.1.1:5004\", \"udp:[::1]:5004\", \"tcp:127.0.0.1:41234->127.0.0.1:8554\" "
          "(local->remote; local = where the packets go)", NULL, rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_AUTO_DISCOVER,
      g_param_spec_boolean ("auto-discover", "Auto discover",
          "Watch the socket of every udpsrc upstream, including those created later inside "
          "bins such as rtspsrc", DEFAULT_AUTO_DISCOVER, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_BATCH_INTERVAL,
      g_param_spec_uint64 ("batch-interval", "Batch interval",
          "Drops of one reason and stream within this time (ns) after the first one make one "
          "vdropmon-drop message; no drop waits longer to be reported",
          GST_MSECOND, 10 * GST_SECOND, DEFAULT_BATCH_INTERVAL, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post a vdropmon-stats element message every interval", DEFAULT_POST_MESSAGES,
          rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_INTERVAL,
      g_param_spec_uint64 ("interval", "Interval", "Interval between vdropmon-stats messages (ns)",
          10 * GST_MSECOND, G_MAXUINT64, DEFAULT_INTERVAL, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Counters as an application/x-vdropmon-stats structure (fields in docs/messages.md)",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

static void
gst_vdropmon_class_init (GstVdropmonClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_vdropmon_set_property;
  gobject_class->get_property = gst_vdropmon_get_property;
  gobject_class->finalize = gst_vdropmon_finalize;
  gst_vdropmon_install_properties (gobject_class);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Kernel packet-drop monitor",
      "Filter/Analyzer/Network",
      "Reports which packets of this stream the kernel dropped (eBPF), why, and which frames "
      "they hit, as vdropmon-drop and vdropmon-stats element messages",
      "vdropmon developers");

  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_vdropmon_transform_ip);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_vdropmon_set_caps);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_vdropmon_sink_event);
  trans_class->start = GST_DEBUG_FUNCPTR (gst_vdropmon_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_vdropmon_stop);
  trans_class->passthrough_on_same_caps = TRUE;
  trans_class->transform_ip_on_passthrough = TRUE;

  gst_type_mark_as_plugin_api (GST_TYPE_VDROPMON_COLLECTOR, 0);
}

static void
gst_vdropmon_init (GstVdropmon * self)
{
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);

  self->collector_mode = DEFAULT_COLLECTOR;
  self->auto_discover = DEFAULT_AUTO_DISCOVER;
  self->batch_interval = DEFAULT_BATCH_INTERVAL;
  self->post_messages = DEFAULT_POST_MESSAGES;
  self->interval = DEFAULT_INTERVAL;

  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->frames = vdm_frame_map_new (FRAME_MAP_CAPACITY);
  self->seqs = vdm_seq_tracker_new ();
  self->batcher = vdm_drop_batcher_new (DEFAULT_BATCH_INTERVAL, on_batch_ready, self);
  self->ready_reports = g_array_new (FALSE, TRUE, sizeof (VdmDropReport));
  self->watches = g_array_new (FALSE, TRUE, sizeof (VdmWatch));
  self->queue_fill_peak = -1.0;
  vdm_clock_map_init (&self->clock_map);
}
