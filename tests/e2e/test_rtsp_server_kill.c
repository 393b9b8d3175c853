/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_rtsp_server_kill — the RTSP server dies (SIGKILL) in the middle of a
 * stream that is losing packets, while the pipeline is PLAYING (issue 9):
 *
 *   vdm-rtsp-server (640x480 "snow", 4 Mbit/s, a keyframe a second)
 *   rtspsrc protocols=udp latency=200 ! vdropmon ! fakesink
 *
 * Once vdropmon watches rtspsrc's sockets (RTP, RTCP, the RTSP connection),
 * the RTP socket gets a 16 KB receive buffer and the keyframe bursts
 * overflow it (SOCKET_RCVBUFF). Mid-loss the server process is killed: no
 * TEARDOWN, no RTCP BYE, its sockets closed by the kernel; rtspsrc finds
 * the connection closed, fails to reconnect and posts its error. Then:
 *
 *   - the bus is not stalled: vdropmon-stats keep coming every interval
 *     after the kill, and the pipeline stops (PLAYING -> NULL) in bounded
 *     time;
 *   - watches follow the sockets: the udpsrc sockets, still open, stay
 *     watched; the RTSP connection is watched exactly while this process
 *     still holds a TCP socket connected to the server's port;
 *   - no drop is blamed on a wrong or empty flow: every kernel
 *     vdropmon-drop names the RTP socket (SOCKET_RCVBUFF, attribution
 *     socket) or the RTSP connection (its close); none names the RTCP
 *     socket or "";
 *   - counters equal the kernel's: the RTP socket's reported drops equal
 *     its /proc/net/udp drop counter, read once everything settled, and
 *     stats kernel-drops equal that counter plus the RTSP connection's
 *     posted drops (and whatever a vdropmon-drop-summary stands for);
 *   - vdropmon itself posts no error or warning; rtspsrc's errors about
 *     the dead server are expected and printed.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "drop_checks.h"
#include "e2e_checks.h"
#include "e2e_receiver.h"
#include "e2e_rtsp_udp.h"
#include "e2e_server.h"
#include "kernel_test_util.h"
#include "receiver.h"

#define SMALL_RCVBUF 16384
#define LOSS_BEFORE_KILL_MS 2500
#define STATS_INTERVAL_MS 250   /* vdropmon interval: stats prove the bus moves */
#define AFTER_KILL_MS 3000
#define RTSP_RELEASE_TIMEOUT_MS 12000   /* fd scans back off to 8 s */
#define STOP_LIMIT_MS 5000

/* TCP sockets of this process connected to port on loopback: those whose
 * watch must stay (read from /proc/self/fd, like the element does). */
static guint
tcp_connections_to (guint16 port)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *entry;
  guint n = 0;

  if (!dir)
    vdm_kt_fatal ("cannot read /proc/self/fd");
  while ((entry = readdir (dir))) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof (peer);
    int protocol = 0, fd = atoi (entry->d_name);
    socklen_t plen = sizeof (protocol);

    if (fd <= 2 || fd == dirfd (dir))
      continue;
    if (getsockopt (fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &plen) < 0
        || protocol != IPPROTO_TCP || getpeername (fd, (struct sockaddr *) &peer, &len) < 0)
      continue;
    if ((peer.ss_family == AF_INET
            && ntohs (((struct sockaddr_in *) &peer)->sin_port) == port)
        || (peer.ss_family == AF_INET6
            && ntohs (((struct sockaddr_in6 *) &peer)->sin6_port) == port))
      n++;
  }
  closedir (dir);
  return n;
}

static guint
n_recorded (VdmE2eReceiver * r, GPtrArray * messages)
{
  guint n;

  g_mutex_lock (&r->lock);
  n = messages->len;
  g_mutex_unlock (&r->lock);
  return n;
}

