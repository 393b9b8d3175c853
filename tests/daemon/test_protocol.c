/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of daemon/protocol.c: every message round-trips, every
 * truncation and every out-of-range field is refused with a reason. */
#include <errno.h>
#include <glib.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>

#include "protocol.h"

static uint8_t frame[VDM_PROTO_MAX_FRAME];

static void expect_refused (size_t len, const char *expected_why);

static vdm_proto_flow
sample_flow (void)
{
  vdm_proto_flow f = { .family = AF_INET, .protocol = 17, .local_port = 5004,
    .netns_cookie = 4096 };
  f.local_addr[0] = 127;
  f.local_addr[3] = 1;
  return f;
}

static vdm_proto_drop
sample_drop (uint32_t watch_id, uint16_t seq)
{
  vdm_proto_drop d = { .ktime_ns = 123456789012ULL, .sock_cookie = 77, .reason = 6,
    .watch_id = watch_id, .skb_len = 1200, .attribution = VDM_PROTO_ATTR_SOCKET,
    .payload_len = 12 };
  d.flow = sample_flow ();
  strcpy (d.reason_name, "SOCKET_RCVBUFF");
  d.payload[0] = 0x80;
  d.payload[1] = 96;
  d.payload[2] = (uint8_t) (seq >> 8);
  d.payload[3] = (uint8_t) seq;
  return d;
}

/* Encodes, decodes, and checks the decoded message equals the original
 * field by field (through a second encode: byte-identical frames). */
/* With VDM_WRITE_CORPUS=DIR every round-tripped frame is also written
 * there: the fuzz target's seed corpus (tests/daemon/corpus). */
static void
maybe_write_corpus (const uint8_t *bytes, int len)
{
  static int n;
  const char *dir = g_getenv ("VDM_WRITE_CORPUS");
  gchar *path;

  if (!dir)
    return;
  path = g_strdup_printf ("%s/frame-%02d", dir, n++);
  g_assert_true (g_file_set_contents (path, (const gchar *) bytes, len, NULL));
  g_free (path);
}

static vdm_msg
round_trip (const vdm_msg *in)
{
  static uint8_t again[VDM_PROTO_MAX_FRAME];
  vdm_msg out;
  const char *why = NULL;
  int len = vdm_proto_encode (in, frame, sizeof (frame));
  int len2;

  g_assert_cmpint (len, >=, VDM_PROTO_HEADER_BYTES);
  maybe_write_corpus (frame, len);
  g_assert_cmpint (vdm_proto_frame_length (frame, (size_t) len, &why), ==, len);
  g_assert_cmpint (vdm_proto_decode (frame, (size_t) len, &out, &why), ==, 0);
  g_assert_cmpint (out.type, ==, in->type);
  g_assert_cmpuint (out.request_id, ==, in->request_id);
  len2 = vdm_proto_encode (&out, again, sizeof (again));
  g_assert_cmpint (len2, ==, len);
  g_assert_cmpmem (again, len2, frame, len);
  return out;
}

static void
test_hello (void)
{
  vdm_msg m = { .type = VDM_MSG_HELLO, .request_id = 1 }, out;
  m.u.hello.version_min = 1;
  m.u.hello.version_max = 1;
  m.u.hello.pid = 4242;
  strcpy (m.u.hello.client_name, "gst-launch-1.0");
  out = round_trip (&m);
  g_assert_cmpstr (out.u.hello.client_name, ==, "gst-launch-1.0");
  g_assert_cmpuint (out.u.hello.pid, ==, 4242);

  m.type = VDM_MSG_HELLO_REPLY;
  m.u.hello_reply = (vdm_msg_hello_reply) { .version = 1, .flags = VDM_HELLO_HAS_RX_SK,
    .max_watches = 256, .max_messages_per_second = 2000 };
  strcpy (m.u.hello_reply.daemon_version, "0.1.0");
  out = round_trip (&m);
  g_assert_cmpuint (out.u.hello_reply.max_watches, ==, 256);
  g_assert_cmpuint (out.u.hello_reply.flags, ==, VDM_HELLO_HAS_RX_SK);
}

