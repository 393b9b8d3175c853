/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdm-daemon-probe — speaks the vdropmond protocol by hand, to test what the
 * daemon refuses and what it survives (tests/daemon/daemon_tests.py):
 *
 *   refusals   watches without a socket, of non-sockets, of unbound or
 *              non-IP sockets, and another client's watch ids are refused
 *              with the documented errno; a real socket is accepted and the
 *              daemon derives its cookie and netns from it.
 *   fuzz       N connections, each sending one malformed frame (random
 *              bytes, mutated valid frames, daemon-only types, stray or
 *              extra fds, oversized records, frames before hello); each
 *              must end with the daemon closing that connection.
 *   never-read watches a UDP socket and never reads the daemon's frames.
 *   versions   protocol versions: a client speaking only a future version is
 *              refused with a sentence naming both ranges; a version 2 and a
 *              version 1 session watch one overflowing socket: version 2 is
 *              pushed its queue fill (FILL) and counters (equal to the
 *              kernel's) unasked, then nothing while the socket is idle;
 *              version 1 is pushed neither and still gets both by asking.
 *
 * Exit 0 when every expectation held; each failure is printed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"
#include "wire.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

static int failures;

#define EXPECT(cond, ...) do { if (!(cond)) { failures++; fprintf (stderr, "FAIL: " __VA_ARGS__); \
      fputc ('\n', stderr); } } while (0)

static int
next_msg (int sock, vdm_msg *m, int timeout_ms)
{
  static uint8_t frame[VDM_PROTO_MAX_FRAME];
  struct pollfd p = { .fd = sock, .events = POLLIN };
  const char *why;
  int len, fd;

  if (poll (&p, 1, timeout_ms) <= 0)
    return -ETIMEDOUT;
  len = vdm_wire_recv (sock, frame, &fd);
  if (fd >= 0)
    close (fd);
  if (len <= 0)
    return len == 0 ? -ECONNRESET : len;
  return vdm_proto_decode (frame, (size_t) len, m, &why);
}

/* Connects and says HELLO offering versions min..max; *reply is the answer
 * (HELLO_REPLY or RESULT). Returns the socket, or -1 without an answer. */
static int
connect_versions (const char *path, uint16_t min, uint16_t max, vdm_msg *reply)
{
  vdm_msg m = { .type = VDM_MSG_HELLO, .request_id = 1 };
  int sock = vdm_wire_connect (path, 0);

  if (sock < 0) {
    fprintf (stderr, "probe: connect %s: %s\n", path, strerror (-sock));
    exit (1);
  }
  m.u.hello.version_min = min;
  m.u.hello.version_max = max;
  strcpy (m.u.hello.client_name, "vdm-daemon-probe");
  if (vdm_wire_send (sock, &m, -1) < 0 || next_msg (sock, reply, 3000) < 0) {
    close (sock);
    return -1;
  }
  return sock;
}

static int
connect_hello (const char *path)
{
  vdm_msg m;
  int sock = connect_versions (path, VDM_PROTO_VERSION_MIN, VDM_PROTO_VERSION_MIN, &m);

  if (sock < 0 || m.type != VDM_MSG_HELLO_REPLY) {
    fprintf (stderr, "probe: no hello reply\n");
    exit (1);
  }
  return sock;
}

/* Sends req (with fd) and returns the RESULT status, or 0 for another reply
 * type (copied to *reply). */
static int
request (int sock, vdm_msg *req, int fd, vdm_msg *reply)
{
  static uint32_t id = 10;
  int err;

  req->request_id = ++id;
  err = vdm_wire_send (sock, req, fd);
  if (err < 0)
    return err;
  do
    err = next_msg (sock, reply, 3000);
  while (err == 0 && reply->request_id != req->request_id);
  if (err < 0)
    return err;
  return reply->type == VDM_MSG_RESULT ? (int) reply->u.result.status : 0;
}

static void
udp_socket_bind (int fd)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  bind (fd, (struct sockaddr *) &a, sizeof (a));
}

static int
udp_socket (bool bind_it)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (bind_it)
    bind (fd, (struct sockaddr *) &a, sizeof (a));
  return fd;
}

