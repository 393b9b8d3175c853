/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * e2e_netns.h — the netns.sh topology a test runs in (netns_run.sh made it
 * and runs the test inside PREFIX-rcv): snd 10.200.1.1 → rtr (tbf on the
 * link towards rcv) → rcv 10.200.2.2.
 */
#ifndef VDM_E2E_NETNS_H
#define VDM_E2E_NETNS_H

#include <glib.h>

G_BEGIN_DECLS

#define VDM_E2E_SND_ADDR "10.200.1.1"
#define VDM_E2E_RCV_ADDR "10.200.2.2"

typedef struct
{
  const gchar *netns_sh;        /* tests/kernel/netns.sh */
  const gchar *prefix;
  gchar *snd;                   /* PREFIX-snd */
  gchar *rtr;                   /* PREFIX-rtr */
} VdmE2eTopology;

/* From VDM_NETNS_SH and VDM_NETNS_PREFIX (set by netns_run.sh). */
void vdm_e2e_topology_init (VdmE2eTopology * topo);
void vdm_e2e_topology_clear (VdmE2eTopology * topo);

/* tbf's "dropped" counter (netns.sh qdisc-drops). gpointer: a
 * VdmE2eTopology*, so it can serve as a settle counter. */
guint64 vdm_e2e_tbf_drops (gpointer topo);

/* Changes the bottleneck's rate (tc qdisc change), e.g. "1mbit"; burst and
 * latency as netns.sh sets them. Counters are kept. */
void vdm_e2e_tbf_set_rate (const VdmE2eTopology * topo, const gchar * rate);

G_END_DECLS
#endif
