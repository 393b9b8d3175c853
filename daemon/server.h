/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * server.h — vdropmond's event loop: accepts clients on a listening
 * SOCK_SEQPACKET Unix socket, serves the protocol (protocol.h, docs/daemon.md)
 * and forwards each client the drops of the sockets it handed over, from
 * one event source (the embedded collector) shared by all.
 *
 * Single-threaded (epoll), non-blocking; the only other thread is the
 * source's, whose callbacks only copy events into the client's bounded
 * handoff and wake the loop through an eventfd. A timer samples every
 * watch (queue fill, lost events) in one read of the collector's table,
 * so that clients of protocol version 2 never poll (docs/daemon.md).
 */
#ifndef VDM_DAEMON_SERVER_H
#define VDM_DAEMON_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "event_source.h"
#include "protocol.h"
#include "socket_info.h"

typedef struct vdm_server vdm_server;

/* Called on the loop's thread for every ANALYTICS frame (issue 11). */
typedef void (*vdm_server_analytics_hook) (void *data, const vdm_peer *peer,
    const vdm_msg_analytics *analytics);

/* Called on the loop's thread when a watch begins (added) or ends, with the
 * flow as text ("udp 127.0.0.1:5004"), and when the client count changes
 * (issue 11 metrics). */
typedef void (*vdm_server_watch_hook) (void *data, const vdm_peer *peer, uint32_t watch_id,
    const char *element, const char *pipeline, const char *flow, bool added);
typedef void (*vdm_server_clients_hook) (void *data, unsigned n_clients);

typedef struct {
  unsigned max_clients;         /* connections at once */
  unsigned max_watches;         /* per client */
  unsigned max_rate;            /* frames per second a client may send */
  vdm_server_analytics_hook on_analytics; /* optional */
  vdm_server_watch_hook on_watch;         /* optional */
  vdm_server_clients_hook on_clients;     /* optional */
  void *hook_data;
} vdm_server_config;

#define VDM_SERVER_DEFAULT_MAX_CLIENTS 128
#define VDM_SERVER_DEFAULT_MAX_WATCHES 256
#define VDM_SERVER_DEFAULT_MAX_RATE 5000
#define VDM_SERVER_EVENT_FRAMES 64      /* pushed frames queued per client */
#define VDM_SERVER_REPLY_FRAMES 256     /* replies queued per client */
#define VDM_SERVER_HANDOFF_EVENTS 1024  /* events waiting per client in the handoff */
/* How often the daemon samples every watch's queue fill and lost events,
 * and pushes what changed to version 2 clients (FILL, COUNTERS_REPLY). */
#define VDM_SERVER_SAMPLE_MS 50

/* source and listen_fd stay the caller's and must outlive the server. */
vdm_server *vdm_server_new (const vdm_server_config *config, vdm_source *source, int listen_fd,
    char **error);
/* Runs until SIGINT or SIGTERM (blocked and read through a signalfd).
 * Returns 0, or a negative errno if the loop itself failed. */
int vdm_server_run (vdm_server *server);
void vdm_server_free (vdm_server *server);

#endif
