// SPDX-License-Identifier: (LGPL-2.1-or-later OR BSD-2-Clause)
/*
 * vdropmon.bpf.c — which packets of the watched streams did the kernel drop?
 *
 * Every freed-as-dropped skb passes skb:kfree_skb with a drop reason. We keep
 * only those of sockets/flows that userspace put in the watch maps, count them
 * per watch and reason in per-CPU counters (exact, never lost), and send the
 * details (time, reason, flow, first payload bytes: the RTP header) through a
 * ring buffer, counting every reserve failure.
 *
 * Two forms of the tracepoint exist: since 6.11 it names the receiving socket
 * (rx_sk); before (6.1, Debian 12) it does not. Both programs are here; the
 * loader probes the kernel BTF and autoloads exactly one.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "vdropmon_event.h"

#define ETH_P_IP_BE 0x0008 /* htons(0x0800), unused: we read the IP version nibble */
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Watched socket -> its watch id, stored on the socket itself (socket-local
 * storage, set by the collector through the socket's fd). A socket nobody
 * watches has no storage: its lookup ends at one NULL pointer, where a hash
 * of its cookie cost every packet of every socket with a cookie a hash. */
struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct vdm_socket_watch);
} socket_watches SEC(".maps");

/* Slot -> the public id now using it (0: free). A socket keeps its storage
 * after its watch is released (userspace may no longer hold its fd): only an
 * id that is still live counts, so a reused slot is never fed by the old
 * socket. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, VDM_DEFAULT_WATCH_SLOTS); /* sized at load: n_slots */
  __type(key, __u32);
  __type(value, __u32);
} live_watches SEC(".maps");

/* flow (wildcards as zeros; netns always set, except transit keys: 0) -> watch id */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, VDM_DEFAULT_WATCH_SLOTS * VDM_FLOW_KEYS_PER_SLOT);
  __type(key, struct vdm_flow_key);
  __type(value, __u32);
} watched_flows SEC(".maps");

/* Local (destination) port -> watched? One bit per port, set by the
 * collector while any flow key of its is installed (it keeps the counts).
 * 8 KiB of global data, read with one direct load: every unrelated drop
 * leaves before any map lookup or hashing (a 65,536-entry array map cost a
 * lookup and 256 KiB of lines to miss in). */
__u64 watched_port_bits[VDM_PORT_BITMAP_WORDS];
/* The queue-peak period, bumped by the collector after each reset of
 * queue_peak: a socket's stored peak of an older period counts as 0, so
 * the socket raises queue_peak again at its next packet. */
__u32 queue_peak_epoch;

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, VDM_DEFAULT_WATCH_SLOTS * VDM_REASON_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
} drop_counters SEC(".maps");

/* Every drop of this host, watched socket or not, per reason slot (issue 11:
 * vdropmon_host_kernel_drops_total, read by vdropmond by the map's name). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, VDM_REASON_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
} host_drops SEC(".maps");

/* Ring-buffer reserve failures per watch id. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, VDM_DEFAULT_WATCH_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
} events_lost SEC(".maps");

/* Peak receive-queue fill (per-mille of sk_rcvbuf) per watch id, raised
 * by a socket's new peak of the period (sk_data_ready), read and reset by
 * userspace, which then starts a new period (queue_peak_epoch). 64-bit like every per-CPU value userspace reads (8-byte stride). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, VDM_DEFAULT_WATCH_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
} queue_peak SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, VDM_HEALTH_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
} health SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, VDM_RINGBUF_BYTES);
} events SEC(".maps");

/* Before 6.11, kfree_skb names no socket, so an IPv4 UDP receive-buffer
 * drop would go by 5-tuple, and another socket on the same port (another
 * address, SO_REUSEPORT, another process) would look like ours. The
 * udp:udp_fail_queue_rcv_skb tracepoint names the socket of that very drop,
 * right before (6.11+) or right after (6.1) kfree_skb, on the same CPU: the
 * two are paired here. Set by the loader with the kernel's reason codes. */
const volatile bool pair_udp_fail = false;
/* 6.10+: udp_fail_queue_rcv_skb passes the skb and fires before its
 * kfree_skb; before, it fires after kfree_skb and names no skb. */
const volatile bool udp_fail_names_skb = false;
const volatile __u32 reason_socket_rcvbuff = 0xffffffff;
const volatile __u32 reason_proto_mem = 0xffffffff;

