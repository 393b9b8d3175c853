/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * frame_map.c — two small rings: recent frames (SSRC, RTP timestamp -> PTS,
 * keyframe) and recent arrivals of non-RTP buffers (running time -> PTS).
 * Linear scans are fine: capacities are a few hundred at most and the
 * newest entry, checked first, is the usual hit. A new frame of the one
 * SSRC seen (the usual miss) is known new without a scan: its timestamp is
 * later than every frame remembered (issue 13: a scan of all 512 frames
 * per new frame was the monitor's largest per-packet cost).
 */
#include "frame_map.h"

#include <stdlib.h>

#define DEFAULT_CLOCK_RATE 90000

typedef struct {
  uint32_t ssrc;
  uint32_t rtp_ts;
  uint64_t pts;
  bool keyframe;
} frame_entry;

typedef struct {
  uint64_t arrival;
  uint64_t pts;
} arrival_entry;

struct vdm_frame_map {
  unsigned capacity;
  uint32_t clock_rate;

  frame_entry *frames;
  unsigned frames_next;  /* slot the next new frame goes to */
  unsigned frames_count;
  /* While every frame since the reset is of one SSRC: the latest RTP
   * timestamp among them (32-bit wrap-aware). */
  bool one_ssrc;
  uint32_t only_ssrc;
  uint32_t latest_ts;

  arrival_entry *arrivals;
  unsigned arrivals_next;
  unsigned arrivals_count;
};

vdm_frame_map *
vdm_frame_map_new (unsigned capacity)
{
  vdm_frame_map *map = calloc (1, sizeof (*map));
  if (map == NULL)
    return NULL;
  map->capacity = capacity > 0 ? capacity : 1;
  map->clock_rate = DEFAULT_CLOCK_RATE;
  map->frames = calloc (map->capacity, sizeof (frame_entry));
  map->arrivals = calloc (map->capacity, sizeof (arrival_entry));
  if (map->frames == NULL || map->arrivals == NULL) {
    vdm_frame_map_free (map);
    return NULL;
  }
  return map;
}

void
vdm_frame_map_free (vdm_frame_map *map)
{
  if (map == NULL)
    return;
  free (map->frames);
  free (map->arrivals);
  free (map);
}

void
vdm_frame_map_reset (vdm_frame_map *map)
{
  map->frames_next = map->frames_count = 0;
  map->one_ssrc = false;
  map->arrivals_next = map->arrivals_count = 0;
}

void
vdm_frame_map_set_clock_rate (vdm_frame_map *map, uint32_t clock_rate)
{
  map->clock_rate = clock_rate > 0 ? clock_rate : DEFAULT_CLOCK_RATE;
}

/* i = 0 is the newest entry. */
static unsigned
ring_index (unsigned next, unsigned capacity, unsigned i)
{
  return (next + capacity - 1 - i) % capacity;
}

/* The slot before slot i in the ring (newer to older), without a division. */
static unsigned
older_slot (const vdm_frame_map *map, unsigned i)
{
  return i ? i - 1 : map->capacity - 1;
}

static frame_entry *
find_frame (vdm_frame_map *map, uint32_t ssrc, uint32_t rtp_ts)
{
  unsigned slot = map->frames_next;

  if (map->one_ssrc && ssrc == map->only_ssrc && (int32_t) (rtp_ts - map->latest_ts) > 0)
    return NULL;                /* later than any frame remembered */
  for (unsigned i = 0; i < map->frames_count; i++) {
    slot = older_slot (map, slot);
    frame_entry *f = &map->frames[slot];
    if (f->ssrc == ssrc && f->rtp_ts == rtp_ts)
      return f;
  }
  return NULL;
}

static void
note_new_frame (vdm_frame_map *map, uint32_t ssrc, uint32_t rtp_ts)
{
  if (map->frames_count == 0) {
    map->one_ssrc = true;
    map->only_ssrc = ssrc;
    map->latest_ts = rtp_ts;
  } else if (ssrc != map->only_ssrc) {
    map->one_ssrc = false;      /* until the next reset: scans only */
  } else if ((int32_t) (rtp_ts - map->latest_ts) > 0) {
    map->latest_ts = rtp_ts;
  }
}

void
vdm_frame_map_observe_rtp (vdm_frame_map *map, uint32_t ssrc, uint32_t rtp_ts, uint64_t pts,
    bool keyframe_packet)
{
  frame_entry *f = find_frame (map, ssrc, rtp_ts);

  if (f == NULL) {
    note_new_frame (map, ssrc, rtp_ts);
    f = &map->frames[map->frames_next];
    map->frames_next = (map->frames_next + 1) % map->capacity;
    if (map->frames_count < map->capacity)
      map->frames_count++;
    f->ssrc = ssrc;
    f->rtp_ts = rtp_ts;
    f->pts = VDM_TIME_NONE;
    f->keyframe = false;
  }
  /* Packets of one frame share a PTS; the first one that has it wins. */
  if (f->pts == VDM_TIME_NONE)
    f->pts = pts;
  f->keyframe |= keyframe_packet;
}

/* anchor + delta, or VDM_TIME_NONE if that falls outside 0..NONE-1. */
static uint64_t
offset_time (uint64_t anchor, int64_t delta)
{
  if (delta >= 0) {
    uint64_t up = (uint64_t) delta;
    return up < VDM_TIME_NONE - anchor ? anchor + up : VDM_TIME_NONE;
  }
  uint64_t down = (uint64_t) (-(delta + 1)) + 1; /* |delta| without overflow */
  return down <= anchor ? anchor - down : VDM_TIME_NONE;
}

/* |diff| <= 2^31 and 2^31 * 1e9 < 2^63: the product fits in int64. */
static uint64_t
extrapolate_pts (uint64_t anchor_pts, int32_t rtp_diff, uint32_t clock_rate)
{
  int64_t delta_ns = (int64_t) rtp_diff * (int64_t) VDM_SECOND / (int64_t) clock_rate;
  return offset_time (anchor_pts, delta_ns);
}

static uint32_t
abs_diff (int32_t d)
{
  return d < 0 ? (uint32_t) 0 - (uint32_t) d : (uint32_t) d;
}

bool
vdm_frame_map_lookup_rtp (const vdm_frame_map *map, uint32_t ssrc, uint32_t rtp_ts,
    vdm_frame_info *out)
{
  const frame_entry *exact = NULL, *anchor = NULL;
  uint32_t anchor_distance = 0;
  bool ssrc_known = false;
  unsigned slot = map->frames_next;

  for (unsigned i = 0; i < map->frames_count; i++) {
    slot = older_slot (map, slot);
    const frame_entry *f = &map->frames[slot];
    if (f->ssrc != ssrc)
      continue;
    ssrc_known = true;
    if (f->rtp_ts == rtp_ts)
      exact = f;
    if (f->pts == VDM_TIME_NONE)
      continue;
    uint32_t distance = abs_diff ((int32_t) (rtp_ts - f->rtp_ts));
    if (anchor == NULL || distance < anchor_distance) {
      anchor = f;
      anchor_distance = distance;
    }
  }
  if (!ssrc_known)
    return false;

  vdm_frame_info info = { .pts = VDM_TIME_NONE, .pts_exact = exact != NULL,
    .keyframe = exact != NULL && exact->keyframe };
  if (exact != NULL && exact->pts != VDM_TIME_NONE)
    info.pts = exact->pts;
  else if (anchor != NULL)
    info.pts = extrapolate_pts (anchor->pts, (int32_t) (rtp_ts - anchor->rtp_ts), map->clock_rate);
  if (out)
    *out = info;
  return true;
}

void
vdm_frame_map_observe_arrival (vdm_frame_map *map, uint64_t arrival_running_time, uint64_t pts)
{
  /* A buffer without either time teaches nothing. */
  if (arrival_running_time == VDM_TIME_NONE || pts == VDM_TIME_NONE)
    return;
  arrival_entry *a = &map->arrivals[map->arrivals_next];
  map->arrivals_next = (map->arrivals_next + 1) % map->capacity;
  if (map->arrivals_count < map->capacity)
    map->arrivals_count++;
  a->arrival = arrival_running_time;
  a->pts = pts;
}

uint64_t
vdm_frame_map_lookup_arrival (const vdm_frame_map *map, uint64_t running_time)
{
  const arrival_entry *first_after = NULL, *latest = NULL;

  if (running_time == VDM_TIME_NONE)
    return VDM_TIME_NONE;

  /* Oldest first, so that of equal arrival times the first buffer wins. */
  for (unsigned i = map->arrivals_count; i-- > 0;) {
    const arrival_entry *a = &map->arrivals[ring_index (map->arrivals_next, map->capacity, i)];
    if (a->arrival >= running_time && (first_after == NULL || a->arrival < first_after->arrival))
      first_after = a;
    if (latest == NULL || a->arrival >= latest->arrival)
      latest = a;
  }
  if (first_after != NULL)
    return first_after->pts;
  if (latest == NULL)
    return VDM_TIME_NONE;
  /* Nothing arrived since: the damaged data would have come next, as much
   * later in PTS as it is later in running time. */
  uint64_t since = running_time - latest->arrival;
  return since < (uint64_t) INT64_MAX ? offset_time (latest->pts, (int64_t) since) : VDM_TIME_NONE;
}