static void
test_watch_and_reply (void)
{
  vdm_msg m = { .type = VDM_MSG_WATCH, .request_id = 7 }, out;
  strcpy (m.u.watch.element, "vdropmon0");
  strcpy (m.u.watch.pipeline, "pipeline0");
  out = round_trip (&m);
  g_assert_cmpstr (out.u.watch.element, ==, "vdropmon0");
  g_assert_cmpstr (out.u.watch.pipeline, ==, "pipeline0");

  memset (&m.u, 0, sizeof (m.u));
  m.type = VDM_MSG_WATCH_REPLY;
  m.u.watch_reply.watch_id = 3;
  m.u.watch_reply.sock_cookie = 0x1122334455667788ULL;
  m.u.watch_reply.sk_drops_at_start = 17;
  m.u.watch_reply.flow = sample_flow ();
  out = round_trip (&m);
  g_assert_cmpuint (out.u.watch_reply.sock_cookie, ==, 0x1122334455667788ULL);
  g_assert_cmpuint (out.u.watch_reply.sk_drops_at_start, ==, 17);
  g_assert_cmpuint (out.u.watch_reply.flow.netns_cookie, ==, 4096);
  g_assert_cmpuint (out.u.watch_reply.flow.local_port, ==, 5004);
}

static void
test_counters (void)
{
  vdm_msg m = { .type = VDM_MSG_COUNTERS_REPLY, .request_id = 9 }, out;
  vdm_msg_counters_reply *c = &m.u.counters_reply;
  c->watch_id = 2;
  c->total = 1000;
  c->ringbuf_lost = 3;
  c->queue_lost = 5;
  c->queue_peak = -1;
  c->n_reasons = 2;
  c->reasons[0] = (vdm_proto_reason_count) { 6, 990 };
  c->reasons[1] = (vdm_proto_reason_count) { 255, 10 };
  out = round_trip (&m);
  g_assert_cmpint (out.u.counters_reply.queue_peak, ==, -1);
  g_assert_cmpuint (out.u.counters_reply.reasons[1].slot, ==, 255);
  g_assert_cmpuint (out.u.counters_reply.reasons[0].count, ==, 990);

  m.type = VDM_MSG_COUNTERS_REQUEST;
  memset (&m.u, 0, sizeof (m.u));
  m.u.watch_ref.watch_id = 2;
  out = round_trip (&m);
  g_assert_cmpuint (out.u.watch_ref.watch_id, ==, 2);
}

/* Version 2: the queue fill the daemon pushes, and the counters it pushes
 * (a COUNTERS_REPLY with request id 0). */
