/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_rtsp_reconnect — rtspsrc reconnects many times under loss, and every
 * drop stays attributed to the socket that was live when it happened
 * (issue 9: watch ids reused across an rtspsrc reconnect must never carry an
 * old socket's drops to its successor):
 *
 *   vdm-rtsp-server (640x480 "snow", 4 Mbit/s, a keyframe a second)
 *   rtspsrc protocols=udp latency=200 ! vdropmon ! fakesink
 *
 * One process, one vdropmon that stays PLAYING. ALL_GENERATIONS times, rtspsrc
 * alone goes READY -> PLAYING: a TEARDOWN, a new session, two new udpsrc
 * sockets (RTP, RTCP). Each generation, once vdropmon watches the new RTP
 * socket, the test shrinks that socket's receive buffer to 16 KB (what
 * udp-buffer-size=16384 sets) and the keyframe bursts overflow it
 * (SOCKET_RCVBUFF); after OVERLOAD_MS it gives the buffer back, lets
 * everything settle and reads the socket's kernel drop counter
 * (/proc/net/udp) just before rtspsrc closes it. So every drop of a
 * generation happens while vdropmon watches that socket, and the exact
 * checks hold:
 *
 *   - every vdropmon-drop (kernel) names the RTP flow of a generation whose
 *     socket was open at its kernel-time: none for a closed socket, none
 *     blamed on a successor or on the RTCP socket;
 *   - per generation, the sum of the counts of its messages equals that
 *     socket's kernel drop counter;
 *   - the generations really were different sockets (inodes), and each
 *     one dropped (the loss is real, not assumed);
 *   - the drops of each generation's RTSP connection (a TCP close drops
 *     what it still held: QUEUE_PURGE, TCP_ABORT_ON_DATA, ...) name that
 *     connection and happen while it is that generation's, and stats
 *     kernel-drops equal the RTP sockets' counters plus those, exactly.
 *
 * The last SERVER_RESTARTS generations also restart the server while
 * rtspsrc reconnects: between TEARDOWN and the next PLAY the server process
 * is stopped and a new one started, on the same port the first time (the
 * new RTSP connection differs from the old only by its local port), on a
 * new port the second. No drop of an old generation's sockets may be
 * blamed on the new one, and nothing may crash.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "drop_checks.h"
#include "e2e_checks.h"
#include "e2e_receiver.h"
#include "e2e_rtsp_udp.h"
#include "e2e_server.h"
#include "kernel_test_util.h"
#include "receiver.h"

#define GENERATIONS 6           /* the same server */
#define SERVER_RESTARTS 2       /* then each with a new server process */
#define ALL_GENERATIONS (GENERATIONS + SERVER_RESTARTS)
/* An RTSP connection's drops come at its close (a few ms after); later
 * than this, one would belong to someone else. */
#define RTSP_CLOSE_MARGIN_NS (1000 * G_GUINT64_CONSTANT (1000000))
#define SMALL_RCVBUF 16384
#define OVERLOAD_MS 2000
#define UDPSRC_TIMEOUT_MS 10000

typedef struct
{
  gchar *rtp_flow, *rtcp_flow, *rtsp_flow;
  gulong rtp_inode, rtcp_inode;
  guint64 open_ns;              /* before rtspsrc went PLAYING */
  guint64 close_ns;             /* after rtspsrc went READY */
  guint64 kernel_drops;         /* the RTP socket's counter, just before it closed */
  guint64 reported;             /* counts of the messages attributed to it */
  guint messages;
  guint64 rtsp_reported;        /* drops of its RTSP connection (a TCP close) */
  guint rtsp_orphans;           /* of which outside its lifetime */
  gboolean new_server;          /* the server was restarted before it */
  guint16 server_port;
} Generation;

/* Messages and counters stop moving (the stream goes on: buffers do not
 * count here, unlike vdm_e2e_receiver_settle). */
