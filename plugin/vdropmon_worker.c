/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmon_worker.c — the element's rounds, run by the process's shared
 * worker thread (vdropmon_shared_worker.c). A round only schedules and
 * posts: it keeps the monitor's clock map and time base, ticks the monitor
 * when something is due (a batch, a gap's grace, a detector bin, a stats
 * interval, a rescan), and posts what the monitor has to say. Nothing here
 * runs on a streaming thread (but EOS's vdm_worker_post_pending).
 */
#include "gstvdropmon_priv.h"
#include "vdropmon_shared_worker.h"

#include <gst/video/video.h>
#include <string.h>

#define GST_CAT_DEFAULT vdropmon_debug
#define RESCAN_PERIOD (500 * GST_MSECOND)
#define MAX_ALERTS_PER_ROUND 16

/* What one round has to do once the lock is released. */
typedef struct
{
  GArray *reports;              /* VdmDropReport */
  GPtrArray *alerts;            /* GstStructure* */
  gboolean rescan, stats, want_keyframe, queue_fill;
  guint64 stats_interval;
  GstStructure *summary;        /* vdropmon-drop-summary, or NULL */
} Round;

/* ------------------------------------------------------------------------ */
/* Time base.                                                                */

/* Adopts the element's clock (a new one is a new time base) and refreshes
 * the map from CLOCK_MONOTONIC (kernel stamps) to it. */
void
vdm_worker_refresh_clock_locked (GstVdropmon * self)
{
  GstClock *clock = gst_element_get_clock (GST_ELEMENT (self));
  vdm_clock_map map;
  guint64 before, after;
  GstClockTime now;

  /* arrivals stamped on the old time base go in before it changes */
  vdm_feeds_drain_locked (self);
  vdm_clock_map_init (&map);
  if (clock != self->clock) {
    /* first clock at PLAYING, or another one: what the detector and the
     * arrival statistics learned on the old time base does not compare */
    GST_DEBUG_OBJECT (self, "monitor time is now %" GST_PTR_FORMAT, clock);
    vdm_stream_monitor_time_base_changed (self->monitor);
    self->round_clock_time = GST_CLOCK_TIME_NONE;       /* a time of the old clock */
  }
  gst_clear_object (&self->clock);
  if (clock) {
    before = vdm_monotonic_ns ();
    now = gst_clock_get_time (clock);
    after = vdm_monotonic_ns ();
    self->base_time = gst_element_get_base_time (GST_ELEMENT (self));
    vdm_clock_map_update (&map, before + (after - before) / 2, now, self->base_time);
    self->clock = clock;        /* keeps the reference */
  }
  vdm_stream_monitor_set_clock_map (self->monitor, &map);
  vdm_feeds_publish_clock_locked (self);
  /* the detector runs on a clock, and arrivals are due only while PLAYING */
  vdm_stream_monitor_set_active (self->monitor, self->clock && self->playing,
      vdm_now_locked (self));
}

/* ------------------------------------------------------------------------ */
/* One round.                                                                */

/* Computed from the last one, so that a new interval counts at once
 * (issue 9 #5). */
static guint64
next_stats_locked (GstVdropmon * self)
{
  return vdm_time_add (self->last_stats_mono, self->interval);
}

/* Stats and rescans are housekeeping: within this much of a detector bin's
 * round they are done at that round (earlier or later) instead of in a
 * wake of their own — a wake costs more than the round (issue 13). Only
 * while bin rounds come on CLOCK_MONOTONIC (schedule_bin_wait_locked);
 * for stats, at most a quarter of their interval. */
static guint64
housekeeping_slack_locked (GstVdropmon * self, gboolean stats)
{
  guint64 slack = self->bin_due_mono != G_MAXUINT64 ? self->config.detector.bin_ns / 2 : 0;

  return stats ? MIN (slack, self->interval / 4) : slack;
}

/* A housekeeping deadline, moved to the bin's round when that comes
 * within the slack after it. */
static guint64
housekeeping_due_locked (GstVdropmon * self, guint64 due, gboolean stats)
{
  guint64 bin_due = self->bin_due_mono;

  if (bin_due != G_MAXUINT64 && due <= bin_due
      && bin_due - due <= housekeeping_slack_locked (self, stats))
    return bin_due;
  return due;
}

/* Within the budget a report is a message; past it, part of the summary
 * (issue 9 #9: rotating SSRCs would otherwise post a message per batch). */
static void
take_reports_locked (GstVdropmon * self, GArray * out)
{
  vdm_drop_report reports[16];
  guint64 mono = vdm_monotonic_ns ();
  guint n, i;

  while ((n = vdm_stream_monitor_take_reports (self->monitor, reports, G_N_ELEMENTS (reports)))) {
    for (i = 0; i < n; i++) {
      VdmDropReport r = {.report = reports[i] };
      const gchar *flow;

      vdm_element_analytics_drop (self->analytics,
          reports[i].batch.source == VDM_DROP_SOURCE_RTP_GAP, reports[i].keyframe,
          reports[i].batch.count);

      flow = vdm_watch_flow_locked (self, reports[i].batch.watch_id);
      /* a kernel drop whose watch is long forgotten has no flow to name:
       * counted in the summary, never posted as nobody's (issue 9) */
      if ((!flow && reports[i].batch.source != VDM_DROP_SOURCE_RTP_GAP)
          || !vdm_message_budget_take (&self->drop_budget, mono)) {
        vdm_drop_summary_add (&self->drop_summary, &reports[i].batch);
        continue;
      }
      g_strlcpy (r.flow, flow ? flow : "", sizeof (r.flow));
      g_array_append_val (out, r);
    }
  }
}

/* The summary of what the budget held back, at most once per period (and
 * at the end, whatever the period). */
static GstStructure *
take_summary_locked (GstVdropmon * self, gboolean final)
{
  guint64 mono = vdm_monotonic_ns ();
  GstStructure *s;

  if (vdm_drop_summary_empty (&self->drop_summary)
      || (!final && mono < self->last_summary_mono + VDM_DROP_SUMMARY_PERIOD))
    return NULL;
  s = vdm_drop_summary_to_structure (&self->drop_summary);
  vdm_drop_summary_clear (&self->drop_summary);
  self->last_summary_mono = mono;
  return s;
}

static void
take_alerts_locked (GstVdropmon * self, Round * r)
{
  vdm_alert alerts[MAX_ALERTS_PER_ROUND];
  guint n, i;

  while ((n = vdm_stream_monitor_take_alerts (self->monitor, alerts, G_N_ELEMENTS (alerts)))) {
    for (i = 0; i < n; i++) {
      GstStructure *alert = vdm_alert_to_structure (&alerts[i]);

      vdm_element_analytics_alert (self->analytics, alert);
      g_ptr_array_add (r->alerts, alert);
      r->want_keyframe |= alerts[i].event.type == VDM_DETECTOR_WARNING
          && alerts[i].event.action == VDM_ACTION_REQUEST_KEYFRAME && self->request_keyframe;
    }
  }
}

static void
collect_round_locked (GstVdropmon * self, gboolean final, Round * r)
{
  guint64 mono;
  vdm_now now;

  vdm_worker_refresh_clock_locked (self);
  /* read before the drain: a round that starts at clock time T has seen
   * every packet pushed before the clock reached T (schedule_bin_wait_locked) */
  self->round_clock_time = self->clock ? gst_clock_get_time (self->clock) : GST_CLOCK_TIME_NONE;
  /* what the kernel holds unread first: a packet read after this look is
   * in a feed by the drain below (or was still in the kernel then) */
  vdm_arrivals_feed_backlog_locked (self, vdm_now_locked (self));
  /* what the streaming threads handed over, then the time it is now */
  vdm_feeds_drain_locked (self);
  now = vdm_times_locked (self);
  mono = now.mono;
  vdm_stream_monitor_tick (self->monitor, now, final);
  r->reports = g_array_new (FALSE, TRUE, sizeof (VdmDropReport));
  r->alerts = g_ptr_array_new ();
  take_reports_locked (self, r->reports);
  r->summary = take_summary_locked (self, final);
  take_alerts_locked (self, r);
  r->queue_fill = !final && self->source;
  r->rescan = !final && (self->rescan_requested
      || mono + housekeeping_slack_locked (self, FALSE) >= self->next_rescan_mono);
  if (r->rescan) {
    self->rescan_requested = FALSE;
    self->next_rescan_mono = mono + RESCAN_PERIOD;
    r->rescan = self->auto_discover;
  }
  r->stats = !final && mono + housekeeping_slack_locked (self, TRUE) >= next_stats_locked (self);
  if (r->stats) {
    r->stats_interval = mono - self->last_stats_mono;
    self->last_stats_mono = mono;
  }
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

    if (report->report.batch.source != VDM_DROP_SOURCE_RTP_GAP)
      report->events_lost = vdm_collector_take_events_lost (self,
          report->report.batch.watch_id);
    post_structure (self, vdm_drop_report_to_structure (report));
  }
}

