/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_isolation — vdropmon reports the drops of its own socket and of
 * nothing else, while other sockets overflow next to it.
 *
 * In one process (so both elements share one loaded BPF program):
 *   A  udpsrc bound to any address (0.0.0.0), tiny buffer, read slowly ->
 *      overflows, must report exactly its own kernel count;
 *   B  udpsrc, 2 MB buffer, read at once -> healthy, must report nothing;
 * and plain sockets nobody watches, never read, tiny SO_RCVBUF:
 *   decoy-port  on another loopback port,
 *   decoy-addr  on A's very port but 127.0.0.2 (only the socket tells them
 *               apart: any port-based shortcut would misattribute; on the
 *               6.1 path, where receive drops name no socket, this is
 *               another socket on A's port in A's own namespace);
 *   decoy-netns on A's very port and 127.0.0.1, in a network namespace this
 *               test creates, where a second sender also sends to
 *               127.0.0.2 on that port, which has no socket there (drops
 *               that name no socket even on 6.11+).
 * Six senders with six SSRCs run at the same time. Run natively and with
 * VDROPMON_BPF_EMULATE_6_1=1 (kernel-isolation-6.1).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drop_checks.h"
#include "kernel_test_util.h"
#include "receiver.h"
#include "sender.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

#define SSRC_A 0xa0a0a0a0
#define SSRC_B 0xb0b0b0b0
#define SSRC_DECOY_PORT 0xd0d0d0d0
#define SSRC_DECOY_ADDR 0xd1d1d1d1
#define SSRC_DECOY_NETNS 0xd2d2d2d2
#define SSRC_NETNS_NO_SOCKET 0xd3d3d3d3
#define LATENCY_LIMIT_MS 100.0

typedef struct
{
  const gchar *label;
  int fd;
  guint16 port;
  const gchar *address;
  guint32 ssrc;
} Decoy;

/* A socket that is never read, so it overflows after a handful of packets.
 * Asking for its SO_COOKIE gives it a cookie, as any socket someone else
 * inspected has: the BPF program must then look it up and find it unwatched,
 * not skip it for having none. */
static void
open_decoy (Decoy * d, const gchar * address, guint16 port)
{
  struct sockaddr_in sa = {.sin_family = AF_INET,.sin_port = htons (port) };
  socklen_t len = sizeof (sa), cookie_len = sizeof (guint64);
  guint64 cookie = 0;
  int rcvbuf = 4096, on = 1;

  d->address = address;
  d->fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  inet_pton (AF_INET, address, &sa.sin_addr);
  /* SO_REUSEADDR: A (udpsrc, reuse=true) holds 0.0.0.0 on this port. */
  if (d->fd < 0 || setsockopt (d->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof (rcvbuf)) < 0
      || setsockopt (d->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof (on)) < 0
      || bind (d->fd, (struct sockaddr *) &sa, sizeof (sa)) < 0
      || getsockname (d->fd, (struct sockaddr *) &sa, &len) < 0
      || getsockopt (d->fd, SOL_SOCKET, SO_COOKIE, &cookie, &cookie_len) < 0)
    vdm_kt_fatal ("%s: cannot open a UDP socket on %s:%u: %s", d->label, address, port,
        g_strerror (errno));
  d->port = ntohs (sa.sin_port);
  printf ("  %s: unwatched socket on %s:%u (cookie %" G_GUINT64_FORMAT "), SO_RCVBUF %d, "
      "never read\n", d->label, address, d->port, cookie, rcvbuf);
}

/* A network namespace of this test's own, with loopback up. */
typedef struct
{
  gchar *name;
  int fd;
} TestNetns;

static void
run_or_die (const gchar * command)
{
  gint status = 0;
  GError *error = NULL;

  if (!g_spawn_command_line_sync (command, NULL, NULL, &status, &error)
      || !g_spawn_check_wait_status (status, NULL))
    vdm_kt_fatal ("'%s' failed%s%s", command, error ? ": " : "", error ? error->message : "");
}

