/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of seq_tracker: gaps, wraparound, late packets, duplicates, restarts, eviction. */
#include <glib.h>

#include "seq_tracker.h"

#define SSRC 0x11223344u

static vdm_seq_stats
stats_of (vdm_seq_tracker *t)
{
  vdm_seq_stats s;
  vdm_seq_tracker_stats (t, &s);
  return s;
}

/* Pushes and asserts that no gap is reported. */
static void
push_no_gap (vdm_seq_tracker *t, guint32 ssrc, guint16 seq)
{
  vdm_seq_gap gap = { 0 };
  g_assert_false (vdm_seq_tracker_push (t, ssrc, seq, &gap));
}

static void
push_expect_gap (vdm_seq_tracker *t, guint32 ssrc, guint16 seq, guint16 first, guint16 count)
{
  vdm_seq_gap gap = { 0 };
  g_assert_true (vdm_seq_tracker_push (t, ssrc, seq, &gap));
  g_assert_cmpuint (gap.ssrc, ==, ssrc);
  g_assert_cmpuint (gap.first_missing, ==, first);
  g_assert_cmpuint (gap.count, ==, count);
}

static void
test_in_order (void)
{
  vdm_seq_tracker *t = vdm_seq_tracker_new ();
  for (guint i = 0; i < 1000; i++)
    push_no_gap (t, SSRC, (guint16) (1000 + i));
  vdm_seq_stats s = stats_of (t);
  g_assert_cmpuint (s.received, ==, 1000);
  g_assert_cmpuint (s.lost, ==, 0);
  g_assert_cmpuint (s.reordered, ==, 0);
  g_assert_cmpuint (s.duplicates, ==, 0);
  g_assert_cmpuint (s.resyncs, ==, 0);
  vdm_seq_tracker_free (t);
}

static void
test_gap (void)
{
  vdm_seq_tracker *t = vdm_seq_tracker_new ();
  push_no_gap (t, SSRC, 1);
  push_no_gap (t, SSRC, 2);
  push_expect_gap (t, SSRC, 5, 3, 2);
  push_no_gap (t, SSRC, 6);
  /* The largest jump that is still a gap: 2999 ahead. */
  push_expect_gap (t, SSRC, 6 + 2999, 7, 2998);
  vdm_seq_stats s = stats_of (t);
  g_assert_cmpuint (s.lost, ==, 2 + 2998);
  g_assert_cmpuint (s.received, ==, 5);
  /* A NULL gap pointer is allowed. */
  g_assert_true (vdm_seq_tracker_push (t, SSRC, 6 + 2999 + 3, NULL));
  vdm_seq_tracker_free (t);
}

static void
test_wraparound (void)
{
  vdm_seq_tracker *t = vdm_seq_tracker_new ();
  push_no_gap (t, SSRC, 65533);
  push_no_gap (t, SSRC, 65534);
  push_no_gap (t, SSRC, 65535);
  push_no_gap (t, SSRC, 0);
  push_no_gap (t, SSRC, 1);
  g_assert_cmpuint (stats_of (t).lost, ==, 0);

  /* A gap across the wrap. */
  vdm_seq_tracker_reset (t);
  push_no_gap (t, SSRC, 65534);
  push_expect_gap (t, SSRC, 2, 65535, 3);
  /* A late packet across the wrap fills it. */
  push_no_gap (t, SSRC, 0);
  vdm_seq_stats s = stats_of (t);
  g_assert_cmpuint (s.lost, ==, 2);
  g_assert_cmpuint (s.reordered, ==, 1);
  push_no_gap (t, SSRC, 65535);
  push_no_gap (t, SSRC, 1);
  s = stats_of (t);
  g_assert_cmpuint (s.lost, ==, 0);
  g_assert_cmpuint (s.reordered, ==, 3);
  g_assert_cmpuint (s.duplicates, ==, 0);
  vdm_seq_tracker_free (t);
}

