/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the stall detector: a threshold that follows the stream's
 * own pauses, a stall declared within a few frame intervals, no stall on
 * keyframes and jitter, and stall-eta to the nanosecond.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "stall_detector.h"

#define MS VDM_MSECOND
#define FRAME_NS (VDM_SECOND / 30)

/* A 30 fps stream as a camera sends it through a quick link: each frame is
 * a burst of packets 0.1 ms apart (40 for a keyframe every 30 frames, which
 * also takes `key_delay` longer to encode, 8 otherwise), the burst starts
 * at the frame time plus a jitter uniform in [0, jitter_ms). Calls
 * arrival() for every packet up to `frames` frames from t0; returns the
 * last arrival. With check_every_ms > 0, between arrivals, asserts at
 * every such step that no stall is declared. */
static uint64_t
feed_stream (vdm_stall_detector *s, GRand *rand, uint64_t t0, unsigned frames, double jitter_ms,
    uint64_t key_delay, uint64_t check_every)
{
  uint64_t last = t0;

  for (unsigned f = 0; f < frames; f++) {
    bool key = f % 30 == 0;
    uint64_t start = t0 + f * FRAME_NS + (key ? key_delay : 0)
        + (uint64_t) (g_rand_double_range (rand, 0, jitter_ms) * MS);
    unsigned packets = key ? 40 : 8;

    if (start < last)
      start = last;
    for (uint64_t t = last + check_every; check_every > 0 && t < start; t += check_every)
      if (vdm_stall_is_stalled (s, t))
        g_error ("false stall at frame %u, %.1f ms after the last arrival (threshold %.1f ms)",
            f, (t - last) / 1e6, vdm_stall_threshold (s) / 1e6);
    for (unsigned p = 0; p < packets; p++) {
      last = start + p * (VDM_MSECOND / 10);
      vdm_stall_arrival (s, last);
    }
  }
  return last;
}

/* First time (1 ms steps) after `last` at which a stall is declared. */
static uint64_t
declared_after (const vdm_stall_detector *s, uint64_t last)
{
  for (uint64_t t = last; t < last + 10 * VDM_SECOND; t += MS)
    if (vdm_stall_is_stalled (s, t))
      return t - last;
  return VDM_TIME_NONE;
}

/* The stream stops after 20 s: declared within 4 frame intervals (133 ms),
 * exactly at the threshold, and the threshold is above every pause the
 * stream made (keyframe 15 ms late, 5 ms jitter: the longest pause is
 * under 33 + 15 + 5 ms). */
static void
test_stall_declared_within_frames (void)
{
  vdm_stall_detector s;
  GRand *rand = g_rand_new_with_seed (1);
  uint64_t last, after;

  vdm_stall_init (&s, NULL);
  last = feed_stream (&s, rand, 10 * VDM_SECOND, 600, 5.0, 15 * MS, MS);
  after = vdm_stall_threshold (&s);
  g_test_message ("stall declared %.1f ms after the last arrival", after / 1e6);
  g_assert_true (vdm_stall_is_stalled (&s, last + after));
  g_assert_false (vdm_stall_is_stalled (&s, last + after - 1));
  g_assert_cmpuint (after, <=, 4 * FRAME_NS);
  g_assert_cmpuint (after, >=, 100 * MS);
  g_rand_free (rand);
}

/* Ten minutes of a clean stream per seed, checked every millisecond: the
 * keyframe pauses (up to 25 ms late) and jitter (up to 12 ms) never look
 * like a stall. */
static void
test_clean_streams_never_stall (void)
{
  for (guint32 seed = 1; seed <= 5; seed++) {
    vdm_stall_detector s;
    GRand *rand = g_rand_new_with_seed (seed);
    uint64_t last;

    vdm_stall_init (&s, NULL);
    last = feed_stream (&s, rand, VDM_SECOND, 18000, 12.0, 25 * MS, MS);
    g_assert_cmpuint (declared_after (&s, last), <=, 4 * FRAME_NS + 25 * MS);
    g_rand_free (rand);
  }
}

