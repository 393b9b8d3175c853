/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_qdisc — drops in a router's qdisc, on the path to our socket: no
 * socket is involved, so vdropmon must attribute them by flow.
 *
 * Runs inside PREFIX-rcv of the netns.sh topology (test_qdisc.sh sets it up
 * and tears it down): snd -> rtr (tbf 2mbit) -> rcv. The sender runs in
 * PREFIX-snd at 500 packets/s of 1240 bytes (~5 Mbit/s), so tbf drops more
 * than half. The receiving pipeline reads fast into a 4 MB buffer: its
 * socket must drop nothing. The reference is tbf's own "dropped" counter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "drop_checks.h"
#include "kernel_test_util.h"
#include "receiver.h"
#include "sender.h"

#define SSRC 0x0d15c0de
#define RCV_ADDR "10.200.2.2"
#define LATENCY_LIMIT_MS 100.0

typedef struct
{
  const gchar *netns_sh;
  const gchar *prefix;
} Topology;

/* tbf's dropped counter, as `netns.sh qdisc-drops PREFIX` prints it. */
static guint64
qdisc_drops (gpointer data)
{
  const Topology *topo = data;
  const gchar *argv[] = { "bash", topo->netns_sh, "qdisc-drops", topo->prefix, NULL };
  gchar *out = NULL, *end = NULL;
  GError *error = NULL;
  gint status = 0;
  guint64 drops;

  if (!g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, NULL,
          &status, &error) || !g_spawn_check_wait_status (status, &error))
    vdm_kt_fatal ("netns.sh qdisc-drops %s failed: %s", topo->prefix, error->message);
  drops = g_ascii_strtoull (out, &end, 10);
  if (end == out)
    vdm_kt_fatal ("netns.sh qdisc-drops printed \"%s\"", out);
  g_free (out);
  return drops;
}

int
main (int argc, char **argv)
{
  Topology topo;
  VdmKtReceiver *r;
  VdmKtSender *sender;
  VdmKtDropSummary summary;
  GstStructure *stats;
  GArray *sent;
  guint64 tbf_before, tbf_after, socket_drops;
  gchar *launch, *dest, *ssrc, *snd_ns;
  guint16 port;
  int status;

  vdm_kt_begin ("kernel-qdisc", &argc, &argv);
  topo.netns_sh = vdm_kt_require_env ("VDM_NETNS_SH");
  topo.prefix = vdm_kt_require_env ("VDM_NETNS_PREFIX");
  /* A flow key names no network namespace (the drop happens in rtr, not
   * here), so every process watching this port anywhere would count these
   * drops: pick one per run, below the ephemeral range the loopback tests
   * get their ports from. */
  port = (guint16) (20000 + getpid () % 10000);

  launch = g_strdup_printf ("udpsrc name=src port=%u buffer-size=4194304 caps=\""
      VDM_KT_RTP_CAPS "\" ! vdropmon name=mon ! fakesink sync=false", port);
  r = vdm_kt_receiver_start ("receiver (in " RCV_ADDR ")", launch);
  tbf_before = qdisc_drops (&topo);

  dest = g_strdup_printf (RCV_ADDR ":%u", port);
  ssrc = g_strdup_printf ("%u", SSRC);
  snd_ns = g_strdup_printf ("%s-snd", topo.prefix);
  sender = vdm_kt_sender_spawn ("sender",
      (const gchar *[]) { "ip", "netns", "exec", snd_ns, NULL},
      "--allow-netns", "--dest", dest, "--count", "500", "--rate", "500", "--ssrc", ssrc,
      "--duration-ms", "5000", NULL);
  sent = vdm_kt_sender_finish (sender);

  vdm_kt_expect (vdm_kt_receiver_settle (r, 400, 6000, qdisc_drops, &topo),
      "counters, buffers and messages settled");
  stats = vdm_kt_receiver_stats (r);
  tbf_after = qdisc_drops (&topo);
  socket_drops = vdm_kt_receiver_socket_drops (r);
  vdm_kt_receiver_stop (r);

  printf ("  COUNTS: tbf dropped %" G_GUINT64_FORMAT " before, %" G_GUINT64_FORMAT
      " after; receiving socket /proc drops %" G_GUINT64_FORMAT "\n", tbf_before, tbf_after,
      socket_drops);
  vdm_kt_expect (socket_drops == 0, "the receiving socket itself dropped nothing (%"
      G_GUINT64_FORMAT ")", socket_drops);
  vdm_kt_summarize (r->drops, &summary);
  vdm_kt_print_summary ("receiver", &summary);
  vdm_kt_check_counts (&summary, stats, "tbf dropped", tbf_after - tbf_before, "QDISC_DROP");
  vdm_kt_check_fields (r->drops, &(VdmKtExpectedDrop) {
        .source = "kernel-udp",.reason = "QDISC_DROP",.attribution = "flow",
        .flow = r->flow,.ssrc = SSRC,.payload_type = 96});
  vdm_kt_check_latency (&summary, LATENCY_LIMIT_MS);
  vdm_kt_check_seqs (&summary, sent, r->passed);

  status = vdm_kt_finish ();
  vdm_kt_summary_clear (&summary);
  gst_structure_free (stats);
  g_array_unref (sent);
  g_free (launch);
  g_free (dest);
  g_free (ssrc);
  g_free (snd_ns);
  vdm_kt_receiver_free (r);
  return status;
}
