/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * e2e_tcp_throttle.h — what the TCP e2e tests (test_rtsp_tcp,
 * test_http_flv) do alike: find the one server connection vdropmon must
 * watch, narrow the tbf bottleneck under it for a while, open it again,
 * let everything settle and check the drops against tbf's own counter and
 * the tests' own kfree_skb count of that flow.
 */
#ifndef VDM_E2E_TCP_THROTTLE_H
#define VDM_E2E_TCP_THROTTLE_H

#include <gst/gst.h>

#include "e2e_netns.h"
#include "e2e_receiver.h"
#include "e2e_server.h"
#include "flow_drops.h"

G_BEGIN_DECLS

#define VDM_E2E_WIDE_RATE "100mbit"

/* Waits (10 s at most) until the monitor watches "tcp RCV:X->SND:PORT" of
 * the server's first URL, and expects it to be the only flow (`what` says
 * which connection, for the message). Returns that flow (owned by *flows). */
const gchar *vdm_e2e_wait_server_connection (VdmE2eReceiver * r, VdmE2eMonitor * mon,
    VdmE2eServer * server, const gchar * what, GPtrArray ** flows);

/* Holds the narrowed bottleneck: returns when it may open again. */
typedef void (*VdmE2eHold) (VdmE2eReceiver * r, guint64 start_ns, gpointer data);

typedef struct
{
  guint64 start_ns;             /* when the bottleneck narrowed */
  guint64 tbf_before, tbf_after; /* tbf's dropped counter around it */
  guint64 traced;               /* the tests' own QDISC_DROP count of the flow */
  guint64 bpf_misses;           /* kfree_skb recursion misses (see bpf_misses.h) */
  GstStructure *stats;          /* the monitor's stats once everything settled */
  VdmE2eFlowDrops *reference;
} VdmE2eThrottle;

/* Narrows the bottleneck to narrow_rate, holds it, opens it again and
 * stops the source, so the backlog drains without new drops; waits until
 * counters and messages settled (settle_ms at most), then ends the
 * recording and stops the receiver. */
void vdm_e2e_throttle (VdmE2eThrottle * t, VdmE2eTopology * topo, VdmE2eServer * server,
    VdmE2eReceiver * r, VdmE2eMonitor * mon, const gchar * flow, const gchar * narrow_rate,
    VdmE2eHold hold, gpointer hold_data, guint settle_ms);

/* The monitor's kernel drop messages (caller unrefs) after checking them
 * against tbf and the traced count (vdm_e2e_check_tcp_qdisc_drops). */
GPtrArray *vdm_e2e_throttle_check_drops (const VdmE2eThrottle * t, VdmE2eMonitor * mon,
    const gchar * flow, gdouble latency_limit_ms);

void vdm_e2e_throttle_clear (VdmE2eThrottle * t);

G_END_DECLS
#endif
