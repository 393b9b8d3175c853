/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmon_props.c — the element's properties: what each one means (the
 * doc blocks gst-inspect and hotdoc show), and where it goes. Settings of
 * the stream monitor go to it at once, also while PLAYING; the rest is
 * read by start() or the worker. All under self->lock, like everything
 * else of the element.
 */
#include "gstvdropmon_priv.h"

#define DEFAULT_COLLECTOR GST_VDROPMON_COLLECTOR_AUTO
#define DEFAULT_AUTO_DISCOVER TRUE
#define DEFAULT_POST_MESSAGES TRUE
#define DEFAULT_INTERVAL GST_SECOND
#define DEFAULT_REQUEST_KEYFRAME FALSE

#define RW (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)
#define RW_PLAYING (RW | GST_PARAM_MUTABLE_PLAYING)

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
  PROP_DAEMON_SOCKET,
  PROP_CONGESTION_SUSTAIN,
  PROP_CONGESTION_MIN_DELAY,
  PROP_STALL_FLOOR,
  PROP_RENEW_AFTER,
  PROP_QUEUE_FILL_WARNING,
};

GType
gst_vdropmon_collector_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_VDROPMON_COLLECTOR_AUTO, "Load eBPF if allowed, else warn and use userspace signals",
        "auto"},
    {GST_VDROPMON_COLLECTOR_EMBEDDED, "Load eBPF in this process or fail to start", "embedded"},
    {GST_VDROPMON_COLLECTOR_NONE, "Userspace signals only (RTP sequence gaps)", "none"},
    {GST_VDROPMON_COLLECTOR_FAKE, "Drops injected by tests (fake source), or fail to start",
        "fake"},
    {GST_VDROPMON_COLLECTOR_DAEMON, "The host's collector daemon, or fail to start", "daemon"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVdropmonCollector", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

void
vdm_props_init (GstVdropmon * self)
{
  self->collector_mode = DEFAULT_COLLECTOR;
  self->auto_discover = DEFAULT_AUTO_DISCOVER;
  self->post_messages = DEFAULT_POST_MESSAGES;
  self->interval = DEFAULT_INTERVAL;
  self->request_keyframe = DEFAULT_REQUEST_KEYFRAME;
  vdm_monitor_config_init (&self->config);
}

/* ------------------------------------------------------------------------ */
/* Installing, with the doc blocks.                                          */

static void
install_source_properties (GObjectClass * gobject_class)
{
  /**
   * GstVdropmon:collector:
   *
   * Where kernel drop events come from: `auto` tries the host's collector
   * daemon, then loads the eBPF collector if this process may, and
   * otherwise warns once and goes on with userspace signals (RTP sequence
   * gaps, silence, runway); `embedded`, `daemon` and `fake` (tests) open
   * that one source or fail to start; `none` never opens one. The
   * #GstVdropmon:stats fields `collector`, `collector-status` and
   * `collector-skipped` say what was got and why the others were not.
   */
  g_object_class_install_property (gobject_class, PROP_COLLECTOR,
      g_param_spec_enum ("collector", "Collector",
          "Where kernel drop events come from: auto tries the collector daemon, then loads eBPF "
          "if allowed, and otherwise warns once and keeps userspace signals; embedded, daemon "
          "and fake (tests) open that source or fail to start; none never opens one", GST_TYPE_VDROPMON_COLLECTOR, DEFAULT_COLLECTOR,
          RW | GST_PARAM_MUTABLE_READY));
  /**
   * GstVdropmon:watch:
   *
   * Flows to watch besides the discovered sockets, separated by commas:
   * `udp:5004`, `udp:239.1.1.1:5004`, `udp:[::1]:5004`,
   * `tcp:127.0.0.1:41234->127.0.0.1:8554` (local->remote; local is where
   * the packets go). An invalid list fails the start with an error.
   */
  g_object_class_install_property (gobject_class, PROP_WATCH,
      g_param_spec_string ("watch", "Watch",
          "Flows to watch besides the discovered sockets, separated by commas: \"udp:5004\", "
          "\"udp:239.1.1.1:5004\", \"udp:[::1]:5004\", \"tcp:127.0.0.1:41234->127.0.0.1:8554\" "
          "(local->remote; local = where the packets go)", NULL, RW | GST_PARAM_MUTABLE_READY));
  /**
   * GstVdropmon:auto-discover:
   *
   * Watch the socket of every udpsrc upstream (also those rtspsrc creates
   * later) and the TCP connection of every source that fetches from a
   * server (rtspsrc, souphttpsrc, tcpclientsrc, rtmp2src). Upstream is
   * scanned again every 500 ms and at every stream-start.
   */
  g_object_class_install_property (gobject_class, PROP_AUTO_DISCOVER,
      g_param_spec_boolean ("auto-discover", "Auto discover",
          "Watch the socket of every udpsrc upstream, including those created later inside "
          "bins such as rtspsrc, and the TCP connection of every source that fetches from a "
          "server (rtspsrc, souphttpsrc, tcpclientsrc, rtmp2src)", DEFAULT_AUTO_DISCOVER,
          RW_PLAYING));
  /**
   * GstVdropmon:batch-interval:
   *
   * Drops of one reason and stream within this time (ns) after the first
   * one make one `vdropmon-drop` message; no drop waits longer to be
   * reported. A change applies to the batches already open too.
   */
  g_object_class_install_property (gobject_class, PROP_BATCH_INTERVAL,
      g_param_spec_uint64 ("batch-interval", "Batch interval",
          "Drops of one reason and stream within this time (ns) after the first one make one "
          "vdropmon-drop message; no drop waits longer to be reported",
          GST_MSECOND, 10 * GST_SECOND, 20 * GST_MSECOND, RW_PLAYING));
}

static void
install_message_properties (GObjectClass * gobject_class)
{
  /**
   * GstVdropmon:post-messages:
   *
   * Post a `vdropmon-stats` element message every #GstVdropmon:interval.
   */
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post a vdropmon-stats element message every interval", DEFAULT_POST_MESSAGES,
          RW_PLAYING));
  /**
   * GstVdropmon:interval:
   *
   * Time (ns, on the pipeline clock) between two `vdropmon-stats`
   * messages. A change takes effect at once: the next message is due one
   * new interval after the last one.
   */
  g_object_class_install_property (gobject_class, PROP_INTERVAL,
      g_param_spec_uint64 ("interval", "Interval", "Interval between vdropmon-stats messages (ns)",
          10 * GST_MSECOND, G_MAXUINT64, DEFAULT_INTERVAL, RW_PLAYING));
  /**
   * GstVdropmon:stats:
   *
   * The counters now, as an `application/x-vdropmon-stats` structure with
   * the fields of the `vdropmon-stats` message (docs/messages.md).
   */
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Counters as an application/x-vdropmon-stats structure (fields in docs/messages.md)",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstVdropmon:request-keyframe:
   *
   * When a keyframe packet is lost, send a GstForceKeyUnit event upstream
   * at once (rtpbin turns it into an RTCP PLI).
   */
  g_object_class_install_property (gobject_class, PROP_REQUEST_KEYFRAME,
      g_param_spec_boolean ("request-keyframe", "Request keyframe",
          "When a keyframe packet is lost, send a GstForceKeyUnit event upstream at once "
          "(rtpbin turns it into an RTCP PLI)", DEFAULT_REQUEST_KEYFRAME, RW_PLAYING));
  /**
   * GstVdropmon:daemon-socket:
   *
   * Unix socket of the host's collector daemon (vdropmond) for
   * collector=daemon and auto; %NULL takes the environment variable
   * `VDROPMON_DAEMON_SOCKET`, else the daemon's default path.
   */
  g_object_class_install_property (gobject_class, PROP_DAEMON_SOCKET,
      g_param_spec_string ("daemon-socket", "Daemon socket",
          "Unix socket of the collector daemon; NULL: $VDROPMON_DAEMON_SOCKET, else the "
          "default path", NULL, RW | GST_PARAM_MUTABLE_READY));
}

