/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "btf_probe.h"

#include "event_source.h"

#include <bpf/btf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REASON_PREFIX "SKB_DROP_REASON_"

/* A tp_btf tracepoint is described by "typedef void (*btf_trace_<tp>)(void *ctx, args...)". */
int
vdm_btf_tracepoint_arg_count (const struct btf *btf, const char *tracepoint)
{
  char name[128];
  const struct btf_type *t;
  int id;

  snprintf (name, sizeof (name), "btf_trace_%s", tracepoint);
  id = btf__find_by_name_kind (btf, name, BTF_KIND_TYPEDEF);
  if (id < 0)
    return -ENOENT;
  t = btf__type_by_id (btf, id);
  t = t ? btf__type_by_id (btf, t->type) : NULL;
  if (!t || !btf_is_ptr (t))
    return -EINVAL;
  t = btf__type_by_id (btf, t->type);
  if (!t || !btf_is_func_proto (t) || btf_vlen (t) < 1)
    return -EINVAL;
  return btf_vlen (t) - 1;
}

static int
compare_codes (const void *a, const void *b)
{
  const vdm_reason_name *x = a, *y = b;
  return x->code < y->code ? -1 : x->code > y->code;
}

static bool
store_reason (vdm_reason_name *entry, uint32_t code, const char *full_name)
{
  size_t prefix = strlen (REASON_PREFIX);
  const char *name = strncmp (full_name, REASON_PREFIX, prefix) == 0 ? full_name + prefix : full_name;

  entry->code = code;
  entry->name = vdm_source_intern_name (name);
  return entry->name != NULL;
}

int
vdm_reason_table_load (const struct btf *btf, vdm_reason_table *table)
{
  const struct btf_type *t;
  int id;
  unsigned n, i;

  memset (table, 0, sizeof (*table));
  id = btf__find_by_name_kind (btf, "skb_drop_reason", BTF_KIND_ENUM);
  if (id < 0)
    return -ENOENT;
  t = btf__type_by_id (btf, id);
  n = btf_vlen (t);
  table->entries = calloc (n ? n : 1, sizeof (vdm_reason_name));
  if (!table->entries)
    return -ENOMEM;
  for (i = 0; i < n; i++) {
    const struct btf_enum *e = btf_enum (t) + i;
    const char *full_name = btf__name_by_offset (btf, e->name_off);
    if (!full_name || strcmp (full_name, REASON_PREFIX "MAX") == 0
        || strcmp (full_name, REASON_PREFIX "SUBSYS_MASK") == 0)
      continue; /* markers, not reasons */
    if (store_reason (&table->entries[table->n_entries], (uint32_t) e->val, full_name))
      table->n_entries++;
  }
  qsort (table->entries, table->n_entries, sizeof (vdm_reason_name), compare_codes);
  return 0;
}

void
vdm_reason_table_clear (vdm_reason_table *table)
{
  free (table->entries);
  memset (table, 0, sizeof (*table));
}

const char *
vdm_reason_table_lookup (const vdm_reason_table *table, uint32_t code)
{
  vdm_reason_name key = { .code = code };
  const vdm_reason_name *found;

  found = bsearch (&key, table->entries, table->n_entries, sizeof (vdm_reason_name), compare_codes);
  return found ? found->name : NULL;
}

int
vdm_reason_table_code (const vdm_reason_table *table, const char *name, uint32_t *code)
{
  unsigned i;

  for (i = 0; i < table->n_entries; i++) {
    if (strcmp (table->entries[i].name, name) == 0) {
      *code = table->entries[i].code;
      return 0;
    }
  }
  return -ENOENT;
}
