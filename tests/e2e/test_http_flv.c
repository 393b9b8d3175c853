/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_http_flv — HTTP-FLV through a router whose link falls below the
 * stream's bitrate: netns_run.sh builds snd → rtr (tbf) → rcv and runs this
 * test in rcv.
 *
 *   PREFIX-snd: vdm-flv-server --address 10.200.1.1 (640x480 "snow",
 *               2 Mbit/s)
 *   PREFIX-rcv: souphttpsrc is-live=true ! flvdemux
 *                 ! vdropmon playout-buffer=2 s ! queue max-size-time=4 s
 *                 ! h264parse ! avdec_h264 ! fakesink sync=true,
 *               pipeline latency fixed at 2 s
 *
 * The player keeps a 2 s playout buffer (the sink renders 2 s behind; a
 * souphttpsrc pipeline reports almost no latency, so vdropmon is told the
 * same with playout-buffer). That buffer fills the queue, so vdropmon sits
 * before it, in the thread that reads the network: after the queue (as in
 * docs/pipelines.md) it would see each frame when the sink makes room for
 * it, and its lag would read the playout buffer itself (1.86 s of 2 s
 * before any trouble, in a trial run). The stream starts through a wide bottleneck;
 * once it plays calmly, the tbf narrows to 1 Mbit/s, half the stream: the
 * server's TCP segments are dropped in the router's queue (QDISC_DROP,
 * attribution "flow": tbf's "dropped" counter is the reference), TCP backs
 * off, the media arrives later and later, and once the lag passes the
 * buffer the picture freezes. vdropmon must say so first: a warning (cause
 * network, action lower-bitrate) before the first frozen frame at the sink.
 * The test measures by how much, and against the decoder's own output too.
 */
#include <stdio.h>
#include <string.h>

#include "e2e_checks.h"
#include "e2e_receiver.h"
#include "e2e_server.h"
#include "e2e_tcp_throttle.h"
#include "kernel_test_util.h"

#define NARROW_RATE "1mbit"
#define STREAM_KBPS "2000"
#define PLAYOUT_NS (2 * GST_SECOND)
/* The playout buffer lives in this queue, after vdropmon (see above). */
#define QUEUE_NS (4 * GST_SECOND)
/* The lag grows ~0.5 s per s: the 2 s buffer is gone after ~4-5 s. */
#define THROTTLE_MAX_MS 9000
#define AFTER_FREEZE_MS 1000
#define CALM_TIMEOUT_MS 6000
#define LATENCY_LIMIT_MS 100.0

/* Keeps the bottleneck narrow until the picture has frozen (and a little
 * more), or THROTTLE_MAX_MS. */
static void
throttle_until_frozen (VdmE2eReceiver * r, guint64 start, gpointer data)
{
  guint64 deadline = start + (guint64) THROTTLE_MAX_MS * 1000000, frozen_at = 0;

  while (vdm_kt_now_ns () < deadline) {
    VdmE2eFreeze freeze;
    GArray *frames = vdm_e2e_receiver_frames (r);

    if (!frozen_at && vdm_e2e_first_freeze (frames, start, &freeze))
      frozen_at = vdm_kt_now_ns ();
    g_array_unref (frames);
    if (frozen_at && vdm_kt_now_ns () - frozen_at > (guint64) AFTER_FREEZE_MS * 1000000)
      break;
    vdm_kt_sleep_ms (100);
  }
}

/* A warning that names the network and asks for a lower bitrate. */
static const VdmKtMessage *
first_lower_bitrate_warning (GPtrArray * warnings, guint64 after_ns)
{
  guint i;

  for (i = 0; i < warnings->len; i++) {
    const VdmKtMessage *w = g_ptr_array_index (warnings, i);
    if (w->arrival_ns >= after_ns && strstr (gst_structure_get_string (w->s, "cause"), "network")
        && g_strcmp0 (gst_structure_get_string (w->s, "action"), "lower-bitrate") == 0)
      return w;
  }
  return NULL;
}

int
main (int argc, char **argv)
{
  VdmE2eTopology topo;
  VdmE2eServer *server;
  VdmE2eReceiver *r;
  VdmE2eMonitor *mon;
  VdmE2eThrottle throttle = { 0 };
  GPtrArray *flows, *kernel_msgs;
  GArray *frames, *decoded;
  VdmE2eTiming timing;
  const VdmKtMessage *lower_bitrate;
  gchar *launch;
  const gchar *flow;
  int status;

  vdm_kt_begin ("e2e-http-flv", &argc, &argv);
  vdm_e2e_topology_init (&topo);
  server = vdm_e2e_server_start ("flv-server", "VDM_FLV_SERVER", topo.snd, 1,
      "--address", VDM_E2E_SND_ADDR, "--port", "0", "--pattern", "snow",
      "--bitrate", STREAM_KBPS, "--key-int", "30", NULL);

  launch = g_strdup_printf ("souphttpsrc name=src location=%s is-live=true ! flvdemux name=d "
      "d.video ! vdropmon name=mon playout-buffer=%" G_GUINT64_FORMAT " ! queue "
      "max-size-time=%" G_GUINT64_FORMAT " max-size-buffers=0 max-size-bytes=0 ! h264parse "
      "! avdec_h264 name=dec ! fakesink name=sink sync=true signal-handoffs=true",
      vdm_e2e_server_url (server, 0), (guint64) PLAYOUT_NS, (guint64) QUEUE_NS);
  r = vdm_e2e_receiver_start ("receiver (in " VDM_E2E_RCV_ADDR ")", launch, PLAYOUT_NS);
  mon = vdm_e2e_monitor (r, "mon");
  flow = vdm_e2e_wait_server_connection (r, mon, server,
      "vdropmon found the HTTP connection through flvdemux and queue, and only it", &flows);
  vdm_e2e_wait_frames (r, 30, 10000);
  vdm_e2e_wait_calm (r, mon, 500, CALM_TIMEOUT_MS);

  vdm_e2e_throttle (&throttle, &topo, server, r, mon, flow, NARROW_RATE, throttle_until_frozen,
      NULL, 6000);
  kernel_msgs = vdm_e2e_throttle_check_drops (&throttle, mon, flow, LATENCY_LIMIT_MS);

  frames = vdm_e2e_receiver_frames (r);
  decoded = vdm_e2e_receiver_decoded (r);
  vdm_e2e_print_warnings ("receiver", mon->warnings, throttle.start_ns);
  vdm_e2e_print_stats_timeline ("receiver", mon->stats, throttle.start_ns - GST_SECOND,
      throttle.start_ns);
  vdm_e2e_measure_timing ("http-flv", frames, decoded, kernel_msgs, mon->warnings,
      throttle.start_ns, &timing);
  lower_bitrate = first_lower_bitrate_warning (mon->warnings, throttle.start_ns);
  vdm_kt_expect (lower_bitrate != NULL, "a warning with cause network and action "
      "lower-bitrate came after the link narrowed");
  vdm_kt_expect (timing.froze, "the picture froze at the sink (the buffer ran dry: the "
      "scenario happened)");
  if (timing.froze && lower_bitrate)
    vdm_kt_expect (lower_bitrate->arrival_ns < timing.freeze_start_ns, "the lower-bitrate "
        "warning came before the first frozen frame (lead %.0f ms)",
        ((gint64) timing.freeze_start_ns - (gint64) lower_bitrate->arrival_ns) / 1e6);

  status = vdm_kt_finish ();
  g_ptr_array_unref (kernel_msgs);
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
