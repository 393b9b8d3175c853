/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * packet_ring.h — hands the facts of each packet from a streaming thread to
 * the thread that owns the stream monitor, without a lock (issue 13).
 *
 * One ring has exactly one producer (one streaming thread: the element's,
 * or one udpsrc's) and one consumer at a time (whoever holds the monitor's
 * lock). The producer never blocks and never allocates: when the ring is
 * full the record is not written, and counted (`lost`); the next record
 * that fits carries VDM_PACKET_AFTER_LOSS so that the consumer knows where
 * the hole is. The producer is told when the consumer should be woken now
 * rather than at its next planned round: the ring just became half full,
 * it just overflowed (the first loss of a run, not every one), or an RTP
 * sequence number did not follow the previous one of its source (a gap,
 * maybe: its detection must not wait for the next round).
 *
 * A record is stored in one 32-byte slot (two to a cache line, never
 * across two): its `clock` is not stored when it equals `mono`, which is
 * always so with the system clock as pipeline clock; a record whose clock
 * differs takes a second slot for it. So capacity counts slots.
 *
 * Plain C11 atomics; no GStreamer, no clock of its own.
 */
#ifndef VDM_PACKET_RING_H
#define VDM_PACKET_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* What a record says (flags). */
enum {
  VDM_PACKET_RTP = 1 << 0,        /* ssrc/seq/rtp_ts/payload_type/marker are valid */
  VDM_PACKET_PASSED = 1 << 1,     /* a buffer passed the element: counted (size) */
  VDM_PACKET_FRAME = 1 << 2,      /* teaches the frame map its pts (RTP, or media pts) */
  VDM_PACKET_ARRIVED = 1 << 3,    /* an arrival: mono/clock are when it was seen */
  VDM_PACKET_MARKER = 1 << 4,
  VDM_PACKET_KEYFRAME = 1 << 5,   /* its payload starts a keyframe NAL (producer's codec) */
  VDM_PACKET_AFTER_LOSS = 1 << 6, /* records before this one were lost to a full ring */
  /* 1 << 7 is the ring's own (the clock in the next slot) */
};

/* The facts of one packet, as the producer saw them (32 bytes in the ring,
 * 64 when clock != mono). */
typedef struct {
  uint64_t mono;                  /* CLOCK_MONOTONIC when seen (ARRIVED), or a TSC
                                   * count tagged VDM_TSC_STAMP (tsc_map.h) */
  uint64_t clock;                 /* the monitor's time base when seen (ARRIVED) */
  uint64_t pts;                   /* the buffer's PTS, VDM_TIME_NONE if none */
  uint32_t size;                  /* bytes */
  uint32_t rtp_ts;
  uint32_t ssrc;
  uint16_t seq;
  uint8_t payload_type;
  uint8_t flags;                  /* VDM_PACKET_* */
} vdm_packet_record;

/* What a push asks of the producer. */
typedef enum {
  VDM_RING_PUSHED = 1 << 0,       /* written (else lost, and counted) */
  VDM_RING_WAKE = 1 << 1,         /* wake the consumer now */
} vdm_ring_push_result;

typedef struct vdm_packet_ring vdm_packet_ring;

/* capacity (slots): rounded up to a power of two, at least 2. NULL on no
 * memory. */
vdm_packet_ring *vdm_packet_ring_new (uint32_t capacity);
void vdm_packet_ring_free (vdm_packet_ring *ring);
uint32_t vdm_packet_ring_capacity (const vdm_packet_ring *ring);

/* The producer's side of a ring (head, its copy of tail, the sequence it
 * watches): VDM_PACKET_RING_PRODUCER_SIZE bytes, 8-aligned, which a caller
 * may keep itself, on the cache line with the other fields its producing
 * thread reads (a stream among thousands then misses one line, not two). */
typedef struct vdm_packet_ring_producer vdm_packet_ring_producer;
#define VDM_PACKET_RING_PRODUCER_SIZE 40

/* The same, its producer in producer_storage (kept by the caller, at least
 * as long as the ring); NULL storage: in the ring, as vdm_packet_ring_new. */
vdm_packet_ring *vdm_packet_ring_new_with_producer (uint32_t capacity, void *producer_storage);
vdm_packet_ring_producer *vdm_packet_ring_get_producer (vdm_packet_ring *ring);

/* Producer only. Asks for the line of the next slot ahead of the push (a
 * hint: its miss then overlaps with the producer's other work). */
void vdm_packet_ring_prefetch (vdm_packet_ring *ring);
void vdm_packet_ring_producer_prefetch (vdm_packet_ring_producer *producer);
/* Producer only. Never blocks. The record is copied. */
unsigned vdm_packet_ring_push (vdm_packet_ring *ring, const vdm_packet_record *record);
unsigned vdm_packet_ring_produce (vdm_packet_ring_producer *producer,
    const vdm_packet_record *record);

/* Consumer only (one at a time). The oldest record not consumed yet, or
 * NULL when empty; valid until vdm_packet_ring_pop() (a copy the ring
 * keeps: peeking again without a pop costs nothing). */
const vdm_packet_record *vdm_packet_ring_peek (vdm_packet_ring *ring);
void vdm_packet_ring_pop (vdm_packet_ring *ring);

/* Any thread: records not written because the ring was full, in total. */
uint64_t vdm_packet_ring_lost (const vdm_packet_ring *ring);

#endif
