/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmon_worker.c — the element's own thread. It wakes when a batch of
 * drops is due, at every detector bin, every stats interval and every
 * rescan; closes batches, places them on the pipeline's timeline, runs the
 * detector and posts the bus messages. Nothing here runs on a streaming
 * thread.
 */
#include "gstvdropmon_priv.h"

#include <gst/video/video.h>
#include <string.h>

#define GST_CAT_DEFAULT vdropmon_debug
#define RESCAN_PERIOD (500 * GST_MSECOND)
/* How long an arrival gap waits for the kernel to name its packets. */
#define GAP_GRACE_WITH_KERNEL (50 * GST_MSECOND)
/* Receive-queue fill above which a growing arrival lag is our own. */
#define HOST_QUEUE_FILL 0.5

static const gint height_ladder[] = { 2160, 1440, 1080, 720, 540, 480, 360, 240 };

void
vdm_worker_wake_locked (GstVdropmon * self)
{
  self->wake = TRUE;
  g_cond_signal (&self->cond);
}

/* The media the player holds: playout-buffer, else the pipeline latency,
 * else a jitterbuffer's latency found around us. */
static GstClockTime
playout_buffer_locked (GstVdropmon * self)
{
  if (self->playout_buffer)
    return self->playout_buffer;
  if (GST_CLOCK_TIME_IS_VALID (self->episode.latency) && self->episode.latency > 0)
    return self->episode.latency;
  return self->episode.buffer_latency;
}

/* ------------------------------------------------------------------------ */
/* Kernel drops, on the collector thread.                                    */

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
feed_detector_locked (GstVdropmon * self, const vdm_drop * drop, gboolean keyframe)
{
  vdm_cause cause = vdm_cause_of_reason (drop->reason_name);
  guint64 t = vdm_mono_to_detector_locked (self, drop->ktime_ns);

  vdm_detector_add_drops (self->detector, t, cause ? cause : VDM_CAUSE_NETWORK, 1);
  if (keyframe)
    vdm_detector_keyframe_lost (self->detector, t);
  self->episode.reasons_seen[MIN (drop->reason, VDM_REASON_SLOTS - 1)]++;
  /* TCP retransmits what it drops: delay, not damage (the runway sees it) */
  if (drop->flow.protocol != 6 && !GST_CLOCK_TIME_IS_VALID (self->episode.first_damage))
    self->episode.first_damage = t;
}

void
vdm_on_kernel_drop (void *user_data, const vdm_drop * drop)
{
  GstVdropmon *self = user_data;
  vdm_rtp_header rtp;
  guint64 before;
  vdm_drop_record record = {
    .source = drop_source_of_protocol (drop->flow.protocol),
    .watch_id = drop->watch_id,
    .reason = drop->reason,
    .reason_name = drop->reason_name,
    .time_ns = drop->ktime_ns,
    .count = drop->count > 1 ? drop->count : 1,
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
    vdm_gap_reconciler_kernel_drop (self->gaps, rtp.ssrc, rtp.seq);
  }
  before = vdm_drop_batcher_next_deadline (self->batcher);
  vdm_drop_batcher_add (self->batcher, &record, vdm_monotonic_ns ());
  /* A catch-up is history (drops while the daemon was away, or before the
   * watch): reported and counted, but no surge now. */
  if (drop->attributed_by != VDM_ATTR_CATCH_UP)
    feed_detector_locked (self, drop, record.keyframe_packet);
  /* Wake only for what cannot wait: an earlier deadline or a keyframe. */
  if (record.keyframe_packet || vdm_drop_batcher_next_deadline (self->batcher) < before)
    vdm_worker_wake_locked (self);
  g_mutex_unlock (&self->lock);
}

/* ------------------------------------------------------------------------ */
/* Batches → vdropmon-drop.                                                   */

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

/* Batcher callback, under lock: place the batch on the timeline now, while
 * the frame map still remembers its frames. */