/* The bounds: a 100 fps stream's threshold would be 20 ms: the floor (100
 * ms) holds; a 4 fps stream's would be 500 ms: the ceiling (200 ms) holds;
 * fewer than min_gaps gaps: the ceiling. */
static void
test_floor_and_ceiling (void)
{
  vdm_stall_detector s;
  unsigned i;

  vdm_stall_init (&s, NULL);
  g_assert_cmpuint (vdm_stall_threshold (&s), ==, 200 * MS);
  for (i = 0; i <= 29; i++)
    vdm_stall_arrival (&s, VDM_SECOND + i * 10 * MS);
  g_assert_cmpuint (vdm_stall_threshold (&s), ==, 200 * MS);       /* 29 gaps */
  vdm_stall_arrival (&s, VDM_SECOND + 30 * 10 * MS);
  g_assert_cmpuint (vdm_stall_threshold (&s), ==, 100 * MS);       /* 30: adapted, floored */

  vdm_stall_init (&s, NULL);
  for (i = 0; i < 100; i++)
    vdm_stall_arrival (&s, VDM_SECOND + i * 250 * MS);
  g_assert_cmpuint (vdm_stall_threshold (&s), ==, 200 * MS);
}

static int
compare_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

  return x < y ? -1 : x > y;
}

/* The threshold is exactly factor x the percentile of the last 256 gaps,
 * checked against a sort after every gap of a random sequence (also with
 * many equal gaps), once the ring has wrapped. */
static void
test_threshold_is_the_percentile (void)
{
  vdm_stall_config config;
  vdm_stall_detector s;
  GRand *rand = g_rand_new_with_seed (7);
  uint64_t t = VDM_SECOND, gaps[2000], sorted[VDM_STALL_GAPS];

  vdm_stall_config_init (&config);
  config.floor_ns = 0;
  config.ceiling_ns = 100 * VDM_SECOND;
  config.factor = 1.0;
  vdm_stall_init (&s, &config);
  vdm_stall_arrival (&s, t);
  for (unsigned i = 0; i < G_N_ELEMENTS (gaps); i++) {
    gaps[i] = (i % 3 == 0) ? 33 * MS : (uint64_t) g_rand_int_range (rand, 4, 120) * MS;
    t += gaps[i];
    vdm_stall_arrival (&s, t);
    if (i + 1 >= VDM_STALL_GAPS) {
      memcpy (sorted, &gaps[i + 1 - VDM_STALL_GAPS], sizeof (sorted));
      qsort (sorted, VDM_STALL_GAPS, sizeof (sorted[0]), compare_u64);
      /* k = round (0.99 x 255) = 252 */
      g_assert_cmpuint (vdm_stall_threshold (&s), ==, sorted[252]);
    }
  }
  g_rand_free (rand);
}

/* The percentile while the window fills, then slides, with many equal gaps
 * (the sorted copy must drop the oldest of equal values, not another):
 * at every gap, the threshold is the k-th of the gaps so far, sorted. */
static void
test_percentile_while_filling (void)
{
  const double percentiles[] = { 0.0, 0.5, 0.99, 1.0 };

  for (unsigned p = 0; p < G_N_ELEMENTS (percentiles); p++) {
    vdm_stall_config config;
    vdm_stall_detector s;
    GRand *rand = g_rand_new_with_seed (11 + p);
    uint64_t t = VDM_SECOND, gaps[700], sorted[VDM_STALL_GAPS];

    vdm_stall_config_init (&config);
    config.floor_ns = 0;
    config.ceiling_ns = 100 * VDM_SECOND;
    config.factor = 1.0;
    config.min_gaps = 1;
    config.percentile = percentiles[p];
    vdm_stall_init (&s, &config);
    vdm_stall_arrival (&s, t);
    for (unsigned i = 0; i < G_N_ELEMENTS (gaps); i++) {
      unsigned n = MIN (i + 1, VDM_STALL_GAPS), k;

      gaps[i] = (uint64_t) g_rand_int_range (rand, 4, 12) * MS;       /* 8 values: many equal */
      t += gaps[i];
      vdm_stall_arrival (&s, t);
      memcpy (sorted, &gaps[i + 1 - n], n * sizeof (sorted[0]));
      qsort (sorted, n, sizeof (sorted[0]), compare_u64);
      k = (unsigned) (percentiles[p] * (double) (n - 1) + 0.5);
      g_assert_cmpuint (vdm_stall_threshold (&s), ==, sorted[k]);
    }
    g_rand_free (rand);
  }
}

