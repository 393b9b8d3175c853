/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tsc_map.h — arrival stamps from the CPU's time-stamp counter, converted
 * to CLOCK_MONOTONIC nanoseconds by the consumer (issue 13).
 *
 * Reading CLOCK_MONOTONIC costs 27-50 ns in a VM (kvm-clock: a paravirtual
 * page, a version loop, a multiply) and touches two cache lines a stream
 * among thousands finds cold; `rdtsc` costs 10-20 ns and touches none. Where
 * the counter is invariant (CPUID: it ticks at one rate in every P- and
 * C-state), a producer may stamp an arrival with the raw count, tagged with
 * VDM_TSC_STAMP, and the consumer converts it against pairs of (count,
 * CLOCK_MONOTONIC) that it reads together, once per drain:
 *
 *   ns = ref_ns + (tsc - ref_tsc) * ns_per_tick
 *
 * with ref the latest pair and ns_per_tick measured between an anchor pair
 * and the latest one: first over VDM_TSC_CALIBRATION_NS, then over at
 * least VDM_TSC_RATE_SPAN_NS (the anchor moves every VDM_TSC_REANCHOR_NS, so
 * that the rate follows NTP's slewing of CLOCK_MONOTONIC within seconds). A
 * stamp is at most one drain old when it is converted, so the rate's error
 * counts only over that age: a rate 50 ppm off (NTP's usual slew changing)
 * and a stamp 100 ms old make 5 us.
 *
 * Trust: every pair is first converted with the map as it was; when the
 * counter's time and CLOCK_MONOTONIC differ by more than
 * VDM_TSC_MAX_ERROR_NS (plus 1,000 ppm of the time since the previous pair),
 * the map says so, and the caller stops stamping with the counter (counters
 * not synchronised between CPUs, a migration, a host that stepped it). The
 * pairs come from whichever CPU the consumer runs on, so a counter offset
 * between CPUs shows too, once the consumer has run on both.
 *
 * Plain C; the caller reads the counter and the clock (vdm_tsc_read()).
 */
#ifndef VDM_TSC_MAP_H
#define VDM_TSC_MAP_H

#include <stdbool.h>
#include <stdint.h>

/* In a record's `mono`: the value is a raw TSC count (bit 63: no
 * CLOCK_MONOTONIC time nor TSC count reaches it in a century). */
#define VDM_TSC_STAMP (UINT64_C (1) << 63)

#define VDM_TSC_CALIBRATION_NS UINT64_C (20000000)     /* 20 ms before the first rate */
#define VDM_TSC_RATE_SPAN_NS UINT64_C (1000000000)     /* later rates: over 1 s at least */
#define VDM_TSC_REANCHOR_NS UINT64_C (4000000000)      /* ... and 4 s at most */
#define VDM_TSC_MAX_ERROR_NS UINT64_C (50000)          /* 50 us */

typedef struct {
  uint64_t anchor_tsc, anchor_ns;
  uint64_t ref_tsc, ref_ns;
  double ns_per_tick;             /* 0 until calibrated */
  bool started;
} vdm_tsc_map;

typedef enum {
  VDM_TSC_PAIR_OK,
  VDM_TSC_PAIR_UNTRUSTED,         /* the counter disagrees with the clock: stop using it */
} vdm_tsc_pair_result;

void vdm_tsc_map_init (vdm_tsc_map *map);
/* A (TSC, CLOCK_MONOTONIC ns) pair read at the same moment. */
vdm_tsc_pair_result vdm_tsc_map_pair (vdm_tsc_map *map, uint64_t tsc, uint64_t ns);
/* The rate is known: stamps can be converted. */
bool vdm_tsc_map_ready (const vdm_tsc_map *map);
/* CLOCK_MONOTONIC ns of a TSC count (without VDM_TSC_STAMP); the map must
 * be ready. */
uint64_t vdm_tsc_map_to_ns (const vdm_tsc_map *map, uint64_t tsc);

/* The counter is invariant (CPUID 0x80000007 EDX bit 8) and readable from
 * user space; false on other architectures. */
bool vdm_tsc_invariant (void);

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline uint64_t
vdm_tsc_read (void)
{
  return __rdtsc ();
}
#else
static inline uint64_t
vdm_tsc_read (void)
{
  return 0;
}
#endif

#endif
