/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_side_by_side — two RTSP streams in one process, on loopback, one
 * overloaded and one healthy; one BPF program serves both vdropmon
 * elements:
 *
 *   vdm-rtsp-server --mounts 2 (/test0, /test1: 640x480 "snow", 4 Mbit/s)
 *   A: rtspsrc location=.../test0 protocols=udp ! vdropmon name=mon ! ...
 *   B: rtspsrc location=.../test1 protocols=udp ! vdropmon name=mon ! ...
 *
 * Once both watch their sockets, A's RTP socket gets a 16 KB receive
 * buffer (as in e2e-rtsp-udp) and its keyframe bursts overflow it; B keeps
 * its 4 MB and must never drop. Checks: each element watches exactly its
 * own udpsrc sockets and its own RTSP connection (both connect to the same
 * server endpoint; B starts only after A watches its connection, so the
 * right one is known: the only one there was); A's drops add up to A's
 * kernel counter and name only A's flow and SSRC; B reports nothing and
 * its sockets dropped nothing.
 */
#include <stdio.h>

#include "drop_checks.h"
#include "e2e_checks.h"
#include "e2e_receiver.h"
#include "e2e_rtsp_udp.h"
#include "e2e_server.h"
#include "kernel_test_util.h"
#include "receiver.h"

#define SMALL_RCVBUF 16384
#define OVERLOAD_MS 6000
#define LATENCY_LIMIT_MS 100.0

typedef struct
{
  const gchar *name;
  VdmE2eReceiver *r;
  VdmE2eMonitor *mon;
  VdmE2eRtspUdp u;
  GPtrArray *flows;
  gchar *launch;
} Stream;

static void
stream_start (Stream * s, const gchar * name, const gchar * url)
{
  s->name = name;
  s->launch = g_strdup_printf ("rtspsrc name=src location=%s protocols=udp "
      "udp-buffer-size=4194304 latency=200 ! vdropmon name=mon ! rtph264depay ! h264parse "
      "! avdec_h264 ! fakesink sync=false", url);
  s->r = vdm_e2e_receiver_start (name, s->launch, GST_CLOCK_TIME_NONE);
  s->mon = vdm_e2e_monitor (s->r, "mon");
  vdm_e2e_rtsp_udp_init (&s->u, s->r, vdm_e2e_element (s->r, "src"), url);
  s->flows = vdm_e2e_wait_flows (s->r, s->mon, vdm_e2e_rtsp_udp_all_watched, &s->u, 10000);
}

static void
stream_free (Stream * s)
{
  vdm_e2e_receiver_free (s->r);
  vdm_e2e_rtsp_udp_clear (&s->u);
  g_ptr_array_unref (s->flows);
  g_free (s->launch);
}

static guint64
both_rtp_drops (gpointer data)
{
  Stream *streams = data;

  return vdm_e2e_udp_socket_drops (&streams[0].u.rtp)
      + vdm_e2e_udp_socket_drops (&streams[1].u.rtp);
}

/* The stream's flows are exactly its two sockets and its connection. */
static void
check_own_flows (Stream * s, const gchar * connection)
{
  GstStructure *stats = vdm_e2e_monitor_stats (s->mon);
  GPtrArray *flows = vdm_e2e_stats_flows (stats);

  vdm_kt_expect (flows->len == 3 && vdm_e2e_flows_have (flows, s->u.rtp.flow)
      && vdm_e2e_flows_have (flows, s->u.rtcp.flow) && vdm_e2e_flows_have (flows, connection),
      "%s watches exactly its own \"%s\", \"%s\" and \"%s\" (%u flows)", s->name, s->u.rtp.flow,
      s->u.rtcp.flow, connection, flows->len);
  g_ptr_array_unref (flows);
  gst_structure_free (stats);
}

/* No message of one stream names the other's flows or SSRC. */
static void
check_no_crossing (Stream * s, Stream * other)
{
  guint i, crossing = 0;

  for (i = 0; i < s->mon->drops->len; i++) {
    const GstStructure *m = ((VdmKtMessage *) g_ptr_array_index (s->mon->drops, i))->s;
    const gchar *flow = vdm_kt_msg_string (m, "flow");
    if (g_strcmp0 (flow, other->u.rtp.flow) == 0 || g_strcmp0 (flow, other->u.rtcp.flow) == 0
        || vdm_kt_msg_uint (m, "ssrc") == other->u.ssrc)
      crossing++;
  }
  vdm_kt_expect (crossing == 0, "no message of %s names %s's flows or SSRC (%u do)", s->name,
      other->name, crossing);
}

