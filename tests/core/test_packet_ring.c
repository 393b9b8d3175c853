/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the packet ring (core/packet_ring.c): order, capacity,
 * counted loss when full (and where the hole is), when the producer is
 * told to wake the consumer, and a two-thread run in which every record
 * must come out whole, in order, exactly once or counted as lost — records
 * of one slot and of two (a clock of their own) mixed.
 */
#include <glib.h>
#include <string.h>

#include "packet_ring.h"

#define SSRC 0x11223344u

/* The clock of record i: its mono (one slot), except in the records that
 * test a clock of its own (two slots): every third, when asked for. */
static uint64_t
clock_of (uint64_t i, gboolean apart)
{
  return apart && i % 3 == 0 ? i * 3 + 1 : i;
}

/* Every field derived from i, so a torn or stale record shows. */
static vdm_packet_record
record_with_clock (uint64_t i, gboolean apart)
{
  vdm_packet_record r = {
    .mono = i,
    .clock = clock_of (i, apart),
    .pts = ~i,
    .size = (uint32_t) (i * 7),
    .rtp_ts = (uint32_t) (i / 8 * 3000),
    .ssrc = SSRC,
    .seq = (uint16_t) i,
    .payload_type = 96,
    .flags = VDM_PACKET_RTP | VDM_PACKET_PASSED | VDM_PACKET_ARRIVED,
  };
  return r;
}

/* The common case: the system clock, clock == mono, one slot. */
static vdm_packet_record
record_of (uint64_t i)
{
  return record_with_clock (i, FALSE);
}

static gboolean
record_is_whole_apart (const vdm_packet_record *r, gboolean apart)
{
  uint64_t i = r->mono;

  return r->clock == clock_of (i, apart) && r->pts == ~i && r->size == (uint32_t) (i * 7)
      && r->rtp_ts == (uint32_t) (i / 8 * 3000) && r->ssrc == SSRC && r->seq == (uint16_t) i
      && r->payload_type == 96;
}

static gboolean
record_is_whole (const vdm_packet_record *r)
{
  return record_is_whole_apart (r, FALSE);
}

static void
test_capacity_rounds_up (void)
{
  vdm_packet_ring *ring = vdm_packet_ring_new (1000);

  g_assert_cmpuint (vdm_packet_ring_capacity (ring), ==, 1024);
  vdm_packet_ring_free (ring);
  ring = vdm_packet_ring_new (0);
  g_assert_cmpuint (vdm_packet_ring_capacity (ring), ==, 2);
  vdm_packet_ring_free (ring);
}

static void
test_fifo (void)
{
  vdm_packet_ring *ring = vdm_packet_ring_new (8);
  uint64_t i, next = 0;

  g_assert_null (vdm_packet_ring_peek (ring));
  /* several times round the ring, never more than 5 in it */
  for (i = 0; i < 100; i++) {
    vdm_packet_record r = record_of (i);
    g_assert_true (vdm_packet_ring_push (ring, &r) & VDM_RING_PUSHED);
    if (i % 5 == 4) {
      const vdm_packet_record *out;
      while ((out = vdm_packet_ring_peek (ring))) {
        g_assert_cmpuint (out->mono, ==, next);
        g_assert_true (record_is_whole (out));
        g_assert_false (out->flags & VDM_PACKET_AFTER_LOSS);
        vdm_packet_ring_pop (ring);
        next++;
      }
    }
  }
  g_assert_cmpuint (next, ==, 100);
  g_assert_cmpuint (vdm_packet_ring_lost (ring), ==, 0);
  vdm_packet_ring_free (ring);
}

/* A full ring never overwrites: the records that do not fit are counted,
 * and the first one written after them says so. */
