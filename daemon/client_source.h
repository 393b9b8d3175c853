/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * client_source.h — the "daemon" event source: event_source.h implemented
 * by talking to vdropmond over its Unix socket (docs/daemon.md), so a
 * pipeline needs no privilege. The process that wants it calls
 * vdm_daemon_client_register() once; vdm_source_open ("daemon", path, &err)
 * then opens (or shares, per socket path) a connection.
 *
 * It survives the daemon: while the daemon is away, watches are kept, the
 * status is "reconnecting", it reconnects with backoff (100 ms doubling to
 * 1 s), hands every socket over again and reports the drops the kernel
 * counted on each socket in the gap as one catch-up drop
 * (attribution VDM_ATTR_CATCH_UP, reason NOT_SPECIFIED, count = packets).
 */
#ifndef VDM_DAEMON_CLIENT_SOURCE_H
#define VDM_DAEMON_CLIENT_SOURCE_H

#include "event_source.h"

#define VDM_DAEMON_DEFAULT_SOCKET "/run/vdropmon/vdropmond.sock"
#define VDM_DAEMON_SOCKET_ENV "VDROPMON_DAEMON_SOCKET"

#ifndef VDM_DAEMON_CLIENT_API
#define VDM_DAEMON_CLIENT_API __attribute__ ((visibility ("default")))
#endif

/* Makes "daemon" known to vdm_source_open(). Idempotent, thread-safe. */
VDM_DAEMON_CLIENT_API int vdm_daemon_client_register (void);

/* The socket path a NULL or empty daemon_socket means: $VDROPMON_DAEMON_SOCKET,
 * else VDM_DAEMON_DEFAULT_SOCKET. */
VDM_DAEMON_CLIENT_API const char *vdm_daemon_client_default_socket (void);

/* Issue 11 (docs/fleet.md): the element and pipeline names the daemon
 * labels this subscription's watches with (set before watching; also used
 * when watches are registered again after a reconnection). -EINVAL when
 * source is not a daemon source. */
VDM_DAEMON_CLIENT_API int vdm_daemon_client_set_names (vdm_source *source,
    vdm_subscription *sub, const char *element, const char *pipeline);

/* Sends one ANALYTICS frame (no reply): the element's per-stream numbers,
 * key/value pairs of docs/fleet.md. Never waits: returns 0, -ENOTCONN while
 * the daemon is away, -EAGAIN when its socket buffer is full (the frame is
 * dropped; the next interval sends again), -EINVAL for a source that is not
 * a daemon source or more than VDM_PROTO_MAX_ANALYTICS pairs, or the send's
 * error. Keys must match [a-z0-9_-]{1,32} and values be finite (the frame
 * is refused otherwise). */
VDM_DAEMON_CLIENT_API int vdm_daemon_client_send_analytics (vdm_source *source,
    const char *element, const char *const *keys, const double *values, size_t n);

/* The protocol version of the current session with the daemon (1 or 2,
 * docs/daemon.md), 0 while reconnecting or for a source that is not a
 * daemon source. Version 2 pushes queue fill and counters, so that
 * vdm_source_queue_peak() and vdm_source_counters() ask nothing. */
VDM_DAEMON_CLIENT_API unsigned vdm_daemon_client_protocol (vdm_source *source);

#endif
