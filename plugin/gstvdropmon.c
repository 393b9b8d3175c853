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
 * * `vdropmon-warning`: a freeze is coming; `action` says what to do and
 *   `stall-eta` how long until the damage reaches the sink.
 * * `vdropmon-clear`: the trouble behind the last warnings is over.
 * * `vdropmon-stats`: counters, every #GstVdropmon:interval when
 *   #GstVdropmon:post-messages is %TRUE.
 *
 * The surge detector cuts time into bins (#GstVdropmon:bin-duration), keeps
 * an EWMA of drops per bin (#GstVdropmon:ewma-alpha) against a baseline over
 * #GstVdropmon:window, and warns when the EWMA stays above
 * #GstVdropmon:surge-factor times the baseline for #GstVdropmon:surge-bins
 * bins — or at once when a keyframe packet is lost, the receive queue
 * passes #GstVdropmon:queue-fill-threshold, or packets stop arriving for
 * #GstVdropmon:silence-threshold. Every threshold can change while PLAYING.
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
#include <stdio.h>
#include <string.h>
#include <time.h>

GST_DEBUG_CATEGORY (vdropmon_debug);
#define GST_CAT_DEFAULT vdropmon_debug

#define DEFAULT_COLLECTOR GST_VDROPMON_COLLECTOR_AUTO
#define DEFAULT_AUTO_DISCOVER TRUE
#define DEFAULT_BATCH_INTERVAL (20 * GST_MSECOND)
#define DEFAULT_POST_MESSAGES TRUE
#define DEFAULT_INTERVAL GST_SECOND
#define DEFAULT_SILENCE_THRESHOLD (200 * GST_MSECOND)
#define DEFAULT_REQUEST_KEYFRAME FALSE
#define DEFAULT_PLAYOUT_BUFFER 0
#define DEFAULT_RUNWAY_THRESHOLD (2 * GST_SECOND)
#define FRAME_MAP_CAPACITY 512

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
  PROP_BIN_DURATION,
  PROP_WINDOW,
  PROP_EWMA_ALPHA,
  PROP_SURGE_FACTOR,
  PROP_SURGE_BINS,
  PROP_BASELINE_FLOOR,
  PROP_CRITICAL_FACTOR,
  PROP_BURST_DROPS,
  PROP_QUEUE_FILL_THRESHOLD,
  PROP_CLEAR_BINS,
  PROP_WARNING_INTERVAL,
  PROP_SILENCE_THRESHOLD,
  PROP_REQUEST_KEYFRAME,
  PROP_PLAYOUT_BUFFER,
  PROP_RUNWAY_THRESHOLD,
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
    {GST_VDROPMON_COLLECTOR_AUTO, "The collector daemon if it answers, else load eBPF if allowed, "
        "else warn and use userspace signals",
        "auto"},
    {GST_VDROPMON_COLLECTOR_EMBEDDED, "Load eBPF in this process or fail to start", "embedded"},
    {GST_VDROPMON_COLLECTOR_NONE, "Userspace signals only (RTP sequence gaps)", "none"},
    {GST_VDROPMON_COLLECTOR_DAEMON, "The host's collector daemon (vdropmond) or fail to start",
        "daemon"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVdropmonCollector", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

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

guint64
vdm_mono_to_detector_locked (GstVdropmon * self, guint64 mono_ns)
{
  guint64 t = self->clock ? vdm_clock_map_clock_time (&self->clock_map, mono_ns) : mono_ns;
  return t == VDM_TIME_NONE ? vdm_now_locked (self) : t;
}

GstClockTime
vdm_running_time_locked (GstVdropmon * self, guint64 detector_ns)
{
  if (!self->clock || !GST_CLOCK_TIME_IS_VALID (self->base_time)
      || !GST_CLOCK_TIME_IS_VALID (detector_ns) || detector_ns < self->base_time)
    return GST_CLOCK_TIME_NONE;
  return detector_ns - self->base_time;
}

/* ------------------------------------------------------------------------ */
/* Streaming thread: learn from what passes. Short, under lock, no I/O.     */

gboolean
vdm_peek_buffer (GstBuffer * buf, VdmPeek * peek)
{
  peek->mapped = gst_buffer_n_memory (buf) == 1;
  if (peek->mapped) {
    if (!gst_buffer_map (buf, &peek->map, GST_MAP_READ))
      return FALSE;
    peek->data = peek->map.data;
    peek->size = peek->map.size;
    peek->complete = TRUE;
    peek->buffer = buf;
    return TRUE;
  }
  /* Mapping several memories would merge them into the buffer: copy the
   * head instead (the RTP header and the first payload bytes are enough). */
  peek->size = gst_buffer_extract (buf, 0, peek->head, sizeof (peek->head));
  peek->data = peek->head;
  peek->complete = peek->size == gst_buffer_get_size (buf);
  return TRUE;
}

void
vdm_peek_release (VdmPeek * peek)
{
  if (peek->mapped)
    gst_buffer_unmap (peek->buffer, &peek->map);
}

static void
observe_rtp_locked (GstVdropmon * self, GstBuffer * buf, const VdmPeek * peek)
{
  vdm_rtp_header rtp;
  gsize size = gst_buffer_get_size (buf);

  if (!vdm_rtp_parse (peek->data, peek->size, peek->complete, &rtp))
    return;
  self->rtp_packets++;
  vdm_frame_map_observe_rtp (self->frames, rtp.ssrc, rtp.timestamp, GST_BUFFER_PTS (buf),
      vdm_payload_is_keyframe (self->codec, rtp.payload, rtp.payload_len));
  /* Without udpsrc upstream (appsrc, tcp, a test harness) we are the arrival point. */
  if (!self->arrival_probed)
    vdm_observe_arrival_locked (self, &rtp, size);
}

static GstFlowReturn
gst_vdropmon_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstVdropmon *self = GST_VDROPMON (trans);

  g_mutex_lock (&self->lock);
  self->buffers++;
  self->bytes_total += gst_buffer_get_size (buf);
  if (self->is_rtp) {
    VdmPeek peek;
    if (vdm_peek_buffer (buf, &peek)) {
      observe_rtp_locked (self, buf, &peek);
      vdm_peek_release (&peek);
    }
  } else if (GST_BUFFER_PTS_IS_VALID (buf)) {
    /* Live sources stamp buffers with their arrival running time. */
    vdm_frame_map_observe_arrival (self->frames, GST_BUFFER_PTS (buf), GST_BUFFER_PTS (buf));
    vdm_observe_media_locked (self, GST_BUFFER_PTS (buf));
  }
  g_mutex_unlock (&self->lock);
  return GST_FLOW_OK;
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

static gboolean
gst_vdropmon_set_caps (GstBaseTransform * trans, GstCaps * incaps, GstCaps * outcaps)
{
  GstVdropmon *self = GST_VDROPMON (trans);
  const GstStructure *s = gst_caps_get_structure (incaps, 0);
  gint clock_rate = 0;

  g_mutex_lock (&self->lock);
  self->is_rtp = gst_structure_has_name (s, "application/x-rtp");
  self->codec = vdm_codec_from_encoding_name (gst_structure_get_string (s, "encoding-name"));
  if (gst_structure_get_int (s, "clock-rate", &clock_rate) && clock_rate > 0) {
    vdm_frame_map_set_clock_rate (self->frames, (uint32_t) clock_rate);
    vdm_arrival_stats_init (&self->arrival, (uint32_t) clock_rate);
  }
  self->episode.height = height_from_caps (s);
  g_mutex_unlock (&self->lock);
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
      vdm_worker_wake_locked (self);
      break;
    case GST_EVENT_FLUSH_STOP:
      /* Timestamps restart after a flushing seek: forget the old mapping,
       * keep the totals. */
      vdm_frame_map_reset (self->frames);
      vdm_seq_tracker_forget_sources (self->seqs);
      break;
    default:
      break;
  }
  g_mutex_unlock (&self->lock);
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS)
    vdm_post_pending_drops (self);
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
    self->episode.latency = latency;
    GST_DEBUG_OBJECT (self, "pipeline latency %" GST_TIME_FORMAT, GST_TIME_ARGS (latency));
  } else if (gst_video_event_is_force_key_unit (event)) {
    self->episode.keyframe_requests_seen++;
  }
  g_mutex_unlock (&self->lock);
  return GST_BASE_TRANSFORM_CLASS (parent_class)->src_event (trans, event);
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
report_collector_failure (GstVdropmon * self, GstVdropmonCollector mode, const gchar * why)
{
  gchar *status = g_strdup_printf ("unavailable: %s", why);

  set_collector_status (self, status);
  if (mode == GST_VDROPMON_COLLECTOR_EMBEDDED || mode == GST_VDROPMON_COLLECTOR_DAEMON) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Cannot open the %s collector",
            mode == GST_VDROPMON_COLLECTOR_DAEMON ? "daemon" : "eBPF"), ("%s", status));
  } else if (!self->warned_no_bpf) {
    GST_ELEMENT_WARNING (self, RESOURCE, OPEN_READ,
        ("Kernel drop monitoring is off; only RTP sequence gaps will be reported"), ("%s", status));
    self->warned_no_bpf = TRUE;
  }
  g_free (status);
  return mode == GST_VDROPMON_COLLECTOR_AUTO;
}