static void
test_fill (void)
{
  static vdm_msg m, out;
  const char *why;
  unsigned i;
  int len, cut;

  m.type = VDM_MSG_FILL;
  m.u.fill.n_fills = 3;
  m.u.fill.fills[0] = (vdm_proto_fill) { 1, 0 };      /* back to empty: said too */
  m.u.fill.fills[1] = (vdm_proto_fill) { 0x7fff0002, 1000 };
  m.u.fill.fills[2] = (vdm_proto_fill) { 9, 517 };
  out = round_trip (&m);
  g_assert_cmpuint (out.u.fill.n_fills, ==, 3);
  g_assert_cmpuint (out.u.fill.fills[1].watch_id, ==, 0x7fff0002);
  g_assert_cmpuint (out.u.fill.fills[1].peak, ==, 1000);
  g_assert_cmpuint (out.u.fill.fills[2].peak, ==, 517);
  g_assert_cmpuint (out.request_id, ==, 0);

  /* every prefix refused */
  len = vdm_proto_encode (&m, frame, sizeof (frame));
  for (cut = 0; cut < len; cut++) {
    why = NULL;
    g_assert_cmpint (vdm_proto_decode (frame, (size_t) cut, &out, &why), ==, -EBADMSG);
    g_assert_nonnull (why);
  }
  /* fields out of range, on the wire: peak 1001 (bytes 10..11 of the
   * first entry's 6), watch id 0, count 0 */
  frame[VDM_PROTO_HEADER_BYTES + 2 + 4] = 0xe9;
  frame[VDM_PROTO_HEADER_BYTES + 2 + 5] = 0x03;
  expect_refused ((size_t) len, "fill peak above 1000");
  len = vdm_proto_encode (&m, frame, sizeof (frame));
  memset (frame + VDM_PROTO_HEADER_BYTES + 2, 0, 4);
  expect_refused ((size_t) len, "fill watch id 0");
  len = vdm_proto_encode (&m, frame, sizeof (frame));
  frame[VDM_PROTO_HEADER_BYTES] = 0;
  expect_refused ((size_t) len, "fill count not 1..1024");

  /* a whole frame of them fits the payload, one more does not encode */
  m.u.fill.n_fills = VDM_PROTO_MAX_FILLS;
  for (i = 0; i < VDM_PROTO_MAX_FILLS; i++)
    m.u.fill.fills[i] = (vdm_proto_fill) { i + 1, (uint16_t) (i % 1001) };
  out = round_trip (&m);
  g_assert_cmpuint (out.u.fill.fills[VDM_PROTO_MAX_FILLS - 1].watch_id, ==, VDM_PROTO_MAX_FILLS);
  m.u.fill.n_fills = VDM_PROTO_MAX_FILLS + 1;
  g_assert_cmpint (vdm_proto_encode (&m, frame, sizeof (frame)), ==, -EINVAL);
  m.u.fill.n_fills = 0;
  g_assert_cmpint (vdm_proto_encode (&m, frame, sizeof (frame)), ==, -EINVAL);
  m.u.fill.n_fills = 1;
  m.u.fill.fills[0].peak = 1001;
  g_assert_cmpint (vdm_proto_encode (&m, frame, sizeof (frame)), ==, -EINVAL);
  m.u.fill.fills[0] = (vdm_proto_fill) { 0, 5 };
  g_assert_cmpint (vdm_proto_encode (&m, frame, sizeof (frame)), ==, -EINVAL);

  /* the pushed counters: a reply to no request */
  memset (&m, 0, sizeof (m));
  m.type = VDM_MSG_COUNTERS_REPLY;
  m.u.counters_reply = (vdm_msg_counters_reply) { .watch_id = 3, .total = 42,
    .ringbuf_lost = 2, .queue_lost = 1, .queue_peak = -1, .n_reasons = 1 };
  m.u.counters_reply.reasons[0] = (vdm_proto_reason_count) { 6, 42 };
  out = round_trip (&m);
  g_assert_cmpuint (out.request_id, ==, 0);
  g_assert_cmpuint (out.u.counters_reply.total, ==, 42);
  g_assert_cmpuint (out.u.counters_reply.queue_lost, ==, 1);

  /* a HELLO offering versions 1 to 2 */
  memset (&m, 0, sizeof (m));
  m.type = VDM_MSG_HELLO;
  m.request_id = 1;
  m.u.hello.version_min = VDM_PROTO_VERSION_MIN;
  m.u.hello.version_max = VDM_PROTO_VERSION_MAX;
  out = round_trip (&m);
  g_assert_cmpuint (out.u.hello.version_max, ==, 2);
  /* and its header says frame format 1, which any daemon reads */
  g_assert_cmpuint (frame[2], ==, 1);
}

static void
test_drops_full_frame (void)
{
  static vdm_msg m, out;
  unsigned i;

  m.type = VDM_MSG_DROPS;
  m.u.drops.n_drops = VDM_PROTO_MAX_DROPS;
  for (i = 0; i < VDM_PROTO_MAX_DROPS; i++) {
    m.u.drops.drops[i] = sample_drop (1 + i % 3, (uint16_t) (1000 + i));
    m.u.drops.drops[i].payload_len = VDM_PROTO_PAYLOAD_BYTES;
  }
  out = round_trip (&m);
  g_assert_cmpuint (out.u.drops.n_drops, ==, VDM_PROTO_MAX_DROPS);
  g_assert_cmpuint (out.u.drops.drops[31].payload[3], ==, (uint8_t) (1000 + 31));
  g_assert_cmpstr (out.u.drops.drops[5].reason_name, ==, "SOCKET_RCVBUFF");
}