static void
test_full_ring_counts_loss (void)
{
  vdm_packet_ring *ring = vdm_packet_ring_new (8);
  const vdm_packet_record *out;
  vdm_packet_record r;
  unsigned result;
  uint64_t i;

  for (i = 0; i < 8; i++) {
    r = record_of (i);
    g_assert_true (vdm_packet_ring_push (ring, &r) & VDM_RING_PUSHED);
  }
  for (i = 8; i < 11; i++) {
    r = record_of (i);
    result = vdm_packet_ring_push (ring, &r);
    g_assert_false (result & VDM_RING_PUSHED);
    /* the first loss wakes the consumer; the next ones of the run do not
     * (each wake would take the lock the draining consumer holds) */
    g_assert_cmpint (!!(result & VDM_RING_WAKE), ==, i == 8);
  }
  g_assert_cmpuint (vdm_packet_ring_lost (ring), ==, 3);
  /* the 8 that fit come out untouched */
  for (i = 0; i < 8; i++) {
    out = vdm_packet_ring_peek (ring);
    g_assert_nonnull (out);
    g_assert_cmpuint (out->mono, ==, i);
    g_assert_true (record_is_whole (out));
    g_assert_false (out->flags & VDM_PACKET_AFTER_LOSS);
    vdm_packet_ring_pop (ring);
  }
  g_assert_null (vdm_packet_ring_peek (ring));
  r = record_of (11);
  g_assert_true (vdm_packet_ring_push (ring, &r) & VDM_RING_PUSHED);
  r = record_of (12);
  g_assert_true (vdm_packet_ring_push (ring, &r) & VDM_RING_PUSHED);
  out = vdm_packet_ring_peek (ring);
  g_assert_cmpuint (out->mono, ==, 11);
  g_assert_true (out->flags & VDM_PACKET_AFTER_LOSS);
  vdm_packet_ring_pop (ring);
  out = vdm_packet_ring_peek (ring);
  g_assert_cmpuint (out->mono, ==, 12);
  g_assert_false (out->flags & VDM_PACKET_AFTER_LOSS);
  g_assert_cmpuint (vdm_packet_ring_lost (ring), ==, 3);
  vdm_packet_ring_free (ring);
}

/* A clock other than CLOCK_MONOTONIC (a test or network clock) costs a
 * second slot: it comes out whole, and the ring holds half as many. */
static void
test_clock_apart_takes_two_slots (void)
{
  vdm_packet_ring *ring = vdm_packet_ring_new (8);
  const vdm_packet_record *out;
  vdm_packet_record r;
  uint64_t i;

  for (i = 0; i < 4; i++) {
    r = record_of (i);
    r.clock = 1000 + i;
    g_assert_true (vdm_packet_ring_push (ring, &r) & VDM_RING_PUSHED);
  }
  r = record_of (4);
  g_assert_false (vdm_packet_ring_push (ring, &r) & VDM_RING_PUSHED);
  for (i = 0; i < 4; i++) {
    out = vdm_packet_ring_peek (ring);
    g_assert_nonnull (out);
    g_assert_true (out == vdm_packet_ring_peek (ring));       /* peeking again is free */
    g_assert_cmpuint (out->mono, ==, i);
    g_assert_cmpuint (out->clock, ==, 1000 + i);
    g_assert_cmpuint (out->seq, ==, i);
    g_assert_cmpuint (out->flags, ==, VDM_PACKET_RTP | VDM_PACKET_PASSED | VDM_PACKET_ARRIVED);
    vdm_packet_ring_pop (ring);
  }
  g_assert_null (vdm_packet_ring_peek (ring));
  /* one slot and two, mixed, round the ring */
  for (i = 5; i < 40; i++) {
    r = record_with_clock (i, TRUE);
    g_assert_true (vdm_packet_ring_push (ring, &r) & VDM_RING_PUSHED);
    out = vdm_packet_ring_peek (ring);
    g_assert_true (record_is_whole_apart (out, TRUE));
    g_assert_cmpuint (out->mono, ==, i);
    g_assert_true (out->flags & VDM_PACKET_AFTER_LOSS ? i == 5 : i != 5);
    vdm_packet_ring_pop (ring);
  }
  g_assert_cmpuint (vdm_packet_ring_lost (ring), ==, 1);
  vdm_packet_ring_free (ring);
}