static void
expect_refused (int sock, int fd, int expected, const char *what)
{
  vdm_msg req = { .type = VDM_MSG_WATCH }, reply;
  int status = request (sock, &req, fd, &reply);

  EXPECT (status == expected, "%s: status %d (%s), expected %d (%s)", what, status,
      status > 0 ? strerror (status) : "-", expected, strerror (expected));
  if (status > 0)
    printf ("refused %s: %s\n", what, reply.u.result.text);
}

static void
check_refusals (const char *path, unsigned max_foreign_id)
{
  int sock = connect_hello (path), pipefd[2], unix_pair[2], fd;
  vdm_msg req = { .type = VDM_MSG_WATCH }, reply;
  uint64_t cookie = 0, netns = 0;
  socklen_t len = sizeof (cookie);
  unsigned id, own;

  expect_refused (sock, -1, EPERM, "a watch without a socket (port only)");
  pipe (pipefd);
  expect_refused (sock, pipefd[0], ENOTSOCK, "a pipe");
  socketpair (AF_UNIX, SOCK_DGRAM, 0, unix_pair);
  expect_refused (sock, unix_pair[0], EAFNOSUPPORT, "a Unix socket");
  fd = udp_socket (false);
  expect_refused (sock, fd, EDESTADDRREQ, "an unbound UDP socket");
  close (fd);

  fd = udp_socket (true);
  EXPECT (request (sock, &req, fd, &reply) == 0 && reply.type == VDM_MSG_WATCH_REPLY,
      "a bound UDP socket of ours was not accepted");
  getsockopt (fd, SOL_SOCKET, SO_COOKIE, &cookie, &len);
  len = sizeof (netns);
  getsockopt (fd, SOL_SOCKET, SO_NETNS_COOKIE, &netns, &len);
  EXPECT (reply.u.watch_reply.sock_cookie == cookie, "cookie %llu, the socket's is %llu",
      (unsigned long long) reply.u.watch_reply.sock_cookie, (unsigned long long) cookie);
  EXPECT (reply.u.watch_reply.flow.netns_cookie == netns, "netns %llu, the socket's is %llu",
      (unsigned long long) reply.u.watch_reply.flow.netns_cookie, (unsigned long long) netns);
  own = reply.u.watch_reply.watch_id;
  printf ("accepted own socket: watch %u cookie %llu netns %llu\n", own,
      (unsigned long long) cookie, (unsigned long long) netns);

  /* Every other watch id (another client's) is not ours to read or end. */
  for (id = 1; id <= max_foreign_id; id++) {
    vdm_msg c = { .type = VDM_MSG_COUNTERS_REQUEST };
    if (id == own)
      continue;
    c.u.watch_ref.watch_id = id;
    EXPECT (request (sock, &c, -1, &reply) == ENOENT, "counters of watch %u were given", id);
    c.type = VDM_MSG_UNWATCH;
    EXPECT (request (sock, &c, -1, &reply) == ENOENT, "unwatch of watch %u was accepted", id);
  }
  close (sock);
}

/* ---- fuzz ------------------------------------------------------------ */

static uint64_t rng_state;

static uint32_t
rng (void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t) rng_state;
}

static int
valid_frame (uint8_t *buf, uint8_t type)
{
  vdm_msg m = { .type = type, .request_id = rng () };

  switch (type) {
    case VDM_MSG_WATCH:
      strcpy (m.u.watch.element, "e");
      break;
    case VDM_MSG_COUNTERS_REQUEST:
    case VDM_MSG_UNWATCH:
      m.u.watch_ref.watch_id = 1 + rng () % 300;
      break;
    case VDM_MSG_ANALYTICS:
      m.u.analytics.n_metrics = 1;
      strcpy (m.u.analytics.metrics[0].key, "jitter");
      break;
    case VDM_MSG_RESULT:
      strcpy (m.u.result.text, "x");
      break;
    case VDM_MSG_FILL:
      m.u.fill.n_fills = 1;
      m.u.fill.fills[0] = (vdm_proto_fill) { 1 + rng () % 300, (uint16_t) (rng () % 1001) };
      break;
    default:
      m.type = VDM_MSG_STATUS_REQUEST;
  }
  return vdm_proto_encode (&m, buf, VDM_PROTO_MAX_FRAME);
}

/* One malformed frame of a random kind; returns its length and sets how
 * many fds go with it. */
