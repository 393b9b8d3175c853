/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of drop_batcher: keys, deadlines, lists and truncation, early close, counts adding up. */
#include <glib.h>
#include <string.h>

#include "drop_batcher.h"

#define INTERVAL (20 * VDM_MSECOND)

/* Every batch handed out, copied (the pointer dies with the callback). */
typedef struct {
  GArray *batches;
  uint64_t now;          /* the test's clock when the callback ran */
  GArray *closed_at;
} collector;

static void
collect (const vdm_drop_batch *batch, void *user_data)
{
  collector *c = user_data;
  g_array_append_vals (c->batches, batch, 1);
  g_array_append_val (c->closed_at, c->now);
}

static void
collector_init (collector *c)
{
  c->batches = g_array_new (FALSE, TRUE, sizeof (vdm_drop_batch));
  c->closed_at = g_array_new (FALSE, TRUE, sizeof (uint64_t));
  c->now = 0;
}

static void
collector_clear (collector *c)
{
  g_array_unref (c->batches);
  g_array_unref (c->closed_at);
}

static const vdm_drop_batch *
batch_at (collector *c, guint i)
{
  g_assert_cmpuint (i, <, c->batches->len);
  return &g_array_index (c->batches, vdm_drop_batch, i);
}

static vdm_drop_record
kernel_drop (uint32_t watch_id, uint32_t reason, uint64_t time_ns)
{
  vdm_drop_record r = { .source = VDM_DROP_SOURCE_KERNEL_UDP, .watch_id = watch_id,
    .reason = reason, .reason_name = "SOCKET_RCVBUFF", .time_ns = time_ns, .count = 1,
    .attribution = 1 };
  return r;
}

static vdm_drop_record
rtp_drop (uint32_t ssrc, uint16_t seq, uint32_t rtp_ts, uint64_t time_ns)
{
  vdm_drop_record r = kernel_drop (1, 6, time_ns);
  r.has_rtp = true;
  r.ssrc = ssrc;
  r.rtp_seq = seq;
  r.rtp_ts = rtp_ts;
  r.payload_type = 96;
  return r;
}

static void
add_at (vdm_drop_batcher *b, collector *c, const vdm_drop_record *r, uint64_t now)
{
  c->now = now;
  vdm_drop_batcher_add (b, r, now);
}

static void
flush_at (vdm_drop_batcher *b, collector *c, uint64_t now)
{
  c->now = now;
  vdm_drop_batcher_flush_due (b, now);
}

static void
test_single_drop_waits_for_deadline (void)
{
  collector c;
  collector_init (&c);
  vdm_drop_batcher *b = vdm_drop_batcher_new (INTERVAL, collect, &c);
  g_assert_cmpuint (vdm_drop_batcher_next_deadline (b), ==, VDM_TIME_NONE);

  vdm_drop_record r = kernel_drop (3, 6, 999);
  add_at (b, &c, &r, 1000);
  g_assert_cmpuint (c.batches->len, ==, 0);
  g_assert_cmpuint (vdm_drop_batcher_next_deadline (b), ==, 1000 + INTERVAL);

  flush_at (b, &c, 1000 + INTERVAL - 1);
  g_assert_cmpuint (c.batches->len, ==, 0);
  flush_at (b, &c, 1000 + INTERVAL);
  g_assert_cmpuint (c.batches->len, ==, 1);
  g_assert_cmpuint (vdm_drop_batcher_next_deadline (b), ==, VDM_TIME_NONE);

  const vdm_drop_batch *batch = batch_at (&c, 0);
  g_assert_cmpint (batch->source, ==, VDM_DROP_SOURCE_KERNEL_UDP);
  g_assert_cmpuint (batch->watch_id, ==, 3);
  g_assert_cmpuint (batch->reason, ==, 6);
  g_assert_cmpstr (batch->reason_name, ==, "SOCKET_RCVBUFF");
  g_assert_cmpuint (batch->attribution, ==, 1);
  g_assert_cmpuint (batch->count, ==, 1);
  g_assert_cmpuint (batch->first_time_ns, ==, 999);
  g_assert_cmpuint (batch->last_time_ns, ==, 999);
  g_assert_false (batch->has_rtp);
  g_assert_cmpint (batch->payload_type, ==, -1);
  g_assert_cmpuint (batch->ssrc, ==, 0);
  g_assert_cmpuint (batch->n_seqs, ==, 0);
  g_assert_cmpuint (batch->n_frames, ==, 0);
  g_assert_false (batch->keyframe);

  /* Nothing left to flush. */
  vdm_drop_batcher_flush_all (b);
  g_assert_cmpuint (c.batches->len, ==, 1);
  vdm_drop_batcher_free (b);
  collector_clear (&c);
}