/* The consumer is woken once when the ring becomes half full, not at
 * every push, and not when it was drained meanwhile. */
static void
test_wake_at_half_full (void)
{
  vdm_packet_ring *ring = vdm_packet_ring_new (16);
  unsigned wakes = 0, woken_at = 0;
  vdm_packet_record r;
  uint64_t i;

  for (i = 0; i < 12; i++) {
    r = record_of (i);
    if (vdm_packet_ring_push (ring, &r) & VDM_RING_WAKE) {
      wakes++;
      woken_at = (unsigned) i + 1;
    }
  }
  g_assert_cmpuint (wakes, ==, 1);
  g_assert_cmpuint (woken_at, ==, 8);
  while (vdm_packet_ring_peek (ring))
    vdm_packet_ring_pop (ring);
  /* drained: the next 7 pushes pass the half mark of the producer's stale
   * view of the ring, but it is not half full in truth */
  for (i = 12; i < 19; i++) {
    r = record_of (i);
    g_assert_false (vdm_packet_ring_push (ring, &r) & VDM_RING_WAKE);
  }
  vdm_packet_ring_free (ring);
}

/* A sequence number that does not follow its source's last one wakes the
 * consumer (a gap must not wait for its next round); a new source does not. */
static void
test_wake_on_sequence_break (void)
{
  vdm_packet_ring *ring = vdm_packet_ring_new (1024);
  vdm_packet_record r = record_of (0);

  r.seq = 65534;
  g_assert_false (vdm_packet_ring_push (ring, &r) & VDM_RING_WAKE);
  r.seq = 65535;
  g_assert_false (vdm_packet_ring_push (ring, &r) & VDM_RING_WAKE);
  r.seq = 0;                    /* wraps: still in sequence */
  g_assert_false (vdm_packet_ring_push (ring, &r) & VDM_RING_WAKE);
  r.seq = 2;                    /* 1 missing */
  g_assert_true (vdm_packet_ring_push (ring, &r) & VDM_RING_WAKE);
  r.seq = 3;
  g_assert_false (vdm_packet_ring_push (ring, &r) & VDM_RING_WAKE);
  r.ssrc = SSRC + 1;            /* a new source starts anywhere */
  r.seq = 5000;
  g_assert_false (vdm_packet_ring_push (ring, &r) & VDM_RING_WAKE);
  r.flags = VDM_PACKET_PASSED;  /* not RTP: no sequence */
  g_assert_false (vdm_packet_ring_push (ring, &r) & VDM_RING_WAKE);
  vdm_packet_ring_free (ring);
}

/* ------------------------------------------------------------------------ */
/* Two threads.                                                              */

#define STRESS_RECORDS 2000000
#define STRESS_CAPACITY 64      /* small: the producer laps the consumer often */

typedef struct {
  vdm_packet_ring *ring;
  vdm_packet_ring_producer *producer;   /* NULL: push through the ring */
  gint done;
  uint64_t full;                /* pushes that found the ring full */
} Stress;

static gpointer
producer (gpointer data)
{
  Stress *s = data;
  uint64_t i;

  for (i = 0; i < STRESS_RECORDS; i++) {
    vdm_packet_record r = record_with_clock (i, TRUE);
    unsigned result = s->producer ? vdm_packet_ring_produce (s->producer, &r)
        : vdm_packet_ring_push (s->ring, &r);
    if (!(result & VDM_RING_PUSHED))
      s->full++;
    /* First half: slower than the consumer, which waits on an empty ring
     * and reads each record as soon as it is published (a record published
     * before it is complete shows here). Second half: flat out, the ring
     * fills and records are lost. */
    if (i < STRESS_RECORDS / 2)
      for (volatile int spin = 0; spin < 200; spin++)
        ;
  }
  g_atomic_int_set (&s->done, 1);
  return NULL;
}

/* Every record comes out whole, in order, once; every record that did not
 * come out was counted lost, and the first after each hole says so. */
