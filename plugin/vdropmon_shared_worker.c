/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmon_shared_worker.c — the process's one worker thread (see the
 * header). State, all under `shared.lock`: the schedule (a deadline queue
 * of every client not in a round), whether the thread runs and what it
 * sleeps until. A client in a round is out of the queue and marked
 * `running`; a wake meanwhile is remembered (`wake_pending`) and queues it
 * at once when the round returns.
 */
#include "vdropmon_shared_worker.h"

#include "deadline_queue.h"
#include "gstvdropmon_priv.h"   /* vdm_monotonic_ns */

struct _VdmWorkerClient
{
  vdm_deadline_entry entry;     /* first: the queue hands entries back */
  VdmWorkerRound round;
  gpointer data;
  gboolean running;             /* its round is on the thread now */
  gboolean wake_pending;        /* woken during that round */
  gboolean removed;             /* unregistered: never queued again */
  gboolean orphaned;            /* unregistered from its own round: the thread frees it */
};

static struct
{
  GMutex lock;
  GCond wake;                   /* the thread's sleep */
  GCond round_done;             /* a round ended (remove waits for it) */
  vdm_deadline_queue *queue;
  guint clients;
  gboolean thread_alive;
  gboolean sleeping;
  guint64 sleep_until;          /* while sleeping: CLOCK_MONOTONIC ns, G_MAXUINT64 none */
  guint64 rounds, wakes;
} shared;

/* The client whose round this thread runs now (NULL elsewhere). */
static __thread VdmWorkerClient *current_client;

/* Queues a client that is not in a round. Cannot fail: the queue grew to
 * hold every client when it was added. */
static void
schedule_locked (VdmWorkerClient * client, guint64 due)
{
  gboolean ok = vdm_deadline_queue_set (shared.queue, &client->entry, due);

  g_assert (ok);
  if (shared.sleeping && vdm_deadline_queue_next (shared.queue) < shared.sleep_until)
    g_cond_signal (&shared.wake);
}

/* One client's round, the lock released meanwhile. */
static void
run_round_locked (VdmWorkerClient * client)
{
  guint64 due;

  client->running = TRUE;
  client->wake_pending = FALSE;
  shared.rounds++;
  g_mutex_unlock (&shared.lock);
  current_client = client;
  due = client->round (client->data);
  current_client = NULL;
  g_mutex_lock (&shared.lock);
  client->running = FALSE;
  if (client->orphaned) {
    g_free (client);
    return;
  }
  if (client->removed) {
    g_cond_broadcast (&shared.round_done);
    return;
  }
  /* woken meanwhile: again now, but after those that were due before
   * (a client woken at every round must not starve the others) */
  schedule_locked (client, client->wake_pending ? vdm_monotonic_ns ()
      : vdm_deadline_round_up (due, VDM_SHARED_WORKER_GRAIN_NS));
}

/* g_cond_wait_until's time (CLOCK_MONOTONIC µs), rounded up: woken a
 * microsecond early, the thread would find nothing due and sleep again. */
static gint64
wait_end_us (guint64 due_ns)
{
  guint64 us = due_ns / 1000 + (due_ns % 1000 != 0);

  return (gint64) MIN (us, (guint64) G_MAXINT64);
}

static gpointer
worker_main (gpointer unused)
{
  vdm_deadline_entry *due;

  g_mutex_lock (&shared.lock);
  while (shared.clients > 0) {
    /* every client due now, the time read again after each round: a round
     * may take long enough for another to come due */
    while ((due = vdm_deadline_queue_pop_due (shared.queue, vdm_monotonic_ns ())))
      run_round_locked ((VdmWorkerClient *) due);
    if (shared.clients == 0)
      break;
    shared.sleep_until = vdm_deadline_queue_next (shared.queue);
    shared.sleeping = TRUE;
    if (shared.sleep_until == G_MAXUINT64)
      g_cond_wait (&shared.wake, &shared.lock);
    else
      g_cond_wait_until (&shared.wake, &shared.lock, wait_end_us (shared.sleep_until));
    shared.sleeping = FALSE;
    shared.wakes++;
  }
  shared.thread_alive = FALSE;  /* the next add starts another */
  g_mutex_unlock (&shared.lock);
  return NULL;
}

VdmWorkerClient *
vdm_shared_worker_add (VdmWorkerRound round, gpointer data)
{
  VdmWorkerClient *client = g_new0 (VdmWorkerClient, 1);

  vdm_deadline_entry_init (&client->entry);
  client->round = round;
  client->data = data;
  g_mutex_lock (&shared.lock);
  if (!shared.queue)
    shared.queue = vdm_deadline_queue_new ();
  if (!shared.queue || !vdm_deadline_queue_set (shared.queue, &client->entry, 0))
    g_error ("vdropmon: out of memory for the worker's schedule");
  shared.clients++;
  if (!shared.thread_alive) {
    shared.thread_alive = TRUE;
    shared.sleeping = FALSE;
    g_thread_unref (g_thread_new ("vdropmon", worker_main, NULL));
  } else if (shared.sleeping) {
    g_cond_signal (&shared.wake);
  }
  g_mutex_unlock (&shared.lock);
  return client;
}

void
vdm_shared_worker_wake (VdmWorkerClient * client)
{
  g_mutex_lock (&shared.lock);
  if (client->running)
    client->wake_pending = TRUE;
  else if (!client->removed
      && !(vdm_deadline_entry_queued (&client->entry) && client->entry.due == 0))
    schedule_locked (client, 0);
  g_mutex_unlock (&shared.lock);
}

gboolean
vdm_shared_worker_remove (VdmWorkerClient * client)
{
  g_mutex_lock (&shared.lock);
  client->removed = TRUE;
  vdm_deadline_queue_remove (shared.queue, &client->entry);
  shared.clients--;
  if (shared.clients == 0 && shared.sleeping)
    g_cond_signal (&shared.wake);       /* to end */
  if (client->running && current_client == client) {
    client->orphaned = TRUE;    /* its round is below us on this stack */
    g_mutex_unlock (&shared.lock);
    return TRUE;
  }
  while (client->running)
    g_cond_wait (&shared.round_done, &shared.lock);
  g_mutex_unlock (&shared.lock);
  g_free (client);
  return FALSE;
}

void
vdm_shared_worker_get_stats (VdmSharedWorkerStats * stats)
{
  g_mutex_lock (&shared.lock);
  stats->clients = shared.clients;
  stats->threads = shared.thread_alive ? 1 : 0;
  stats->rounds = shared.rounds;
  stats->wakes = shared.wakes;
  g_mutex_unlock (&shared.lock);
}