static size_t
malformed_frame (uint8_t *buf, size_t cap, int *n_fds, bool *needs_hello)
{
  unsigned kind = rng () % 6, i;
  size_t len;

  *n_fds = 0;
  *needs_hello = true;
  switch (kind) {
    case 0:                     /* random bytes, random length */
      len = rng () % 300;
      for (i = 0; i < len; i++)
        buf[i] = (uint8_t) rng ();
      return len;
    case 1:                     /* a valid frame with bytes flipped, then a bad magic */
      len = (size_t) valid_frame (buf, (uint8_t) (VDM_MSG_WATCH + rng () % 9));
      for (i = 0; i < 1 + rng () % 4; i++)
        buf[rng () % len] ^= (uint8_t) (1 + rng () % 255);
      buf[0] ^= 0xff;           /* so it is refused for sure */
      return len;
    case 2:                     /* a frame only the daemon may send */
      return (size_t) valid_frame (buf, rng () % 2 ? VDM_MSG_RESULT : VDM_MSG_FILL);
    case 3:                     /* an fd beside a frame that takes none */
      *n_fds = 1;
      return (size_t) valid_frame (buf, VDM_MSG_STATUS_REQUEST);
    case 4:                     /* a record larger than any frame */
      len = cap;
      memset (buf, 0x41, len);
      return len;
    default:                    /* a valid request before hello */
      *needs_hello = false;
      return (size_t) valid_frame (buf, VDM_MSG_STATUS_REQUEST);
  }
}