static void
run_two_threads (void *producer_storage)
{
  Stress s = {.ring = vdm_packet_ring_new_with_producer (STRESS_CAPACITY, producer_storage),
    .producer = producer_storage };
  uint64_t received = 0, next = 0, holes = 0, flagged = 0;
  GThread *thread = g_thread_new ("producer", producer, &s);
  const vdm_packet_record *r;
  gboolean done;

  do {
    done = g_atomic_int_get (&s.done);
    while ((r = vdm_packet_ring_peek (s.ring))) {
      vdm_packet_record copy = *r;
      if (!record_is_whole_apart (&copy, TRUE))
        g_error ("record %" G_GUINT64_FORMAT " torn (seq %u, size %u)", copy.mono,
            copy.seq, copy.size);
      if (copy.mono < next)
        g_error ("record %" G_GUINT64_FORMAT " after %" G_GUINT64_FORMAT, copy.mono, next);
      if (copy.mono > next)
        holes++;
      if (copy.flags & VDM_PACKET_AFTER_LOSS)
        flagged++;
      if ((copy.mono > next) != !!(copy.flags & VDM_PACKET_AFTER_LOSS))
        g_error ("record %" G_GUINT64_FORMAT ": hole and AFTER_LOSS disagree", copy.mono);
      next = copy.mono + 1;
      received++;
      vdm_packet_ring_pop (s.ring);
    }
  } while (!done);
  g_thread_join (thread);
  /* what the producer wrote after the last pass */
  while ((r = vdm_packet_ring_peek (s.ring))) {
    g_assert_true (record_is_whole_apart (r, TRUE));
    g_assert_cmpuint (r->mono, >=, next);
    holes += r->mono > next;
    next = r->mono + 1;
    received++;
    vdm_packet_ring_pop (s.ring);
  }
  g_test_message ("%" G_GUINT64_FORMAT " received, %" G_GUINT64_FORMAT " lost in %"
      G_GUINT64_FORMAT " holes", received, vdm_packet_ring_lost (s.ring), holes);
  g_assert_cmpuint (received + vdm_packet_ring_lost (s.ring), ==, STRESS_RECORDS);
  g_assert_cmpuint (vdm_packet_ring_lost (s.ring), ==, s.full);
  g_assert_cmpuint (received, >, 0);
  vdm_packet_ring_free (s.ring);
}

static void
test_two_threads (void)
{
  run_two_threads (NULL);
}

/* The element keeps transform_ip's producer side on a cache line of its
 * own (VDM_HOT): the same run with the producer in the caller's storage,
 * pushed through it directly. */
static void
test_two_threads_producer_kept_by_caller (void)
{
  static _Alignas (64) unsigned char storage[VDM_PACKET_RING_PRODUCER_SIZE];
  vdm_packet_ring *ring = vdm_packet_ring_new_with_producer (8, storage);
  vdm_packet_record r = record_of (0);

  g_assert_true ((void *) vdm_packet_ring_get_producer (ring) == (void *) storage);
  g_assert_true (vdm_packet_ring_produce (vdm_packet_ring_get_producer (ring), &r)
      & VDM_RING_PUSHED);
  g_assert_cmpuint (vdm_packet_ring_peek (ring)->mono, ==, 0);
  vdm_packet_ring_free (ring);
  run_two_threads (storage);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/packet_ring/capacity-rounds-up", test_capacity_rounds_up);
  g_test_add_func ("/packet_ring/fifo", test_fifo);
  g_test_add_func ("/packet_ring/full-ring-counts-loss", test_full_ring_counts_loss);
  g_test_add_func ("/packet_ring/clock-apart-takes-two-slots", test_clock_apart_takes_two_slots);
  g_test_add_func ("/packet_ring/wake-at-half-full", test_wake_at_half_full);
  g_test_add_func ("/packet_ring/wake-on-sequence-break", test_wake_on_sequence_break);
  g_test_add_func ("/packet_ring/two-threads", test_two_threads);
  g_test_add_func ("/packet_ring/two-threads-producer-kept-by-caller",
      test_two_threads_producer_kept_by_caller);
  return g_test_run ();
}