static void
install_detector_properties (GObjectClass * gobject_class, const vdm_monitor_config * m)
{
  const vdm_detector_config *d = &m->detector;

  /**
   * GstVdropmon:bin-duration:
   *
   * Length of one detector time bin (ns): drops are counted per bin.
   */
  g_object_class_install_property (gobject_class, PROP_BIN_DURATION,
      g_param_spec_uint64 ("bin-duration", "Bin duration",
          "Length of one detector time bin (ns)", 10 * GST_MSECOND, 10 * GST_SECOND, d->bin_ns,
          RW_PLAYING));
  /**
   * GstVdropmon:window:
   *
   * Sliding window (ns) over which the baseline drop rate is averaged.
   */
  g_object_class_install_property (gobject_class, PROP_WINDOW,
      g_param_spec_uint64 ("window", "Window",
          "Sliding window over which the baseline drop rate is averaged (ns)", 100 * GST_MSECOND,
          600 * GST_SECOND, d->window_ns, RW_PLAYING));
  /**
   * GstVdropmon:ewma-alpha:
   *
   * Weight of the newest bin in the drop-rate EWMA.
   */
  g_object_class_install_property (gobject_class, PROP_EWMA_ALPHA,
      g_param_spec_double ("ewma-alpha", "EWMA alpha",
          "Weight of the newest bin in the drop-rate EWMA", 0.01, 1.0, d->alpha, RW_PLAYING));
  /**
   * GstVdropmon:surge-factor:
   *
   * A surge is the EWMA above this many times the baseline.
   */
  g_object_class_install_property (gobject_class, PROP_SURGE_FACTOR,
      g_param_spec_double ("surge-factor", "Surge factor",
          "A surge is the EWMA above this many times the baseline", 1.0, 1000.0, d->factor,
          RW_PLAYING));
  /**
   * GstVdropmon:surge-bins:
   *
   * Consecutive bins above the threshold that make a surge.
   */
  g_object_class_install_property (gobject_class, PROP_SURGE_BINS,
      g_param_spec_uint ("surge-bins", "Surge bins",
          "Consecutive bins above the threshold that make a surge", 1, 100, d->surge_bins,
          RW_PLAYING));
  /**
   * GstVdropmon:baseline-floor:
   *
   * Lowest baseline, in drops per bin, so that a clean stream's lone drop
   * is no surge.
   */
  g_object_class_install_property (gobject_class, PROP_BASELINE_FLOOR,
      g_param_spec_double ("baseline-floor", "Baseline floor",
          "Lowest baseline, in drops per bin, so that a clean stream's lone drop is no surge",
          0.0, 1e6, d->min_drops_per_bin, RW_PLAYING));
  /**
   * GstVdropmon:critical-factor:
   *
   * EWMA above this many times the baseline makes a warning critical.
   */
  g_object_class_install_property (gobject_class, PROP_CRITICAL_FACTOR,
      g_param_spec_double ("critical-factor", "Critical factor",
          "EWMA above this many times the baseline makes a warning critical", 1.0, 1e6,
          d->critical_factor, RW_PLAYING));
  /**
   * GstVdropmon:burst-drops:
   *
   * Drops in one bin after quiet ones that make a transient burst (the
   * action is then circuit-break).
   */
  g_object_class_install_property (gobject_class, PROP_BURST_DROPS,
      g_param_spec_double ("burst-drops", "Burst drops",
          "Drops in one bin after quiet ones that make a transient burst (circuit-break)", 1.0,
          1e9, d->burst_drops, RW_PLAYING));
  /**
   * GstVdropmon:queue-fill-threshold:
   *
   * Receive-queue fill (0..1 of the socket buffer) that warns at once
   * (needs the eBPF collector).
   */
  g_object_class_install_property (gobject_class, PROP_QUEUE_FILL_THRESHOLD,
      g_param_spec_double ("queue-fill-threshold", "Queue fill threshold",
          "Receive-queue fill (0..1 of the socket buffer) that warns at once", 0.01, 1.0,
          d->queue_fill_threshold, RW_PLAYING));
  /**
   * GstVdropmon:queue-fill-warning:
   *
   * Receive-queue fill (0..1 of the socket buffer) that, seen at two
   * detector rounds in a row and not lower the second time, is the reader
   * falling behind (a CPU-starved consumer): a host warning, level
   * `warning`, before the queue overflows. 0 turns it off (needs the eBPF
   * collector, kernel 6.x with the `sk_data_ready` tracepoint).
   */
  g_object_class_install_property (gobject_class, PROP_QUEUE_FILL_WARNING,
      g_param_spec_double ("queue-fill-warning", "Queue fill warning",
          "Receive-queue fill (0..1) that, at two rounds in a row and not lower, warns that the "
          "reader falls behind; 0: off", 0.0, 1.0, d->queue_fill_warning, RW_PLAYING));
  /**
   * GstVdropmon:clear-bins:
   *
   * Quiet bins in a row after which `vdropmon-clear` is posted.
   */
  g_object_class_install_property (gobject_class, PROP_CLEAR_BINS,
      g_param_spec_uint ("clear-bins", "Clear bins",
          "Quiet bins in a row after which vdropmon-clear is posted", 1, 10000, d->clear_bins,
          RW_PLAYING));
  /**
   * GstVdropmon:warning-interval:
   *
   * Least time (ns) between two warnings: the circuit-break window for
   * bursts.
   */
  g_object_class_install_property (gobject_class, PROP_WARNING_INTERVAL,
      g_param_spec_uint64 ("warning-interval", "Warning interval",
          "Least time between two warnings (ns): the circuit-break window for bursts", 0,
          60 * GST_SECOND, d->min_warning_interval_ns, RW_PLAYING));
  /**
   * GstVdropmon:playout-buffer:
   *
   * Media the player holds before the screen (ns); 0 takes the pipeline
   * latency, else a jitterbuffer's latency found nearby. Arrival lagging
   * behind media time eats it (see #GstVdropmon:runway-threshold); it also
   * gives the warnings' `stall-eta`.
   */
  g_object_class_install_property (gobject_class, PROP_PLAYOUT_BUFFER,
      g_param_spec_uint64 ("playout-buffer", "Playout buffer",
          "Media the player holds before the screen (ns); 0 takes the pipeline latency. "
          "Arrival lagging behind media time eats it (see runway-threshold)", 0,
          600 * GST_SECOND, m->playout_buffer_ns, RW_PLAYING));
  /**
   * GstVdropmon:runway-threshold:
   *
   * Warn when, at the current growth of the arrival lag, the playout
   * buffer runs dry within this time (ns): throughput under the stream's
   * bitrate, before any packet is lost.
   */
  g_object_class_install_property (gobject_class, PROP_RUNWAY_THRESHOLD,
      g_param_spec_uint64 ("runway-threshold", "Runway threshold",
          "Warn when, at the current growth of the arrival lag, the playout buffer runs dry "
          "within this time (ns): throughput under the stream's bitrate", 0, 600 * GST_SECOND,
          m->runway_threshold_ns, RW_PLAYING));
  /**
   * GstVdropmon:silence-threshold:
   *
   * No packet arriving for this long (ns, and at least 3 frame intervals)
   * while PLAYING warns of an outage. It is the ceiling of the stall
   * threshold, which follows the stream's own pauses (twice the 99th
   * percentile of its last 256 inter-burst gaps, 60 ms at least): a 30 fps
   * stream's stall is declared after ~70-100 ms; this is the limit for
   * streams whose pauses are long.
   */
  g_object_class_install_property (gobject_class, PROP_SILENCE_THRESHOLD,
      g_param_spec_uint64 ("silence-threshold", "Silence threshold",
          "No packet arriving for this long (ns, at least 3 frame intervals) warns of an outage; "
          "the ceiling of the adaptive stall threshold",
          10 * GST_MSECOND, 60 * GST_SECOND, m->silence_threshold_ns, RW_PLAYING));
}

