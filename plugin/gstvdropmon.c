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
 * It learns of drops from an event source (#GstVdropmon:collector): the
 * host's collector daemon, or an eBPF program on the skb:kfree_skb
 * tracepoint that it loads itself (the embedded collector; needs root or
 * CAP_BPF + CAP_PERFMON and a kernel with BTF). Without either it passes
 * buffers through, posts one warning saying why, and reports the RTP
 * sequence gaps it sees.
 *
 * The element is a passthrough: it never copies, delays or drops a buffer.
 * It finds the udpsrc elements upstream of it by itself (also those rtspsrc
 * creates later); #GstVdropmon:watch names more flows by hand.
 *
 * It posts four element messages (GST_MESSAGE_ELEMENT), and a fifth,
 * `vdropmon-drop-summary`, only past its drop-message budget;
 * docs/messages.md is the long form, with examples and the batching rules.
 *
 * `vdropmon-drop`: a batch of drops of one reason and stream, posted within
 * #GstVdropmon:batch-interval of the first drop in it. Its structure
 * contains these fields:
 *
 * * #gchararray `source`: `kernel-udp`, `kernel-tcp`, `kernel` (another
 *   protocol) or `rtp-gap` (sequence numbers missing at arrival that the
 *   kernel did not explain: loss before this host).
 * * #gchararray `reason`: the kernel's drop reason without its
 *   `SKB_DROP_REASON_` prefix (`SOCKET_RCVBUFF`, ...), `RTP_SEQ_GAP` for gaps.
 * * #guint `reason-code`: the kernel's `enum skb_drop_reason` value, 0 for gaps.
 * * #guint `count`: drops in the batch.
 * * #guint64 `kernel-time`, `kernel-time-last`: CLOCK_MONOTONIC of the first
 *   and last drop (for gaps: of the arrival that revealed them).
 * * #guint64 `running-time`: the first drop on the pipeline's running time,
 *   GST_CLOCK_TIME_NONE without a clock.
 * * #guint64 `pts`, `pts-last`: PTS of the first and last frame hit,
 *   GST_CLOCK_TIME_NONE when unknown.
 * * #gint `rtp-seq-first`, `rtp-seq-last`: RTP sequence numbers of the first
 *   and last dropped packet, -1 if not RTP.
 * * #GstValueArray of #guint `rtp-seqs`: the dropped sequence numbers (at
 *   most 64); #gboolean `rtp-seqs-truncated`: there were more.
 * * #guint `frames`: distinct RTP timestamps (frames) hit.
 * * #guint `ssrc`: the stream's SSRC (0 if not RTP); #gint `payload-type`
 *   (-1 if not RTP).
 * * #gboolean `keyframe`: a packet of a keyframe (or parameter set) was lost.
 * * #gchararray `flow`: the watched flow, `udp 127.0.0.1:5004`, empty for gaps.
 * * #gchararray `attribution`: how the drop was tied to this stream:
 *   `socket` (the kernel named the receiving socket), `flow` (its 5-tuple
 *   matched a watched flow), `catch-up` (#GstVdropmon:collector `daemon`
 *   only: drops the socket's own counter saw that no event reported, one
 *   message per occasion, no RTP fields) or `userspace` (`rtp-gap`).
 * * #guint64 `events-lost`: drops of this watch whose details the ring
 *   buffer lost since the previous message (counted, not listed).
 *
 * `vdropmon-drop-summary`: the `vdropmon-drop` messages held back by the
 * element's budget (400 at once, 200 per second: a flood of rotating
 * SSRCs), folded into one, at most once per second and at EOS or stop.
 * Fields:
 *
 * * #guint64 `messages`: drop messages it stands for (not posted).
 * * #guint64 `count`: drops those messages would have counted; #guint64
 *   `kernel-count`, `rtp-gap-count`: of which the kernel's, and RTP gaps.
 * * #guint `ssrcs`: distinct SSRCs among them, counted up to 64;
 *   #gboolean `ssrcs-truncated`: there were more.
 * * #guint64 `kernel-time`, `kernel-time-last`: CLOCK_MONOTONIC of the
 *   earliest and the latest drop summarised.
 *
 * `vdropmon-warning`: a freeze is coming. Fields:
 *
 * * #gchararray `level`: `warning` or `critical`.
 * * #gchararray `cause`: comma-separated `host`, `network`, `keyframe`,
 *   `device`, `burst`.
 * * #gchararray `reasons`: the kernel reasons (and `RTP_SEQ_GAP`) of the episode.
 * * #gchararray `action`: what to do first: `lower-resolution`,
 *   `lower-bitrate`, `request-keyframe`, `reinit-device`, `circuit-break`
 *   or `none`.
 * * #gdouble `drop-rate`: drops per second in the last closed bin;
 *   #gdouble `ewma`, `baseline`: drops per bin.
 * * #guint64 `stall-eta`: ns until the damage reaches the sink, 0 if already
 *   there, GST_CLOCK_TIME_NONE if no playout buffer is known.
 * * #guint64 `detect-time`: when the detector decided, on the pipeline clock.
 * * #guint64 `running-time`: the same on the running time.
 * * #gint `suggested-height`: the next rung down the resolution ladder, -1
 *   unknown; #gint `suggested-bitrate`: bits/s for `lower-bitrate`, else -1.
 *
 * `vdropmon-clear`: the trouble behind the last warnings is over. Fields:
 * #gchararray `cause` (of the episode), #guint64 `duration` (ns since the
 * episode began), #guint64 `drops` (in the episode), #guint64 `detect-time`,
 * #guint64 `running-time`.
 *
 * `vdropmon-stats`: every #GstVdropmon:interval when
 * #GstVdropmon:post-messages is %TRUE; the same structure, named
 * `application/x-vdropmon-stats`, is the #GstVdropmon:stats property. Fields:
 *
 * * #gchararray `collector`: the event source that serves the element:
 *   `embedded`, `daemon`, `fake` or `none`; #gchararray `collector-status`:
 *   `running`, `reconnecting` (the daemon went away), `disabled` or
 *   `unavailable: <why>`; #gchararray
 *   `collector-skipped`: why the sources tried before it were not used.
 * * #GstValueArray of #gchararray `flows`: the flows watched now.
 * * #guint64 `kernel-drops`: authoritative kernel drops of the watched flows
 *   since start; #GstStructure `reasons`: the same per reason name;
 *   #guint64 `events-lost`: of those, drops whose details were lost.
 * * #guint64 `buffers`, `rtp-packets`: buffers through the element, and of
 *   those RTP; #guint64 `rtp-lost`, `rtp-reordered`, `rtp-duplicates`: from
 *   sequence numbers at arrival; #gdouble `loss-fraction`: lost / expected.
 * * #gdouble `queue-fill-peak`: highest receive-queue fill (0..1) over the
 *   interval, -1 unavailable.
 * * #guint64 `drop-messages`, `warnings`: messages posted since start.
 * * #gdouble `jitter` (ms, RFC 3550), `fid` and `fid-max` (frame-interval
 *   deviation over the interval, ms), `bitrate` (bits/s at arrival).
 * * #guint64 `keyframe-requests-sent`, `keyframe-requests-seen`.
 * * #gchararray `detector-state`: `normal`, `warning` or `critical`;
 *   #gdouble `ewma`, `baseline`: drops per bin.
 * * #gdouble `lag`: ms the media arrives behind its timestamps beyond its
 *   best; #gdouble `runway`: ms until the playout buffer runs dry at the
 *   lag's growth, -1 if it is not emptying.
 * * #gdouble `queue-delay`: ms the media waits on the path beyond its
 *   empty-queue delay (GCC's trendline), 0 until measured; #gdouble
 *   `trend`: that delay's slope, ms per ms of arrival; #gchararray
 *   `path-usage`: `overusing`, `normal` or `underusing`.
 * * #gdouble `stall-threshold`: ms without an arrival after which the
 *   stream counts as stalled (adaptive, #GstVdropmon:stall-floor to
 *   #GstVdropmon:silence-threshold); #guint64 `reader-stalls`: silences
 *   that long while the kernel held unread data of the stream (packets in
 *   a udpsrc socket; without one, bytes in the TCP connection that carries
 *   it): a late reader, not the network; no warning.
 * * #guint64 `packets-unobserved`: buffers that passed untouched but
 *   uncounted, a streaming thread's packet ring being full.
 *
 * The surge detector cuts time into bins (#GstVdropmon:bin-duration), keeps
 * an EWMA of drops per bin (#GstVdropmon:ewma-alpha) against a baseline over
 * #GstVdropmon:window, and warns when the EWMA stays above
 * #GstVdropmon:surge-factor times the baseline for #GstVdropmon:surge-bins
 * bins — or at once when a keyframe packet is lost, the receive queue
 * passes #GstVdropmon:queue-fill-threshold, packets stop arriving for
 * longer than the stream's own pauses (twice the 99th percentile of its
 * recent inter-burst gaps, 60 ms at least, #GstVdropmon:silence-threshold
 * at most), or the arrival delay gradient (GCC's trendline) shows a
 * bottleneck queue building up on the path. Every threshold can change
 * while PLAYING.
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

#include "gstvdropmon_priv.h"

#include <gst/video/video.h>
#include <string.h>
#include <time.h>

GST_DEBUG_CATEGORY (vdropmon_debug);
#define GST_CAT_DEFAULT vdropmon_debug

#define gst_vdropmon_parent_class parent_class
G_DEFINE_TYPE (GstVdropmon, gst_vdropmon, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (vdropmon, "vdropmon", GST_RANK_NONE, GST_TYPE_VDROPMON,
    GST_DEBUG_CATEGORY_INIT (vdropmon_debug, "vdropmon", 0, "kernel packet-drop monitor"));

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

guint64
vdm_monotonic_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * GST_SECOND + (guint64) ts.tv_nsec;
}

guint64
vdm_time_add (guint64 a, guint64 b)
{
  return b > G_MAXUINT64 - a ? G_MAXUINT64 : a + b;
}

guint64
vdm_now_locked (GstVdropmon * self)
{
  return self->clock ? gst_clock_get_time (self->clock) : vdm_monotonic_ns ();
}

vdm_now
vdm_times_locked (GstVdropmon * self)
{
  vdm_now now = {.mono = vdm_monotonic_ns () };

  now.clock = self->clock ? gst_clock_get_time (self->clock) : now.mono;
  return now;
}

void
vdm_wake_worker_locked (GstVdropmon * self)
{
  if (self->worker_client)
    vdm_shared_worker_wake (self->worker_client);
}

/* ------------------------------------------------------------------------ */
/* Streaming thread: what passes, what the caps and events say.             */

static GstFlowReturn
gst_vdropmon_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  vdm_arrivals_buffer_passed (GST_VDROPMON (trans), buf);
  return GST_FLOW_OK;
}

static gboolean
gst_vdropmon_set_caps (GstBaseTransform * trans, GstCaps * incaps, GstCaps * outcaps)
{
  GstVdropmon *self = GST_VDROPMON (trans);
  const GstStructure *s = gst_caps_get_structure (incaps, 0);
  gboolean is_rtp = gst_structure_has_name (s, "application/x-rtp");

  g_mutex_lock (&self->lock);
  vdm_feeds_sync_locked (self);       /* what passed before, under the old format */
  vdm_arrivals_set_caps_locked (self, s);
  self->have_caps = TRUE;
  g_mutex_unlock (&self->lock);
  if (!is_rtp)                  /* frames and codec from upstream, before the first buffer */
    vdm_arrivals_find_rtp_pad (self);
  GST_DEBUG_OBJECT (self, "caps %" GST_PTR_FORMAT, incaps);
  return TRUE;
}

static gboolean
gst_vdropmon_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstVdropmon *self = GST_VDROPMON (trans);

  g_mutex_lock (&self->lock);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_STREAM_START:
      self->rescan_requested = TRUE;
      self->next_fd_scan_mono = 0;      /* a new stream: its sockets at once */
      vdm_wake_worker_locked (self);
      break;
    case GST_EVENT_FLUSH_STOP:
      /* Timestamps restart after a flushing seek: forget the old mapping,
       * keep the totals. */
      vdm_feeds_sync_locked (self);
      vdm_stream_monitor_flush (self->monitor);
      break;
    default:
      break;
  }
  g_mutex_unlock (&self->lock);
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS)
    vdm_worker_post_pending (self);
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static gboolean
gst_vdropmon_src_event (GstBaseTransform * trans, GstEvent * event)
{
  GstVdropmon *self = GST_VDROPMON (trans);
  GstClockTime latency;

  g_mutex_lock (&self->lock);
  if (GST_EVENT_TYPE (event) == GST_EVENT_LATENCY) {
    gst_event_parse_latency (event, &latency);
    vdm_stream_monitor_set_latency (self->monitor, latency);
    GST_DEBUG_OBJECT (self, "pipeline latency %" GST_TIME_FORMAT, GST_TIME_ARGS (latency));
  } else if (gst_video_event_is_force_key_unit (event)) {
    vdm_stream_monitor_keyframe_request_seen (self->monitor);
  }
  g_mutex_unlock (&self->lock);
  return GST_BASE_TRANSFORM_CLASS (parent_class)->src_event (trans, event);
}

/* ------------------------------------------------------------------------ */
/* Start/stop, PLAYING/PAUSED.                                               */

static gboolean
gst_vdropmon_start (GstBaseTransform * trans)
{
  GstVdropmon *self = GST_VDROPMON (trans);

  g_mutex_lock (&self->lock);
  /* Nothing of a previous run reaches this one (issue 9 #1), nor what
   * the streaming threads handed over after the last stop. */
  vdm_feeds_restart_locked (self);
  vdm_stream_monitor_reset (self->monitor);
  vdm_stream_monitor_set_config (self->monitor, &self->config);
  vdm_feeds_publish_format_locked (self);
  memset (&self->retired, 0, sizeof (self->retired));
  g_array_set_size (self->released, 0);
  g_atomic_int_set (&VDM_HOT (self)->arrival_probed, FALSE);
  self->playing = self->have_caps = FALSE;
  self->rescan_requested = TRUE;
  self->next_fd_scan_mono = self->fd_scan_backoff = 0;
  self->next_rescan_mono = vdm_monotonic_ns ();
  self->last_stats_mono = self->next_rescan_mono;
  vdm_message_budget_init (&self->drop_budget, VDM_DROP_MESSAGES_PER_SECOND,
      VDM_DROP_MESSAGES_BURST);
  vdm_drop_summary_clear (&self->drop_summary);
  self->last_summary_mono = 0;
  g_mutex_unlock (&self->lock);

  if (!vdm_collector_start (self))
    return FALSE;
  if (!vdm_watch_manual_flows (self)) {
    /* basetransform does not call stop() after a failed start */
    GST_BASE_TRANSFORM_GET_CLASS (trans)->stop (trans);
    return FALSE;
  }
  vdm_worker_start (self);
  return TRUE;
}

static gboolean
gst_vdropmon_stop (GstBaseTransform * trans)
{
  GstVdropmon *self = GST_VDROPMON (trans);

  vdm_worker_stop (self);
  vdm_arrivals_release_rtp_pad (self);
  vdm_watch_release_all (self);
  vdm_resolve_cancel_all (self);        /* after the worker: nothing starts another */
  vdm_collector_stop (self);
  g_mutex_lock (&self->lock);
  gst_clear_object (&self->clock);
  vdm_feeds_publish_clock_locked (self);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* Arrivals are expected only while PLAYING: a paused pipeline is no
 * outage (issue 9 #12). */
static GstStateChangeReturn
gst_vdropmon_change_state (GstElement * element, GstStateChange transition)
{
  GstVdropmon *self = GST_VDROPMON (element);
  GstState next = GST_STATE_TRANSITION_NEXT (transition);

  if (next == GST_STATE_PLAYING || GST_STATE_TRANSITION_CURRENT (transition)
      == GST_STATE_PLAYING) {
    g_mutex_lock (&self->lock);
    self->playing = next == GST_STATE_PLAYING;
    vdm_wake_worker_locked (self);
    g_mutex_unlock (&self->lock);
  }
  return GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
}

/* A new clock is a new time base, from now on: whatever comes next (a
 * kernel drop, a packet) is stamped on it, not on the old one until the
 * worker's next round. */
static gboolean
gst_vdropmon_set_clock (GstElement * element, GstClock * clock)
{
  GstVdropmon *self = GST_VDROPMON (element);
  gboolean ok = GST_ELEMENT_CLASS (parent_class)->set_clock (element, clock);

  g_mutex_lock (&self->lock);
  if (self->worker_client) {
    vdm_worker_refresh_clock_locked (self);
    vdm_wake_worker_locked (self);      /* to wait on the new clock */
  }
  g_mutex_unlock (&self->lock);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* GObject.                                                                  */

static void
gst_vdropmon_finalize (GObject * object)
{
  GstVdropmon *self = GST_VDROPMON (object);

  self->alive = 0;
  g_free (self->watch);
  g_free (self->daemon_socket);
  g_free (self->collector_name);
  g_free (self->collector_status);
  g_free (self->collector_skipped);
  vdm_stream_monitor_free (self->monitor);
  vdm_element_analytics_free (self->analytics);
  g_array_unref (self->watches);
  g_array_unref (self->released);
  vdm_feeds_finalize (self);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vdropmon_class_init (GstVdropmonClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  vdm_peek_init ();
  gobject_class->set_property = vdm_props_set;
  gobject_class->get_property = vdm_props_get;
  gobject_class->finalize = gst_vdropmon_finalize;
  vdm_props_install (gobject_class);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Kernel packet-drop monitor",
      "Filter/Analyzer/Network",
      "Reports which packets of this stream the kernel dropped (eBPF), why, and which frames "
      "they hit, and warns before the freeze reaches the screen",
      "vdropmon developers");
  gst_element_class_add_static_metadata (element_class, "messages", VDM_MESSAGES_SUMMARY);
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_vdropmon_change_state);
  element_class->set_clock = GST_DEBUG_FUNCPTR (gst_vdropmon_set_clock);

  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_vdropmon_transform_ip);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_vdropmon_set_caps);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_vdropmon_sink_event);
  trans_class->src_event = GST_DEBUG_FUNCPTR (gst_vdropmon_src_event);
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

  g_mutex_init (&self->lock);
  self->alive = VDM_ALIVE;
  vdm_props_init (self);
  self->monitor = vdm_stream_monitor_new (&self->config);
  self->analytics = vdm_element_analytics_new ();
  self->watches = g_array_new (FALSE, TRUE, sizeof (VdmWatch));
  self->released = g_array_new (FALSE, TRUE, sizeof (VdmReleasedWatch));
  vdm_feeds_init (self);
}
