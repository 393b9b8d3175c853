/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "jb_model.h"

#include <string.h>

/* The jitterbuffer's constants (rtpjitterbuffer.c, GStreamer 1.22). */
#define WINDOW_TIME_NS (2 * VDM_SECOND)    /* the window fills for 2 s of media */
#define SKEW_JUMP_NS VDM_SECOND            /* a deficit change above this restarts */
#define SKEW_SMOOTHING 125                 /* skew += (min - skew) / 125 per frame */
/* Ours: the deficit's growth, sampled like the runway's lag. */
#define SAMPLE_PERIOD_NS (250 * VDM_MSECOND)
#define SLOPE_WEIGHT 0.3
#define MIN_SLOPE 0.01                     /* under 1 % growth: not falling behind */
/* A media step this large is a new stream (the runway's rule). */
#define DISCONTINUITY_NS (10 * VDM_SECOND)
/* Arrival and media time this far apart: no common timeline. */
#define MAX_DELTA_NS (60 * VDM_SECOND)

void
vdm_jb_model_init (vdm_jb_model *m)
{
  memset (m, 0, sizeof (*m));
}

/* The jitterbuffer takes this packet as the start of a new timeline. */
static void
restart_timeline (vdm_jb_model *m, uint64_t arrival_ns, uint64_t media_ns)
{
  m->base_arrival_ns = arrival_ns;
  m->base_media_ns = media_ns;
  m->filling = true;
  m->pos = m->size = 0;
  m->window_min = m->skew = 0;
  m->deficit_ns = 0;
  m->slope = m->delay_slope = 0;
  m->last_sample_ns = arrival_ns;
  m->last_sample_deficit = 0;
  m->delta_ns = m->last_sample_delta = 0;
}

static void
fill_window (vdm_jb_model *m, int64_t delta, uint64_t send_diff)
{
  int64_t perc;

  m->window[m->pos++] = delta;
  if (m->pos == 1 || delta < m->window_min)
    m->window_min = delta;
  if (send_diff >= WINDOW_TIME_NS || m->pos >= VDM_JB_MODEL_WINDOW) {
    m->size = m->pos;
    m->skew = m->window_min;
    m->filling = false;
    return;
  }
  /* the jitterbuffer trusts the minimum more as the window fills */
  perc = (int64_t) (send_diff * 100 / WINDOW_TIME_NS);
  if ((int64_t) m->pos * 100 / VDM_JB_MODEL_WINDOW > perc)
    perc = (int64_t) m->pos * 100 / VDM_JB_MODEL_WINDOW;
  perc *= perc;
  m->skew = (perc * m->window_min + (10000 - perc) * m->skew) / 10000;
  m->size = m->pos + 1;
}

static void
slide_window (vdm_jb_model *m, int64_t delta)
{
  int64_t old = m->window[m->pos];

  m->window[m->pos++] = delta;
  if (delta <= m->window_min) {
    m->window_min = delta;
  } else if (old == m->window_min) {
    int64_t min = INT64_MAX;

    for (unsigned i = 0; i < m->size; i++)
      if (m->window[i] < min)
        min = m->window[i];
    m->window_min = min;
  }
  m->skew = (m->window_min + (SKEW_SMOOTHING - 1) * m->skew) / SKEW_SMOOTHING;
}

static void
sample_slope (vdm_jb_model *m, uint64_t arrival_ns)
{
  double dt = (double) (arrival_ns - m->last_sample_ns);
  double instant = ((double) m->deficit_ns - (double) m->last_sample_deficit) / dt;
  double delay = ((double) m->delta_ns - (double) m->last_sample_delta) / dt;

  m->slope = (1 - SLOPE_WEIGHT) * m->slope + SLOPE_WEIGHT * instant;
  m->delay_slope = (1 - SLOPE_WEIGHT) * m->delay_slope + SLOPE_WEIGHT * delay;
  m->last_sample_ns = arrival_ns;
  m->last_sample_deficit = m->deficit_ns;
  m->last_sample_delta = m->delta_ns;
}