int
main (int argc, char **argv)
{
  Stream streams[2] = { 0 }, *a = &streams[0], *b = &streams[1];
  VdmE2eServer *server;
  VdmKtDropSummary summary;
  GstStructure *stats_a, *stats_b;
  GPtrArray *kernel_a;
  gchar *connection_a, *connection_b;
  guint64 a_before, a_after, b_rtp, b_rtcp, a_rtcp;
  int status;

  vdm_kt_begin ("e2e-side-by-side", &argc, &argv);
  server = vdm_e2e_server_start ("rtsp-server", "VDM_RTSP_SERVER", NULL, 2,
      "--port", "0", "--mounts", "2", "--pattern", "snow", "--bitrate", "4000",
      "--key-int", "30", NULL);

  stream_start (a, "A (overloaded)", vdm_e2e_server_url (server, 0));
  connection_a = g_strdup (vdm_e2e_rtsp_connection (a->flows, a->u.server_port));
  stream_start (b, "B (healthy)", vdm_e2e_server_url (server, 1));
  connection_b = g_strdup (vdm_e2e_rtsp_connection (b->flows, b->u.server_port));
  vdm_kt_expect (g_strcmp0 (connection_a, connection_b) != 0, "A and B watch different RTSP "
      "connections (\"%s\", \"%s\")", connection_a, connection_b);

  a_before = vdm_e2e_udp_socket_drops (&a->u.rtp);
  vdm_kt_expect (a_before == 0 && vdm_e2e_udp_socket_drops (&b->u.rtp) == 0, "no drop before "
      "the overload");
  vdm_e2e_shrink_rcvbuf (&a->u.rtp, SMALL_RCVBUF);
  vdm_kt_sleep_ms (OVERLOAD_MS);

  vdm_e2e_server_freeze (server);
  vdm_kt_expect (vdm_e2e_receiver_settle (a->r, 400, 5000, both_rtp_drops, streams)
      && vdm_e2e_receiver_settle (b->r, 400, 5000, both_rtp_drops, streams),
      "counters and messages of both settled");
  check_own_flows (a, connection_a);
  check_own_flows (b, connection_b);
  stats_a = vdm_e2e_monitor_stats (a->mon);
  stats_b = vdm_e2e_monitor_stats (b->mon);
  a_after = vdm_e2e_udp_socket_drops (&a->u.rtp);
  a_rtcp = vdm_e2e_udp_socket_drops (&a->u.rtcp);
  b_rtp = vdm_e2e_udp_socket_drops (&b->u.rtp);
  b_rtcp = vdm_e2e_udp_socket_drops (&b->u.rtcp);
  vdm_e2e_receiver_end_recording (a->r);
  vdm_e2e_receiver_end_recording (b->r);
  vdm_e2e_server_thaw (server);
  vdm_e2e_receiver_stop (a->r);
  vdm_e2e_receiver_stop (b->r);

  printf ("  COUNTS: A: RTP socket /proc drops %" G_GUINT64_FORMAT ", RTCP %" G_GUINT64_FORMAT
      ", %u drop messages; B: RTP socket %" G_GUINT64_FORMAT ", RTCP %" G_GUINT64_FORMAT
      ", %u drop messages, stats kernel-drops %" G_GUINT64_FORMAT "\n", a_after, a_rtcp,
      a->mon->drops->len, b_rtp, b_rtcp, b->mon->drops->len,
      vdm_kt_stats_u64 (stats_b, "kernel-drops"));
  kernel_a = vdm_e2e_kernel_drops (a->mon);
  vdm_kt_expect (kernel_a->len == a->mon->drops->len, "all of A's messages are kernel drops "
      "(%u of %u)", kernel_a->len, a->mon->drops->len);
  vdm_kt_summarize (kernel_a, &summary);
  vdm_kt_print_summary ("A", &summary);
  vdm_kt_check_counts (&summary, stats_a, "A's RTP socket /proc drops", a_after - a_before,
      "SOCKET_RCVBUFF");
  vdm_kt_check_fields (kernel_a, &(VdmKtExpectedDrop) {
        .source = "kernel-udp",.reason = "SOCKET_RCVBUFF",.attribution = "socket",
        .flow = a->u.rtp.flow,.ssrc = a->u.ssrc,.payload_type = 96});
  vdm_kt_check_latency (&summary, LATENCY_LIMIT_MS);
  vdm_kt_expect (b_rtp == 0 && b_rtcp == 0 && a_rtcp == 0, "B's sockets and A's RTCP socket "
      "dropped nothing");
  vdm_kt_expect (b->mon->drops->len == 0 && vdm_kt_stats_u64 (stats_b, "kernel-drops") == 0,
      "B reported no drop at all (%u messages)", b->mon->drops->len);
  check_no_crossing (a, b);
  check_no_crossing (b, a);

  status = vdm_kt_finish ();
  vdm_kt_summary_clear (&summary);
  g_ptr_array_unref (kernel_a);
  gst_structure_free (stats_a);
  gst_structure_free (stats_b);
  stream_free (a);
  stream_free (b);
  vdm_e2e_server_stop (server);
  g_free (connection_a);
  g_free (connection_b);
  return status;
}
