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
 * common case a push touches only the producer's own line and the slot.
 */
#include "packet_ring.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_LINE 64
/* In a slot's flags: the next slot holds this record's clock. */
#define SLOT_CLOCK_NEXT (1u << 7)
/* Slots the producer asks for ahead of its writes (two lines). */
#define PREFETCH_SLOTS 4

/* A record in the ring: two to a cache line, aligned so that none spans
 * two (a stream at a real rate finds each of its lines cold: one miss per
 * record at most, one per two on average). */
typedef struct {
  _Alignas (32) uint64_t mono;  /* or, in a clock slot, the clock */
  uint64_t pts;
  uint32_t size;
  uint32_t rtp_ts;
  uint32_t ssrc;
  uint16_t seq;
  uint8_t payload_type;
  uint8_t flags;                /* VDM_PACKET_* | SLOT_CLOCK_NEXT */
} ring_slot;

_Static_assert (sizeof (ring_slot) == 32, "a slot is half a cache line");
_Static_assert ((VDM_PACKET_RTP | VDM_PACKET_PASSED | VDM_PACKET_FRAME | VDM_PACKET_ARRIVED
        | VDM_PACKET_MARKER | VDM_PACKET_KEYFRAME | VDM_PACKET_AFTER_LOSS) < SLOT_CLOCK_NEXT,
    "the record flags leave the ring its bit");

/* The producer's side: everything a push reads or writes but the slot, in
 * 40 bytes that the caller may keep on a cache line of its own choosing
 * (vdm_packet_ring_new_with_producer). The slots follow the ring in its
 * block, so their address needs no load from the ring's lines. */
struct vdm_packet_ring_producer {
  _Atomic uint64_t head;
  uint64_t tail_seen;             /* the producer's copy of tail */
  vdm_packet_ring *ring;
  uint32_t mask;
  bool after_loss;                /* the next record written follows lost ones */
  bool have_last;
  uint16_t last_seq;
  uint32_t last_ssrc;
};

_Static_assert (sizeof (vdm_packet_ring_producer) <= VDM_PACKET_RING_PRODUCER_SIZE,
    "the producer fits the storage callers keep for it");

struct vdm_packet_ring {
  /* the producer's cache line, unless the caller keeps the producer */
  _Alignas (CACHE_LINE) vdm_packet_ring_producer own_producer;
  /* consumer's cache line */
  _Alignas (CACHE_LINE) _Atomic uint64_t tail;
  uint64_t head_seen;             /* the consumer's copy of head */
  const _Atomic uint64_t *head;   /* the producer's */
  uint32_t mask_read;
  uint32_t out_width;             /* slots of the record in out, 0: none */
  uint64_t out_tail;              /* where out was read */
  _Atomic uint64_t lost;          /* written by the producer only when full */
  vdm_packet_record out;          /* the record peeked, unpacked */
};

static inline ring_slot *
slots_of (const vdm_packet_ring *ring)
{
  return (ring_slot *) ((uintptr_t) ring + sizeof (vdm_packet_ring));
}

_Static_assert (sizeof (vdm_packet_ring) % CACHE_LINE == 0, "the slots start on a line");

vdm_packet_ring *
vdm_packet_ring_new_with_producer (uint32_t capacity, void *producer_storage)
{
  vdm_packet_ring *ring;
  vdm_packet_ring_producer *producer;
  uint32_t n = 2;

  while (n < capacity && n < (1u << 30))
    n <<= 1;
  ring = aligned_alloc (CACHE_LINE, sizeof (*ring) + (size_t) n * sizeof (ring_slot));
  if (!ring)
    return NULL;
  memset (ring, 0, sizeof (*ring) + (size_t) n * sizeof (ring_slot));
  producer = producer_storage ? producer_storage : &ring->own_producer;
  *producer = (vdm_packet_ring_producer) {.ring = ring,.mask = n - 1 };
  atomic_init (&producer->head, 0);
  atomic_init (&ring->tail, 0);
  atomic_init (&ring->lost, 0);
  ring->head = &producer->head;
  ring->mask_read = n - 1;
  return ring;
}

vdm_packet_ring *
vdm_packet_ring_new (uint32_t capacity)
{
  return vdm_packet_ring_new_with_producer (capacity, NULL);
}

vdm_packet_ring_producer *
vdm_packet_ring_get_producer (vdm_packet_ring *ring)
{
  return (vdm_packet_ring_producer *) ((uintptr_t) ring->head
      - offsetof (vdm_packet_ring_producer, head));
}

void
vdm_packet_ring_free (vdm_packet_ring *ring)
{
  free (ring);
}

uint32_t
vdm_packet_ring_capacity (const vdm_packet_ring *ring)
{
  return ring->mask_read + 1;
}

/* A sequence number that does not follow its source's previous one: a
 * gap, a reorder or a duplicate, which the consumer should look at now.
 * A new source is no break (the tracker starts it without a gap). */
static bool
sequence_breaks (vdm_packet_ring_producer *ring, const vdm_packet_record *r)
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

/* Ask for a slot line to write before it is needed: at a real stream's
 * rate its line is cold (or the consumer's core has it), and the miss
 * would otherwise stall the next atomic on this thread. A hint only. */
