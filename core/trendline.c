/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * trendline.c — the estimator of trendline.h. It follows WebRTC's
 * InterArrival / TrendlineEstimator (modules/remote_bitrate_estimator and
 * modules/congestion_controller/goog_cc) closely, with these receive-side
 * decisions:
 * - A group is one media timestamp (a frame), not a 5 ms send burst: the
 *   receiver has no send times, and a frame is what the encoder emitted at
 *   once. A group's arrival is that of its last packet.
 * - A new group that arrives within 5 ms of the current one and *earlier*
 *   than its media spacing says (a backlog flushed after a pause) joins the
 *   current group, as WebRTC's BelongsToBurst does (a burst spans at most
 *   100 ms): otherwise every frame of the flush would read as a large
 *   negative variation.
 * - Packets of an older media time (reordered, late) are ignored.
 * - Robustness: arrival earlier than the last one, or a media step beyond
 *   10 s either way (new stream, seek, clock-rate change), restarts the
 *   estimator from that packet. All arithmetic on deltas is done in double
 *   after an unsigned subtraction whose order is known, so no signed
 *   overflow whatever the input.
 */
#include "trendline.h"

#include <string.h>

#define MIN_NUM_DELTAS 60
#define MAX_ADAPT_OFFSET_MS 15.0
#define MAX_TIME_DELTA_MS 100.0
#define THRESHOLD_MIN_MS 6.0
#define THRESHOLD_MAX_MS 600.0
#define BURST_DELTA_NS (5 * VDM_MSECOND)
#define MAX_BURST_NS (100 * VDM_MSECOND)
#define MEDIA_STEP_MAX_NS (10 * VDM_SECOND)
#define FLOOR_PERIOD_NS VDM_SECOND

void
vdm_trendline_config_init (vdm_trendline_config *config)
{
  *config = (vdm_trendline_config) {
    .window = 20,
    .smoothing = 0.9,
    .threshold_gain = 4.0,
    .k_up = 0.0087,
    .k_down = 0.039,
    .initial_threshold_ms = 12.5,
    .overuse_time_ms = 10.0,
    .hold_trend = 0.02,
  };
}

static vdm_trendline_config
sanitized (const vdm_trendline_config *in)
{
  vdm_trendline_config out, d;

  vdm_trendline_config_init (&d);
  if (in == NULL)
    return d;
  out = *in;
  if (out.window < 2 || out.window > VDM_TRENDLINE_WINDOW_MAX)
    out.window = d.window;
  if (!(out.smoothing >= 0 && out.smoothing < 1))
    out.smoothing = d.smoothing;
  if (!(out.threshold_gain > 0 && out.threshold_gain < 1e6))
    out.threshold_gain = d.threshold_gain;
  if (!(out.k_up >= 0 && out.k_up < 1))
    out.k_up = d.k_up;
  if (!(out.k_down >= 0 && out.k_down < 1))
    out.k_down = d.k_down;
  if (!(out.initial_threshold_ms >= THRESHOLD_MIN_MS && out.initial_threshold_ms <= THRESHOLD_MAX_MS))
    out.initial_threshold_ms = d.initial_threshold_ms;
  if (!(out.overuse_time_ms >= 0 && out.overuse_time_ms < 1e9))
    out.overuse_time_ms = d.overuse_time_ms;
  if (!(out.hold_trend >= 0 && out.hold_trend < 1e6))
    out.hold_trend = d.hold_trend;
  return out;
}

void
vdm_trendline_init (vdm_trendline *tl, const vdm_trendline_config *config)
{
  vdm_trendline_config c = sanitized (config);

  memset (tl, 0, sizeof (*tl));
  tl->config = c;
  tl->threshold_ms = c.initial_threshold_ms;
  tl->time_over_using_ms = -1;
}

/* |x| without libm: this library links none. */
static double
magnitude_of (double x)
{
  return x < 0 ? -x : x;
}

static double
ms_between (uint64_t later, uint64_t earlier)
{
  return later >= earlier ? (double) (later - earlier) / 1e6 : -((double) (earlier - later) / 1e6);
}

static void
start (vdm_trendline *tl, uint64_t arrival_ns, uint64_t media_ns)
{
  vdm_trendline_init (tl, &tl->config);
  tl->started = true;
  tl->current = (vdm_trendline_group) { arrival_ns, arrival_ns, media_ns };
  tl->first_arrival_ns = arrival_ns;
  tl->period_start_ns = arrival_ns;
}

/* ---- the queue-delay floor ---- */

static double
delay_floor (const vdm_trendline *tl)
{
  double best = tl->current_min;

  for (unsigned i = 0; i < tl->n_periods; i++)
    if (tl->period_min[i] < best)
      best = tl->period_min[i];
  return best;
}

