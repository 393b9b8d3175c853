/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * queue_growth.c — the estimator of queue_growth.h. All arithmetic on
 * offsets goes through a saturating subtraction and then double: offsets
 * come from network input (any RTP timestamp, any clock rate) and their
 * plain difference may overflow.
 */
#include "queue_growth.h"

#include <string.h>

/* A frame is in the envelope if it is the least of those that arrived in
 * the last 150 ms: longer than a keyframe's burst through a link twice the
 * bitrate (the benign case), shorter than the growth we must see early. */
#define ENVELOPE_MS 150.0
/* The fit spans at most this much: a ramp's growth changes. */
#define FIT_MAX_MS 1500.0
/* The queue is empty (an onset) at or below this many ms above the floor:
 * the envelope's own jitter on an idle path is a few ms, and a packet's
 * own serialization on a slow link up to ~10 ms (1200 bytes at 1 Mbit/s). */
#define ONSET_MS 10.0
#define FLOOR_PERIOD_MS 1000.0
/* What a trustworthy growth needs. */
#define FIT_MIN_POINTS 4
#define FIT_MIN_SPAN_MS 120.0
#define FIT_MIN_SLOPE 0.03
#define FIT_MIN_R2 0.7
/* No prediction from a fit older than this (a stall is not a queue). */
#define STALE_MS 1000.0
#define STEP_MAX_MS 10000.0
/* An arrival earlier than the last by more than this is a new clock. */
#define BACKWARDS_MAX_NS VDM_SECOND     /* a media or delay step beyond: a new stream */

void
vdm_queue_growth_init (vdm_queue_growth *qg)
{
  memset (qg, 0, sizeof (*qg));
}

static void
start (vdm_queue_growth *qg, uint64_t arrival_ns, uint64_t media_ns)
{
  vdm_queue_growth_init (qg);
  qg->started = true;
  qg->start_arrival_ns = qg->last_arrival_ns = arrival_ns;
  qg->start_offset_ns = (int64_t) (arrival_ns - media_ns);
  qg->media_ns = media_ns;
  qg->base_ms = -1e300;
  qg->frames[0] = (vdm_queue_growth_sample) { 0, 0 };
  qg->n_frames = 1;
  qg->frame_head = 1;
  qg->current_min = 0;
}

/* ---- the floor: the least delay of the last ~16 s ---- */

static double
floor_ms (const vdm_queue_growth *qg)
{
  double best = qg->current_min;

  for (unsigned i = 0; i < qg->n_periods; i++)
    if (qg->period_min[i] < best)
      best = qg->period_min[i];
  return best;
}

static void
track_floor (vdm_queue_growth *qg, const vdm_queue_growth_sample *s)
{
  if (s->t_ms - qg->period_start_ms >= FLOOR_PERIOD_MS) {
    qg->period_min[qg->period_head] = qg->current_min;
    qg->period_head = (qg->period_head + 1) % VDM_QUEUE_GROWTH_PERIODS;
    if (qg->n_periods < VDM_QUEUE_GROWTH_PERIODS)
      qg->n_periods++;
    qg->period_start_ms = s->t_ms;
    qg->current_min = s->d_ms;
  } else if (s->d_ms < qg->current_min) {
    qg->current_min = s->d_ms;
  }
  if (s->d_ms < qg->base_ms)
    qg->base_ms = s->d_ms;      /* the queue drained below the rebase point */
}

/* What the buffer is measured against: the floor, or the delay at the
 * player's last restart if that is higher. */
static double
reference_ms (const vdm_queue_growth *qg)
{
  double f = floor_ms (qg);

  return qg->base_ms > f ? qg->base_ms : f;
}

/* ---- the envelope and its fit ---- */

static const vdm_queue_growth_sample *
frame_at (const vdm_queue_growth *qg, unsigned age)
{
  return &qg->frames[(qg->frame_head + VDM_QUEUE_GROWTH_FRAMES - 1 - age)
      % VDM_QUEUE_GROWTH_FRAMES];
}

static const vdm_queue_growth_sample *
point_at (const vdm_queue_growth *qg, unsigned age)
{
  return &qg->points[(qg->point_head + VDM_QUEUE_GROWTH_POINTS - 1 - age)
      % VDM_QUEUE_GROWTH_POINTS];
}

/* The least frame of the last ENVELOPE_MS (the latest of equals). */
static vdm_queue_growth_sample
envelope_min (const vdm_queue_growth *qg)
{
  const vdm_queue_growth_sample *newest = frame_at (qg, 0), *best = newest;

  for (unsigned age = 1; age < qg->n_frames; age++) {
    const vdm_queue_growth_sample *s = frame_at (qg, age);

    if (newest->t_ms - s->t_ms >= ENVELOPE_MS)
      break;
    if (s->d_ms < best->d_ms)
      best = s;
  }
  return *best;
}

