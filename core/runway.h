/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * runway.h — how long until the playout buffer runs dry. A live stream's
 * media arrives at a steady offset from its timestamps; when the path's
 * throughput falls under the stream's bitrate (TCP slowing down, a router
 * queue building up before it drops) each frame comes later than the one
 * before, and the lag eats the buffer the player keeps (the pipeline
 * latency). Lag and its growth give the time left: a warning that needs no
 * lost packet at all.
 */
#ifndef VDM_RUNWAY_H
#define VDM_RUNWAY_H

#include <stdbool.h>
#include <stdint.h>

#include "vdm_time.h"

#define VDM_RUNWAY_SAMPLES 64    /* one per sample period: the best offset's memory */

typedef struct {
  bool started;
  uint64_t start_ns;             /* arrival time of the first unit since (re)start */
  uint64_t sample_period_ns;     /* 250 ms */
  /* offsets (arrival - media time) of recent sample periods, min of each */
  int64_t period_min[VDM_RUNWAY_SAMPLES];
  unsigned n_periods, head;
  uint64_t period_start_ns;
  int64_t current_min;
  /* lag and its growth */
  int64_t lag_ns;                /* current offset - best offset in memory */
  double slope;                  /* ns of lag per ns of time, smoothed */
  uint64_t last_sample_ns;
  int64_t last_sample_lag;
} vdm_runway;

void vdm_runway_init (vdm_runway *runway);
/* A unit of media (frame, packet) arrived at arrival_ns with media time
 * media_ns (PTS, or the RTP timestamp in ns). Both on any monotonic base. */
void vdm_runway_observe (vdm_runway *runway, uint64_t arrival_ns, uint64_t media_ns);
/* The player started its timeline over at the last arrival (an RTP
 * jitterbuffer restarting it): the lag counts from there, 0 now; its
 * growth is kept (the path did not change). Start time, sample period and
 * clock stay: not a new stream. */
void vdm_runway_rebase (vdm_runway *runway);
int64_t vdm_runway_lag (const vdm_runway *runway);
/* Time until the lag reaches buffer_ns at the current growth: 0 if already
 * there, VDM_TIME_NONE if the lag is not growing. */
uint64_t vdm_runway_time_to_empty (const vdm_runway *runway, uint64_t buffer_ns);

#endif
