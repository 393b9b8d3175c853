/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stream_monitor_predict.c — the monitor's predictions from arrivals alone
 * (issue 12): an arrival stall declared within a few frame intervals
 * (stall_detector.c) and a bottleneck queue building up before it drops
 * anything (trendline.c, GCC's delay gradient on the receive side). Both
 * feed the arrival deficit of stream_monitor_alerts.c; they say nothing
 * on their own.
 *
 * Arrival times are the monitor's clock at the earliest point the element
 * sees a packet (the udpsrc probe, right after recvmsg; transform_ip for
 * TCP transports), not the kernel's receive timestamp. For the stall, the
 * worker also asks the kernel whether the udpsrc sockets hold unread data
 * (vdm_stream_monitor_socket_backlog): if so, the network is delivering
 * and the silence is the reader's (a loaded host), no stall. A reader thread
 * that is late by a constant does not bias the gradient, one that is late
 * by a growing amount does (a starved receiver reads as a growing queue,
 * which is true of its own socket queue).
 */
#include "stream_monitor_priv.h"

/* "Queue building" must hold congestion-sustain (500 ms) before it is a
 * warning: GCC flags a single keyframe's queue for up to ~0.7 s on a link
 * just above the bitrate (tests/core/test_trendline.c), and a keyframe's
 * queue does not last 0.5 s with the delay floor below. The queue delay
 * needed too (congestion-min-delay, 0 = auto): a quarter of the playout
 * buffer, within these bounds (a keyframe through a link 1.3x the bitrate
 * queues ~50 ms). */
#define CONGESTION_MIN_DELAY_NS (40 * VDM_MSECOND)
#define CONGESTION_MAX_DELAY_NS (80 * VDM_MSECOND)
/* The stall round's least distance from the monitor's last call. */
#define STALL_ROUND_MIN_NS (5 * VDM_MSECOND)

void
vdm_monitor_predict_reset (vdm_stream_monitor *mon)
{
  vdm_stall_config stall;

  vdm_stall_config_init (&stall);
  stall.ceiling_ns = mon->config.silence_threshold_ns;
  stall.floor_ns = mon->config.stall_floor_ns;
  vdm_stall_init (&mon->stall, &stall);
  mon->reader_stalled = false;
  vdm_trendline_init (&mon->trendline, NULL);
  vdm_jb_model_init (&mon->jb);
  mon->queue_delay_base_ms = 0;
}

void
vdm_monitor_predict_arrival (vdm_stream_monitor *mon, uint64_t now, uint64_t media_ns)
{
  vdm_stall_arrival (&mon->stall, now);
  vdm_trendline_packet (&mon->trendline, now, media_ns);
}

/* The latency of the jitterbuffer the stream goes through (found around
 * the element: rtspsrc, rtpbin, rtpjitterbuffer), VDM_TIME_NONE if none is
 * known: then no jitterbuffer timeline is modelled. */
static uint64_t
jitterbuffer_latency (const vdm_stream_monitor *mon)
{
  return mon->buffer_latency != VDM_TIME_NONE && mon->buffer_latency > 0
      ? mon->buffer_latency : VDM_TIME_NONE;
}

/* An RTP packet: the jitterbuffer's timeline too (jb_model.c). Without a
 * known jitterbuffer latency the model runs without its deadline rule and
 * predicts nothing (vdm_monitor_predict_jb_freeze). */
void
vdm_monitor_predict_rtp_arrival (vdm_stream_monitor *mon, uint64_t now, uint64_t media_ns)
{
  uint64_t restarts = mon->jb.restarts;

  vdm_jb_model_observe (&mon->jb, now, media_ns, jitterbuffer_latency (mon));
  if (mon->jb.restarts == restarts || jitterbuffer_latency (mon) == VDM_TIME_NONE)
    return;
  /* The jitterbuffer starts its timeline over at this arrival: what it
   * plays from now on is stamped against it, so the lag and the queue
   * delay that ate the buffer so far count no more (the freeze paid for
   * them). Without this, a long congestion's next freeze was predicted
   * as if the buffer were still short by the first one's lag. */
  vdm_runway_rebase (&mon->runway);
  mon->queue_delay_base_ms = vdm_trendline_queue_delay_ms (&mon->trendline);
}

uint64_t
vdm_monitor_predict_jb_restarts (const vdm_stream_monitor *mon)
{
  return mon->jb.restarts;
}

bool
vdm_monitor_predict_jb_modelled (const vdm_stream_monitor *mon)
{
  return mon->is_rtp && jitterbuffer_latency (mon) != VDM_TIME_NONE;
}

bool
vdm_monitor_predict_jb_freeze_over (const vdm_stream_monitor *mon, uint64_t now)
{
  uint64_t buffer = vdm_monitor_playout_buffer (mon);
  uint64_t restart_at = vdm_jb_model_restart_deficit (jitterbuffer_latency (mon));

  if (mon->jb.restarts == 0 || buffer == VDM_TIME_NONE || now == VDM_TIME_NONE)
    return false;
  if (buffer < restart_at)
    buffer = restart_at;
  return now >= mon->jb.last_restart_ns && now - mon->jb.last_restart_ns >= buffer;
}

/* The queue delay that eats the buffer: above the one at the jitterbuffer's
 * last restart (which the queue may since have drained below). */
static double
queue_delay_since_restart_ms (vdm_stream_monitor *mon)
{
  double q = vdm_trendline_queue_delay_ms (&mon->trendline);

  if (q < mon->queue_delay_base_ms)
    mon->queue_delay_base_ms = q;
  return q - mon->queue_delay_base_ms;
}

/* An RTP jitterbuffer that restarts its timeline freezes the screen before
 * the lag reaches the buffer (at 1 s of deficit with a 2 s latency): when,
 * if the deficit is growing and at least min_deficit. */
bool
vdm_monitor_predict_jb_freeze (const vdm_stream_monitor *mon, uint64_t buffer,
    int64_t min_deficit, uint64_t *freeze_in)
{
  uint64_t jb_latency = jitterbuffer_latency (mon);

  if (!mon->is_rtp || jb_latency == VDM_TIME_NONE || buffer == VDM_TIME_NONE || buffer == 0
      || vdm_jb_model_deficit (&mon->jb) < min_deficit)
    return false;
  *freeze_in = vdm_jb_model_time_to_freeze (&mon->jb, jb_latency, buffer);
  return *freeze_in != VDM_TIME_NONE;
}

/* The stall threshold never above the old silence rule: silence-threshold,
 * or three frame intervals for slow streams (whose own gaps are long). */
static void
update_ceiling (vdm_stream_monitor *mon)
{
  uint64_t ceiling = mon->config.silence_threshold_ns, floor;
  double frames3 = 3 * mon->arrival.frame_interval_ns;

  if (frames3 > (double) ceiling && frames3 < 1e12)
    ceiling = (uint64_t) frames3;
  /* the stall detector lowers a floor above the ceiling to it */
  floor = mon->config.stall_floor_ns < ceiling ? mon->config.stall_floor_ns : ceiling;
  if (ceiling != mon->stall.config.ceiling_ns || floor != mon->stall.config.floor_ns) {
    vdm_stall_config c = mon->stall.config;

    c.ceiling_ns = ceiling;
    c.floor_ns = floor;
    vdm_stall_set_config (&mon->stall, &c);
  }
}

void
vdm_monitor_predict_backlog (vdm_stream_monitor *mon, uint64_t now)
{
  vdm_stall_backlog (&mon->stall, now);
}

bool
vdm_monitor_predict_reader_late (const vdm_stream_monitor *mon)
{
  uint64_t backlog = mon->stall.backlog_ns, last = vdm_stall_last_arrival (&mon->stall);

  return backlog != VDM_TIME_NONE && last != VDM_TIME_NONE && backlog > last;
}

/* At time t the reader had read nothing for the stall threshold while the
 * kernel held data for it (seen after its last read): this host starved
 * it. What the sender does then — probe the full window, send again what
 * was not acknowledged — is this host's doing too. */
bool
vdm_monitor_predict_reader_starved_at (const vdm_stream_monitor *mon, uint64_t t)
{
  uint64_t last = vdm_stall_last_arrival (&mon->stall);

  return vdm_monitor_predict_reader_late (mon) && t != VDM_TIME_NONE && t > last
      && t - last >= vdm_stall_threshold (&mon->stall);
}

/* A stall is silence at the kernel. Silence at the reader alone, past the
 * same threshold, is counted (reader-stalls) and said nothing of. */
bool
vdm_monitor_predict_stalled (vdm_stream_monitor *mon, uint64_t now)
{
  uint64_t last = vdm_stall_last_arrival (&mon->stall);
  bool stalled, reader_silent;

  update_ceiling (mon);
  stalled = vdm_stall_is_stalled (&mon->stall, now);
  reader_silent = !stalled && last != VDM_TIME_NONE && now != VDM_TIME_NONE && now > last
      && now - last >= vdm_stall_threshold (&mon->stall);
  if (reader_silent && !mon->reader_stalled)
    mon->reader_stalls++;
  mon->reader_stalled = reader_silent;
  return stalled;
}

/* The reader is behind by half the playout buffer: packets wait in its
 * socket and nothing was read for that long (not less than the stall
 * threshold). A freeze is near, and it is this host's doing: a starved
 * receiver. With a buffer of 400 ms or more the silence rule
 * (silence-threshold) comes first. */
bool
vdm_monitor_predict_reader_behind (const vdm_stream_monitor *mon, uint64_t now, uint64_t buffer)
{
  uint64_t last = vdm_stall_last_arrival (&mon->stall), need = buffer / 2;

  if (buffer == VDM_TIME_NONE || buffer == 0 || now == VDM_TIME_NONE
      || !vdm_monitor_predict_reader_late (mon) || now <= last)
    return false;
  if (need < vdm_stall_threshold (&mon->stall))
    need = vdm_stall_threshold (&mon->stall);
  return now - last >= need;
}

/* When, in CLOCK_MONOTONIC, the stall threshold passes if nothing more
 * arrives: the worker runs a round then instead of at the next bin's end
 * (up to bin-duration later), so that a stall is declared at its
 * threshold, not up to 100 ms after it. Through the monitor's last pair
 * of clock readings (the two clocks run at one rate between rounds).
 * VDM_TIME_NONE when nothing is due: inactive, no arrival yet, already
 * silent. */
uint64_t
vdm_monitor_predict_stall_deadline (const vdm_stream_monitor *mon)
{
  uint64_t last = vdm_stall_last_arrival (&mon->stall), due, ahead;

  if (!mon->active || mon->silent || last == VDM_TIME_NONE || mon->now.clock == VDM_TIME_NONE
      || mon->now.mono >= VDM_TIME_NONE - VDM_SECOND)
    return VDM_TIME_NONE;
  if (mon->stall.backlog_ns != VDM_TIME_NONE && mon->stall.backlog_ns > last)
    last = mon->stall.backlog_ns;
  if (vdm_stall_threshold (&mon->stall) > VDM_TIME_NONE - last)
    return VDM_TIME_NONE;
  due = last + vdm_stall_threshold (&mon->stall);
  ahead = due > mon->now.clock ? due - mon->now.clock : 0;
  /* never sooner than this after the last call: a clock that stands still
   * (paused, a test clock) must not make the worker spin */
  if (ahead < STALL_ROUND_MIN_NS)
    ahead = STALL_ROUND_MIN_NS;
  return ahead > VDM_TIME_NONE - mon->now.mono ? VDM_TIME_NONE : mon->now.mono + ahead;
}

/* Where the damage of a stall begins: what was due right after the last
 * arrival, earlier by the queue delay the stream already had (that much of
 * the buffer was gone). */
uint64_t
vdm_monitor_predict_stall_damage (vdm_stream_monitor *mon)
{
  uint64_t last = vdm_stall_last_arrival (&mon->stall);
  double q_ns = queue_delay_since_restart_ms (mon) * 1e6;

  if (last == VDM_TIME_NONE)
    return VDM_TIME_NONE;
  return q_ns < (double) last ? last - (uint64_t) q_ns : 0;
}

bool
vdm_monitor_predict_congested (vdm_stream_monitor *mon, uint64_t now, uint64_t buffer,
    uint64_t *empty_in)
{
  uint64_t min_delay = mon->config.congestion_min_delay_ns;
  uint64_t eta;

  if (buffer == VDM_TIME_NONE || buffer == 0)
    return false;
  if (min_delay == 0) {
    min_delay = buffer / 4;
    if (min_delay < CONGESTION_MIN_DELAY_NS)
      min_delay = CONGESTION_MIN_DELAY_NS;
    if (min_delay > CONGESTION_MAX_DELAY_NS)
      min_delay = CONGESTION_MAX_DELAY_NS;
  }
  if (vdm_trendline_building_for (&mon->trendline, now) < mon->config.congestion_sustain_ns
      || vdm_trendline_queue_delay_ms (&mon->trendline) * 1e6 < (double) min_delay)
    return false;
  /* the buffer less the queue delay since the jitterbuffer's last restart */
  (void) queue_delay_since_restart_ms (mon);
  eta = vdm_trendline_time_to_empty (&mon->trendline,
      buffer + (uint64_t) (mon->queue_delay_base_ms * 1e6));
  if (eta == VDM_TIME_NONE)
    return false;
  *empty_in = eta;
  return true;
}

void
vdm_monitor_predict_stats (const vdm_stream_monitor *mon, vdm_monitor_stats *out)
{
  out->queue_delay_ms = vdm_trendline_queue_delay_ms (&mon->trendline);
  out->trend = vdm_trendline_trend (&mon->trendline);
  out->usage = vdm_usage_name (vdm_trendline_usage (&mon->trendline));
  out->stall_threshold_ms = vdm_stall_threshold (&mon->stall) / 1e6;
  out->reader_stalls = mon->reader_stalls;
}