/* 6.1 order: kfree_skb and then udp_fail, adjacent in one function. They
 * are microseconds apart, unless the (virtual) CPU is stolen in between:
 * the window only stops a stash nobody claimed from pairing much later. */
#define PAIR_WINDOW_NS 1000000

struct udp_pair {
  __u64 fail_skb;        /* udp_fail seen first (6.10+ order): for this skb */
  __u64 fail_cookie;
  __u32 fail_watch_id;   /* what the socket's storage said (0: not ours) */
  __u32 fail_pad;
  __u64 drop_time;       /* kfree_skb seen first (6.1 order): ev stashed */
  __u32 fail_pending;
  __u32 drop_pending;
  __u32 drop_flow_watch; /* what the 5-tuple said, for a stash nobody claims */
  __u32 ev_valid;        /* ev filled (its port is watched) */
  struct vdm_kernel_flow_event ev;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct udp_pair);
} udp_pairs SEC(".maps");

static __always_inline void bump (void *map, __u32 index)
{
  __u64 *value = bpf_map_lookup_elem (map, &index);
  if (value)
    *value += 1;
}

static __always_inline __u64 socket_cookie (const struct sock *sk)
{
  /* Read, never assign: a socket userspace asked SO_COOKIE of has one;
   * a socket nobody asked about has 0 and is not ours. */
  /* A direct load: tp_btf arguments are BTF pointers the verifier lets us
   * read (a fault reads 0), where BPF_CORE_READ is a helper call each. */
  return sk->__sk_common.skc_cookie.counter;
}

/* The live watch id the socket's storage names, else 0. */
static __always_inline __u32 watch_of_storage (const struct sock *sk)
{
  struct vdm_socket_watch *stored = bpf_sk_storage_get (&socket_watches, (void *) sk, NULL, 0);
  __u32 id, slot, *live;

  if (!stored)
    return 0;
  id = stored->watch_id;
  slot = VDM_WATCH_SLOT (id);
  live = bpf_map_lookup_elem (&live_watches, &slot);
  return live && *live == id ? id : 0;
}

static __always_inline __u32 watch_of_socket (const struct sock *sk, __u64 *cookie)
{
  if (!sk)
    return 0;
  /* The cookie first: one load of a line the stack just touched. A watched
   * socket always has one (the collector asked for it); most others not. */
  *cookie = socket_cookie (sk);
  if (!*cookie)
    return 0;
  return watch_of_storage (sk);
}

/* Where the L4 payload is and how long the packet says it is. */
struct l4_payload {
  __u32 offset; /* from skb->head; 0 when the packet is not one we can parse */
  __u32 len;    /* bytes of L4 payload by the IP and UDP/TCP headers */
};

/* Payload bytes after an L4 header of hdr_len, by the IP length left (0 if
 * the header does not even fit). */
static __always_inline __u32 payload_after (__u32 ip_payload_len, __u32 hdr_len)
{
  return ip_payload_len > hdr_len ? ip_payload_len - hdr_len : 0;
}

/* The network header and the first L4 bytes, read in one helper call: an
 * IPv6 header or an option-less IPv4 header, then the UDP header or the
 * TCP header up to its data offset. Reading past a short packet stays in
 * the skb's head (its tailroom and shared info follow); the lengths the
 * headers give bound everything taken from it. */
#define L3L4_HEAD_BYTES (sizeof (struct ipv6hdr) + 20)

/* The L4 bytes we need: ports, UDP length, TCP data offset. */
struct l4_head {
  __be16 ports[2];
  __be16 udp_len;
  __u8 rest[6];  /* TCP: sequence and acknowledgement numbers */
  __u8 doff;
};

/* Parses IPv4/IPv6 + UDP/TCP from the skb's network header (valid on both
 * the receive path and the egress qdisc path), filling the flow as seen by
 * the receiver: local = destination. */
