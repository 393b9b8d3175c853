/* udp_dest — see udp_dest.h. */
#define _GNU_SOURCE
#include "udp_dest.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Where `ip netns add` keeps the namespaces it names. */
#define NAMED_NETNS_DIR "/run/netns"

static bool
parse_port (const char *prog, const char *name, const char *text,
    uint64_t min, uint64_t *out)
{
  char *end = NULL;
  unsigned long long value;

  errno = 0;
  if (text[0] != '-' && text[0] != '\0') {
    value = strtoull (text, &end, 0);
    if (errno == 0 && *end == '\0' && value >= min && value <= 65535) {
      *out = value;
      return true;
    }
  }
  fprintf (stderr, "%s: --%s: expected an integer in %" PRIu64 "..65535, "
      "got '%s'\n", prog, name, min, text);
  return false;
}

/* Splits "1.2.3.4:5" or "[::1]:5" into host and port strings, in place. */
static bool
split_host_port (char *text, char **host, char **port)
{
  char *colon;

  if (text[0] == '[') {
    char *close = strchr (text, ']');
    if (close == NULL || close[1] != ':')
      return false;
    *close = '\0';
    *host = text + 1;
    *port = close + 2;
    return true;
  }
  colon = strrchr (text, ':');
  /* A bare IPv6 address has several colons: insist on brackets. */
  if (colon == NULL || strchr (text, ':') != colon)
    return false;
  *colon = '\0';
  *host = text;
  *port = colon + 1;
  return true;
}

bool
udp_dest_parse (const char *prog, const char *name, const char *text,
    uint64_t min_port, struct sockaddr_storage *out, socklen_t *out_len)
{
  struct addrinfo hints = { 0 };
  struct addrinfo *res = NULL;
  char *copy = strdup (text);
  char *host, *port;
  uint64_t port_num;
  bool ok = false;
  int rc;

  if (copy == NULL || !split_host_port (copy, &host, &port) || *host == '\0') {
    fprintf (stderr, "%s: --%s: expected HOST:PORT or [IPV6]:PORT, got '%s'\n",
        prog, name, text);
    goto out;
  }
  if (!parse_port (prog, name, port, min_port, &port_num))
    goto out;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  rc = getaddrinfo (host, port, &hints, &res);
  if (rc != 0) {
    fprintf (stderr, "%s: --%s: '%s' is not a numeric address: %s\n",
        prog, name, host, gai_strerror (rc));
    goto out;
  }
  memcpy (out, res->ai_addr, res->ai_addrlen);
  *out_len = res->ai_addrlen;
  freeaddrinfo (res);
  ok = true;
out:
  free (copy);
  return ok;
}

/* Returns the IPv4 address (host order) carried by sa, also when it is an
 * IPv4-mapped IPv6 address; false for genuine IPv6. */
static bool
ipv4_of (const struct sockaddr_storage *sa, uint32_t *addr)
{
  if (sa->ss_family == AF_INET) {
    *addr = ntohl (((const struct sockaddr_in *) sa)->sin_addr.s_addr);
    return true;
  }
  const struct in6_addr *a6 = &((const struct sockaddr_in6 *) sa)->sin6_addr;
  if (!IN6_IS_ADDR_V4MAPPED (a6))
    return false;
  memcpy (addr, &a6->s6_addr[12], 4);
  *addr = ntohl (*addr);
  return true;
}

static bool
is_loopback (const struct sockaddr_storage *sa)
{
  uint32_t v4;

  if (ipv4_of (sa, &v4))
    return (v4 >> 24) == 127;
  return IN6_IS_ADDR_LOOPBACK (&((const struct sockaddr_in6 *) sa)->sin6_addr);
}

static bool
is_ten_slash_eight (const struct sockaddr_storage *sa)
{
  uint32_t v4;

  return ipv4_of (sa, &v4) && (v4 >> 24) == 10;
}

/* 10/8 may be a real routed network in the initial (or a container's)
 * namespace.  Only a namespace some test created is a safe place to send
 * it from, so require that we run inside a named one (ip netns exec).
 * Comparing with /proc/1/ns/net would need ptrace rights over pid 1,
 * which sandboxes often withhold even from root. */
static bool
in_named_netns (void)
{
  struct stat self, named;
  struct dirent *entry;
  bool found = false;
  DIR *dir;

  if (stat ("/proc/self/ns/net", &self) != 0)
    return false;
  dir = opendir (NAMED_NETNS_DIR);
  if (dir == NULL)
    return false;
  while (!found && (entry = readdir (dir)) != NULL) {
    if (entry->d_name[0] == '.')
      continue;
    found = fstatat (dirfd (dir), entry->d_name, &named, 0) == 0
        && named.st_dev == self.st_dev && named.st_ino == self.st_ino;
  }
  closedir (dir);
  return found;
}

bool
udp_dest_check_allowed (const char *prog, const struct sockaddr_storage *dest,
    const char *text, enum udp_dest_scope scope)
{
  if (is_loopback (dest))
    return true;
  if (scope == UDP_DEST_LOOPBACK_ONLY) {
    fprintf (stderr, "%s: refusing non-loopback destination '%s'\n", prog,
        text);
    return false;
  }
  if (scope == UDP_DEST_LOOPBACK) {
    fprintf (stderr, "%s: refusing non-loopback destination '%s'"
        " (use --allow-netns for 10.0.0.0/8 inside a test namespace)\n",
        prog, text);
    return false;
  }
  if (!is_ten_slash_eight (dest)) {
    fprintf (stderr, "%s: --allow-netns permits only 10.0.0.0/8, not '%s'\n",
        prog, text);
    return false;
  }
  if (!in_named_netns ()) {
    fprintf (stderr, "%s: --allow-netns: refusing '%s' outside a named test"
        " namespace (run me via 'ip netns exec NAME ...')\n", prog, text);
    return false;
  }
  return true;
}
