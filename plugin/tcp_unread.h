/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tcp_unread.h — how many bytes a TCP socket of this process holds that its
 * reader has not read yet (what SIOCINQ says on its fd), asked of the
 * kernel by the socket's identity instead of an fd. The element cannot keep
 * an fd of a TCP connection it watches: its own duplicate would keep the
 * connection open after its owner closed it (no FIN until we let go, and
 * the /proc/self/fd scan would find our copy and never release the watch).
 * sock_diag (NETLINK_SOCK_DIAG, an exact lookup by address, ports and
 * SO_COOKIE) reads idiag_rqueue — rcv_nxt - copied_seq, the unread bytes —
 * of exactly that socket, or says it is gone (a new connection with the
 * same ports has another cookie). One netlink round trip, answered in the
 * sender's own call: nothing waits. No privilege needed for the process's
 * own network namespace.
 */
#ifndef VDM_TCP_UNREAD_H
#define VDM_TCP_UNREAD_H

#include <stdint.h>
#include <sys/socket.h>

typedef struct {
  struct sockaddr_storage local, peer;   /* same family: AF_INET or AF_INET6 */
  uint64_t cookie;                       /* SO_COOKIE */
} vdm_tcp_identity;

/* The identity of the connected TCP socket fd; 0 or a negative errno. */
int vdm_tcp_identity_of (int fd, vdm_tcp_identity *out);

/* Unread bytes in that socket's receive queue into *unread; 0, -ENOENT /
 * -ESTALE when the socket is gone, or another negative errno. */
int vdm_tcp_unread_bytes (const vdm_tcp_identity *id, uint64_t *unread);

#endif
