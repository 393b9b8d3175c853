/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A late reader of a TCP stream is not a network stall (issue 9). The
 * stream comes over a loopback TCP connection from a server thread of the
 * test (RTP framed as RFC 4571, a packet every 10 ms, never interrupted):
 *
 *   tcpclientsrc ! rtpstreamdepay ! vdropmon collector=fake ! fakesink
 *
 * vdropmon finds the connection upstream (tcpclientsrc's host/port) and
 * watches it. Once it learned the stream's pauses (stall threshold at its
 * 100 ms floor), the thread that reads the socket is held for 800 ms (a
 * pad probe sleeps in it: what a descheduled reader on a loaded host
 * looks like). The network kept delivering: the bytes wait in the
 * socket's receive queue, and vdropmon, asking the kernel for them
 * (sock_diag, tcp_unread.h), must not call that silence a network stall:
 * no vdropmon-warning at all (silence-threshold is set far above the
 * hold, so the host's own starving reader rule stays out of it), and
 * reader-stalls counts it. Without the check, a cause=network warning
 * comes 100 ms into the hold.
 *
 * Real time and a real socket: no privilege, no fixed port.
 */
#include <gst/check/gstcheck.h>
#include <gio/gio.h>

#include <string.h>

#define PACKET_PERIOD_US 10000
#define PAYLOAD 188
#define HOLD_MS 800
#define LEARN_MS 2500
#define AFTER_MS 1500
#define SERVER_LIFETIME_US (30 * G_USEC_PER_SEC)

typedef struct
{
  GSocket *listener;
  guint16 port;
  gint stop;
  GThread *thread;
  guint64 sent;
} Server;

static void
put_be (guint8 * p, guint64 v, guint bytes)
{
  while (bytes--) {
    p[bytes] = (guint8) v;
    v >>= 8;
  }
}

/* One RFC 4571 frame: length, then an RTP packet (H.264 single NAL).
 * Byte by byte: the fields are not aligned (UBSan). */
static gsize
frame (guint8 * out, guint16 seq)
{
  guint8 *rtp = out + 2;

  put_be (out, 12 + PAYLOAD, 2);
  memset (rtp, 0, 12 + PAYLOAD);
  rtp[0] = 0x80;
  rtp[1] = 0x80 | 96;           /* marker: each packet is a frame */
  put_be (rtp + 2, seq, 2);
  put_be (rtp + 4, (guint32) seq * 900, 4);
  put_be (rtp + 8, 0x5eed1234, 4);
  rtp[12] = seq % 100 == 0 ? 0x65 : 0x41;
  return 2 + 12 + PAYLOAD;
}

/* Sends a frame every PACKET_PERIOD_US, on time whatever the reader does
 * (its socket buffer holds seconds of this stream), until told to stop. */
static gpointer
serve (gpointer data)
{
  Server *s = data;
  GSocket *conn = g_socket_accept (s->listener, NULL, NULL);
  gint64 start = g_get_monotonic_time (), next = start;
  guint8 buf[2 + 12 + PAYLOAD];
  guint16 seq = 0;

  fail_unless (conn != NULL);
  while (!g_atomic_int_get (&s->stop) && next - start < SERVER_LIFETIME_US) {
    gsize len = frame (buf, seq++);
    if (g_socket_send (conn, (const gchar *) buf, len, NULL, NULL) != (gssize) len)
      break;
    s->sent++;
    next += PACKET_PERIOD_US;
    while (g_get_monotonic_time () < next)
      g_usleep (MAX (next - g_get_monotonic_time (), 0));
  }
  g_socket_close (conn, NULL);
  g_object_unref (conn);
  return NULL;
}

static void
server_start (Server * s)
{
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *addr = g_inet_socket_address_new (lo, 0), *bound;

  s->listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);
  fail_unless (g_socket_bind (s->listener, addr, TRUE, NULL));
  fail_unless (g_socket_listen (s->listener, NULL));
  bound = g_socket_get_local_address (s->listener, NULL);
  s->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  s->thread = g_thread_new ("tcp-server", serve, s);
  g_object_unref (bound);
  g_object_unref (addr);
  g_object_unref (lo);
}

static void
server_stop (Server * s)
{
  g_atomic_int_set (&s->stop, 1);
  g_thread_join (s->thread);
  g_socket_close (s->listener, NULL);
  g_object_unref (s->listener);
}

/* The reading thread, held once for HOLD_MS when asked. */
static gint hold_requested;
static gint64 hold_start_us, hold_end_us;

static GstPadProbeReturn
maybe_hold (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  if (g_atomic_int_compare_and_exchange (&hold_requested, 1, 0)) {
    hold_start_us = g_get_monotonic_time ();
    g_usleep (HOLD_MS * 1000);
    hold_end_us = g_get_monotonic_time ();
  }
  return GST_PAD_PROBE_OK;
}