static gboolean
settle (VdmE2eReceiver * r, VdmE2eMonitor * mon, VdmE2eUdpSocket * s)
{
  guint64 deadline = vdm_kt_now_ns () + 5000 * G_GUINT64_CONSTANT (1000000), quiet = 0;
  guint64 last[3] = { G_MAXUINT64, 0, 0 };

  while (vdm_kt_now_ns () < deadline) {
    GstStructure *stats = vdm_e2e_monitor_stats (mon);
    guint64 now[3] = { vdm_kt_stats_u64 (stats, "kernel-drops"),
      vdm_kt_stats_u64 (stats, "drop-messages"), vdm_e2e_udp_socket_drops (s)
    };
    guint recorded;

    gst_structure_free (stats);
    g_mutex_lock (&r->lock);
    recorded = mon->drops->len;
    g_mutex_unlock (&r->lock);
    quiet = (memcmp (now, last, sizeof (now)) == 0 && recorded == now[1]) ? quiet + 50 : 0;
    if (quiet >= 400)
      return TRUE;
    memcpy (last, now, sizeof (now));
    vdm_kt_sleep_ms (50);
  }
  return FALSE;
}

static gulong
socket_inode (GstElement * udpsrc)
{
  GSocket *socket = NULL;
  struct stat st;
  gulong inode = 0;

  g_object_get (udpsrc, "used-socket", &socket, NULL);
  if (socket && fstat (g_socket_get_fd (socket), &st) == 0)
    inode = st.st_ino;
  g_clear_object (&socket);
  return inode;
}

static gboolean
inode_seen (const Generation * gens, guint n, gulong inode)
{
  guint i;

  for (i = 0; i < n; i++)
    if (gens[i].rtp_inode == inode || gens[i].rtcp_inode == inode)
      return TRUE;
  return FALSE;
}

/* rtspsrc's udpsrc elements of this generation: two with a socket none of
 * the earlier generations had (the old ones may still be on their way out
 * of the bin). */
static void
wait_new_udpsrcs (VdmE2eReceiver * r, GstElement * rtspsrc, Generation * gens, guint g,
    GstElement ** out)
{
  guint64 deadline = vdm_kt_now_ns () + (guint64) UDPSRC_TIMEOUT_MS * 1000000;

  for (;;) {
    GPtrArray *found = vdm_e2e_wait_udpsrcs (r, rtspsrc, 1, UDPSRC_TIMEOUT_MS);
    guint i, n = 0;

    for (i = 0; i < found->len && n < 2; i++) {
      GstElement *udpsrc = g_ptr_array_index (found, i);
      gulong inode = socket_inode (udpsrc);
      if (inode && !inode_seen (gens, g, inode))
        out[n++] = gst_object_ref (udpsrc);
    }
    g_ptr_array_unref (found);
    if (n == 2)
      return;
    while (n > 0)
      gst_object_unref (out[--n]);
    if (vdm_kt_now_ns () > deadline)
      vdm_kt_fatal ("generation %u: no two new udpsrc sockets after %u ms", g,
          UDPSRC_TIMEOUT_MS);
    vdm_kt_sleep_ms (20);
  }
}

static int
get_rcvbuf (VdmE2eUdpSocket * s)
{
  int bytes = 0;
  socklen_t len = sizeof (bytes);

  if (getsockopt (g_socket_get_fd (s->socket), SOL_SOCKET, SO_RCVBUF, &bytes, &len) < 0)
    vdm_kt_fatal ("cannot read SO_RCVBUF of \"%s\"", s->flow);
  return bytes;
}

/* Gives the socket its original buffer back (getsockopt reports twice what
 * was asked; SO_RCVBUFFORCE: we are root, rmem_max does not apply). */
static void
restore_rcvbuf (VdmE2eUdpSocket * s, int original)
{
  int bytes = original / 2;

  if (setsockopt (g_socket_get_fd (s->socket), SOL_SOCKET, SO_RCVBUFFORCE, &bytes,
          sizeof (bytes)) < 0)
    vdm_kt_fatal ("cannot restore the receive buffer of \"%s\"", s->flow);
}

