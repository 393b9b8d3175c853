/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench_parts — the parts of vdm-bench and the figures each hands to the
 * final summary (issue 13's targets). A figure left negative was not
 * measured (no root, no BPF).
 */
#ifndef VDM_BENCH_PARTS_H
#define VDM_BENCH_PARTS_H

#include <glib.h>

typedef struct
{
  gdouble element_tight_ns, identity_tight_ns;
  gdouble element_tight_all_ns, identity_tight_all_ns;      /* process CPU, all threads */
  gdouble element_cold_ns, identity_cold_ns;
  gdouble element_unobserved_fraction; /* records its worker could not take (collector=auto) */
  gdouble kfree_unwatched[2], kfree_nosock[2], kfree_watched[2]; /* [0] tight, [1] cold */
  gdouble kfree_unwatched_cookie[2]; /* a socket with a cookie (`ss` gives every socket one) */
  gdouble ready_watched[2], ready_unwatched[2], ready_unwatched_cookie[2];
  gdouble meminfo_ns[2];        /* getsockopt(SO_MEMINFO), the timer alternative */
  gdouble flood_drops_per_s, flood_sent_per_s;
  gdouble flood_ceiling_per_s;  /* the same flood with identity: what the host carries */
  guint flood_gso_segments;     /* datagrams per send (1: plain sendmmsg) */
  guint flood_kfree_programs;   /* kfree_skb programs loaded on the host, ours included */
  guint64 flood_outside_sockets; /* sent, neither dropped at a socket nor received */
  guint64 flood_late_ms;        /* the last messages, after the settle (bounded wait) */
  guint64 flood_kernel_drops, flood_messages, flood_events_lost; /* summed over the sockets */
  gint flood_accounted;         /* 1 every drop accounted for, 0 not, -1 not run */
  gint flood_kept_passing;
  guint host_streams;
  gdouble host_identity_ns_per_packet, host_vdropmon_ns_per_packet; /* all-in, each */
  gdouble host_extra_ns_per_packet; /* vdropmon minus identity, all-in */
  gdouble host_core_share_1200;     /* of one core, for 1,200 streams at 300 packets/s */
  gdouble host_identity_switches, host_vdropmon_switches; /* context switches/s per stream */
} BenchSummary;

void bench_summary_init (BenchSummary * summary);
void bench_element (BenchSummary * summary);
void bench_bpf (BenchSummary * summary);
void bench_flood (BenchSummary * summary);
void bench_host (BenchSummary * summary);
void bench_print_summary (const BenchSummary * summary);

#endif