static void
request_keyframe (GstVdropmon * self)
{
  GstEvent *event = gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE, 0);

  GST_INFO_OBJECT (self, "requesting a keyframe upstream");
  if (gst_pad_push_event (GST_BASE_TRANSFORM_SINK_PAD (self), event)) {
    g_mutex_lock (&self->lock);
    vdm_stream_monitor_keyframe_request_sent (self->monitor);
    g_mutex_unlock (&self->lock);
  }
}

/* The same snapshot goes to the daemon (when it is the source) and, if
 * posting is on, to the bus. */
static void
send_analytics_and_post (GstVdropmon * self, gboolean post)
{
  vdm_source *source = vdm_collector_ref (self);
  GstStructure *stats;

  if (!source && !post)
    return;
  stats = vdm_build_stats (self, VDM_STATS_MESSAGE);
  if (source) {
    vdm_element_analytics_send (self->analytics, source, stats);
    vdm_source_unref (source);
  }
  if (post)
    post_structure (self, stats);
  else
    gst_structure_free (stats);
}

/* Per stats interval: FID and bitrate over it, then the message. */
static void
post_stats (GstVdropmon * self, guint64 interval_ns)
{
  gboolean post;

  vdm_collector_refresh_counters (self);
  g_mutex_lock (&self->lock);
  vdm_feeds_drain_locked (self);
  vdm_stream_monitor_close_interval (self->monitor, interval_ns);
  post = self->post_messages;
  g_mutex_unlock (&self->lock);
  send_analytics_and_post (self, post);
  g_mutex_lock (&self->lock);
  vdm_stream_monitor_restart_peak (self->monitor);
  g_mutex_unlock (&self->lock);
}

