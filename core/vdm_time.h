/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Time values shared by the pure modules: nanoseconds, with an explicit "none". */
#ifndef VDM_TIME_H
#define VDM_TIME_H
#include <stdint.h>
#define VDM_TIME_NONE UINT64_MAX /* same bit pattern as GST_CLOCK_TIME_NONE */
#define VDM_SECOND 1000000000ull
#define VDM_MSECOND 1000000ull
#endif
