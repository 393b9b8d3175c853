/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of flow_spec: parsing hand-written flows, lists, printing, equality. */
#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "flow_spec.h"

static struct vdm_flow_key
parse_ok (const char *text)
{
  struct vdm_flow_key flow;
  char err[128] = "";
  if (!vdm_flow_parse (text, &flow, err, sizeof (err)))
    g_error ("'%s' should parse, got: %s", text, err);
  return flow;
}

static char *
format (const struct vdm_flow_key *flow)
{
  static char buf[VDM_FLOW_STRING_MAX];
  vdm_flow_format (flow, buf, sizeof (buf));
  return buf;
}

/* Parses and prints back. */
static void
assert_round_trip (const char *text, const char *expected)
{
  struct vdm_flow_key flow = parse_ok (text);
  g_assert_cmpstr (format (&flow), ==, expected);
  /* What is printed (with ':' for the space) parses to the same flow. */
  char *again = g_strdup (expected);
  again[3] = ':';
  struct vdm_flow_key reparsed = parse_ok (again);
  g_assert_true (vdm_flow_equal (&flow, &reparsed));
  g_free (again);
}

static void
test_parse_forms (void)
{
  struct vdm_flow_key f = parse_ok ("5004");
  g_assert_cmpuint (f.family, ==, AF_INET);
  g_assert_cmpuint (f.protocol, ==, IPPROTO_UDP);
  g_assert_cmpuint (f.local_port, ==, 5004);
  g_assert_cmpuint (f.remote_port, ==, 0);
  static const guint8 zero[16] = { 0 };
  g_assert_cmpmem (f.local_addr, 16, zero, 16);
  g_assert_cmpmem (f.remote_addr, 16, zero, 16);

  f = parse_ok ("tcp:8554");
  g_assert_cmpuint (f.protocol, ==, IPPROTO_TCP);
  g_assert_cmpuint (f.local_port, ==, 8554);

  f = parse_ok ("UDP:239.1.1.1:5004");
  g_assert_cmpuint (f.protocol, ==, IPPROTO_UDP);
  g_assert_cmpmem (f.local_addr, 4, "\xef\x01\x01\x01", 4);
  g_assert_cmpmem (f.local_addr + 4, 12, zero, 12);

  f = parse_ok ("udp:[::1]:5004");
  g_assert_cmpuint (f.family, ==, AF_INET6);
  g_assert_cmpmem (f.local_addr, 16, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);

  f = parse_ok ("tcp:127.0.0.1:41234->127.0.0.2:8554");
  g_assert_cmpuint (f.protocol, ==, IPPROTO_TCP);
  g_assert_cmpuint (f.local_port, ==, 41234);
  g_assert_cmpuint (f.remote_port, ==, 8554);
  g_assert_cmpmem (f.local_addr, 4, "\x7f\0\0\x01", 4);
  g_assert_cmpmem (f.remote_addr, 4, "\x7f\0\0\x02", 4);

  /* Surrounding and arrow-side white space is tolerated. */
  f = parse_ok ("  tcp:[fe80::1]:1 -> [fe80::2]:65535  ");
  g_assert_cmpuint (f.family, ==, AF_INET6);
  g_assert_cmpuint (f.remote_port, ==, 65535);
}

static void
test_parse_errors (void)
{
  static const char *const bad[] = {
    "", "   ", "udp:", "tcp", "sctp:5004", "udp5004", "0", "udp:0", "65536", "99999999999",
    "-1", "+5004", "50 04", "udp:1.2.3.4", "udp:1.2.3.4:", "udp:1.2.3:5004",
    "udp:256.1.1.1:5004", "udp:::1:5004", "udp:[::1]5004", "udp:[::1:5004", "udp:[1.2.3.4]:5",
    "udp:[::1]:0", "tcp:1.2.3.4:80->", "tcp:1.2.3.4:80->1.2.3.5:0", "tcp:1.2.3.4:80->[::1]:90",
    "tcp:[::1]:80->1.2.3.4:90", "tcp:80->->90", "udp:5004x", "udp:0x10",
    "udp:1.2.3.4:5004:6", "tcp:1.2.3.4:1->2.3.4.5:2->3.4.5.6:3",
    /* A remote end without both addresses could never match (issue 9, #8). */
    "tcp:5000->[::1]:6000", "tcp:5000->6000", "tcp:1.2.3.4:5000->6000", "udp:5004->1.2.3.4:9",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    struct vdm_flow_key flow;
    char err[128] = "";
    if (vdm_flow_parse (bad[i], &flow, err, sizeof (err)))
      g_error ("'%s' should not parse (got %s)", bad[i], format (&flow));
    g_assert_cmpstr (err, !=, "");
  }

  /* A NULL or tiny error buffer is fine. */
  struct vdm_flow_key flow;
  g_assert_false (vdm_flow_parse ("udp:0", &flow, NULL, 0));
  char tiny[4] = "xyz";
  g_assert_false (vdm_flow_parse ("udp:0", &flow, tiny, sizeof (tiny)));
  g_assert_cmpuint (strlen (tiny), <, sizeof (tiny));
  g_assert_false (vdm_flow_parse (NULL, &flow, NULL, 0));

  /* Something far too long. */
  char *huge = g_strnfill (5000, '1');
  g_assert_false (vdm_flow_parse (huge, &flow, NULL, 0));
  g_assert_cmpint (vdm_flow_parse_list (huge, &flow, 1, NULL, 0), ==, -1);
  g_free (huge);
}

