/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench_flood_send — the drop flood's senders: flat-out loopback threads
 * that hand the kernel many small RTP datagrams per system call. With UDP
 * GSO (UDP_SEGMENT) one message of N × 64 bytes leaves as one skb and is cut
 * into N datagrams on the receiving socket's side (udp_rcv_segment): each
 * that finds the receive queue full is a drop of its own, counted in the
 * socket's drop counter and freed through kfree_skb with that socket — what
 * a NIC's burst is to a watched socket, without paying the send path per
 * datagram, which is what limits a flood of plain sendmmsg on a 2-core host.
 */
#ifndef VDM_BENCH_FLOOD_SEND_H
#define VDM_BENCH_FLOOD_SEND_H

#include <glib.h>
#include <netinet/in.h>

typedef struct
{
  guint n_threads;
  /* Datagrams per message: > 1 sends them as one UDP GSO message of
   * gso_segments × packet_size bytes (consecutive RTP sequence numbers);
   * 0 or 1: one datagram per message (plain sendmmsg). */
  guint gso_segments;
  guint messages_per_call;      /* sendmmsg batch, 1..FLOOD_MAX_BATCH */
  gsize packet_size;
} FloodSendPlan;

#define FLOOD_MAX_BATCH 64
#define FLOOD_MAX_GSO_SEGMENTS 64       /* UDP_MAX_SEGMENTS before 6.10 */

typedef struct _FloodSenders FloodSenders;

/* Each thread sends round-robin to the n_dst addresses, its own SSRC, until
 * duration_ns is over or flood_senders_stop(). If the kernel refuses
 * UDP_SEGMENT, the threads fall back to one datagram per message and
 * flood_senders_gso() says 1. */
FloodSenders *flood_senders_start (const struct sockaddr_in *dst, guint n_dst,
    const FloodSendPlan * plan, guint64 duration_ns);
/* Datagrams per message actually used (1: no GSO). */
guint flood_senders_gso (FloodSenders * senders);
/* Datagrams sent so far (segments, not messages). */
guint64 flood_senders_sent (FloodSenders * senders);
/* sendmmsg calls refused with ENOBUFS so far: the first message did not
 * leave (on loopback: the receive backlog, netdev_max_backlog, was full). */
guint64 flood_senders_refused (FloodSenders * senders);
/* Stops, joins, frees; returns datagrams sent and, if asked, the CPU time
 * the sender threads used (ns) and the calls refused. */
guint64 flood_senders_stop (FloodSenders * senders, guint64 * cpu_ns, guint64 * refused);

#endif