/* gst-launch links rtspsrc's first pad only; each new session's pad is
 * linked to vdropmon here. */
static void
on_pad_added (GstElement * rtspsrc, GstPad * pad, gpointer user_data)
{
  GstPad *sink = gst_element_get_static_pad (GST_ELEMENT (user_data), "sink");

  if (!gst_pad_is_linked (sink) && GST_PAD_LINK_FAILED (gst_pad_link (pad, sink)))
    printf ("  cannot link %s to vdropmon\n", GST_PAD_NAME (pad));
  gst_object_unref (sink);
}

/* vdm-rtsp-server now and then closes the RTSP connection before rtspsrc's
 * PAUSE/TEARDOWN goes out ("Received end-of-file"): an error of the
 * intended close, not of the stream; printed, then forgotten so that the
 * next generation starts. Any other problem stays and fails the test. */
static void
forgive_teardown_errors (VdmE2eReceiver * r, guint g)
{
  guint i;

  g_mutex_lock (&r->lock);
  for (i = r->problems->len; i > 0; i--) {
    const gchar *p = g_ptr_array_index (r->problems, i - 1);
    if (strstr (p, "Received end-of-file")) {
      printf ("  generation %u: teardown error forgiven: %s\n", g, p);
      g_ptr_array_remove_index (r->problems, i - 1);
    }
  }
  g_mutex_unlock (&r->lock);
}

/* Each server process has a label of its own: its READY lines go to a file
 * named after it, which a successor must not find already written. */
static VdmE2eServer *
start_server (guint16 port)
{
  static guint started;
  gchar *port_text = g_strdup_printf ("%u", port);
  gchar *label = g_strdup_printf ("rtsp-server-%u", started++);
  VdmE2eServer *server = vdm_e2e_server_start (label, "VDM_RTSP_SERVER", NULL, 1,
      "--port", port_text, "--pattern", "snow", "--bitrate", "4000", "--key-int", "30", NULL);

  g_free (label);
  g_free (port_text);
  return server;
}

/* rtspsrc is in READY (its session torn down): the server process goes,
 * a new one comes, on the same port or (same_port FALSE) another one, which
 * rtspsrc is then told. */
static VdmE2eServer *
restart_server (VdmE2eServer * server, GstElement * rtspsrc, gboolean same_port)
{
  guint16 port = vdm_e2e_url_port (vdm_e2e_server_url (server, 0));

  vdm_e2e_server_stop (server);
  server = start_server (same_port ? port : 0);
  g_object_set (rtspsrc, "location", vdm_e2e_server_url (server, 0), NULL);
  printf ("  server restarted: %s (was port %u)\n", vdm_e2e_server_url (server, 0), port);
  return server;
}

/* One generation: rtspsrc PLAYING, its new sockets watched, overloaded,
 * calmed, counted, closed. */