void
vdm_on_batch_ready (const vdm_drop_batch * batch, void *user_data)
{
  GstVdropmon *self = user_data;
  VdmDropReport report = { 0 };
  const VdmWatch *watch = vdm_watch_find_locked (self, batch->watch_id);

  report.batch = *batch;
  report.running_time = vdm_clock_map_running_time (&self->clock_map, batch->first_time_ns);
  report.pts_first = report.pts_last = GST_CLOCK_TIME_NONE;
  report.keyframe = batch->keyframe;
  if (batch->has_rtp && batch->n_frames) {
    place_rtp_batch_locked (self, &report);
  } else {
    report.pts_first = vdm_frame_map_lookup_arrival (self->frames, report.running_time);
    report.pts_last = vdm_frame_map_lookup_arrival (self->frames,
        vdm_clock_map_running_time (&self->clock_map, batch->last_time_ns));
  }
  g_strlcpy (report.flow, watch ? watch->flow : "", sizeof (report.flow));
  g_array_append_val (self->ready_reports, report);
}

/* Refreshes a watch's counters; returns the ring-buffer losses since the
 * previous call. Event-source call, so without our lock. */
static guint64
refresh_watch_counters (GstVdropmon * self, guint32 watch_id)
{
  vdm_counters counters;
  guint64 delta = 0;
  guint i;

  if (!self->source || !watch_id || vdm_source_counters (self->source, watch_id, &counters) < 0)
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
post_structure (GstVdropmon * self, GstStructure * s)
{
  GST_DEBUG_OBJECT (self, "%" GST_PTR_FORMAT, s);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

static void
post_reports (GstVdropmon * self, GArray * reports)
{
  guint i;

  for (i = 0; i < reports->len; i++) {
    VdmDropReport *report = &g_array_index (reports, VdmDropReport, i);

    if (report->batch.source != VDM_DROP_SOURCE_RTP_GAP)
      report->events_lost = refresh_watch_counters (self, report->batch.watch_id);
    post_structure (self, vdm_drop_report_to_structure (report));
    g_mutex_lock (&self->lock);
    self->drop_messages++;
    g_mutex_unlock (&self->lock);
  }
}

/* EOS, on the streaming thread: every drop known so far is posted before
 * EOS moves on, so an application that quits on EOS misses none. */
void
vdm_post_pending_drops (GstVdropmon * self)
{
  GArray *reports;

  g_mutex_lock (&self->lock);
  vdm_settle_gaps_locked (self, G_MAXUINT64, 0);
  vdm_drop_batcher_flush_all (self->batcher);
  reports = self->ready_reports;
  self->ready_reports = g_array_new (FALSE, TRUE, sizeof (VdmDropReport));
  g_mutex_unlock (&self->lock);
  post_reports (self, reports);
  g_array_unref (reports);
}

/* ------------------------------------------------------------------------ */
/* Stats.                                                                     */

/* The watch ids, copied under the lock so that the event source can be
 * asked about each of them without it. */
static GArray *
copy_watch_ids (GstVdropmon * self)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  guint i;

  g_mutex_lock (&self->lock);
  for (i = 0; i < self->watches->len; i++)
    g_array_append_val (ids, g_array_index (self->watches, VdmWatch, i).watch_id);
  g_mutex_unlock (&self->lock);
  return ids;
}

static void
refresh_queue_fill (GstVdropmon * self, gboolean for_detector)
{
  GArray *ids = copy_watch_ids (self);
  int peak = -1;
  guint i;

  for (i = 0; self->source && i < ids->len; i++) {
    /* reads and resets the kernel's peak: call once (not inside MAX) */
    int p = vdm_source_queue_peak (self->source, g_array_index (ids, guint32, i));
    peak = MAX (peak, p);
  }
  g_mutex_lock (&self->lock);
  self->queue_fill_recent = peak / 1000.0;
  if (peak >= 0) {
    self->queue_fill_peak = MAX (self->queue_fill_peak, peak / 1000.0);
    if (for_detector)
      vdm_detector_queue_fill (self->detector, vdm_now_locked (self), peak / 1000.0);
  }
  g_mutex_unlock (&self->lock);
  g_array_unref (ids);
}

void
vdm_refresh_kernel_counters (GstVdropmon * self)
{
  GArray *ids = copy_watch_ids (self);
  guint i;

  for (i = 0; i < ids->len; i++)
    refresh_watch_counters (self, g_array_index (ids, guint32, i));
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

static void
fill_stream_stats_locked (GstVdropmon * self, VdmStatsSnapshot * snap)
{
  vdm_seq_stats seq;
  guint64 expected;

  vdm_seq_tracker_stats (self->seqs, &seq);
  snap->buffers = self->buffers;
  snap->rtp_packets = self->rtp_packets;
  snap->rtp_lost = seq.lost;
  snap->rtp_reordered = seq.reordered;
  snap->rtp_duplicates = seq.duplicates;
  expected = seq.received + seq.lost;
  snap->loss_fraction = expected ? (gdouble) seq.lost / expected : 0.0;
  snap->jitter_ms = vdm_arrival_stats_jitter_ms (&self->arrival);
  snap->fid_ms = self->fid_mean_ms;
  snap->fid_max_ms = self->fid_max_ms;
  snap->bitrate = self->bitrate;
  snap->queue_fill_peak = self->queue_fill_peak;
  snap->drop_messages = self->drop_messages;
  snap->warnings = self->warnings_posted;
  snap->keyframe_requests_sent = self->episode.keyframe_requests_sent;
  snap->keyframe_requests_seen = self->episode.keyframe_requests_seen;
  snap->detector_state = vdm_level_name (vdm_detector_level (self->detector));
  snap->lag_ms = vdm_runway_lag (&self->runway) / 1e6;
  snap->runway_ms = -1.0;
  if (GST_CLOCK_TIME_IS_VALID (playout_buffer_locked (self)) && playout_buffer_locked (self)) {
    guint64 empty_in = vdm_runway_time_to_empty (&self->runway, playout_buffer_locked (self));
    if (empty_in != VDM_TIME_NONE)
      snap->runway_ms = empty_in / 1e6;
  }
  vdm_detector_snapshot (self->detector, &snap->ewma, &snap->baseline);
}

GstStructure *
vdm_build_stats (GstVdropmon * self, const gchar * name)
{
  VdmStatsSnapshot snap = { 0 };
  vdm_source_info info = { 0 };
  GstStructure *s;
  guint i;

  snap.flows = g_ptr_array_new_with_free_func (g_free);
  g_mutex_lock (&self->lock);
  if (self->source)             /* cheap, no I/O: the daemon source says if it reconnects */
    vdm_source_get_info (self->source, &info);
  snap.collector = self->source ? info.name : "none";
  snap.collector_status = info.status ? info.status
      : self->collector_status ? self->collector_status : "disabled";
  add_counters (&snap, &self->retired);
  for (i = 0; i < self->watches->len; i++) {
    const VdmWatch *w = &g_array_index (self->watches, VdmWatch, i);
    g_ptr_array_add (snap.flows, g_strdup (w->flow));
    add_counters (&snap, &w->last_counters);
  }
  for (i = 0; self->source && i < VDM_REASON_SLOTS; i++)
    snap.reason_names[i] = snap.per_reason[i] ? vdm_source_reason_name (self->source, i) : NULL;
  fill_stream_stats_locked (self, &snap);
  s = vdm_stats_to_structure (&snap, name);
  g_mutex_unlock (&self->lock);
  g_ptr_array_unref (snap.flows);
  return s;
}

/* Per stats interval: FID, bitrate, then the message. */
static void
post_stats (GstVdropmon * self, guint64 interval_ns)
{
  gboolean post;

  vdm_refresh_kernel_counters (self);
  g_mutex_lock (&self->lock);
  vdm_arrival_stats_take_fid (&self->arrival, &self->fid_mean_ms, &self->fid_max_ms);
  self->bitrate = interval_ns ? self->arrival_bytes * 8.0 * GST_SECOND / interval_ns : 0;
  self->arrival_bytes = 0;
  g_mutex_unlock (&self->lock);
  GST_OBJECT_LOCK (self);
  post = self->post_messages;
  GST_OBJECT_UNLOCK (self);
  if (post)
    post_structure (self, vdm_build_stats (self, VDM_STATS_MESSAGE));
  g_mutex_lock (&self->lock);
  self->queue_fill_peak = -1.0;
  g_mutex_unlock (&self->lock);
}

/* ------------------------------------------------------------------------ */
/* Detector → vdropmon-warning / vdropmon-clear.                               */

static void
format_reasons_locked (GstVdropmon * self, gchar * buf, gsize len)
{
  guint slot;

  buf[0] = '\0';
  for (slot = 0; self->source && slot < VDM_REASON_SLOTS; slot++) {
    if (!self->episode.reasons_seen[slot])
      continue;
    if (buf[0])
      g_strlcat (buf, ",", len);
    g_strlcat (buf, vdm_source_reason_name (self->source, slot), len);
  }
  if (self->episode.gap_seen) {
    if (buf[0])
      g_strlcat (buf, ",", len);
    g_strlcat (buf, "RTP_SEQ_GAP", len);
  }
}

static gint
suggested_height (gint height)
{
  guint i;

  if (height <= 0)
    return -1;
  for (i = 0; i < G_N_ELEMENTS (height_ladder); i++)
    if (height_ladder[i] < height)
      return height_ladder[i];
  return height;
}

/* Until the damaged data reaches the sink: a live sink renders what arrived
 * at time t at t + latency (the playout buffer). 0 when already there,
 * NONE if unknown. */
static GstClockTime
stall_eta_locked (GstVdropmon * self, guint64 now)
{
  GstClockTime damage = self->episode.first_damage;
  GstClockTime latency = playout_buffer_locked (self);
  GstClockTime due;

  if (!GST_CLOCK_TIME_IS_VALID (latency))
    return GST_CLOCK_TIME_NONE;
  if (!GST_CLOCK_TIME_IS_VALID (damage) || damage > now)
    damage = now;               /* queue fill: the next frames */
  due = damage + latency;
  return due > now ? due - now : 0;
}

static GstStructure *
warning_structure_locked (GstVdropmon * self, const vdm_detector_event * ev)
{
  gchar causes[96], reasons[256];
  gint bitrate = -1;

  vdm_causes_format (ev->causes, causes, sizeof (causes));
  format_reasons_locked (self, reasons, sizeof (reasons));
  if (ev->action == VDM_ACTION_LOWER_BITRATE && self->bitrate > 0)
    bitrate = (gint) MIN (self->bitrate * 0.7, G_MAXINT);
  return gst_structure_new (VDM_WARNING_MESSAGE,
      "level", G_TYPE_STRING, vdm_level_name (ev->level),
      "cause", G_TYPE_STRING, causes,
      "reasons", G_TYPE_STRING, reasons,
      "action", G_TYPE_STRING, vdm_action_name (ev->action),
      "drop-rate", G_TYPE_DOUBLE, ev->drop_rate,
      "ewma", G_TYPE_DOUBLE, ev->ewma,
      "baseline", G_TYPE_DOUBLE, ev->baseline,
      "stall-eta", G_TYPE_UINT64, stall_eta_locked (self, ev->time_ns),
      "detect-time", G_TYPE_UINT64, ev->time_ns,
      "running-time", G_TYPE_UINT64, vdm_running_time_locked (self, ev->time_ns),
      "suggested-height", G_TYPE_INT, suggested_height (self->episode.height),
      "suggested-bitrate", G_TYPE_INT, bitrate, NULL);
}

static GstStructure *
clear_structure_locked (GstVdropmon * self, const vdm_detector_event * ev)
{
  gchar causes[96];

  vdm_causes_format (ev->causes, causes, sizeof (causes));
  return gst_structure_new (VDM_CLEAR_MESSAGE,
      "cause", G_TYPE_STRING, causes,
      "duration", G_TYPE_UINT64, ev->time_ns - MIN (ev->time_ns, ev->episode_start_ns),
      "drops", G_TYPE_UINT64, ev->episode_drops,
      "detect-time", G_TYPE_UINT64, ev->time_ns,
      "running-time", G_TYPE_UINT64, vdm_running_time_locked (self, ev->time_ns),
      NULL);
}

static void
reset_episode_locked (GstVdropmon * self)
{
  memset (self->episode.reasons_seen, 0, sizeof (self->episode.reasons_seen));
  self->episode.gap_seen = FALSE;
  self->episode.first_damage = GST_CLOCK_TIME_NONE;
}

static void
request_keyframe (GstVdropmon * self)
{
  GstEvent *event = gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE, 0);

  GST_INFO_OBJECT (self, "requesting a keyframe upstream");
  if (gst_pad_push_event (GST_BASE_TRANSFORM_SINK_PAD (self), event)) {
    g_mutex_lock (&self->lock);
    self->episode.keyframe_requests_sent++;
    g_mutex_unlock (&self->lock);
  }
}

/* A jitterbuffer (rtspsrc over TCP) releases its first latency's worth of
 * packets at once: that burst is no best offset to measure lag from. The
 * runway starts over once, two buffers (at least 1 s) into the stream, and
 * only then may it warn. */
static gboolean
runway_settled_locked (GstVdropmon * self, guint64 now, GstClockTime buffer)
{
  GstClockTime warmup = MAX (GST_SECOND, 2 * buffer);

  if (self->runway_settled)
    return TRUE;
  if (!self->runway.started || now < self->runway.start_ns + warmup)
    return FALSE;
  vdm_runway_init (&self->runway);
  self->runway_settled = TRUE;
  return FALSE;
}

/* Media arriving ever later will empty the playout buffer within
 * runway-threshold: *empty_in says when. Lag under a tenth of the buffer
 * (or 20 ms) is jitter, not a trend. */
static gboolean
is_starving_locked (GstVdropmon * self, guint64 now, GstClockTime * empty_in)
{
  GstClockTime buffer = playout_buffer_locked (self);
  gint64 lag;

  if (!GST_CLOCK_TIME_IS_VALID (buffer) || buffer == 0 || !runway_settled_locked (self, now,
          buffer))
    return FALSE;
  lag = vdm_runway_lag (&self->runway);
  *empty_in = vdm_runway_time_to_empty (&self->runway, buffer);
  return *empty_in != VDM_TIME_NONE && *empty_in <= self->runway_threshold
      && lag >= (gint64) MAX (20 * GST_MSECOND, buffer / 10);
}

/* Arrival deficit — silence, or a runway about to end — is a state the
 * detector is told about when it starts and ends. */
static void
check_arrival_deficit_locked (GstVdropmon * self, guint64 now)
{
  GstClockTime empty_in = GST_CLOCK_TIME_NONE;
  gboolean starving = is_starving_locked (self, now, &empty_in);
  gboolean deficit;

  self->silent = vdm_arrival_stats_is_silent (&self->arrival, now, self->silence_threshold);
  deficit = self->silent || starving;
  if (deficit == self->deficit)
    return;
  self->deficit = deficit;
  /* Media arriving late while our own receive queue is filling waits in
   * this host, not on the network: the reader is too slow. */
  vdm_detector_arrival_deficit (self->detector, now, deficit,
      !self->silent && self->queue_fill_recent >= HOST_QUEUE_FILL ? VDM_CAUSE_HOST
      : VDM_CAUSE_NETWORK);
  if (!deficit || GST_CLOCK_TIME_IS_VALID (self->episode.first_damage))
    return;
  if (self->silent)             /* what did not arrive was due right after the last packet */
    self->episode.first_damage = self->arrival.last_arrival_ns;
  else                          /* the buffer is empty in empty_in: damage due then */
    self->episode.first_damage = now + empty_in - MIN (now + empty_in,
        playout_buffer_locked (self));
}

/* Runs the detector to now; returns the messages to post and whether to
 * ask for a keyframe. */
static GPtrArray *
run_detector_locked (GstVdropmon * self, guint64 now, gboolean * want_keyframe)
{
  GPtrArray *messages = g_ptr_array_new ();
  vdm_detector_event events[8];
  unsigned n, i;

  if (!self->clock)
    return messages;            /* no time base yet (not PLAYING) */
  check_arrival_deficit_locked (self, now);
  n = vdm_detector_advance (self->detector, now, events, G_N_ELEMENTS (events));
  for (i = 0; i < n; i++) {
    if (events[i].type == VDM_DETECTOR_WARNING) {
      g_ptr_array_add (messages, warning_structure_locked (self, &events[i]));
      *want_keyframe |= events[i].action == VDM_ACTION_REQUEST_KEYFRAME && self->request_keyframe;
      self->warnings_posted++;
      self->episode.first_damage = GST_CLOCK_TIME_NONE;
    } else {
      g_ptr_array_add (messages, clear_structure_locked (self, &events[i]));
      reset_episode_locked (self);
    }
  }
  return messages;
}

static void
apply_detector_config_locked (GstVdropmon * self)
{
  vdm_detector_config config;

  if (!self->detector_config_changed)
    return;
  GST_OBJECT_LOCK (self);
  config = self->detector_config;
  GST_OBJECT_UNLOCK (self);
  vdm_detector_set_config (self->detector, &config);
  self->detector_config_changed = FALSE;
}

/* ------------------------------------------------------------------------ */
/* The loop.                                                                  */

static void
refresh_clock_map_locked (GstVdropmon * self)
{
  GstClock *clock = gst_element_get_clock (GST_ELEMENT (self));
  guint64 before, after;
  GstClockTime now;

  if (clock != self->clock) {
    /* A new time base (first clock at PLAYING, or another one): what the
     * detector and arrival stats learned on the old one does not compare. */
    GST_DEBUG_OBJECT (self, "detector time base is now %" GST_PTR_FORMAT, clock);
    vdm_detector_reset (self->detector);
    vdm_arrival_stats_init (&self->arrival, self->arrival.clock_rate);
    self->silent = FALSE;
  }
  gst_clear_object (&self->clock);
  if (!clock) {
    self->clock_map.valid = false;
    return;
  }
  before = vdm_monotonic_ns ();
  now = gst_clock_get_time (clock);
  after = vdm_monotonic_ns ();
  self->base_time = gst_element_get_base_time (GST_ELEMENT (self));
  vdm_clock_map_update (&self->clock_map, before + (after - before) / 2, now, self->base_time);
  self->clock = clock;          /* keeps the reference */
}

/* Arrival gaps the kernel had time to explain become RTP-gap drops; at the
 * end, all of them. */
static void
settle_gaps_locked (GstVdropmon * self, guint64 now, gboolean final)
{
  if (final)
    vdm_settle_gaps_locked (self, G_MAXUINT64, 0);
  else
    vdm_settle_gaps_locked (self, now, self->source ? GAP_GRACE_WITH_KERNEL : 0);
}

static guint64
next_wakeup_locked (GstVdropmon * self)
{
  guint64 wake = MIN (self->next_rescan_ns, self->next_stats_ns);
  guint64 gap = vdm_gap_reconciler_oldest (self->gaps);

  wake = MIN (wake, self->next_bin_ns);
  if (gap != G_MAXUINT64)
    wake = MIN (wake, gap + (self->source ? GAP_GRACE_WITH_KERNEL : 0));
  return MIN (wake, vdm_drop_batcher_next_deadline (self->batcher));
}

typedef struct
{
  GArray *reports;
  GPtrArray *messages;
  gboolean rescan, stats, want_keyframe;
  guint64 stats_interval;
} Round;

static void
collect_round_locked (GstVdropmon * self, gboolean final, Round * r)
{
  guint64 now = vdm_monotonic_ns ();

  refresh_clock_map_locked (self);
  apply_detector_config_locked (self);
  settle_gaps_locked (self, now, final);
  if (final)
    vdm_drop_batcher_flush_all (self->batcher);
  else
    vdm_drop_batcher_flush_due (self->batcher, now);
  r->reports = self->ready_reports;
  self->ready_reports = g_array_new (FALSE, TRUE, sizeof (VdmDropReport));
  r->messages = run_detector_locked (self, vdm_now_locked (self), &r->want_keyframe);
  self->next_bin_ns = now + self->detector_config.bin_ns;
  r->rescan = !final && (self->rescan_requested || now >= self->next_rescan_ns);
  if (r->rescan) {
    self->rescan_requested = FALSE;
    self->next_rescan_ns = now + RESCAN_PERIOD;
  }
  r->stats = !final && now >= self->next_stats_ns;
  if (r->stats) {
    GST_OBJECT_LOCK (self);
    r->stats_interval = self->interval;
    GST_OBJECT_UNLOCK (self);
    self->next_stats_ns = vdm_time_add (now, r->stats_interval);
  }
}

static gboolean
auto_discover (GstVdropmon * self)
{
  gboolean enabled;

  GST_OBJECT_LOCK (self);
  enabled = self->auto_discover;
  GST_OBJECT_UNLOCK (self);
  return enabled;
}

/* One round, entered and left with the lock held; the posting and the
 * event-source calls happen with it released. */
static void
worker_round_locked (GstVdropmon * self, gboolean final)
{
  Round r = { 0 };
  guint i;

  collect_round_locked (self, final, &r);
  g_mutex_unlock (&self->lock);

  if (!final && self->source)
    refresh_queue_fill (self, TRUE);
  post_reports (self, r.reports);
  for (i = 0; i < r.messages->len; i++)
    post_structure (self, g_ptr_array_index (r.messages, i));
  if (r.want_keyframe)
    request_keyframe (self);
  if (r.rescan && auto_discover (self))
    vdm_watch_rescan (self);
  if (r.stats)
    post_stats (self, r.stats_interval);
  g_array_unref (r.reports);
  g_ptr_array_unref (r.messages);
  g_mutex_lock (&self->lock);
}

gpointer
vdm_worker_main (gpointer data)
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