/* The thresholds of the issue-12 predictions (stream_monitor_predict.c). */
static void
install_prediction_properties (GObjectClass * gobject_class, const vdm_monitor_config * m)
{
  /**
   * GstVdropmon:congestion-sustain:
   *
   * How long (ns) the delay-gradient detector must see a bottleneck queue
   * building up ("overusing") before that is a warning (cause `network`,
   * action `lower-bitrate`). Shorter warns earlier on a slow build-up and
   * more often on a keyframe that queues for a moment on a link just above
   * the bitrate; 0 warns at the first overuse.
   */
  g_object_class_install_property (gobject_class, PROP_CONGESTION_SUSTAIN,
      g_param_spec_uint64 ("congestion-sustain", "Congestion sustain",
          "How long (ns) a bottleneck queue must be seen building up (delay gradient) before "
          "it warns", 0, 60 * GST_SECOND, m->congestion_sustain_ns, RW_PLAYING));
  /**
   * GstVdropmon:congestion-min-delay:
   *
   * Queue delay (ns) the delay-gradient detector must also have estimated
   * before a build-up is a warning; 0 takes a quarter of the playout
   * buffer, within 40-80 ms (a keyframe through a link 1.3x the bitrate
   * queues ~50 ms).
   */
  g_object_class_install_property (gobject_class, PROP_CONGESTION_MIN_DELAY,
      g_param_spec_uint64 ("congestion-min-delay", "Congestion minimum delay",
          "Queue delay (ns) needed before a build-up warns; 0: a quarter of the playout buffer, "
          "within 40-80 ms", 0, 60 * GST_SECOND, m->congestion_min_delay_ns, RW_PLAYING));
  /**
   * GstVdropmon:stall-floor:
   *
   * Lowest stall threshold (ns). Nothing arriving for twice the 99th
   * percentile of the stream's own pauses is a stall, but never sooner
   * than this; #GstVdropmon:silence-threshold is the ceiling. Default
   * 100 ms: shorter silences are common on a loaded sender or path, and a
   * stall is declared when its threshold passes (not at the next detector
   * bin). A late reader thread is no stall whatever the floor (the kernel
   * is asked whether the udpsrc sockets hold unread packets). Lower it for
   * a high frame rate and a small buffer if the path is quiet.
   */
  g_object_class_install_property (gobject_class, PROP_STALL_FLOOR,
      g_param_spec_uint64 ("stall-floor", "Stall floor",
          "Lowest stall threshold (ns): nothing arriving for twice the stream's 99th-percentile "
          "pause, but never less than this, is a stall", GST_MSECOND, 60 * GST_SECOND,
          m->stall_floor_ns, RW_PLAYING));
  /**
   * GstVdropmon:renew-after:
   *
   * An arrival deficit (stall, runway, queue build-up) that starts again
   * this long (ns) after the last one ended warns again inside the open
   * episode, although its cause was already reported: a new freeze on its
   * way. So does a deficit that never ended (a long congestion) once the
   * freeze its last warning predicted has come (the modelled jitterbuffer
   * restarted, or the predicted time passed) and another is predicted at
   * least this far ahead, at least this long after the last warning.
   * 0: never for a freeze predicted again.
   */
  g_object_class_install_property (gobject_class, PROP_RENEW_AFTER,
      g_param_spec_uint64 ("renew-after", "Renew after",
          "An arrival deficit starting again this long (ns) after the last one, or a new freeze "
          "predicted this far ahead after the last one came, warns again within the episode; "
          "0: never", 0, 600 * GST_SECOND, m->detector.renew_after_ns,
          RW_PLAYING));
}

