/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * collector.h — the embedded collector (event_source.h implemented by
 * loading the BPF program into this process), plus what only it can tell:
 * the BPF programs' own run-time statistics, for the benchmark. Both
 * return -ENOTSUP for a source that is not the embedded collector.
 */
#ifndef VDROPMON_COLLECTOR_H
#define VDROPMON_COLLECTOR_H

#include "event_source.h"

typedef enum {
  VDM_PROGRAM_KFREE_SKB,
  VDM_PROGRAM_SK_DATA_READY,
} vdm_program;

/* Cumulative run time and invocation count of a program, as the kernel keeps
 * them while sysctl kernel.bpf_stats_enabled=1. */
VDM_SOURCE_API int vdm_embedded_program_stats (vdm_source *source, vdm_program which, uint64_t *run_time_ns,
    uint64_t *run_count);

/* Global per-CPU health counters of the program (enum vdm_health), summed. */
VDM_SOURCE_API int vdm_embedded_health (vdm_source *source, enum vdm_health slot, uint64_t *value);

/* How many watches (sockets, or flows named by hand) the next load of the
 * embedded collector in this process can hold: its BPF maps are sized for
 * them before load (each costs VDM_REASON_SLOTS per-CPU counters in the
 * kernel). Default VDM_DEFAULT_WATCH_SLOTS - 1 (255), enough for an
 * element's process; vdropmond asks for thousands. Returns 0, -EINVAL outside
 * 1..VDM_WATCH_SLOTS_MAX - 1, -EBUSY when a collector of another size is
 * loaded already. */
VDM_SOURCE_API int vdm_embedded_set_capacity (unsigned max_watches);

/* Watches in use and the capacity of a loaded embedded collector. */
VDM_SOURCE_API int vdm_embedded_table (vdm_source *source, unsigned *in_use, unsigned *capacity);

/* For vdropmond, which samples every watch each period instead of
 * answering one question per watch: for slots 0..n-1 (a watch id's low 16
 * bits, VDM_WATCH_SLOT), peaks[slot] = the peak receive-queue fill in
 * per-mille since the last sample (the peaks read are reset; all 0 without
 * sk_data_ready samples) and lost[slot] = the events lost to a full ring
 * buffer so far. One read of the program's health counters; the peaks (one
 * batched read, plus one reset per slot that peaked) only when a peak rose
 * since, the lost events (one batched read) only when an event was lost
 * since. Call it from one thread (the one that watches and unwatches).
 * Returns the number of slots filled (n, or fewer when the table is
 * smaller), or a negative errno. */
VDM_SOURCE_API int vdm_embedded_sample (vdm_source *source, unsigned n, uint64_t *peaks,
    uint64_t *lost);

/* How many times this process tried to load the program. A failed load is
 * remembered (10 s, or until euid or effective capabilities change) instead
 * of tried again at every open: for tests. */
VDM_SOURCE_API unsigned long vdm_embedded_load_attempts (void);

#endif
