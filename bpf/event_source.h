/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * event_source.h — the one interface between "where kernel drop events come
 * from" and the code that consumes them, chosen at run time.
 *
 * Implementations (each fills a vdm_source_ops table and embeds vdm_source as
 * its first member):
 *   embedded  bpf/collector.c       loads the BPF program into this process
 *   fake      bpf/fake_source.c     drops injected by tests (fake_source.h)
 *   daemon    (vdropmond client)    talks to the host's collector daemon
 *   unavailable                     a build without eBPF: open fails, says why
 *
 * The public functions below dispatch through the ops table, so a consumer
 * never knows which implementation it talks to. vdm_source_open() opens one by
 * name; "auto" order and fallback are the consumer's business (the element's
 * collector property), because only it knows what to tell its user.
 *
 * Lifetime: a source is reference counted (atomically). Anyone who may use a
 * source while another thread could drop the last reference (e.g. the element's
 * stats getter racing stop()) takes its own reference first.
 *
 * Strings: reason names returned by vdm_source_reason_name() and carried in
 * vdm_drop.reason_name live for the whole process (interned), never freed with
 * the source, so a drop report may keep them across a restart.
 *
 * Threading: callbacks run on the source's own thread, never on a caller's.
 * They must return quickly (copy, queue, signal) and must not call back into
 * the source except vdm_source_counters()/vdm_source_events_lost()/
 * vdm_source_queue_peak(). vdm_source_unwatch() and _unwatch_final() may wait
 * (briefly, bounded) for the source's thread to deliver a watch's queued
 * events: call them without holding a lock that a callback takes.
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

#ifndef VDM_SOURCE_API
#define VDM_SOURCE_API __attribute__ ((visibility ("default")))
#endif

/* What a consumer asks to watch: a socket (by fd, resolved to its SO_COOKIE,
 * addresses and network namespace) or a flow given by hand. */
typedef struct {
  int fd;                   /* -1 when watching a flow only */
  struct vdm_flow_key flow; /* filled from fd when fd >= 0 */
} vdm_watch_spec;

/* A decoded drop, handed to the consumer. */
typedef struct {
  uint64_t ktime_ns;        /* CLOCK_MONOTONIC of the drop */
  uint32_t reason;          /* kernel's skb_drop_reason value */
  const char *reason_name;  /* e.g. "SOCKET_RCVBUFF"; process lifetime, never NULL */
  uint32_t watch_id;
  uint64_t sock_cookie;
  enum vdm_attribution attributed_by;
  uint32_t skb_len;
  struct vdm_flow_key flow;
  const uint8_t *payload;   /* first bytes of the L4 payload; valid during the call only */
  size_t payload_len;
  uint32_t count;           /* packets this drop stands for: 0 or 1 = one packet; more only
                             * for a catch-up (VDM_ATTR_CATCH_UP, no payload) */
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
  const char *name;            /* "embedded", "fake", "daemon" */
  bool has_rx_sk;              /* kfree_skb names the receiving socket (6.11+) */
  bool has_queue_fill;         /* sk_data_ready samples available */
  const char *status;          /* NULL = "running"; "reconnecting" while a daemon source
                                * has lost its daemon (static string) */
} vdm_source_info;

/* The implementation's side. Every entry is required unless marked optional. */
typedef struct {
  const char *name;
  void (*destroy) (vdm_source *source);           /* last reference gone */
  void (*get_info) (vdm_source *source, vdm_source_info *info);
  vdm_subscription *(*subscribe) (vdm_source *source, const vdm_consumer *consumer,
      void *user_data);
  void (*unsubscribe) (vdm_source *source, vdm_subscription *sub);
  int (*watch) (vdm_source *source, vdm_subscription *sub, const vdm_watch_spec *spec);
  void (*unwatch) (vdm_source *source, vdm_subscription *sub, uint32_t watch_id);
  /* optional: unwatch and read the watch's last counters in one step, so that
   * no drop counted in between is lost (else counters() then unwatch()) */
  int (*unwatch_final) (vdm_source *source, vdm_subscription *sub, uint32_t watch_id,
      vdm_counters *out);
  int (*counters) (vdm_source *source, uint32_t watch_id, vdm_counters *out);
  /* optional: cheaper than counters() when only the lost events are wanted */
  int (*events_lost) (vdm_source *source, uint32_t watch_id, uint64_t *out);
  int (*queue_peak) (vdm_source *source, uint32_t watch_id);
  const char *(*reason_name) (vdm_source *source, uint32_t reason);
} vdm_source_ops;

