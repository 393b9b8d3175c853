/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * wire.h — one vdropmond frame per SOCK_SEQPACKET record, with at most one
 * fd beside it (SCM_RIGHTS). Shared by the daemon, its client source and
 * vdropmond --status. Never blocks unless the socket is blocking.
 */
#ifndef VDM_DAEMON_WIRE_H
#define VDM_DAEMON_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

/* Encodes and sends msg (with pass_fd as SCM_RIGHTS when >= 0); blocks only
 * if the socket is blocking. Returns 0,
 * -EAGAIN when the socket's buffer is full, or another negative errno. */
int vdm_wire_send (int sock, const vdm_msg *msg, int pass_fd);

/* Sends an already encoded frame. */
int vdm_wire_send_frame (int sock, const uint8_t *frame, size_t len, int pass_fd);

/* Receives one record into buf (VDM_PROTO_MAX_FRAME bytes). Returns its
 * length, 0 at end of stream, -EAGAIN, -EMSGSIZE for a record larger than a
 * frame (or more than one fd), or another negative errno. *received_fd is
 * the fd that came with it, or -1; on error every received fd is closed. */
int vdm_wire_recv (int sock, uint8_t *buf, int *received_fd);

/* Connects a SOCK_SEQPACKET socket to path (close-on-exec). Returns the
 * socket or a negative errno. */
int vdm_wire_connect (const char *path, int nonblocking);

#endif
