/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clock_map.c — CLOCK_MONOTONIC to running time through one offset. All
 * arithmetic is unsigned or checked: the offset may be anything (the
 * pipeline clock can be a network clock far from the monotonic one).
 */
#include "clock_map.h"

void
vdm_clock_map_init (vdm_clock_map *map)
{
  map->valid = false;
  map->mono_to_clock = 0;
  map->base_time = VDM_TIME_NONE;
}

void
vdm_clock_map_update (vdm_clock_map *map, uint64_t mono_now, uint64_t clock_now,
    uint64_t base_time)
{
  /* Two's complement difference: no signed overflow whatever the values. */
  map->mono_to_clock = (int64_t) (clock_now - mono_now);
  map->base_time = base_time;
  map->valid = mono_now != VDM_TIME_NONE && clock_now != VDM_TIME_NONE
      && base_time != VDM_TIME_NONE;
}

/* mono + offset on the clock's time line, or VDM_TIME_NONE outside it. */
static uint64_t
to_clock_time (uint64_t mono, int64_t offset)
{
  if (offset >= 0) {
    uint64_t up = (uint64_t) offset;
    return up < VDM_TIME_NONE - mono ? mono + up : VDM_TIME_NONE;
  }
  uint64_t down = (uint64_t) (-(offset + 1)) + 1; /* |offset| without overflow */
  return down <= mono ? mono - down : VDM_TIME_NONE;
}

uint64_t
vdm_clock_map_clock_time (const vdm_clock_map *map, uint64_t mono_ns)
{
  if (!map->valid || mono_ns == VDM_TIME_NONE)
    return VDM_TIME_NONE;
  return to_clock_time (mono_ns, map->mono_to_clock);
}

uint64_t
vdm_clock_map_monotonic (const vdm_clock_map *map, uint64_t clock_ns)
{
  if (!map->valid || clock_ns == VDM_TIME_NONE)
    return VDM_TIME_NONE;
  return to_clock_time (clock_ns, map->mono_to_clock == INT64_MIN ? INT64_MAX
      : -map->mono_to_clock);
}

uint64_t
vdm_clock_map_running_time (const vdm_clock_map *map, uint64_t mono_ns)
{
  uint64_t clock_time = vdm_clock_map_clock_time (map, mono_ns);
  if (clock_time == VDM_TIME_NONE || clock_time < map->base_time)
    return VDM_TIME_NONE;
  return clock_time - map->base_time;
}
