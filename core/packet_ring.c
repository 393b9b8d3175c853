/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * packet_ring.c — single-producer single-consumer ring of packet records.
 *
 * head (next slot to write) belongs to the producer, tail (next slot to
 * read) to the consumer; each publishes its index with a release store and
 * reads the other's with an acquire load, so a record is complete before
 * the consumer can see it and a slot is free before the producer reuses it.
 * Each side keeps a private copy of the other's index and reads the shared
 * one only when its copy says full (producer) or empty (consumer): in the
 * common case a push touches only the producer's own cache lines.
 */
#include "packet_ring.h"

#include <stdlib.h>

#define CACHE_LINE 64

/* Each side's line holds its own copy of mask and slots, so that a push
 * touches one line of the ring besides the slot it writes. */
struct vdm_packet_ring {
  /* producer's cache line */
  _Alignas (CACHE_LINE) _Atomic uint64_t head;
  uint64_t tail_seen;             /* the producer's copy of tail */
  vdm_packet_record *slots;
  uint32_t mask;
  bool after_loss;                /* the next record written follows lost ones */
  bool have_last;
  uint32_t last_ssrc;
  uint16_t last_seq;
  _Atomic uint64_t lost;
  /* consumer's cache line */
  _Alignas (CACHE_LINE) _Atomic uint64_t tail;
  uint64_t head_seen;             /* the consumer's copy of head */
  const vdm_packet_record *slots_read;
  uint32_t mask_read;
};

vdm_packet_ring *
vdm_packet_ring_new (uint32_t capacity)
{
  vdm_packet_ring *ring;
  uint32_t n = 2;

  while (n < capacity && n < (1u << 30))
    n <<= 1;
  ring = aligned_alloc (CACHE_LINE, sizeof (*ring));
  if (!ring)
    return NULL;
  *ring = (vdm_packet_ring) { .mask = n - 1 };
  atomic_init (&ring->head, 0);
  atomic_init (&ring->tail, 0);
  atomic_init (&ring->lost, 0);
  ring->slots = calloc (n, sizeof (vdm_packet_record));
  if (!ring->slots) {
    free (ring);
    return NULL;
  }
  ring->slots_read = ring->slots;
  ring->mask_read = ring->mask;
  return ring;
}

void
vdm_packet_ring_free (vdm_packet_ring *ring)
{
  if (!ring)
    return;
  free (ring->slots);
  free (ring);
}

uint32_t
vdm_packet_ring_capacity (const vdm_packet_ring *ring)
{
  return ring->mask + 1;
}

/* A sequence number that does not follow its source's previous one: a
 * gap, a reorder or a duplicate, which the consumer should look at now.
 * A new source is no break (the tracker starts it without a gap). */
static bool
sequence_breaks (vdm_packet_ring *ring, const vdm_packet_record *r)
{
  bool breaks;

  if (!(r->flags & VDM_PACKET_RTP))
    return false;
  breaks = ring->have_last && r->ssrc == ring->last_ssrc
      && r->seq != (uint16_t) (ring->last_seq + 1);
  ring->have_last = true;
  ring->last_ssrc = r->ssrc;
  ring->last_seq = r->seq;
  return breaks;
}

unsigned
vdm_packet_ring_push (vdm_packet_ring *ring, const vdm_packet_record *record)
{
  uint64_t head = atomic_load_explicit (&ring->head, memory_order_relaxed);
  uint64_t capacity = (uint64_t) ring->mask + 1;
  unsigned result = sequence_breaks (ring, record) ? VDM_RING_WAKE : 0;
  vdm_packet_record *slot;

  if (head - ring->tail_seen >= capacity) {
    ring->tail_seen = atomic_load_explicit (&ring->tail, memory_order_acquire);
    if (head - ring->tail_seen >= capacity) {
      atomic_fetch_add_explicit (&ring->lost, 1, memory_order_relaxed);
      ring->after_loss = true;
      return VDM_RING_WAKE;     /* the consumer is late: it must drain */
    }
  }
  slot = &ring->slots[head & ring->mask];
  *slot = *record;
  if (ring->after_loss) {
    slot->flags |= VDM_PACKET_AFTER_LOSS;
    ring->after_loss = false;
  }
  atomic_store_explicit (&ring->head, head + 1, memory_order_release);
  /* Half full by the producer's old copy of tail: look at the real one
   * (once per half ring, not per push) and wake the consumer if so. */
  if (head + 1 - ring->tail_seen == capacity / 2) {
    ring->tail_seen = atomic_load_explicit (&ring->tail, memory_order_acquire);
    if (head + 1 - ring->tail_seen >= capacity / 2)
      result |= VDM_RING_WAKE;
  }
  return result | VDM_RING_PUSHED;
}

const vdm_packet_record *
vdm_packet_ring_peek (vdm_packet_ring *ring)
{
  uint64_t tail = atomic_load_explicit (&ring->tail, memory_order_relaxed);

  if (tail == ring->head_seen) {
    ring->head_seen = atomic_load_explicit (&ring->head, memory_order_acquire);
    if (tail == ring->head_seen)
      return NULL;
  }
  return &ring->slots_read[tail & ring->mask_read];
}

void
vdm_packet_ring_pop (vdm_packet_ring *ring)
{
  uint64_t tail = atomic_load_explicit (&ring->tail, memory_order_relaxed);

  atomic_store_explicit (&ring->tail, tail + 1, memory_order_release);
}

uint64_t
vdm_packet_ring_lost (const vdm_packet_ring *ring)
{
  return atomic_load_explicit (&((vdm_packet_ring *) ring)->lost, memory_order_relaxed);
}