void
vdm_props_install (GObjectClass * gobject_class)
{
  vdm_monitor_config defaults;

  vdm_monitor_config_init (&defaults);
  install_source_properties (gobject_class);
  install_message_properties (gobject_class);
  install_detector_properties (gobject_class, &defaults);
  install_prediction_properties (gobject_class, &defaults);
}

/* ------------------------------------------------------------------------ */
/* Setting and getting.                                                      */

/* Settings of the monitor; returns FALSE for any other property. */
static gboolean
set_monitor_property (vdm_monitor_config * m, guint prop_id, const GValue * value)
{
  vdm_detector_config *c = &m->detector;

  switch (prop_id) {
    case PROP_BATCH_INTERVAL:
      m->batch_interval_ns = g_value_get_uint64 (value);
      break;
    case PROP_SILENCE_THRESHOLD:
      m->silence_threshold_ns = g_value_get_uint64 (value);
      break;
    case PROP_PLAYOUT_BUFFER:
      m->playout_buffer_ns = g_value_get_uint64 (value);
      break;
    case PROP_RUNWAY_THRESHOLD:
      m->runway_threshold_ns = g_value_get_uint64 (value);
      break;
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
    case PROP_QUEUE_FILL_WARNING:
      c->queue_fill_warning = g_value_get_double (value);
      break;
    case PROP_CLEAR_BINS:
      c->clear_bins = g_value_get_uint (value);
      break;
    case PROP_WARNING_INTERVAL:
      c->min_warning_interval_ns = g_value_get_uint64 (value);
      break;
    case PROP_CONGESTION_SUSTAIN:
      m->congestion_sustain_ns = g_value_get_uint64 (value);
      break;
    case PROP_CONGESTION_MIN_DELAY:
      m->congestion_min_delay_ns = g_value_get_uint64 (value);
      break;
    case PROP_STALL_FLOOR:
      m->stall_floor_ns = g_value_get_uint64 (value);
      break;
    case PROP_RENEW_AFTER:
      c->renew_after_ns = g_value_get_uint64 (value);
      break;
    default:
      return FALSE;
  }
  return TRUE;
}