static void
test_keys (void)
{
  collector c;
  collector_init (&c);
  vdm_drop_batcher *b = vdm_drop_batcher_new (INTERVAL, collect, &c);

  vdm_drop_record records[] = {
    kernel_drop (1, 6, 0),
    kernel_drop (1, 6, 0),  /* same key as the first */
    kernel_drop (2, 6, 0),  /* other watch */
    kernel_drop (1, 7, 0),  /* other reason */
    rtp_drop (0xaa, 1, 0, 0),
    rtp_drop (0xaa, 2, 0, 0),  /* same SSRC */
    rtp_drop (0xbb, 3, 0, 0),  /* other SSRC */
  };
  vdm_drop_record other_source = kernel_drop (1, 6, 0);
  other_source.source = VDM_DROP_SOURCE_KERNEL_TCP;
  /* Not RTP: the SSRC field is meaningless and must not split batches. */
  vdm_drop_record junk_ssrc = kernel_drop (1, 6, 0);
  junk_ssrc.ssrc = 0x1234;
  /* RTP and non-RTP drops of one watch and reason stay apart. */
  vdm_drop_record rtp_same_watch = rtp_drop (0xaa, 9, 0, 0);
  rtp_same_watch.watch_id = 1;
  rtp_same_watch.reason = 6;

  for (gsize i = 0; i < G_N_ELEMENTS (records); i++)
    add_at (b, &c, &records[i], 10);
  add_at (b, &c, &other_source, 10);
  add_at (b, &c, &junk_ssrc, 10);
  g_assert_cmpuint (c.batches->len, ==, 0);
  vdm_drop_batcher_flush_all (b);

  /* (1,6) x3, (2,6), (1,7), rtp 0xaa x3 (rtp_drop uses watch 1 reason 6), rtp 0xbb, tcp. */
  g_assert_cmpuint (c.batches->len, ==, 6);
  guint64 total = 0;
  for (guint i = 0; i < c.batches->len; i++) {
    const vdm_drop_batch *batch = batch_at (&c, i);
    total += batch->count;
    if (batch->has_rtp && batch->ssrc == 0xaa)
      g_assert_cmpuint (batch->count, ==, 2);
    if (!batch->has_rtp && batch->watch_id == 1 && batch->reason == 6
        && batch->source == VDM_DROP_SOURCE_KERNEL_UDP)
      g_assert_cmpuint (batch->count, ==, 3);
  }
  g_assert_cmpuint (total, ==, G_N_ELEMENTS (records) + 2);

  /* Now the RTP record (SSRC 0, a valid SSRC) that shares watch and
   * reason with kernel drops, in either order. */
  rtp_same_watch.ssrc = 0;
  vdm_drop_record plain = kernel_drop (1, 6, 0);
  g_array_set_size (c.batches, 0);
  add_at (b, &c, &plain, 10);
  add_at (b, &c, &rtp_same_watch, 10);
  vdm_drop_batcher_flush_all (b);
  g_assert_cmpuint (c.batches->len, ==, 2);
  g_array_set_size (c.batches, 0);
  add_at (b, &c, &rtp_same_watch, 10);
  add_at (b, &c, &plain, 10);
  vdm_drop_batcher_flush_all (b);
  g_assert_cmpuint (c.batches->len, ==, 2);
  g_assert_true (batch_at (&c, 0)->has_rtp != batch_at (&c, 1)->has_rtp);

  vdm_drop_batcher_free (b);
  collector_clear (&c);
}