static void
netns_create (TestNetns * ns)
{
  gchar *command, *path;

  ns->name = g_strdup_printf ("vdmiso%d", getpid ());
  command = g_strdup_printf ("ip netns add %s", ns->name);
  run_or_die (command);
  g_free (command);
  command = g_strdup_printf ("ip -n %s link set lo up", ns->name);
  run_or_die (command);
  g_free (command);
  path = g_strdup_printf ("/run/netns/%s", ns->name);
  ns->fd = open (path, O_RDONLY | O_CLOEXEC);
  if (ns->fd < 0)
    vdm_kt_fatal ("cannot open %s: %s", path, g_strerror (errno));
  g_free (path);
}

static void
netns_destroy (TestNetns * ns)
{
  gchar *command = g_strdup_printf ("ip netns del %s", ns->name);

  if (ns->fd >= 0)
    close (ns->fd);
  if (!g_spawn_command_line_sync (command, NULL, NULL, NULL, NULL))
    g_printerr ("could not remove network namespace %s\n", ns->name);
  g_free (command);
  g_free (ns->name);
}

/* open_decoy, with the socket created inside ns (a socket stays in the
 * namespace it was created in; only this thread switches, and back). */
static void
open_decoy_in (const TestNetns * ns, Decoy * d, const gchar * address, guint16 port)
{
  int home = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

  if (home < 0 || setns (ns->fd, CLONE_NEWNET) < 0)
    vdm_kt_fatal ("cannot enter network namespace %s: %s", ns->name, g_strerror (errno));
  open_decoy (d, address, port);
  if (setns (home, CLONE_NEWNET) < 0)
    vdm_kt_fatal ("cannot come back from network namespace %s: %s", ns->name, g_strerror (errno));
  close (home);
}

/* The socket's own drop counter: valid in any namespace (/proc/net/udp
 * only lists the reader's). */
static guint64
meminfo_drops (int fd)
{
  guint32 meminfo[SK_MEMINFO_VARS] = { 0 };
  socklen_t len = sizeof (meminfo);

  if (getsockopt (fd, SOL_SOCKET, SO_MEMINFO, meminfo, &len) < 0)
    vdm_kt_fatal ("SO_MEMINFO: %s", g_strerror (errno));
  return meminfo[SK_MEMINFO_DROPS];
}

static VdmKtSender *
send_to_from (const gchar * label, const TestNetns * ns, const gchar * address, guint16 port,
    guint32 ssrc, const gchar * count)
{
  gchar *dest = g_strdup_printf ("%s:%u", address, port);
  gchar *ssrc_text = g_strdup_printf ("%u", ssrc);
  const gchar *wrapper[] = { "ip", "netns", "exec", ns ? ns->name : NULL, NULL };
  VdmKtSender *s = vdm_kt_sender_spawn (label, ns ? wrapper : NULL, "--dest", dest, "--count",
      count, "--rate", "1000", "--ssrc", ssrc_text, "--duration-ms", "5000", NULL);

  g_free (dest);
  g_free (ssrc_text);
  return s;
}

static VdmKtSender *
send_to (const gchar * label, const gchar * address, guint16 port, guint32 ssrc,
    const gchar * count)
{
  gchar *dest = g_strdup_printf ("%s:%u", address, port);
  gchar *ssrc_text = g_strdup_printf ("%u", ssrc);
  VdmKtSender *s = vdm_kt_sender_spawn (label, NULL, "--dest", dest, "--count", count,
      "--rate", "1000", "--ssrc", ssrc_text, "--duration-ms", "5000", NULL);

  g_free (dest);
  g_free (ssrc_text);
  return s;
}

static guint64
socket_drops (gpointer data)
{
  return vdm_kt_receiver_socket_drops (data);
}

/* No message of r mentions the decoy's flow, port or SSRC. */
static void
check_never_named (VdmKtReceiver * r, const gchar * receiver_label, const Decoy * d)
{
  /* A decoy in another namespace may share A's address and port: only its
   * SSRC tells its packets apart. */
  gchar *flow = d->address ? g_strdup_printf ("udp %s:%u", d->address, d->port)
      : g_strdup ("(by ssrc only)");
  gchar *port_suffix = g_strdup_printf (":%u", d->port);
  guint i, named = 0;

  for (i = 0; i < r->drops->len; i++) {
    const GstStructure *s = ((VdmKtMessage *) g_ptr_array_index (r->drops, i))->s;
    const gchar *msg_flow = vdm_kt_msg_string (s, "flow");
    if (g_strcmp0 (msg_flow, flow) == 0 || vdm_kt_msg_uint (s, "ssrc") == d->ssrc
        || (d->port != r->port && g_str_has_suffix (msg_flow, port_suffix)))
      named++;
  }
  vdm_kt_expect (named == 0, "no %s message names %s (\"%s\", ssrc 0x%08x): %u do",
      receiver_label, d->label, flow, d->ssrc, named);
  g_free (flow);
  g_free (port_suffix);
}

