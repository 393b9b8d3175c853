/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * frame_map.h — learns, from the buffers that pass, which PTS and which
 * frame kind each RTP timestamp had, so that a dropped packet (known by its
 * RTP seq/timestamp only) can be placed on the stream's timeline; and, for
 * streams that are not RTP, which PTS arrived when.
 */
#ifndef VDM_FRAME_MAP_H
#define VDM_FRAME_MAP_H

#include <stdbool.h>
#include <stdint.h>

#include "vdm_time.h"

typedef struct vdm_frame_map vdm_frame_map;

typedef struct {
  uint64_t pts;     /* VDM_TIME_NONE when it cannot be told */
  bool pts_exact;   /* a passing packet had this very RTP timestamp */
  bool keyframe;    /* a passing packet of this frame carried a keyframe NAL */
} vdm_frame_info;

/* capacity: how many recent frames (distinct RTP timestamps) to remember. */
vdm_frame_map *vdm_frame_map_new (unsigned capacity);
void vdm_frame_map_free (vdm_frame_map *map);
void vdm_frame_map_reset (vdm_frame_map *map);
/* 0 keeps the default, 90000. */
void vdm_frame_map_set_clock_rate (vdm_frame_map *map, uint32_t clock_rate);

/* A passing RTP packet. pts may be VDM_TIME_NONE (then it only teaches the
 * keyframe flag). */
void vdm_frame_map_observe_rtp (vdm_frame_map *map, uint32_t ssrc, uint32_t rtp_ts, uint64_t pts,
    bool keyframe_packet);

/* The frame an RTP timestamp belongs to: exact if seen, else extrapolated from
 * the nearest remembered frame of the same SSRC with the clock rate (32-bit
 * wrap-safe). Returns false if nothing is known of that SSRC. */
bool vdm_frame_map_lookup_rtp (const vdm_frame_map *map, uint32_t ssrc, uint32_t rtp_ts,
    vdm_frame_info *out);

/* A passing non-RTP buffer: its PTS and the running time it arrived at. */
void vdm_frame_map_observe_arrival (vdm_frame_map *map, uint64_t arrival_running_time, uint64_t pts);
/* The PTS of the first buffer that arrived at or after running_time (the
 * data that the drop damaged); extrapolated from the last arrival if none
 * has come yet. VDM_TIME_NONE when nothing is known. */
uint64_t vdm_frame_map_lookup_arrival (const vdm_frame_map *map, uint64_t running_time);

#endif
