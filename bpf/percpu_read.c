/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* percpu_read.c — batched sums and zeroing of per-CPU array keys (see
 * percpu_read.h). */
#define _GNU_SOURCE
#include "percpu_read.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "debug_switch.h"

/* The kernel's ENOTSUPP (not in userspace headers): no batch op for this map. */
#define KERNEL_ENOTSUPP 524
/* At most this many bytes of per-CPU values per call, so that a host with
 * hundreds of CPUs does not make the reader allocate megabytes. */
#define MAX_VALUE_BYTES (256 * 1024)

static atomic_bool batch_refused;

bool
vdm_percpu_batch_enabled (void)
{
  return !atomic_load (&batch_refused) && !vdm_debug_switch (VDM_SWITCH_NO_BATCH);
}

/* The errors that say "this kernel (or its sandbox) has no batch lookup",
 * as opposed to a failure of this one call. */
static bool
is_refusal (int err)
{
  return err == -KERNEL_ENOTSUPP || err == -EOPNOTSUPP || err == -EINVAL || err == -ENOSYS
      || err == -EPERM;
}

typedef uint64_t (*combine_fn) (const uint64_t *values, int n_cpus);

static uint64_t
sum_cpus (const uint64_t *values, int n_cpus)
{
  uint64_t total = 0;
  for (int cpu = 0; cpu < n_cpus; cpu++)
    total += values[cpu];
  return total;
}

static uint64_t
max_cpus (const uint64_t *values, int n_cpus)
{
  uint64_t peak = 0;
  for (int cpu = 0; cpu < n_cpus; cpu++)
    peak = values[cpu] > peak ? values[cpu] : peak;
  return peak;
}

/* One key at a time: what every kernel can do. */
static int
read_per_key (int map_fd, uint32_t first_key, uint32_t n_keys, int n_cpus, combine_fn combine,
    uint64_t *sums)
{
  uint64_t *values = calloc ((size_t) n_cpus, sizeof *values);
  int last_error = 0;
  uint32_t read = 0;

  if (!values)
    return -ENOMEM;
  for (uint32_t i = 0; i < n_keys; i++) {
    uint32_t key = first_key + i;
    int err = bpf_map_lookup_elem (map_fd, &key, values);
    if (err == 0) {
      sums[i] = combine (values, n_cpus);
      read++;
    } else if (err != -ENOENT) {
      last_error = err;
    }
  }
  free (values);
  return read == 0 && last_error ? last_error : 0;
}

/* How many keys one batch call carries: as many per-CPU values as fit in
 * MAX_VALUE_BYTES, at least one key, at most the keys asked for. */
static uint32_t
keys_per_batch (uint32_t n_keys, int n_cpus)
{
  uint32_t chunk = MAX_VALUE_BYTES / (sizeof (uint64_t) * (uint32_t) n_cpus);
  if (chunk == 0)
    chunk = 1;
  return chunk > n_keys ? n_keys : chunk;
}

/* One BPF_MAP_LOOKUP_BATCH per chunk. The kernel's generic array batch
 * starts at the key after in_batch (NULL: key 0) and stops at count keys
 * or at the map's end (-ENOENT with the keys it did read). */
static int
read_batched (int map_fd, uint32_t first_key, uint32_t n_keys, int n_cpus, combine_fn combine,
    uint64_t *sums)
{
  uint32_t chunk = keys_per_batch (n_keys, n_cpus);
  uint32_t *keys = calloc (chunk, sizeof *keys);
  uint64_t *values = calloc ((size_t) chunk * (size_t) n_cpus, sizeof *values);
  int rc = 0;
  uint32_t done = 0;

  if (!keys || !values)
    rc = -ENOMEM;
  while (rc == 0 && done < n_keys) {
    uint32_t previous = first_key + done - 1, out_batch = 0;
    uint32_t count = n_keys - done < chunk ? n_keys - done : chunk;
    int err = bpf_map_lookup_batch (map_fd, first_key + done == 0 ? NULL : &previous, &out_batch,
        keys, values, &count, NULL);
    if (err < 0 && err != -ENOENT)
      rc = err;
    if (err < 0 && err != -ENOENT)
      break;
    for (uint32_t j = 0; j < count; j++)
      if (keys[j] >= first_key && keys[j] - first_key < n_keys)
        sums[keys[j] - first_key] = combine (&values[(size_t) j * (size_t) n_cpus], n_cpus);
    done += count;
    if (err == -ENOENT || count == 0)
      break;  /* the end of the map: the rest sums to 0 */
  }
  free (keys);
  free (values);
  return rc;
}

