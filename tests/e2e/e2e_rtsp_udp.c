/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "e2e_rtsp_udp.h"

#include <stdio.h>
#include <sys/socket.h>

#include "e2e_checks.h"
#include "kernel_test_util.h"
#include "receiver.h"

#define UDPSRC_TIMEOUT_MS 10000

static void
note_arrival (VdmE2eRtspUdp * u, GstBuffer * buf)
{
  GstMapInfo map;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return;
  if (map.size >= 12 && (map.data[0] >> 6) == 2) {
    guint16 seq = (guint16) ((map.data[2] << 8) | map.data[3]);
    if (u->first_seq < 0) {
      u->first_seq = seq;
      u->ssrc = GST_READ_UINT32_BE (map.data + 8);
    }
    if (u->passed[seq] < G_MAXUINT8)
      u->passed[seq]++;
  }
  gst_buffer_unmap (buf, &map);
}

static GstPadProbeReturn
on_arrival (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  VdmE2eRtspUdp *u = user_data;
  guint i;

  g_mutex_lock (&u->lock);
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    note_arrival (u, GST_PAD_PROBE_INFO_BUFFER (info));
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    for (i = 0; i < gst_buffer_list_length (list); i++)
      note_arrival (u, gst_buffer_list_get (list, i));
  }
  g_mutex_unlock (&u->lock);
  return GST_PAD_PROBE_OK;
}

static void
probe_arrivals (VdmE2eRtspUdp * u, GstElement * udpsrc)
{
  GstPad *pad = gst_element_get_static_pad (udpsrc, "src");

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
      on_arrival, u, NULL);
  gst_object_unref (pad);
}

static void
socket_init (VdmE2eUdpSocket * s, GstElement * udpsrc)
{
  g_object_get (udpsrc, "used-socket", &s->socket, NULL);
  s->flow = vdm_e2e_udp_flow_name (s->socket);
  s->port = vdm_e2e_socket_port (s->socket);
}

static void
socket_clear (VdmE2eUdpSocket * s)
{
  g_clear_object (&s->socket);
  g_clear_pointer (&s->flow, g_free);
}

void
vdm_e2e_rtsp_udp_init (VdmE2eRtspUdp * u, VdmE2eReceiver * r, GstElement * rtspsrc,
    const gchar * server_url)
{
  GPtrArray *udpsrcs = vdm_e2e_wait_udpsrcs (r, rtspsrc, 2, UDPSRC_TIMEOUT_MS);
  GstElement *first = g_ptr_array_index (udpsrcs, 0), *second = g_ptr_array_index (udpsrcs, 1);
  VdmE2eUdpSocket a = { 0 }, b = { 0 };

  g_mutex_init (&u->lock);
  u->passed = g_new0 (guint8, 65536);
  u->first_seq = -1;
  u->server_port = vdm_e2e_url_port (server_url);
  socket_init (&a, first);
  socket_init (&b, second);
  /* RTP on the even port, RTCP on the next one. */
  u->rtp = a.port < b.port ? a : b;
  u->rtcp = a.port < b.port ? b : a;
  probe_arrivals (u, a.port < b.port ? first : second);
  printf ("  %s: sockets of %s's udpsrc: RTP \"%s\", RTCP \"%s\"\n", r->label,
      GST_OBJECT_NAME (rtspsrc), u->rtp.flow, u->rtcp.flow);
  g_ptr_array_unref (udpsrcs);
}

void
vdm_e2e_rtsp_udp_clear (VdmE2eRtspUdp * u)
{
  socket_clear (&u->rtp);
  socket_clear (&u->rtcp);
  g_clear_pointer (&u->passed, g_free);
  g_mutex_clear (&u->lock);
}

const gchar *
vdm_e2e_rtsp_connection (GPtrArray * flows, guint16 server_port)
{
  gchar *suffix = g_strdup_printf ("->127.0.0.1:%u", server_port);
  const gchar *found = NULL;
  guint i;

  for (i = 0; !found && i < flows->len; i++) {
    const gchar *flow = g_ptr_array_index (flows, i);
    if (g_str_has_prefix (flow, "tcp ") && g_str_has_suffix (flow, suffix))
      found = flow;
  }
  g_free (suffix);
  return found;
}

gboolean
vdm_e2e_rtsp_udp_all_watched (GPtrArray * flows, gpointer data)
{
  const VdmE2eRtspUdp *u = data;

  return vdm_e2e_flows_have (flows, u->rtp.flow) && vdm_e2e_flows_have (flows, u->rtcp.flow)
      && vdm_e2e_rtsp_connection (flows, u->server_port);
}

guint64
vdm_e2e_udp_socket_drops (gpointer socket)
{
  return vdm_kt_fd_socket_drops (g_socket_get_fd (((VdmE2eUdpSocket *) socket)->socket));
}

void
vdm_e2e_shrink_rcvbuf (VdmE2eUdpSocket * socket, int bytes)
{
  int fd = g_socket_get_fd (socket->socket), effective = 0;
  socklen_t len = sizeof (effective);

  if (setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof (bytes)) < 0
      || getsockopt (fd, SOL_SOCKET, SO_RCVBUF, &effective, &len) < 0)
    vdm_kt_fatal ("cannot shrink the receive buffer of \"%s\"", socket->flow);
  printf ("  \"%s\": SO_RCVBUF %d (kernel: %d bytes of skb memory)\n", socket->flow, bytes,
      effective);
}
