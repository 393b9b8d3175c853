/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * percpu_read.h — sums of a run of keys of a BPF per-CPU array, and
 * zeroing such a run, each in one system call where the kernel allows it.
 *
 * A watch's drop counters are 256 consecutive keys of one per-CPU array
 * (one per reason slot); reading them key by key costs 256 bpf() calls,
 * about half a millisecond, which a /metrics scrape of hundreds of watches
 * pays for each. BPF_MAP_LOOKUP_BATCH (Linux 5.6+, all array maps) reads
 * the run in one call. Where it is refused (an older kernel, a seccomp
 * filter, an LSM) the reader falls back to one lookup per key, remembers
 * that for the rest of the process, and the sums are the same. A new
 * watch's slot is zeroed the same way (BPF_MAP_UPDATE_BATCH, also 5.6+):
 * one call instead of 256.
 */
#ifndef VDM_PERCPU_READ_H
#define VDM_PERCPU_READ_H

#include <stdbool.h>
#include <stdint.h>

#ifndef VDM_SOURCE_API
#define VDM_SOURCE_API __attribute__ ((visibility ("default")))
#endif

/* sums[i] = the sum over every possible CPU of key first_key + i of the
 * per-CPU array map_fd (8-byte values), for i < n_keys. n_cpus is
 * libbpf_num_possible_cpus(). Keys past the end of the map, or that the
 * kernel would not read, sum to 0. Returns 0, or a negative errno when
 * nothing could be read (sums then all 0). Thread-safe. */
VDM_SOURCE_API int vdm_percpu_sum_range (int map_fd, uint32_t first_key, uint32_t n_keys,
    int n_cpus, uint64_t *sums);

/* Sets key first_key + i of the per-CPU array map_fd (8-byte values) to 0
 * on every possible CPU, for i < n_keys (all of them inside the map).
 * Batched where the kernel allows it, one key at a time otherwise (the same
 * switch and the same remembered refusal as the reads). Returns 0, or a
 * negative errno of the last key that could not be zeroed. Thread-safe. */
VDM_SOURCE_API int vdm_percpu_zero_range (int map_fd, uint32_t first_key, uint32_t n_keys,
    int n_cpus);

/* The same read, maxima[i] = the largest value over the CPUs of key
 * first_key + i (a peak kept per CPU, e.g. the receive queue fill). */
VDM_SOURCE_API int vdm_percpu_max_range (int map_fd, uint32_t first_key, uint32_t n_keys,
    int n_cpus, uint64_t *maxima);

/* Whether the next read will try the batched call: false once the kernel
 * refused it, or with VDROPMON_BPF_NO_BATCH=1 (for the benchmark and the
 * fallback's tests). */
VDM_SOURCE_API bool vdm_percpu_batch_enabled (void);

#endif