static GstStructure *
stats_of (GstElement * mon)
{
  GstStructure *stats = NULL;

  g_object_get (mon, "stats", &stats, NULL);
  fail_unless (stats != NULL);
  return stats;
}

static gboolean
watches_tcp (GstElement * mon)
{
  GstStructure *stats = stats_of (mon);
  const GValue *flows = gst_structure_get_value (stats, "flows");
  gboolean found = FALSE;
  guint i;

  for (i = 0; flows && i < gst_value_array_get_size (flows); i++)
    found |= g_str_has_prefix (g_value_get_string (gst_value_array_get_value (flows, i)),
        "tcp ");
  gst_structure_free (stats);
  return found;
}

/* Every vdropmon-warning on the bus so far: printed, counted. */
static guint
drain_warnings (GstBus * bus, guint * network)
{
  GstMessage *msg;
  guint n = 0;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    const GstStructure *s = gst_message_get_structure (msg);
    if (gst_structure_has_name (s, "vdropmon-warning")) {
      const gchar *cause = gst_structure_get_string (s, "cause");
      GST_INFO ("warning: %" GST_PTR_FORMAT, s);
      g_print ("  warning: cause=%s action=%s\n", cause,
          gst_structure_get_string (s, "action"));
      n++;
      if (cause && strstr (cause, "network"))
        (*network)++;
    }
    gst_message_unref (msg);
  }
  return n;
}

GST_START_TEST (test_late_tcp_reader_is_not_a_stall)
{
  Server server = { 0 };
  GstElement *pipeline, *mon, *src;
  GstStructure *stats;
  GstBus *bus;
  GstPad *pad;
  gchar *launch;
  guint64 reader_stalls_before = 0, reader_stalls = 0;
  gdouble threshold = 0;
  guint warnings, network = 0, i;

  server_start (&server);
  launch = g_strdup_printf ("tcpclientsrc name=src host=127.0.0.1 port=%u ! "
      "application/x-rtp-stream,media=video,clock-rate=90000,encoding-name=H264,payload=96 ! "
      "rtpstreamdepay ! vdropmon name=mon collector=fake silence-threshold=%" G_GUINT64_FORMAT
      " ! fakesink sync=false", server.port, (guint64) 5 * GST_SECOND);
  pipeline = gst_parse_launch (launch, NULL);
  fail_unless (pipeline != NULL);
  mon = gst_bin_get_by_name (GST_BIN (pipeline), "mon");
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  pad = gst_element_get_static_pad (src, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, maybe_hold, NULL, NULL);
  bus = gst_element_get_bus (pipeline);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);

  for (i = 0; i < 100 && !watches_tcp (mon); i++)
    g_usleep (50000);
  fail_unless (watches_tcp (mon), "vdropmon did not find tcpclientsrc's connection");
  g_usleep (LEARN_MS * 1000);
  stats = stats_of (mon);
  fail_unless (gst_structure_get_double (stats, "stall-threshold", &threshold));
  fail_unless (gst_structure_get_uint64 (stats, "reader-stalls", &reader_stalls_before));
  gst_structure_free (stats);
  g_print ("  learned: stall threshold %.0f ms, %" G_GUINT64_FORMAT " packets sent\n", threshold,
      server.sent);
  fail_unless (threshold > 0 && threshold < HOLD_MS / 2, "stall threshold %.0f ms not learned",
      threshold);
  warnings = drain_warnings (bus, &network);
  fail_unless_equals_int (warnings, 0);

  g_atomic_int_set (&hold_requested, 1);
  g_usleep ((HOLD_MS + AFTER_MS) * 1000);
  fail_unless (hold_end_us > hold_start_us, "the reader was never held");
  warnings = drain_warnings (bus, &network);
  stats = stats_of (mon);
  fail_unless (gst_structure_get_uint64 (stats, "reader-stalls", &reader_stalls));
  gst_structure_free (stats);
  g_print ("  reader held %.0f ms: %u warnings (%u network), reader-stalls %" G_GUINT64_FORMAT
      " -> %" G_GUINT64_FORMAT "\n", (hold_end_us - hold_start_us) / 1000.0, warnings, network,
      reader_stalls_before, reader_stalls);
  fail_unless_equals_int (network, 0);
  fail_unless_equals_int (warnings, 0);
  fail_unless (reader_stalls > reader_stalls_before, "the held reader was not counted");

  gst_element_set_state (pipeline, GST_STATE_NULL);
  server_stop (&server);
  gst_object_unref (pad);
  gst_object_unref (src);
  gst_object_unref (mon);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_free (launch);
}

GST_END_TEST;

static Suite *
tcp_reader_suite (void)
{
  Suite *s = suite_create ("vdropmon-tcp-reader");
  TCase *tc = tcase_create ("tcp-reader");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_late_tcp_reader_is_not_a_stall);
  return s;
}

GST_CHECK_MAIN (tcp_reader);
