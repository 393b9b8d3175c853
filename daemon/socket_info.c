/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include "socket_info.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "socket_flow.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif
#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

int64_t
vdm_socket_drops (int fd)
{
  uint32_t meminfo[SK_MEMINFO_VARS] = { 0 };
  socklen_t len = sizeof (meminfo);

  if (getsockopt (fd, SOL_SOCKET, SO_MEMINFO, meminfo, &len) < 0)
    return -errno;
  if (len < (SK_MEMINFO_DROPS + 1) * sizeof (uint32_t))
    return -EOPNOTSUPP;
  return meminfo[SK_MEMINFO_DROPS];
}

static int
check_kind (int fd, const char **why)
{
  struct stat st;
  int domain = 0, protocol = 0;
  socklen_t len = sizeof (int);

  if (fstat (fd, &st) < 0 || !S_ISSOCK (st.st_mode)) {
    *why = "the fd handed over is not a socket";
    return -ENOTSOCK;
  }
  if (getsockopt (fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0
      || (domain != AF_INET && domain != AF_INET6)) {
    *why = "the socket handed over is not an IPv4/IPv6 socket";
    return -EAFNOSUPPORT;
  }
  len = sizeof (int);
  if (getsockopt (fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) < 0
      || (protocol != IPPROTO_UDP && protocol != IPPROTO_TCP)) {
    *why = "the socket handed over is neither UDP nor TCP";
    return -EPROTONOSUPPORT;
  }
  return 0;
}

int
vdm_socket_info_read (int fd, vdm_socket_info *info, const char **why)
{
  struct vdm_flow_key key;
  socklen_t len = sizeof (info->cookie);
  int64_t drops;
  int err;

  memset (info, 0, sizeof (*info));
  err = check_kind (fd, why);
  if (err)
    return err;
  err = vdm_flow_from_socket (fd, &key);
  if (err) {
    *why = err == -EDESTADDRREQ ? "the socket handed over is not bound to a port"
        : "the socket's address cannot be read";
    return err;
  }
  if (getsockopt (fd, SOL_SOCKET, SO_COOKIE, &info->cookie, &len) < 0) {
    *why = "SO_COOKIE failed on the socket handed over";
    return -errno;
  }
  len = sizeof (info->flow.netns_cookie);
  if (getsockopt (fd, SOL_SOCKET, SO_NETNS_COOKIE, &info->flow.netns_cookie, &len) < 0)
    info->flow.netns_cookie = 0;  /* kernel before 5.14: unknown, not an error */
  drops = vdm_socket_drops (fd);
  info->sk_drops = drops > 0 ? (uint64_t) drops : 0;
  info->flow.family = key.family;
  info->flow.protocol = key.protocol;
  info->flow.local_port = key.local_port;
  info->flow.remote_port = key.remote_port;
  memcpy (info->flow.local_addr, key.local_addr, 16);
  memcpy (info->flow.remote_addr, key.remote_addr, 16);
  return 0;
}

static void
read_comm (pid_t pid, char *out, size_t size)
{
  char path[64];
  ssize_t n;
  int fd;

  snprintf (out, size, "?");
  snprintf (path, sizeof (path), "/proc/%d/comm", (int) pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  n = read (fd, out, size - 1);
  close (fd);
  if (n <= 0) {
    snprintf (out, size, "?");
    return;
  }
  out[n] = '\0';
  out[strcspn (out, "\n")] = '\0';
  for (char *c = out; *c; c++)         /* comm is the process's to choose */
    if ((unsigned char) *c < 0x20 || *c == 0x7f)
      *c = '?';
}

int
vdm_peer_read (int conn, vdm_peer *peer)
{
  struct ucred cred;
  socklen_t len = sizeof (cred);

  memset (peer, 0, sizeof (*peer));
  if (getsockopt (conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
    return -errno;
  peer->pid = cred.pid;
  peer->uid = cred.uid;
  peer->gid = cred.gid;
  read_comm (cred.pid, peer->command, sizeof (peer->command));
  return 0;
}