/* The jitterbuffer gave up on its timeline (the delay jumped, or a frame
 * missed its deadline). The path's delay keeps growing as it did, and on a
 * new timeline the skew stays at its first delay while the window fills
 * (2 s): the deficit grows as fast as the delay. So the deficit's growth
 * starts at the delay's, and the next restart is predicted from the first
 * frames of the new timeline on, not only once it is learnt again. */
static void
note_restart (vdm_jb_model *m, uint64_t arrival_ns, uint64_t media_ns)
{
  double delay_slope = m->delay_slope;

  m->restarts++;
  m->last_restart_ns = arrival_ns;
  restart_timeline (m, arrival_ns, media_ns);
  m->slope = m->delay_slope = delay_slope;
}

void
vdm_jb_model_observe (vdm_jb_model *m, uint64_t arrival_ns, uint64_t media_ns,
    uint64_t latency_ns)
{
  uint64_t send_diff, recv_diff, out_time;
  int64_t delta, jump;

  if (m->started && media_ns == m->last_media_ns)
    return;                     /* another packet of the same frame */
  if (!m->started || media_ns < m->base_media_ns || arrival_ns < m->base_arrival_ns
      || media_ns - m->last_media_ns > DISCONTINUITY_NS) {
    m->started = true;
    m->last_media_ns = media_ns;
    restart_timeline (m, arrival_ns, media_ns);
    return;
  }
  m->last_media_ns = media_ns;
  send_diff = media_ns - m->base_media_ns;
  recv_diff = arrival_ns - m->base_arrival_ns;
  /* Beyond a minute either way the two timelines have nothing in common
   * (and the arithmetic below stays far from overflowing). */
  if ((recv_diff > send_diff ? recv_diff - send_diff : send_diff - recv_diff) > MAX_DELTA_NS) {
    note_restart (m, arrival_ns, media_ns);
    return;
  }
  delta = (int64_t) (recv_diff - send_diff);
  jump = delta - m->skew;
  if (jump > (int64_t) SKEW_JUMP_NS || jump < -(int64_t) SKEW_JUMP_NS) {
    note_restart (m, arrival_ns, media_ns);
    delta = 0;
    send_diff = 0;
  }
  if (m->filling)
    fill_window (m, delta, send_diff);
  else
    slide_window (m, delta);
  if (m->pos >= m->size)
    m->pos = 0;
  out_time = m->base_arrival_ns + send_diff + (uint64_t) m->skew;
  if (latency_ns != VDM_TIME_NONE && out_time + latency_ns < arrival_ns) {
    note_restart (m, arrival_ns, media_ns);     /* later than its deadline */
    return;
  }
  m->deficit_ns = (int64_t) (arrival_ns - out_time);
  m->delta_ns = delta;
  if (arrival_ns - m->last_sample_ns >= SAMPLE_PERIOD_NS)
    sample_slope (m, arrival_ns);
}

int64_t
vdm_jb_model_deficit (const vdm_jb_model *m)
{
  return m->started ? m->deficit_ns : 0;
}

uint64_t
vdm_jb_model_restart_deficit (uint64_t latency_ns)
{
  return latency_ns < SKEW_JUMP_NS ? latency_ns : SKEW_JUMP_NS;
}

uint64_t
vdm_jb_model_time_to_freeze (const vdm_jb_model *m, uint64_t latency_ns, uint64_t playout_ns)
{
  uint64_t restart_at = vdm_jb_model_restart_deficit (latency_ns);
  double to_restart;

  if (!m->started || latency_ns == VDM_TIME_NONE || playout_ns == VDM_TIME_NONE
      || !(m->slope > MIN_SLOPE))
    return VDM_TIME_NONE;
  if (playout_ns < restart_at)
    playout_ns = restart_at;
  to_restart = ((double) restart_at - (double) m->deficit_ns) / m->slope;
  if (to_restart < 0)
    to_restart = 0;
  to_restart += (double) (playout_ns - restart_at);
  return to_restart < (double) VDM_TIME_NONE ? (uint64_t) to_restart : VDM_TIME_NONE;
}