/* Packets of one burst (<= 3 ms apart) make no gap; an arrival earlier
 * than the last is ignored and moves nothing. */
static void
test_bursts_and_time_backwards (void)
{
  vdm_stall_detector s;

  vdm_stall_init (&s, NULL);
  for (unsigned i = 0; i < 1000; i++)
    vdm_stall_arrival (&s, VDM_SECOND + i * 3 * MS);
  g_assert_cmpuint (s.count, ==, 0);
  g_assert_cmpuint (vdm_stall_threshold (&s), ==, 200 * MS);
  vdm_stall_arrival (&s, 500 * MS);
  g_assert_cmpuint (vdm_stall_last_arrival (&s), ==, VDM_SECOND + 999 * 3 * MS);
  vdm_stall_arrival (&s, VDM_TIME_NONE);
  g_assert_cmpuint (vdm_stall_last_arrival (&s), ==, VDM_SECOND + 999 * 3 * MS);
  g_assert_false (vdm_stall_is_stalled (&s, 600 * MS));
}

/* stall-eta: buffer 200 ms, the stream lagged 30 ms when it stopped at
 * 5 s: 170 ms of media left then; at 5.1 s, 70 ms; gone at 5.17 s and after.
 * A negative lag (arriving early) does not add media; no buffer or no
 * arrival: unknown. */
static void
test_stall_eta (void)
{
  vdm_stall_detector s;

  vdm_stall_init (&s, NULL);
  g_assert_cmpuint (vdm_stall_eta (&s, VDM_SECOND, 200 * MS, 0), ==, VDM_TIME_NONE);
  vdm_stall_arrival (&s, 5 * VDM_SECOND);
  g_assert_cmpuint (vdm_stall_eta (&s, 5 * VDM_SECOND, 200 * MS, 30 * MS), ==, 170 * MS);
  g_assert_cmpuint (vdm_stall_eta (&s, 5100 * MS, 200 * MS, 30 * MS), ==, 70 * MS);
  g_assert_cmpuint (vdm_stall_eta (&s, 5170 * MS, 200 * MS, 30 * MS), ==, 0);
  g_assert_cmpuint (vdm_stall_eta (&s, 9 * VDM_SECOND, 200 * MS, 30 * MS), ==, 0);
  g_assert_cmpuint (vdm_stall_eta (&s, 5100 * MS, 200 * MS, -50 * (int64_t) MS), ==, 100 * MS);
  g_assert_cmpuint (vdm_stall_eta (&s, 5100 * MS, 200 * MS, 300 * MS), ==, 0);
  g_assert_cmpuint (vdm_stall_eta (&s, 5100 * MS, VDM_TIME_NONE, 0), ==, VDM_TIME_NONE);
  /* now before the last arrival (another thread's clock read): all held */
  g_assert_cmpuint (vdm_stall_eta (&s, 4 * VDM_SECOND, 200 * MS, 0), ==, 200 * MS);
}

/* A reader descheduled for 250 ms on a loaded host: the network went on
 * delivering, the packets waited in the socket, and whoever checked the
 * receive queue (every 10 ms) found data there. No stall at any moment,
 * though the reader saw nothing for twice the threshold; the 250 ms gap
 * the burst then ends is not learned as one of the stream's pauses. The
 * same timeline without the kernel's word stalls (the control). */
