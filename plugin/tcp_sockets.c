/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tcp_sockets.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* tcpi_bytes_received: newer than glibc's struct tcp_info */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

/* The IPv4 address inside an AF_INET or IPv4-mapped AF_INET6 sockaddr. */
static bool
ipv4_of (const struct sockaddr_storage *sa, struct in_addr *out)
{
  if (sa->ss_family == AF_INET) {
    *out = ((const struct sockaddr_in *) sa)->sin_addr;
    return true;
  }
  if (sa->ss_family == AF_INET6) {
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *) sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED (a6)) {
      memcpy (out, &a6->s6_addr[12], 4);
      return true;
    }
  }
  return false;
}

static bool
same_address (const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
  struct in_addr a4, b4;

  if (ipv4_of (a, &a4) && ipv4_of (b, &b4))
    return a4.s_addr == b4.s_addr;
  if (a->ss_family == AF_INET6 && b->ss_family == AF_INET6)
    return memcmp (&((const struct sockaddr_in6 *) a)->sin6_addr,
        &((const struct sockaddr_in6 *) b)->sin6_addr, sizeof (struct in6_addr)) == 0;
  return false;
}

static uint16_t
port_of (const struct sockaddr_storage *sa)
{
  if (sa->ss_family == AF_INET)
    return ntohs (((const struct sockaddr_in *) sa)->sin_port);
  if (sa->ss_family == AF_INET6)
    return ntohs (((const struct sockaddr_in6 *) sa)->sin6_port);
  return 0;
}

static bool
is_connected_tcp (int fd, struct sockaddr_storage *peer)
{
  int protocol = 0;
  socklen_t len = sizeof (protocol);

  if (getsockopt (fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) < 0 || protocol != IPPROTO_TCP)
    return false;
  len = sizeof (*peer);
  return getpeername (fd, (struct sockaddr *) peer, &len) == 0;
}

static bool
peer_matches (const struct sockaddr_storage *peer, const struct sockaddr_storage *addrs,
    int n_addrs, uint16_t port)
{
  int i;

  if (port_of (peer) != port)
    return false;
  for (i = 0; i < n_addrs; i++)
    if (same_address (peer, &addrs[i]))
      return true;
  return false;
}

static void
describe (int fd, vdm_tcp_socket *out)
{
  struct tcp_info info;
  socklen_t len = sizeof (info);

  out->fd = fd;
  len = sizeof (out->cookie);
  if (getsockopt (fd, SOL_SOCKET, SO_COOKIE, &out->cookie, &len) < 0)
    out->cookie = 0;
  memset (&info, 0, sizeof (info));
  len = sizeof (info);
  out->bytes_received = getsockopt (fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0
      ? info.tcpi_bytes_received : 0;
}

int
vdm_tcp_sockets_to (const struct sockaddr_storage *addrs, int n_addrs, uint16_t port,
    vdm_tcp_socket *out, int max)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *entry;
  int n = 0;

  if (!dir)
    return -errno;
  while (n < max && (entry = readdir (dir))) {
    struct sockaddr_storage peer;
    char *end;
    long fd = strtol (entry->d_name, &end, 10);
    int pinned;

    if (*end || end == entry->d_name || fd == dirfd (dir))
      continue;
    /* Pinned: whatever the owner does with fd meanwhile (close it, and
     * the number goes to another socket), everything below is of one
     * socket, and so is the watch the caller makes (issue 9 #10). */
    pinned = fcntl ((int) fd, F_DUPFD_CLOEXEC, 0);
    if (pinned < 0)
      continue;
    if (!is_connected_tcp (pinned, &peer) || !peer_matches (&peer, addrs, n_addrs, port)) {
      close (pinned);
      continue;
    }
    describe (pinned, &out[n]);
    if (out[n].cookie)
      n++;
    else
      close (pinned);
  }
  closedir (dir);
  return n;
}