static void
track_floor (vdm_trendline *tl, uint64_t arrival_ns, double delay_ms)
{
  if (tl->groups == 1) {
    tl->current_min = delay_ms;
    return;
  }
  if (arrival_ns - tl->period_start_ns >= FLOOR_PERIOD_NS) {
    tl->period_min[tl->period_head] = tl->current_min;
    tl->period_head = (tl->period_head + 1) % VDM_TRENDLINE_MIN_PERIODS;
    if (tl->n_periods < VDM_TRENDLINE_MIN_PERIODS)
      tl->n_periods++;
    tl->period_start_ns = arrival_ns;
    tl->current_min = delay_ms;
  } else if (delay_ms < tl->current_min) {
    tl->current_min = delay_ms;
  }
}

/* ---- the filter ---- */

/* Least-squares slope of the window; keeps the old trend when degenerate. */
static double
linear_fit_slope (const vdm_trendline *tl)
{
  double sum_x = 0, sum_y = 0, num = 0, den = 0, mean_x, mean_y;
  unsigned n = tl->len;

  for (unsigned i = 0; i < n; i++) {
    sum_x += tl->xs[i];
    sum_y += tl->ys[i];
  }
  mean_x = sum_x / n;
  mean_y = sum_y / n;
  for (unsigned i = 0; i < n; i++) {
    num += (tl->xs[i] - mean_x) * (tl->ys[i] - mean_y);
    den += (tl->xs[i] - mean_x) * (tl->xs[i] - mean_x);
  }
  return den > 0 ? num / den : tl->trend;
}

static void
update_threshold (vdm_trendline *tl, double modified_trend, uint64_t now_ns)
{
  const vdm_trendline_config *c = &tl->config;
  double magnitude = magnitude_of (modified_trend), k, dt;

  if (!tl->have_update) {
    tl->have_update = true;
    tl->last_update_ns = now_ns;
  }
  dt = ms_between (now_ns, tl->last_update_ns);
  tl->last_update_ns = now_ns;
  if (magnitude > tl->threshold_ms + MAX_ADAPT_OFFSET_MS)
    return;                     /* a spike: do not let it drag gamma along */
  k = magnitude < tl->threshold_ms ? c->k_down : c->k_up;
  if (dt > MAX_TIME_DELTA_MS)
    dt = MAX_TIME_DELTA_MS;
  tl->threshold_ms += k * (magnitude - tl->threshold_ms) * dt;
  if (tl->threshold_ms < THRESHOLD_MIN_MS)
    tl->threshold_ms = THRESHOLD_MIN_MS;
  if (tl->threshold_ms > THRESHOLD_MAX_MS)
    tl->threshold_ms = THRESHOLD_MAX_MS;
}

static void
detect (vdm_trendline *tl, double media_delta_ms, uint64_t now_ns)
{
  double modified;

  if (tl->n_deltas < 2) {
    tl->usage = VDM_USAGE_NORMAL;
    return;
  }
  modified = (tl->n_deltas < MIN_NUM_DELTAS ? tl->n_deltas : MIN_NUM_DELTAS) * tl->trend
      * tl->config.threshold_gain;
  tl->modified_trend_ms = modified;
  if (modified > tl->threshold_ms) {
    if (tl->time_over_using_ms < 0)
      tl->time_over_using_ms = media_delta_ms / 2;
    else
      tl->time_over_using_ms += media_delta_ms;
    tl->overuse_count++;
    if (tl->time_over_using_ms > tl->config.overuse_time_ms && tl->overuse_count > 1
        && tl->trend >= tl->prev_trend) {
      tl->time_over_using_ms = 0;
      tl->overuse_count = 0;
      tl->usage = VDM_USAGE_OVERUSING;
    }
  } else if (modified < -tl->threshold_ms) {
    tl->time_over_using_ms = -1;
    tl->overuse_count = 0;
    tl->usage = VDM_USAGE_UNDERUSING;
  } else {
    tl->time_over_using_ms = -1;
    tl->overuse_count = 0;
    tl->usage = VDM_USAGE_NORMAL;
  }
  tl->prev_trend = tl->trend;
  if (tl->usage == VDM_USAGE_OVERUSING && !tl->building) {
    tl->building = true;
    tl->building_since_ns = now_ns;
  }
  else if (tl->usage == VDM_USAGE_UNDERUSING || !(tl->trend > tl->config.hold_trend))
    tl->building = false;
  update_threshold (tl, modified, now_ns);
}

