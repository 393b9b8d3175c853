/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stream_monitor_alerts.c — when the monitor speaks up: the runway (media
 * arriving ever later), arrival deficit (silence or a runway about to
 * end), the episode a warning belongs to, and the detector's events turned
 * into alerts with what a player needs to act on them.
 */
#include "stream_monitor_priv.h"

#include <string.h>

/* Receive-queue fill above which a growing arrival lag is our own. */
#define HOST_QUEUE_FILL 0.5
/* A media-time step this large is a new stream, not lag (the runway's own
 * discontinuity, 10 s). */
#define MEDIA_STEP_MAX_S 10
/* Extended timestamps in ns stay far below INT64_MAX, where the runway's
 * signed offsets would overflow. */
#define MEDIA_NS_MAX ((uint64_t) 1 << 62)

static const int height_ladder[] = { 2160, 1440, 1080, 720, 540, 480, 360, 240 };

void
vdm_monitor_reset_episode (vdm_stream_monitor *mon)
{
  memset (&mon->episode, 0, sizeof (mon->episode));
  mon->episode.first_damage = VDM_TIME_NONE;
  mon->warned_due = VDM_TIME_NONE;
  mon->warned_restarts = vdm_monitor_predict_jb_restarts (mon);
}

void
vdm_monitor_note_damage (vdm_stream_monitor *mon, uint64_t t)
{
  if (mon->episode.first_damage == VDM_TIME_NONE)
    mon->episode.first_damage = t;
}

/* The media the player holds: playout-buffer, else the pipeline latency,
 * else a jitterbuffer's latency found around the element. */
uint64_t
vdm_monitor_playout_buffer (const vdm_stream_monitor *mon)
{
  if (mon->config.playout_buffer_ns)
    return mon->config.playout_buffer_ns;
  if (mon->latency != VDM_TIME_NONE && mon->latency > 0)
    return mon->latency;
  return mon->buffer_latency;
}

uint64_t
vdm_monitor_running_time (const vdm_stream_monitor *mon, uint64_t t)
{
  uint64_t base = mon->clock_map.base_time;

  if (!mon->clock_map.valid || base == VDM_TIME_NONE || t == VDM_TIME_NONE || t < base)
    return VDM_TIME_NONE;
  return t - base;
}

/* ------------------------------------------------------------------------ */
/* Runway.                                                                   */

/* The runway and the media clock it reads start over together: an
 * extended timestamp carried into a new runway is how bogus lag (and
 * signed overflow) got in (issue 9 #4). */
void
vdm_monitor_restart_runway (vdm_stream_monitor *mon)
{
  vdm_runway_init (&mon->runway);
  vdm_trendline_init (&mon->trendline, NULL);  /* its floor must not be a start-up burst either */
  vdm_jb_model_init (&mon->jb);
  vdm_queue_growth_init (&mon->qgrowth);
  mon->queue_delay_base_ms = 0;
  mon->runway_settled = false;
  mon->media.valid = false;
}

static void
start_media_clock (vdm_stream_monitor *mon, const vdm_rtp_header *rtp)
{
  vdm_runway_init (&mon->runway);
  mon->media.valid = true;
  mon->media.ssrc = rtp->ssrc;
  mon->media.rtp_ts_ext = (uint64_t) 1 << 32;   /* room to go back */
}

/* RTP timestamps as media time: extended past their 32-bit wrap; a new
 * SSRC, a jump of more than MEDIA_STEP_MAX_S or a clock that would run
 * out of range starts over. */
void
vdm_monitor_observe_rtp_media (vdm_stream_monitor *mon, const vdm_rtp_header *rtp, uint64_t now)
{
  vdm_media_clock *m = &mon->media;
  uint32_t rate = mon->clock_rate ? mon->clock_rate : 90000;
  int64_t step = (int32_t) (rtp->timestamp - m->last_rtp_ts);
  int64_t step_max = (int64_t) rate * MEDIA_STEP_MAX_S;
  unsigned __int128 media_ns;

  if (rtp->ssrc != m->ssrc)
    mon->runway_settled = false;        /* a new stream has its own start-up */
  if (!m->valid || rtp->ssrc != m->ssrc || !mon->runway.started || step > step_max
      || step < -step_max || (step < 0 && (uint64_t) - step > m->rtp_ts_ext))
    start_media_clock (mon, rtp);
  else
    m->rtp_ts_ext += (uint64_t) step;
  m->last_rtp_ts = rtp->timestamp;
  media_ns = (unsigned __int128) m->rtp_ts_ext * VDM_SECOND / rate;
  if (media_ns >= MEDIA_NS_MAX) {
    start_media_clock (mon, rtp);
    media_ns = (unsigned __int128) m->rtp_ts_ext * VDM_SECOND / rate;
  }
  vdm_runway_observe (&mon->runway, now, (uint64_t) media_ns);
  vdm_monitor_predict_arrival (mon, now, (uint64_t) media_ns);
  vdm_monitor_predict_rtp_arrival (mon, now, (uint64_t) media_ns);
}