/* auto: the daemon when its socket answers (no privilege needed), else the
 * embedded collector; the error then names both reasons. */
static vdm_source *
open_source (GstVdropmonCollector mode, char **error)
{
  char *daemon_error = NULL, *embedded_error = NULL;
  vdm_source *source;

  *error = NULL;
  if (mode == GST_VDROPMON_COLLECTOR_EMBEDDED)
    return vdm_source_open_embedded (error);
  source = vdm_source_open ("daemon", NULL, &daemon_error);
  if (source || mode == GST_VDROPMON_COLLECTOR_DAEMON) {
    *error = daemon_error;
    return source;
  }
  source = vdm_source_open_embedded (&embedded_error);
  if (!source)
    *error = g_strdup_printf ("%s; and %s", embedded_error ? embedded_error : "?",
        daemon_error ? daemon_error : "?");
  free (daemon_error);
  free (embedded_error);
  return source;
}

static gboolean
open_collector (GstVdropmon * self, GstVdropmonCollector mode)
{
  static const vdm_consumer consumer = {.on_drop = vdm_on_kernel_drop };
  char *error = NULL;
  gboolean ok;

  if (mode == GST_VDROPMON_COLLECTOR_NONE) {
    set_collector_status (self, "disabled");
    return TRUE;
  }
  self->source = open_source (mode, &error);
  if (self->source)
    self->subscription = vdm_source_subscribe (self->source, &consumer, self);
  if (self->source && self->subscription) {
    set_collector_status (self, "running");
    return TRUE;
  }
  g_clear_pointer (&self->source, vdm_source_unref);
  ok = report_collector_failure (self, mode, error ? error : "out of memory");
  free (error);
  return ok;
}