/* Embedded as the first member of every implementation's struct. */
struct vdm_source {
  const vdm_source_ops *ops;
  int refcount;                /* atomic */
};

/* For implementations: a malloc'd sentence for the *error of an open
 * function (NULL when out of memory). */
VDM_SOURCE_API char *vdm_source_format_error (const char *fmt, ...)
    __attribute__ ((format (printf, 1, 2)));

/* For implementations: sets ops and a refcount of 1. */
VDM_SOURCE_API void vdm_source_init (vdm_source *source, const vdm_source_ops *ops);

/* Opens a source by name: "embedded", "fake" or "daemon" (daemon_socket is
 * then the socket path, NULL for the default). On failure returns NULL and
 * sets *error to a malloc'd sentence saying exactly why (caller frees). */
VDM_SOURCE_API vdm_source *vdm_source_open (const char *name, const char *daemon_socket,
    char **error);
/* Opens (or shares) the embedded collector; same contract as above. */
VDM_SOURCE_API vdm_source *vdm_source_open_embedded (char **error);

VDM_SOURCE_API vdm_source *vdm_source_ref (vdm_source *source);
VDM_SOURCE_API void vdm_source_unref (vdm_source *source);
VDM_SOURCE_API void vdm_source_get_info (vdm_source *source, vdm_source_info *info);

VDM_SOURCE_API vdm_subscription *vdm_source_subscribe (vdm_source *source,
    const vdm_consumer *consumer, void *user_data);
/* After this returns, no callback of the subscription runs or will run. */
VDM_SOURCE_API void vdm_source_unsubscribe (vdm_source *source, vdm_subscription *sub);

/* Returns a watch id > 0, or a negative errno. Watching the same socket
 * twice from one subscription returns the existing id. */
VDM_SOURCE_API int vdm_source_watch (vdm_source *source, vdm_subscription *sub,
    const vdm_watch_spec *spec);
VDM_SOURCE_API void vdm_source_unwatch (vdm_source *source, vdm_subscription *sub,
    uint32_t watch_id);
/* Unwatches and returns the watch's counters as they stand when it stops
 * counting for this subscription: the drops of a socket's last moments (a
 * TCP close) are not lost with the watch. The embedded collector first
 * delivers the events the ring still holds for the watch (before either
 * function returns), and its final counters then count exactly the drops
 * matched until the kernel stopped matching. Returns 0, or a negative errno
 * with *out zeroed (the watch is unwatched all the same). */
VDM_SOURCE_API int vdm_source_unwatch_final (vdm_source *source, vdm_subscription *sub,
    uint32_t watch_id, vdm_counters *out);

/* Authoritative per-CPU counters, summed. */
VDM_SOURCE_API int vdm_source_counters (vdm_source *source, uint32_t watch_id,
    vdm_counters *out);
/* Events this watch lost to a full ring buffer (or a slow client connection). */
VDM_SOURCE_API int vdm_source_events_lost (vdm_source *source, uint32_t watch_id,
    uint64_t *out);
/* Peak receive-queue fill in per-mille since the last call (then reset);
 * -1 when unavailable. */
VDM_SOURCE_API int vdm_source_queue_peak (vdm_source *source, uint32_t watch_id);

VDM_SOURCE_API const char *vdm_source_reason_name (vdm_source *source, uint32_t reason);

/* For implementations: a copy of name that lives as long as the process
 * (one copy per distinct string, thread-safe). NULL only when out of memory. */
VDM_SOURCE_API const char *vdm_source_intern_name (const char *name);

/* For implementations built outside this library (the daemon client): makes
 * vdm_source_open (name, ...) call open. A later registration of the same name
 * replaces the earlier one; "embedded" and "fake" are built in. Call it before
 * the first vdm_source_open() of that name, e.g. from a constructor.
 * Returns 0, or -ENOSPC when the table of names is full. */
typedef vdm_source *(*vdm_source_opener) (const char *daemon_socket, char **error);
VDM_SOURCE_API int vdm_source_register_opener (const char *name, vdm_source_opener open);

#ifdef __cplusplus
}
#endif
#endif