static gboolean
flow_watched (VdmE2eMonitor * mon, const gchar * flow)
{
  GstStructure *stats = vdm_e2e_monitor_stats (mon);
  GPtrArray *flows = vdm_e2e_stats_flows (stats);
  gboolean watched = vdm_e2e_flows_have (flows, flow);

  g_ptr_array_unref (flows);
  gst_structure_free (stats);
  return watched;
}

/* The RTSP connection is watched exactly while one of our TCP sockets is
 * still connected to the server's port: waits until both agree. */
static gboolean
rtsp_watch_follows_socket (VdmE2eMonitor * mon, const gchar * rtsp_flow, guint16 port,
    gboolean * still_open)
{
  guint64 deadline = vdm_kt_now_ns () + (guint64) RTSP_RELEASE_TIMEOUT_MS * 1000000;

  for (;;) {
    gboolean open = tcp_connections_to (port) > 0;
    gboolean watched = flow_watched (mon, rtsp_flow);

    *still_open = open;
    if (open == watched)
      return TRUE;
    if (vdm_kt_now_ns () > deadline) {
      printf ("  RTSP connection \"%s\": %s, but %s\n", rtsp_flow,
          open ? "open" : "closed", watched ? "still watched" : "not watched");
      return FALSE;
    }
    vdm_kt_sleep_ms (100);
  }
}

/* rtspsrc's complaints about the dead server are the point of the test;
 * vdropmon ("mon") must have none. */
static guint
problems_of_vdropmon (VdmE2eReceiver * r)
{
  guint i, n = 0;

  g_mutex_lock (&r->lock);
  for (i = r->problems->len; i > 0; i--) {
    const gchar *p = g_ptr_array_index (r->problems, i - 1);
    if (strstr (p, " from mon:")) {
      n++;
      continue;
    }
    printf ("  expected after the kill: %s\n", p);
    g_ptr_array_remove_index (r->problems, i - 1);
  }
  g_mutex_unlock (&r->lock);
  return n;
}

typedef struct
{
  guint64 rtp, rtsp, other, rtsp_messages;
} Attributed;

static void
attribute (GPtrArray * kernel_msgs, const VdmE2eRtspUdp * u, const gchar * rtsp_flow,
    Attributed * out)
{
  guint i;

  for (i = 0; i < kernel_msgs->len; i++) {
    const GstStructure *s = ((VdmKtMessage *) g_ptr_array_index (kernel_msgs, i))->s;
    const gchar *flow = vdm_kt_msg_string (s, "flow");
    guint count = vdm_kt_msg_uint (s, "count");

    if (g_strcmp0 (flow, u->rtp.flow) == 0) {
      out->rtp += count;
      vdm_kt_expect (g_strcmp0 (vdm_kt_msg_string (s, "reason"), "SOCKET_RCVBUFF") == 0
          && g_strcmp0 (vdm_kt_msg_string (s, "attribution"), "socket") == 0,
          "RTP drops: SOCKET_RCVBUFF, attribution socket (%s, %s)",
          vdm_kt_msg_string (s, "reason"), vdm_kt_msg_string (s, "attribution"));
    } else if (rtsp_flow && g_strcmp0 (flow, rtsp_flow) == 0) {
      out->rtsp += count;
      out->rtsp_messages++;
      printf ("  RTSP connection \"%s\": %u dropped (%s)\n", flow, count,
          vdm_kt_msg_string (s, "reason"));
    } else {
      out->other += count;
      printf ("  WRONG FLOW: \"%s\", count %u, reason %s, attribution %s\n", flow, count,
          vdm_kt_msg_string (s, "reason"), vdm_kt_msg_string (s, "attribution"));
    }
  }
}

static guint64
summarized_kernel_drops (VdmE2eReceiver * r, VdmE2eMonitor * mon)
{
  guint64 n = 0, c;
  guint i;

  g_mutex_lock (&r->lock);
  for (i = 0; i < mon->summaries->len; i++)
    if (gst_structure_get_uint64 (((VdmKtMessage *) g_ptr_array_index (mon->summaries,
                    i))->s, "kernel-count", &c))
      n += c;
  g_mutex_unlock (&r->lock);
  return n;
}