static void
test_late_fills_gap (void)
{
  vdm_seq_tracker *t = vdm_seq_tracker_new ();
  push_no_gap (t, SSRC, 10);
  push_expect_gap (t, SSRC, 13, 11, 2);
  push_no_gap (t, SSRC, 11);
  vdm_seq_stats s = stats_of (t);
  g_assert_cmpuint (s.lost, ==, 1);
  g_assert_cmpuint (s.reordered, ==, 1);
  push_no_gap (t, SSRC, 12);
  s = stats_of (t);
  g_assert_cmpuint (s.lost, ==, 0);
  g_assert_cmpuint (s.reordered, ==, 2);
  /* The same late packet again: a duplicate, not a second fill. */
  push_no_gap (t, SSRC, 12);
  s = stats_of (t);
  g_assert_cmpuint (s.lost, ==, 0);
  g_assert_cmpuint (s.duplicates, ==, 1);

  /* A gap far back in the window (99 behind, beyond 64 bits) is filled. */
  vdm_seq_tracker_reset (t);
  push_no_gap (t, SSRC, 1000);
  push_expect_gap (t, SSRC, 1002, 1001, 1);
  for (guint16 seq = 1003; seq <= 1100; seq++)
    push_no_gap (t, SSRC, seq);
  push_no_gap (t, SSRC, 1001);
  s = stats_of (t);
  g_assert_cmpuint (s.lost, ==, 0);
  g_assert_cmpuint (s.reordered, ==, 1);

  /* A jump of exactly the window size leaves no stale bits behind. */
  vdm_seq_tracker_reset (t);
  push_no_gap (t, SSRC, 1000);
  push_expect_gap (t, SSRC, 1128, 1001, 127);
  push_no_gap (t, SSRC, 1064);
  s = stats_of (t);
  g_assert_cmpuint (s.lost, ==, 126);
  g_assert_cmpuint (s.reordered, ==, 1);
  g_assert_cmpuint (s.duplicates, ==, 0);
  vdm_seq_tracker_free (t);
}

static void
test_duplicates (void)
{
  vdm_seq_tracker *t = vdm_seq_tracker_new ();
  push_no_gap (t, SSRC, 100);
  push_no_gap (t, SSRC, 100);
  push_no_gap (t, SSRC, 101);
  push_no_gap (t, SSRC, 102);
  push_no_gap (t, SSRC, 101);
  /* 70 behind: in the upper half of the 128-bit window. */
  for (guint16 seq = 103; seq <= 171; seq++)
    push_no_gap (t, SSRC, seq);
  push_no_gap (t, SSRC, 101);
  vdm_seq_stats s = stats_of (t);
  g_assert_cmpuint (s.duplicates, ==, 3);
  g_assert_cmpuint (s.reordered, ==, 0);
  g_assert_cmpuint (s.lost, ==, 0);

  /* Arrivals carried over a jump of 64..127: still known as arrived. */
  vdm_seq_tracker_reset (t);
  for (guint16 seq = 1000; seq <= 1010; seq++)
    push_no_gap (t, SSRC, seq);
  push_expect_gap (t, SSRC, 1080, 1011, 69);
  push_no_gap (t, SSRC, 1005);
  s = stats_of (t);
  g_assert_cmpuint (s.duplicates, ==, 1);
  g_assert_cmpuint (s.lost, ==, 69);
  g_assert_cmpuint (s.reordered, ==, 0);
  vdm_seq_tracker_free (t);
}

static void
test_before_first_seq (void)
{
  vdm_seq_tracker *t = vdm_seq_tracker_new ();
  push_no_gap (t, SSRC, 500);
  push_no_gap (t, SSRC, 501);
  /* Sent before the first one we saw: late, but no loss was counted for it. */
  push_no_gap (t, SSRC, 499);
  push_no_gap (t, SSRC, 450);
  vdm_seq_stats s = stats_of (t);
  g_assert_cmpuint (s.lost, ==, 0);
  g_assert_cmpuint (s.reordered, ==, 2);
  g_assert_cmpuint (s.duplicates, ==, 0);
  vdm_seq_tracker_free (t);
}