static int
send_raw (int sock, const uint8_t *buf, size_t len, int n_fds)
{
  int fds[2] = { STDIN_FILENO, STDERR_FILENO };
  union {
    char buf[CMSG_SPACE (sizeof (fds))];
    struct cmsghdr align;
  } control;
  struct iovec iov = { .iov_base = (void *) buf, .iov_len = len };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

  if (n_fds) {
    struct cmsghdr *cm;
    mh.msg_control = control.buf;
    mh.msg_controllen = CMSG_SPACE (sizeof (int) * n_fds);
    cm = CMSG_FIRSTHDR (&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN (sizeof (int) * n_fds);
    memcpy (CMSG_DATA (cm), fds, sizeof (int) * n_fds);
  }
  return sendmsg (sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static void
fuzz (const char *path, unsigned count, uint64_t seed)
{
  static uint8_t buf[VDM_PROTO_MAX_FRAME + 64];
  unsigned i, closed = 0;

  rng_state = seed ? seed : 1;
  for (i = 0; i < count; i++) {
    int n_fds, sock;
    bool needs_hello;
    size_t len = malformed_frame (buf, sizeof (buf), &n_fds, &needs_hello);
    vdm_msg m;
    int err;

    sock = needs_hello ? connect_hello (path) : vdm_wire_connect (path, 0);
    if (sock < 0) {
      fprintf (stderr, "probe: connect: %s\n", strerror (-sock));
      exit (1);
    }
    if (len == 0) {             /* an empty record: the daemon reads EOF-like 0; end it */
      shutdown (sock, SHUT_WR);
    } else if (send_raw (sock, buf, len, n_fds) < 0 && errno != EPIPE) {
      /* a send refused locally (e.g. too large) is not the daemon's doing */
    }
    /* The daemon must close this connection (maybe after an error reply). */
    while ((err = next_msg (sock, &m, 3000)) == 0)
      ;
    closed += err == -ECONNRESET || err == -EBADMSG || err == -EPIPE;
    EXPECT (err != -ETIMEDOUT, "frame %u (%zu bytes): the daemon kept the connection open", i, len);
    close (sock);
  }
  printf ("fuzz: %u malformed frames, %u connections closed by the daemon\n", count, closed);
}

static void
never_read (const char *path, uint16_t port, unsigned seconds)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons (port),
    .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  int sock = connect_hello (path), fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rcvbuf = 4096;
  vdm_msg req = { .type = VDM_MSG_WATCH }, reply;

  setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof (rcvbuf));
  if (bind (fd, (struct sockaddr *) &a, sizeof (a)) < 0 || request (sock, &req, fd, &reply) != 0) {
    fprintf (stderr, "probe: cannot watch port %u\n", port);
    exit (1);
  }
  printf ("never-read: watching port %u as watch %u; not reading for %u s\n", port,
      reply.u.watch_reply.watch_id, seconds);
  fflush (stdout);
  sleep (seconds);
}

/* ---- versions --------------------------------------------------------- */

typedef struct {
  unsigned fills, fills_nonzero, pushed_counters, drops, other;
  int last_fill;                /* the last FILL peak of the watch, -1 none */
  uint64_t last_pushed_total;
} pushed;

/* Reads every frame that arrives within ms, tallying what was pushed. */
static void
collect_pushed (int sock, uint32_t watch_id, unsigned ms, pushed *p)
{
  static vdm_msg m;
  uint64_t end;
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  end = (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000 + ms;
  for (;;) {
    uint64_t now;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    now = (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
    if (now >= end || next_msg (sock, &m, (int) (end - now)) < 0)
      return;
    if (m.type == VDM_MSG_FILL) {
      p->fills++;
      for (unsigned i = 0; i < m.u.fill.n_fills; i++) {
        if (m.u.fill.fills[i].watch_id != watch_id)
          continue;
        p->last_fill = m.u.fill.fills[i].peak;
        p->fills_nonzero += p->last_fill > 0;
      }
    } else if (m.type == VDM_MSG_COUNTERS_REPLY && m.request_id == 0) {
      p->pushed_counters++;
      if (m.u.counters_reply.watch_id == watch_id)
        p->last_pushed_total = m.u.counters_reply.total;
    } else if (m.type == VDM_MSG_DROPS) {
      p->drops++;
    } else {
      p->other++;
    }
  }
}

static uint64_t
socket_drops (int fd)
{
  uint32_t meminfo[16] = { 0 };    /* SK_MEMINFO_VARS is 9 */
  socklen_t len = sizeof (meminfo);

  getsockopt (fd, SOL_SOCKET, 55 /* SO_MEMINFO */, meminfo, &len);
  return meminfo[8];               /* SK_MEMINFO_DROPS */
}

/* Overflows fd (bound to 127.0.0.1, a small buffer, never read) with n
 * datagrams of its own. */
static void
overflow (int fd, unsigned n)
{
  struct sockaddr_in a;
  socklen_t len = sizeof (a);
  char payload[200] = { 0x80, 96 };
  int tx = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  getsockname (fd, (struct sockaddr *) &a, &len);
  for (unsigned i = 0; i < n; i++)
    sendto (tx, payload, sizeof (payload), 0, (struct sockaddr *) &a, len);
  close (tx);
}

static void
check_versions (const char *path)
{
  vdm_msg reply, req = { .type = VDM_MSG_WATCH };
  pushed p2 = { .last_fill = -1 }, p1 = { .last_fill = -1 }, idle = { .last_fill = -1 };
  int rcvbuf = 4096, fd, v1, v2, sock;
  uint32_t watch;
  uint64_t kernel;

  sock = connect_versions (path, 3, 7, &reply);
  EXPECT (sock >= 0 && reply.type == VDM_MSG_RESULT && reply.u.result.status == EPROTONOSUPPORT,
      "a client of versions 3..7 was not refused with EPROTONOSUPPORT");
  if (sock >= 0 && reply.type == VDM_MSG_RESULT)
    printf ("versions 3..7 refused: %s\n", reply.u.result.text);
  EXPECT (sock >= 0 && strstr (reply.u.result.text, "speaks protocol versions 1 to 2")
      && strstr (reply.u.result.text, "3 to 7"), "the refusal does not name both ranges");
  EXPECT (sock >= 0 && next_msg (sock, &reply, 2000) == -ECONNRESET,
      "the daemon kept a refused client's connection");
  if (sock >= 0)
    close (sock);

  v2 = connect_versions (path, 1, 9, &reply);
  EXPECT (v2 >= 0 && reply.type == VDM_MSG_HELLO_REPLY && reply.u.hello_reply.version == 2,
      "a client of versions 1..9 was not answered version 2");
  v1 = connect_versions (path, 1, 1, &reply);
  EXPECT (v1 >= 0 && reply.type == VDM_MSG_HELLO_REPLY && reply.u.hello_reply.version == 1,
      "a client of version 1 was not answered version 1");
  if (v1 < 0 || v2 < 0)
    return;

  fd = udp_socket (false);
  setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof (rcvbuf));
  udp_socket_bind (fd);
  EXPECT (request (v2, &req, fd, &reply) == 0 && reply.type == VDM_MSG_WATCH_REPLY,
      "version 2: the watch was not accepted");
  watch = reply.u.watch_reply.watch_id;
  EXPECT (request (v1, &req, fd, &reply) == 0 && reply.u.watch_reply.watch_id == watch,
      "version 1: the same socket is not the same watch");
  collect_pushed (v2, watch, 300, &idle);   /* the counters of a new watch, once */
  collect_pushed (v1, watch, 1, &idle);

  overflow (fd, 400);
  collect_pushed (v2, watch, 700, &p2);
  collect_pushed (v1, watch, 1, &p1);
  kernel = socket_drops (fd);
  printf ("versions: kernel %llu drops; version 2 got %u FILL (%u non-zero, last %d), %u pushed "
      "counters (last total %llu), %u DROPS; version 1 got %u FILL, %u pushed counters, %u DROPS\n",
      (unsigned long long) kernel, p2.fills, p2.fills_nonzero, p2.last_fill, p2.pushed_counters,
      (unsigned long long) p2.last_pushed_total, p2.drops, p1.fills, p1.pushed_counters, p1.drops);
  EXPECT (kernel > 0, "the socket did not overflow");
  EXPECT (p2.fills_nonzero > 0, "version 2: no FILL said the queue filled");
  EXPECT (p2.last_fill == 0, "version 2: the last FILL (%d) did not say the queue stopped filling",
      p2.last_fill);
  EXPECT (p2.pushed_counters > 0 && p2.last_pushed_total == kernel,
      "version 2: pushed counters %llu, the kernel %llu", (unsigned long long) p2.last_pushed_total,
      (unsigned long long) kernel);
  EXPECT (p2.drops > 0 && p1.drops > 0, "the drops were not pushed to both sessions");
  EXPECT (p1.fills == 0 && p1.pushed_counters == 0, "version 1 was pushed frames of version 2");

  /* Idle: a watch whose socket gets nothing costs its client nothing. */
  memset (&idle, 0, sizeof (idle));
  collect_pushed (v2, watch, 600, &idle);
  EXPECT (idle.fills + idle.pushed_counters + idle.drops + idle.other == 0,
      "version 2, idle socket: %u frames pushed in 600 ms", idle.fills + idle.pushed_counters
      + idle.drops + idle.other);

  /* Version 1 asks, and gets the same (its peak: of the periods since). */
  req = (vdm_msg) { .type = VDM_MSG_COUNTERS_REQUEST };
  req.u.watch_ref.watch_id = watch;
  EXPECT (request (v1, &req, -1, &reply) == 0 && reply.type == VDM_MSG_COUNTERS_REPLY
      && reply.u.counters_reply.total == kernel && reply.u.counters_reply.queue_peak > 0,
      "version 1: counters %llu (kernel %llu), queue peak %d (> 0 expected)",
      (unsigned long long) reply.u.counters_reply.total, (unsigned long long) kernel,
      reply.u.counters_reply.queue_peak);
  close (fd);
  close (v1);
  close (v2);
}

int
main (int argc, char **argv)
{
  if (argc >= 3 && strcmp (argv[1], "refusals") == 0)
    check_refusals (argv[2], argc > 3 ? (unsigned) atoi (argv[3]) : 16);
  else if (argc >= 4 && strcmp (argv[1], "fuzz") == 0)
    fuzz (argv[2], (unsigned) atoi (argv[3]), argc > 4 ? strtoull (argv[4], NULL, 0) : 1);
  else if (argc >= 5 && strcmp (argv[1], "never-read") == 0)
    never_read (argv[2], (uint16_t) atoi (argv[3]), (unsigned) atoi (argv[4]));
  else if (argc >= 3 && strcmp (argv[1], "versions") == 0)
    check_versions (argv[2]);
  else {
    fprintf (stderr, "usage: vdm-daemon-probe refusals SOCKET [MAX_FOREIGN_ID]\n"
        "       vdm-daemon-probe fuzz SOCKET COUNT [SEED]\n"
        "       vdm-daemon-probe never-read SOCKET PORT SECONDS\n"
        "       vdm-daemon-probe versions SOCKET\n");
    return 2;
  }
  if (failures)
    fprintf (stderr, "%d expectation(s) failed\n", failures);
  return failures ? 1 : 0;
}