static void
test_rtp_details (void)
{
  collector c;
  collector_init (&c);
  vdm_drop_batcher *b = vdm_drop_batcher_new (INTERVAL, collect, &c);

  vdm_drop_record r = rtp_drop (0x77, 100, 3000, 50);
  add_at (b, &c, &r, 100);
  r = rtp_drop (0x77, 101, 3000, 40);  /* earlier kernel time, from another CPU */
  r.keyframe_packet = true;
  add_at (b, &c, &r, 101);
  r = rtp_drop (0x77, 99, 6000, 70);
  add_at (b, &c, &r, 102);
  vdm_drop_batcher_flush_all (b);

  g_assert_cmpuint (c.batches->len, ==, 1);
  const vdm_drop_batch *batch = batch_at (&c, 0);
  g_assert_true (batch->has_rtp);
  g_assert_cmpuint (batch->ssrc, ==, 0x77);
  g_assert_cmpint (batch->payload_type, ==, 96);
  g_assert_cmpuint (batch->count, ==, 3);
  g_assert_cmpuint (batch->first_time_ns, ==, 40);
  g_assert_cmpuint (batch->last_time_ns, ==, 70);
  /* Arrival order, not numeric order. */
  g_assert_cmpuint (batch->seq_first, ==, 100);
  g_assert_cmpuint (batch->seq_last, ==, 99);
  g_assert_cmpuint (batch->n_seqs, ==, 3);
  g_assert_cmpuint (batch->seqs[0], ==, 100);
  g_assert_cmpuint (batch->seqs[1], ==, 101);
  g_assert_cmpuint (batch->seqs[2], ==, 99);
  g_assert_false (batch->seqs_truncated);
  g_assert_cmpuint (batch->n_frames, ==, 2);
  g_assert_cmpuint (batch->rtp_ts[0], ==, 3000);
  g_assert_cmpuint (batch->rtp_ts[1], ==, 6000);
  g_assert_false (batch->frames_truncated);
  g_assert_true (batch->keyframe);

  vdm_drop_batcher_free (b);
  collector_clear (&c);
}

static void
test_rtp_gap_record (void)
{
  collector c;
  collector_init (&c);
  vdm_drop_batcher *b = vdm_drop_batcher_new (INTERVAL, collect, &c);

  /* A gap of 5 across the wrap. */
  vdm_drop_record r = rtp_drop (0x55, 65534, 123, 10);
  r.source = VDM_DROP_SOURCE_RTP_GAP;
  r.reason = 0;
  r.reason_name = "RTP_SEQ_GAP";
  r.attribution = 0;
  r.count = 5;
  add_at (b, &c, &r, 10);
  vdm_drop_batcher_flush_all (b);

  const vdm_drop_batch *batch = batch_at (&c, 0);
  g_assert_cmpint (batch->source, ==, VDM_DROP_SOURCE_RTP_GAP);
  g_assert_cmpuint (batch->count, ==, 5);
  g_assert_cmpuint (batch->n_seqs, ==, 5);
  static const uint16_t expected[] = { 65534, 65535, 0, 1, 2 };
  for (guint i = 0; i < 5; i++)
    g_assert_cmpuint (batch->seqs[i], ==, expected[i]);
  g_assert_cmpuint (batch->seq_first, ==, 65534);
  g_assert_cmpuint (batch->seq_last, ==, 2);
  g_assert_cmpuint (batch->n_frames, ==, 1);

  /* A gap bigger than the list: the count goes on, the list stops. */
  g_array_set_size (c.batches, 0);
  r.rtp_seq = 1000;
  r.count = 3000;
  add_at (b, &c, &r, 20);
  r.rtp_seq = 5000;
  r.count = 2;
  add_at (b, &c, &r, 21);
  vdm_drop_batcher_flush_all (b);
  batch = batch_at (&c, 0);
  g_assert_cmpuint (batch->count, ==, 3002);
  g_assert_cmpuint (batch->n_seqs, ==, VDM_BATCH_MAX_SEQS);
  g_assert_true (batch->seqs_truncated);
  g_assert_cmpuint (batch->seqs[VDM_BATCH_MAX_SEQS - 1], ==, 1000 + VDM_BATCH_MAX_SEQS - 1);
  g_assert_cmpuint (batch->seq_first, ==, 1000);
  g_assert_cmpuint (batch->seq_last, ==, 5001);

  /* A record with count 0 still stands for one drop. */
  g_array_set_size (c.batches, 0);
  vdm_drop_record zero = kernel_drop (1, 2, 3);
  zero.count = 0;
  add_at (b, &c, &zero, 30);
  vdm_drop_batcher_flush_all (b);
  g_assert_cmpuint (batch_at (&c, 0)->count, ==, 1);

  vdm_drop_batcher_free (b);
  collector_clear (&c);
}

