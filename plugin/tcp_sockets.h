/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tcp_sockets.h — this process's own TCP connections to a given server
 * endpoint, found in /proc/self/fd. Elements that fetch a stream over TCP
 * (rtspsrc, souphttpsrc, tcpclientsrc, rtmp2src) do not hand out their
 * socket; their location names the server, and the kernel names our
 * sockets connected to it.
 */
#ifndef VDM_TCP_SOCKETS_H
#define VDM_TCP_SOCKETS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct {
  int fd;
  uint64_t cookie;           /* SO_COOKIE: stable identity while the socket lives */
  uint64_t bytes_received;   /* TCP_INFO tcpi_bytes_received */
} vdm_tcp_socket;

/* Fills at most max sockets connected to port on one of the n_addrs
 * addresses (struct sockaddr_in / sockaddr_in6, port ignored; an IPv4
 * address also matches its IPv4-mapped IPv6 form). Returns how many, or a
 * negative errno when /proc/self/fd cannot be read. Each out[i].fd is a
 * duplicate (close-on-exec) the caller owns and closes: the socket stays
 * the one identified while it is watched, even if its owner closes the
 * original and the number is reused. */
int vdm_tcp_sockets_to (const struct sockaddr_storage *addrs, int n_addrs, uint16_t port,
    vdm_tcp_socket *out, int max);

#endif