static void
reset_stream_state_locked (GstVdropmon * self)
{
  vdm_frame_map_reset (self->frames);
  vdm_seq_tracker_reset (self->seqs);
  vdm_gap_reconciler_reset (self->gaps);
  vdm_detector_reset (self->detector);
  vdm_arrival_stats_init (&self->arrival, 90000);
  vdm_clock_map_init (&self->clock_map);
  memset (&self->retired, 0, sizeof (self->retired));
  memset (&self->episode, 0, sizeof (self->episode));
  self->episode.latency = self->episode.first_damage = GST_CLOCK_TIME_NONE;
  self->episode.buffer_latency = GST_CLOCK_TIME_NONE;
  self->episode.height = -1;
  self->buffers = self->rtp_packets = self->drop_messages = self->warnings_posted = 0;
  self->arrival_bytes = self->bytes_total = 0;
  self->bitrate = self->fid_mean_ms = self->fid_max_ms = 0;
  self->silent = self->deficit = FALSE;
  self->queue_fill_recent = -1.0;
  vdm_runway_init (&self->runway);
  self->runway_settled = FALSE;
  self->queue_fill_peak = -1.0;
  self->worker_stop = self->wake = FALSE;
  self->rescan_requested = TRUE;
  self->detector_config_changed = TRUE;
}