static void
test_truncation (void)
{
  collector c;
  collector_init (&c);
  vdm_drop_batcher *b = vdm_drop_batcher_new (INTERVAL, collect, &c);

  for (guint i = 0; i < 70; i++) {
    vdm_drop_record r = rtp_drop (1, (uint16_t) (500 + i), i / 3 * 3000, i);
    add_at (b, &c, &r, i);
  }
  vdm_drop_batcher_flush_all (b);
  const vdm_drop_batch *batch = batch_at (&c, 0);
  g_assert_cmpuint (batch->count, ==, 70);
  g_assert_cmpuint (batch->n_seqs, ==, VDM_BATCH_MAX_SEQS);
  g_assert_true (batch->seqs_truncated);
  g_assert_cmpuint (batch->seqs[VDM_BATCH_MAX_SEQS - 1], ==, 500 + VDM_BATCH_MAX_SEQS - 1);
  g_assert_cmpuint (batch->seq_last, ==, 569);
  /* 24 distinct timestamps: the first 16 are listed, in order. */
  g_assert_cmpuint (batch->n_frames, ==, VDM_BATCH_MAX_FRAMES);
  g_assert_true (batch->frames_truncated);
  for (guint i = 0; i < VDM_BATCH_MAX_FRAMES; i++)
    g_assert_cmpuint (batch->rtp_ts[i], ==, i * 3000);

  /* Exactly the maximum is not truncated. */
  g_array_set_size (c.batches, 0);
  for (guint i = 0; i < VDM_BATCH_MAX_SEQS; i++) {
    vdm_drop_record r = rtp_drop (1, (uint16_t) i, 0, i);
    add_at (b, &c, &r, i);
  }
  vdm_drop_batcher_flush_all (b);
  g_assert_cmpuint (batch_at (&c, 0)->n_seqs, ==, VDM_BATCH_MAX_SEQS);
  g_assert_false (batch_at (&c, 0)->seqs_truncated);
  g_assert_cmpuint (batch_at (&c, 0)->n_frames, ==, 1);
  g_assert_false (batch_at (&c, 0)->frames_truncated);

  vdm_drop_batcher_free (b);
  collector_clear (&c);
}

static void
test_early_close (void)
{
  collector c;
  collector_init (&c);
  vdm_drop_batcher *b = vdm_drop_batcher_new (INTERVAL, collect, &c);

  for (uint32_t w = 0; w < VDM_BATCHER_MAX_OPEN; w++) {
    vdm_drop_record r = kernel_drop (100 + w, 1, w);
    add_at (b, &c, &r, 1000 + w);
  }
  g_assert_cmpuint (c.batches->len, ==, 0);
  /* Adding to an open batch does not close anything. */
  vdm_drop_record again = kernel_drop (100 + 5, 1, 0);
  add_at (b, &c, &again, 1100);
  g_assert_cmpuint (c.batches->len, ==, 0);

  /* One key more: the oldest (watch 100) closes now, from add. */
  vdm_drop_record r = kernel_drop (999, 1, 0);
  add_at (b, &c, &r, 1200);
  g_assert_cmpuint (c.batches->len, ==, 1);
  g_assert_cmpuint (batch_at (&c, 0)->watch_id, ==, 100);
  /* The next deadline is now the second oldest's. */
  g_assert_cmpuint (vdm_drop_batcher_next_deadline (b), ==, 1001 + INTERVAL);

  vdm_drop_batcher_flush_all (b);
  g_assert_cmpuint (c.batches->len, ==, VDM_BATCHER_MAX_OPEN + 1);
  /* flush_all hands them out by deadline: watch 101 first, 999 last. */
  g_assert_cmpuint (batch_at (&c, 1)->watch_id, ==, 101);
  g_assert_cmpuint (batch_at (&c, VDM_BATCHER_MAX_OPEN)->watch_id, ==, 999);
  guint64 total = 0;
  for (guint i = 0; i < c.batches->len; i++)
    total += batch_at (&c, i)->count;
  g_assert_cmpuint (total, ==, VDM_BATCHER_MAX_OPEN + 2);

  vdm_drop_batcher_free (b);
  collector_clear (&c);
}

