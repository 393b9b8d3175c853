/* metrics_http.h — serves /metrics over HTTP with libmicrohttpd.
 *
 * `vdropmond --metrics-listen ADDR:PORT` starts one. libmicrohttpd runs
 * its own thread: the render callback is called from that thread, once per
 * GET /metrics, and must take whatever lock guards the registry.
 *
 * Only GET and HEAD of /metrics (200, text exposition, gzip when the
 * client's Accept-Encoding names it, as Prometheus's does) and / (a short
 * page linking to it) are served; any other path is 404, any other
 * method 405. At most 16 connections at once, 10 s idle timeout: a
 * scraper that misbehaves cannot hold the daemon.
 */
#ifndef VDM_METRICS_HTTP_H
#define VDM_METRICS_HTTP_H

#include <stdint.h>

#include "metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The port suggested in docs/fleet.md for --metrics-listen. */
#define VDM_METRICS_SUGGESTED_PORT 9945

typedef struct VdmMetricsHttp VdmMetricsHttp;

/* Appends the scrape to `text`; returns 0, or -1 to answer 500. */
typedef int (*VdmMetricsRenderFunc) (VdmMetricsText * text, void *user_data);

/* Parses "HOST:PORT" with a numeric IPv4 host ("127.0.0.1:9945") or
 * "[IPv6]:PORT" ("[::1]:9945"). Port 0 picks a free port. Returns 0, or -1
 * with a sentence in `error`. */
int vdm_metrics_http_parse_listen (const char *listen, void *sockaddr_out,
    unsigned *sockaddr_len, char *error, size_t error_size);

/* Listens and serves until stopped. NULL with a sentence in `error` when
 * the address is invalid or cannot be bound. */
VdmMetricsHttp *vdm_metrics_http_start (const char *listen,
    VdmMetricsRenderFunc render, void *user_data, char *error, size_t error_size);

/* The port actually bound (useful with port 0). */
uint16_t vdm_metrics_http_port (const VdmMetricsHttp * http);

/* Scrapes served so far (200 answers to GET /metrics). */
uint64_t vdm_metrics_http_scrapes (const VdmMetricsHttp * http);

void vdm_metrics_http_stop (VdmMetricsHttp * http);

#ifdef __cplusplus
}
#endif
#endif /* VDM_METRICS_HTTP_H */
