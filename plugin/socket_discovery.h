/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * socket_discovery.h — which sockets feed an element: walk upstream from its
 * sink pad through links, ghost pads and bins (rtspsrc, rtpbin, uridecodebin)
 * and collect every element that receives the stream from the network.
 */
#ifndef VDM_SOCKET_DISCOVERY_H
#define VDM_SOCKET_DISCOVERY_H

#include <gio/gio.h>
#include <gst/gst.h>

G_BEGIN_DECLS

/* A source that fetches its stream from a server over TCP. */
typedef struct
{
  GstElement *element;          /* owned reference */
  gchar *host;
  guint16 port;
} VdmNetClient;

typedef struct
{
  GPtrArray *udp_sources;       /* GstElement* with "used-socket", owned */
  GPtrArray *net_clients;       /* VdmNetClient*, owned */
  GstClockTime buffer_latency;  /* largest "latency" (ms) of a jitterbuffer-like element, or NONE */
} VdmUpstream;

/* Everything upstream of sinkpad that receives from the network: udpsrc
 * elements, and elements whose "location" is a rtsp://, http(s)://,
 * rtmp(s):// URI or that have "host"/"port" (tcpclientsrc). */
void vdm_discover_upstream (GstPad * sinkpad, VdmUpstream * out);
void vdm_upstream_clear (VdmUpstream * upstream);

/* The "latency" of the first jitterbuffer-like element (rtpjitterbuffer)
 * within a few elements downstream of srcpad, or GST_CLOCK_TIME_NONE. */
GstClockTime vdm_discover_downstream_latency (GstPad * srcpad);

G_END_DECLS
#endif
