/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "flow_keys.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

uint64_t
vdm_current_netns_cookie (void)
{
  uint64_t cookie = 0;
  socklen_t len = sizeof (cookie);
  int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    fd = socket (AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  if (getsockopt (fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) < 0)
    cookie = 0;
  close (fd);
  return cookie;
}

static const uint8_t zero_addr[16];
static const uint8_t mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool
is_any (const uint8_t addr[16])
{
  return memcmp (addr, zero_addr, 16) == 0;
}

static bool
is_loopback (int family, const uint8_t addr[16])
{
  static const uint8_t v6_loopback[16] = { [15] = 1 };

  if (family == AF_INET)
    return addr[0] == 127;
  return memcmp (addr, v6_loopback, 16) == 0;
}

/* ::ffff:a.b.c.d -> a.b.c.d (IPv4 packets to a dual-stack socket). */
static void
unmap_ipv4 (struct vdm_flow_key *key)
{
  uint8_t local[4], remote[4];

  if (key->family != AF_INET6 || memcmp (key->local_addr, mapped_prefix, 12) != 0)
    return;
  memcpy (local, key->local_addr + 12, 4);
  memcpy (remote, key->remote_addr + 12, 4);
  memset (key->local_addr, 0, 16);
  memset (key->remote_addr, 0, 16);
  memcpy (key->local_addr, local, 4);
  if (key->remote_port)
    memcpy (key->remote_addr, remote, 4);
  key->family = AF_INET;
}

static bool
v6only (int fd)
{
  int on = 0;
  socklen_t len = sizeof (on);

  return getsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, &len) == 0 && on;
}

static int
add_key (struct vdm_flow_key *out, int n, int max, const struct vdm_flow_key *key)
{
  int i;

  for (i = 0; i < n; i++)
    if (memcmp (&out[i], key, sizeof (*key)) == 0)
      return n;
  if (n < max)
    out[n++] = *key;
  return n;
}

/* Transit keys for one of the watch's keys: its own address, or every
 * non-loopback address of this namespace when it is bound to any. */
static int
add_transit_keys (const struct vdm_flow_key *key, struct vdm_flow_key *out, int n, int max)
{
  struct vdm_flow_key transit = *key;
  struct ifaddrs *list, *ifa;

  transit.netns = 0;
  transit.remote_port = 0;
  memset (transit.remote_addr, 0, 16);
  if (!is_any (key->local_addr))
    return is_loopback (key->family, key->local_addr) ? n : add_key (out, n, max, &transit);
  /* getifaddrs sees the calling thread's namespace: only meaningful when
   * the watched socket lives there too. */
  if (key->netns == 0 || key->netns != vdm_current_netns_cookie () || getifaddrs (&list) < 0)
    return n;
  for (ifa = list; ifa; ifa = ifa->ifa_next) {
    if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != key->family || (ifa->ifa_flags & IFF_LOOPBACK))
      continue;
    memset (transit.local_addr, 0, 16);
    if (key->family == AF_INET)
      memcpy (transit.local_addr, &((struct sockaddr_in *) ifa->ifa_addr)->sin_addr, 4);
    else
      memcpy (transit.local_addr, &((struct sockaddr_in6 *) ifa->ifa_addr)->sin6_addr, 16);
    if (!is_loopback (key->family, transit.local_addr))
      n = add_key (out, n, max, &transit);
  }
  freeifaddrs (list);
  return n;
}

int
vdm_watch_flow_keys (const struct vdm_flow_key *flow, int fd, struct vdm_flow_key *out, int max)
{
  struct vdm_flow_key key = *flow, other;
  int n = 0, own, i;

  unmap_ipv4 (&key);
  n = add_key (out, n, max, &key);
  /* Any address, both families: a "::" socket without IPV6_V6ONLY gets
   * IPv4 packets; "udp:5004" by hand means any address of either. */
  if (is_any (key.local_addr) && key.remote_port == 0
      && ((key.family == AF_INET6 && (fd < 0 || !v6only (fd))) || (key.family == AF_INET && fd < 0))) {
    other = key;
    other.family = key.family == AF_INET ? AF_INET6 : AF_INET;
    n = add_key (out, n, max, &other);
  }
  own = n;
  for (i = 0; i < own; i++)
    n = add_transit_keys (&out[i], out, n, max);
  return n;
}
