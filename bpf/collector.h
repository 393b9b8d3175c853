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
/* How many watches (ids) the next load of the embedded collector is sized
 * for: VDM_MAX_WATCHES (256) by default, at most VDM_MAX_WATCHES_LIMIT. Each
 * costs VDM_REASON_SLOTS per-CPU counters (2 KiB per CPU) in the kernel, so
 * a pipeline keeps the default and vdropmond asks for its host's worth.
 * Applies to the next open that loads the program; -EINVAL out of range. */
VDM_SOURCE_API int vdm_embedded_set_max_watches (unsigned max_watches);

VDM_SOURCE_API int vdm_embedded_health (vdm_source *source, enum vdm_health slot, uint64_t *value);

/* How many times this process tried to load the program. A failed load is
 * remembered (10 s, or until euid or effective capabilities change) instead
 * of tried again at every open: for tests. */
VDM_SOURCE_API unsigned long vdm_embedded_load_attempts (void);

#endif