/* One round, entered and left with the lock held; the posting and the
 * event-source calls happen with it released. */
static void
worker_round_locked (GstVdropmon * self, gboolean final)
{
  Round r = { 0 };
  guint i;

  /* before the tick: gaps due now must know the drops the ring lost */
  g_mutex_unlock (&self->lock);
  vdm_collector_announce_unseen (self);
  g_mutex_lock (&self->lock);
  collect_round_locked (self, final, &r);
  g_mutex_unlock (&self->lock);

  if (r.queue_fill)
    vdm_collector_feed_queue_fill (self);
  post_reports (self, r.reports);
  if (r.summary)
    post_structure (self, r.summary);
  for (i = 0; i < r.alerts->len; i++)
    post_structure (self, g_ptr_array_index (r.alerts, i));
  if (r.want_keyframe)
    request_keyframe (self);
  if (r.rescan) {
    vdm_watch_rescan (self);
    vdm_arrivals_find_rtp_pad (self);
  }
  if (r.stats)
    post_stats (self, r.stats_interval);
  g_array_unref (r.reports);
  g_ptr_array_unref (r.alerts);
  g_mutex_lock (&self->lock);
}

/* ------------------------------------------------------------------------ */
/* The loop.                                                                 */

/* CLOCK_MONOTONIC ns of the next round: the monitor's deadline, the
 * stats, the rescan, the bin's end, whichever comes first. The shared
 * worker never runs a round before its time (in ns), so a bin's end needs
 * no margin: the round finds the bin closed. */
static guint64
next_due_locked (GstVdropmon * self)
{
  guint64 mono = vdm_monotonic_ns ();
  guint64 due = MIN (vdm_stream_monitor_next_deadline (self->monitor, mono),
      housekeeping_due_locked (self, next_stats_locked (self), TRUE));

  due = MIN (due, housekeeping_due_locked (self, self->next_rescan_mono, FALSE));
  return MIN (due, self->bin_due_mono);
}

