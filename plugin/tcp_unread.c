/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tcp_unread.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

int
vdm_tcp_identity_of (int fd, vdm_tcp_identity *out)
{
  socklen_t len = sizeof (out->local);

  memset (out, 0, sizeof (*out));
  if (getsockname (fd, (struct sockaddr *) &out->local, &len) < 0)
    return -errno;
  len = sizeof (out->peer);
  if (getpeername (fd, (struct sockaddr *) &out->peer, &len) < 0)
    return -errno;
  if (out->local.ss_family != out->peer.ss_family
      || (out->local.ss_family != AF_INET && out->local.ss_family != AF_INET6))
    return -EAFNOSUPPORT;
  len = sizeof (out->cookie);
  if (getsockopt (fd, SOL_SOCKET, SO_COOKIE, &out->cookie, &len) < 0)
    return -errno;
  return 0;
}

/* Address and port of a sockaddr into the request's id (network order, as
 * the kernel compares them). */
static void
put_endpoint (const struct sockaddr_storage *sa, __be16 *port, __be32 addr[4])
{
  if (sa->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
    *port = in->sin_port;
    addr[0] = in->sin_addr.s_addr;
  } else {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
    *port = in6->sin6_port;
    memcpy (addr, &in6->sin6_addr, 16);
  }
}

static void
build_request (const vdm_tcp_identity *id, struct inet_diag_req_v2 *req)
{
  memset (req, 0, sizeof (*req));
  req->sdiag_family = id->local.ss_family;
  req->sdiag_protocol = IPPROTO_TCP;
  req->idiag_states = ~0u;
  /* src/sport: this end; dst/dport: the peer (the socket's own view) */
  put_endpoint (&id->local, &req->id.idiag_sport, req->id.idiag_src);
  put_endpoint (&id->peer, &req->id.idiag_dport, req->id.idiag_dst);
  req->id.idiag_cookie[0] = (uint32_t) id->cookie;
  req->id.idiag_cookie[1] = (uint32_t) (id->cookie >> 32);
}

/* The reply: one inet_diag_msg, or an error. */
static int
parse_reply (const void *buf, ssize_t len, uint64_t *unread)
{
  const struct nlmsghdr *h = buf;

  for (; NLMSG_OK (h, (size_t) len); h = NLMSG_NEXT (h, len)) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      const struct nlmsgerr *err = NLMSG_DATA (h);
      if (h->nlmsg_len < NLMSG_LENGTH (sizeof (*err)))
        return -EBADMSG;
      return err->error ? err->error : -ENOENT;
    }
    if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY
        && h->nlmsg_len >= NLMSG_LENGTH (sizeof (struct inet_diag_msg))) {
      const struct inet_diag_msg *msg = NLMSG_DATA (h);
      *unread = msg->idiag_rqueue;
      return 0;
    }
  }
  return -EBADMSG;
}

int
vdm_tcp_unread_bytes (const vdm_tcp_identity *id, uint64_t *unread)
{
  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 req;
  } request;
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  /* an inet_diag_msg with no attribute asked for: a few hundred bytes */
  union {
    struct nlmsghdr h;
    char bytes[1024];
  } reply;
  ssize_t len;
  int fd, err;

  if (id->local.ss_family != AF_INET && id->local.ss_family != AF_INET6)
    return -EAFNOSUPPORT;
  memset (&request, 0, sizeof (request));
  request.nlh.nlmsg_len = sizeof (request);
  request.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  request.nlh.nlmsg_flags = NLM_F_REQUEST;
  build_request (id, &request.req);
  fd = socket (AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0)
    return -errno;
  if (sendto (fd, &request, sizeof (request), 0, (struct sockaddr *) &kernel,
          sizeof (kernel)) < 0) {
    err = -errno;
    close (fd);
    return err;
  }
  /* the kernel answered inside sendto: never wait for it */
  len = recv (fd, &reply, sizeof (reply), MSG_DONTWAIT);
  err = len < 0 ? -errno : parse_reply (&reply, len, unread);
  close (fd);
  return err;
}