static inline void
prefetch_for_write (const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
  __asm__ volatile ("prefetchw %0"::"m" (*(const char *) p));
#else
  __builtin_prefetch (p, 1, 3);
#endif
}

void
vdm_packet_ring_producer_prefetch (vdm_packet_ring_producer *p)
{
  uint64_t head = atomic_load_explicit (&p->head, memory_order_relaxed);

  prefetch_for_write (&slots_of (p->ring)[head & p->mask]);
}

void
vdm_packet_ring_prefetch (vdm_packet_ring *ring)
{
  vdm_packet_ring_producer_prefetch (vdm_packet_ring_get_producer (ring));
}

unsigned
vdm_packet_ring_produce (vdm_packet_ring_producer *p, const vdm_packet_record *record)
{
  uint64_t head = atomic_load_explicit (&p->head, memory_order_relaxed);
  uint64_t capacity = (uint64_t) p->mask + 1;
  unsigned result = sequence_breaks (p, record) ? VDM_RING_WAKE : 0;
  uint64_t width = record->clock != record->mono ? 2 : 1;
  ring_slot *slots = slots_of (p->ring), *slot;

  if (head + width - p->tail_seen > capacity) {
    p->tail_seen = atomic_load_explicit (&p->ring->tail, memory_order_acquire);
    if (head + width - p->tail_seen > capacity) {
      /* The consumer is late: wake it at the first loss, not at every
       * one (a wake takes the consumer's lock, which it holds while it
       * drains: the producer would wait for it at every packet). */
      unsigned wake = p->after_loss ? 0 : VDM_RING_WAKE;
      atomic_fetch_add_explicit (&p->ring->lost, 1, memory_order_relaxed);
      p->after_loss = true;
      return wake;
    }
  }
  slot = &slots[head & p->mask];
  slot->mono = record->mono;
  slot->pts = record->pts;
  slot->size = record->size;
  slot->rtp_ts = record->rtp_ts;
  slot->ssrc = record->ssrc;
  slot->seq = record->seq;
  slot->payload_type = record->payload_type;
  slot->flags = (uint8_t) ((record->flags & ~SLOT_CLOCK_NEXT)
      | (p->after_loss ? VDM_PACKET_AFTER_LOSS : 0) | (width == 2 ? SLOT_CLOCK_NEXT : 0));
  p->after_loss = false;
  if (width == 2)
    slots[(head + 1) & p->mask].mono = record->clock;
  atomic_store_explicit (&p->head, head + width, memory_order_release);
  prefetch_for_write (&slots[(head + width + PREFETCH_SLOTS) & p->mask]);
  /* Half full by the producer's old copy of tail: look at the real one
   * (once per half ring, not per push) and wake the consumer if so. */
  if (head + width - p->tail_seen >= capacity / 2
      && head - p->tail_seen < capacity / 2) {
    p->tail_seen = atomic_load_explicit (&p->ring->tail, memory_order_acquire);
    if (head + width - p->tail_seen >= capacity / 2)
      result |= VDM_RING_WAKE;
  }
  return result | VDM_RING_PUSHED;
}

unsigned
vdm_packet_ring_push (vdm_packet_ring *ring, const vdm_packet_record *record)
{
  return vdm_packet_ring_produce (vdm_packet_ring_get_producer (ring), record);
}

const vdm_packet_record *
vdm_packet_ring_peek (vdm_packet_ring *ring)
{
  uint64_t tail = atomic_load_explicit (&ring->tail, memory_order_relaxed);
  const ring_slot *slot;

  if (ring->out_width && ring->out_tail == tail)
    return &ring->out;
  if (tail == ring->head_seen) {
    ring->head_seen = atomic_load_explicit (ring->head, memory_order_acquire);
    if (tail == ring->head_seen)
      return NULL;
  }
  slot = &slots_of (ring)[tail & ring->mask_read];
  ring->out = (vdm_packet_record) {
    .mono = slot->mono,
    .clock = slot->mono,
    .pts = slot->pts,
    .size = slot->size,
    .rtp_ts = slot->rtp_ts,
    .ssrc = slot->ssrc,
    .seq = slot->seq,
    .payload_type = slot->payload_type,
    .flags = slot->flags & ~SLOT_CLOCK_NEXT,
  };
  ring->out_width = 1;
  if (slot->flags & SLOT_CLOCK_NEXT) {
    /* published with its record, by the same store of head */
    ring->out.clock = slots_of (ring)[(tail + 1) & ring->mask_read].mono;
    ring->out_width = 2;
  }
  ring->out_tail = tail;
  return &ring->out;
}

void
vdm_packet_ring_pop (vdm_packet_ring *ring)
{
  uint64_t tail = atomic_load_explicit (&ring->tail, memory_order_relaxed);

  if (!ring->out_width && !vdm_packet_ring_peek (ring))
    return;                     /* nothing to pop */
  atomic_store_explicit (&ring->tail, tail + ring->out_width, memory_order_release);
  ring->out_width = 0;
}

uint64_t
vdm_packet_ring_lost (const vdm_packet_ring *ring)
{
  return atomic_load_explicit (&((vdm_packet_ring *) ring)->lost, memory_order_relaxed);
}
