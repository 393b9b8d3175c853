/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hot_path.h — marks the functions a streaming thread runs for every
 * packet (issue 13).
 *
 * A stream among thousands finds this code cold at each of its packets.
 * Spread over the library (the element's files, the core's RTP parser and
 * packet ring), the ~2 KiB of it touched ten places 60 KiB apart: a cache
 * miss and often a TLB miss at each. GCC puts functions marked hot in
 * .text.hot, which the linker gathers into one run: a few contiguous lines
 * the prefetcher fetches in a row.
 */
#ifndef VDM_HOT_PATH_H
#define VDM_HOT_PATH_H

#if defined(__GNUC__)
#define VDM_HOT_PATH __attribute__ ((hot))
#else
#define VDM_HOT_PATH
#endif

#endif