static void
test_reader_delay_is_no_stall (void)
{
  vdm_stall_detector s, control;
  GRand *rand = g_rand_new_with_seed (3);
  uint64_t last, threshold, resume;
  unsigned gaps;

  vdm_stall_init (&s, NULL);
  last = feed_stream (&s, rand, VDM_SECOND, 600, 5.0, 15 * MS, MS);
  control = s;
  threshold = vdm_stall_threshold (&s);
  gaps = s.count;
  resume = last + 250 * MS;
  g_assert_cmpuint (2 * threshold, <, resume - last);
  /* the next frame reached the socket one frame after the last read */
  for (uint64_t t = last + 10 * MS; t < resume; t += 10 * MS) {
    if (t >= last + FRAME_NS)
      vdm_stall_backlog (&s, t);
    g_assert_false (vdm_stall_is_stalled (&s, t));
    g_assert_false (vdm_stall_is_stalled (&s, t + 9 * MS));
  }
  g_assert_true (vdm_stall_is_stalled (&control, last + threshold));
  /* the reader catches up: five frames' packets in one burst */
  for (unsigned p = 0; p < 5 * 8; p++)
    vdm_stall_arrival (&s, resume + p * (VDM_MSECOND / 20));
  g_assert_cmpuint (s.count, ==, gaps);
  g_assert_cmpuint (vdm_stall_threshold (&s), ==, threshold);
  g_assert_false (vdm_stall_is_stalled (&s, resume + 3 * MS));
  g_rand_free (rand);
}

/* A real stall after the kernel's word was heard: the network stops after
 * a reader delay; the queue, checked every 10 ms, is empty from then on.
 * Declared exactly one threshold after the last arrival, as if the kernel
 * had never been asked: the early warning is no later. */
static void
test_network_stall_declared_as_early (void)
{
  vdm_stall_detector s, never_asked;
  GRand *rand = g_rand_new_with_seed (4);
  uint64_t last, threshold;

  vdm_stall_init (&s, NULL);
  last = feed_stream (&s, rand, VDM_SECOND, 300, 5.0, 15 * MS, MS);
  vdm_stall_backlog (&s, last + 50 * MS);       /* the reader was late once */
  for (unsigned p = 0; p < 16; p++)
    vdm_stall_arrival (&s, last + 60 * MS + p * (VDM_MSECOND / 20));
  last = feed_stream (&s, rand, last + 90 * MS, 300, 5.0, 15 * MS, MS);
  never_asked = s;
  never_asked.backlog_ns = VDM_TIME_NONE;
  threshold = vdm_stall_threshold (&s);
  g_assert_cmpuint (threshold, ==, vdm_stall_threshold (&never_asked));
  g_assert_false (vdm_stall_is_stalled (&s, last + threshold - 1));
  g_assert_true (vdm_stall_is_stalled (&s, last + threshold));
  g_assert_false (vdm_stall_is_stalled (&never_asked, last + threshold - 1));
  g_assert_true (vdm_stall_is_stalled (&never_asked, last + threshold));
  /* the kernel's word older than the last arrival changes nothing */
  vdm_stall_backlog (&s, last - 5 * MS);
  g_assert_false (vdm_stall_is_stalled (&s, last + threshold - 1));
  g_assert_true (vdm_stall_is_stalled (&s, last + threshold));
  /* data still waiting later: the silence counts from then */
  vdm_stall_backlog (&s, last + 40 * MS);
  g_assert_false (vdm_stall_is_stalled (&s, last + 40 * MS + threshold - 1));
  g_assert_true (vdm_stall_is_stalled (&s, last + 40 * MS + threshold));
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/stall/declared-within-frames", test_stall_declared_within_frames);
  g_test_add_func ("/stall/clean-streams-never-stall", test_clean_streams_never_stall);
  g_test_add_func ("/stall/floor-and-ceiling", test_floor_and_ceiling);
  g_test_add_func ("/stall/threshold-is-the-percentile", test_threshold_is_the_percentile);
  g_test_add_func ("/stall/percentile-while-filling", test_percentile_while_filling);
  g_test_add_func ("/stall/bursts-and-time-backwards", test_bursts_and_time_backwards);
  g_test_add_func ("/stall/eta", test_stall_eta);
  g_test_add_func ("/stall/reader-delay-is-no-stall", test_reader_delay_is_no_stall);
  g_test_add_func ("/stall/network-stall-declared-as-early", test_network_stall_declared_as_early);
  return g_test_run ();
}