static void
test_small_messages (void)
{
  vdm_msg m = { .type = VDM_MSG_CATCH_UP }, out;
  m.u.catch_up = (vdm_msg_catch_up) { .watch_id = 4, .kind = VDM_CATCH_UP_BEFORE_WATCH,
    .count = 12, .sk_drops_now = 40 };
  out = round_trip (&m);
  g_assert_cmpuint (out.u.catch_up.count, ==, 12);

  m.type = VDM_MSG_RESULT;
  m.u.result.status = EPERM;
  strcpy (m.u.result.text, "watch refused: no socket attached");
  out = round_trip (&m);
  g_assert_cmpuint (out.u.result.status, ==, EPERM);
  g_assert_cmpstr (out.u.result.text, ==, "watch refused: no socket attached");

  m.type = VDM_MSG_STATUS_REQUEST;
  round_trip (&m);

  memset (&m.u, 0, sizeof (m.u));
  m.type = VDM_MSG_STATUS_ENTRY;
  m.u.status_entry.client_id = 5;
  m.u.status_entry.pid = 100;
  m.u.status_entry.uid = 65534;
  strcpy (m.u.status_entry.command, "gst-launch-1.0");
  out = round_trip (&m);        /* a client without watch: no flow on the wire */
  g_assert_cmpuint (out.u.status_entry.watch_id, ==, 0);
  m.u.status_entry.watch_id = 1;
  m.u.status_entry.flow = sample_flow ();
  m.u.status_entry.drops = 99;
  out = round_trip (&m);
  g_assert_cmpuint (out.u.status_entry.drops, ==, 99);
  g_assert_cmpuint (out.u.status_entry.uid, ==, 65534);
}

static void
test_analytics (void)
{
  vdm_msg m = { .type = VDM_MSG_ANALYTICS }, out;
  m.u.analytics.watch_id = 0;
  strcpy (m.u.analytics.element, "vdropmon0");
  m.u.analytics.n_metrics = 2;
  strcpy (m.u.analytics.metrics[0].key, "jitter_ms");
  m.u.analytics.metrics[0].value = 1.25;
  strcpy (m.u.analytics.metrics[1].key, "rtp-gaps");
  m.u.analytics.metrics[1].value = -3;
  out = round_trip (&m);
  g_assert_cmpfloat (out.u.analytics.metrics[0].value, ==, 1.25);
  g_assert_cmpstr (out.u.analytics.metrics[1].key, ==, "rtp-gaps");

  m.u.analytics.metrics[1].value = NAN;
  g_assert_cmpint (vdm_proto_encode (&m, frame, sizeof (frame)), ==, -EINVAL);
  m.u.analytics.metrics[1].value = 0;
  strcpy (m.u.analytics.metrics[1].key, "Bad Key");
  g_assert_cmpint (vdm_proto_encode (&m, frame, sizeof (frame)), ==, -EINVAL);
}

/* Every proper prefix of a valid frame is refused. */
static void
test_truncation (void)
{
  static vdm_msg m, out;
  const char *why;
  int len, cut;

  m.type = VDM_MSG_DROPS;
  m.u.drops.n_drops = 3;
  m.u.drops.drops[0] = sample_drop (1, 1);
  m.u.drops.drops[1] = sample_drop (2, 2);
  m.u.drops.drops[2] = sample_drop (2, 3);
  len = vdm_proto_encode (&m, frame, sizeof (frame));
  g_assert_cmpint (len, >, 0);
  for (cut = 0; cut < len; cut++) {
    why = NULL;
    g_assert_cmpint (vdm_proto_decode (frame, (size_t) cut, &out, &why), ==, -EBADMSG);
    g_assert_nonnull (why);
  }
  /* A shortened payload with a header saying so still fails inside the body. */
  frame[4] = (uint8_t) (len - VDM_PROTO_HEADER_BYTES - 1);
  frame[5] = (uint8_t) ((len - VDM_PROTO_HEADER_BYTES - 1) >> 8);
  why = NULL;
  g_assert_cmpint (vdm_proto_decode (frame, (size_t) len - 1, &out, &why), ==, -EBADMSG);
  g_assert_nonnull (why);
}

