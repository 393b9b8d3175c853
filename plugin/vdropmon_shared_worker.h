/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmon_shared_worker.h — one thread for the rounds of every vdropmon
 * element of the process (issue 13). Each element registers when it starts
 * and unregisters when it stops; the thread sleeps until the earliest
 * deadline of all of them (core/deadline_queue.h), runs the round of every
 * element then due, one after the other, and sleeps again. With a thread
 * per element, 200 elements meant 200 threads woken at every detector
 * bin's end, and in a VM the wake cost more than the round; now a bin's
 * end is one wake for all.
 *
 * A round is the element's: it takes its own lock, does what is due and
 * returns its next deadline. The worker's own lock is never held while a
 * round runs, and a wake (taken with the element's lock held) takes only
 * the worker's lock: the order is element lock, then worker lock.
 */
#ifndef VDROPMON_SHARED_WORKER_H
#define VDROPMON_SHARED_WORKER_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct _VdmWorkerClient VdmWorkerClient;

/* Does what is due for `data` and returns its next deadline, in
 * CLOCK_MONOTONIC ns (G_MAXUINT64: none, only a wake brings the next
 * round). Called on the worker thread, without the worker's lock. */
typedef guint64 (*VdmWorkerRound) (gpointer data);

/* Deadlines are served up to this late, so that those of several elements
 * within it share one wake (never early: a round before its time would
 * find nothing due and ask for the same time again). */
#define VDM_SHARED_WORKER_GRAIN_NS (1000 * 1000)

/* Registers a client; its first round runs at once. Starts the thread if
 * it is not running. */
VdmWorkerClient *vdm_shared_worker_add (VdmWorkerRound round, gpointer data);
/* A round as soon as possible (at once if the thread sleeps; after the
 * running one if it is this client's). Any thread, any lock held. */
void vdm_shared_worker_wake (VdmWorkerClient * client);
/* Unregisters and frees the client. When it returns, the client's round
 * is not running and never runs again — except when called from within
 * that round itself (a bus sync handler that stops the pipeline): then it
 * returns TRUE, the round finishes, and the client is freed after it. Not
 * with a lock held that the round takes. The thread ends when its last
 * client goes. */
gboolean vdm_shared_worker_remove (VdmWorkerClient * client);

/* For tests and benchmarks: clients registered, threads running (0 or 1),
 * rounds run and wakes of the thread since the process started. */
typedef struct
{
  guint clients;
  guint threads;
  guint64 rounds;
  guint64 wakes;
} VdmSharedWorkerStats;
void vdm_shared_worker_get_stats (VdmSharedWorkerStats * stats);

G_END_DECLS

#endif
