/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * flow_spec.c — parse and print flows: "[proto:]endpoint[->endpoint]" with
 * endpoint = port | ipv4:port | [ipv6]:port.
 */
#include "flow_spec.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define ENDPOINT_TEXT_MAX 64 /* "[" INET6_ADDRSTRLEN "]:65535" fits */
#define ENTRY_TEXT_MAX 256

typedef struct {
  int family;   /* 0 when no address was given */
  uint8_t addr[16];
  unsigned port;
} endpoint;

static void
set_error (char *err, size_t err_len, const char *format, ...)
{
  if (err == NULL || err_len == 0)
    return;
  va_list args;
  va_start (args, format);
  vsnprintf (err, err_len, format, args);
  va_end (args);
}

static bool
is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static char
ascii_lower (char c)
{
  return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

static bool
is_alpha (char c)
{
  c = ascii_lower (c);
  return c >= 'a' && c <= 'z';
}

static bool
has_prefix_nocase (const char *text, const char *prefix)
{
  for (; *prefix; text++, prefix++) {
    if (ascii_lower (*text) != *prefix)
      return false;
  }
  return true;
}

/* Copies text[0..len) without surrounding white space into buf. */
static bool
copy_trimmed (const char *text, size_t len, char *buf, size_t buf_len)
{
  while (len > 0 && is_space (text[0])) {
    text++;
    len--;
  }
  while (len > 0 && is_space (text[len - 1]))
    len--;
  if (len >= buf_len)
    return false;
  memcpy (buf, text, len);
  buf[len] = '\0';
  return true;
}

/* Decimal 0..65535, digits only. */
static bool
parse_port (const char *text, unsigned *port)
{
  unsigned value = 0;
  if (*text == '\0')
    return false;
  for (; *text; text++) {
    if (*text < '0' || *text > '9')
      return false;
    value = value * 10 + (unsigned) (*text - '0');
    if (value > 65535)
      return false;
  }
  *port = value;
  return true;
}

static bool
parse_endpoint (char *text, endpoint *ep, const char *what, char *err, size_t err_len)
{
  char *port_text;

  memset (ep, 0, sizeof (*ep));
  if (text[0] == '[') {
    char *close = strchr (text, ']');
    if (close == NULL || close[1] != ':') {
      set_error (err, err_len, "%s address '%s' needs the form [ipv6]:port", what, text);
      return false;
    }
    *close = '\0';
    if (inet_pton (AF_INET6, text + 1, ep->addr) != 1) {
      set_error (err, err_len, "%s address '%s' is not an IPv6 address", what, text + 1);
      return false;
    }
    ep->family = AF_INET6;
    port_text = close + 2;
  } else {
    char *colon = strrchr (text, ':');
    if (colon == NULL) {
      port_text = text;
    } else {
      *colon = '\0';
      if (strchr (text, ':') != NULL) {
        set_error (err, err_len, "%s address '%s' must be written [%s]:port", what, text, text);
        return false;
      }
      if (inet_pton (AF_INET, text, ep->addr) != 1) {
        set_error (err, err_len, "%s address '%s' is not an IPv4 address", what, text);
        return false;
      }
      ep->family = AF_INET;
      port_text = colon + 1;
    }
  }
  if (!parse_port (port_text, &ep->port) || ep->port == 0) {
    set_error (err, err_len, "%s port '%s' is not a port number 1..65535", what, port_text);
    return false;
  }
  return true;
}

/* Strips an optional "udp:"/"tcp:" prefix; UDP when there is none. */
static bool
parse_protocol (const char **text, uint8_t *protocol, char *err, size_t err_len)
{
  const char *p = *text;

  if (!is_alpha (p[0])) {
    *protocol = IPPROTO_UDP;
    return true;
  }
  if (has_prefix_nocase (p, "udp:")) {
    *protocol = IPPROTO_UDP;
    *text = p + 4;
    return true;
  }
  if (has_prefix_nocase (p, "tcp:")) {
    *protocol = IPPROTO_TCP;
    *text = p + 4;
    return true;
  }
  set_error (err, err_len, "'%s' is not [udp:|tcp:][address:]port", p);
  return false;
}

bool
vdm_flow_parse (const char *text, struct vdm_flow_key *out, char *err, size_t err_len)
{
  char local_text[ENDPOINT_TEXT_MAX], remote_text[ENDPOINT_TEXT_MAX];
  endpoint local, remote;
  uint8_t protocol;
  const char *rest = text;

  if (text == NULL) {
    set_error (err, err_len, "no flow given");
    return false;
  }
  while (is_space (*rest))
    rest++;
  if (!parse_protocol (&rest, &protocol, err, err_len))
    return false;

  const char *arrow = strstr (rest, "->");
  size_t local_len = arrow ? (size_t) (arrow - rest) : strlen (rest);
  if (!copy_trimmed (rest, local_len, local_text, sizeof (local_text))
      || (arrow && !copy_trimmed (arrow + 2, strlen (arrow + 2), remote_text,
              sizeof (remote_text)))) {
    set_error (err, err_len, "flow '%s' is too long", text);
    return false;
  }
  if (local_text[0] == '\0') {
    set_error (err, err_len, "flow '%s' names no port", text);
    return false;
  }
  if (!parse_endpoint (local_text, &local, "local", err, err_len))
    return false;
  memset (&remote, 0, sizeof (remote));
  if (arrow && !parse_endpoint (remote_text, &remote, "remote", err, err_len))
    return false;

  if (local.family && remote.family && local.family != remote.family) {
    set_error (err, err_len, "flow '%s' mixes IPv4 and IPv6", text);
    return false;
  }
  /* The kernel side matches a flow with a remote end only by its full
   * 4-tuple: without both addresses it would be accepted and never match. */
  if (arrow && (!local.family || !remote.family)) {
    set_error (err, err_len, "flow '%s' names a remote end: give both addresses "
        "(tcp:LOCAL_ADDR:PORT->REMOTE_ADDR:PORT), a connection is matched by all four", text);
    return false;
  }

  memset (out, 0, sizeof (*out));
  out->family = (uint8_t) (local.family ? local.family : remote.family ? remote.family : AF_INET);
  out->protocol = protocol;
  out->local_port = (uint16_t) local.port;
  out->remote_port = (uint16_t) remote.port;
  memcpy (out->local_addr, local.addr, sizeof (out->local_addr));
  memcpy (out->remote_addr, remote.addr, sizeof (out->remote_addr));
  return true;
}

static bool
is_list_separator (char c)
{
  return c == ',' || c == ';' || is_space (c);
}

static bool
ends_with_arrow (const char *buf, size_t len)
{
  return len >= 2 && buf[len - 2] == '-' && buf[len - 1] == '>';
}

/* Copies the next entry of a list into buf and returns where it ended.
 * White space around "->" belongs to the entry ("tcp:1.2.3.4:5 -> 6.7.8.9:10"). */
static const char *
next_entry (const char *p, char *buf, size_t buf_len, bool *too_long)
{
  size_t len = 0;

  *too_long = false;
  while (*p && *p != ',' && *p != ';') {
    if (is_space (*p)) {
      const char *q = p;
      while (is_space (*q))
        q++;
      bool joins = ends_with_arrow (buf, len) || (q[0] == '-' && q[1] == '>');
      if (!joins || *q == '\0' || *q == ',' || *q == ';')
        break;
      p = q;
      continue;
    }
    if (len + 1 >= buf_len) {
      *too_long = true;
      break;
    }
    buf[len++] = *p++;
  }
  buf[len] = '\0';
  return p;
}

int
vdm_flow_parse_list (const char *text, struct vdm_flow_key *out, int max, char *err,
    size_t err_len)
{
  char entry[ENTRY_TEXT_MAX];
  int n = 0;
  const char *p = text ? text : "";

  for (;;) {
    while (is_list_separator (*p))
      p++;
    if (*p == '\0')
      return n;

    bool too_long;
    p = next_entry (p, entry, sizeof (entry), &too_long);
    if (too_long) {
      set_error (err, err_len, "flow '%.32s...' is too long", entry);
      return -1;
    }
    struct vdm_flow_key flow;
    if (!vdm_flow_parse (entry, &flow, err, err_len))
      return -1;

    bool seen = false;
    for (int i = 0; i < n && !seen; i++)
      seen = vdm_flow_equal (&out[i], &flow);
    if (seen)
      continue;
    /* Silently watching fewer flows than asked would hide drops. */
    if (n >= max) {
      set_error (err, err_len, "more than %d flows", max);
      return -1;
    }
    out[n++] = flow;
  }
}

static void
format_endpoint (int family, const uint8_t *addr, unsigned port, char *buf, size_t len)
{
  char address[INET6_ADDRSTRLEN];

  if (family == AF_INET6) {
    if (inet_ntop (AF_INET6, addr, address, sizeof (address)) == NULL)
      strcpy (address, "?");
    snprintf (buf, len, "[%s]:%u", address, port);
  } else if (family == AF_INET) {
    if (inet_ntop (AF_INET, addr, address, sizeof (address)) == NULL)
      strcpy (address, "?");
    snprintf (buf, len, "%s:%u", address, port);
  } else {
    snprintf (buf, len, "?:%u", port);
  }
}

static const char *
protocol_name (uint8_t protocol, char *buf, size_t len)
{
  if (protocol == IPPROTO_UDP)
    return "udp";
  if (protocol == IPPROTO_TCP)
    return "tcp";
  snprintf (buf, len, "ip%u", protocol);
  return buf;
}

void
vdm_flow_format (const struct vdm_flow_key *flow, char *buf, size_t len)
{
  char local[ENDPOINT_TEXT_MAX], remote[ENDPOINT_TEXT_MAX] = "", proto[8];

  if (buf == NULL || len == 0)
    return;
  format_endpoint (flow->family, flow->local_addr, flow->local_port, local, sizeof (local));
  if (flow->remote_port != 0)
    format_endpoint (flow->family, flow->remote_addr, flow->remote_port, remote, sizeof (remote));
  snprintf (buf, len, "%s %s%s%s", protocol_name (flow->protocol, proto, sizeof (proto)), local,
      flow->remote_port != 0 ? "->" : "", remote);
}

bool
vdm_flow_equal (const struct vdm_flow_key *a, const struct vdm_flow_key *b)
{
  /* IPv4 uses only the first 4 address bytes; the rest is not compared in
   * case a caller left garbage there. */
  size_t addr_len = a->family == AF_INET ? 4 : sizeof (a->local_addr);

  return a->family == b->family && a->protocol == b->protocol
      && a->local_port == b->local_port && a->remote_port == b->remote_port
      && memcmp (a->local_addr, b->local_addr, addr_len) == 0
      && memcmp (a->remote_addr, b->remote_addr, addr_len) == 0;
}
