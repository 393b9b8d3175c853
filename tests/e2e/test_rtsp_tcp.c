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

#include "e2e_checks.h"
#include "e2e_receiver.h"
#include "e2e_server.h"
#include "e2e_tcp_throttle.h"
#include "kernel_test_util.h"

#define NARROW_RATE "2mbit"
#define STREAM_KBPS "3000"
#define THROTTLE_MS 6000
#define LATENCY_LIMIT_MS 100.0
#define CALM_TIMEOUT_MS 6000
/* The jitterbuffer: the playout buffer of this player (VLC waits 1 s for
 * RTSP too). At 200 ms the path's deficit eats it in ~0.5 s, about as
 * long as the detector takes to see TCP's trickle of drops as a surge. */
#define LATENCY_MS 1000

/* The bottleneck stays narrow for THROTTLE_MS. */
static void
hold_narrow (VdmE2eReceiver * r, guint64 start_ns, gpointer data)
{
  vdm_kt_sleep_ms (THROTTLE_MS);
}

int
main (int argc, char **argv)
{
  VdmE2eTopology topo;
  VdmE2eServer *server;
  VdmE2eReceiver *r;
  VdmE2eMonitor *mon;
  VdmE2eThrottle throttle = { 0 };
  GPtrArray *flows, *kernel_msgs, *gap_msgs;
  GArray *frames, *decoded;
  VdmE2eTiming timing;
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
  flow = vdm_e2e_wait_server_connection (r, mon, server,
      "vdropmon watches exactly the RTSP connection", &flows);
  vdm_e2e_wait_frames (r, 30, 10000);
  /* The start of the stream may warn (see the report of this test);
   * narrowing the path must be met by a warning of its own. */
  vdm_e2e_wait_calm (r, mon, 500, CALM_TIMEOUT_MS);

  vdm_e2e_throttle (&throttle, &topo, server, r, mon, flow, NARROW_RATE, hold_narrow, NULL, 8000);
  kernel_msgs = vdm_e2e_throttle_check_drops (&throttle, mon, flow, LATENCY_LIMIT_MS);
  gap_msgs = vdm_e2e_gap_drops (mon);
  printf ("  rtp-gap messages %u (RTP lost before the bottleneck: the server's own "
      "backlog)\n", gap_msgs->len);

  frames = vdm_e2e_receiver_frames (r);
  decoded = vdm_e2e_receiver_decoded (r);
  vdm_e2e_print_warnings ("receiver", mon->warnings, throttle.start_ns);
  vdm_e2e_print_stats_timeline ("receiver", mon->stats, throttle.start_ns - GST_SECOND,
      throttle.start_ns);
  vdm_e2e_measure_timing ("rtsp-tcp", frames, decoded, kernel_msgs, mon->warnings,
      throttle.start_ns, &timing);
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
  vdm_e2e_throttle_clear (&throttle);
  vdm_e2e_receiver_free (r);
  vdm_e2e_server_stop (server);
  vdm_e2e_topology_clear (&topo);
  g_free (launch);
  return status;
}
