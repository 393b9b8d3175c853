/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "stall_detector.h"

#include <string.h>

void
vdm_stall_config_init (vdm_stall_config *config)
{
  *config = (vdm_stall_config) {
    .burst_gap_ns = 3 * VDM_MSECOND,
    .percentile = 0.99,
    .factor = 2.0,
    .floor_ns = 100 * VDM_MSECOND,
    .ceiling_ns = 200 * VDM_MSECOND,
    .min_gaps = 30,
  };
}

static vdm_stall_config
sanitized (const vdm_stall_config *in)
{
  vdm_stall_config out;

  vdm_stall_config_init (&out);
  if (in == NULL)
    return out;
  out = *in;
  if (!(out.percentile >= 0 && out.percentile <= 1))
    out.percentile = 0.99;
  if (!(out.factor > 0 && out.factor < 1e6))
    out.factor = 2.0;
  if (out.ceiling_ns == 0)
    out.ceiling_ns = 200 * VDM_MSECOND;
  if (out.floor_ns > out.ceiling_ns)
    out.floor_ns = out.ceiling_ns;
  if (out.min_gaps > VDM_STALL_GAPS)
    out.min_gaps = VDM_STALL_GAPS;
  if (out.min_gaps == 0)
    out.min_gaps = 1;
  return out;
}

/* Where `gap` goes in the first n sorted gaps: after every smaller one. */
static unsigned
lower_bound (const uint64_t *sorted, unsigned n, uint64_t gap)
{
  unsigned lo = 0, hi = n;

  while (lo < hi) {
    unsigned mid = lo + (hi - lo) / 2;

    if (sorted[mid] < gap)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* The oldest gap leaves the n sorted ones (it is among them). */
static void
sorted_remove (uint64_t *sorted, unsigned n, uint64_t gap)
{
  unsigned at = lower_bound (sorted, n, gap);

  memmove (sorted + at, sorted + at + 1, (n - at - 1) * sizeof (sorted[0]));
}

static void
sorted_insert (uint64_t *sorted, unsigned n, uint64_t gap)
{
  unsigned at = lower_bound (sorted, n, gap);

  memmove (sorted + at + 1, sorted + at, (n - at) * sizeof (sorted[0]));
  sorted[at] = gap;
}

static void
recompute (vdm_stall_detector *s)
{
  const vdm_stall_config *c = &s->config;
  double scaled;
  unsigned k;

  if (s->count < c->min_gaps) {
    s->threshold_ns = c->ceiling_ns;
    return;
  }
  k = (unsigned) (c->percentile * (double) (s->count - 1) + 0.5);
  scaled = c->factor * (double) s->sorted[k];
  if (scaled >= (double) c->ceiling_ns)
    s->threshold_ns = c->ceiling_ns;
  else if (scaled <= (double) c->floor_ns)
    s->threshold_ns = c->floor_ns;
  else
    s->threshold_ns = (uint64_t) scaled;
}

void
vdm_stall_init (vdm_stall_detector *stall, const vdm_stall_config *config)
{
  memset (stall, 0, sizeof (*stall));
  stall->backlog_ns = VDM_TIME_NONE;
  stall->config = sanitized (config);
  recompute (stall);
}

void
vdm_stall_set_config (vdm_stall_detector *stall, const vdm_stall_config *config)
{
  stall->config = sanitized (config);
  recompute (stall);
}

void
vdm_stall_arrival (vdm_stall_detector *s, uint64_t arrival_ns)
{
  uint64_t gap;
  bool reader_late;

  if (arrival_ns == VDM_TIME_NONE)
    return;
  if (!s->started) {
    s->started = true;
    s->last_arrival_ns = arrival_ns;
    return;
  }
  if (arrival_ns <= s->last_arrival_ns)
    return;
  gap = arrival_ns - s->last_arrival_ns;
  /* data waited in the kernel during this gap: the reader's pause */
  reader_late = s->backlog_ns != VDM_TIME_NONE && s->backlog_ns > s->last_arrival_ns;
  s->last_arrival_ns = arrival_ns;
  if (gap <= s->config.burst_gap_ns || reader_late)
    return;
  if (s->count == VDM_STALL_GAPS)
    sorted_remove (s->sorted, s->count--, s->gaps[s->head]);    /* overwritten next */
  sorted_insert (s->sorted, s->count, gap);
  s->gaps[s->head] = gap;
  s->head = (s->head + 1) % VDM_STALL_GAPS;
  s->count++;
  recompute (s);
}

uint64_t
vdm_stall_threshold (const vdm_stall_detector *stall)
{
  return stall->threshold_ns;
}

void
vdm_stall_backlog (vdm_stall_detector *s, uint64_t now_ns)
{
  if (now_ns == VDM_TIME_NONE)
    return;
  if (s->backlog_ns == VDM_TIME_NONE || now_ns > s->backlog_ns)
    s->backlog_ns = now_ns;
}

/* The last moment the stream is known to have been arriving. */
static uint64_t
last_sign_of_life (const vdm_stall_detector *s)
{
  if (s->backlog_ns != VDM_TIME_NONE && s->backlog_ns > s->last_arrival_ns)
    return s->backlog_ns;
  return s->last_arrival_ns;
}

bool
vdm_stall_is_stalled (const vdm_stall_detector *s, uint64_t now_ns)
{
  uint64_t alive = last_sign_of_life (s);

  return s->started && now_ns != VDM_TIME_NONE && now_ns > alive
      && now_ns - alive >= s->threshold_ns;
}

uint64_t
vdm_stall_last_arrival (const vdm_stall_detector *s)
{
  return s->started ? s->last_arrival_ns : VDM_TIME_NONE;
}

uint64_t
vdm_stall_eta (const vdm_stall_detector *s, uint64_t now_ns, uint64_t buffer_ns, int64_t lag_ns)
{
  uint64_t held, since;

  if (!s->started || buffer_ns == VDM_TIME_NONE || now_ns == VDM_TIME_NONE)
    return VDM_TIME_NONE;
  held = buffer_ns;
  if (lag_ns > 0)
    held = (uint64_t) lag_ns >= held ? 0 : held - (uint64_t) lag_ns;
  since = now_ns > s->last_arrival_ns ? now_ns - s->last_arrival_ns : 0;
  return since >= held ? 0 : held - since;
}