/* On the 6.1 path kfree_skb names no socket; for IPv4 UDP receive-buffer
 * drops the paired udp_fail_queue_rcv_skb tracepoint does (vdropmon.bpf.c),
 * so they are attributed by socket there too. */
static const gchar *
expected_attribution (void)
{
  return "socket";
}

static void
check_overloaded (VdmKtReceiver * a, GArray * sent, const GstStructure * stats, guint64 kernel)
{
  VdmKtDropSummary summary;

  vdm_kt_summarize (a->drops, &summary);
  vdm_kt_print_summary ("A", &summary);
  vdm_kt_check_counts (&summary, stats, "A /proc/net/udp drops", kernel, "SOCKET_RCVBUFF");
  vdm_kt_check_fields (a->drops, &(VdmKtExpectedDrop) {
        .source = "kernel-udp",.reason = "SOCKET_RCVBUFF",.attribution = expected_attribution (),
        .flow = a->flow,.ssrc = SSRC_A,.payload_type = 96});
  vdm_kt_check_latency (&summary, LATENCY_LIMIT_MS);
  vdm_kt_check_seqs (&summary, sent, a->passed);
  vdm_kt_summary_clear (&summary);
}

static void
check_healthy (VdmKtReceiver * b, GArray * sent, const GstStructure * stats, guint64 kernel)
{
  guint64 kernel_drops = vdm_kt_stats_u64 (stats, "kernel-drops");

  printf ("  B: %u drop messages, stats kernel-drops %" G_GUINT64_FORMAT ", /proc drops %"
      G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT " of %u packets passed\n", b->drops->len,
      kernel_drops, kernel, b->n_passed, sent->len);
  vdm_kt_expect (kernel == 0, "healthy B: the kernel dropped nothing (%" G_GUINT64_FORMAT ")",
      kernel);
  vdm_kt_expect (b->drops->len == 0, "healthy B: no vdropmon-drop message (%u)",
      b->drops->len);
  vdm_kt_expect (kernel_drops == 0, "healthy B: stats kernel-drops == 0 (%" G_GUINT64_FORMAT
      ")", kernel_drops);
  vdm_kt_expect (b->n_passed == sent->len, "healthy B: all %u packets passed (%"
      G_GUINT64_FORMAT ")", sent->len, b->n_passed);
}

