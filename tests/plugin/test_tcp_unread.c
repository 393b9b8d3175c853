/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of plugin/tcp_unread.c: the unread bytes of a loopback TCP
 * connection, asked by identity (sock_diag), equal what SIOCINQ says on
 * its fd as data comes and is read, for IPv4 and IPv6; a wrong cookie (the
 * same ports, another socket) and a closed connection are not answered.
 */
#define _GNU_SOURCE
#include <glib.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp_unread.h"

typedef struct
{
  int listener, client, server;
} Pair;

static gboolean
pair_open (Pair * p, int family)
{
  struct sockaddr_storage addr = { 0 };
  socklen_t len = family == AF_INET ? sizeof (struct sockaddr_in) : sizeof (struct sockaddr_in6);

  addr.ss_family = family;
  if (family == AF_INET)
    ((struct sockaddr_in *) &addr)->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  else
    ((struct sockaddr_in6 *) &addr)->sin6_addr = in6addr_loopback;
  p->listener = socket (family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (p->listener < 0 || bind (p->listener, (struct sockaddr *) &addr, len) < 0)
    return FALSE;               /* no IPv6 here */
  g_assert_cmpint (listen (p->listener, 1), ==, 0);
  g_assert_cmpint (getsockname (p->listener, (struct sockaddr *) &addr, &len), ==, 0);
  p->client = socket (family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (connect (p->client, (struct sockaddr *) &addr, len), ==, 0);
  p->server = accept4 (p->listener, NULL, NULL, SOCK_CLOEXEC);
  g_assert_cmpint (p->server, >=, 0);
  return TRUE;
}

static void
pair_close (Pair * p)
{
  if (p->client >= 0)
    close (p->client);
  close (p->server);
  close (p->listener);
}

static int
siocinq (int fd)
{
  int n = -1;

  g_assert_cmpint (ioctl (fd, SIOCINQ, &n), ==, 0);
  return n;
}

static guint64
unread_of (const vdm_tcp_identity * id)
{
  guint64 n = G_MAXUINT64;

  g_assert_cmpint (vdm_tcp_unread_bytes (id, &n), ==, 0);
  return n;
}

/* Waits until the kernel's receive queue holds expect bytes (loopback
 * delivers within the send, but let a busy host have its softirq). */
static void
wait_queued (int fd, int expect)
{
  int i;

  for (i = 0; i < 200 && siocinq (fd) != expect; i++)
    g_usleep (5000);
  g_assert_cmpint (siocinq (fd), ==, expect);
}

static void
check_family (int family)
{
  char data[3000], sink[1000];
  vdm_tcp_identity id, wrong;
  Pair p;

  if (!pair_open (&p, family)) {
    g_test_skip ("no loopback for this family");
    return;
  }
  memset (data, 0x5a, sizeof (data));
  g_assert_cmpint (vdm_tcp_identity_of (p.client, &id), ==, 0);
  g_assert_cmpuint (id.cookie, !=, 0);
  g_assert_cmpuint (unread_of (&id), ==, 0);

  g_assert_cmpint (send (p.server, data, sizeof (data), 0), ==, sizeof (data));
  wait_queued (p.client, sizeof (data));
  g_assert_cmpuint (unread_of (&id), ==, (guint64) siocinq (p.client));
  g_assert_cmpuint (unread_of (&id), ==, sizeof (data));

  g_assert_cmpint (recv (p.client, sink, sizeof (sink), MSG_WAITALL), ==, sizeof (sink));
  g_assert_cmpuint (unread_of (&id), ==, sizeof (data) - sizeof (sink));
  g_assert_cmpuint (unread_of (&id), ==, (guint64) siocinq (p.client));

  /* the other end of the same connection holds nothing unread */
  {
    vdm_tcp_identity server_id;
    g_assert_cmpint (vdm_tcp_identity_of (p.server, &server_id), ==, 0);
    g_assert_cmpuint (unread_of (&server_id), ==, 0);
  }

  /* the same address and ports with another cookie: another socket */
  wrong = id;
  wrong.cookie ^= 1;
  {
    guint64 n = 0;
    g_assert_cmpint (vdm_tcp_unread_bytes (&wrong, &n), <, 0);
  }

  /* closed with data unread: reset, gone */
  close (p.client);
  p.client = -1;
  {
    guint64 n = 0;
    g_assert_cmpint (vdm_tcp_unread_bytes (&id, &n), <, 0);
  }
  pair_close (&p);
}

static void
test_ipv4 (void)
{
  check_family (AF_INET);
}

static void
test_ipv6 (void)
{
  check_family (AF_INET6);
}

static void
test_not_tcp (void)
{
  vdm_tcp_identity id;
  int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  /* an unconnected socket has no peer: no identity */
  g_assert_cmpint (vdm_tcp_identity_of (fd, &id), <, 0);
  close (fd);
  memset (&id, 0, sizeof (id));
  {
    guint64 n = 0;
    g_assert_cmpint (vdm_tcp_unread_bytes (&id, &n), ==, -EAFNOSUPPORT);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tcp-unread/ipv4", test_ipv4);
  g_test_add_func ("/tcp-unread/ipv6", test_ipv6);
  g_test_add_func ("/tcp-unread/not-tcp", test_not_tcp);
  return g_test_run ();
}
