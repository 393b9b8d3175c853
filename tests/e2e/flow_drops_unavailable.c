/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* flow_drops without eBPF at build time: the tests that need it skip. */
#include "flow_drops.h"

#include "kernel_test_util.h"

VdmE2eFlowDrops *
vdm_e2e_flow_drops_start (const gchar * flow)
{
  vdm_kt_skip_or_fail ("built without eBPF (clang, bpftool or libbpf missing): no flow drop "
      "counter for \"%s\"", flow);
}

guint64
vdm_e2e_flow_drops_count (VdmE2eFlowDrops * counter, const gchar * reason)
{
  return 0;
}

void
vdm_e2e_flow_drops_stop (VdmE2eFlowDrops * counter)
{
}