int
main (int argc, char **argv)
{
  VdmE2eRtspUdp u = { 0 };
  VdmE2eServer *server;
  VdmE2eReceiver *r;
  VdmE2eMonitor *mon;
  GstElement *rtspsrc;
  GPtrArray *flows, *kernel_msgs;
  GstStructure *stats;
  Attributed seen = { 0 };
  gchar *launch, *rtsp_flow;
  guint64 kill_ns, stop_ns, before_kill_drops, rtp_kernel, summarized;
  guint16 server_port;
  guint stats_at_kill, stats_after, vdropmon_problems;
  gboolean rtsp_open = FALSE;
  int status;

  vdm_kt_begin ("e2e-rtsp-server-kill", &argc, &argv);
  server = vdm_e2e_server_start ("rtsp-server", "VDM_RTSP_SERVER", NULL, 1, "--port", "0",
      "--pattern", "snow", "--bitrate", "4000", "--key-int", "30", NULL);
  server_port = vdm_e2e_url_port (vdm_e2e_server_url (server, 0));
  launch = g_strdup_printf ("rtspsrc name=src location=%s protocols=udp "
      "udp-buffer-size=4194304 latency=200 ! vdropmon name=mon interval=%u ! fakesink sync=false",
      vdm_e2e_server_url (server, 0), STATS_INTERVAL_MS * 1000000);
  r = vdm_e2e_receiver_start ("receiver", launch, GST_CLOCK_TIME_NONE);
  mon = vdm_e2e_monitor (r, "mon");
  rtspsrc = vdm_e2e_element (r, "src");
  vdm_e2e_rtsp_udp_init (&u, r, rtspsrc, vdm_e2e_server_url (server, 0));
  flows = vdm_e2e_wait_flows (r, mon, vdm_e2e_rtsp_udp_all_watched, &u, 10000);
  rtsp_flow = g_strdup (vdm_e2e_rtsp_connection (flows, u.server_port));
  g_ptr_array_unref (flows);
  vdm_kt_expect (vdm_e2e_udp_socket_drops (&u.rtp) == 0, "no drop on \"%s\" before the "
      "overload", u.rtp.flow);

  /* Loss, then the kill in the middle of it. */
  vdm_e2e_shrink_rcvbuf (&u.rtp, SMALL_RCVBUF);
  vdm_kt_sleep_ms (LOSS_BEFORE_KILL_MS);
  before_kill_drops = vdm_e2e_udp_socket_drops (&u.rtp);
  stats_at_kill = n_recorded (r, mon->stats);
  kill_ns = vdm_kt_now_ns ();
  vdm_e2e_server_kill (server);
  printf ("  server (port %u) killed after %" G_GUINT64_FORMAT " drops on \"%s\"\n",
      server_port, before_kill_drops, u.rtp.flow);
  vdm_kt_expect (before_kill_drops > 0, "the RTP socket was dropping when the server died "
      "(%" G_GUINT64_FORMAT " drops)", before_kill_drops);

  /* The bus still carries vdropmon's messages. */
  vdm_kt_sleep_ms (AFTER_KILL_MS);
  stats_after = n_recorded (r, mon->stats) - stats_at_kill;
  vdm_kt_expect (stats_after >= AFTER_KILL_MS / STATS_INTERVAL_MS / 2, "vdropmon-stats keep "
      "coming after the kill (%u in %u ms at a %u ms interval)", stats_after, AFTER_KILL_MS,
      STATS_INTERVAL_MS);

  /* Watches follow the sockets. */
  vdm_kt_expect (rtsp_watch_follows_socket (mon, rtsp_flow, server_port, &rtsp_open),
      "the RTSP connection is watched exactly while its socket is open");
  printf ("  RTSP connection \"%s\" after the kill: %s\n", rtsp_flow,
      rtsp_open ? "still open, still watched" : "closed, released");
  vdm_kt_expect (flow_watched (mon, u.rtp.flow) && flow_watched (mon, u.rtcp.flow),
      "the udpsrc sockets, still open, stay watched (\"%s\", \"%s\")", u.rtp.flow, u.rtcp.flow);

  /* Counters against the kernel's, once nothing moves (the stream is gone,
   * so buffers stop too). The udpsrc sockets are still open: their
   * counters are final. */
  vdm_kt_expect (vdm_e2e_receiver_settle (r, 600, 8000, vdm_e2e_udp_socket_drops, &u.rtp),
      "counters and messages settled after the kill");
  rtp_kernel = vdm_e2e_udp_socket_drops (&u.rtp);
  vdm_kt_expect (vdm_e2e_udp_socket_drops (&u.rtcp) == 0, "the RTCP socket dropped nothing");
  stats = vdm_e2e_monitor_stats (mon);
  vdm_e2e_receiver_end_recording (r);

  stop_ns = vdm_kt_now_ns ();
  vdm_e2e_receiver_stop (r);
  stop_ns = vdm_kt_now_ns () - stop_ns;
  printf ("  pipeline stopped in %.0f ms\n", stop_ns / 1e6);
  vdm_kt_expect (stop_ns < (guint64) STOP_LIMIT_MS * 1000000, "the pipeline stops in bounded "
      "time after the kill (%.0f ms)", stop_ns / 1e6);
  vdropmon_problems = problems_of_vdropmon (r);
  vdm_kt_expect (vdropmon_problems == 0, "vdropmon posted no error or warning (%u)",
      vdropmon_problems);
  vdm_e2e_receiver_check_errors (r);

  kernel_msgs = vdm_e2e_kernel_drops (mon);
  attribute (kernel_msgs, &u, rtsp_flow, &seen);
  summarized = summarized_kernel_drops (r, mon);
  printf ("  RTP \"%s\": %" G_GUINT64_FORMAT " reported, %" G_GUINT64_FORMAT " kernel; RTSP "
      "connection: %" G_GUINT64_FORMAT " in %" G_GUINT64_FORMAT " messages; summarized %"
      G_GUINT64_FORMAT "; stats kernel-drops %" G_GUINT64_FORMAT ", events-lost %"
      G_GUINT64_FORMAT "; %.1f s after the kill\n", u.rtp.flow, seen.rtp, rtp_kernel, seen.rtsp,
      seen.rtsp_messages, summarized, vdm_kt_stats_u64 (stats, "kernel-drops"),
      vdm_kt_stats_u64 (stats, "events-lost"), (vdm_kt_now_ns () - kill_ns) / 1e9);
  vdm_kt_expect (seen.other == 0, "no drop blamed on a wrong or empty flow (%" G_GUINT64_FORMAT
      ")", seen.other);
  vdm_kt_expect (seen.rtp == rtp_kernel, "the RTP socket's reported drops equal its kernel "
      "counter (%" G_GUINT64_FORMAT " vs %" G_GUINT64_FORMAT ")", seen.rtp, rtp_kernel);
  vdm_kt_expect (rtp_kernel >= before_kill_drops, "the kernel counter did not go back");
  vdm_kt_expect (vdm_kt_stats_u64 (stats, "kernel-drops") == rtp_kernel + seen.rtsp
      + summarized, "stats kernel-drops equal the RTP socket's counter plus the RTSP "
      "connection's posted drops plus the summarized (%" G_GUINT64_FORMAT " vs %"
      G_GUINT64_FORMAT " + %" G_GUINT64_FORMAT " + %" G_GUINT64_FORMAT ")",
      vdm_kt_stats_u64 (stats, "kernel-drops"), rtp_kernel, seen.rtsp, summarized);

  status = vdm_kt_finish ();
  g_ptr_array_unref (kernel_msgs);
  gst_structure_free (stats);
  vdm_e2e_rtsp_udp_clear (&u);
  vdm_e2e_receiver_free (r);
  vdm_e2e_server_stop (server);
  g_free (rtsp_flow);
  g_free (launch);
  return status;
}
