/* udp_dest — where the test senders (vdm-rtp-sender, vdm-rtp-replay) may
 * send UDP: numeric HOST:PORT / [IPV6]:PORT parsing (never DNS, so runs
 * stay hermetic) and the safety rule that keeps test traffic on loopback,
 * or with --allow-netns on 10/8 from inside a named test namespace.
 *
 * Messages go to stderr, prefixed with the `prog` the caller passes.
 */
#ifndef VDM_UDP_DEST_H
#define VDM_UDP_DEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* Parses the value of option --`name`; the port must be in
 * [min_port, 65535] (0 makes sense only for a local bind). */
bool udp_dest_parse (const char *prog, const char *name, const char *text,
    uint64_t min_port, struct sockaddr_storage *out, socklen_t *out_len);

/* How far beyond loopback a tool may send. */
enum udp_dest_scope
{
  UDP_DEST_LOOPBACK_ONLY,       /* the tool has no --allow-netns */
  UDP_DEST_LOOPBACK,            /* --allow-netns exists but was not given */
  UDP_DEST_NETNS,               /* --allow-netns given */
};

/* True if `dest` (written `text` on the command line) is allowed in
 * `scope`; otherwise says why on stderr. */
bool udp_dest_check_allowed (const char *prog,
    const struct sockaddr_storage *dest, const char *text,
    enum udp_dest_scope scope);

#endif /* VDM_UDP_DEST_H */
