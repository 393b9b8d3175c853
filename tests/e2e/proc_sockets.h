/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * proc_sockets.h — the UDP sockets of another process (a child the test
 * started: vdm-adapt), found through /proc/PID/fd and /proc/net/udp, and
 * reached with pidfd_getfd(2): a duplicate of its descriptor is the same
 * socket, so a setsockopt on it changes the child's socket. The test uses
 * it to give the child's RTP socket a small receive buffer mid-stream,
 * exactly what udp-buffer-size would have set at the start. Needs root
 * (ptrace access to the child) and Linux 5.6.
 */
#ifndef VDM_E2E_PROC_SOCKETS_H
#define VDM_E2E_PROC_SOCKETS_H

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct
{
  guint16 port;                 /* local port */
  gulong inode;
  guint64 drops;                /* the kernel's drop counter, when it was read */
} VdmE2eProcSocket;

/* The UDP sockets pid holds (IPv4 and IPv6), in local port order. */
GArray *vdm_e2e_proc_udp_sockets (pid_t pid);

/* The RTP socket of an RTSP client: the lowest even port whose next port
 * is also held (RTP, RTCP). FALSE if there is none. */
gboolean vdm_e2e_proc_rtp_socket (pid_t pid, VdmE2eProcSocket * out);

/* The kernel's drop counter of pid's UDP socket with this inode. */
guint64 vdm_e2e_proc_socket_drops (pid_t pid, gulong inode);

/* Sets SO_RCVBUF on pid's socket with this inode; returns what the kernel
 * made of it (getsockopt). Fatal on failure. */
int vdm_e2e_proc_set_rcvbuf (pid_t pid, gulong inode, int bytes);

G_END_DECLS
#endif
