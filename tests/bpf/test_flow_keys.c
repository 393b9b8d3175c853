/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of bpf/flow_keys.c and the namespace in socket flows: which
 * keys a watch installs so that drops naming no socket find it (issue 9,
 * part 2 and #8: dual stack, "udp:5004" by hand, namespaces). No privilege. */
#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flow_keys.h"
#include "socket_flow.h"

static int
udp6_socket (const char *address, gboolean v6only)
{
  struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
  int fd = socket (AF_INET6, SOCK_DGRAM, 0), on = v6only;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof (on)), ==, 0);
  g_assert_cmpint (inet_pton (AF_INET6, address, &sa.sin6_addr), ==, 1);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sa, sizeof (sa)), ==, 0);
  return fd;
}

static int
udp4_socket (const char *address)
{
  struct sockaddr_in sa = { .sin_family = AF_INET };
  int fd = socket (AF_INET, SOCK_DGRAM, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (inet_pton (AF_INET, address, &sa.sin_addr), ==, 1);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sa, sizeof (sa)), ==, 0);
  return fd;
}

static const uint8_t zero[16];

/* The keys in the socket's namespace (netns != 0), and the transit ones. */
static int
keys_of_socket (int fd, struct vdm_flow_key *flow, struct vdm_flow_key *keys)
{
  g_assert_cmpint (vdm_flow_from_socket (fd, flow), ==, 0);
  return vdm_watch_flow_keys (flow, fd, keys, VDM_MAX_KEYS_PER_WATCH);
}

static gboolean
has_key (const struct vdm_flow_key *keys, int n, int family, const uint8_t *addr, uint64_t netns)
{
  int i;

  for (i = 0; i < n; i++)
    if (keys[i].family == family && keys[i].netns == netns
        && memcmp (keys[i].local_addr, addr, 16) == 0)
      return TRUE;
  return FALSE;
}

/* Every transit key (netns 0) names one exact, non-loopback address. */
static void
assert_transit_keys_exact (const struct vdm_flow_key *keys, int n)
{
  int i;

  for (i = 0; i < n; i++) {
    if (keys[i].netns != 0)
      continue;
    g_assert_true (memcmp (keys[i].local_addr, zero, 16) != 0);
    if (keys[i].family == AF_INET)
      g_assert_cmpuint (keys[i].local_addr[0], !=, 127);
    g_assert_cmpuint (keys[i].remote_port, ==, 0);
  }
}

static void
test_socket_flow_has_netns (void)
{
  struct vdm_flow_key flow;
  int fd = udp4_socket ("127.0.0.1");

  g_assert_cmpint (vdm_flow_from_socket (fd, &flow), ==, 0);
  g_assert_cmpuint (flow.netns, !=, 0);
  g_assert_cmpuint (flow.netns, ==, vdm_current_netns_cookie ());
  close (fd);
}

static void
test_dual_stack_any (void)
{
  struct vdm_flow_key flow, keys[VDM_MAX_KEYS_PER_WATCH];
  int fd = udp6_socket ("::", FALSE);
  int n = keys_of_socket (fd, &flow, keys);

  g_assert_cmpint (n, >=, 2);
  g_assert_true (has_key (keys, n, AF_INET6, zero, flow.netns));
  g_assert_true (has_key (keys, n, AF_INET, zero, flow.netns)); /* IPv4 packets too */
  g_assert_cmpuint (keys[1].local_port, ==, flow.local_port);
  assert_transit_keys_exact (keys, n);
  close (fd);
}

static void
test_v6only_any (void)
{
  struct vdm_flow_key flow, keys[VDM_MAX_KEYS_PER_WATCH];
  int fd = udp6_socket ("::", TRUE);
  int n = keys_of_socket (fd, &flow, keys);

  g_assert_true (has_key (keys, n, AF_INET6, zero, flow.netns));
  g_assert_false (has_key (keys, n, AF_INET, zero, flow.netns));
  close (fd);
}

static void
test_mapped_address_is_ipv4 (void)
{
  struct vdm_flow_key flow, keys[VDM_MAX_KEYS_PER_WATCH];
  uint8_t loopback4[16] = { 127, 0, 0, 1 };
  int fd = udp6_socket ("::ffff:127.0.0.1", FALSE);
  int n = keys_of_socket (fd, &flow, keys);

  g_assert_cmpint (n, ==, 1); /* loopback: no transit key */
  g_assert_cmpuint (keys[0].family, ==, AF_INET);
  g_assert_cmpmem (keys[0].local_addr, 16, loopback4, 16);
  close (fd);
}

static void
test_loopback_has_no_transit_key (void)
{
  struct vdm_flow_key flow, keys[VDM_MAX_KEYS_PER_WATCH];
  int fd = udp4_socket ("127.0.0.1");

  g_assert_cmpint (keys_of_socket (fd, &flow, keys), ==, 1);
  close (fd);
}

static void
test_any_address_transit_keys (void)
{
  struct vdm_flow_key flow, keys[VDM_MAX_KEYS_PER_WATCH];
  int fd = udp4_socket ("0.0.0.0");
  int n = keys_of_socket (fd, &flow, keys), i, transit = 0;

  g_assert_true (has_key (keys, n, AF_INET, zero, flow.netns));
  assert_transit_keys_exact (keys, n);
  for (i = 0; i < n; i++)
    transit += keys[i].netns == 0;
  g_test_message ("%d transit keys for this namespace's non-loopback IPv4 addresses", transit);
  close (fd);
}

static void
test_by_hand_any_is_both_families (void)
{
  struct vdm_flow_key flow = { .family = AF_INET, .protocol = IPPROTO_UDP, .local_port = 5004,
    .netns = 42 }, keys[VDM_MAX_KEYS_PER_WATCH];
  int n = vdm_watch_flow_keys (&flow, -1, keys, VDM_MAX_KEYS_PER_WATCH);

  g_assert_cmpint (n, ==, 2); /* netns 42 is not ours: no transit keys from getifaddrs */
  g_assert_true (has_key (keys, n, AF_INET, zero, 42));
  g_assert_true (has_key (keys, n, AF_INET6, zero, 42));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/flow-keys/socket-flow-has-netns", test_socket_flow_has_netns);
  g_test_add_func ("/flow-keys/dual-stack-any", test_dual_stack_any);
  g_test_add_func ("/flow-keys/v6only-any", test_v6only_any);
  g_test_add_func ("/flow-keys/mapped-address-is-ipv4", test_mapped_address_is_ipv4);
  g_test_add_func ("/flow-keys/loopback-has-no-transit-key", test_loopback_has_no_transit_key);
  g_test_add_func ("/flow-keys/any-address-transit-keys", test_any_address_transit_keys);
  g_test_add_func ("/flow-keys/by-hand-any-is-both-families", test_by_hand_any_is_both_families);
  return g_test_run ();
}