static __always_inline struct l4_payload parse_flow (struct sk_buff *skb, struct vdm_flow_key *flow)
{
  struct l4_payload none = {}, found = {};
  unsigned char *head = skb->head;
  __u16 nh = skb->network_header;
  __u8 raw[L3L4_HEAD_BYTES];
  struct l4_head l4h;
  __u32 ip_payload_len, l4, hdr_len;

  if (bpf_probe_read_kernel (raw, sizeof (raw), head + nh))
    return none;

  if ((raw[0] >> 4) == 4) {
    struct iphdr ip;
    __builtin_memcpy (&ip, raw, sizeof (ip));
    if (ip.frag_off & bpf_htons (0x1fff))
      return none; /* a non-first fragment has no L4 header */
    hdr_len = ip.ihl * 4;
    flow->family = AF_INET;
    flow->protocol = ip.protocol;
    __builtin_memcpy (flow->local_addr, &ip.daddr, 4);
    __builtin_memcpy (flow->remote_addr, &ip.saddr, 4);
    l4 = nh + hdr_len;
    ip_payload_len = payload_after (bpf_ntohs (ip.tot_len), hdr_len);
    if (hdr_len == sizeof (struct iphdr))
      __builtin_memcpy (&l4h, raw + sizeof (struct iphdr), sizeof (l4h));
    else if (bpf_probe_read_kernel (&l4h, sizeof (l4h), head + l4)) /* IP options */
      return none;
  } else if ((raw[0] >> 4) == 6) {
    struct ipv6hdr ip6;
    __builtin_memcpy (&ip6, raw, sizeof (ip6));
    flow->family = AF_INET6;
    flow->protocol = ip6.nexthdr; /* extension headers: not followed */
    __builtin_memcpy (flow->local_addr, &ip6.daddr, 16);
    __builtin_memcpy (flow->remote_addr, &ip6.saddr, 16);
    l4 = nh + sizeof (struct ipv6hdr);
    ip_payload_len = bpf_ntohs (ip6.payload_len);
    __builtin_memcpy (&l4h, raw + sizeof (struct ipv6hdr), sizeof (l4h));
  } else {
    return none;
  }

  if (flow->protocol != IPPROTO_UDP && flow->protocol != IPPROTO_TCP)
    return none;
  flow->remote_port = bpf_ntohs (l4h.ports[0]);
  flow->local_port = bpf_ntohs (l4h.ports[1]);

  if (flow->protocol == IPPROTO_UDP) {
    found.offset = l4 + 8;
    found.len = payload_after (ip_payload_len, 8);
    if (payload_after (bpf_ntohs (l4h.udp_len), 8) < found.len)
      found.len = payload_after (bpf_ntohs (l4h.udp_len), 8);
    return found;
  }
  found.offset = l4 + (l4h.doff >> 4) * 4;
  found.len = payload_after (ip_payload_len, (l4h.doff >> 4) * 4);
  return found;
}

/* 6.2+: a kernel address read as a typed struct, by plain loads the JIT
 * guards (a fault reads 0), where bpf_probe_read_kernel is a helper call
 * and a copy through the stack. Weak: the 6.1 form (kfree_skb_legacy, see
 * parse_flow) never calls it, and a kernel without it loads that form. */
extern void *bpf_rdonly_cast (const void *obj, __u32 btf_id) __ksym __weak;
#define kernel_view(type, addr) ((type *) bpf_rdonly_cast ((addr), bpf_core_type_id_kernel (type)))

/* parse_flow by direct loads (kfree_skb_rx_sk: 6.11+), and only what
 * decides: family, protocol, ports and where the payload is. The
 * addresses are read by flow_addrs_direct, once the port is known to be
 * watched; a drop its socket named needs none. */
static __always_inline struct l4_payload parse_flow_direct (struct sk_buff *skb,
    struct vdm_flow_key *flow)
{
  struct l4_payload none = {}, found = {};
  unsigned char *head = skb->head;
  __u32 nh = skb->network_header;
  struct iphdr *ip = kernel_view (struct iphdr, head + nh);
  __u32 ip_payload_len, l4, hdr_len;

