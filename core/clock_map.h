/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clock_map.h — kernel time (CLOCK_MONOTONIC ns, what bpf_ktime_get_ns()
 * returns) to a pipeline's running time, whatever clock the pipeline uses:
 * sample both clocks at one moment, keep the offset, subtract base time.
 */
#ifndef VDM_CLOCK_MAP_H
#define VDM_CLOCK_MAP_H

#include <stdbool.h>
#include <stdint.h>

#include "vdm_time.h"

typedef struct {
  bool valid;
  int64_t mono_to_clock; /* clock_time - monotonic_time at the last sample */
  uint64_t base_time;
} vdm_clock_map;

void vdm_clock_map_init (vdm_clock_map *map);
/* mono_now and clock_now read back to back; base_time of the element. */
void vdm_clock_map_update (vdm_clock_map *map, uint64_t mono_now, uint64_t clock_now,
    uint64_t base_time);
/* The pipeline clock's time at mono_ns; VDM_TIME_NONE when not valid. */
uint64_t vdm_clock_map_clock_time (const vdm_clock_map *map, uint64_t mono_ns);
/* The other way: CLOCK_MONOTONIC at a time of the clock; VDM_TIME_NONE when
 * not valid. */
uint64_t vdm_clock_map_monotonic (const vdm_clock_map *map, uint64_t clock_ns);
/* VDM_TIME_NONE when not valid or the result would be before base time. */
uint64_t vdm_clock_map_running_time (const vdm_clock_map *map, uint64_t mono_ns);

#endif
