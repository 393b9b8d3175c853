/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * deadline_queue.h — when each of many clients is next due, for one thread
 * that serves them all (issue 13: one shared worker per process instead of
 * a thread per element; each wake of a thread costs more than the round it
 * wakes for, so the rounds of all elements due at one time are served in
 * one wake).
 *
 * An intrusive binary min-heap: each client embeds a vdm_deadline_entry and
 * is queued, moved or taken out in O(log n); the earliest is known in O(1).
 * vdm_deadline_round_up() puts a deadline on a grid, so that deadlines of
 * different clients that fall within one grain share one wake (a client is
 * then served up to one grain late, never early).
 *
 * Plain C, no locks (the caller's), no clock: times are passed in
 * (CLOCK_MONOTONIC ns in the element).
 */
#ifndef VDM_DEADLINE_QUEUE_H
#define VDM_DEADLINE_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#define VDM_DEADLINE_NEVER UINT64_MAX
#define VDM_DEADLINE_NOT_QUEUED UINT32_MAX

/* Embedded in the client; vdm_deadline_entry_init() before first use. */
typedef struct {
  uint64_t due;                 /* as queued */
  uint32_t slot;                /* index in the heap, VDM_DEADLINE_NOT_QUEUED */
} vdm_deadline_entry;

typedef struct vdm_deadline_queue vdm_deadline_queue;

/* NULL when out of memory. */
vdm_deadline_queue *vdm_deadline_queue_new (void);
/* The entries still queued are left as they are (not freed: not ours). */
void vdm_deadline_queue_free (vdm_deadline_queue *queue);

void vdm_deadline_entry_init (vdm_deadline_entry *entry);
static inline bool
vdm_deadline_entry_queued (const vdm_deadline_entry *entry)
{
  return entry->slot != VDM_DEADLINE_NOT_QUEUED;
}

/* `due` rounded up to a multiple of the grain (0, "now", and
 * VDM_DEADLINE_NEVER stay; a grain of 0 changes nothing). */
uint64_t vdm_deadline_round_up (uint64_t due, uint64_t grain_ns);

/* Queues the entry at `due`, or moves it there if queued already (a later
 * or an earlier time). VDM_DEADLINE_NEVER takes it out. false: out of
 * memory, the entry is not queued. */
bool vdm_deadline_queue_set (vdm_deadline_queue *queue, vdm_deadline_entry *entry, uint64_t due);
/* Queues the entry at `due` unless it is queued at that time or earlier
 * (a wake never postpones a round). */
bool vdm_deadline_queue_advance (vdm_deadline_queue *queue, vdm_deadline_entry *entry,
    uint64_t due);
/* Takes it out; nothing if it is not queued. */
void vdm_deadline_queue_remove (vdm_deadline_queue *queue, vdm_deadline_entry *entry);

/* The earliest deadline queued, VDM_DEADLINE_NEVER when empty. */
uint64_t vdm_deadline_queue_next (const vdm_deadline_queue *queue);
/* Takes out and returns the earliest entry due at `now` (due <= now), or
 * NULL. Entries due at the same time come out in no particular order. */
vdm_deadline_entry *vdm_deadline_queue_pop_due (vdm_deadline_queue *queue, uint64_t now);
unsigned vdm_deadline_queue_length (const vdm_deadline_queue *queue);

#endif