  if (ip->version == 4) {
    if (ip->frag_off & bpf_htons (0x1fff))
      return none; /* a non-first fragment has no L4 header */
    hdr_len = ip->ihl * 4;
    flow->family = AF_INET;
    flow->protocol = ip->protocol;
    l4 = nh + hdr_len;
    ip_payload_len = payload_after (bpf_ntohs (ip->tot_len), hdr_len);
  } else if (ip->version == 6) {
    struct ipv6hdr *ip6 = kernel_view (struct ipv6hdr, head + nh);
    flow->family = AF_INET6;
    flow->protocol = ip6->nexthdr; /* extension headers: not followed */
    l4 = nh + sizeof (struct ipv6hdr);
    ip_payload_len = bpf_ntohs (ip6->payload_len);
  } else {
    return none;
  }
  if (flow->protocol == IPPROTO_UDP) {
    struct udphdr *udp = kernel_view (struct udphdr, head + l4);
    flow->remote_port = bpf_ntohs (udp->source);
    flow->local_port = bpf_ntohs (udp->dest);
    found.offset = l4 + 8;
    found.len = payload_after (ip_payload_len, 8);
    if (payload_after (bpf_ntohs (udp->len), 8) < found.len)
      found.len = payload_after (bpf_ntohs (udp->len), 8);
    return found;
  }
  if (flow->protocol == IPPROTO_TCP) {
    struct tcphdr *tcp = kernel_view (struct tcphdr, head + l4);
    __u32 doff = tcp->doff * 4;
    flow->remote_port = bpf_ntohs (tcp->source);
    flow->local_port = bpf_ntohs (tcp->dest);
    found.offset = l4 + doff;
    found.len = payload_after (ip_payload_len, doff);
    return found;
  }
  return none;
}

/* The addresses parse_flow_direct left out (local = destination). */
static __always_inline void flow_addrs_direct (struct sk_buff *skb, struct vdm_flow_key *flow)
{
  unsigned char *nh = skb->head + skb->network_header;

  if (flow->family == AF_INET) {
    struct iphdr *ip = kernel_view (struct iphdr, nh);
    __u32 daddr = ip->daddr, saddr = ip->saddr;
    __builtin_memcpy (flow->local_addr, &daddr, 4);
    __builtin_memcpy (flow->remote_addr, &saddr, 4);
  } else {
    struct ipv6hdr *ip6 = kernel_view (struct ipv6hdr, nh);
    __u32 i;
    for (i = 0; i < 4; i++) {
      __u32 d = ip6->daddr.in6_u.u6_addr32[i], r = ip6->saddr.in6_u.u6_addr32[i];
      __builtin_memcpy (flow->local_addr + 4 * i, &d, 4);
      __builtin_memcpy (flow->remote_addr + 4 * i, &r, 4);
    }
  }
}

/* The network namespace a drop happened in: the device's (receive and
 * transmit paths), else the owning socket's. 0 when neither is known. */
static __always_inline __u64 drop_netns (struct sk_buff *skb)
{
  struct net_device *dev = skb->dev;
  struct sock *sk;
  __u64 cookie = 0;

  if (dev)
    cookie = dev->nd_net.net->net_cookie;
  if (!cookie) {
    sk = skb->sk;
    if (sk)
      cookie = sk->__sk_common.skc_net.net->net_cookie;
  }
  return cookie;
}

static __always_inline __u32 lookup_flow (struct vdm_flow_key *key)
{
  __u32 *id;

  /* In the drop's own namespace, most specific first: full 5-tuple (TCP
   * connections), then destination address + port, then port alone (a
   * socket bound to any address). */
  id = bpf_map_lookup_elem (&watched_flows, key);
  if (id)
    return *id;
  __u16 remote_port = key->remote_port;
  __u64 netns = key->netns;
  __u8 remote_addr[16];
  __builtin_memcpy (remote_addr, key->remote_addr, 16);
  key->remote_port = 0;
  __builtin_memset (key->remote_addr, 0, 16);
  id = bpf_map_lookup_elem (&watched_flows, key);
  __u8 local_addr[16];
  __builtin_memcpy (local_addr, key->local_addr, 16);
  if (!id) {
    __builtin_memset (key->local_addr, 0, 16);
    id = bpf_map_lookup_elem (&watched_flows, key);
    __builtin_memcpy (key->local_addr, local_addr, 16);
  }
  if (!id) {
    /* Transit keys (netns 0): a packet on its way to one of a watch's own
     * non-loopback addresses, dropped in another namespace on the way (a
     * router namespace, the host side of a container's veth). */
    key->netns = 0;
    id = bpf_map_lookup_elem (&watched_flows, key);
    key->netns = netns;
  }
  key->remote_port = remote_port;
  __builtin_memcpy (key->remote_addr, remote_addr, 16);
  return id ? *id : 0;
}

static __always_inline bool port_is_watched (__u16 port)
{
  return watched_port_bits[port / 64] & (1ull << (port % 64));
}

