/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_rtsp_tcp — RTSP with RTP interleaved in the RTSP TCP connection,
 * through a router that drops: netns_run.sh builds snd → rtr (tbf) → rcv
 * and runs this test in rcv.
 *
 *   PREFIX-snd: vdm-rtsp-server --address 10.200.1.1 (640x480 "snow",
 *               3 Mbit/s)
 *   PREFIX-rcv: rtspsrc protocols=tcp latency=200 ! vdropmon ! rtph264depay
 *                 ! h264parse ! avdec_h264 ! fakesink sync=true
 *
 * The stream starts through a wide bottleneck (100 Mbit/s); once vdropmon
 * watches the connection and frames play, the tbf narrows to 2 Mbit/s,
 * below the stream: the server's TCP segments overflow tbf's queue and are
 * dropped there (QDISC_DROP, in the router namespace, no socket named: so
 * attribution "flow"), and the media falls behind. Only this connection
 * crosses the tbf towards rcv (IPv6 off; the ACKs go the other way,
 * through the unshaped link), so tbf's own "dropped" counter is the
 * reference for every QDISC_DROP drop vdropmon must report.
 */
#include <stdio.h>

#include "bpf_misses.h"
#include "e2e_checks.h"
#include "flow_drops.h"
#include "e2e_netns.h"
#include "e2e_receiver.h"
#include "e2e_server.h"
#include "kernel_test_util.h"

#define WIDE_RATE "100mbit"
#define NARROW_RATE "2mbit"
#define STREAM_KBPS "3000"
#define THROTTLE_MS 6000
#define LATENCY_LIMIT_MS 100.0
#define CALM_TIMEOUT_MS 6000
/* The jitterbuffer: the playout buffer of this player (VLC waits 1 s for
 * RTSP too). At 200 ms the path's deficit eats it in ~0.5 s, about as
 * long as the detector takes to see TCP's trickle of drops as a surge. */
#define LATENCY_MS 1000

typedef struct
{
  gchar *suffix;                /* "->10.200.1.1:PORT" */
} ExpectedConnection;

static gboolean
connection_watched (GPtrArray * flows, gpointer data)
{
  const ExpectedConnection *e = data;
  guint i;

  for (i = 0; i < flows->len; i++) {
    const gchar *flow = g_ptr_array_index (flows, i);
    if (g_str_has_prefix (flow, "tcp " VDM_E2E_RCV_ADDR ":") && g_str_has_suffix (flow, e->suffix))
      return TRUE;
  }
  return FALSE;
}

