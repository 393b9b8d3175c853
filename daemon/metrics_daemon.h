/* metrics_daemon.h — vdropmond's metrics: what the server tells it (clients,
 * watches, analytics) kept in a table, and on every scrape the kernel's
 * per-watch counters read from the source and rendered (docs/fleet.md).
 *
 * The server's hooks run on its loop thread; the scrape runs on
 * libmicrohttpd's thread; one mutex guards the table and the registry.
 */
#ifndef VDM_DAEMON_METRICS_DAEMON_H
#define VDM_DAEMON_METRICS_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "event_source.h"
#include "protocol.h"
#include "socket_info.h"

typedef struct vdm_daemon_metrics vdm_daemon_metrics;

/* Serves /metrics on `listen` (HOST:PORT). source stays the caller's and
 * must outlive the metrics. A stream's series leave the scrape
 * stale_after_ns after its last report or counter read
 * (VDM_METRICS_DEFAULT_STALE_AFTER_NS, --metrics-stale-after). NULL with a
 * sentence in error on failure. */
vdm_daemon_metrics *vdm_daemon_metrics_start (const char *listen, vdm_source *source,
    const char *version, uint64_t stale_after_ns, char *error, size_t error_size);
uint16_t vdm_daemon_metrics_port (const vdm_daemon_metrics *m);
void vdm_daemon_metrics_stop (vdm_daemon_metrics *m);

/* Server hooks (vdm_server_config), `data` being the vdm_daemon_metrics. */
void vdm_daemon_metrics_on_clients (void *data, unsigned n_clients);
void vdm_daemon_metrics_on_watch (void *data, const vdm_peer *peer, uint32_t watch_id,
    const char *element, const char *pipeline, const char *flow, bool added);
void vdm_daemon_metrics_on_analytics (void *data, const vdm_peer *peer,
    const vdm_msg_analytics *analytics);

#endif