/* The first payload bytes, never past the packet: bounded by the length the
 * headers give and by the linear data (skb->tail); the rest zero (eight
 * stores to lines the copy writes anyway). */
static __always_inline void copy_payload (struct sk_buff *skb, struct l4_payload payload,
    struct vdm_kernel_event *ev)
{
  __u32 tail = skb->tail;
  unsigned char *head = skb->head;
  __u32 avail;

  __builtin_memset (ev->payload, 0, VDM_PAYLOAD_BYTES);
  ev->payload_len = 0;
  if (!payload.offset || tail <= payload.offset)
    return;
  avail = tail - payload.offset;
  if (avail > payload.len)
    avail = payload.len;
  if (avail > VDM_PAYLOAD_BYTES)
    avail = VDM_PAYLOAD_BYTES;
  if (avail == 0)
    return;
  /* The compiler knows avail is 1..64 and would drop a plain mask; the
   * verifier needs to see the bound on the register it gets. */
  __u64 size = avail;
  asm volatile ("%[size] &= 0x7f" : [size] "+r" (size));
  if (size == 0 || size > VDM_PAYLOAD_BYTES)
    return;
  if (!bpf_probe_read_kernel (ev->payload, size, head + payload.offset))
    ev->payload_len = size;
}

/* The first n (1..7) bytes of a word as stored in memory. */
static __always_inline __u64 first_bytes_mask (__u32 n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return (1ull << (n * 8)) - 1;
#else
  return ~0ull << ((8 - n) * 8);
#endif
}

/* copy_payload by direct loads (6.11+ form): eight word loads, the bytes
 * past the payload zeroed. Reading up to 64 bytes past a short packet
 * stays in its head buffer (the tailroom, then struct skb_shared_info),
 * and a fault would read 0. The view: any kernel struct that starts with
 * at least 64 bytes of plain words (linux_mib: unsigned long mibs[]). */
static __always_inline void copy_payload_direct (struct sk_buff *skb, struct l4_payload payload,
    struct vdm_kernel_event *ev)
{
  __u32 tail = skb->tail, avail = 0, i;
  __u64 *out = (__u64 *) ev->payload;

  if (payload.offset && tail > payload.offset) {
    avail = tail - payload.offset;
    if (avail > payload.len)
      avail = payload.len;
    if (avail > VDM_PAYLOAD_BYTES)
      avail = VDM_PAYLOAD_BYTES;
  }
  ev->payload_len = avail;
  if (!avail) {
    __builtin_memset (ev->payload, 0, VDM_PAYLOAD_BYTES);
    return;
  }
  struct linux_mib *words = kernel_view (struct linux_mib, skb->head + payload.offset);
#pragma unroll
  for (i = 0; i < VDM_PAYLOAD_BYTES / 8; i++) {
    __u64 w = words->mibs[i];
    if (avail <= i * 8)
      w = 0;
    else if (avail < i * 8 + 8)
      w &= first_bytes_mask (avail - i * 8);
    out[i] = w;
  }
}

static __always_inline void fill_event (struct sk_buff *skb, __u32 reason, __u32 watch_id,
    __u64 cookie, __u8 attributed_by, __u8 kind, struct l4_payload payload,
    struct vdm_kernel_event *ev, bool direct)
{
  ev->ktime_ns = bpf_ktime_get_ns ();
  ev->sock_cookie = cookie;
  ev->reason = reason;
  ev->watch_id = watch_id;
  ev->skb_len = skb->len;
  ev->kind = kind;
  ev->attributed_by = attributed_by;
  ev->pad = 0;
  if (direct)
    copy_payload_direct (skb, payload, ev);
  else
    copy_payload (skb, payload, ev);
}

static __always_inline void count_lost_event (__u32 watch_id)
{
  bump (&events_lost, VDM_WATCH_SLOT (watch_id));
  bump (&health, VDM_HEALTH_RINGBUF_LOST);
}

/* No wakeup on submit: the collector drains the ring every few ms on its
 * own. A wakeup per event (irq_work + epoll) costs microseconds per drop,
 * in softirq, exactly when the host is already overloaded. */

