/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tsc_map.c — TSC counts to CLOCK_MONOTONIC nanoseconds (see tsc_map.h).
 */
#include "tsc_map.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/* How far apart two pairs may drift per ns between them: 1,000 ppm (NTP
 * slews CLOCK_MONOTONIC by 500 ppm at most). */
#define DRIFT_PER_NS 1e-3

void
vdm_tsc_map_init (vdm_tsc_map *map)
{
  *map = (vdm_tsc_map) { 0 };
}

bool
vdm_tsc_map_ready (const vdm_tsc_map *map)
{
  return map->ns_per_tick > 0;
}

uint64_t
vdm_tsc_map_to_ns (const vdm_tsc_map *map, uint64_t tsc)
{
  double offset = (double) (int64_t) (tsc - map->ref_tsc) * map->ns_per_tick;

  if (offset < 0 && (uint64_t) -offset > map->ref_ns)
    return 0;
  return offset < 0 ? map->ref_ns - (uint64_t) -offset : map->ref_ns + (uint64_t) offset;
}

static bool
disagrees (const vdm_tsc_map *map, uint64_t tsc, uint64_t ns)
{
  uint64_t predicted = vdm_tsc_map_to_ns (map, tsc);
  uint64_t error = predicted > ns ? predicted - ns : ns - predicted;
  uint64_t since = ns > map->ref_ns ? ns - map->ref_ns : 0;

  return (double) error > (double) VDM_TSC_MAX_ERROR_NS + (double) since * DRIFT_PER_NS;
}

vdm_tsc_pair_result
vdm_tsc_map_pair (vdm_tsc_map *map, uint64_t tsc, uint64_t ns)
{
  if (!map->started || ns < map->ref_ns) {
    /* first pair, or a clock that went back (it cannot): start afresh */
    *map = (vdm_tsc_map) {.anchor_tsc = tsc,.anchor_ns = ns,.ref_tsc = tsc,.ref_ns = ns,
      .ns_per_tick = map->ns_per_tick,.started = true };
    return VDM_TSC_PAIR_OK;
  }
  if (vdm_tsc_map_ready (map) && disagrees (map, tsc, ns))
    return VDM_TSC_PAIR_UNTRUSTED;
  if (tsc <= map->anchor_tsc)
    return VDM_TSC_PAIR_UNTRUSTED;      /* time passed, the counter did not */
  if (ns - map->anchor_ns >= (vdm_tsc_map_ready (map) ? VDM_TSC_RATE_SPAN_NS
          : VDM_TSC_CALIBRATION_NS))
    map->ns_per_tick = (double) (ns - map->anchor_ns) / (double) (tsc - map->anchor_tsc);
  if (ns - map->anchor_ns >= VDM_TSC_REANCHOR_NS) {
    /* the rate so far stays until the new anchor's span gives its own */
    map->anchor_tsc = tsc;
    map->anchor_ns = ns;
  }
  map->ref_tsc = tsc;
  map->ref_ns = ns;
  return VDM_TSC_PAIR_OK;
}

bool
vdm_tsc_invariant (void)
{
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax, ebx, ecx, edx;

  if (!__get_cpuid (0x80000000u, &eax, &ebx, &ecx, &edx) || eax < 0x80000007u)
    return false;
  __get_cpuid (0x80000007u, &eax, &ebx, &ecx, &edx);
  return (edx >> 8) & 1;
#else
  return false;
#endif
}
