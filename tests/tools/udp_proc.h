/* udp_proc — read the kernel's own per-socket UDP drop counter.
 *
 * Tests compare what vdropmon reports with what the kernel counted for
 * the same socket: the `drops` column of /proc/net/udp{,6} (sk_drops).
 * /proc/net is per network namespace, that of the *reading* process, so
 * call these from the namespace the socket lives in.
 *
 * No GStreamer, no GLib: usable from any test or tool.
 */
#ifndef VDM_UDP_PROC_H
#define VDM_UDP_PROC_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One row of /proc/net/udp or /proc/net/udp6. */
struct vdm_udp_proc_entry
{
  int family;                   /* AF_INET or AF_INET6 */
  uint16_t local_port;
  uint16_t remote_port;
  unsigned long inode;
  uint64_t drops;
};

/* Parses one data line of /proc/net/udp{,6}.  Returns false for the header
 * line and for anything malformed (never crashes on bad input).  The
 * family is left at 0; the caller knows which file the line came from. */
bool vdm_udp_proc_parse_line (const char *line,
    struct vdm_udp_proc_entry *entry);

/* Called for every UDP socket; return false to stop the walk early. */
typedef bool (*vdm_udp_proc_visit) (const struct vdm_udp_proc_entry *entry,
    void *user_data);

/* Walks /proc/net/udp then /proc/net/udp6.  A missing udp6 file (IPv6
 * disabled) is not an error.  Returns 0 or -errno. */
int vdm_udp_proc_foreach (vdm_udp_proc_visit visit, void *user_data);

/* Kernel drop counter of the UDP socket with this inode number.
 * Returns 0, -ENOENT if no UDP socket has that inode, or another -errno. */
int vdm_udp_proc_drops_by_inode (unsigned long inode, uint64_t *drops);

/* Same for an open socket: fstat(fd).st_ino is the socket's inode.
 * Returns -ENOTSOCK if fd is not a socket, -ENOENT if it is not UDP. */
int vdm_udp_proc_drops (int fd, uint64_t *drops);

#ifdef __cplusplus
}
#endif

#endif /* VDM_UDP_PROC_H */