/* A drop its socket named: the short event, no flow. */
static __always_inline void emit_socket_event (struct sk_buff *skb, __u32 reason, __u32 watch_id,
    __u64 cookie, struct l4_payload payload, bool direct)
{
  struct vdm_kernel_event *ev = bpf_ringbuf_reserve (&events, sizeof (*ev), 0);

  if (!ev) {
    count_lost_event (watch_id);
    return;
  }
  fill_event (skb, reason, watch_id, cookie, VDM_ATTR_SOCKET, VDM_EVENT_DROP, payload, ev, direct);
  bpf_ringbuf_submit (ev, BPF_RB_NO_WAKEUP);
}

/* A drop its 5-tuple matched: the event and that flow. */
static __always_inline void emit_flow_event (struct sk_buff *skb, __u32 reason, __u32 watch_id,
    const struct vdm_flow_key *flow, struct l4_payload payload, bool direct)
{
  struct vdm_kernel_flow_event *ev = bpf_ringbuf_reserve (&events, sizeof (*ev), 0);

  if (!ev) {
    count_lost_event (watch_id);
    return;
  }
  fill_event (skb, reason, watch_id, 0, VDM_ATTR_FLOW, VDM_EVENT_DROP_FLOW, payload, &ev->drop,
      direct);
  ev->flow = *flow;
  bpf_ringbuf_submit (ev, BPF_RB_NO_WAKEUP);
}

/* Counts and sends a stashed event (6.1 order), now that its watch is
 * known: by its socket (the short event), or by its flow (stale stash). */
static __always_inline void emit_stashed (const struct vdm_kernel_flow_event *stashed,
    __u32 watch_id, __u64 cookie, __u8 attributed_by)
{
  if (VDM_WATCH_SLOT (watch_id) == 0)
    return;
  bump (&drop_counters, vdm_counter_index (watch_id, stashed->drop.reason));
  if (attributed_by == VDM_ATTR_SOCKET) {
    struct vdm_kernel_event *ev = bpf_ringbuf_reserve (&events, sizeof (*ev), 0);
    if (!ev) {
      count_lost_event (watch_id);
      return;
    }
    __builtin_memcpy (ev, &stashed->drop, sizeof (*ev));
    ev->kind = VDM_EVENT_DROP;
    ev->watch_id = watch_id;
    ev->sock_cookie = cookie;
    ev->attributed_by = VDM_ATTR_SOCKET;
    bpf_ringbuf_submit (ev, BPF_RB_NO_WAKEUP);
    return;
  }
  struct vdm_kernel_flow_event *fev = bpf_ringbuf_reserve (&events, sizeof (*fev), 0);
  if (!fev) {
    count_lost_event (watch_id);
    return;
  }
  __builtin_memcpy (fev, stashed, sizeof (*fev));
  fev->drop.kind = VDM_EVENT_DROP_FLOW;
  fev->drop.watch_id = watch_id;
  fev->drop.sock_cookie = 0;
  fev->drop.attributed_by = VDM_ATTR_FLOW;
  bpf_ringbuf_submit (fev, BPF_RB_NO_WAKEUP);
}

static __always_inline struct udp_pair *udp_pair_slot (void)
{
  __u32 zero = 0;
  return bpf_map_lookup_elem (&udp_pairs, &zero);
}

/* A stash whose udp_fail never came: what the 5-tuple said, as before. */
static __always_inline void flush_stale_stash (struct udp_pair *pair)
{
  if (!pair->drop_pending)
    return;
  pair->drop_pending = 0;
  if (pair->ev_valid)
    emit_stashed (&pair->ev, pair->drop_flow_watch, 0, VDM_ATTR_FLOW);
}

static __always_inline bool is_udp_fail_reason (__u32 reason)
{
  return pair_udp_fail && (reason == reason_socket_rcvbuff || reason == reason_proto_mem);
}

/* 6.10+ order: udp_fail came just before this drop of the same skb and
 * named its socket. Matching the skb, not a time window, keeps a delay
 * between the two (a stolen vCPU) from unpairing them.
 * Returns true with *cookie and *watch_id set (0: not ours). */
static __always_inline bool take_fail_of (struct udp_pair *pair, const struct sk_buff *skb,
    __u64 *cookie, __u32 *watch_id)
{
  bool same_skb = pair->fail_pending && pair->fail_skb == (__u64) skb;

  pair->fail_pending = 0;
  *cookie = pair->fail_cookie;
  *watch_id = pair->fail_watch_id;
  return same_skb;
}