static void
run_generation (VdmE2eReceiver * r, VdmE2eMonitor * mon, GstElement * rtspsrc,
    VdmE2eServer * server, Generation * gens, guint g)
{
  Generation *gen = &gens[g];
  VdmE2eRtspUdp u = { 0 };
  GstElement *udpsrcs[2];
  GPtrArray *flows;
  int original;

  if (g > 0) {
    vdm_kt_sleep_ms (100);      /* late errors of the previous close */
    forgive_teardown_errors (r, g - 1);
  }
  gen->open_ns = vdm_kt_now_ns ();
  if (g > 0 && !gst_element_sync_state_with_parent (rtspsrc))
    vdm_kt_fatal ("generation %u: rtspsrc refused to go back to PLAYING", g);
  wait_new_udpsrcs (r, rtspsrc, gens, g, udpsrcs);
  gen->rtp_inode = socket_inode (udpsrcs[0]);
  gen->rtcp_inode = socket_inode (udpsrcs[1]);

  /* The helper's view of them: flows, ports, RTP = the even port. */
  u.server_port = vdm_e2e_url_port (vdm_e2e_server_url (server, 0));
  gen->server_port = u.server_port;
  {
    GSocket *a = NULL, *b = NULL;
    g_object_get (udpsrcs[0], "used-socket", &a, NULL);
    g_object_get (udpsrcs[1], "used-socket", &b, NULL);
    if (vdm_e2e_socket_port (a) > vdm_e2e_socket_port (b)) {
      GSocket *t = a;
      gulong ti = gen->rtp_inode;
      a = b;
      b = t;
      gen->rtp_inode = gen->rtcp_inode;
      gen->rtcp_inode = ti;
    }
    u.rtp.socket = a;
    u.rtp.flow = vdm_e2e_udp_flow_name (a);
    u.rtp.port = vdm_e2e_socket_port (a);
    u.rtcp.socket = b;
    u.rtcp.flow = vdm_e2e_udp_flow_name (b);
    u.rtcp.port = vdm_e2e_socket_port (b);
  }
  gst_object_unref (udpsrcs[0]);
  gst_object_unref (udpsrcs[1]);
  gen->rtp_flow = g_strdup (u.rtp.flow);
  gen->rtcp_flow = g_strdup (u.rtcp.flow);

  flows = vdm_e2e_wait_flows (r, mon, vdm_e2e_rtsp_udp_all_watched, &u, 10000);
  gen->rtsp_flow = g_strdup (vdm_e2e_rtsp_connection (flows, u.server_port));
  g_ptr_array_unref (flows);
  vdm_kt_expect (vdm_e2e_udp_socket_drops (&u.rtp) == 0, "generation %u: no drop on \"%s\" "
      "before the overload", g, u.rtp.flow);

  original = get_rcvbuf (&u.rtp);
  vdm_e2e_shrink_rcvbuf (&u.rtp, SMALL_RCVBUF);
  vdm_kt_sleep_ms (OVERLOAD_MS);
  restore_rcvbuf (&u.rtp, original);
  /* With its buffer back the socket drops nothing more: the counter read
   * last is its final one. */
  vdm_kt_expect (settle (r, mon, &u.rtp), "generation %u: counters and messages settled", g);
  gen->kernel_drops = vdm_e2e_udp_socket_drops (&u.rtp);

  if (gst_element_set_state (rtspsrc, GST_STATE_READY) == GST_STATE_CHANGE_FAILURE)
    vdm_kt_fatal ("generation %u: rtspsrc refused to go to READY", g);
  gen->close_ns = vdm_kt_now_ns ();
  forgive_teardown_errors (r, g);
  printf ("  generation %u: RTP \"%s\" (inode %lu), RTCP \"%s\": kernel drops %"
      G_GUINT64_FORMAT ", open %.0f ms\n", g, gen->rtp_flow, gen->rtp_inode, gen->rtcp_flow,
      gen->kernel_drops, (gen->close_ns - gen->open_ns) / 1e6);
  g_clear_object (&u.rtp.socket);
  g_clear_object (&u.rtcp.socket);
  g_free (u.rtp.flow);
  g_free (u.rtcp.flow);
}

/* The generation a kernel drop belongs to: its flow is the RTP flow of the
 * generation whose socket was open at the drop's kernel-time; NULL if none. */
static Generation *
owner (Generation * gens, guint n, const gchar * flow, guint64 kernel_time)
{
  guint i;

  for (i = 0; i < n; i++)
    if (g_strcmp0 (flow, gens[i].rtp_flow) == 0 && kernel_time >= gens[i].open_ns
        && kernel_time <= gens[i].close_ns)
      return &gens[i];
  return NULL;
}

/* The generation whose RTSP connection this is. */
static Generation *
rtsp_owner (Generation * gens, guint n, const gchar * flow)
{
  guint i;

  for (i = 0; i < n; i++)
    if (g_strcmp0 (flow, gens[i].rtsp_flow) == 0)
      return &gens[i];
  return NULL;
}

