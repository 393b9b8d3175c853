/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * trendline.h — a bottleneck queue building up, seen before it drops
 * anything: the delay-gradient detector of Google Congestion Control
 * (draft-ietf-rmcat-gcc; WebRTC's TrendlineEstimator and its overuse
 * detector), run on the receiving side on (arrival time, media timestamp)
 * pairs.
 *
 * Packets are grouped by media timestamp (one video frame = one RTP
 * timestamp, or one container timestamp). Between two complete groups,
 *   d = (arrival delta) - (media timestamp delta)
 * is the delay variation: > 0 when the second frame waited longer on the
 * path than the first. The accumulated variation, smoothed (0.9), over the
 * last `window` (20) groups is fitted by least squares against arrival
 * time: the slope is the trend (ms of extra delay per ms). The modified
 * trend min(n, 60) x slope x gain (4), in ms, is compared with an adaptive
 * threshold gamma (12.5 ms initially, k_up 0.0087, k_down 0.039, 6..600
 * ms): above it for longer than `overuse_time_ms` (10 ms) on more than one
 * group, with a non-decreasing trend, the path is overusing; below -gamma,
 * underusing; else normal.
 *
 * GCC answers overuse by sending less at once, so its threshold may follow
 * a steady trend up and fall back to "normal" while the queue keeps
 * growing. A receiver that only watches must not forget: the estimator
 * latches "queue building" when overuse is declared and holds it while
 * the trend stays above `hold_trend` (2 % growth) and not underusing.
 *
 * For a warning, the queue delay matters too: the smoothed accumulated
 * delay above its minimum over the last ~64 s (the empty-queue delay).
 * With the trend, it gives the time until the queue delay eats a playout
 * buffer.
 *
 * Plain C, explicit times, no allocation. Media timestamps are ns on the
 * caller's unwrapped timeline (RTP timestamps extended and scaled by the
 * clock rate, or PTS). A media step of more than 10 s either way, or an
 * arrival earlier than the last one, starts the estimator over.
 */
#ifndef VDM_TRENDLINE_H
#define VDM_TRENDLINE_H

#include <stdbool.h>
#include <stdint.h>

#include "vdm_time.h"

#define VDM_TRENDLINE_WINDOW_MAX 64
#define VDM_TRENDLINE_MIN_PERIODS 64     /* memory of the queue-delay floor: 64 x 1 s */

typedef enum {
  VDM_USAGE_NORMAL = 0,
  VDM_USAGE_OVERUSING,
  VDM_USAGE_UNDERUSING,
} vdm_usage;

typedef struct {
  unsigned window;                /* 20 groups */
  double smoothing;               /* 0.9 */
  double threshold_gain;          /* 4 */
  double k_up, k_down;            /* 0.0087, 0.039 */
  double initial_threshold_ms;    /* 12.5 */
  double overuse_time_ms;         /* 10 */
  double hold_trend;              /* 0.02: queue building holds while the trend is above */
} vdm_trendline_config;

typedef struct {
  uint64_t arrival_ns;            /* of its last packet */
  uint64_t first_arrival_ns;
  uint64_t media_ns;
} vdm_trendline_group;

typedef struct {
  vdm_trendline_config config;
  bool started;
  /* grouping */
  vdm_trendline_group current, previous;
  bool have_previous;
  /* the filter */
  uint64_t first_arrival_ns;      /* time origin of the fit */
  double accumulated_ms, smoothed_ms;
  unsigned n_deltas;
  double xs[VDM_TRENDLINE_WINDOW_MAX], ys[VDM_TRENDLINE_WINDOW_MAX];
  unsigned head, len;
  double trend;                   /* slope, ms per ms */
  double prev_trend;
  double modified_trend_ms;
  /* the detector */
  double threshold_ms;
  uint64_t last_update_ns;
  bool have_update;
  double time_over_using_ms;      /* -1: not over */
  unsigned overuse_count;
  vdm_usage usage;
  bool building;                  /* latched overuse, see above */
  uint64_t building_since_ns;     /* arrival time of the group that latched it */
  /* queue delay: the accumulated delay above its recent floor */
  double period_min[VDM_TRENDLINE_MIN_PERIODS];
  unsigned n_periods, period_head;
  double current_min;
  uint64_t period_start_ns;
  uint64_t groups;                /* complete groups seen since start */
} vdm_trendline;

void vdm_trendline_config_init (vdm_trendline_config *config);
void vdm_trendline_init (vdm_trendline *tl, const vdm_trendline_config *config);
/* A packet (or a buffer) of media time media_ns arrived at arrival_ns. */
void vdm_trendline_packet (vdm_trendline *tl, uint64_t arrival_ns, uint64_t media_ns);

vdm_usage vdm_trendline_usage (const vdm_trendline *tl);
/* Overuse was declared and the trend has stayed up since: a queue grows. */
bool vdm_trendline_queue_building (const vdm_trendline *tl);
/* How long it has been building at now_ns; 0 when it is not. */
uint64_t vdm_trendline_building_for (const vdm_trendline *tl, uint64_t now_ns);
const char *vdm_usage_name (vdm_usage usage);        /* "normal" | "overusing" | "underusing" */
/* The fitted slope (ms of delay per ms), 0 before the window filled. */
double vdm_trendline_trend (const vdm_trendline *tl);
double vdm_trendline_modified_trend_ms (const vdm_trendline *tl);
double vdm_trendline_threshold_ms (const vdm_trendline *tl);
/* The delay above the empty-queue delay of the last ~16 s, ms (>= 0). */
double vdm_trendline_queue_delay_ms (const vdm_trendline *tl);
/* Time until the queue delay reaches buffer_ns at the current trend: 0 if
 * it already did, VDM_TIME_NONE if the trend is not positive (or no
 * buffer). */
uint64_t vdm_trendline_time_to_empty (const vdm_trendline *tl, uint64_t buffer_ns);

#endif