int
main (int argc, char **argv)
{
  VdmE2eTopology topo;
  VdmE2eServer *server;
  VdmE2eReceiver *r;
  VdmE2eMonitor *mon;
  ExpectedConnection expected;
  GPtrArray *flows, *kernel_msgs, *gap_msgs;
  GstStructure *stats;
  GArray *frames, *decoded;
  VdmE2eTiming timing;
  guint64 tbf_before, tbf_after, bpf_misses, traced, throttle_start;
  VdmE2eFlowDrops *reference;
  const gchar *flow;
  gchar *launch;
  int status;

  vdm_kt_begin ("e2e-rtsp-tcp", &argc, &argv);
  vdm_e2e_topology_init (&topo);
  server = vdm_e2e_server_start ("rtsp-server", "VDM_RTSP_SERVER", topo.snd, 1,
      "--address", VDM_E2E_SND_ADDR, "--port", "0", "--pattern", "snow",
      "--bitrate", STREAM_KBPS, "--key-int", "30", NULL);

  launch = g_strdup_printf ("rtspsrc name=src location=%s protocols=tcp latency=%u "
      "! vdropmon name=mon ! rtph264depay ! h264parse ! avdec_h264 name=dec "
      "! fakesink name=sink sync=true signal-handoffs=true", vdm_e2e_server_url (server, 0),
      LATENCY_MS);
  r = vdm_e2e_receiver_start ("receiver (in " VDM_E2E_RCV_ADDR ")", launch, GST_CLOCK_TIME_NONE);
  mon = vdm_e2e_monitor (r, "mon");
  expected.suffix = g_strdup_printf ("->" VDM_E2E_SND_ADDR ":%u",
      vdm_e2e_url_port (vdm_e2e_server_url (server, 0)));
  flows = vdm_e2e_wait_flows (r, mon, connection_watched, &expected, 10000);
  flow = g_ptr_array_index (flows, 0);
  vdm_kt_expect (flows->len == 1 && connection_watched (flows, &expected), "vdropmon watches "
      "exactly the RTSP connection, \"tcp " VDM_E2E_RCV_ADDR ":X%s\" (%u flows)", expected.suffix,
      flows->len);
  vdm_e2e_wait_frames (r, 30, 10000);
  /* The start of the stream may warn (see the report of this test);
   * narrowing the path must be met by a warning of its own. */
  vdm_e2e_wait_calm (r, mon, 500, CALM_TIMEOUT_MS);

  reference = vdm_e2e_flow_drops_start (flow);
  tbf_before = vdm_e2e_tbf_drops (&topo);
  throttle_start = vdm_kt_now_ns ();
  vdm_e2e_tbf_set_rate (&topo, NARROW_RATE);
  vdm_kt_sleep_ms (THROTTLE_MS);
  /* Open the bottleneck again and stop the source: the backlog drains
   * without new drops, and everything becomes final. */
  vdm_e2e_tbf_set_rate (&topo, WIDE_RATE);
  vdm_e2e_server_freeze (server);
  vdm_kt_expect (vdm_e2e_receiver_settle (r, 500, 8000, vdm_e2e_tbf_drops, &topo),
      "counters and messages settled");
  stats = vdm_e2e_monitor_stats (mon);
  tbf_after = vdm_e2e_tbf_drops (&topo);
  bpf_misses = vdm_e2e_kfree_skb_recursion_misses ();
  traced = vdm_e2e_flow_drops_count (reference, "QDISC_DROP");
  vdm_e2e_receiver_end_recording (r);
  vdm_e2e_server_thaw (server);
  vdm_e2e_receiver_stop (r);

  kernel_msgs = vdm_e2e_kernel_drops (mon);
  gap_msgs = vdm_e2e_gap_drops (mon);
  printf ("  tbf dropped %" G_GUINT64_FORMAT " before the throttle, %" G_GUINT64_FORMAT
      " after; rtp-gap messages %u (RTP lost before the bottleneck: the server's own "
      "backlog)\n", tbf_before, tbf_after, gap_msgs->len);
  vdm_e2e_check_tcp_qdisc_drops (kernel_msgs, stats, tbf_after - tbf_before, traced,
      bpf_misses, flow, LATENCY_LIMIT_MS);

  frames = vdm_e2e_receiver_frames (r);
  decoded = vdm_e2e_receiver_decoded (r);
  vdm_e2e_print_warnings ("receiver", mon->warnings, throttle_start);
  vdm_e2e_print_stats_timeline ("receiver", mon->stats, throttle_start - GST_SECOND,
      throttle_start);
  vdm_e2e_measure_timing ("rtsp-tcp", frames, decoded, kernel_msgs, mon->warnings,
      throttle_start, &timing);
  vdm_kt_expect (timing.first_warning_ns != 0, "a warning came after the bottleneck narrowed");
  if (timing.froze)
    vdm_kt_expect (timing.first_warning_ns && timing.lead_ms > 0, "the first warning came "
        "before the first frozen frame (lead %.0f ms)", timing.lead_ms);

  status = vdm_kt_finish ();
  g_ptr_array_unref (kernel_msgs);
  g_ptr_array_unref (gap_msgs);
  g_ptr_array_unref (flows);
  g_array_unref (frames);
  g_array_unref (decoded);
  gst_structure_free (stats);
  vdm_e2e_flow_drops_stop (reference);
  vdm_e2e_receiver_free (r);
  vdm_e2e_server_stop (server);
  vdm_e2e_topology_clear (&topo);
  g_free (expected.suffix);
  g_free (launch);
  return status;
}