static void
attribute (GPtrArray * kernel_msgs, Generation * gens, guint n)
{
  guint i, orphans = 0;

  for (i = 0; i < kernel_msgs->len; i++) {
    const GstStructure *s = ((VdmKtMessage *) g_ptr_array_index (kernel_msgs, i))->s;
    const gchar *flow = vdm_kt_msg_string (s, "flow");
    guint64 first = vdm_kt_msg_u64 (s, "kernel-time"), last =
        vdm_kt_msg_u64 (s, "kernel-time-last");
    Generation *gen = owner (gens, n, flow, first);

    if (g_str_has_prefix (flow, "tcp ") && (gen = rtsp_owner (gens, n, flow))) {
      gboolean in_life = first >= gen->open_ns && last <= gen->close_ns + RTSP_CLOSE_MARGIN_NS;
      printf ("  RTSP connection \"%s\"%s: %u dropped (%s), %+.1f ms from its close%s\n", flow,
          gen->new_server ? " (new server)" : "", vdm_kt_msg_uint (s, "count"),
          vdm_kt_msg_string (s, "reason"), ((gint64) first - (gint64) gen->close_ns) / 1e6,
          in_life ? "" : ": NOT IN ITS LIFETIME");
      gen->rtsp_reported += vdm_kt_msg_uint (s, "count");
      gen->rtsp_orphans += in_life ? 0 : 1;
      continue;
    }
    if (!gen || gen != owner (gens, n, flow, last)) {
      orphans++;
      printf ("  ORPHAN: flow \"%s\", count %u, kernel-time %" G_GUINT64_FORMAT "..%"
          G_GUINT64_FORMAT ", attribution %s, reason %s\n", flow, vdm_kt_msg_uint (s, "count"),
          first, last, vdm_kt_msg_string (s, "attribution"), vdm_kt_msg_string (s, "reason"));
      continue;
    }
    gen->reported += vdm_kt_msg_uint (s, "count");
    gen->messages++;
    vdm_kt_expect (g_strcmp0 (vdm_kt_msg_string (s, "attribution"), "socket") == 0
        && g_strcmp0 (vdm_kt_msg_string (s, "reason"), "SOCKET_RCVBUFF") == 0,
        "message on \"%s\": attribution socket, reason SOCKET_RCVBUFF (%s, %s)", flow,
        vdm_kt_msg_string (s, "attribution"), vdm_kt_msg_string (s, "reason"));
  }
  vdm_kt_expect (orphans == 0, "every kernel drop names the RTP socket that was open when it "
      "happened (%u messages do not: a closed socket, a successor, the RTCP socket)", orphans);
}

