/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * arrival_stats.h — what the arrival of RTP packets tells before any packet
 * is declared lost: RFC 3550 interarrival jitter, frame-interval deviation
 * (FID: how far the gap between frames strays from what their timestamps
 * promise) and arrival silence (packets stopped coming: an outage fills
 * router queues and drops nothing for a while, but nothing arrives).
 */
#ifndef VDM_ARRIVAL_STATS_H
#define VDM_ARRIVAL_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "vdm_time.h"

typedef struct {
  uint32_t clock_rate;
  bool started;
  uint32_t ssrc;
  uint64_t last_arrival_ns;
  /* jitter (RFC 3550 6.4.1), in RTP units scaled by 16 as in appendix A.8 */
  int64_t last_transit;
  uint64_t jitter_q4;
  /* frames: first packet of each new RTP timestamp */
  uint32_t frame_ts;
  uint64_t frame_arrival_ns;
  double frame_interval_ns;       /* EWMA of arrival spacing between frames */
  double fid_sum_ns, fid_max_ns;  /* |deviation| over the current report interval */
  uint64_t fid_frames;
  uint64_t packets;
} vdm_arrival_stats;

void vdm_arrival_stats_init (vdm_arrival_stats *stats, uint32_t clock_rate);
/* A packet arrived. A new SSRC restarts the statistics. */
void vdm_arrival_stats_packet (vdm_arrival_stats *stats, uint64_t arrival_ns, uint32_t ssrc,
    uint32_t rtp_ts);
double vdm_arrival_stats_jitter_ms (const vdm_arrival_stats *stats);
/* Mean and max |frame interval - timestamp interval| since the last call; then resets them. */
void vdm_arrival_stats_take_fid (vdm_arrival_stats *stats, double *mean_ms, double *max_ms);
/* Silent when nothing arrived for max(min_silence_ns, 3 frame intervals). */
bool vdm_arrival_stats_is_silent (const vdm_arrival_stats *stats, uint64_t now_ns,
    uint64_t min_silence_ns);

#endif