static void
test_set_interval (void)
{
  collector c;
  collector_init (&c);
  vdm_drop_batcher *b = vdm_drop_batcher_new (INTERVAL, collect, &c);

  vdm_drop_record a = kernel_drop (1, 1, 0);
  add_at (b, &c, &a, 0);
  vdm_drop_batcher_set_interval (b, 5 * VDM_MSECOND);
  /* The open batch takes the new interval at once (issue 9 #5): it closes
   * 5 ms after it opened, not INTERVAL after. */
  g_assert_cmpuint (vdm_drop_batcher_next_deadline (b), ==, 5 * VDM_MSECOND);
  vdm_drop_record bb = kernel_drop (2, 1, 0);
  add_at (b, &c, &bb, VDM_MSECOND);
  g_assert_cmpuint (vdm_drop_batcher_next_deadline (b), ==, 5 * VDM_MSECOND);
  flush_at (b, &c, 5 * VDM_MSECOND);
  g_assert_cmpuint (c.batches->len, ==, 1);
  g_assert_cmpuint (batch_at (&c, 0)->watch_id, ==, 1);
  g_assert_cmpuint (vdm_drop_batcher_next_deadline (b), ==, 6 * VDM_MSECOND);
  flush_at (b, &c, 6 * VDM_MSECOND);
  g_assert_cmpuint (c.batches->len, ==, 2);
  g_assert_cmpuint (batch_at (&c, 1)->watch_id, ==, 2);

  /* Reset forgets open batches without handing them out. */
  add_at (b, &c, &a, 10 * VDM_MSECOND);
  vdm_drop_batcher_reset (b);
  g_assert_cmpuint (vdm_drop_batcher_next_deadline (b), ==, VDM_TIME_NONE);
  vdm_drop_batcher_flush_all (b);
  g_assert_cmpuint (c.batches->len, ==, 2);

  /* Interval 0: every drop is its own batch, handed out at once. */
  vdm_drop_batcher_set_interval (b, 0);
  add_at (b, &c, &a, 100);
  g_assert_cmpuint (c.batches->len, ==, 3);
  add_at (b, &c, &a, 100);
  g_assert_cmpuint (c.batches->len, ==, 4);
  g_assert_cmpuint (vdm_drop_batcher_next_deadline (b), ==, VDM_TIME_NONE);

  /* A huge interval saturates instead of wrapping. */
  vdm_drop_batcher_set_interval (b, VDM_TIME_NONE);
  add_at (b, &c, &a, 100);
  g_assert_cmpuint (vdm_drop_batcher_next_deadline (b), ==, VDM_TIME_NONE - 1);
  vdm_drop_batcher_flush_all (b);
  g_assert_cmpuint (c.batches->len, ==, 5);

  vdm_drop_batcher_free (b);
  collector_clear (&c);
}

static void
test_drop_after_deadline_opens_new_batch (void)
{
  collector c;
  collector_init (&c);
  vdm_drop_batcher *b = vdm_drop_batcher_new (INTERVAL, collect, &c);

  vdm_drop_record r = kernel_drop (1, 1, 0);
  add_at (b, &c, &r, 0);
  add_at (b, &c, &r, INTERVAL - 1);
  g_assert_cmpuint (c.batches->len, ==, 0);
  /* No flush_due call in between: add closes the overdue batch itself. */
  add_at (b, &c, &r, INTERVAL + 5);
  g_assert_cmpuint (c.batches->len, ==, 1);
  g_assert_cmpuint (batch_at (&c, 0)->count, ==, 2);
  g_assert_cmpuint (vdm_drop_batcher_next_deadline (b), ==, 2 * INTERVAL + 5);
  vdm_drop_batcher_flush_all (b);
  g_assert_cmpuint (batch_at (&c, 1)->count, ==, 1);

  /* Free with a batch open: no callback, no leak. */
  add_at (b, &c, &r, 10 * INTERVAL);
  vdm_drop_batcher_free (b);
  g_assert_cmpuint (c.batches->len, ==, 2);
  collector_clear (&c);
}

/* A callback that adds a drop of its own, as a careless caller might. */
typedef struct {
  vdm_drop_batcher *batcher;
  guint64 counted;
  guint64 added;
  guint calls;
} reentrant_state;

static void
reentrant_ready (const vdm_drop_batch *batch, void *user_data)
{
  reentrant_state *s = user_data;
  s->counted += batch->count;
  if (s->calls++ % 2 == 0) {
    vdm_drop_record r = kernel_drop (500 + s->calls, 1, 0);
    s->added++;
    vdm_drop_batcher_add (s->batcher, &r, 0);
  }
}

static void
test_reentrant_callback (void)
{
  reentrant_state s = { 0 };
  s.batcher = vdm_drop_batcher_new (INTERVAL, reentrant_ready, &s);
  for (uint32_t w = 0; w < 3 * VDM_BATCHER_MAX_OPEN; w++) {
    vdm_drop_record r = kernel_drop (w, 1, 0);
    s.added++;
    vdm_drop_batcher_add (s.batcher, &r, w);
  }
  vdm_drop_batcher_flush_due (s.batcher, 10 * INTERVAL);
  /* Callbacks during flush_all add more; keep flushing until quiet. */
  while (vdm_drop_batcher_next_deadline (s.batcher) != VDM_TIME_NONE)
    vdm_drop_batcher_flush_all (s.batcher);
  g_assert_cmpuint (s.counted, ==, s.added);
  vdm_drop_batcher_free (s.batcher);
}

