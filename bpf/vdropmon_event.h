/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmon_event.h — the binary contract between the BPF program and its loader.
 *
 * Included by bpf/vdropmon.bpf.c (with vmlinux.h types) and by userspace
 * (with <linux/types.h>). Keep it free of anything else: every struct here is
 * read from a BPF map or the ring buffer byte for byte.
 */
#ifndef VDROPMON_EVENT_H
#define VDROPMON_EVENT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* A watch id is a slot (low VDM_WATCH_SLOT_BITS bits: 1..slots-1, indexing
 * the per-CPU arrays; 0 is never used, so a zero lookup means "not
 * watched") and a generation (the bits above, up to bit 30 so that an id
 * stays a positive int), bumped each time the slot is reused, so that an
 * event queued for a released watch never reaches the slot's next owner.
 *
 * How many slots a loaded program has is the loader's choice (the maps are
 * sized with bpf_map__set_max_entries before load: vdropmond 4096, an
 * element's embedded collector VDM_DEFAULT_WATCH_SLOTS); the sizes written
 * in vdropmon.bpf.c are those of the default. Every array lookup is bounded
 * by the map's real size, so the program itself never needs to know it. */
#define VDM_WATCH_SLOT_BITS 16
#define VDM_WATCH_SLOT_MASK ((1u << VDM_WATCH_SLOT_BITS) - 1)
#define VDM_WATCH_GENERATION_BITS (31 - VDM_WATCH_SLOT_BITS)
#define VDM_WATCH_SLOT(id) ((id) & VDM_WATCH_SLOT_MASK)
#define VDM_WATCH_SLOTS_MAX (1u << VDM_WATCH_SLOT_BITS) /* slot 0 included, never used */
#define VDM_DEFAULT_WATCH_SLOTS 256
/* Flow keys a watch may install (flow_keys.h), and so watched_flows entries per slot. */
#define VDM_FLOW_KEYS_PER_SLOT 8
/* Reason codes >= VDM_REASON_SLOTS - 1 (incl. subsystem reasons) share the last slot. */
#define VDM_REASON_SLOTS 256
#define VDM_PAYLOAD_BYTES 64
#define VDM_RINGBUF_BYTES (1 << 20)
/* The watched-port bitmap (global watched_port_bits): one bit per port. */
#define VDM_PORT_BITMAP_WORDS (65536 / 64)

/* The value of the socket-local storage map socket_watches: set by the
 * collector on each watched socket (key: the socket's fd), the rest zero.
 * queue_peak and peak_epoch are the program's: the receive queue's peak
 * fill (per-mille of sk_rcvbuf) in the collector's current peak period
 * (the global queue_peak_epoch, bumped at each reset of queue_peak), kept
 * on the socket so that sk_data_ready touches no other map per packet. */
struct vdm_socket_watch {
  __u32 watch_id;
  __u32 queue_peak;
  __u32 peak_epoch;
  __u32 pad;
};

enum vdm_event_kind {
  VDM_EVENT_DROP = 2,      /* struct vdm_kernel_event: matched by its socket */
  VDM_EVENT_DROP_FLOW = 3, /* struct vdm_kernel_flow_event: matched by 5-tuple */
};

/* A flow as the kernel saw it. Addresses in network order; IPv4 uses the
 * first 4 bytes of the address arrays, the rest zero. Ports in host order.
 * netns is the network namespace's cookie (SO_NETNS_COOKIE, net->net_cookie):
 * the same addresses and port in two namespaces are two flows. In the
 * watched_flows map, netns 0 marks a transit key (see vdropmon.bpf.c). */
struct vdm_flow_key {
  __u8 family;   /* AF_INET (2) or AF_INET6 (10) */
  __u8 protocol; /* IPPROTO_UDP (17) or IPPROTO_TCP (6) */
  __u16 local_port;
  __u16 remote_port; /* 0 = any */
  __u16 pad;
  __u8 local_addr[16];  /* all zero = any */
  __u8 remote_addr[16]; /* all zero = any */
  __u64 netns;
};

/* One dropped packet of a watched socket or flow, as it leaves the kernel
 * (96 bytes: every byte is written in the softirq that drops the packet,
 * so only what userspace needs). A drop matched by its socket carries no
 * flow: the loader knows the socket's. A drop matched by 5-tuple comes as
 * struct vdm_kernel_flow_event, with the flow it was matched on. The
 * kind, first, tells which; both start with this struct. */
struct vdm_kernel_event {
  __u64 ktime_ns;      /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
  __u64 sock_cookie;   /* 0 when the drop named no socket */
  __u32 reason;        /* kernel enum skb_drop_reason, as this kernel numbers it */
  __u32 watch_id;
  __u32 skb_len;
  __u8 kind;           /* enum vdm_event_kind */
  __u8 attributed_by;  /* enum vdm_attribution */
  __u8 payload_len;    /* valid bytes in payload[] (L4 payload start); the rest zero */
  __u8 pad;
  __u8 payload[VDM_PAYLOAD_BYTES];
};

struct vdm_kernel_flow_event {
  struct vdm_kernel_event drop; /* kind VDM_EVENT_DROP_FLOW */
  struct vdm_flow_key flow;     /* local = destination side of the packet */
};

enum vdm_attribution {
  VDM_ATTR_SOCKET = 1, /* rx_sk (6.11+) or skb->sk cookie matched */
  VDM_ATTR_FLOW = 2,   /* 5-tuple parsed from the skb's headers matched */
  VDM_ATTR_CATCH_UP = 3, /* userspace only (daemon client): drops the socket's own counter
                          * (SK_MEMINFO_DROPS) saw while no event could be delivered */
};

/* Index into the per-CPU counters array. */
static inline __u32 vdm_counter_index(__u32 watch_id, __u32 reason)
{
  __u32 slot = reason < VDM_REASON_SLOTS - 1 ? reason : VDM_REASON_SLOTS - 1;
  return VDM_WATCH_SLOT(watch_id) * VDM_REASON_SLOTS + slot;
}

/* Global per-CPU health counters (array map "health"). */
enum vdm_health {
  VDM_HEALTH_RINGBUF_LOST = 0, /* bpf_ringbuf_reserve failed: event lost, count kept */
  VDM_HEALTH_MATCHED = 1,      /* unused: a per-drop count on the watched path, read by nobody
                                * but the bench; a watch's own counters (drop_counters) count
                                * the same drops exactly */
  VDM_HEALTH_SEEN = 2,         /* unused: a per-invocation count cost every drop on the host a
                                * lookup; the kernel counts runs (bpf_prog_info.run_cnt) */
  VDM_HEALTH_PARSE_FAIL = 3,   /* header reads that failed */
  VDM_HEALTH_QUEUE_PEAKS = 4,  /* a watched socket's queue peak rose: vdropmond's sampler reads
                                * the peaks of all watches only when this moved */
  VDM_HEALTH_SLOTS = 8,
};

#endif
