/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * event_source.h — the one small interface between "where kernel drop events
 * come from" and the code that consumes them.
 *
 * Today the only implementation is the embedded collector (collector.c), which
 * loads the BPF program into this process. A later collector daemon serving
 * many pipelines over a Unix socket implements the same functions on the
 * client side, so the plugin never knows which one it talks to.
 *
 * Threading: callbacks run on the source's own thread, never on a caller's.
 * They must return quickly (copy, queue, signal) and must not call back into
 * the source except vdm_source_counters()/vdm_source_queue_peak().
 */
#ifndef VDROPMON_EVENT_SOURCE_H
#define VDROPMON_EVENT_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vdropmon_event.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a consumer asks to watch: a socket (by fd, resolved to its SO_COOKIE
 * and local address) or a flow given by hand. */
typedef struct {
  int fd;                   /* -1 when watching a flow only */
  struct vdm_flow_key flow; /* filled from fd when fd >= 0 */
} vdm_watch_spec;

/* A decoded drop, handed to the consumer. */
typedef struct {
  uint64_t ktime_ns;        /* CLOCK_MONOTONIC of the drop */
  uint32_t reason;          /* kernel's skb_drop_reason value */
  const char *reason_name;  /* e.g. "SOCKET_RCVBUFF"; static, never NULL */
  uint32_t watch_id;
  uint64_t sock_cookie;
  enum vdm_attribution attributed_by;
  uint32_t skb_len;
  struct vdm_flow_key flow;
  const uint8_t *payload;   /* first bytes of the L4 payload (e.g. the RTP packet) */
  size_t payload_len;
} vdm_drop;

typedef struct {
  void (*on_drop) (void *user_data, const vdm_drop *drop);
} vdm_consumer;

typedef struct {
  uint64_t per_reason[VDM_REASON_SLOTS]; /* index = reason, last slot = overflow */
  uint64_t total;
  uint64_t ringbuf_lost;                 /* events this watch lost to a full ring buffer */
} vdm_counters;

typedef struct vdm_source vdm_source;
typedef struct vdm_subscription vdm_subscription;

/* Information a source gives about itself. */
typedef struct {
  const char *name;            /* "embedded" */
  bool has_rx_sk;              /* kfree_skb names the receiving socket (6.11+) */
  bool has_queue_fill;         /* sk_data_ready samples available */
} vdm_source_info;

/* Opens (or shares) the embedded collector. On failure returns NULL and sets
 * *error to a malloc'd human sentence saying exactly why (caller frees). */
vdm_source *vdm_source_open_embedded (char **error);
void vdm_source_unref (vdm_source *source);
void vdm_source_get_info (vdm_source *source, vdm_source_info *info);

vdm_subscription *vdm_source_subscribe (vdm_source *source, const vdm_consumer *consumer,
    void *user_data);
/* After this returns, no callback of the subscription runs or will run. */
void vdm_source_unsubscribe (vdm_source *source, vdm_subscription *sub);

/* Returns a watch id > 0, or a negative errno. Watching the same socket
 * twice from one subscription returns the existing id. */
int vdm_source_watch (vdm_source *source, vdm_subscription *sub, const vdm_watch_spec *spec);
void vdm_source_unwatch (vdm_source *source, vdm_subscription *sub, uint32_t watch_id);

/* Authoritative per-CPU counters, summed. */
int vdm_source_counters (vdm_source *source, uint32_t watch_id, vdm_counters *out);
/* Peak receive-queue fill in per-mille since the last call (then reset);
 * -1 when unavailable. */
int vdm_source_queue_peak (vdm_source *source, uint32_t watch_id);

const char *vdm_source_reason_name (vdm_source *source, uint32_t reason);

#ifdef __cplusplus
}
#endif
#endif