/* A jitterbuffer (rtspsrc over TCP) releases its first latency's worth of
 * packets at once: that burst is no best offset to measure lag from. The
 * runway starts over once, two buffers (at least 1 s) into the stream, and
 * only then may it warn. */
static bool
runway_settled (vdm_stream_monitor *mon, uint64_t now, uint64_t buffer)
{
  uint64_t warmup = 2 * buffer > VDM_SECOND ? 2 * buffer : VDM_SECOND;

  if (mon->runway_settled)
    return true;
  if (!mon->runway.started || now < mon->runway.start_ns + warmup)
    return false;
  vdm_monitor_restart_runway (mon);
  mon->runway_settled = true;
  return false;
}

/* When the playout buffer runs dry at the lag's current growth: the
 * runway (lag against the buffer) or, over RTP, the jitterbuffer's
 * timeline breaking (stream_monitor_predict.c), the sooner.
 * min_lag: a lag (or jitterbuffer deficit) below it is no trend yet. */
static uint64_t
lag_prediction (vdm_stream_monitor *mon, uint64_t buffer, int64_t min_lag)
{
  uint64_t empty_in = vdm_runway_time_to_empty (&mon->runway, buffer), jb_freeze;

  if (vdm_runway_lag (&mon->runway) < min_lag)
    empty_in = VDM_TIME_NONE;
  if (vdm_monitor_predict_jb_freeze (mon, buffer, min_lag, &jb_freeze) && jb_freeze < empty_in)
    empty_in = jb_freeze;
  return empty_in;
}

/* A warning's prediction, once another trigger decided to warn: the
 * standing queue's fitted growth reaching the buffer (queue_growth.c), if
 * sooner than empty_in. It sees a queue that began to grow a few hundred
 * ms ago, where the runway's smoothed growth still lags it; it never
 * starts a warning itself (as a trigger it took a clean stream's 1 s
 * delay bump for congestion: docs/benchmarks.md, issue 12 fourth pass). */
static uint64_t
sooner_by_standing_queue (vdm_stream_monitor *mon, uint64_t now, uint64_t buffer,
    int64_t min_queue, uint64_t empty_in)
{
  uint64_t fill_in;

  if (vdm_monitor_predict_queue_fill (mon, now, buffer, min_queue, &fill_in) && fill_in < empty_in)
    return fill_in;
  return empty_in;
}

/* Media arriving ever later will empty the playout buffer within
 * runway-threshold: *empty_in says when. Lag under a tenth of the buffer
 * (or 20 ms) is jitter, not a trend. */
static bool
is_starving (vdm_stream_monitor *mon, uint64_t now, uint64_t *empty_in)
{
  uint64_t buffer = vdm_monitor_playout_buffer (mon);
  uint64_t jitter_floor;

  if (buffer == VDM_TIME_NONE || buffer == 0 || !runway_settled (mon, now, buffer))
    return false;
  jitter_floor = buffer / 10 > 20 * VDM_MSECOND ? buffer / 10 : 20 * VDM_MSECOND;
  *empty_in = lag_prediction (mon, buffer, (int64_t) jitter_floor);
  if (*empty_in == VDM_TIME_NONE || *empty_in > mon->config.runway_threshold_ns)
    return false;
  *empty_in = sooner_by_standing_queue (mon, now, buffer, (int64_t) jitter_floor, *empty_in);
  return true;
}

/* A queue building up on the path (stream_monitor_predict.c): starving
 * too, seen earlier, from the delay gradient. */
static bool
is_congested (vdm_stream_monitor *mon, uint64_t now, uint64_t *empty_in)
{
  uint64_t buffer = vdm_monitor_playout_buffer (mon);

  return buffer != VDM_TIME_NONE && runway_settled (mon, now, buffer)
      && vdm_monitor_predict_congested (mon, now, buffer, empty_in);
}

