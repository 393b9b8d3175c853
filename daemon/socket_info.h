/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * socket_info.h — what the daemon learns from a socket fd a client handed
 * over (never from what the client says), and from the client itself.
 */
#ifndef VDM_DAEMON_SOCKET_INFO_H
#define VDM_DAEMON_SOCKET_INFO_H

#include <stdint.h>
#include <sys/types.h>

#include "protocol.h"

typedef struct {
  uint64_t cookie;              /* SO_COOKIE */
  uint64_t sk_drops;            /* SK_MEMINFO_DROPS now */
  vdm_proto_flow flow;          /* incl. SO_NETNS_COOKIE (0 when the kernel has none) */
} vdm_socket_info;

/* Fills info from fd. Returns 0, or a negative errno with *why a sentence:
 * -ENOTSOCK (not a socket), -EAFNOSUPPORT (not IPv4/IPv6),
 * -EPROTONOSUPPORT (not UDP/TCP), -EDESTADDRREQ (not bound to a port). */
int vdm_socket_info_read (int fd, vdm_socket_info *info, const char **why);

/* The socket's own drop counter (SK_MEMINFO_DROPS), or a negative errno. */
int64_t vdm_socket_drops (int fd);

typedef struct {
  pid_t pid;
  uid_t uid;
  gid_t gid;
  char command[VDM_PROTO_NAME_MAX + 1];  /* /proc/PID/comm, "?" if gone */
} vdm_peer;

int vdm_peer_read (int conn, vdm_peer *peer);

#endif
