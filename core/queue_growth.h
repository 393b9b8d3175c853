/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * queue_growth.h — how fast a bottleneck queue on the path grows, and when
 * its delay will exceed a playout buffer, from the lower envelope of the
 * frames' one-way delay (issue 12, fourth pass).
 *
 * Through a bottleneck of capacity C below the stream's rate R, the queue
 * delay grows at (R - C) / C seconds per second. The runway (runway.h)
 * sees that growth through an EWMA of 250 ms samples of the raw lag, which
 * keyframes swing: it needs ~1 s to follow. The delay-gradient detector
 * (trendline.h) needs a 20-frame window and 0.5 s of held overuse. With a
 * 200 ms buffer the queue eats the buffer 1.0–1.5 s after it starts to
 * grow (the lead-time testbed), so both speak late. This estimator:
 *
 * - takes one delay sample per frame (media timestamp): the first packet
 *   of the frame, which waits only for the queue ahead of it, not behind
 *   its own frame's packets; delays are relative to the floor, the least
 *   sample of the last ~16 s (the empty-queue delay);
 * - keeps the lower envelope: a frame counts only if it is the least of
 *   the frames that arrived in the last `envelope` (150 ms) — a keyframe's
 *   burst and the frames stuck behind it are not a standing queue, a
 *   queue that persists is;
 * - fits a least-squares line to the envelope points after the queue last
 *   was empty (its onset; at most the last 1.5 s): a queue that starts
 *   growing at some moment is a hinge, and a line through the flat part
 *   too would halve its slope. The onset point itself is left out: the
 *   burst that starts a queue (a keyframe that empties a token bucket) is
 *   a step, not the growth that follows;
 * - predicts: the queue delay reaches the buffer in
 *   (buffer - fitted delay now) / slope, if the fit is trustworthy (at
 *   least 4 points over 120 ms, slope at least 3 %, R^2 at least 0.7).
 *
 * It never sees the bottleneck's drops: arrivals only. Plain C, explicit
 * times, no allocation. A media or offset step beyond 10 s, or an arrival
 * more than 1 s earlier than the last one, starts it over (a little
 * earlier counts as the last one's time).
 */
#ifndef VDM_QUEUE_GROWTH_H
#define VDM_QUEUE_GROWTH_H

#include <stdbool.h>
#include <stdint.h>

#include "vdm_time.h"

#define VDM_QUEUE_GROWTH_FRAMES 128     /* frames kept for the envelope */
#define VDM_QUEUE_GROWTH_POINTS 128     /* envelope points kept for the fit */
#define VDM_QUEUE_GROWTH_PERIODS 16     /* floor memory: 16 x 1 s */

typedef struct {
  double t_ms, d_ms;            /* arrival (since start), delay (offset since start) */
} vdm_queue_growth_sample;

typedef struct {
  bool started;
  uint64_t start_arrival_ns;
  int64_t start_offset_ns;      /* arrival - media of the first packet */
  uint64_t last_arrival_ns;
  uint64_t media_ns;            /* the current frame's */
  /* frames' first-packet delays */
  vdm_queue_growth_sample frames[VDM_QUEUE_GROWTH_FRAMES];
  unsigned frame_head, n_frames;
  /* lower-envelope points */
  vdm_queue_growth_sample points[VDM_QUEUE_GROWTH_POINTS];
  unsigned point_head, n_points;
  /* the floor (empty-queue delay): minima of 1 s periods */
  double period_min[VDM_QUEUE_GROWTH_PERIODS];
  unsigned n_periods, period_head;
  double current_min;
  double period_start_ms;
  double base_ms;               /* the floor's replacement after a rebase, or -inf */
  double onset_ms;              /* last envelope point with an empty queue */
  /* the fit over the points since the onset */
  bool fitted;
  double slope;                 /* ms of queue delay per ms */
  double queue_ms;              /* fitted queue delay at the last point */
  double last_point_ms;
  double r2;
  unsigned fit_points;
} vdm_queue_growth;

void vdm_queue_growth_init (vdm_queue_growth *qg);
/* A packet of media time media_ns arrived at arrival_ns (any monotonic
 * bases; media in ns on an unwrapped timeline). */
void vdm_queue_growth_observe (vdm_queue_growth *qg, uint64_t arrival_ns, uint64_t media_ns);
/* The player started its timeline over (an RTP jitterbuffer restart): the
 * queue delay counts from the one now, the growth stays. */
void vdm_queue_growth_rebase (vdm_queue_growth *qg);
/* The standing queue delay at the last envelope point, ms (>= 0). */
double vdm_queue_growth_queue_ms (const vdm_queue_growth *qg);
/* Its growth, ms per ms; 0 when no trustworthy growth is seen. */
double vdm_queue_growth_rate (const vdm_queue_growth *qg);
/* Time from now_ns until the queue delay reaches buffer_ns at the fitted
 * growth: 0 if already there, VDM_TIME_NONE if no trustworthy growth (or
 * no buffer). */
uint64_t vdm_queue_growth_time_to (const vdm_queue_growth *qg, uint64_t buffer_ns,
    uint64_t now_ns);

#endif
