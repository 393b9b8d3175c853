/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_rcvbuf — socket receive-buffer overflow on loopback, seen by the
 * kernel and by vdropmon alike.
 *
 * udpsrc with a tiny SO_RCVBUF is read at ~500 packets/s (identity
 * sleep-time=2000) while vdm-rtp-sender sends 600 packets at 1000/s: about
 * half overflow the socket. The kernel's own per-socket counter
 * (/proc/net/udp "drops") is the reference; the sender's log and a probe
 * after vdropmon say which seqs must be the dropped ones.
 *
 * With VDROPMON_BPF_EMULATE_6_1=1 (meson test kernel-rcvbuf-6.1) the
 * collector loads the 3-argument kfree_skb program that Debian 12's 6.1
 * kernel gets: no rx_sk. The socket of an IPv4 UDP receive-buffer drop then
 * comes from the udp_fail_queue_rcv_skb tracepoint paired with it, so the
 * same drops are still attributed by socket, with the same counts and seqs.
 *
 * With VDM_KT_LISTEN_ADDRESS=:: (kernel-rcvbuf-dualstack, -dualstack-6.1)
 * udpsrc listens on a dual-stack IPv6 socket and the sender still sends
 * IPv4: the drops of those IPv4 packets are the socket's too.
 */
#include <stdio.h>

#include "drop_checks.h"
#include "kernel_test_util.h"
#include "receiver.h"
#include "sender.h"

#define SSRC 0x5ec0b0ff
#define LATENCY_LIMIT_MS 100.0

/* The same on both paths (see above); kept as a function so that a path
 * which loses the pairing says so here. */
static const gchar *
expected_attribution (void)
{
  return "socket";
}

static guint64
socket_drops (gpointer data)
{
  return vdm_kt_receiver_socket_drops (data);
}

int
main (int argc, char **argv)
{
  VdmKtReceiver *r;
  VdmKtSender *sender;
  VdmKtDropSummary summary;
  GstStructure *stats;
  GArray *sent;
  guint64 kernel;
  gchar *dest, *ssrc, *launch;
  const gchar *listen = g_getenv ("VDM_KT_LISTEN_ADDRESS");
  int status;

  vdm_kt_begin ("kernel-rcvbuf", &argc, &argv);
  launch = g_strdup_printf ("udpsrc name=src address=%s port=0 buffer-size=16384 caps=\""
      VDM_KT_RTP_CAPS "\" ! vdropmon name=mon ! identity sleep-time=2000 ! fakesink sync=false",
      listen ? listen : "127.0.0.1");
  r = vdm_kt_receiver_start ("receiver", launch);
  g_free (launch);
  vdm_kt_expect (vdm_kt_receiver_socket_drops (r) == 0, "fresh socket has no drops yet");

  dest = g_strdup_printf ("127.0.0.1:%u", r->port);
  ssrc = g_strdup_printf ("%u", SSRC);
  sender = vdm_kt_sender_spawn ("sender", NULL, "--dest", dest, "--count", "600", "--rate", "1000",
      "--ssrc", ssrc, "--duration-ms", "5000", NULL);
  sent = vdm_kt_sender_finish (sender);

  vdm_kt_expect (vdm_kt_receiver_settle (r, 400, 6000, socket_drops, r),
      "counters, buffers and messages settled");
  stats = vdm_kt_receiver_stats (r);
  kernel = vdm_kt_receiver_socket_drops (r);
  vdm_kt_receiver_stop (r);

  vdm_kt_summarize (r->drops, &summary);
  vdm_kt_print_summary ("receiver", &summary);
  vdm_kt_check_counts (&summary, stats, "/proc/net/udp drops", kernel, "SOCKET_RCVBUFF");
  vdm_kt_check_fields (r->drops, &(VdmKtExpectedDrop) {
        .source = "kernel-udp",.reason = "SOCKET_RCVBUFF",.attribution = expected_attribution (),
        .flow = r->flow,.ssrc = SSRC,.payload_type = 96});
  vdm_kt_check_latency (&summary, LATENCY_LIMIT_MS);
  vdm_kt_check_seqs (&summary, sent, r->passed);

  status = vdm_kt_finish ();
  vdm_kt_summary_clear (&summary);
  gst_structure_free (stats);
  g_array_unref (sent);
  g_free (dest);
  g_free (ssrc);
  vdm_kt_receiver_free (r);
  return status;
}
