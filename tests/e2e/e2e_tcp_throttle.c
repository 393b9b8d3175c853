/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "e2e_tcp_throttle.h"

#include <stdio.h>

#include "bpf_misses.h"
#include "e2e_checks.h"
#include "kernel_test_util.h"

static gboolean
connection_watched (GPtrArray * flows, gpointer data)
{
  const gchar *suffix = data;
  guint i;

  for (i = 0; i < flows->len; i++) {
    const gchar *flow = g_ptr_array_index (flows, i);
    if (g_str_has_prefix (flow, "tcp " VDM_E2E_RCV_ADDR ":") && g_str_has_suffix (flow, suffix))
      return TRUE;
  }
  return FALSE;
}

const gchar *
vdm_e2e_wait_server_connection (VdmE2eReceiver * r, VdmE2eMonitor * mon, VdmE2eServer * server,
    const gchar * what, GPtrArray ** flows)
{
  gchar *suffix = g_strdup_printf ("->" VDM_E2E_SND_ADDR ":%u",
      vdm_e2e_url_port (vdm_e2e_server_url (server, 0)));

  *flows = vdm_e2e_wait_flows (r, mon, connection_watched, suffix, 10000);
  vdm_kt_expect ((*flows)->len == 1 && connection_watched (*flows, suffix), "%s, "
      "\"tcp " VDM_E2E_RCV_ADDR ":X%s\" (%u flows)", what, suffix, (*flows)->len);
  g_free (suffix);
  return g_ptr_array_index (*flows, 0);
}

void
vdm_e2e_throttle (VdmE2eThrottle * t, VdmE2eTopology * topo, VdmE2eServer * server,
    VdmE2eReceiver * r, VdmE2eMonitor * mon, const gchar * flow, const gchar * narrow_rate,
    VdmE2eHold hold, gpointer hold_data, guint settle_ms)
{
  t->reference = vdm_e2e_flow_drops_start (flow);
  t->tbf_before = vdm_e2e_tbf_drops (topo);
  t->start_ns = vdm_kt_now_ns ();
  vdm_e2e_tbf_set_rate (topo, narrow_rate);
  hold (r, t->start_ns, hold_data);
  /* Open the bottleneck again and stop the source: the backlog drains
   * without new drops, and everything becomes final. */
  vdm_e2e_tbf_set_rate (topo, VDM_E2E_WIDE_RATE);
  vdm_e2e_server_freeze (server);
  vdm_kt_expect (vdm_e2e_receiver_settle (r, 500, settle_ms, vdm_e2e_tbf_drops, topo),
      "counters and messages settled");
  t->stats = vdm_e2e_monitor_stats (mon);
  t->tbf_after = vdm_e2e_tbf_drops (topo);
  t->bpf_misses = vdm_e2e_kfree_skb_recursion_misses ();
  t->traced = vdm_e2e_flow_drops_count (t->reference, "QDISC_DROP");
  vdm_e2e_receiver_end_recording (r);
  vdm_e2e_server_thaw (server);
  vdm_e2e_receiver_stop (r);
}

GPtrArray *
vdm_e2e_throttle_check_drops (const VdmE2eThrottle * t, VdmE2eMonitor * mon, const gchar * flow,
    gdouble latency_limit_ms)
{
  GPtrArray *kernel_msgs = vdm_e2e_kernel_drops (mon);

  printf ("  tbf dropped %" G_GUINT64_FORMAT " before the throttle, %" G_GUINT64_FORMAT
      " after\n", t->tbf_before, t->tbf_after);
  vdm_e2e_check_tcp_qdisc_drops (kernel_msgs, t->stats, t->tbf_after - t->tbf_before, t->traced,
      t->bpf_misses, flow, latency_limit_ms);
  return kernel_msgs;
}

void
vdm_e2e_throttle_clear (VdmE2eThrottle * t)
{
  g_clear_pointer (&t->stats, gst_structure_free);
  g_clear_pointer (&t->reference, vdm_e2e_flow_drops_stop);
}