/* The kernel named a socket no watch has by cookie. It may still be a TCP
 * connection named by hand (the watch property: no socket handed over, so
 * no cookie): its flow key is the full 5-tuple, which names one connection
 * in a namespace, so an exact match cannot take another socket for it.
 * Two loads and a bitmap test decide for every other drop. */
static __always_inline bool may_be_named_connection (const struct sock *sk)
{
  return sk->sk_protocol == IPPROTO_TCP && port_is_watched (sk->__sk_common.skc_num);
}

/* direct: the 6.11+ form, which reads the headers and payload by direct
 * loads (bpf_rdonly_cast); the 6.1 form copies them with
 * bpf_probe_read_kernel. */
static __always_inline int handle_drop (struct sk_buff *skb, __u32 reason, const struct sock *rx_sk,
    bool direct)
{
  __u64 cookie = 0;
  __u8 attributed_by = VDM_ATTR_SOCKET;
  __u32 watch_id = 0;
  struct l4_payload payload;
  struct udp_pair *pair = NULL;
  bool socket_known = false;
  bool exact_only = false;      /* a named socket we do not watch: full 5-tuple keys only */

  bump (&host_drops, reason < VDM_REASON_SLOTS - 1 ? reason : VDM_REASON_SLOTS - 1);

  if (!rx_sk && is_udp_fail_reason (reason)) {
    pair = udp_pair_slot ();
    if (pair && udp_fail_names_skb) {
      if (take_fail_of (pair, skb, &cookie, &watch_id)) {
        /* udp_fail named the socket: it alone decides, as rx_sk would. */
        socket_known = true;
        if (!watch_id)
          return 0;
      }
      pair = NULL; /* nothing follows this drop to pair a stash with */
    }
  }
  /* The kernel named the socket: it alone decides. */
  if (!socket_known) {
    watch_id = watch_of_socket (rx_sk, &cookie);
    if (!watch_id && !rx_sk)
      watch_id = watch_of_socket (skb->sk, &cookie);
    if (!watch_id && rx_sk) {
      if (!may_be_named_connection (rx_sk))
        return 0;
      exact_only = true;
    }
  }

  /* Zeroed here, not at the top: a drop decided above writes nothing. */
  struct vdm_flow_key flow = {};
  payload = direct ? parse_flow_direct (skb, &flow) : parse_flow (skb, &flow);
  if (pair && !socket_known) {
    /* 6.1 order: udp_fail follows with the socket. Always leave a pending
     * drop, so that the udp_fail which follows pairs with it and not with
     * the next drop; stash the event when it may be ours. */
    flush_stale_stash (pair);
    pair->drop_pending = 1;
    pair->drop_time = bpf_ktime_get_ns ();
    pair->ev_valid = 0;
    if (!watch_id && payload.offset && flow.family == AF_INET && flow.protocol == IPPROTO_UDP) {
      if (port_is_watched (flow.local_port)) {
        flow.netns = drop_netns (skb);
        pair->drop_flow_watch = lookup_flow (&flow);
        fill_event (skb, reason, pair->drop_flow_watch, 0, VDM_ATTR_FLOW, VDM_EVENT_DROP_FLOW,
            payload, &pair->ev.drop, direct);
        pair->ev.flow = flow;
        pair->ev_valid = 1;
      }
      return 0;
    }
  }
  if (!watch_id) {
    /* No socket (qdisc, netfilter, pre-6.11 socket drops): by 5-tuple. */
    if (!payload.offset)
      return 0;
    if (!port_is_watched (flow.local_port))
      return 0;
    /* after the prefilter: a few reads saved per unrelated drop */
    if (direct)
      flow_addrs_direct (skb, &flow);
    flow.netns = drop_netns (skb);
    if (exact_only) {
      __u32 *id = flow.protocol == IPPROTO_TCP && flow.remote_port
          ? bpf_map_lookup_elem (&watched_flows, &flow) : NULL;
      watch_id = id ? *id : 0;
    } else {
      watch_id = lookup_flow (&flow);
    }
    if (!watch_id)
      return 0;
    attributed_by = VDM_ATTR_FLOW;
  }
  if (VDM_WATCH_SLOT (watch_id) == 0)
    return 0;

  bump (&drop_counters, vdm_counter_index (watch_id, reason));
  if (attributed_by == VDM_ATTR_FLOW)
    emit_flow_event (skb, reason, watch_id, &flow, payload, direct);
  else
    emit_socket_event (skb, reason, watch_id, cookie, payload, direct);
  return 0;
}

