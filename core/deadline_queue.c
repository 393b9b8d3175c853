/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * deadline_queue.c — an intrusive binary min-heap of deadlines (see the
 * header). The heap is an array of entry pointers; each entry knows its
 * slot, so that moving or removing it needs no search.
 */
#include "deadline_queue.h"

#include <stdlib.h>

struct vdm_deadline_queue {
  vdm_deadline_entry **heap;
  uint32_t len, cap;
};

vdm_deadline_queue *
vdm_deadline_queue_new (void)
{
  return calloc (1, sizeof (vdm_deadline_queue));
}

void
vdm_deadline_queue_free (vdm_deadline_queue *queue)
{
  if (!queue)
    return;
  for (uint32_t i = 0; i < queue->len; i++)
    queue->heap[i]->slot = VDM_DEADLINE_NOT_QUEUED;
  free (queue->heap);
  free (queue);
}

void
vdm_deadline_entry_init (vdm_deadline_entry *entry)
{
  entry->due = VDM_DEADLINE_NEVER;
  entry->slot = VDM_DEADLINE_NOT_QUEUED;
}

uint64_t
vdm_deadline_round_up (uint64_t due, uint64_t grain_ns)
{
  uint64_t rest;

  if (grain_ns == 0 || due == 0 || due == VDM_DEADLINE_NEVER)
    return due;
  rest = due % grain_ns;
  if (rest == 0)
    return due;
  /* the last grain before the end of time: never wrap to an early time */
  return due > VDM_DEADLINE_NEVER - (grain_ns - rest) ? VDM_DEADLINE_NEVER - 1
      : due + (grain_ns - rest);
}

/* ------------------------------------------------------------------------ */
/* The heap.                                                                 */

static void
place (vdm_deadline_queue *q, vdm_deadline_entry *e, uint32_t slot)
{
  q->heap[slot] = e;
  e->slot = slot;
}

static void
sift_up (vdm_deadline_queue *q, uint32_t slot)
{
  vdm_deadline_entry *e = q->heap[slot];

  while (slot > 0) {
    uint32_t parent = (slot - 1) / 2;

    if (q->heap[parent]->due <= e->due)
      break;
    place (q, q->heap[parent], slot);
    slot = parent;
  }
  place (q, e, slot);
}

static void
sift_down (vdm_deadline_queue *q, uint32_t slot)
{
  vdm_deadline_entry *e = q->heap[slot];

  for (;;) {
    uint32_t child = 2 * slot + 1;

    if (child >= q->len)
      break;
    if (child + 1 < q->len && q->heap[child + 1]->due < q->heap[child]->due)
      child++;
    if (e->due <= q->heap[child]->due)
      break;
    place (q, q->heap[child], slot);
    slot = child;
  }
  place (q, e, slot);
}

static bool
grow (vdm_deadline_queue *q)
{
  uint32_t cap = q->cap ? 2 * q->cap : 16;
  vdm_deadline_entry **heap;

  if (q->len < q->cap)
    return true;
  heap = realloc (q->heap, cap * sizeof (*heap));
  if (!heap)
    return false;
  q->heap = heap;
  q->cap = cap;
  return true;
}

void
vdm_deadline_queue_remove (vdm_deadline_queue *queue, vdm_deadline_entry *entry)
{
  uint32_t slot = entry->slot;
  vdm_deadline_entry *last;

  if (slot == VDM_DEADLINE_NOT_QUEUED)
    return;
  entry->slot = VDM_DEADLINE_NOT_QUEUED;
  last = queue->heap[--queue->len];
  if (last == entry)
    return;
  /* the last entry fills the hole, then finds its place either way */
  place (queue, last, slot);
  sift_up (queue, slot);
  sift_down (queue, last->slot);
}

bool
vdm_deadline_queue_set (vdm_deadline_queue *queue, vdm_deadline_entry *entry, uint64_t due)
{
  if (due == VDM_DEADLINE_NEVER) {
    vdm_deadline_queue_remove (queue, entry);
    entry->due = due;
    return true;
  }
  if (entry->slot == VDM_DEADLINE_NOT_QUEUED) {
    if (!grow (queue))
      return false;
    entry->due = due;
    place (queue, entry, queue->len++);
    sift_up (queue, entry->slot);
    return true;
  }
  entry->due = due;
  sift_up (queue, entry->slot);
  sift_down (queue, entry->slot);
  return true;
}

bool
vdm_deadline_queue_advance (vdm_deadline_queue *queue, vdm_deadline_entry *entry, uint64_t due)
{
  if (entry->slot != VDM_DEADLINE_NOT_QUEUED
      && due >= entry->due)
    return true;
  return vdm_deadline_queue_set (queue, entry, due);
}

uint64_t
vdm_deadline_queue_next (const vdm_deadline_queue *queue)
{
  return queue->len ? queue->heap[0]->due : VDM_DEADLINE_NEVER;
}

vdm_deadline_entry *
vdm_deadline_queue_pop_due (vdm_deadline_queue *queue, uint64_t now)
{
  vdm_deadline_entry *e;

  if (queue->len == 0 || queue->heap[0]->due > now)
    return NULL;
  e = queue->heap[0];
  vdm_deadline_queue_remove (queue, e);
  return e;
}

unsigned
vdm_deadline_queue_length (const vdm_deadline_queue *queue)
{
  return queue->len;
}