int
main (int argc, char **argv)
{
  Generation gens[ALL_GENERATIONS] = { 0 };
  VdmE2eServer *server;
  VdmE2eReceiver *r;
  VdmE2eMonitor *mon;
  GstElement *rtspsrc;
  GPtrArray *kernel_msgs;
  GstStructure *stats;
  guint64 start, total_kernel = 0, total_reported = 0, rtsp_total = 0;
  gchar *launch;
  guint g;
  int status;

  vdm_kt_begin ("e2e-rtsp-reconnect", &argc, &argv);
  server = start_server (0);
  launch = g_strdup_printf ("rtspsrc name=src location=%s protocols=udp "
      "udp-buffer-size=4194304 latency=200 ! vdropmon name=mon ! fakesink sync=false",
      vdm_e2e_server_url (server, 0));
  start = vdm_kt_now_ns ();
  r = vdm_e2e_receiver_start ("receiver", launch, GST_CLOCK_TIME_NONE);
  mon = vdm_e2e_monitor (r, "mon");
  rtspsrc = vdm_e2e_element (r, "src");
  g_signal_connect (rtspsrc, "pad-added", G_CALLBACK (on_pad_added), vdm_e2e_element (r, "mon"));

  for (g = 0; g < ALL_GENERATIONS; g++) {
    if (g >= GENERATIONS) {
      gens[g].new_server = TRUE;
      server = restart_server (server, rtspsrc, g == GENERATIONS);
    }
    run_generation (r, mon, rtspsrc, server, gens, g);
  }

  vdm_kt_expect (vdm_e2e_receiver_settle (r, 400, 5000, NULL, NULL), "final settle");
  stats = vdm_e2e_monitor_stats (mon);
  vdm_e2e_receiver_end_recording (r);
  vdm_e2e_receiver_stop (r);
  vdm_e2e_receiver_check_errors (r);
  printf ("  %u generations (%u with a new server) in %.1f s\n", ALL_GENERATIONS,
      SERVER_RESTARTS, (vdm_kt_now_ns () - start) / 1e9);

  kernel_msgs = vdm_e2e_kernel_drops (mon);
  attribute (kernel_msgs, gens, ALL_GENERATIONS);
  vdm_kt_expect (gens[GENERATIONS].server_port == gens[GENERATIONS - 1].server_port
      && gens[GENERATIONS + 1].server_port != gens[GENERATIONS].server_port,
      "the server came back on the same port (%u, %u), then on a new one (%u)",
      gens[GENERATIONS - 1].server_port, gens[GENERATIONS].server_port,
      gens[GENERATIONS + 1].server_port);
  for (g = 0; g < ALL_GENERATIONS; g++) {
    printf ("  generation %u: %u messages, %" G_GUINT64_FORMAT " reported, %" G_GUINT64_FORMAT
        " kernel\n", g, gens[g].messages, gens[g].reported, gens[g].kernel_drops);
    vdm_kt_expect (gens[g].kernel_drops > 0, "generation %u dropped under the small buffer (%"
        G_GUINT64_FORMAT ")", g, gens[g].kernel_drops);
    vdm_kt_expect (gens[g].reported == gens[g].kernel_drops, "generation %u: reported drops "
        "equal the socket's kernel counter (%" G_GUINT64_FORMAT " vs %" G_GUINT64_FORMAT ")", g,
        gens[g].reported, gens[g].kernel_drops);
    total_kernel += gens[g].kernel_drops;
    total_reported += gens[g].reported;
    rtsp_total += gens[g].rtsp_reported;
    vdm_kt_expect (gens[g].rtsp_orphans == 0, "generation %u: its RTSP connection's drops all "
        "happened while it was that generation's (%u did not)", g, gens[g].rtsp_orphans);
  }
  /* Every drop the watches counted, the RTSP connections' close drops
   * included (their final counters are read as the watch goes), and every
   * one of them was posted with its flow (issue 9). */
  vdm_kt_expect (vdm_kt_stats_u64 (stats, "kernel-drops") == total_kernel + rtsp_total,
      "stats kernel-drops equal the RTP sockets' counters plus the RTSP connections' posted "
      "drops (%" G_GUINT64_FORMAT " vs %" G_GUINT64_FORMAT " + %" G_GUINT64_FORMAT ")",
      vdm_kt_stats_u64 (stats, "kernel-drops"), total_kernel, rtsp_total);
  printf ("  TOTAL: %" G_GUINT64_FORMAT " reported, %" G_GUINT64_FORMAT " kernel, events-lost %"
      G_GUINT64_FORMAT "\n", total_reported, total_kernel, vdm_kt_stats_u64 (stats,
          "events-lost"));

  status = vdm_kt_finish ();
  for (g = 0; g < ALL_GENERATIONS; g++) {
    g_free (gens[g].rtp_flow);
    g_free (gens[g].rtcp_flow);
    g_free (gens[g].rtsp_flow);
  }
  g_ptr_array_unref (kernel_msgs);
  gst_structure_free (stats);
  vdm_e2e_receiver_free (r);
  vdm_e2e_server_stop (server);
  g_free (launch);
  return status;
}
