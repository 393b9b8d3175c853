/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_tcp_reader — a late reader of a stream fetched over TCP is not a
 * network stall (issue 9), on the project's real servers and the receiving
 * pipelines of docs/pipelines.md, on loopback:
 *
 *   HTTP-FLV:  vdm-flv-server → souphttpsrc is-live=true ! flvdemux
 *                ! vdropmon ! fakesink
 *   RTSP/TCP:  vdm-rtsp-server → rtspsrc protocols=tcp latency=200
 *                ! vdropmon ! fakesink            (RTP interleaved)
 *
 * Once the stream plays calmly, the thread that reads the TCP connection
 * is held for HOLD_MS (a pad probe sleeps in it: souphttpsrc's src pad;
 * rtpbin's RTP sink pad inside rtspsrc, which rtspsrc's reading loop
 * pushes into). The servers keep sending, so the bytes wait in the
 * connection's receive queue. Checks:
 *
 *   - the kernel's view (reference): during the hold, the connection this
 *     process holds to the server (found in /proc/self/fd) has unread bytes
 *     (SIOCINQ) — the scenario happened;
 *   - vdropmon does not call it a network stall: no vdropmon-warning of
 *     cause network from the silence/stall path (no kernel drop behind it)
 *     from the hold until AFTER_MS after it (a reader starved past
 *     silence-threshold may be warned of as `host`: that is this host's
 *     doing, and true), and stats reader-stalls grew.
 *
 * Without the unread-bytes check for TCP, the RTSP hold warned
 * cause=network (lower-bitrate, stall-eta 0) 200 ms into it, and neither
 * hold counted in reader-stalls. Printed only: when the hold fills the
 * connection's receive window (HTTP-FLV here, ~100-140 KB unread), what
 * the server sends into the full window comes again as duplicates (its
 * probes and retransmissions), dropped as TCP_OLD_DATA. Those used to warn
 * network; while the reader is starved they are the host's now
 * (docs/reasons.md), but one run in two still had one network warning
 * among them (docs/benchmarks.md), so it is not asserted yet.
 */
#include <dirent.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "e2e_checks.h"
#include "e2e_receiver.h"
#include "e2e_server.h"
#include "kernel_test_util.h"
#include "receiver.h"

#define HOLD_MS 800
#define AFTER_MS 1500
#define CALM_MS 500
#define CALM_TIMEOUT_MS 8000

static gint hold_requested;
static guint64 hold_start_ns, hold_end_ns;
static guint16 held_port;
static gint max_unread_during_hold;

/* The largest SIOCINQ among this process's TCP sockets connected to port. */
static gint
unread_to_port (guint16 port)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *entry;
  gint most = -1;

  if (!dir)
    return -1;
  while ((entry = readdir (dir))) {
    struct sockaddr_in peer;
    socklen_t len = sizeof (peer);
    int fd = atoi (entry->d_name), protocol = 0, unread = 0;
    socklen_t plen = sizeof (protocol);

    if (fd <= 2 || fd == dirfd (dir))
      continue;
    if (getsockopt (fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &plen) < 0
        || protocol != IPPROTO_TCP || getpeername (fd, (struct sockaddr *) &peer, &len) < 0
        || peer.sin_family != AF_INET || ntohs (peer.sin_port) != port)
      continue;
    if (ioctl (fd, SIOCINQ, &unread) == 0 && unread > most)
      most = unread;
  }
  closedir (dir);
  return most;
}

/* Holds the reading thread once, HOLD_MS, looking at the kernel's receive
 * queue halfway. */
static GstPadProbeReturn
maybe_hold (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  if (g_atomic_int_compare_and_exchange (&hold_requested, 1, 0)) {
    hold_start_ns = vdm_kt_now_ns ();
    vdm_kt_sleep_ms (HOLD_MS / 2);
    max_unread_during_hold = unread_to_port (held_port);
    vdm_kt_sleep_ms (HOLD_MS / 2);
    hold_end_ns = vdm_kt_now_ns ();
  }
  return GST_PAD_PROBE_OK;
}

static gboolean
watches_server (GPtrArray * flows, gpointer data)
{
  gchar *suffix = g_strdup_printf (":%u", GPOINTER_TO_UINT (data));
  gboolean found = FALSE;
  guint i;

  for (i = 0; i < flows->len; i++)
    found |= g_str_has_prefix (g_ptr_array_index (flows, i), "tcp ")
        && g_str_has_suffix (g_ptr_array_index (flows, i), suffix);
  g_free (suffix);
  return found;
}

/* rtspsrc's reading loop pushes RTP into its rtpbin: the pad to hold it on. */
static GstPad *
rtpbin_rtp_sink (GstElement * rtspsrc)
{
  GstIterator *it = gst_bin_iterate_elements (GST_BIN (rtspsrc));
  GValue item = G_VALUE_INIT;
  GstPad *pad = NULL;

  while (!pad && gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&item);
    GstElementFactory *f = gst_element_get_factory (e);
    if (f && g_strcmp0 (GST_OBJECT_NAME (f), "rtpbin") == 0)
      pad = gst_element_get_static_pad (e, "recv_rtp_sink_0");
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  return pad;
}