static int
read_range (int map_fd, uint32_t first_key, uint32_t n_keys, int n_cpus, combine_fn combine,
    uint64_t *sums)
{
  if (n_keys == 0)
    return 0;
  memset (sums, 0, (size_t) n_keys * sizeof *sums);
  if (map_fd < 0 || n_cpus <= 0)
    return -EINVAL;
  if (vdm_percpu_batch_enabled ()) {
    int err = read_batched (map_fd, first_key, n_keys, n_cpus, combine, sums);
    if (err == 0)
      return 0;
    if (is_refusal (err) && !atomic_exchange (&batch_refused, true))
      fprintf (stderr, "vdropmon: batched BPF map lookups refused (%s): reading counters "
          "one key at a time\n", strerror (-err));
    memset (sums, 0, (size_t) n_keys * sizeof *sums);
  }
  return read_per_key (map_fd, first_key, n_keys, n_cpus, combine, sums);
}

int
vdm_percpu_sum_range (int map_fd, uint32_t first_key, uint32_t n_keys, int n_cpus,
    uint64_t *sums)
{
  return read_range (map_fd, first_key, n_keys, n_cpus, sum_cpus, sums);
}

int
vdm_percpu_max_range (int map_fd, uint32_t first_key, uint32_t n_keys, int n_cpus,
    uint64_t *maxima)
{
  return read_range (map_fd, first_key, n_keys, n_cpus, max_cpus, maxima);
}

/* One key at a time: what every kernel can do. */
static int
zero_per_key (int map_fd, uint32_t first_key, uint32_t n_keys, int n_cpus)
{
  uint64_t *zeros = calloc ((size_t) n_cpus, sizeof *zeros);
  int last_error = 0;

  if (!zeros)
    return -ENOMEM;
  for (uint32_t i = 0; i < n_keys; i++) {
    uint32_t key = first_key + i;
    int err = bpf_map_update_elem (map_fd, &key, zeros, BPF_ANY);
    if (err < 0)
      last_error = err;
  }
  free (zeros);
  return last_error;
}

/* One BPF_MAP_UPDATE_BATCH per chunk (the kernel's generic batch update:
 * each key in turn, in one system call). */
static int
zero_batched (int map_fd, uint32_t first_key, uint32_t n_keys, int n_cpus)
{
  uint32_t chunk = keys_per_batch (n_keys, n_cpus);
  uint32_t *keys = calloc (chunk, sizeof *keys);
  uint64_t *zeros = calloc ((size_t) chunk * (size_t) n_cpus, sizeof *zeros);
  int rc = keys && zeros ? 0 : -ENOMEM;

  for (uint32_t done = 0; rc == 0 && done < n_keys;) {
    uint32_t count = n_keys - done < chunk ? n_keys - done : chunk;
    for (uint32_t j = 0; j < count; j++)
      keys[j] = first_key + done + j;
    rc = bpf_map_update_batch (map_fd, keys, zeros, &count, NULL);
    done += count;
    if (rc == 0 && count == 0)
      rc = -EIO;  /* no progress: never loop forever */
  }
  free (keys);
  free (zeros);
  return rc;
}

int
vdm_percpu_zero_range (int map_fd, uint32_t first_key, uint32_t n_keys, int n_cpus)
{
  if (n_keys == 0)
    return 0;
  if (map_fd < 0 || n_cpus <= 0)
    return -EINVAL;
  if (vdm_percpu_batch_enabled ()) {
    int err = zero_batched (map_fd, first_key, n_keys, n_cpus);
    if (err == 0 || !is_refusal (err))
      return err;
    if (!atomic_exchange (&batch_refused, true))
      fprintf (stderr, "vdropmon: batched BPF map updates refused (%s): zeroing counters "
          "one key at a time\n", strerror (-err));
  }
  return zero_per_key (map_fd, first_key, n_keys, n_cpus);
}
