/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * debug_switch.h — the environment switches that change what the embedded
 * collector does, for tests and debugging. Read with secure_getenv(), so a
 * setuid or file-capability program (one that may load BPF for a user who
 * may not) ignores them; each says once on stderr that it is in effect.
 */
#ifndef VDM_DEBUG_SWITCH_H
#define VDM_DEBUG_SWITCH_H

#include <stdbool.h>

typedef enum {
  /* VDROPMON_BPF_EMULATE_6_1=1: load what a 6.1 kernel gets (weaker attribution) */
  VDM_SWITCH_EMULATE_6_1,
  /* VDROPMON_LIBBPF_DEBUG=1: libbpf's messages (verifier logs) on stderr */
  VDM_SWITCH_LIBBPF_DEBUG,
  /* VDROPMON_BPF_NO_BATCH=1: read per-CPU counters one key at a time (the
   * fallback of kernels without batched lookups; the benchmark's "before") */
  VDM_SWITCH_NO_BATCH,
  VDM_SWITCH_COUNT,
} vdm_switch;

/* True when the switch's variable is exactly "1". */
bool vdm_debug_switch (vdm_switch which);

#endif
