/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * socket_discovery.h — which sockets feed an element: walk upstream from its
 * sink pad through links, ghost pads and bins (rtspsrc, rtpbin, uridecodebin)
 * and collect every udpsrc found.
 */
#ifndef VDM_SOCKET_DISCOVERY_H
#define VDM_SOCKET_DISCOVERY_H

#include <gio/gio.h>
#include <gst/gst.h>

G_BEGIN_DECLS

/* Returns a new array of udpsrc-like GstElements (owned references),
 * possibly empty: elements with a "used-socket" property. */
GPtrArray *vdm_discover_upstream_udp_sources (GstPad * sinkpad);

G_END_DECLS
#endif
