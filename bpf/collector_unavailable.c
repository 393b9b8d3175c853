/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * collector_unavailable.c — the embedded collector in a build without
 * clang/bpftool/libbpf: opening it says so, and the element falls back to
 * the userspace signals. The other sources (fake, daemon) still exist.
 */
#include "collector.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

vdm_source *
vdm_source_open_embedded (char **error)
{
  *error = strdup ("vdropmon was built without eBPF support (clang, bpftool or libbpf missing at build time)");
  return NULL;
}

int
vdm_embedded_program_stats (vdm_source *source, vdm_program which, uint64_t *run_time_ns,
    uint64_t *run_count)
{
  return -ENOTSUP;
}

int
vdm_embedded_health (vdm_source *source, enum vdm_health slot, uint64_t *value)
{
  return -ENOTSUP;
}

unsigned long
vdm_embedded_load_attempts (void)
{
  return 0;
}

int
vdm_embedded_set_capacity (unsigned max_watches)
{
  return -ENOTSUP;
}

int
vdm_embedded_table (vdm_source *source, unsigned *in_use, unsigned *capacity)
{
  return -ENOTSUP;
}

int
vdm_embedded_sample (vdm_source *source, unsigned n, uint64_t *peaks, uint64_t *lost)
{
  return -ENOTSUP;
}
