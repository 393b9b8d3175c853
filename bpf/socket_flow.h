/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* socket_flow.h — the flow a socket receives: protocol, local address and
 * port, for a connected TCP socket its peer, and its network namespace. */
#ifndef VDM_SOCKET_FLOW_H
#define VDM_SOCKET_FLOW_H

#include "event_source.h"

/* Returns 0, or a negative errno (-EDESTADDRREQ for an unbound socket). */
VDM_SOURCE_API int vdm_flow_from_socket (int fd, struct vdm_flow_key *flow);

#endif
