/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include "debug_switch.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  const char *variable;
  const char *effect;
} switches[VDM_SWITCH_COUNT] = {
  [VDM_SWITCH_EMULATE_6_1] = { "VDROPMON_BPF_EMULATE_6_1",
      "loading the program of a 6.1 kernel: no rx_sk, receive drops attributed by 5-tuple" },
  [VDM_SWITCH_LIBBPF_DEBUG] = { "VDROPMON_LIBBPF_DEBUG",
      "libbpf messages of the vdropmon collector go to stderr" },
  [VDM_SWITCH_NO_BATCH] = { "VDROPMON_BPF_NO_BATCH",
      "per-CPU counters read one map key at a time, not batched" },
};

static atomic_bool announced[VDM_SWITCH_COUNT];

bool
vdm_debug_switch (vdm_switch which)
{
  const char *value;

  if (which < 0 || which >= VDM_SWITCH_COUNT)
    return false;
  value = secure_getenv (switches[which].variable);
  if (!value || strcmp (value, "1") != 0)
    return false;
  if (!atomic_exchange (&announced[which], true))
    fprintf (stderr, "vdropmon: %s=1: %s\n", switches[which].variable, switches[which].effect);
  return true;
}