/* Media arriving late — or not at all at the reader — while our own
 * receive queue is half full waits in this host, not on the network: the
 * reader is too slow (a slow consumer's first sign is often a silence at
 * the reader, 0.3 s before its queue overflows, in the lead-time suite's
 * starved runs). So does a silence while the kernel holds packets not
 * read yet (FIONREAD: the queue need not be half full). A network stall
 * leaves the queue empty. */
static vdm_cause
deficit_cause (const vdm_stream_monitor *mon)
{
  if (mon->queue_fill_recent >= HOST_QUEUE_FILL)
    return VDM_CAUSE_HOST;
  return mon->silent && vdm_monitor_predict_reader_late (mon) ? VDM_CAUSE_HOST
      : VDM_CAUSE_NETWORK;
}

/* Where the damage of a buffer that runs dry in empty_in begins: what
 * arrives then plays at damage + buffer. */
static uint64_t
damage_of_empty (const vdm_stream_monitor *mon, uint64_t now, uint64_t empty_in)
{
  uint64_t buffer = vdm_monitor_playout_buffer (mon), due = now + empty_in;

  return due - (due < buffer ? due : buffer);
}

/* The freeze the episode's last warning predicted has come: the modelled
 * jitterbuffer restarted its timeline since and the freeze that restart
 * makes is over (a warning during it would read as one about it), or,
 * without a jitterbuffer modelled, the predicted time passed. */
static bool
warned_freeze_came (const vdm_stream_monitor *mon, uint64_t now)
{
  if (vdm_monitor_predict_jb_modelled (mon))
    return vdm_monitor_predict_jb_restarts (mon) > mon->warned_restarts
        && vdm_monitor_predict_jb_freeze_over (mon, now);
  return mon->warned_due != VDM_TIME_NONE && now >= mon->warned_due;
}

/* A deficit that never ended (a long congestion) while the freeze its
 * last warning predicted has come, and another freeze is predicted at
 * least renew-after ahead (not the one going on): a new freeze, warned
 * again (issue 12 part 5). The detector keeps renew-after between
 * warnings. */
static void
check_renewal (vdm_stream_monitor *mon, uint64_t now, uint64_t empty_in)
{
  uint64_t renew_after = mon->config.detector.renew_after_ns;

  if (!mon->deficit || mon->silent || empty_in == VDM_TIME_NONE || renew_after == 0
      || empty_in < renew_after || !warned_freeze_came (mon, now))
    return;
  if (mon->episode.first_damage == VDM_TIME_NONE)
    mon->episode.first_damage = damage_of_empty (mon, now, empty_in);
  vdm_detector_deficit_renewed (mon->detector, now, deficit_cause (mon));
}

/* Arrival deficit — silence or a stall, a runway about to end, a queue
 * building up on the path — is a state the detector is told about when it
 * starts and ends. */
static void
check_arrival_deficit (vdm_stream_monitor *mon, uint64_t now)
{
  uint64_t predicted = VDM_TIME_NONE, congested_in = VDM_TIME_NONE, empty_in;
  bool starving = is_starving (mon, now, &predicted);
  bool congested = is_congested (mon, now, &congested_in);
  bool deficit;

  empty_in = starving ? predicted : VDM_TIME_NONE;
  /* The delay gradient sees a queue building first, while its fitted
   * trend still lags the growth (13.8 s predicted for a 6 s runway in
   * test_stream_monitor.c); the lag-based predictions (runway, jitterbuffer
   * timeline) measure the growth itself: the sooner of them all, even when
   * those are beyond runway-threshold. */
  if (congested) {
    predicted = lag_prediction (mon, vdm_monitor_playout_buffer (mon), 0);
    empty_in = congested_in < predicted ? congested_in : predicted;
    empty_in = sooner_by_standing_queue (mon, now, vdm_monitor_playout_buffer (mon), 0, empty_in);
  }
  starving = starving || congested;
  /* the stall's adaptive threshold is at most the silence rule's; a
   * reader late with packets waiting is no stall, but one behind by half
   * the buffer is a starved receiver (cause host) */
  mon->silent = vdm_monitor_predict_stalled (mon, now)
      || vdm_arrival_stats_is_silent (&mon->arrival, now, mon->config.silence_threshold_ns)
      || vdm_monitor_predict_reader_behind (mon, now, vdm_monitor_playout_buffer (mon));
  deficit = mon->silent || starving;
  if (deficit == mon->deficit) {
    check_renewal (mon, now, empty_in);
    return;
  }
  mon->deficit = deficit;
  vdm_detector_arrival_deficit (mon->detector, now, deficit, deficit_cause (mon));
  if (!deficit || mon->episode.first_damage != VDM_TIME_NONE)
    return;
  if (mon->silent)              /* what did not arrive was due right after the last packet */
    mon->episode.first_damage = vdm_monitor_predict_stall_damage (mon);
  else                          /* the buffer is empty in empty_in: damage due then */
    mon->episode.first_damage = damage_of_empty (mon, now, empty_in);
}