static gboolean
get_monitor_property (const vdm_monitor_config * m, guint prop_id, GValue * value)
{
  const vdm_detector_config *c = &m->detector;

  switch (prop_id) {
    case PROP_BATCH_INTERVAL:
      g_value_set_uint64 (value, m->batch_interval_ns);
      break;
    case PROP_SILENCE_THRESHOLD:
      g_value_set_uint64 (value, m->silence_threshold_ns);
      break;
    case PROP_PLAYOUT_BUFFER:
      g_value_set_uint64 (value, m->playout_buffer_ns);
      break;
    case PROP_RUNWAY_THRESHOLD:
      g_value_set_uint64 (value, m->runway_threshold_ns);
      break;
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
    case PROP_QUEUE_FILL_WARNING:
      g_value_set_double (value, c->queue_fill_warning);
      break;
    case PROP_CLEAR_BINS:
      g_value_set_uint (value, c->clear_bins);
      break;
    case PROP_WARNING_INTERVAL:
      g_value_set_uint64 (value, c->min_warning_interval_ns);
      break;
    case PROP_CONGESTION_SUSTAIN:
      g_value_set_uint64 (value, m->congestion_sustain_ns);
      break;
    case PROP_CONGESTION_MIN_DELAY:
      g_value_set_uint64 (value, m->congestion_min_delay_ns);
      break;
    case PROP_STALL_FLOOR:
      g_value_set_uint64 (value, m->stall_floor_ns);
      break;
    case PROP_RENEW_AFTER:
      g_value_set_uint64 (value, c->renew_after_ns);
      break;
    default:
      return FALSE;
  }
  return TRUE;
}

