/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * flow_drops.h — an independent count of the kernel's kfree_skb events of
 * one IPv4 flow, per drop reason (flow_drops.bpf.c). The netns tests use it
 * beside tbf's own "dropped" counter: tbf counts, now and then, a drop or
 * two that no kfree_skb with reason QDISC_DROP shows for the flow (seen on
 * 6.18 in about one run in seven), so tbf is the anchor and this count the
 * exact reference for what vdropmon, which sees only kfree_skb, can report.
 */
#ifndef VDM_E2E_FLOW_DROPS_H
#define VDM_E2E_FLOW_DROPS_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct _VdmE2eFlowDrops VdmE2eFlowDrops;

/* Starts counting drops of the flow vdropmon names "tcp L:LP->R:RP" (or
 * "udp ..."; IPv4, remote part required). Skips per policy when the
 * program cannot be loaded. */
VdmE2eFlowDrops *vdm_e2e_flow_drops_start (const gchar * flow);

/* Drops counted so far with this reason name (e.g. "QDISC_DROP"). */
guint64 vdm_e2e_flow_drops_count (VdmE2eFlowDrops * counter, const gchar * reason);

void vdm_e2e_flow_drops_stop (VdmE2eFlowDrops * counter);

G_END_DECLS
#endif
