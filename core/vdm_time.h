/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Time values shared by the pure modules: nanoseconds, with an explicit "none". */
#ifndef VDM_TIME_H
#define VDM_TIME_H
#include <stdint.h>
#define VDM_TIME_NONE UINT64_MAX /* same bit pattern as GST_CLOCK_TIME_NONE */
#define VDM_SECOND 1000000000ull
#define VDM_MSECOND 1000000ull

/* a - b, clamped to the int64 range. Offsets come from network input (RTP
 * timestamps scaled by any clock rate, 1 Hz included), so they may be
 * anywhere in the int64 range and their plain difference may overflow. */
static inline int64_t
vdm_time_sat_sub (int64_t a, int64_t b)
{
  int64_t d;

  if (__builtin_sub_overflow (a, b, &d))
    return b < 0 ? INT64_MAX : INT64_MIN;
  return d;
}
#endif
