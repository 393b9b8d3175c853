/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include "status.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire.h"

#define REPLY_TIMEOUT_MS 5000

/* Waits for the next frame and decodes it. */
static int
next_msg (int sock, vdm_msg *msg, const char **why)
{
  static uint8_t frame[VDM_PROTO_MAX_FRAME];
  struct pollfd p = { .fd = sock, .events = POLLIN };
  int len, fd;

  if (poll (&p, 1, REPLY_TIMEOUT_MS) <= 0) {
    *why = "no answer within 5 s";
    return -ETIMEDOUT;
  }
  len = vdm_wire_recv (sock, frame, &fd);
  if (fd >= 0)
    close (fd);
  if (len <= 0) {
    *why = len == 0 ? "the daemon closed the connection" : strerror (-len);
    return len == 0 ? -ECONNRESET : len;
  }
  return vdm_proto_decode (frame, (size_t) len, msg, why);
}

static void
format_flow (const vdm_proto_flow *f, char *out, size_t size)
{
  char local[INET6_ADDRSTRLEN] = "?", remote[INET6_ADDRSTRLEN] = "?";
  const char *proto = f->protocol == 6 ? "tcp" : "udp";

  inet_ntop (f->family, f->local_addr, local, sizeof (local));
  if (f->family == AF_INET6)
    snprintf (out, size, "%s [%s]:%u", proto, local, f->local_port);
  else
    snprintf (out, size, "%s %s:%u", proto, local, f->local_port);
  if (f->remote_port) {
    size_t used = strlen (out);
    inet_ntop (f->family, f->remote_addr, remote, sizeof (remote));
    snprintf (out + used, size - used, "->%s:%u", remote, f->remote_port);
  }
}

static void
print_entry (FILE *out, const vdm_msg_status_entry *e)
{
  char flow[128] = "-";

  if (e->watch_id)
    format_flow (&e->flow, flow, sizeof (flow));
  fprintf (out, "%-6u %-8u %-6u %-16s %-6u %-32s %-20llu %-10llu %-12llu %s%s%s\n",
      e->client_id, e->pid, e->uid, e->command, e->watch_id, flow,
      (unsigned long long) e->flow.netns_cookie, (unsigned long long) e->drops,
      (unsigned long long) e->events_lost, e->element[0] ? e->element : "-",
      e->pipeline[0] ? " in " : "", e->pipeline);
}

static int
say_hello (int sock, const char **why)
{
  vdm_msg m = { .type = VDM_MSG_HELLO, .request_id = 1 };
  int err;

  m.u.hello.version_min = m.u.hello.version_max = VDM_PROTO_VERSION_MIN;
  m.u.hello.pid = (uint32_t) getpid ();
  strcpy (m.u.hello.client_name, "vdropmond --status");
  err = vdm_wire_send (sock, &m, -1);
  if (err < 0) {
    *why = strerror (-err);
    return err;
  }
  err = next_msg (sock, &m, why);
  if (err == 0 && m.type != VDM_MSG_HELLO_REPLY) {
    *why = m.type == VDM_MSG_RESULT ? "the daemon refused the connection" : "unexpected answer";
    return -EPROTO;
  }
  return err;
}

int
vdm_status_print (const char *socket_path, FILE *out)
{
  vdm_msg m = { .type = VDM_MSG_STATUS_REQUEST, .request_id = 2 };
  const char *why = NULL;
  int sock = vdm_wire_connect (socket_path, 0), err, rows = 0;

  if (sock < 0) {
    fprintf (stderr, "vdropmond --status: cannot connect to %s: %s\n", socket_path,
        strerror (-sock));
    return 1;
  }
  err = say_hello (sock, &why);
  if (!err)
    err = vdm_wire_send (sock, &m, -1);
  fprintf (out, "%-6s %-8s %-6s %-16s %-6s %-32s %-20s %-10s %-12s %s\n", "client", "pid", "uid",
      "command", "watch", "flow", "netns", "drops", "events-lost", "element");
  while (!err && (err = next_msg (sock, &m, &why)) == 0 && m.type == VDM_MSG_STATUS_ENTRY) {
    print_entry (out, &m.u.status_entry);
    rows++;
  }
  close (sock);
  if (!err && m.type == VDM_MSG_RESULT && m.u.result.status == 0) {
    fprintf (out, "%s, %d rows\n", m.u.result.text, rows);
    return 0;
  }
  fprintf (stderr, "vdropmond --status: %s\n", err ? (why ? why : strerror (-err))
      : m.type == VDM_MSG_RESULT ? m.u.result.text : "unexpected answer");
  return 1;
}