/* Random floods: counts add up, batches never close early (fewer keys than
 * open slots) and never later than the flush after their deadline. */
static void
flood (guint n_keys, guint seed)
{
  GRand *rand = g_rand_new_with_seed (seed);
  collector c;
  collector_init (&c);
  vdm_drop_batcher *b = vdm_drop_batcher_new (INTERVAL, collect, &c);
  guint64 put_in = 0;
  uint64_t now = 1000;
  const uint64_t max_step = 100 * 1000; /* 0.1 ms */

  for (guint i = 0; i < 200000; i++) {
    guint key = g_rand_int_range (rand, 0, n_keys);
    vdm_drop_record r = kernel_drop (key % 7, key / 7, now);
    if (key % 3 == 0) {
      r = rtp_drop (key, (uint16_t) g_rand_int (rand), g_rand_int_range (rand, 0, 40), now);
      r.watch_id = key % 7;
      r.reason = key / 7;
      r.count = g_rand_int_range (rand, 1, 200);
      r.keyframe_packet = g_rand_int_range (rand, 0, 50) == 0;
    }
    put_in += r.count;
    add_at (b, &c, &r, now);
    now += g_rand_int_range (rand, 0, max_step);
    flush_at (b, &c, now);
  }
  vdm_drop_batcher_flush_all (b);

  guint64 handed_out = 0;
  for (guint i = 0; i < c.batches->len; i++) {
    const vdm_drop_batch *batch = batch_at (&c, i);
    handed_out += batch->count;
    g_assert_cmpuint (batch->n_seqs, <=, VDM_BATCH_MAX_SEQS);
    g_assert_cmpuint (batch->n_frames, <=, VDM_BATCH_MAX_FRAMES);
    if (batch->has_rtp) {
      g_assert_true (batch->seqs_truncated == (batch->count > VDM_BATCH_MAX_SEQS));
      g_assert_cmpuint (batch->n_seqs, ==, MIN (batch->count, VDM_BATCH_MAX_SEQS));
    }
    uint64_t closed_at = g_array_index (c.closed_at, uint64_t, i);
    /* The last batches are closed by flush_all, possibly before their time. */
    if (i + VDM_BATCHER_MAX_OPEN < c.batches->len && n_keys <= VDM_BATCHER_MAX_OPEN)
      g_assert_cmpuint (closed_at - batch->first_time_ns, >=, INTERVAL);
    g_assert_cmpuint (closed_at - batch->first_time_ns, <, INTERVAL + max_step);
  }
  g_assert_cmpuint (handed_out, ==, put_in);
  /* Far fewer batches than drops, when the keys fit in the open slots. */
  if (n_keys <= VDM_BATCHER_MAX_OPEN)
    g_assert_cmpuint (c.batches->len, <, 200000 / 4);

  vdm_drop_batcher_free (b);
  collector_clear (&c);
  g_rand_free (rand);
}

static void
test_flood_few_keys (void)
{
  flood (VDM_BATCHER_MAX_OPEN, 1);
  flood (5, 2);
}

static void
test_flood_many_keys (void)
{
  /* More keys than open slots: batches close early, counts still add up. */
  flood (200, 3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/drop_batcher/single-drop", test_single_drop_waits_for_deadline);
  g_test_add_func ("/drop_batcher/keys", test_keys);
  g_test_add_func ("/drop_batcher/rtp-details", test_rtp_details);
  g_test_add_func ("/drop_batcher/rtp-gap-record", test_rtp_gap_record);
  g_test_add_func ("/drop_batcher/truncation", test_truncation);
  g_test_add_func ("/drop_batcher/early-close", test_early_close);
  g_test_add_func ("/drop_batcher/set-interval", test_set_interval);
  g_test_add_func ("/drop_batcher/after-deadline", test_drop_after_deadline_opens_new_batch);
  g_test_add_func ("/drop_batcher/reentrant-callback", test_reentrant_callback);
  g_test_add_func ("/drop_batcher/flood-few-keys", test_flood_few_keys);
  g_test_add_func ("/drop_batcher/flood-many-keys", test_flood_many_keys);
  return g_test_run ();
}