static void
test_format (void)
{
  assert_round_trip ("5004", "udp 0.0.0.0:5004");
  assert_round_trip ("udp:[::]:5004", "udp [::]:5004");
  assert_round_trip ("udp:[::1]:5004", "udp [::1]:5004");
  assert_round_trip ("tcp:127.0.0.1:41234->127.0.0.1:8554", "tcp 127.0.0.1:41234->127.0.0.1:8554");
  assert_round_trip ("tcp:[2001:db8::5]:5000->[2001:db8::1:0:0:7]:6000",
      "tcp [2001:db8::5]:5000->[2001:db8::1:0:0:7]:6000");

  /* The longest flow fits in VDM_FLOW_STRING_MAX. */
  assert_round_trip ("tcp:[1111:2222:3333:4444:5555:6666:7777:8888]:65535->"
      "[1111:2222:3333:4444:5555:6666:7777:8888]:65535",
      "tcp [1111:2222:3333:4444:5555:6666:7777:8888]:65535->"
      "[1111:2222:3333:4444:5555:6666:7777:8888]:65535");

  /* A short buffer is cut, never overrun. */
  struct vdm_flow_key f = parse_ok ("udp:239.1.1.1:5004");
  char small[8];
  vdm_flow_format (&f, small, sizeof (small));
  g_assert_cmpstr (small, ==, "udp 239");
  vdm_flow_format (&f, small, 0);
}

static void
test_equal (void)
{
  struct vdm_flow_key a = parse_ok ("udp:1.2.3.4:5004");
  struct vdm_flow_key b = parse_ok ("udp:1.2.3.4:5004");
  g_assert_true (vdm_flow_equal (&a, &b));
  /* Bytes beyond the IPv4 address do not count. */
  b.local_addr[10] = 0x55;
  b.pad = 7;
  g_assert_true (vdm_flow_equal (&a, &b));

  static const char *const others[] = {
    "tcp:1.2.3.4:5004", "udp:1.2.3.5:5004", "udp:1.2.3.4:5005", "udp:5004",
    "udp:1.2.3.4:5004->1.1.1.1:9", "udp:[::1.2.3.4]:5004",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (others); i++) {
    b = parse_ok (others[i]);
    g_assert_false (vdm_flow_equal (&a, &b));
  }
  a = parse_ok ("udp:[::1]:5004");
  b = parse_ok ("udp:[::2]:5004");
  g_assert_false (vdm_flow_equal (&a, &b));
}

static void
test_list (void)
{
  struct vdm_flow_key flows[4];
  char err[128] = "";

  g_assert_cmpint (vdm_flow_parse_list ("", flows, 4, err, sizeof (err)), ==, 0);
  g_assert_cmpint (vdm_flow_parse_list (" ,; ", flows, 4, err, sizeof (err)), ==, 0);
  g_assert_cmpint (vdm_flow_parse_list (NULL, flows, 4, err, sizeof (err)), ==, 0);

  int n = vdm_flow_parse_list ("udp:5004, tcp:127.0.0.1:41234 -> 127.0.0.1:8554;6000\t[::1]:7000",
      flows, 4, err, sizeof (err));
  g_assert_cmpint (n, ==, 4);
  g_assert_cmpstr (format (&flows[0]), ==, "udp 0.0.0.0:5004");
  g_assert_cmpstr (format (&flows[1]), ==, "tcp 127.0.0.1:41234->127.0.0.1:8554");
  g_assert_cmpstr (format (&flows[2]), ==, "udp 0.0.0.0:6000");
  g_assert_cmpstr (format (&flows[3]), ==, "udp [::1]:7000");

  /* The arrow may stand alone or touch either side. */
  n = vdm_flow_parse_list ("tcp:1.1.1.1:1-> 2.2.2.2:2 tcp:1.1.1.1:3 ->2.2.2.2:4", flows, 4, err,
      sizeof (err));
  g_assert_cmpint (n, ==, 2);
  g_assert_cmpuint (flows[1].remote_port, ==, 4);

  /* The same flow twice is watched once. */
  n = vdm_flow_parse_list ("5004 udp:5004 udp:0.0.0.0:5004", flows, 4, err, sizeof (err));
  g_assert_cmpint (n, ==, 1);

  /* One bad entry fails the whole list, and says which. */
  n = vdm_flow_parse_list ("5004, udp:70000, 6000", flows, 4, err, sizeof (err));
  g_assert_cmpint (n, ==, -1);
  g_assert_nonnull (strstr (err, "70000"));

  /* More flows than room: an error, not a silent cut. */
  n = vdm_flow_parse_list ("1 2 3 4 5", flows, 4, err, sizeof (err));
  g_assert_cmpint (n, ==, -1);
  g_assert_cmpstr (err, !=, "");
  n = vdm_flow_parse_list ("1 2 3 4", flows, 4, err, sizeof (err));
  g_assert_cmpint (n, ==, 4);

  /* A dangling arrow at the end is an error. */
  n = vdm_flow_parse_list ("tcp:1.1.1.1:1 ->", flows, 4, err, sizeof (err));
  g_assert_cmpint (n, ==, -1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/flow_spec/parse-forms", test_parse_forms);
  g_test_add_func ("/flow_spec/parse-errors", test_parse_errors);
  g_test_add_func ("/flow_spec/format", test_format);
  g_test_add_func ("/flow_spec/equal", test_equal);
  g_test_add_func ("/flow_spec/list", test_list);
  return g_test_run ();
}
