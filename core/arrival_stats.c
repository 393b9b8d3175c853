/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "arrival_stats.h"

#include <string.h>

/* RFC 3550 transit time (arrival in RTP units - RTP timestamp), modulo
 * 2^64: only differences modulo 2^32 are used, and unsigned arithmetic keeps
 * any arrival time and clock rate free of signed overflow. */
static uint64_t
transit_of (uint64_t arrival_ns, uint32_t clock_rate, uint32_t rtp_ts)
{
  return (uint64_t) ((unsigned __int128) arrival_ns * clock_rate / VDM_SECOND) - rtp_ts;
}

void
vdm_arrival_stats_init (vdm_arrival_stats *stats, uint32_t clock_rate)
{
  memset (stats, 0, sizeof (*stats));
  stats->clock_rate = clock_rate ? clock_rate : 90000;
}

static void
restart (vdm_arrival_stats *stats, uint64_t arrival_ns, uint32_t ssrc, uint32_t rtp_ts)
{
  uint32_t clock_rate = stats->clock_rate;

  vdm_arrival_stats_init (stats, clock_rate);
  stats->started = true;
  stats->ssrc = ssrc;
  stats->last_arrival_ns = arrival_ns;
  stats->last_transit = (int64_t) transit_of (arrival_ns, clock_rate, rtp_ts);
  stats->frame_ts = rtp_ts;
  stats->frame_arrival_ns = arrival_ns;
  stats->packets = 1;
}

static void
update_jitter (vdm_arrival_stats *stats, uint64_t arrival_ns, uint32_t rtp_ts)
{
  /* transit differences are taken modulo 2^32 like the timestamps themselves */
  uint64_t transit = transit_of (arrival_ns, stats->clock_rate, rtp_ts);
  int32_t d = (int32_t) (uint32_t) (transit - (uint64_t) stats->last_transit);
  uint64_t abs_d = d < 0 ? (uint64_t) (-(int64_t) d) : (uint64_t) d;

  stats->last_transit = (int64_t) transit;
  /* J += (|D| - J) / 16, kept scaled by 16 (RFC 3550 A.8) */
  stats->jitter_q4 += abs_d - ((stats->jitter_q4 + 8) >> 4);
}

static void
update_frames (vdm_arrival_stats *stats, uint64_t arrival_ns, uint32_t rtp_ts)
{
  int32_t ts_delta = (int32_t) (rtp_ts - stats->frame_ts);
  double interval, expected, deviation;

  if (ts_delta <= 0)
    return;                     /* same frame, or a late packet of an older one */
  interval = (double) (arrival_ns - stats->frame_arrival_ns);
  expected = (double) ts_delta * VDM_SECOND / stats->clock_rate;
  deviation = interval > expected ? interval - expected : expected - interval;
  stats->fid_sum_ns += deviation;
  if (deviation > stats->fid_max_ns)
    stats->fid_max_ns = deviation;
  stats->fid_frames++;
  stats->frame_interval_ns = stats->frame_interval_ns == 0 ? expected
      : 0.9 * stats->frame_interval_ns + 0.1 * expected;
  stats->frame_ts = rtp_ts;
  stats->frame_arrival_ns = arrival_ns;
}

void
vdm_arrival_stats_packet (vdm_arrival_stats *stats, uint64_t arrival_ns, uint32_t ssrc,
    uint32_t rtp_ts)
{
  if (!stats->started || ssrc != stats->ssrc) {
    restart (stats, arrival_ns, ssrc, rtp_ts);
    return;
  }
  if (arrival_ns < stats->last_arrival_ns)
    arrival_ns = stats->last_arrival_ns; /* clocks only move forward here */
  update_jitter (stats, arrival_ns, rtp_ts);
  update_frames (stats, arrival_ns, rtp_ts);
  stats->last_arrival_ns = arrival_ns;
  stats->packets++;
}

double
vdm_arrival_stats_jitter_ms (const vdm_arrival_stats *stats)
{
  return (double) (stats->jitter_q4 >> 4) * 1000.0 / stats->clock_rate;
}

void
vdm_arrival_stats_take_fid (vdm_arrival_stats *stats, double *mean_ms, double *max_ms)
{
  *mean_ms = stats->fid_frames ? stats->fid_sum_ns / stats->fid_frames / 1e6 : 0.0;
  *max_ms = stats->fid_max_ns / 1e6;
  stats->fid_sum_ns = stats->fid_max_ns = 0;
  stats->fid_frames = 0;
}

bool
vdm_arrival_stats_is_silent (const vdm_arrival_stats *stats, uint64_t now_ns,
    uint64_t min_silence_ns)
{
  uint64_t limit = min_silence_ns;

  if (!stats->started || now_ns <= stats->last_arrival_ns)
    return false;
  if (3 * stats->frame_interval_ns > (double) limit)
    limit = (uint64_t) (3 * stats->frame_interval_ns);
  return now_ns - stats->last_arrival_ns >= limit;
}
