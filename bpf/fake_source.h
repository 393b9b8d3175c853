/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fake_source.h — an event source driven by tests: they see what a consumer
 * watches and inject the drops, counters, queue fill and lost events it
 * should get. It behaves as the contract of event_source.h says a source
 * behaves (callbacks on the source's own thread, never the caller's; a
 * socket watched twice shares one watch; unsubscribe waits for a running
 * callback), so what passes against it passes for the reason it should.
 *
 * One default instance exists per process: vdm_source_open ("fake", ...)
 * returns a reference to it, so a test reaches the very instance an element
 * in the same process opened (the source library is one shared object, one
 * copy per process). Private instances (vdm_fake_source_new) serve tests of
 * the source itself.
 *
 * Determinism: injected drops are queued and delivered, in order, by the
 * fake's own thread ("vdm-fake"). vdm_fake_source_flush() returns once
 * every drop injected before it has been delivered, so a GstTestClock test
 * injects, flushes, then moves the clock.
 */
#ifndef VDROPMON_FAKE_SOURCE_H
#define VDROPMON_FAKE_SOURCE_H

#include "event_source.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vdm_fake_source vdm_fake_source;

/* What a consumer watches, as the fake sees it. */
typedef struct {
  uint32_t watch_id;
  int fd;                   /* the fd given to vdm_source_watch, -1 for a flow */
  uint64_t cookie;          /* SO_COOKIE of that fd, 0 for a flow */
  struct vdm_flow_key flow; /* from the fd (as the embedded collector derives it) or as given */
  unsigned n_subscribers;
} vdm_fake_watch;

/* A drop to inject. Zero fields take the defaults named. */
typedef struct {
  uint32_t watch_id;
  uint64_t ktime_ns;                  /* 0: CLOCK_MONOTONIC now */
  uint32_t reason;
  const char *reason_name;            /* NULL: the name last given for reason, else "UNKNOWN" */
  enum vdm_attribution attributed_by; /* 0: VDM_ATTR_SOCKET */
  uint32_t skb_len;                   /* 0: 28 + payload_len (IPv4 + UDP headers) */
  struct vdm_flow_key flow;           /* family 0: the watch's flow */
  uint64_t sock_cookie;               /* 0: the watch's cookie */
  const uint8_t *payload;             /* copied, at most VDM_PAYLOAD_BYTES */
  size_t payload_len;
  bool uncounted;                     /* true: the event only; counters stay (a late or stray event) */
} vdm_fake_drop;

/* The process-wide instance (created on first use; never destroyed). Borrowed. */
VDM_SOURCE_API vdm_fake_source *vdm_fake_source_get_default (void);
/* A private instance with a reference count of 1 (vdm_source_unref to free). */
VDM_SOURCE_API vdm_fake_source *vdm_fake_source_new (void);
VDM_SOURCE_API vdm_source *vdm_fake_source_as_source (vdm_fake_source *fake);
/* NULL when source is not a fake. */
VDM_SOURCE_API vdm_fake_source *vdm_fake_source_from_source (vdm_source *source);

/* What vdm_source_get_info reports (default: both true). */
VDM_SOURCE_API void vdm_fake_source_set_info (vdm_fake_source *fake, bool has_rx_sk,
    bool has_queue_fill);

/* Copies up to max current watches (lowest id first) into out; returns how
 * many there are. */
VDM_SOURCE_API size_t vdm_fake_source_list_watches (vdm_fake_source *fake, vdm_fake_watch *out,
    size_t max);
/* Waits until at least n watches exist; false after timeout_ms. For a test
 * waiting for an element to find its sockets. */
VDM_SOURCE_API bool vdm_fake_source_wait_watches (vdm_fake_source *fake, size_t n,
    unsigned timeout_ms);
/* Current and total subscriptions. */
VDM_SOURCE_API unsigned vdm_fake_source_subscription_count (vdm_fake_source *fake);
VDM_SOURCE_API unsigned vdm_fake_source_subscribe_calls (vdm_fake_source *fake);

/* Queues a drop for delivery on the fake's thread and, unless uncounted,
 * counts it in the watch's per-reason counters as the kernel would.
 * Returns 0, -ENOENT for a watch id not (or no longer) watched, -ENOMEM. */
VDM_SOURCE_API int vdm_fake_source_inject_drop (vdm_fake_source *fake, const vdm_fake_drop *drop);
/* Returns once every drop injected before the call was delivered (or
 * discarded: its watch went away). Never call it from a callback. */
VDM_SOURCE_API void vdm_fake_source_flush (vdm_fake_source *fake);

/* Per-watch values, each -ENOENT for an unknown watch id. */
VDM_SOURCE_API int vdm_fake_source_set_counters (vdm_fake_source *fake, uint32_t watch_id,
    const vdm_counters *counters);
/* Returned once by the next vdm_source_queue_peak (then 0, as the kernel's peak resets). */
VDM_SOURCE_API int vdm_fake_source_set_queue_peak (vdm_fake_source *fake, uint32_t watch_id,
    int per_mille);
/* Also what counters() reports as ringbuf_lost. */
VDM_SOURCE_API int vdm_fake_source_set_events_lost (vdm_fake_source *fake, uint32_t watch_id,
    uint64_t lost);
/* Names a reason code (interned) for vdm_source_reason_name and later drops. */
VDM_SOURCE_API void vdm_fake_source_set_reason_name (vdm_fake_source *fake, uint32_t reason,
    const char *name);

#ifdef __cplusplus
}
#endif
#endif
