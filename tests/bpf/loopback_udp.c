/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "loopback_udp.h"

#include <arpa/inet.h>
#include <glib.h>
#include <string.h>
#include <sys/socket.h>

int
vdm_test_loopback_udp (struct sockaddr_in *addr, int rcvbuf)
{
  socklen_t len = sizeof (*addr);
  int fd = socket (AF_INET, SOCK_DGRAM, 0);

  memset (addr, 0, sizeof (*addr));
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (fd, >=, 0);
  if (rcvbuf)
    g_assert_cmpint (setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof (rcvbuf)), ==, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *) addr, sizeof (*addr)), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) addr, &len), ==, 0);
  return fd;
}
