/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stall_detector.h — "nothing has arrived for longer than this stream ever
 * pauses": an arrival stall declared within a few frame intervals, early
 * enough to warn a player with a small (200 ms) buffer, and how much media
 * that buffer still holds (stall-eta).
 *
 * A live video stream arrives in bursts: the packets of one frame back to
 * back, then a pause until the next frame (33 ms at 30 fps), a longer one
 * now and then (a keyframe that took longer to encode, a scheduler hiccup).
 * A fixed silence threshold is either too slow for a small buffer or fires
 * on those pauses. Here the threshold follows the stream's own pauses:
 *
 *   threshold = clamp (factor x the `percentile` of the last
 *                      VDM_STALL_GAPS inter-burst gaps, floor, ceiling)
 *
 * where an inter-burst gap is the time between two arrivals more than
 * `burst_gap_ns` apart (packets closer than that are one burst). Until
 * `min_gaps` gaps are known, the threshold is the ceiling.
 *
 * Arrival times are taken where a userspace thread reads the stream, so a
 * reader descheduled for 80 ms on a loaded host looks like 80 ms of network
 * silence. The kernel knows better: packets that reached the socket and
 * wait there to be read were delivered by the network. Whoever can look at
 * the socket's receive queue says so (vdm_stall_backlog) and the silence
 * counts from then on: a stall is nothing arriving *at the kernel*. A gap
 * the reader's delay made is not the stream's own pause either: it is kept
 * out of the learned gaps (it would only make later stalls slower to see).
 *
 * Plain C, explicit times (any monotonic ns clock), no allocation.
 */
#ifndef VDM_STALL_DETECTOR_H
#define VDM_STALL_DETECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "vdm_time.h"

#define VDM_STALL_GAPS 256        /* ~8.5 s of frames at 30 fps */

typedef struct {
  uint64_t burst_gap_ns;          /* 3 ms: arrivals closer than this are one burst */
  double percentile;              /* 0.99 */
  double factor;                  /* 2.0 */
  /* 100 ms: never faster than this. Silences of 60-100 ms are common on
   * a loaded sender or path (the soak: docs/benchmarks.md); a stall is
   * declared at its threshold (the worker's stall round), no longer up to
   * a bin later, so 100 ms still warns as early as 60 ms + the bin did. */
  uint64_t floor_ns;
  uint64_t ceiling_ns;            /* 200 ms: never slower (the silence threshold) */
  unsigned min_gaps;              /* 30: gaps needed before adapting */
} vdm_stall_config;

typedef struct {
  vdm_stall_config config;
  bool started;
  uint64_t last_arrival_ns;
  uint64_t backlog_ns;            /* last time the kernel held unread data, VDM_TIME_NONE */
  uint64_t gaps[VDM_STALL_GAPS];  /* ring of inter-burst gaps */
  unsigned head, count;
  /* The same gaps in ascending order, kept so at every new gap: the
   * percentile is an index, not a selection over a copy of the ring (a
   * stream paced evenly above burst_gap_ns has a gap per packet; issue 13). */
  uint64_t sorted[VDM_STALL_GAPS];
  uint64_t threshold_ns;          /* cached, recomputed on every new gap */
} vdm_stall_detector;

void vdm_stall_config_init (vdm_stall_config *config);
/* config NULL: the defaults. A floor above the ceiling is lowered to it. */
void vdm_stall_init (vdm_stall_detector *stall, const vdm_stall_config *config);
/* Keeps the learned gaps; the new bounds apply at once. */
void vdm_stall_set_config (vdm_stall_detector *stall, const vdm_stall_config *config);
/* Something of the stream arrived. An arrival earlier than the last one
 * is taken as the last one (time never runs backwards here). */
void vdm_stall_arrival (vdm_stall_detector *stall, uint64_t arrival_ns);
/* At now_ns the receive queue the stream is read from held data not read
 * yet: it was arriving then (the network delivers; the reader is late). */
void vdm_stall_backlog (vdm_stall_detector *stall, uint64_t now_ns);
/* The current stall threshold. */
uint64_t vdm_stall_threshold (const vdm_stall_detector *stall);
/* Nothing arrived for at least the threshold, neither at the reader nor,
 * as far as told (vdm_stall_backlog), at the kernel (false before any
 * arrival). */
bool vdm_stall_is_stalled (const vdm_stall_detector *stall, uint64_t now_ns);
/* Last arrival, VDM_TIME_NONE before any. */
uint64_t vdm_stall_last_arrival (const vdm_stall_detector *stall);
/* The media the player still holds at now_ns if nothing more arrives: the
 * playout buffer, less what the stream already lagged behind its own
 * timestamps when it stopped (lag_ns >= 0), less the time since the last
 * arrival. 0 when it is gone; VDM_TIME_NONE when unknown (no arrival, no
 * buffer). */
uint64_t vdm_stall_eta (const vdm_stall_detector *stall, uint64_t now_ns, uint64_t buffer_ns,
    int64_t lag_ns);

#endif
