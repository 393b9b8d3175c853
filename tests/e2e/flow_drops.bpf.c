// SPDX-License-Identifier: LGPL-2.1-or-later OR BSD-2-Clause
/*
 * flow_drops.bpf.c — the tests' own, minimal count of kfree_skb events of
 * one IPv4 TCP/UDP flow, per drop reason: an independent reference for what
 * vdropmon reports, written without any of its code (no watches, no ring
 * buffer, no socket cookies). The flow is set by the loader, as the
 * receiver sees it: local = destination.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define MAX_REASONS 512

const volatile __u8 flow_protocol = 0;
const volatile __u32 flow_local_addr = 0;       /* network order */
const volatile __u32 flow_remote_addr = 0;
const volatile __u16 flow_local_port = 0;       /* host order */
const volatile __u16 flow_remote_port = 0;

struct {
  __uint (type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint (max_entries, MAX_REASONS);
  __type (key, __u32);
  __type (value, __u64);
} drops SEC (".maps");

static __always_inline bool is_our_flow (struct sk_buff *skb)
{
  unsigned char *head = BPF_CORE_READ (skb, head);
  __u16 nh = BPF_CORE_READ (skb, network_header);
  struct iphdr ip;
  __be16 ports[2];

  if (bpf_probe_read_kernel (&ip, sizeof (ip), head + nh) || ip.version != 4
      || ip.protocol != flow_protocol || ip.daddr != flow_local_addr
      || ip.saddr != flow_remote_addr || (ip.frag_off & bpf_htons (0x1fff)))
    return false;
  if (bpf_probe_read_kernel (ports, sizeof (ports), head + nh + ip.ihl * 4))
    return false;
  return bpf_ntohs (ports[0]) == flow_remote_port && bpf_ntohs (ports[1]) == flow_local_port;
}

/* The first three arguments are the same on every kernel with reasons. */
SEC ("tp_btf/kfree_skb")
int BPF_PROG (count_flow_drop, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
  __u32 key = reason < MAX_REASONS ? reason : MAX_REASONS - 1;
  __u64 *n;

  if (!is_our_flow (skb))
    return 0;
  n = bpf_map_lookup_elem (&drops, &key);
  if (n)
    *n += 1;
  return 0;
}

char LICENSE[] SEC ("license") = "Dual BSD/GPL";
