/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * collector_unavailable.c — what the event source is in a build without
 * clang/bpftool/libbpf: it says so, and the element falls back to the
 * userspace signals. Every other function is unreachable without a source.
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

void vdm_source_unref (vdm_source *source) { }
void vdm_source_get_info (vdm_source *source, vdm_source_info *info) { memset (info, 0, sizeof (*info)); }
vdm_subscription *vdm_source_subscribe (vdm_source *source, const vdm_consumer *consumer, void *user_data) { return NULL; }
void vdm_source_unsubscribe (vdm_source *source, vdm_subscription *sub) { }
int vdm_source_watch (vdm_source *source, vdm_subscription *sub, const vdm_watch_spec *spec) { return -ENOSYS; }
void vdm_source_unwatch (vdm_source *source, vdm_subscription *sub, uint32_t watch_id) { }
int vdm_source_counters (vdm_source *source, uint32_t watch_id, vdm_counters *out) { return -ENOSYS; }
int vdm_source_queue_peak (vdm_source *source, uint32_t watch_id) { return -1; }
const char *vdm_source_reason_name (vdm_source *source, uint32_t reason) { return "UNKNOWN"; }
int vdm_embedded_program_stats (vdm_source *source, vdm_program which, uint64_t *run_time_ns, uint64_t *run_count) { return -ENOSYS; }
int vdm_embedded_health (vdm_source *source, enum vdm_health slot, uint64_t *value) { return -ENOSYS; }
