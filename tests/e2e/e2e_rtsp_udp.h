/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * e2e_rtsp_udp.h — the UDP side of an rtspsrc (protocols=udp) under test:
 * the udpsrc elements it created inside itself after SETUP, their sockets
 * and the flows vdropmon names them by, what arrived on the RTP socket (a
 * probe on that udpsrc's source pad, like vdropmon's own), and the socket
 * buffer the test shrinks to make the kernel drop.
 */
#ifndef VDM_E2E_RTSP_UDP_H
#define VDM_E2E_RTSP_UDP_H

#include <gio/gio.h>
#include <gst/gst.h>

#include "e2e_receiver.h"

G_BEGIN_DECLS

typedef struct
{
  GSocket *socket;
  gchar *flow;                  /* "udp 0.0.0.0:PORT", as vdropmon prints it */
  guint16 port;
} VdmE2eUdpSocket;

typedef struct
{
  VdmE2eUdpSocket rtp, rtcp;
  guint16 server_port;          /* of the RTSP connection */

  /* Arrivals on the RTP socket. */
  GMutex lock;
  guint8 *passed;               /* [65536] packets per seq */
  gint first_seq;               /* -1 until the first packet */
  guint32 ssrc;
} VdmE2eRtspUdp;

/* Waits for rtspsrc's two udpsrc (RTP on the even port, RTCP) and probes
 * the RTP one; server_url: what rtspsrc fetches. */
void vdm_e2e_rtsp_udp_init (VdmE2eRtspUdp * u, VdmE2eReceiver * r, GstElement * rtspsrc,
    const gchar * server_url);
void vdm_e2e_rtsp_udp_clear (VdmE2eRtspUdp * u);

/* vdropmon's flows hold both sockets and the RTSP connection to
 * 127.0.0.1:server_port (a VdmE2eFlowsReady; data: VdmE2eRtspUdp*). */
gboolean vdm_e2e_rtsp_udp_all_watched (GPtrArray * flows, gpointer data);
/* The RTSP connection among flows, or NULL. */
const gchar *vdm_e2e_rtsp_connection (GPtrArray * flows, guint16 server_port);

/* The kernel's drop counter of a VdmE2eUdpSocket* (a VdmE2eCounterFn). */
guint64 vdm_e2e_udp_socket_drops (gpointer socket);

/* SO_RCVBUF bytes on the socket: the buffer udp-buffer-size=bytes gives. */
void vdm_e2e_shrink_rcvbuf (VdmE2eUdpSocket * socket, int bytes);

G_END_DECLS
#endif
