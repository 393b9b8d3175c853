/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench_util — what every part of vdm-bench shares: clocks, RTP packets,
 * the kernel's BPF run-time statistics switch, the cache-thrashing step that
 * makes a packet as cold as one of a real stream among a thousand, pacing,
 * and medians.
 */
#ifndef VDM_BENCH_UTIL_H
#define VDM_BENCH_UTIL_H

#include <glib.h>
#include <netinet/in.h>

#include "collector.h"

#define BENCH_H264_CAPS \
  "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"
#define BENCH_RTP_HEADER 12
/* The realistic rate of the "cold" measures: 4,000 packets/s, each after a
 * cache-thrashing step (a real host serves ~1,000 streams between two
 * packets of one stream: its state is out of cache every time). */
#define BENCH_COLD_RATE 4000

guint64 bench_now_ns (void);
/* CPU time of the whole process (user + system), ns. */
guint64 bench_process_cpu_ns (void);
/* An RTP packet carrying a middle FU-A fragment of a non-IDR H.264 slice. */
void bench_write_rtp (guint8 * p, gsize size, guint16 seq, guint32 ts);
void bench_set_seq (guint8 * p, guint16 seq, guint32 ts);

/* Walks a buffer larger than the last-level cache: what other streams do to
 * this one's cache lines between two of its packets. */
void bench_thrash_caches (void);
/* Sleeps until *next (CLOCK_MONOTONIC ns), then advances it by period_ns. */
void bench_pace (guint64 * next, guint64 period_ns);

gdouble bench_median (const gdouble * values, guint n);

/* kernel.bpf_stats_enabled=1 until bench_bpf_stats_restore() or exit.
 * FALSE with *why (g_free) when it cannot be switched on. */
gboolean bench_bpf_stats_enable (gchar ** why);
void bench_bpf_stats_restore (void);

/* Run time and count of the embedded collector's programs. */
typedef struct
{
  guint64 kfree_ns, kfree_runs;
  guint64 ready_ns, ready_runs;
} BenchProgramStats;

void bench_program_stats (vdm_source * source, BenchProgramStats * out);
/* ns per run between two samples; 0 when nothing ran. */
gdouble bench_ns_per_run (guint64 ns_before, guint64 ns_after, guint64 runs_before,
    guint64 runs_after);

/* BPF programs loaded on the host whose name starts with prefix (every
 * process's collector loads its own: a drop runs all of theirs), with their
 * summed run time and run count (kernel.bpf_stats_enabled). */
guint bench_bpf_programs (const gchar * prefix, guint64 * run_ns, guint64 * run_cnt);
/* A UDP socket bound to 127.0.0.1 (port 0: any), receive buffer rcvbuf
 * bytes (the kernel's minimum for 1). Exits on failure. */
int bench_udp_receiver (struct sockaddr_in *addr, int rcvbuf);
/* A loopback port nobody listens on. */
struct sockaddr_in bench_closed_port (void);

#endif