/* 6.11 and later: trace_kfree_skb(skb, location, reason, rx_sk) */
SEC ("tp_btf/kfree_skb")
int BPF_PROG (kfree_skb_rx_sk, struct sk_buff *skb, void *location, enum skb_drop_reason reason,
    struct sock *rx_sk)
{
  return handle_drop (skb, reason, rx_sk, true);
}

/* Before 6.11 (6.1 on Debian 12): trace_kfree_skb(skb, location, reason) */
SEC ("tp_btf/kfree_skb")
int BPF_PROG (kfree_skb_legacy, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
  return handle_drop (skb, reason, NULL, false);
}

/* Pairs with kfree_skb_legacy (see udp_pair) on 6.1-6.9, where
 * trace_udp_fail_queue_rcv_skb (rc, sk) follows the drop it explains. */
SEC ("tp_btf/udp_fail_queue_rcv_skb")
int BPF_PROG (udp_fail, int rc, struct sock *sk)
{
  struct udp_pair *pair = udp_pair_slot ();
  __u64 cookie = 0;

  if (!pair || !pair->drop_pending)
    return 0;
  if (bpf_ktime_get_ns () - pair->drop_time >= PAIR_WINDOW_NS) {
    flush_stale_stash (pair);
    return 0;
  }
  /* The drop came first; now its socket decides. */
  pair->drop_pending = 0;
  __u32 watch_id = watch_of_socket (sk, &cookie);
  if (watch_id && pair->ev_valid)
    emit_stashed (&pair->ev, watch_id, cookie, VDM_ATTR_SOCKET);
  return 0;
}

/* 6.10+: trace_udp_fail_queue_rcv_skb (rc, sk, skb) comes before the drop
 * of skb; only a kernel without rx_sk (6.10) or the 6.1 emulation reads it. */
SEC ("tp_btf/udp_fail_queue_rcv_skb")
int BPF_PROG (udp_fail_skb, int rc, struct sock *sk, struct sk_buff *skb)
{
  struct udp_pair *pair = udp_pair_slot ();

  if (!pair)
    return 0;
  __u64 cookie = 0;
  pair->fail_watch_id = watch_of_socket (sk, &cookie);
  pair->fail_pending = 1;
  pair->fail_skb = (__u64) skb;
  pair->fail_cookie = cookie;
  return 0;
}

/* The receive queue is filling: keep its peak fill per watched socket,
 * the precursor of SOCKET_RCVBUFF drops. Per packet: the cookie, the
 * socket's storage, the period, two socket fields, a compare. Only a new
 * peak of the period (rarely more than a few per socket and period) looks
 * up the live id and raises the watch's per-CPU queue_peak, which the
 * collector reads and resets (then it starts a new period). */
SEC ("tp_btf/sk_data_ready")
int BPF_PROG (sk_data_ready, const struct sock *sk)
{
  struct vdm_socket_watch *stored;
  __u32 epoch, peak, slot, *live;

  if (!socket_cookie (sk))
    return 0;
  stored = bpf_sk_storage_get (&socket_watches, (void *) sk, NULL, 0);
  if (!stored)
    return 0;
  int rcvbuf = sk->sk_rcvbuf;
  int rmem = sk->sk_backlog.rmem_alloc.counter;
  if (rcvbuf <= 0 || rmem < 0)
    return 0;
  epoch = queue_peak_epoch;
  peak = stored->peak_epoch == epoch ? stored->queue_peak : 0;
  /* Divide only for a new peak: rmem / rcvbuf > peak / 1000, multiplied out. */
  if ((__u64) rmem * 1000 <= (__u64) peak * (__u32) rcvbuf)
    return 0;
  peak = (__u64) rmem * 1000 / (__u32) rcvbuf;
  stored->queue_peak = peak;
  stored->peak_epoch = epoch;
  slot = VDM_WATCH_SLOT (stored->watch_id);
  live = bpf_map_lookup_elem (&live_watches, &slot);
  if (!live || *live != stored->watch_id)
    return 0;  /* a released watch's mark: its slot may be someone else's */
  __u64 *published = bpf_map_lookup_elem (&queue_peak, &slot);
  if (published && *published < peak)
    *published = peak;
  bump (&health, VDM_HEALTH_QUEUE_PEAKS);  /* only on a new peak, not per packet */
  return 0;
}