/* ------------------------------------------------------------------------ */
/* Alerts.                                                                   */

static void
append_reason (char *buf, size_t len, const char *name)
{
  size_t used = strlen (buf);

  if (used && used + 1 < len)
    buf[used++] = ',', buf[used] = '\0';
  if (used < len)
    strncat (buf, name, len - used - 1);
}

static void
format_reasons (const vdm_stream_monitor *mon, char *buf, size_t len)
{
  buf[0] = '\0';
  for (unsigned slot = 0; slot < VDM_REASON_SLOTS; slot++)
    if (mon->episode.reasons_seen[slot])
      append_reason (buf, len, mon->episode.reason_names[slot]);
  if (mon->episode.gap_seen)
    append_reason (buf, len, "RTP_SEQ_GAP");
}

static int
suggested_height (int height)
{
  if (height <= 0)
    return -1;
  for (unsigned i = 0; i < sizeof (height_ladder) / sizeof (height_ladder[0]); i++)
    if (height_ladder[i] < height)
      return height_ladder[i];
  return height;
}

/* Until the damaged data reaches the sink: a live sink renders what arrived
 * at time t at t + latency (the playout buffer). 0 when already there,
 * VDM_TIME_NONE if unknown. */
static uint64_t
stall_eta (const vdm_stream_monitor *mon, uint64_t now)
{
  uint64_t damage = mon->episode.first_damage;
  uint64_t latency = vdm_monitor_playout_buffer (mon);
  uint64_t due;

  if (latency == VDM_TIME_NONE)
    return VDM_TIME_NONE;
  if (damage == VDM_TIME_NONE)
    damage = now;               /* queue fill: the next frames */
  /* A damage in the future is a prediction (a queue building up empties
   * the buffer at damage + latency), not a clock glitch: kept. */
  due = damage + latency;
  return due > now ? due - now : 0;
}

static void
warning_alert (vdm_stream_monitor *mon, const vdm_detector_event *ev, vdm_alert *alert)
{
  format_reasons (mon, alert->reasons, sizeof (alert->reasons));
  alert->stall_eta_ns = stall_eta (mon, ev->time_ns);
  alert->suggested_height = suggested_height (mon->height);
  alert->suggested_bitrate = -1;
  if (ev->action == VDM_ACTION_LOWER_BITRATE && mon->bitrate > 0)
    alert->suggested_bitrate = mon->bitrate * 0.7 < 2147483647.0 ? (int) (mon->bitrate * 0.7)
        : 2147483647;
}

/* What a renewal must wait for: the freeze this warning predicted (a
 * warning without a stall-eta keeps the last one's time). */
static void
note_warned_due (vdm_stream_monitor *mon, const vdm_alert *alert)
{
  mon->warned_restarts = vdm_monitor_predict_jb_restarts (mon);
  if (alert->stall_eta_ns != VDM_TIME_NONE)
    mon->warned_due = alert->event.time_ns + alert->stall_eta_ns;
}

/* Runs the detector to now; its events wait as alerts. */
void
vdm_monitor_run_detector (vdm_stream_monitor *mon, uint64_t now)
{
  vdm_detector_event events[8];
  unsigned n;

  vdm_monitor_detector_at (mon, now);
  check_arrival_deficit (mon, now);
  n = vdm_detector_advance (mon->detector, now, events, sizeof (events) / sizeof (events[0]));
  for (unsigned i = 0; i < n; i++) {
    vdm_alert alert;

    memset (&alert, 0, sizeof (alert));
    alert.event = events[i];
    alert.running_time = vdm_monitor_running_time (mon, events[i].time_ns);
    if (events[i].type == VDM_DETECTOR_WARNING) {
      warning_alert (mon, &events[i], &alert);
      mon->warnings++;
      mon->episode.first_damage = VDM_TIME_NONE;
      note_warned_due (mon, &alert);
    } else {
      alert.stall_eta_ns = VDM_TIME_NONE;
      alert.suggested_height = alert.suggested_bitrate = -1;
      vdm_monitor_reset_episode (mon);
    }
    vdm_monitor_push_alert (mon, &alert);
  }
}