static void
test_restart (void)
{
  vdm_seq_tracker *t = vdm_seq_tracker_new ();
  push_no_gap (t, SSRC, 100);
  /* 3000 ahead: beyond the dropout window, a stray packet... */
  push_no_gap (t, SSRC, 3100);
  g_assert_cmpuint (stats_of (t).resyncs, ==, 0);
  /* ...and the next one continues from it: the sender restarted. */
  push_no_gap (t, SSRC, 3101);
  vdm_seq_stats s = stats_of (t);
  g_assert_cmpuint (s.resyncs, ==, 1);
  g_assert_cmpuint (s.lost, ==, 0);
  push_no_gap (t, SSRC, 3102);
  push_expect_gap (t, SSRC, 3105, 3103, 2);
  /* The packet before the restart point counts as arrived, not as a hole. */
  push_no_gap (t, SSRC, 3100);
  s = stats_of (t);
  g_assert_cmpuint (s.duplicates, ==, 1);
  g_assert_cmpuint (s.lost, ==, 2);

  /* Restart to an earlier seq (more than 100 behind). */
  vdm_seq_tracker_reset (t);
  push_no_gap (t, SSRC, 40000);
  push_no_gap (t, SSRC, 7);
  push_no_gap (t, SSRC, 8);
  push_no_gap (t, SSRC, 9);
  s = stats_of (t);
  g_assert_cmpuint (s.resyncs, ==, 1);
  g_assert_cmpuint (s.lost, ==, 0);
  g_assert_cmpuint (s.received, ==, 4);
  vdm_seq_tracker_free (t);
}

static void
test_stray_packet (void)
{
  vdm_seq_tracker *t = vdm_seq_tracker_new ();
  push_no_gap (t, SSRC, 100);
  push_no_gap (t, SSRC, 101);
  push_no_gap (t, SSRC, 40000);
  push_no_gap (t, SSRC, 102);
  push_no_gap (t, SSRC, 103);
  /* 101 behind: outside the misorder window, treated like a stray. */
  push_no_gap (t, SSRC, 2);
  push_no_gap (t, SSRC, 104);
  vdm_seq_stats s = stats_of (t);
  g_assert_cmpuint (s.resyncs, ==, 0);
  g_assert_cmpuint (s.lost, ==, 0);
  g_assert_cmpuint (s.duplicates, ==, 0);
  g_assert_cmpuint (s.received, ==, 7);
  vdm_seq_tracker_free (t);
}

static void
test_sources_independent (void)
{
  vdm_seq_tracker *t = vdm_seq_tracker_new ();
  push_no_gap (t, 1, 10);
  push_no_gap (t, 2, 5000);
  push_no_gap (t, 1, 11);
  push_no_gap (t, 2, 5001);
  push_expect_gap (t, 2, 5004, 5002, 2);
  push_expect_gap (t, 1, 13, 12, 1);
  g_assert_cmpuint (stats_of (t).lost, ==, 3);
  vdm_seq_tracker_free (t);
}

static void
test_lru_eviction (void)
{
  vdm_seq_tracker *t = vdm_seq_tracker_new ();
  for (guint32 ssrc = 0; ssrc < VDM_SEQ_MAX_SOURCES; ssrc++)
    push_no_gap (t, ssrc, 10);
  /* Source 0 used again: source 1 is now the least recently used. */
  push_no_gap (t, 0, 11);
  push_no_gap (t, 1000, 10);
  /* Source 0 kept its state: a gap is seen. */
  push_expect_gap (t, 0, 13, 12, 1);
  /* Source 2 too. */
  push_expect_gap (t, 2, 12, 11, 1);
  /* Source 1 was forgotten: it starts afresh, no gap. */
  push_no_gap (t, 1, 20);
  g_assert_cmpuint (stats_of (t).lost, ==, 2);
  g_assert_cmpuint (stats_of (t).received, ==, VDM_SEQ_MAX_SOURCES + 5);
  vdm_seq_tracker_free (t);
}