static void
fit (vdm_queue_growth *qg)
{
  double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0, mx, my, cxx, cxy, cyy;
  const vdm_queue_growth_sample *last = point_at (qg, 0);
  double from = qg->onset_ms > last->t_ms - FIT_MAX_MS ? qg->onset_ms : last->t_ms - FIT_MAX_MS;
  double first_t = last->t_ms;
  unsigned n = 0;

  for (unsigned age = 0; age < qg->n_points; age++) {
    const vdm_queue_growth_sample *p = point_at (qg, age);

    if (p->t_ms <= from && age > 0)
      break;                    /* not the onset itself: a burst's step there is no growth */
    /* relative to the last point: small numbers, no cancellation */
    double x = p->t_ms - last->t_ms, y = p->d_ms - last->d_ms;

    sx += x, sy += y, sxx += x * x, sxy += x * y, syy += y * y;
    first_t = p->t_ms;
    n++;
  }
  qg->fitted = false;
  qg->fit_points = n;
  qg->last_point_ms = last->t_ms;
  qg->queue_ms = last->d_ms - reference_ms (qg);
  if (n < FIT_MIN_POINTS || last->t_ms - first_t < FIT_MIN_SPAN_MS)
    return;
  mx = sx / n, my = sy / n;
  cxx = sxx / n - mx * mx, cxy = sxy / n - mx * my, cyy = syy / n - my * my;
  if (!(cxx > 0))
    return;
  qg->slope = cxy / cxx;
  qg->r2 = cyy > 0 ? cxy * cxy / (cxx * cyy) : 1;
  /* the fitted line at the last point: less noisy than the point itself */
  qg->queue_ms = last->d_ms + my + qg->slope * (0 - mx) - reference_ms (qg);
  qg->fitted = qg->slope >= FIT_MIN_SLOPE && qg->r2 >= FIT_MIN_R2;
}

static void
add_point (vdm_queue_growth *qg, vdm_queue_growth_sample p)
{
  if (qg->n_points > 0 && p.t_ms <= point_at (qg, 0)->t_ms)
    return;                     /* the same envelope frame as before */
  qg->points[qg->point_head] = p;
  qg->point_head = (qg->point_head + 1) % VDM_QUEUE_GROWTH_POINTS;
  if (qg->n_points < VDM_QUEUE_GROWTH_POINTS)
    qg->n_points++;
  if (p.d_ms - floor_ms (qg) <= ONSET_MS)
    qg->onset_ms = p.t_ms;
  fit (qg);
}

static void
add_frame (vdm_queue_growth *qg, vdm_queue_growth_sample s)
{
  qg->frames[qg->frame_head] = s;
  qg->frame_head = (qg->frame_head + 1) % VDM_QUEUE_GROWTH_FRAMES;
  if (qg->n_frames < VDM_QUEUE_GROWTH_FRAMES)
    qg->n_frames++;
  track_floor (qg, &s);
  add_point (qg, envelope_min (qg));
}

void
vdm_queue_growth_observe (vdm_queue_growth *qg, uint64_t arrival_ns, uint64_t media_ns)
{
  vdm_queue_growth_sample s;
  double media_step_ms;

  if (arrival_ns == VDM_TIME_NONE || media_ns == VDM_TIME_NONE)
    return;
  if (!qg->started || arrival_ns + BACKWARDS_MAX_NS < qg->last_arrival_ns) {
    start (qg, arrival_ns, media_ns);
    return;
  }
  if (arrival_ns < qg->last_arrival_ns)
    arrival_ns = qg->last_arrival_ns;   /* stamps of two readers a little apart */
  media_step_ms = media_ns >= qg->media_ns ? (double) (media_ns - qg->media_ns) / 1e6
      : -((double) (qg->media_ns - media_ns) / 1e6);
  s.t_ms = (double) (arrival_ns - qg->start_arrival_ns) / 1e6;
  s.d_ms = (double) vdm_time_sat_sub ((int64_t) (arrival_ns - media_ns), qg->start_offset_ns) / 1e6;
  if (media_step_ms > STEP_MAX_MS || media_step_ms < -STEP_MAX_MS
      || s.d_ms - floor_ms (qg) > STEP_MAX_MS || s.d_ms - floor_ms (qg) < -STEP_MAX_MS) {
    start (qg, arrival_ns, media_ns);
    return;
  }
  qg->last_arrival_ns = arrival_ns;
  if (media_step_ms <= 0)
    return;                     /* the same frame (only its first packet counts), or a late one */
  qg->media_ns = media_ns;
  add_frame (qg, s);
}

void
vdm_queue_growth_rebase (vdm_queue_growth *qg)
{
  if (!qg->started || qg->n_points == 0)
    return;
  qg->base_ms = qg->queue_ms + reference_ms (qg);
  qg->queue_ms = 0;
}

/* ---- outputs ---- */

double
vdm_queue_growth_queue_ms (const vdm_queue_growth *qg)
{
  return qg->started && qg->queue_ms > 0 ? qg->queue_ms : 0;
}

double
vdm_queue_growth_rate (const vdm_queue_growth *qg)
{
  return qg->started && qg->fitted ? qg->slope : 0;
}

uint64_t
vdm_queue_growth_time_to (const vdm_queue_growth *qg, uint64_t buffer_ns, uint64_t now_ns)
{
  double now_ms, since_ms, left_ms, eta_ms;

  if (!qg->started || !qg->fitted || buffer_ns == VDM_TIME_NONE || now_ns == VDM_TIME_NONE
      || now_ns < qg->start_arrival_ns)
    return VDM_TIME_NONE;
  now_ms = (double) (now_ns - qg->start_arrival_ns) / 1e6;
  since_ms = now_ms > qg->last_point_ms ? now_ms - qg->last_point_ms : 0;
  if (since_ms > STALE_MS)
    return VDM_TIME_NONE;
  left_ms = (double) buffer_ns / 1e6 - (qg->queue_ms + qg->slope * since_ms);
  if (left_ms <= 0)
    return 0;
  eta_ms = left_ms / qg->slope;
  return eta_ms < 1e12 ? (uint64_t) (eta_ms * 1e6) : VDM_TIME_NONE;
}
