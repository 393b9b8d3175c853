/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "socket_flow.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* Address and port of an AF_INET/AF_INET6 sockaddr; false for other families. */
static bool
copy_address (const struct sockaddr_storage *sa, uint8_t addr[16], uint16_t *port)
{
  if (sa->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
    memcpy (addr, &in->sin_addr, 4);
    *port = ntohs (in->sin_port);
    return true;
  }
  if (sa->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
    memcpy (addr, &in6->sin6_addr, 16);
    *port = ntohs (in6->sin6_port);
    return true;
  }
  return false;
}

int
vdm_flow_from_socket (int fd, struct vdm_flow_key *flow)
{
  struct sockaddr_storage local = { 0 }, remote = { 0 };
  socklen_t len = sizeof (local);
  int protocol = 0;
  socklen_t plen = sizeof (protocol);

  memset (flow, 0, sizeof (*flow));
  if (getsockname (fd, (struct sockaddr *) &local, &len) < 0)
    return -errno;
  if (getsockopt (fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &plen) < 0)
    return -errno;
  flow->protocol = (uint8_t) protocol;
  /* Since 5.14; without it the flow matches in no namespace by 5-tuple. */
  len = sizeof (flow->netns);
  if (getsockopt (fd, SOL_SOCKET, SO_NETNS_COOKIE, &flow->netns, &len) < 0)
    flow->netns = 0;
  flow->family = (uint8_t) local.ss_family;
  if (!copy_address (&local, flow->local_addr, &flow->local_port))
    return -EAFNOSUPPORT;
  /* A connected TCP socket is watched by its full 4-tuple. UDP sockets stay
   * wildcards on the remote side even when connected: the port is the key. */
  len = sizeof (remote);
  if (protocol == IPPROTO_TCP && getpeername (fd, (struct sockaddr *) &remote, &len) == 0)
    copy_address (&remote, flow->remote_addr, &flow->remote_port);
  return flow->local_port ? 0 : -EDESTADDRREQ;
}