static int
encode_hello (void)
{
  vdm_msg m = { .type = VDM_MSG_HELLO };
  m.u.hello.version_min = m.u.hello.version_max = 1;
  strcpy (m.u.hello.client_name, "abc");
  return vdm_proto_encode (&m, frame, sizeof (frame));
}

static void
expect_refused (size_t len, const char *expected_why)
{
  vdm_msg out;
  const char *why = NULL;
  g_assert_cmpint (vdm_proto_decode (frame, len, &out, &why), ==, -EBADMSG);
  g_assert_cmpstr (why, ==, expected_why);
}

static void
test_header_checks (void)
{
  int len = encode_hello ();
  const char *why = NULL;

  frame[0] ^= 0xff;
  expect_refused ((size_t) len, "bad magic (not a vdropmond frame)");
  len = encode_hello ();
  frame[2] = 2;
  expect_refused ((size_t) len, "unsupported frame format version");
  len = encode_hello ();
  frame[3] = 0;
  expect_refused ((size_t) len, "unknown message type");
  frame[3] = VDM_MSG_TYPE_MAX + 1;
  expect_refused ((size_t) len, "unknown message type");
  len = encode_hello ();
  frame[4] = 0x01;
  frame[5] = 0x20;              /* 8193 */
  g_assert_cmpint (vdm_proto_frame_length (frame, (size_t) len, &why), ==, -EBADMSG);
  g_assert_cmpstr (why, ==, "payload longer than 8192 bytes");
  g_assert_cmpint (vdm_proto_frame_length (frame, 11, &why), ==, 0);
  /* trailing byte after a complete message */
  len = encode_hello ();
  frame[len] = 0;
  frame[4]++;
  expect_refused ((size_t) len + 1, "trailing bytes after the message");
}

static void
test_field_limits (void)
{
  static vdm_msg m;
  int len;

  /* a string longer than its limit */
  m.type = VDM_MSG_HELLO;
  m.u.hello.version_min = m.u.hello.version_max = 1;
  memset (m.u.hello.client_name, 'a', VDM_PROTO_NAME_MAX);
  m.u.hello.client_name[VDM_PROTO_NAME_MAX] = '\0';
  len = vdm_proto_encode (&m, frame, sizeof (frame));
  g_assert_cmpint (len, >, 0);
  frame[VDM_PROTO_HEADER_BYTES + 8] = VDM_PROTO_NAME_MAX + 1;  /* string length */
  expect_refused ((size_t) len, "client name");
  /* a control character inside a string */
  len = vdm_proto_encode (&m, frame, sizeof (frame));
  frame[VDM_PROTO_HEADER_BYTES + 10] = '\n';
  expect_refused ((size_t) len, "client name");

  /* drop count 0, and a drop's payload length above 64 */
  memset (&m, 0, sizeof (m));
  m.type = VDM_MSG_DROPS;
  m.u.drops.n_drops = 1;
  m.u.drops.drops[0] = sample_drop (1, 5);
  len = vdm_proto_encode (&m, frame, sizeof (frame));
  frame[VDM_PROTO_HEADER_BYTES] = 0;
  expect_refused ((size_t) len, "drop count not 1..32");
  len = vdm_proto_encode (&m, frame, sizeof (frame));
  /* payload_len sits right before the 12 payload bytes at the end */
  frame[len - 12 - 1] = 65;
  expect_refused ((size_t) len, "drop payload length above 64");

  /* the encoder refuses the same */
  m.u.drops.drops[0].payload_len = 65;
  g_assert_cmpint (vdm_proto_encode (&m, frame, sizeof (frame)), ==, -EINVAL);
  m.u.drops.drops[0].payload_len = 1;
  m.u.drops.drops[0].attribution = 9;
  g_assert_cmpint (vdm_proto_encode (&m, frame, sizeof (frame)), ==, -EINVAL);
  m.u.drops.n_drops = VDM_PROTO_MAX_DROPS + 1;
  g_assert_cmpint (vdm_proto_encode (&m, frame, sizeof (frame)), ==, -EINVAL);

  /* a watch reply with a flow of an unknown family */
  memset (&m, 0, sizeof (m));
  m.type = VDM_MSG_WATCH_REPLY;
  m.u.watch_reply.watch_id = 1;
  m.u.watch_reply.flow = sample_flow ();
  len = vdm_proto_encode (&m, frame, sizeof (frame));
  frame[VDM_PROTO_HEADER_BYTES + 20] = 1;     /* AF_UNIX */
  expect_refused ((size_t) len, "flow family/protocol is not IPv4/IPv6 UDP/TCP");

  /* a too small output buffer */
  g_assert_cmpint (vdm_proto_encode (&m, frame, 20), ==, -EMSGSIZE);
}