static gboolean
set_element_property (GstVdropmon * self, guint prop_id, const GValue * value)
{
  switch (prop_id) {
    case PROP_COLLECTOR:
      self->collector_mode = g_value_get_enum (value);
      break;
    case PROP_WATCH:
      g_free (self->watch);
      self->watch = g_value_dup_string (value);
      break;
    case PROP_DAEMON_SOCKET:
      g_free (self->daemon_socket);
      self->daemon_socket = g_value_dup_string (value);
      break;
    case PROP_AUTO_DISCOVER:
      self->auto_discover = g_value_get_boolean (value);
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean (value);
      break;
    case PROP_INTERVAL:
      self->interval = g_value_get_uint64 (value);
      break;
    case PROP_REQUEST_KEYFRAME:
      self->request_keyframe = g_value_get_boolean (value);
      break;
    default:
      return FALSE;
  }
  return TRUE;
}

static gboolean
get_element_property (GstVdropmon * self, guint prop_id, GValue * value)
{
  switch (prop_id) {
    case PROP_COLLECTOR:
      g_value_set_enum (value, self->collector_mode);
      break;
    case PROP_WATCH:
      g_value_set_string (value, self->watch);
      break;
    case PROP_DAEMON_SOCKET:
      g_value_set_string (value, self->daemon_socket);
      break;
    case PROP_AUTO_DISCOVER:
      g_value_set_boolean (value, self->auto_discover);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_INTERVAL:
      g_value_set_uint64 (value, self->interval);
      break;
    case PROP_REQUEST_KEYFRAME:
      g_value_set_boolean (value, self->request_keyframe);
      break;
    default:
      return FALSE;
  }
  return TRUE;
}

void
vdm_props_set (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstVdropmon *self = GST_VDROPMON (object);

  g_mutex_lock (&self->lock);
  if (set_monitor_property (&self->config, prop_id, value)) {
    /* gap grace is the collector's business, not a property: keep it */
    vdm_monitor_config current;
    vdm_stream_monitor_get_config (self->monitor, &current);
    self->config.gap_grace_ns = current.gap_grace_ns;
    vdm_stream_monitor_set_config (self->monitor, &self->config);
  } else if (!set_element_property (self, prop_id, value)) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
  /* deadlines may have moved closer (issue 9 #5) */
  vdm_wake_worker_locked (self);
  g_mutex_unlock (&self->lock);
}

void
vdm_props_get (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstVdropmon *self = GST_VDROPMON (object);

  if (prop_id == PROP_STATS) {
    vdm_collector_refresh_counters (self);
    g_value_take_boxed (value, vdm_build_stats (self, VDM_STATS_STRUCTURE));
    return;
  }
  g_mutex_lock (&self->lock);
  if (!get_monitor_property (&self->config, prop_id, value)
      && !get_element_property (self, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  g_mutex_unlock (&self->lock);
}