/* One complete group after another: the delay variation between them. */
static void
update (vdm_trendline *tl, const vdm_trendline_group *prev, const vdm_trendline_group *cur)
{
  const vdm_trendline_config *c = &tl->config;
  double arrival_delta = ms_between (cur->arrival_ns, prev->arrival_ns);
  double media_delta = ms_between (cur->media_ns, prev->media_ns);
  unsigned slot;

  if (tl->n_deltas < 1000)
    tl->n_deltas++;
  tl->accumulated_ms += arrival_delta - media_delta;
  tl->smoothed_ms = c->smoothing * tl->smoothed_ms + (1 - c->smoothing) * tl->accumulated_ms;
  tl->groups++;
  track_floor (tl, cur->arrival_ns, tl->smoothed_ms);

  slot = tl->len < c->window ? tl->len : tl->head;
  tl->xs[slot] = ms_between (cur->arrival_ns, tl->first_arrival_ns);
  tl->ys[slot] = tl->smoothed_ms;
  if (tl->len < c->window)
    tl->len++;
  else
    tl->head = (tl->head + 1) % c->window;
  if (tl->len == c->window)
    tl->trend = linear_fit_slope (tl);
  detect (tl, media_delta, cur->arrival_ns);
}

static bool
belongs_to_burst (const vdm_trendline *tl, uint64_t arrival_ns, uint64_t media_ns)
{
  uint64_t arrival_delta = arrival_ns - tl->current.arrival_ns;
  uint64_t media_delta = media_ns - tl->current.media_ns;

  return arrival_delta < BURST_DELTA_NS && arrival_delta < media_delta
      && arrival_ns - tl->current.first_arrival_ns < MAX_BURST_NS;
}

void
vdm_trendline_packet (vdm_trendline *tl, uint64_t arrival_ns, uint64_t media_ns)
{
  if (arrival_ns == VDM_TIME_NONE || media_ns == VDM_TIME_NONE)
    return;
  if (!tl->started || arrival_ns < tl->current.arrival_ns
      || (media_ns > tl->current.media_ns && media_ns - tl->current.media_ns > MEDIA_STEP_MAX_NS)
      || (media_ns < tl->current.media_ns
          && tl->current.media_ns - media_ns > MEDIA_STEP_MAX_NS)) {
    start (tl, arrival_ns, media_ns);
    return;
  }
  if (media_ns < tl->current.media_ns)
    return;                     /* a late packet of an older frame */
  if (media_ns == tl->current.media_ns || belongs_to_burst (tl, arrival_ns, media_ns)) {
    tl->current.arrival_ns = arrival_ns;
    tl->current.media_ns = media_ns;
    return;
  }
  if (tl->have_previous)
    update (tl, &tl->previous, &tl->current);
  tl->previous = tl->current;
  tl->have_previous = true;
  tl->current = (vdm_trendline_group) { arrival_ns, arrival_ns, media_ns };
}

/* ---- outputs ---- */

vdm_usage
vdm_trendline_usage (const vdm_trendline *tl)
{
  return tl->usage;
}

bool
vdm_trendline_queue_building (const vdm_trendline *tl)
{
  return tl->building;
}

uint64_t
vdm_trendline_building_for (const vdm_trendline *tl, uint64_t now_ns)
{
  if (!tl->building || now_ns == VDM_TIME_NONE || now_ns < tl->building_since_ns)
    return 0;
  return now_ns - tl->building_since_ns;
}

const char *
vdm_usage_name (vdm_usage usage)
{
  switch (usage) {
    case VDM_USAGE_NORMAL:
      return "normal";
    case VDM_USAGE_OVERUSING:
      return "overusing";
    case VDM_USAGE_UNDERUSING:
      return "underusing";
  }
  return "unknown";
}

double
vdm_trendline_trend (const vdm_trendline *tl)
{
  return tl->trend;
}

double
vdm_trendline_modified_trend_ms (const vdm_trendline *tl)
{
  return tl->modified_trend_ms;
}

double
vdm_trendline_threshold_ms (const vdm_trendline *tl)
{
  return tl->threshold_ms;
}

double
vdm_trendline_queue_delay_ms (const vdm_trendline *tl)
{
  double q;

  if (tl->groups == 0)
    return 0;
  q = tl->smoothed_ms - delay_floor (tl);
  return q > 0 ? q : 0;
}

uint64_t
vdm_trendline_time_to_empty (const vdm_trendline *tl, uint64_t buffer_ns)
{
  double left_ms, eta_ms;

  if (buffer_ns == VDM_TIME_NONE || tl->groups == 0 || !(tl->trend > 0))
    return VDM_TIME_NONE;
  left_ms = (double) buffer_ns / 1e6 - vdm_trendline_queue_delay_ms (tl);
  if (left_ms <= 0)
    return 0;
  eta_ms = left_ms / tl->trend;
  if (!(eta_ms < 1e12))         /* > 30 years: never */
    return VDM_TIME_NONE;
  return (uint64_t) (eta_ms * 1e6);
}
