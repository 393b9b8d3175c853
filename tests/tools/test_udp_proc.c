/* Unit test for udp_proc: the parser on canned lines, and the real kernel
 * counter on a loopback socket that is deliberately overrun.  No root. */
#include "udp_proc.h"

#include <glib.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define N_SENT 200
#define PACKET_LEN 100
#define SETTLE_TIMEOUT_US (2 * G_USEC_PER_SEC)

static const char *udp4_line =
    "  771: 0100007F:138C 00000000:0000 07 00000000:00003100 00:00000000 "
    "00000000     0        0 123456 2 0000000000000000 42\n";
static const char *udp6_line =
    "  771: 00000000000000000000000001000000:138C "
    "00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 "
    "00000000     0        0 654321 2 0000000000000000 18446744073709551615\n";

static void
test_parse_valid (void)
{
  struct vdm_udp_proc_entry e;

  g_assert_true (vdm_udp_proc_parse_line (udp4_line, &e));
  g_assert_cmpuint (e.local_port, ==, 5004);
  g_assert_cmpuint (e.remote_port, ==, 0);
  g_assert_cmpuint (e.inode, ==, 123456);
  g_assert_cmpuint (e.drops, ==, 42);

  g_assert_true (vdm_udp_proc_parse_line (udp6_line, &e));
  g_assert_cmpuint (e.local_port, ==, 5004);
  g_assert_cmpuint (e.inode, ==, 654321);
  g_assert_cmpuint (e.drops, ==, G_MAXUINT64);
}

static void
test_parse_rejects_garbage (void)
{
  static const char *bad[] = {
    "",
    "\n",
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
        "retrnsmt   uid  timeout inode ref pointer drops",
    "  771: 0100007F:138C 00000000:0000 07",       /* truncated */
    "  x71: 0100007F:138C 00000000:0000 07 0:0 0:0 0 0 0 1 2 0 0",
    "  771: 0100007F138C 00000000:0000 07 0:0 0:0 0 0 0 1 2 0 0",
    "  771: 0100007F:1FFFF 00000000:0000 07 0:0 0:0 0 0 0 1 2 0 0",
    "  771: 0100007F:138C 00000000:0000 07 0:0 0:0 0 0 0 -1 2 0 0",
    "  771: 0100007F:138C 00000000:0000 07 0:0 0:0 0 0 0 1 2 0 12ab",
    "  771: 0100007F:138C 00000000:0000 07 0:0 0:0 0 0 0 1 2 0 "
        "99999999999999999999999",
  };
  struct vdm_udp_proc_entry e;
  char huge[4096];

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    g_assert_false (vdm_udp_proc_parse_line (bad[i], &e));
  g_assert_false (vdm_udp_proc_parse_line (NULL, &e));
  g_assert_false (vdm_udp_proc_parse_line (udp4_line, NULL));

  memset (huge, '7', sizeof huge - 1);
  huge[sizeof huge - 1] = '\0';
  g_assert_false (vdm_udp_proc_parse_line (huge, &e));
}

static void
test_errors (void)
{
  uint64_t drops = 0;
  int fds[2];
  int tcp;

  g_assert_cmpint (vdm_udp_proc_drops (-1, &drops), ==, -EBADF);
  g_assert_cmpint (pipe (fds), ==, 0);
  g_assert_cmpint (vdm_udp_proc_drops (fds[0], &drops), ==, -ENOTSOCK);
  close (fds[0]);
  close (fds[1]);

  tcp = socket (AF_INET, SOCK_STREAM, 0);
  g_assert_cmpint (tcp, >=, 0);
  g_assert_cmpint (vdm_udp_proc_drops (tcp, &drops), ==, -ENOENT);
  g_assert_cmpint (vdm_udp_proc_drops (tcp, NULL), ==, -EINVAL);
  close (tcp);

  g_assert_cmpint (vdm_udp_proc_drops_by_inode (0, &drops), ==, -EINVAL);
}

/* A bound UDP socket on the loopback address of `family` with the smallest
 * receive buffer the kernel allows, so that a burst overruns it. */
static int
make_tiny_receiver (int family, struct sockaddr_storage *addr,
    socklen_t *addr_len)
{
  int fd = socket (family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  int rcvbuf = 2048;            /* the kernel clamps this to its minimum */

  if (fd < 0)
    return -1;
  memset (addr, 0, sizeof *addr);
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *) addr;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    *addr_len = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *) addr;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    *addr_len = sizeof *a;
  }
  if (setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0
      || bind (fd, (struct sockaddr *) addr, *addr_len) != 0
      || getsockname (fd, (struct sockaddr *) addr, addr_len) != 0) {
    close (fd);
    return -1;
  }
  return fd;
}

static unsigned
drain (int fd)
{
  char buf[PACKET_LEN];
  unsigned n = 0;

  while (recv (fd, buf, sizeof buf, 0) >= 0)
    n++;
  g_assert_true (errno == EAGAIN || errno == EWOULDBLOCK);
  return n;
}

static void
send_burst (int family, const struct sockaddr_storage *to, socklen_t to_len)
{
  char payload[PACKET_LEN];
  int fd = socket (family, SOCK_DGRAM, 0);

  g_assert_cmpint (fd, >=, 0);
  memset (payload, 0xa5, sizeof payload);
  for (int i = 0; i < N_SENT; i++)
    g_assert_cmpint (sendto (fd, payload, sizeof payload, 0,
            (const struct sockaddr *) to, to_len), ==, sizeof payload);
  close (fd);
}

/* Loopback loses nothing except at the receiving socket, so every packet
 * is either read or counted in the socket's drop counter.  Delivery goes
 * through the backlog softirq, so wait until the books balance. */
static void
check_drops_balance (int family)
{
  struct sockaddr_storage addr;
  socklen_t addr_len;
  unsigned received = 0;
  uint64_t drops = 0;
  gint64 deadline;
  int fd = make_tiny_receiver (family, &addr, &addr_len);

  if (fd < 0) {
    g_test_skip ("no loopback address for this family");
    return;
  }
  g_assert_cmpint (vdm_udp_proc_drops (fd, &drops), ==, 0);
  g_assert_cmpuint (drops, ==, 0);

  send_burst (family, &addr, addr_len);
  deadline = g_get_monotonic_time () + SETTLE_TIMEOUT_US;
  do {
    received += drain (fd);
    g_assert_cmpint (vdm_udp_proc_drops (fd, &drops), ==, 0);
    if (received + drops >= N_SENT)
      break;
    g_usleep (10000);
  } while (g_get_monotonic_time () < deadline);

  g_test_message ("family %d: sent %d received %u kernel drops %"
      G_GUINT64_FORMAT, family, N_SENT, received, drops);
  g_assert_cmpuint (received, >, 0);
  g_assert_cmpuint (drops, >, 0);
  g_assert_cmpuint (received + drops, ==, N_SENT);
  close (fd);
}

static void
test_drops_ipv4 (void)
{
  check_drops_balance (AF_INET);
}

static void
test_drops_ipv6 (void)
{
  check_drops_balance (AF_INET6);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/udp-proc/parse/valid", test_parse_valid);
  g_test_add_func ("/udp-proc/parse/garbage", test_parse_rejects_garbage);
  g_test_add_func ("/udp-proc/errors", test_errors);
  g_test_add_func ("/udp-proc/drops/ipv4", test_drops_ipv4);
  g_test_add_func ("/udp-proc/drops/ipv6", test_drops_ipv6);
  return g_test_run ();
}