static gboolean
gst_vdropmon_start (GstBaseTransform * trans)
{
  GstVdropmon *self = GST_VDROPMON (trans);
  GstVdropmonCollector mode;
  GstClockTime batch_interval, interval;
  guint64 now = vdm_monotonic_ns ();

  GST_OBJECT_LOCK (self);
  mode = self->collector_mode;
  batch_interval = self->batch_interval;
  interval = self->interval;
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  reset_stream_state_locked (self);
  vdm_drop_batcher_set_interval (self->batcher, batch_interval);
  self->next_rescan_ns = self->next_bin_ns = now;
  self->next_stats_ns = vdm_time_add (now, interval);
  g_mutex_unlock (&self->lock);

  if (!open_collector (self, mode))
    return FALSE;
  if (!vdm_watch_manual_flows (self)) {
    /* basetransform does not call stop() after a failed start */
    GST_BASE_TRANSFORM_GET_CLASS (trans)->stop (trans);
    return FALSE;
  }
  self->worker = g_thread_new ("vdropmon", vdm_worker_main, self);
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
  vdm_watch_release_all (self);
  g_mutex_lock (&self->lock);
  gst_clear_object (&self->clock);
  g_mutex_unlock (&self->lock);
  if (self->source) {
    vdm_source_unsubscribe (self->source, self->subscription);
    self->subscription = NULL;
    g_clear_pointer (&self->source, vdm_source_unref);
  }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* GObject.                                                                  */

/* Detector settings live in detector_config; the worker applies them. */
static gboolean
set_detector_property (GstVdropmon * self, guint prop_id, const GValue * value)
{
  vdm_detector_config *c = &self->detector_config;

  switch (prop_id) {
    case PROP_BIN_DURATION:
      c->bin_ns = g_value_get_uint64 (value);
      break;
    case PROP_WINDOW:
      c->window_ns = g_value_get_uint64 (value);
      break;
    case PROP_EWMA_ALPHA:
      c->alpha = g_value_get_double (value);
      break;
    case PROP_SURGE_FACTOR:
      c->factor = g_value_get_double (value);
      break;
    case PROP_SURGE_BINS:
      c->surge_bins = g_value_get_uint (value);
      break;
    case PROP_BASELINE_FLOOR:
      c->min_drops_per_bin = g_value_get_double (value);
      break;
    case PROP_CRITICAL_FACTOR:
      c->critical_factor = g_value_get_double (value);
      break;
    case PROP_BURST_DROPS:
      c->burst_drops = g_value_get_double (value);
      break;
    case PROP_QUEUE_FILL_THRESHOLD:
      c->queue_fill_threshold = g_value_get_double (value);
      break;
    case PROP_CLEAR_BINS:
      c->clear_bins = g_value_get_uint (value);
      break;
    case PROP_WARNING_INTERVAL:
      c->min_warning_interval_ns = g_value_get_uint64 (value);
      break;
    default:
      return FALSE;
  }
  return TRUE;
}

static gboolean
get_detector_property (GstVdropmon * self, guint prop_id, GValue * value)
{
  const vdm_detector_config *c = &self->detector_config;

  switch (prop_id) {
    case PROP_BIN_DURATION:
      g_value_set_uint64 (value, c->bin_ns);
      break;
    case PROP_WINDOW:
      g_value_set_uint64 (value, c->window_ns);
      break;
    case PROP_EWMA_ALPHA:
      g_value_set_double (value, c->alpha);
      break;
    case PROP_SURGE_FACTOR:
      g_value_set_double (value, c->factor);
      break;
    case PROP_SURGE_BINS:
      g_value_set_uint (value, c->surge_bins);
      break;
    case PROP_BASELINE_FLOOR:
      g_value_set_double (value, c->min_drops_per_bin);
      break;
    case PROP_CRITICAL_FACTOR:
      g_value_set_double (value, c->critical_factor);
      break;
    case PROP_BURST_DROPS:
      g_value_set_double (value, c->burst_drops);
      break;
    case PROP_QUEUE_FILL_THRESHOLD:
      g_value_set_double (value, c->queue_fill_threshold);
      break;
    case PROP_CLEAR_BINS:
      g_value_set_uint (value, c->clear_bins);
      break;
    case PROP_WARNING_INTERVAL:
      g_value_set_uint64 (value, c->min_warning_interval_ns);
      break;
    default:
      return FALSE;
  }
  return TRUE;
}

static void
gst_vdropmon_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstVdropmon *self = GST_VDROPMON (object);
  gboolean detector_changed = FALSE;

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
    case PROP_SILENCE_THRESHOLD:
      self->silence_threshold = g_value_get_uint64 (value);
      break;
    case PROP_REQUEST_KEYFRAME:
      self->request_keyframe = g_value_get_boolean (value);
      break;
    case PROP_PLAYOUT_BUFFER:
      self->playout_buffer = g_value_get_uint64 (value);
      break;
    case PROP_RUNWAY_THRESHOLD:
      self->runway_threshold = g_value_get_uint64 (value);
      break;
    default:
      detector_changed = set_detector_property (self, prop_id, value);
      if (!detector_changed)
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  if (prop_id == PROP_BATCH_INTERVAL)
    vdm_drop_batcher_set_interval (self->batcher, g_value_get_uint64 (value));
  if (detector_changed) {
    self->detector_config_changed = TRUE;
    vdm_worker_wake_locked (self);
  }
  g_mutex_unlock (&self->lock);
}

