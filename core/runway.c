/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "runway.h"

#include <stdint.h>
#include <string.h>

#define SAMPLE_PERIOD_NS (250 * VDM_MSECOND)
#define SLOPE_WEIGHT 0.3
/* A jump this big between media and arrival is a new stream, not lag. */
#define DISCONTINUITY_NS (10 * VDM_SECOND)

void
vdm_runway_init (vdm_runway *runway)
{
  memset (runway, 0, sizeof (*runway));
  runway->sample_period_ns = SAMPLE_PERIOD_NS;
}

static int64_t
best_offset (const vdm_runway *r)
{
  int64_t best = r->current_min;
  unsigned i;

  for (i = 0; i < r->n_periods; i++)
    if (r->period_min[i] < best)
      best = r->period_min[i];
  return best;
}

/* Closes the current period: its minimum joins the memory. */
static void
close_period (vdm_runway *r, uint64_t arrival_ns, int64_t offset)
{
  r->period_min[r->head] = r->current_min;
  r->head = (r->head + 1) % VDM_RUNWAY_SAMPLES;
  if (r->n_periods < VDM_RUNWAY_SAMPLES)
    r->n_periods++;
  r->period_start_ns = arrival_ns;
  r->current_min = offset;
}

static void
update_slope (vdm_runway *r, uint64_t arrival_ns)
{
  double dt = (double) (arrival_ns - r->last_sample_ns);
  double instant = ((double) r->lag_ns - (double) r->last_sample_lag) / dt;

  r->slope = (1 - SLOPE_WEIGHT) * r->slope + SLOPE_WEIGHT * instant;
  r->last_sample_ns = arrival_ns;
  r->last_sample_lag = r->lag_ns;
}

void
vdm_runway_observe (vdm_runway *r, uint64_t arrival_ns, uint64_t media_ns)
{
  int64_t offset = (int64_t) (arrival_ns - media_ns);
  int64_t jump = r->started ? vdm_time_sat_sub (offset, best_offset (r)) : 0;

  if (r->started && (arrival_ns < r->last_sample_ns
          || jump > (int64_t) DISCONTINUITY_NS || jump < -(int64_t) DISCONTINUITY_NS))
    r->started = false;         /* restart, seek, clock change */
  if (!r->started) {
    vdm_runway_init (r);
    r->started = true;
    r->start_ns = r->period_start_ns = r->last_sample_ns = arrival_ns;
    r->current_min = offset;
    return;
  }
  if (arrival_ns - r->period_start_ns >= r->sample_period_ns)
    close_period (r, arrival_ns, offset);
  else if (offset < r->current_min)
    r->current_min = offset;
  r->lag_ns = vdm_time_sat_sub (offset, best_offset (r));
  if (arrival_ns - r->last_sample_ns >= r->sample_period_ns)
    update_slope (r, arrival_ns);
}

void
vdm_runway_rebase (vdm_runway *r)
{
  int64_t last;

  if (!r->started)
    return;
  last = best_offset (r);
  last = __builtin_add_overflow (last, r->lag_ns, &last) ? INT64_MAX : last;
  r->n_periods = 0;
  r->head = 0;
  r->current_min = last;
  r->lag_ns = 0;
  r->last_sample_lag = 0;
}

int64_t
vdm_runway_lag (const vdm_runway *r)
{
  return r->started ? r->lag_ns : 0;
}

uint64_t
vdm_runway_time_to_empty (const vdm_runway *r, uint64_t buffer_ns)
{
  if (!r->started)
    return VDM_TIME_NONE;
  if (r->lag_ns >= 0 && (uint64_t) r->lag_ns >= buffer_ns)
    return 0;
  if (!(r->slope > 0.01))       /* under 1 % growth: noise, or not falling behind */
    return VDM_TIME_NONE;
  /* In double: buffer_ns is any uint64 and the lag may be negative. */
  double eta = ((double) buffer_ns - (double) r->lag_ns) / r->slope;
  return eta < (double) VDM_TIME_NONE ? (uint64_t) eta : VDM_TIME_NONE;
}