/* Deterministic mutation: flipping any byte of valid frames never makes the
 * decoder read out of bounds (ASan/valgrind would say) and any success is a
 * message that re-encodes. */
static void
test_mutations (void)
{
  static vdm_msg m, out;
  uint8_t copy[VDM_PROTO_MAX_FRAME];
  GRand *rand = g_rand_new_with_seed (42);
  int len, i, accepted = 0, refused = 0;

  m.type = VDM_MSG_DROPS;
  m.u.drops.n_drops = 2;
  m.u.drops.drops[0] = sample_drop (1, 1);
  m.u.drops.drops[1] = sample_drop (2, 2);
  len = vdm_proto_encode (&m, frame, sizeof (frame));
  for (i = 0; i < 20000; i++) {
    const char *why = NULL;
    memcpy (copy, frame, (size_t) len);
    copy[g_rand_int_range (rand, 0, len)] = (uint8_t) g_rand_int_range (rand, 0, 256);
    if (vdm_proto_decode (copy, (size_t) len, &out, &why) == 0) {
      static uint8_t again[VDM_PROTO_MAX_FRAME];
      g_assert_cmpint (vdm_proto_encode (&out, again, sizeof (again)), >, 0);
      accepted++;
    } else {
      g_assert_nonnull (why);
      refused++;
    }
  }
  g_rand_free (rand);
  g_assert_cmpint (accepted, >, 0);
  g_assert_cmpint (refused, >, 0);
}

static void
test_type_direction (void)
{
  g_assert_true (vdm_proto_type_from_client (VDM_MSG_WATCH));
  g_assert_true (vdm_proto_type_from_client (VDM_MSG_ANALYTICS));
  g_assert_false (vdm_proto_type_from_client (VDM_MSG_DROPS));
  g_assert_false (vdm_proto_type_from_client (VDM_MSG_HELLO_REPLY));
  g_assert_false (vdm_proto_type_from_client (0));
  g_assert_false (vdm_proto_type_from_client (VDM_MSG_FILL));
  g_assert_cmpstr (vdm_proto_type_name (VDM_MSG_FILL), ==, "fill");
  g_assert_cmpstr (vdm_proto_type_name (VDM_MSG_CATCH_UP), ==, "catch-up");
  g_assert_cmpstr (vdm_proto_type_name (200), ==, "unknown");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/protocol/hello", test_hello);
  g_test_add_func ("/protocol/watch", test_watch_and_reply);
  g_test_add_func ("/protocol/counters", test_counters);
  g_test_add_func ("/protocol/fill", test_fill);
  g_test_add_func ("/protocol/drops-full-frame", test_drops_full_frame);
  g_test_add_func ("/protocol/small-messages", test_small_messages);
  g_test_add_func ("/protocol/analytics", test_analytics);
  g_test_add_func ("/protocol/truncation", test_truncation);
  g_test_add_func ("/protocol/header", test_header_checks);
  g_test_add_func ("/protocol/field-limits", test_field_limits);
  g_test_add_func ("/protocol/mutations", test_mutations);
  g_test_add_func ("/protocol/direction", test_type_direction);
  return g_test_run ();
}
