/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_stress_cycle.c — the element's lifecycle under load (issue 9 parts 1
 * and 6): a receiver that cannot keep up,
 *
 *   udpsrc address=127.0.0.1 port=P buffer-size=4096 ! identity sleep-time=3000
 *     ! vdropmon ! fakesink
 *
 * cycled NULL <-> PLAYING again and again while a loopback UDP flood
 * overflows its socket (so the collector thread reports drops all the time)
 * and two other threads poll the `stats` property and set properties the
 * way an application's UI would. Bounded: VDM_STRESS_SECONDS (15) of cycling,
 * at most FLOOD_MAX_PACKETS packets, traffic to 127.0.0.1 only.
 *
 * It passes when nothing crashes (run it under ASan/UBSan: the sanitizer
 * build's suite "stress" does) and the run really exercised the race:
 * several cycles, kernel drops reported, stats read while stopping.
 * With --no-flood only `stats` and the properties race the state changes
 * (no drops, so no drop messages expected), which keeps a drop-path crash
 * from hiding a stats-path one.
 * On the main of before the fix it reproduced issue 9's use-after-frees:
 * drop batches carried over a restart (#1, with the flood) and `stats`
 * read while stop() destroys the source (#2).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <gst/gst.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kernel_test_util.h"

#define DEFAULT_SECONDS 15
#define FLOOD_MAX_PACKETS 3000000
#define FLOOD_BURST 64           /* packets, then a pause of FLOOD_PAUSE_US */
#define FLOOD_PAUSE_US 500
#define PAYLOAD_BYTES 1000

typedef struct {
  GstElement *pipeline, *mon;
  guint16 port;
  volatile gint stop;
  /* counted by the threads, read at the end */
  volatile gint stats_reads, property_sets, drop_messages;
  guint64 packets_sent;
  gboolean collector_checked;
  gboolean flood;
} Stress;

/* A free loopback port: bind to 0, read it back, let go. */
static guint16
free_udp_port (void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof (addr);
  int fd = socket (AF_INET, SOCK_DGRAM, 0);

  if (fd < 0 || bind (fd, (struct sockaddr *) &addr, sizeof (addr)) < 0
      || getsockname (fd, (struct sockaddr *) &addr, &len) < 0)
    vdm_kt_fatal ("cannot pick a UDP port: %s", g_strerror (errno));
  close (fd);
  return ntohs (addr.sin_port);
}

/* RTP packets (H.264 P slices) to 127.0.0.1:port, in bursts, until told to
 * stop or FLOOD_MAX_PACKETS are out. */
static gpointer
flood_thread (gpointer data)
{
  Stress *st = data;
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons (st->port),
    .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  guint8 packet[12 + PAYLOAD_BYTES] = { 0x80, 96 };
  guint16 seq = 0;
  guint32 ts = 0;
  int fd = socket (AF_INET, SOCK_DGRAM, 0);

  if (fd < 0)
    vdm_kt_fatal ("flood socket: %s", g_strerror (errno));
  memset (packet + 12, 0x41, PAYLOAD_BYTES);
  packet[8] = 0x12;             /* SSRC 0x12345678 */
  packet[9] = 0x34;
  packet[10] = 0x56;
  packet[11] = 0x78;
  while (!g_atomic_int_get (&st->stop) && st->packets_sent < FLOOD_MAX_PACKETS) {
    for (int i = 0; i < FLOOD_BURST; i++, seq++) {
      if (seq % 16 == 0)
        ts += 3000;
      packet[2] = seq >> 8;
      packet[3] = seq & 0xff;
      packet[4] = ts >> 24;
      packet[5] = (ts >> 16) & 0xff;
      packet[6] = (ts >> 8) & 0xff;
      packet[7] = ts & 0xff;
      if (sendto (fd, packet, sizeof (packet), 0, (struct sockaddr *) &to, sizeof (to)) > 0)
        st->packets_sent++;
    }
    g_usleep (FLOOD_PAUSE_US);
  }
  close (fd);
  return NULL;
}

/* What an application's UI timer does, as fast as it can: read `stats`.
 * Flat out, so that some read meets stop() destroying the source. */
static gpointer
stats_thread (gpointer data)
{
  Stress *st = data;

  while (!g_atomic_int_get (&st->stop)) {
    GstStructure *stats = NULL;

    g_object_get (st->mon, "stats", &stats, NULL);
    if (stats) {
      g_atomic_int_inc (&st->stats_reads);
      gst_structure_free (stats);
    }
  }
  return NULL;
}

/* Settings documented as changeable while PLAYING, changed all the time. */
static gpointer
property_thread (gpointer data)
{
  Stress *st = data;
  guint i = 0;

  while (!g_atomic_int_get (&st->stop)) {
    switch (i++ % 6) {
      case 0:
        g_object_set (st->mon, "interval", (guint64) (i % 2 ? 20 : 500) * GST_MSECOND, NULL);
        break;
      case 1:
        g_object_set (st->mon, "batch-interval", (guint64) (1 + i % 40) * GST_MSECOND, NULL);
        break;
      case 2:
        g_object_set (st->mon, "bin-duration", (guint64) (i % 2 ? 10 : 100) * GST_MSECOND, NULL);
        break;
      case 3:
        g_object_set (st->mon, "post-messages", (gboolean) (i % 4 != 3), NULL);
        break;
      case 4:
        g_object_set (st->mon, "surge-bins", 1 + i % 5, "clear-bins", 1 + i % 7, NULL);
        break;
      default:
        g_object_set (st->mon, "auto-discover", (gboolean) (i % 8 != 5), NULL);
        break;
    }
    g_atomic_int_inc (&st->property_sets);
    g_usleep (200);
  }
  return NULL;
}

/* Nobody runs a main loop: count the drop messages, drop everything. */
static GstBusSyncReply
on_bus_message (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Stress *st = user_data;
  const GstStructure *s = gst_message_get_structure (msg);

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT && s
      && gst_structure_has_name (s, "vdropmon-drop"))
    g_atomic_int_inc (&st->drop_messages);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *error = NULL;
    gst_message_parse_error (msg, &error, NULL);
    g_printerr ("  bus error from %s: %s\n", GST_MESSAGE_SRC_NAME (msg), error->message);
    g_clear_error (&error);
  }
  return GST_BUS_DROP;
}

/* Once, while PLAYING: eBPF must really be running, else nothing races. */
static void
check_collector (Stress * st)
{
  GstStructure *stats = NULL;

  g_object_get (st->mon, "stats", &stats, NULL);
  if (!stats)
    vdm_kt_fatal ("no stats");
  vdm_kt_require_collector (stats);
  gst_structure_free (stats);
  st->collector_checked = TRUE;
}

static gboolean
set_state (Stress * st, GstState state)
{
  GstStateChangeReturn ret = gst_element_set_state (st->pipeline, state);

  if (ret == GST_STATE_CHANGE_ASYNC)
    ret = gst_element_get_state (st->pipeline, NULL, NULL, 2 * GST_SECOND);
  return ret != GST_STATE_CHANGE_FAILURE;
}

int
main (int argc, char **argv)
{
  Stress st = { 0 };
  guint seconds = DEFAULT_SECONDS, cycles = 0;
  const gchar *env = g_getenv ("VDM_STRESS_SECONDS");
  GThread *flood, *stats, *props;
  GstBus *bus;
  gchar *description;
  guint64 deadline;

  st.flood = !(argc > 1 && g_str_equal (argv[1], "--no-flood"));
  vdm_kt_begin (st.flood ? "stress-cycle" : "stress-cycle-stats", &argc, &argv);
  if (env && *env)
    seconds = (guint) g_ascii_strtoull (env, NULL, 10);
  alarm (seconds + 30);         /* the watchdog, re-armed for this test's length */
  st.port = free_udp_port ();
  description = g_strdup_printf ("udpsrc address=127.0.0.1 port=%u buffer-size=4096 "
      "caps=\"application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96\" "
      "! identity sleep-time=3000 ! vdropmon name=mon collector=auto ! fakesink sync=false async=false",
      st.port);
  st.pipeline = gst_parse_launch (description, NULL);
  if (!st.pipeline)
    vdm_kt_fatal ("cannot build %s", description);
  st.mon = gst_bin_get_by_name (GST_BIN (st.pipeline), "mon");
  bus = gst_element_get_bus (st.pipeline);
  gst_bus_set_sync_handler (bus, on_bus_message, &st, NULL);
  gst_object_unref (bus);
  g_print ("  %s\n  cycling NULL<->PLAYING for %u s%s\n", description, seconds,
      st.flood ? " under a flood to 127.0.0.1" : ", no traffic");

  flood = st.flood ? g_thread_new ("flood", flood_thread, &st) : NULL;
  stats = g_thread_new ("stats", stats_thread, &st);
  props = g_thread_new ("properties", property_thread, &st);
  deadline = vdm_kt_now_ns () + (guint64) seconds * GST_SECOND;
  while (vdm_kt_now_ns () < deadline) {
    if (!set_state (&st, GST_STATE_PLAYING))
      vdm_kt_fatal ("cycle %u: PLAYING failed", cycles);
    /* Long enough for drops to be batched, short enough for many cycles;
     * varied so that stop() meets the worker and collector anywhere. */
    vdm_kt_sleep_ms (st.flood ? 30 + g_random_int_range (0, 250) : g_random_int_range (1, 60));
    if (!st.collector_checked)
      check_collector (&st);
    if (!set_state (&st, GST_STATE_NULL))
      vdm_kt_fatal ("cycle %u: NULL failed", cycles);
    cycles++;
  }
  g_atomic_int_set (&st.stop, 1);
  if (flood)
    g_thread_join (flood);
  g_thread_join (stats);
  g_thread_join (props);

  g_print ("  %u cycles, %" G_GUINT64_FORMAT " packets sent, %d vdropmon-drop messages, "
      "%d stats reads, %d property sets\n", cycles, st.packets_sent,
      g_atomic_int_get (&st.drop_messages), g_atomic_int_get (&st.stats_reads),
      g_atomic_int_get (&st.property_sets));
  vdm_kt_expect (cycles >= 10, "at least 10 NULL<->PLAYING cycles (%u)", cycles);
  if (st.flood)
    vdm_kt_expect (g_atomic_int_get (&st.drop_messages) > 0,
        "the flood made kernel drops that were reported (%d messages)",
        g_atomic_int_get (&st.drop_messages));
  vdm_kt_expect (g_atomic_int_get (&st.stats_reads) > 100, "stats read concurrently (%d)",
      g_atomic_int_get (&st.stats_reads));

  gst_object_unref (st.mon);
  gst_object_unref (st.pipeline);
  g_free (description);
  return vdm_kt_finish ();
}