static void
gst_vdropmon_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstVdropmon *self = GST_VDROPMON (object);

  if (prop_id == PROP_STATS) {
    vdm_refresh_kernel_counters (self);
    g_value_take_boxed (value, vdm_build_stats (self, VDM_STATS_STRUCTURE));
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
    case PROP_SILENCE_THRESHOLD:
      g_value_set_uint64 (value, self->silence_threshold);
      break;
    case PROP_REQUEST_KEYFRAME:
      g_value_set_boolean (value, self->request_keyframe);
      break;
    case PROP_PLAYOUT_BUFFER:
      g_value_set_uint64 (value, self->playout_buffer);
      break;
    case PROP_RUNWAY_THRESHOLD:
      g_value_set_uint64 (value, self->runway_threshold);
      break;
    default:
      if (!get_detector_property (self, prop_id, value))
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
  vdm_gap_reconciler_free (self->gaps);
  vdm_detector_free (self->detector);
  vdm_drop_batcher_free (self->batcher);
  g_array_unref (self->ready_reports);
  g_array_unref (self->watches);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define RW (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)
#define RW_PLAYING (RW | GST_PARAM_MUTABLE_PLAYING)

static void
install_source_properties (GObjectClass * gobject_class)
{
  g_object_class_install_property (gobject_class, PROP_COLLECTOR,
      g_param_spec_enum ("collector", "Collector",
          "Where kernel drop events come from: auto loads eBPF if allowed and otherwise warns "
          "once and keeps userspace signals; embedded fails to start without eBPF; none never "
          "loads it", GST_TYPE_VDROPMON_COLLECTOR, DEFAULT_COLLECTOR,
          RW | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_WATCH,
      g_param_spec_string ("watch", "Watch",
          "Flows to watch besides the discovered sockets, separated by commas: \"udp:5004\", "
          "\"udp:239.1.1.1:5004\", \"udp:[::1]:5004\", \"tcp:127.0.0.1:41234->127.0.0.1:8554\" "
          "(local->remote; local = where the packets go)", NULL, RW | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_AUTO_DISCOVER,
      g_param_spec_boolean ("auto-discover", "Auto discover",
          "Watch the socket of every udpsrc upstream, including those created later inside "
          "bins such as rtspsrc, and the TCP connection of every source that fetches from a "
          "server (rtspsrc, souphttpsrc, tcpclientsrc, rtmp2src)", DEFAULT_AUTO_DISCOVER,
          RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_BATCH_INTERVAL,
      g_param_spec_uint64 ("batch-interval", "Batch interval",
          "Drops of one reason and stream within this time (ns) after the first one make one "
          "vdropmon-drop message; no drop waits longer to be reported",
          GST_MSECOND, 10 * GST_SECOND, DEFAULT_BATCH_INTERVAL, RW_PLAYING));
}

static void
install_message_properties (GObjectClass * gobject_class)
{
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post a vdropmon-stats element message every interval", DEFAULT_POST_MESSAGES,
          RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_INTERVAL,
      g_param_spec_uint64 ("interval", "Interval", "Interval between vdropmon-stats messages (ns)",
          10 * GST_MSECOND, G_MAXUINT64, DEFAULT_INTERVAL, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Counters as an application/x-vdropmon-stats structure (fields in docs/messages.md)",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_REQUEST_KEYFRAME,
      g_param_spec_boolean ("request-keyframe", "Request keyframe",
          "When a keyframe packet is lost, send a GstForceKeyUnit event upstream at once "
          "(rtpbin turns it into an RTCP PLI)", DEFAULT_REQUEST_KEYFRAME, RW_PLAYING));
}

static void
install_detector_properties (GObjectClass * gobject_class, const vdm_detector_config * d)
{
  g_object_class_install_property (gobject_class, PROP_BIN_DURATION,
      g_param_spec_uint64 ("bin-duration", "Bin duration",
          "Length of one detector time bin (ns)", 10 * GST_MSECOND, 10 * GST_SECOND, d->bin_ns,
          RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_WINDOW,
      g_param_spec_uint64 ("window", "Window",
          "Sliding window over which the baseline drop rate is averaged (ns)", 100 * GST_MSECOND,
          600 * GST_SECOND, d->window_ns, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_EWMA_ALPHA,
      g_param_spec_double ("ewma-alpha", "EWMA alpha",
          "Weight of the newest bin in the drop-rate EWMA", 0.01, 1.0, d->alpha, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_SURGE_FACTOR,
      g_param_spec_double ("surge-factor", "Surge factor",
          "A surge is the EWMA above this many times the baseline", 1.0, 1000.0, d->factor,
          RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_SURGE_BINS,
      g_param_spec_uint ("surge-bins", "Surge bins",
          "Consecutive bins above the threshold that make a surge", 1, 100, d->surge_bins,
          RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_BASELINE_FLOOR,
      g_param_spec_double ("baseline-floor", "Baseline floor",
          "Lowest baseline, in drops per bin, so that a clean stream's lone drop is no surge",
          0.0, 1e6, d->min_drops_per_bin, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_CRITICAL_FACTOR,
      g_param_spec_double ("critical-factor", "Critical factor",
          "EWMA above this many times the baseline makes a warning critical", 1.0, 1e6,
          d->critical_factor, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_BURST_DROPS,
      g_param_spec_double ("burst-drops", "Burst drops",
          "Drops in one bin after quiet ones that make a transient burst (circuit-break)", 1.0,
          1e9, d->burst_drops, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_QUEUE_FILL_THRESHOLD,
      g_param_spec_double ("queue-fill-threshold", "Queue fill threshold",
          "Receive-queue fill (0..1 of the socket buffer) that warns at once", 0.01, 1.0,
          d->queue_fill_threshold, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_CLEAR_BINS,
      g_param_spec_uint ("clear-bins", "Clear bins",
          "Quiet bins in a row after which vdropmon-clear is posted", 1, 10000, d->clear_bins,
          RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_WARNING_INTERVAL,
      g_param_spec_uint64 ("warning-interval", "Warning interval",
          "Least time between two warnings (ns): the circuit-break window for bursts", 0,
          60 * GST_SECOND, d->min_warning_interval_ns, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_PLAYOUT_BUFFER,
      g_param_spec_uint64 ("playout-buffer", "Playout buffer",
          "Media the player holds before the screen (ns); 0 takes the pipeline latency. "
          "Arrival lagging behind media time eats it (see runway-threshold)", 0,
          600 * GST_SECOND, DEFAULT_PLAYOUT_BUFFER, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_RUNWAY_THRESHOLD,
      g_param_spec_uint64 ("runway-threshold", "Runway threshold",
          "Warn when, at the current growth of the arrival lag, the playout buffer runs dry "
          "within this time (ns): throughput under the stream's bitrate", 0, 600 * GST_SECOND,
          DEFAULT_RUNWAY_THRESHOLD, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_SILENCE_THRESHOLD,
      g_param_spec_uint64 ("silence-threshold", "Silence threshold",
          "No packet arriving for this long (ns, at least 3 frame intervals) warns of an outage",
          10 * GST_MSECOND, 60 * GST_SECOND, DEFAULT_SILENCE_THRESHOLD, RW_PLAYING));
}

static void
gst_vdropmon_class_init (GstVdropmonClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  vdm_detector_config defaults;

  gobject_class->set_property = gst_vdropmon_set_property;
  gobject_class->get_property = gst_vdropmon_get_property;
  gobject_class->finalize = gst_vdropmon_finalize;
  vdm_detector_config_init (&defaults);
  install_source_properties (gobject_class);
  install_message_properties (gobject_class);
  install_detector_properties (gobject_class, &defaults);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Kernel packet-drop monitor",
      "Filter/Analyzer/Network",
      "Reports which packets of this stream the kernel dropped (eBPF), why, and which frames "
      "they hit, and warns before the freeze reaches the screen",
      "vdropmon developers");
  gst_element_class_add_static_metadata (element_class, "messages", VDM_MESSAGES_SUMMARY);

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

  self->collector_mode = DEFAULT_COLLECTOR;
  self->auto_discover = DEFAULT_AUTO_DISCOVER;
  self->batch_interval = DEFAULT_BATCH_INTERVAL;
  self->post_messages = DEFAULT_POST_MESSAGES;
  self->interval = DEFAULT_INTERVAL;
  self->silence_threshold = DEFAULT_SILENCE_THRESHOLD;
  self->request_keyframe = DEFAULT_REQUEST_KEYFRAME;
  self->playout_buffer = DEFAULT_PLAYOUT_BUFFER;
  self->runway_threshold = DEFAULT_RUNWAY_THRESHOLD;
  vdm_detector_config_init (&self->detector_config);

  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->frames = vdm_frame_map_new (FRAME_MAP_CAPACITY);
  self->seqs = vdm_seq_tracker_new ();
  self->gaps = vdm_gap_reconciler_new ();
  self->detector = vdm_detector_new (&self->detector_config);
  self->batcher = vdm_drop_batcher_new (DEFAULT_BATCH_INTERVAL, vdm_on_batch_ready, self);
  self->ready_reports = g_array_new (FALSE, TRUE, sizeof (VdmDropReport));
  self->watches = g_array_new (FALSE, TRUE, sizeof (VdmWatch));
  self->queue_fill_peak = -1.0;
  vdm_arrival_stats_init (&self->arrival, 90000);
  vdm_clock_map_init (&self->clock_map);
  reset_stream_state_locked (self);
}