int
main (int argc, char **argv)
{
  Decoy decoy_port = {.label = "decoy-port",.ssrc = SSRC_DECOY_PORT };
  Decoy decoy_addr = {.label = "decoy-addr",.ssrc = SSRC_DECOY_ADDR };
  Decoy decoy_netns = {.label = "decoy-netns",.ssrc = SSRC_DECOY_NETNS };
  Decoy netns_no_socket = {.label = "no-socket-netns",.ssrc = SSRC_NETNS_NO_SOCKET };
  TestNetns ns = {.fd = -1 };
  VdmKtSender *senders[6];
  guint64 kernel_dn;
  GArray *sent_a, *sent_b;
  VdmKtReceiver *a, *b;
  GstStructure *stats_a, *stats_b;
  guint64 kernel_a, kernel_b, kernel_dp, kernel_da;
  gboolean settled;
  int status;

  vdm_kt_begin ("kernel-isolation", &argc, &argv);
  a = vdm_kt_receiver_start ("A",
      "udpsrc name=src address=0.0.0.0 port=0 buffer-size=16384 caps=\"" VDM_KT_RTP_CAPS "\" "
      "! vdropmon name=mon ! identity sleep-time=2000 ! fakesink sync=false");
  b = vdm_kt_receiver_start ("B",
      "udpsrc name=src address=127.0.0.1 port=0 buffer-size=2097152 caps=\"" VDM_KT_RTP_CAPS
      "\" ! vdropmon name=mon ! fakesink sync=false");
  open_decoy (&decoy_port, "127.0.0.1", 0);
  open_decoy (&decoy_addr, "127.0.0.2", a->port);
  netns_create (&ns);
  open_decoy_in (&ns, &decoy_netns, "127.0.0.1", a->port);
  decoy_netns.address = NULL; /* same address and port as A's packets: by SSRC only */
  netns_no_socket.port = a->port;
  printf ("  decoy-netns is in network namespace %s\n", ns.name);

  senders[0] = send_to ("sender-A", "127.0.0.1", a->port, SSRC_A, "600");
  senders[1] = send_to ("sender-B", "127.0.0.1", b->port, SSRC_B, "600");
  senders[2] = send_to ("sender-decoy-port", "127.0.0.1", decoy_port.port, SSRC_DECOY_PORT, "300");
  senders[3] = send_to ("sender-decoy-addr", "127.0.0.2", decoy_addr.port, SSRC_DECOY_ADDR,
      "300");
  senders[4] = send_to_from ("sender-decoy-netns", &ns, "127.0.0.1", a->port, SSRC_DECOY_NETNS,
      "300");
  senders[5] = send_to_from ("sender-no-socket-netns", &ns, "127.0.0.2", a->port,
      SSRC_NETNS_NO_SOCKET, "300");
  sent_a = vdm_kt_sender_finish (senders[0]);
  sent_b = vdm_kt_sender_finish (senders[1]);
  g_array_unref (vdm_kt_sender_finish (senders[2]));
  g_array_unref (vdm_kt_sender_finish (senders[3]));
  g_array_unref (vdm_kt_sender_finish (senders[4]));
  g_array_unref (vdm_kt_sender_finish (senders[5]));

  settled = vdm_kt_receiver_settle (a, 400, 6000, socket_drops, a);
  settled &= vdm_kt_receiver_settle (b, 200, 3000, socket_drops, b);
  vdm_kt_expect (settled, "counters, buffers and messages settled");
  stats_a = vdm_kt_receiver_stats (a);
  stats_b = vdm_kt_receiver_stats (b);
  kernel_a = vdm_kt_receiver_socket_drops (a);
  kernel_b = vdm_kt_receiver_socket_drops (b);
  kernel_dp = vdm_kt_fd_socket_drops (decoy_port.fd);
  kernel_da = vdm_kt_fd_socket_drops (decoy_addr.fd);
  kernel_dn = meminfo_drops (decoy_netns.fd);
  vdm_kt_receiver_stop (a);
  vdm_kt_receiver_stop (b);

  printf ("  COUNTS: decoy-port /proc drops %" G_GUINT64_FORMAT ", decoy-addr /proc drops %"
      G_GUINT64_FORMAT "\n", kernel_dp, kernel_da);
  vdm_kt_expect (kernel_dp > 0, "decoy-port overflowed (%" G_GUINT64_FORMAT " drops)", kernel_dp);
  vdm_kt_expect (kernel_da > 0, "decoy-addr overflowed (%" G_GUINT64_FORMAT " drops)", kernel_da);
  vdm_kt_expect (kernel_dn > 0, "decoy-netns overflowed (%" G_GUINT64_FORMAT " drops)", kernel_dn);
  check_overloaded (a, sent_a, stats_a, kernel_a);
  check_healthy (b, sent_b, stats_b, kernel_b);
  check_never_named (a, "A", &decoy_port);
  check_never_named (a, "A", &decoy_addr);
  check_never_named (b, "B", &decoy_port);
  check_never_named (b, "B", &decoy_addr);
  check_never_named (a, "A", &decoy_netns);
  check_never_named (a, "A", &netns_no_socket);
  check_never_named (b, "B", &decoy_netns);
  check_never_named (b, "B", &netns_no_socket);
  {
    /* B's stream must not leak into A's reports either (shared program). */
    Decoy b_as_foreign = {.label = "B's stream",.address = "127.0.0.1",.port = b->port,
      .ssrc = SSRC_B };
    check_never_named (a, "A", &b_as_foreign);
  }

  status = vdm_kt_finish ();
  close (decoy_port.fd);
  close (decoy_addr.fd);
  close (decoy_netns.fd);
  netns_destroy (&ns);
  gst_structure_free (stats_a);
  gst_structure_free (stats_b);
  g_array_unref (sent_a);
  g_array_unref (sent_b);
  vdm_kt_receiver_free (a);
  vdm_kt_receiver_free (b);
  return status;
}
