/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench_threads — where a process's CPU goes, by thread: a snapshot of
 * every thread's run and run-queue time (schedstat) and context switches
 * (status), and
 * the difference of two snapshots grouped by thread name (the 200 workers
 * named "vdropmon" are one row). Used by the host part to show which
 * threads the per-stream cost is in, and how often they wake (issue 13).
 */
#ifndef VDM_BENCH_THREADS_H
#define VDM_BENCH_THREADS_H

#include <glib.h>

typedef struct _BenchThreads BenchThreads;

/* What the threads of one name did between two snapshots. */
typedef struct
{
  guint threads;
  guint64 run_ns;               /* on a CPU */
  guint64 wait_ns;              /* runnable, waiting for a CPU */
  guint64 voluntary;            /* context switches: it slept (a poll, a lock) */
  guint64 involuntary;          /* it was preempted */
} BenchThreadTotals;

/* Every thread of this process now. */
BenchThreads *bench_threads_snapshot (void);
void bench_threads_free (BenchThreads * snap);

/* Prints, per thread name, over the interval between two snapshots: the
 * threads, % of one core, and per stream (n_streams) the µs of CPU and the
 * voluntary / involuntary context switches per second. Threads that ran in
 * only one snapshot count from zero (started) or not at all (ended). */
void bench_threads_print (const BenchThreads * before, const BenchThreads * after,
    gdouble seconds, guint n_streams);

/* The totals of the threads named name (e.g. "vdm-collector") between two
 * snapshots; all zero when none ran. */
void bench_threads_named (const BenchThreads * before, const BenchThreads * after,
    const gchar * name, BenchThreadTotals * out);

/* Context switches (voluntary + involuntary) per second per stream between
 * two snapshots, all threads. */
gdouble bench_threads_switches_per_stream (const BenchThreads * before,
    const BenchThreads * after, gdouble seconds, guint n_streams);

#endif
