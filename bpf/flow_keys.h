/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * flow_keys.h — every key a watch puts into the BPF program's watched_flows
 * map, so that drops naming no socket still find it:
 *   - the flow itself, in its network namespace (SO_NETNS_COOKIE);
 *   - an IPv4-mapped IPv6 socket's flow as IPv4 (the packets are IPv4);
 *   - for a dual-stack socket bound to "::" (IPV6_V6ONLY off), and for a
 *     flow named by hand with no address ("udp:5004"), the other family too;
 *   - transit keys (netns 0) for the watch's own non-loopback addresses: a
 *     drop in another namespace on the way to one of them (a router
 *     namespace, a container host's veth qdisc) is ours, by exact address.
 */
#ifndef VDM_FLOW_KEYS_H
#define VDM_FLOW_KEYS_H

#include "event_source.h"

#define VDM_MAX_KEYS_PER_WATCH VDM_FLOW_KEYS_PER_SLOT /* the BPF map is sized by it */

/* The network namespace cookie of the calling thread, 0 if unknown. */
VDM_SOURCE_API uint64_t vdm_current_netns_cookie (void);

/* Fills out with up to max keys for a watch of flow (from fd when fd >= 0,
 * else named by hand; flow->netns already set). Returns how many (>= 1). */
VDM_SOURCE_API int vdm_watch_flow_keys (const struct vdm_flow_key *flow, int fd,
    struct vdm_flow_key *out, int max);

#endif