static gboolean
on_bin_due (GstClock * clock, GstClockTime time, GstClockID id, gpointer user_data)
{
  GstVdropmon *self = user_data;

  g_mutex_lock (&self->lock);
  vdm_wake_worker_locked (self);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* Besides its CLOCK_MONOTONIC deadlines, the worker waits on the element's
 * clock for the next detector bin's end, so that a clock which does not
 * follow real time (a GstTestClock: crank it, and the round runs at the
 * bin's end) drives it too. The end is the one after the round's start,
 * not after the clock's time now: a bin that ended while the round ran is
 * not skipped (the wait fires at once), and a wait past time T is
 * registered only by a round that started at T or later, after it posted —
 * what a test that moves a GstTestClock waits for (tests/common/
 * worker_round.h). Entered and left with the lock held; the clock is
 * called without it.
 *
 * The system clock's time is CLOCK_MONOTONIC's: then the bin's end is a
 * deadline of the worker's own wait (bin_due_mono), and nothing waits on
 * the clock. A wait on the clock costs two more wakes per bin and element
 * (the clock's thread re-sorts its list when the wait is registered, then
 * wakes at the end to call on_bin_due, which wakes the worker): with 200
 * elements, 4,000 context switches a second (issue 13). */
static void
schedule_bin_wait_locked (GstVdropmon * self)
{
  GstClock *clock = self->clock ? gst_object_ref (self->clock) : NULL;
  guint64 bin = self->config.detector.bin_ns;
  GstClockTime target = GST_CLOCK_TIME_NONE;
  GstClockID old, id = NULL;

  self->bin_due_mono = G_MAXUINT64;
  if (clock && bin) {
    GstClockTime start = GST_CLOCK_TIME_IS_VALID (self->round_clock_time)
        ? self->round_clock_time : gst_clock_get_time (clock);
    target = vdm_time_add (start - start % bin, bin);
  }
  if (GST_CLOCK_TIME_IS_VALID (target) && g_atomic_int_get (&self->probe_view.clock_is_monotonic)) {
    self->bin_due_mono = target;
    target = GST_CLOCK_TIME_NONE;       /* and a wait on the clock, if any, goes */
  }
  if (target == self->bin_wait_time && (!self->bin_wait
          || gst_clock_id_uses_clock (self->bin_wait, clock))) {
    gst_clear_object (&clock);
    return;
  }
  old = self->bin_wait;
  self->bin_wait = NULL;
  self->bin_wait_time = target;
  g_mutex_unlock (&self->lock);
  if (old) {
    gst_clock_id_unschedule (old);
    gst_clock_id_unref (old);
  }
  if (GST_CLOCK_TIME_IS_VALID (target)) {
    id = gst_clock_new_single_shot_id (clock, target);
    gst_clock_id_wait_async (id, on_bin_due, self, NULL);
  }
  g_mutex_lock (&self->lock);
  self->bin_wait = id;
  gst_clear_object (&clock);
}

static void
cancel_bin_wait (GstVdropmon * self)
{
  if (self->bin_wait) {
    gst_clock_id_unschedule (self->bin_wait);
    gst_clock_id_unref (self->bin_wait);
    self->bin_wait = NULL;
  }
  self->bin_wait_time = GST_CLOCK_TIME_NONE;
}

/* One round on the shared worker (plugin/vdropmon_shared_worker.c): what
 * is due, the wait on the clock for the next bin, and when to come back. */
static guint64
element_round (gpointer data)
{
  GstVdropmon *self = data;
  guint64 due;

  if (self->alive != VDM_ALIVE)
    g_critical ("vdropmon: a worker round on an element that is gone");
  g_atomic_int_set (&self->round_running, TRUE);
  g_mutex_lock (&self->lock);
  worker_round_locked (self, FALSE);
  /* not after a stop from within this round (a bus sync handler): the
   * stop cancelled the wait, and nothing may wait for this element now */
  if (self->worker_client)
    schedule_bin_wait_locked (self);
  due = next_due_locked (self);
  if (self->alive != VDM_ALIVE)
    g_critical ("vdropmon: an element disposed during its worker round");
  g_mutex_unlock (&self->lock);
  g_atomic_int_set (&self->round_running, FALSE);
  return due;
}

/* Registers with the shared worker; the first round runs at once. */
void
vdm_worker_start (GstVdropmon * self)
{
  g_mutex_lock (&self->lock);
  self->bin_wait_time = GST_CLOCK_TIME_NONE;
  self->bin_due_mono = G_MAXUINT64;
  self->round_clock_time = GST_CLOCK_TIME_NONE;
  /* under the lock: the first round (which takes it) finds the client set,
   * so no wake from it is lost */
  self->worker_client = vdm_shared_worker_add (element_round, self);
  g_mutex_unlock (&self->lock);
}

/* Unregisters (a round running now ends first: after this, the shared
 * worker never touches the element again), then the final round here:
 * every drop known is posted. */
void
vdm_worker_stop (GstVdropmon * self)
{
  VdmWorkerClient *client;

  g_mutex_lock (&self->lock);
  client = self->worker_client;
  self->worker_client = NULL;   /* wakes from now on go nowhere */
  g_mutex_unlock (&self->lock);
  if (!client)
    return;
  if (!vdm_shared_worker_remove (client) && g_atomic_int_get (&self->round_running))
    g_critical ("vdropmon: a worker round still runs after the element left the worker");
  g_mutex_lock (&self->lock);
  worker_round_locked (self, TRUE);
  g_mutex_unlock (&self->lock);
  cancel_bin_wait (self);
}

/* EOS, on the streaming thread: every drop known so far is posted before
 * EOS moves on, so an application that quits on EOS misses none. */
void
vdm_worker_post_pending (GstVdropmon * self)
{
  GArray *reports = g_array_new (FALSE, TRUE, sizeof (VdmDropReport));
  GstStructure *summary;

  g_mutex_lock (&self->lock);
  vdm_feeds_drain_locked (self);
  vdm_stream_monitor_tick (self->monitor, vdm_times_locked (self), TRUE);
  take_reports_locked (self, reports);
  summary = take_summary_locked (self, TRUE);
  g_mutex_unlock (&self->lock);
  post_reports (self, reports);
  if (summary)
    post_structure (self, summary);
  g_array_unref (reports);
}
