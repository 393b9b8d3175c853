/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lo_capture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kernel_test_util.h"

/* Far more than a test's few thousand packets in flight. */
#define CAPTURE_RCVBUF (32 * 1024 * 1024)
#define POLL_MS 20
#define RTP_HEADER 12

enum
{
  NAL_IDR = 5, NAL_SPS = 7, NAL_PPS = 8, NAL_STAP_A = 24, NAL_FU_A = 28
};

struct _VdmE2eCapture
{
  int fd;
  GThread *thread;
  gint stop;
  GArray *packets;              /* VdmE2eCaptured; the thread's until joined */
};

static gboolean
is_keyframe_nal_type (guint type)
{
  return type == NAL_IDR || type == NAL_SPS || type == NAL_PPS;
}

static gboolean
stap_a_has_keyframe_nal (const guint8 * p, gsize len)
{
  gsize offset = 1;

  while (offset + 2 < len) {
    gsize size = ((gsize) p[offset] << 8) | p[offset + 1];
    if (size == 0 || offset + 2 + size > len)
      return FALSE;
    if (is_keyframe_nal_type (p[offset + 2] & 0x1f))
      return TRUE;
    offset += 2 + size;
  }
  return FALSE;
}

gboolean
vdm_e2e_h264_payload_has_keyframe_nal (const guint8 * p, gsize len)
{
  guint type;

  if (len < 1)
    return FALSE;
  type = p[0] & 0x1f;
  if (type >= 1 && type <= 23)
    return is_keyframe_nal_type (type);
  if (type == NAL_STAP_A)
    return stap_a_has_keyframe_nal (p, len);
  if (type == NAL_FU_A)
    return len >= 2 && is_keyframe_nal_type (p[1] & 0x1f);
  return FALSE;
}

/* Skips the CSRC list and the header extension; returns FALSE if not RTP. */
static gboolean
rtp_payload (const guint8 * rtp, gsize len, const guint8 ** payload, gsize * payload_len)
{
  gsize offset = RTP_HEADER + 4 * (rtp[0] & 0x0f);

  if (len < RTP_HEADER || (rtp[0] >> 6) != 2 || offset > len)
    return FALSE;
  if (rtp[0] & 0x10) {
    if (offset + 4 > len)
      return FALSE;
    offset += 4 + 4 * (((gsize) rtp[offset + 2] << 8) | rtp[offset + 3]);
    if (offset > len)
      return FALSE;
  }
  *payload = rtp + offset;
  *payload_len = len - offset;
  return TRUE;
}

static void
keep_packet (VdmE2eCapture * c, const guint8 * ip, gsize len)
{
  const struct iphdr *iph = (const struct iphdr *) ip;
  gsize ihl = (gsize) iph->ihl * 4;
  const struct udphdr *udp;
  const guint8 *rtp, *payload;
  gsize payload_len;
  VdmE2eCaptured pkt;

  if (len < sizeof (*iph) || iph->version != 4 || iph->protocol != IPPROTO_UDP
      || len < ihl + sizeof (*udp) + RTP_HEADER)
    return;
  udp = (const struct udphdr *) (ip + ihl);
  rtp = ip + ihl + sizeof (*udp);
  if (!rtp_payload (rtp, len - ihl - sizeof (*udp), &payload, &payload_len))
    return;
  pkt.port = ntohs (udp->dest);
  pkt.seq = (guint16) ((rtp[2] << 8) | rtp[3]);
  pkt.ts = ((guint32) rtp[4] << 24) | ((guint32) rtp[5] << 16) | ((guint32) rtp[6] << 8) | rtp[7];
  pkt.ssrc = ((guint32) rtp[8] << 24) | ((guint32) rtp[9] << 16) | ((guint32) rtp[10] << 8)
      | rtp[11];
  pkt.keyframe_nal = vdm_e2e_h264_payload_has_keyframe_nal (payload, payload_len);
  pkt.time_ns = vdm_kt_now_ns ();
  g_array_append_val (c->packets, pkt);
}

/* Reads everything queued now; returns FALSE on a socket error. */
static gboolean
drain (VdmE2eCapture * c)
{
  guint8 buf[65536];

  for (;;) {
    ssize_t n = recv (c->fd, buf, sizeof (buf), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0)
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    keep_packet (c, buf, MIN ((gsize) n, sizeof (buf)));
  }
}

static gpointer
capture_thread (gpointer data)
{
  VdmE2eCapture *c = data;
  struct pollfd pfd = {.fd = c->fd,.events = POLLIN };

  while (!g_atomic_int_get (&c->stop)) {
    if (poll (&pfd, 1, POLL_MS) > 0 && !drain (c))
      break;
  }
  return NULL;
}

static int
open_capture_socket (void)
{
  int fd = socket (AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons (ETH_P_IP));
  int rcvbuf = CAPTURE_RCVBUF, one = 1;
  struct sockaddr_ll addr = {.sll_family = AF_PACKET,.sll_protocol = htons (ETH_P_IP) };

  if (fd < 0)
    vdm_kt_skip_or_fail ("cannot open a packet socket: %s", g_strerror (errno));
  addr.sll_ifindex = (int) if_nametoindex ("lo");
  /* Loopback shows every packet twice, going out and coming in: keep one. */
  if (addr.sll_ifindex == 0
      || setsockopt (fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof (one)) < 0
      || setsockopt (fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof (rcvbuf)) < 0
      || bind (fd, (struct sockaddr *) &addr, sizeof (addr)) < 0)
    vdm_kt_fatal ("cannot set up the loopback capture: %s", g_strerror (errno));
  return fd;
}

VdmE2eCapture *
vdm_e2e_capture_start (void)
{
  VdmE2eCapture *c = g_new0 (VdmE2eCapture, 1);

  c->fd = open_capture_socket ();
  c->packets = g_array_new (FALSE, FALSE, sizeof (VdmE2eCaptured));
  c->thread = g_thread_new ("lo-capture", capture_thread, c);
  return c;
}

GArray *
vdm_e2e_capture_finish (VdmE2eCapture * c)
{
  struct tpacket_stats stats = { 0 };
  socklen_t len = sizeof (stats);
  GArray *packets;

  g_atomic_int_set (&c->stop, 1);
  g_thread_join (c->thread);
  drain (c);
  if (getsockopt (c->fd, SOL_PACKET, PACKET_STATISTICS, &stats, &len) < 0)
    vdm_kt_fatal ("cannot read the capture's statistics: %s", g_strerror (errno));
  if (stats.tp_drops)
    vdm_kt_fatal ("the loopback capture itself lost %u packets: no ground truth", stats.tp_drops);
  close (c->fd);
  packets = c->packets;
  g_free (c);
  return packets;
}