static guint64
reader_stalls (VdmE2eMonitor * mon)
{
  GstStructure *stats = vdm_e2e_monitor_stats (mon);
  guint64 n = vdm_kt_stats_u64 (stats, "reader-stalls");

  gst_structure_free (stats);
  return n;
}

/* The warnings posted since since_ns: those of cause network from the
 * silence/stall path (no kernel drop behind them: reasons "") into *stall,
 * those of cause network that kernel drops raised into *dropped. */
static void
network_warnings_since (VdmE2eReceiver * r, VdmE2eMonitor * mon, guint64 since_ns,
    guint * stall, guint * dropped)
{
  guint i;

  *stall = *dropped = 0;
  g_mutex_lock (&r->lock);
  for (i = 0; i < mon->warnings->len; i++) {
    const VdmKtMessage *w = g_ptr_array_index (mon->warnings, i);
    const gchar *cause = gst_structure_get_string (w->s, "cause");
    const gchar *reasons = gst_structure_get_string (w->s, "reasons");
    gchar *text;

    if (w->arrival_ns < since_ns)
      continue;
    text = gst_structure_to_string (w->s);
    printf ("  warning %+.0f ms into the hold: %s\n",
        ((gint64) w->arrival_ns - (gint64) since_ns) / 1e6, text);
    g_free (text);
    if (!cause || !strstr (cause, "network"))
      continue;
    if (reasons && *reasons)
      (*dropped)++;
    else
      (*stall)++;
  }
  g_mutex_unlock (&r->lock);
}

static void
run_case (const gchar * name, const gchar * env_server, const gchar * launch_fmt,
    gboolean rtsp)
{
  VdmE2eServer *server = vdm_e2e_server_start (name, env_server, NULL, 1, "--port", "0",
      "--pattern", "snow", "--bitrate", "2000", "--key-int", "30", NULL);
  gchar *launch = g_strdup_printf (launch_fmt, vdm_e2e_server_url (server, 0));
  VdmE2eReceiver *r = vdm_e2e_receiver_start (name, launch, GST_CLOCK_TIME_NONE);
  VdmE2eMonitor *mon = vdm_e2e_monitor (r, "mon");
  GstElement *src = vdm_e2e_element (r, "src");
  GPtrArray *flows;
  GstPad *pad;
  guint64 stalls_before, stalls_after;
  guint stall, dropped;

  held_port = vdm_e2e_url_port (vdm_e2e_server_url (server, 0));
  flows = vdm_e2e_wait_flows (r, mon, watches_server, GUINT_TO_POINTER (held_port), 10000);
  g_ptr_array_unref (flows);
  vdm_kt_expect (vdm_e2e_wait_calm (r, mon, CALM_MS, CALM_TIMEOUT_MS), "%s: the stream plays "
      "calmly before the hold", name);
  pad = rtsp ? rtpbin_rtp_sink (src) : gst_element_get_static_pad (src, "src");
  if (!pad)
    vdm_kt_fatal ("%s: no pad to hold the reading thread on", name);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
      maybe_hold, NULL, NULL);

  stalls_before = reader_stalls (mon);
  max_unread_during_hold = -1;
  hold_start_ns = hold_end_ns = 0;
  g_atomic_int_set (&hold_requested, 1);
  vdm_kt_sleep_ms (HOLD_MS + AFTER_MS);
  vdm_kt_expect (hold_end_ns > hold_start_ns, "%s: the reading thread was held", name);
  stalls_after = reader_stalls (mon);
  network_warnings_since (r, mon, hold_start_ns, &stall, &dropped);
  printf ("  %s: held %.0f ms, kernel's unread bytes halfway %d, reader-stalls %"
      G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT "\n", name,
      (hold_end_ns - hold_start_ns) / 1e6, max_unread_during_hold, stalls_before, stalls_after);
  vdm_kt_expect (max_unread_during_hold > 0, "%s: the kernel held unread bytes of the "
      "connection during the hold (%d)", name, max_unread_during_hold);
  vdm_kt_expect (stall == 0, "%s: no network stall warning for the late reader (%u)", name,
      stall);
  if (dropped)
    printf ("  %s: %u network warning(s) raised by kernel drops of the connection (duplicates "
        "sent into the full receive window, TCP_OLD_DATA, are the host's while the reader is "
        "starved: see docs/reasons.md, docs/benchmarks.md)\n", name, dropped);
  vdm_kt_expect (stalls_after > stalls_before, "%s: reader-stalls counted the hold", name);

  vdm_e2e_receiver_end_recording (r);
  vdm_e2e_receiver_stop (r);
  vdm_e2e_receiver_check_errors (r);
  gst_object_unref (pad);
  vdm_e2e_receiver_free (r);
  vdm_e2e_server_stop (server);
  g_free (launch);
}

int
main (int argc, char **argv)
{
  vdm_kt_begin ("e2e-tcp-reader", &argc, &argv);
  run_case ("http-flv", "VDM_FLV_SERVER", "souphttpsrc name=src location=%s is-live=true "
      "! flvdemux name=d d.video ! vdropmon name=mon ! fakesink sync=false", FALSE);
  run_case ("rtsp-tcp", "VDM_RTSP_SERVER", "rtspsrc name=src location=%s protocols=tcp "
      "latency=200 ! vdropmon name=mon ! fakesink sync=false", TRUE);
  return vdm_kt_finish ();
}
