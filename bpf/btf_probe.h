/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * btf_probe.h — what the running kernel offers, read from its BTF rather than
 * guessed from a version number: the kfree_skb tracepoint's form, whether a
 * tracepoint exists at all, and the names of its drop reasons (the numbers of
 * enum skb_drop_reason move between kernels).
 */
#ifndef VDM_BTF_PROBE_H
#define VDM_BTF_PROBE_H

#include <stdbool.h>
#include <stdint.h>

struct btf;

/* Number of tracepoint arguments (without the leading ctx), or -ENOENT. */
int vdm_btf_tracepoint_arg_count (const struct btf *btf, const char *tracepoint);

typedef struct {
  uint32_t code;
  const char *name; /* interned: lives as long as the process */
} vdm_reason_name;

typedef struct {
  vdm_reason_name *entries; /* sorted by code */
  unsigned n_entries;
} vdm_reason_table;

/* Reads enum skb_drop_reason. Returns 0 or a negative errno. The names are
 * interned (vdm_source_intern_name), so they outlive the table. */
int vdm_reason_table_load (const struct btf *btf, vdm_reason_table *table);
void vdm_reason_table_clear (vdm_reason_table *table);
/* The code of a name (without the prefix): 0 and *code set, or -ENOENT. */
int vdm_reason_table_code (const vdm_reason_table *table, const char *name, uint32_t *code);
/* The name without the SKB_DROP_REASON_ prefix, or NULL if unknown. */
const char *vdm_reason_table_lookup (const vdm_reason_table *table, uint32_t code);

#endif