static void
test_reset (void)
{
  vdm_seq_tracker *t = vdm_seq_tracker_new ();
  push_no_gap (t, SSRC, 1);
  push_expect_gap (t, SSRC, 3, 2, 1);
  vdm_seq_tracker_reset (t);
  vdm_seq_stats s = stats_of (t);
  g_assert_cmpuint (s.received, ==, 0);
  g_assert_cmpuint (s.lost, ==, 0);
  /* The source was forgotten too: no gap against seq 3. */
  push_no_gap (t, SSRC, 10);

  /* Forgetting the sources keeps the totals. */
  push_expect_gap (t, SSRC, 12, 11, 1);
  vdm_seq_tracker_forget_sources (t);
  push_no_gap (t, SSRC, 100);
  push_no_gap (t, SSRC, 99); /* before the new start: late, but no loss taken back */
  s = stats_of (t);
  g_assert_cmpuint (s.received, ==, 4);
  g_assert_cmpuint (s.lost, ==, 1);
  g_assert_cmpuint (s.reordered, ==, 1);
  vdm_seq_tracker_free (t);
}

/* A stream through the wrap with random losses and local reordering (every
 * late packet within the misorder window): lost must equal the packets
 * never sent, reordered the packets that came after a higher one. */
static void
test_random_stream (void)
{
  GRand *rand = g_rand_new_with_seed (77);

  for (int round = 0; round < 20; round++) {
    vdm_seq_tracker *t = vdm_seq_tracker_new ();
    const guint n = 5000;
    guint32 *order = g_new (guint32, n);
    guint sent = 0, dropped = 0;

    for (guint i = 0; i < n; i++)
      order[i] = i;
    /* Local shuffles: swap with a neighbour up to 5 ahead. */
    for (guint i = 1; i + 5 < n; i++) {
      if (g_rand_int_range (rand, 0, 10) == 0) {
        guint j = i + g_rand_int_range (rand, 1, 6);
        guint32 tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
      }
    }

    guint64 expected_reordered = 0, expected_lost = 0;
    gint64 highest = -1;
    guint16 base = (guint16) g_rand_int_range (rand, 60000, 65536);
    guint64 lost_reported = 0;
    for (guint i = 0; i < n; i++) {
      /* Keep the first packet and the last 10 so every hole is seen. */
      gboolean drop = i > 0 && i + 10 < n && order[i] != 0
          && g_rand_int_range (rand, 0, 20) == 0;
      if (drop) {
        dropped++;
        continue;
      }
      sent++;
      if ((gint64) order[i] < highest)
        expected_reordered++;
      else
        highest = order[i];
      vdm_seq_gap gap;
      if (vdm_seq_tracker_push (t, SSRC, (guint16) (base + order[i]), &gap))
        lost_reported += gap.count;
    }
    expected_lost = dropped;

    vdm_seq_stats s = stats_of (t);
    g_assert_cmpuint (s.received, ==, sent);
    g_assert_cmpuint (s.lost, ==, expected_lost);
    g_assert_cmpuint (s.reordered, ==, expected_reordered);
    g_assert_cmpuint (s.duplicates, ==, 0);
    g_assert_cmpuint (s.resyncs, ==, 0);
    /* Gaps as reported count late packets too: lost + reordered. */
    g_assert_cmpuint (lost_reported, ==, s.lost + s.reordered);
    g_free (order);
    vdm_seq_tracker_free (t);
  }
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/seq_tracker/in-order", test_in_order);
  g_test_add_func ("/seq_tracker/gap", test_gap);
  g_test_add_func ("/seq_tracker/wraparound", test_wraparound);
  g_test_add_func ("/seq_tracker/late-fills-gap", test_late_fills_gap);
  g_test_add_func ("/seq_tracker/duplicates", test_duplicates);
  g_test_add_func ("/seq_tracker/before-first-seq", test_before_first_seq);
  g_test_add_func ("/seq_tracker/restart", test_restart);
  g_test_add_func ("/seq_tracker/stray-packet", test_stray_packet);
  g_test_add_func ("/seq_tracker/sources-independent", test_sources_independent);
  g_test_add_func ("/seq_tracker/lru-eviction", test_lru_eviction);
  g_test_add_func ("/seq_tracker/reset", test_reset);
  g_test_add_func ("/seq_tracker/random-stream", test_random_stream);
  return g_test_run ();
}
