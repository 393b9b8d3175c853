/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the TSC map (core/tsc_map.c): calibration, conversion,
 * the distrust of a counter that disagrees with the clock, a bound on how
 * far converted times can go back when the map moves on; and, on this
 * machine's own counter, conversions read on every CPU in turn.
 */
#define _GNU_SOURCE
#include <glib.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "tsc_map.h"

#define MS UINT64_C (1000000)
/* How far a converted time may go back when the map takes a new pair. */
#define BACKWARDS_BOUND_NS 1000

/* A counter at 2.1 ticks per ns (a 2.1 GHz TSC), started at an odd count. */
static uint64_t
tsc_at (uint64_t ns)
{
  return UINT64_C (123456789) + ns * 21 / 10;
}

static void
test_calibrates_after_span (void)
{
  vdm_tsc_map map;
  uint64_t ns;

  vdm_tsc_map_init (&map);
  g_assert_false (vdm_tsc_map_ready (&map));
  g_assert_cmpint (vdm_tsc_map_pair (&map, tsc_at (MS), MS), ==, VDM_TSC_PAIR_OK);
  g_assert_cmpint (vdm_tsc_map_pair (&map, tsc_at (10 * MS), 10 * MS), ==, VDM_TSC_PAIR_OK);
  g_assert_false (vdm_tsc_map_ready (&map));    /* 9 ms: too short a span */
  g_assert_cmpint (vdm_tsc_map_pair (&map, tsc_at (21 * MS), 21 * MS), ==, VDM_TSC_PAIR_OK);
  g_assert_true (vdm_tsc_map_ready (&map));
  /* stamps before and after the latest pair */
  for (ns = 15 * MS; ns < 40 * MS; ns += 777777) {
    uint64_t got = vdm_tsc_map_to_ns (&map, tsc_at (ns));
    g_assert_cmpuint (got + 1, >=, ns);
    g_assert_cmpuint (got, <=, ns + 1);
  }
}

static void
test_distrusts_a_jump (void)
{
  vdm_tsc_map map;

  vdm_tsc_map_init (&map);
  vdm_tsc_map_pair (&map, tsc_at (0), 0);
  vdm_tsc_map_pair (&map, tsc_at (30 * MS), 30 * MS);
  g_assert_true (vdm_tsc_map_ready (&map));
  /* 40 us off after 10 ms (1,000 ppm allow 10 us more): trusted */
  g_assert_cmpint (vdm_tsc_map_pair (&map, tsc_at (40 * MS + 40000), 40 * MS), ==,
      VDM_TSC_PAIR_OK);
  /* a counter 100 us ahead of where it should be, 1 ms later: not */
  g_assert_cmpint (vdm_tsc_map_pair (&map, tsc_at (41 * MS + 140000), 41 * MS), ==,
      VDM_TSC_PAIR_UNTRUSTED);
  /* and one that went back */
  g_assert_cmpint (vdm_tsc_map_pair (&map, tsc_at (30 * MS), 42 * MS), ==,
      VDM_TSC_PAIR_UNTRUSTED);
}

static void
test_distrusts_a_stopped_counter (void)
{
  vdm_tsc_map map;

  vdm_tsc_map_init (&map);
  vdm_tsc_map_pair (&map, 5000, MS);
  g_assert_cmpint (vdm_tsc_map_pair (&map, 5000, 30 * MS), ==, VDM_TSC_PAIR_UNTRUSTED);
  g_assert_false (vdm_tsc_map_ready (&map));
}

/* Pairs read with up to 60 ns between the counter and the clock, 5 to 100
 * ms apart (a drain's interval), and a clock that NTP starts slewing by
 * `ppm` at second 30: a stamp converted just before a new pair and one a
 * tick later, converted just after, never go back by more than the rate's
 * error over a drain's interval (plus 1 us), and every stamp is that close
 * to the clock. */
static void
check_bounded_when_the_map_moves (uint64_t ppm)
{
  const uint64_t max_age = 100 * MS, slew_from = UINT64_C (30000) * MS;
  const uint64_t bound = 1000 + max_age * ppm / 1000000;
  GRand *rand = g_rand_new_with_seed (7);
  vdm_tsc_map map;
  uint64_t ns, tsc = 1000, last_ns = 0, prev_true = 0;
  guint pairs = 0;

  vdm_tsc_map_init (&map);
  for (ns = MS; ns < UINT64_C (200) * 1000 * MS; ns += 5 * MS + g_rand_int_range (rand, 0, 95) * MS) {
    /* the counter runs at 2.1 GHz of the true time; the clock slews */
    uint64_t clock_ns = ns < slew_from ? ns : ns + (ns - slew_from) * ppm / 1000000;
    uint64_t stamp_tsc = tsc + (ns - prev_true) * 21 / 10;
    uint64_t jitter = (uint64_t) g_rand_int_range (rand, 0, 60);

    if (vdm_tsc_map_ready (&map)) {
      uint64_t before = vdm_tsc_map_to_ns (&map, stamp_tsc - 1);
      g_assert_cmpuint (before + bound, >=, last_ns);
      last_ns = before;
      g_assert_cmpuint (before + bound, >=, clock_ns);
      g_assert_cmpuint (before, <=, clock_ns + bound);
    }
    g_assert_cmpint (vdm_tsc_map_pair (&map, stamp_tsc - jitter * 21 / 10, clock_ns), ==,
        VDM_TSC_PAIR_OK);
    pairs++;
    if (vdm_tsc_map_ready (&map)) {
      uint64_t after = vdm_tsc_map_to_ns (&map, stamp_tsc);
      g_assert_cmpuint (after + bound, >=, last_ns);
      last_ns = after;
    }
    tsc = stamp_tsc;
    prev_true = ns;
  }
  g_assert_cmpuint (pairs, >, 1000);
  g_rand_free (rand);
}

static void
test_bounded_when_the_map_moves (void)
{
  check_bounded_when_the_map_moves (0);
  check_bounded_when_the_map_moves (50);        /* NTP's usual */
  check_bounded_when_the_map_moves (500);       /* NTP's limit */
}

/* ------------------------------------------------------------------------ */
/* This machine's counter, on every CPU in turn.                              */

static uint64_t
monotonic_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* A pair read together: the counter halfway between two reads around the
 * clock's, the closest of a few tries. */
static void
read_pair (uint64_t * tsc, uint64_t * ns)
{
  uint64_t best = UINT64_MAX;
  int i;

  for (i = 0; i < 5; i++) {
    uint64_t t1 = vdm_tsc_read (), n = monotonic_ns (), t2 = vdm_tsc_read ();
    if (t2 - t1 < best) {
      best = t2 - t1;
      *tsc = t1 + (t2 - t1) / 2;
      *ns = n;
    }
  }
}

static gboolean
move_to_cpu (int cpu)
{
  cpu_set_t set;

  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  return sched_setaffinity (0, sizeof (set), &set) == 0;
}

/* The consumer reads its pairs on one CPU, then another; stamps taken on
 * each CPU, converted, must agree with CLOCK_MONOTONIC read right after
 * them within the map's bound, and never go back by more than it. The
 * affinity is restored at the end. */
static void
test_this_machine_across_cpus (void)
{
  cpu_set_t saved;
  long cpus = sysconf (_SC_NPROCESSORS_ONLN);
  vdm_tsc_map map;
  uint64_t tsc = 0, ns = 0, last = 0, start = monotonic_ns ();
  guint round = 0, checked = 0;
  gint64 worst_ahead = G_MININT64, worst_behind = G_MININT64;

  if (!vdm_tsc_invariant ()) {
    g_test_skip ("no invariant TSC on this machine: the element does not use it");
    return;
  }
  if (cpus < 2 || sched_getaffinity (0, sizeof (saved), &saved) != 0) {
    g_test_skip ("one CPU: nothing to compare across");
    return;
  }
  vdm_tsc_map_init (&map);
  while (monotonic_ns () - start < 300 * MS) {
    int pair_cpu = round % cpus, stamp_cpu = (round / cpus + round) % cpus;
    uint64_t stamp, converted, before, after;

    round++;
    if (!move_to_cpu (pair_cpu))
      continue;
    read_pair (&tsc, &ns);
    g_assert_cmpint (vdm_tsc_map_pair (&map, tsc, ns), ==, VDM_TSC_PAIR_OK);
    if (!move_to_cpu (stamp_cpu))
      continue;
    before = monotonic_ns ();
    stamp = vdm_tsc_read ();
    after = monotonic_ns ();
    if (!vdm_tsc_map_ready (&map))
      continue;
    converted = vdm_tsc_map_to_ns (&map, stamp);
    g_assert_cmpuint (converted, <=, after + VDM_TSC_MAX_ERROR_NS);
    g_assert_cmpuint (converted + VDM_TSC_MAX_ERROR_NS, >=, before);
    g_assert_cmpuint (converted + VDM_TSC_MAX_ERROR_NS, >=, last);
    last = MAX (last, converted);
    worst_ahead = MAX (worst_ahead, (gint64) (converted - after));
    worst_behind = MAX (worst_behind, (gint64) (before - converted));
    checked++;
    g_usleep (200);
  }
  sched_setaffinity (0, sizeof (saved), &saved);
  g_test_message ("%u stamps over %ld CPUs: at most %" G_GINT64_FORMAT " ns after the clock "
      "read after them, %" G_GINT64_FORMAT " ns before the one before", checked, cpus,
      worst_ahead, worst_behind);
  g_assert_cmpuint (checked, >, 10);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsc_map/calibrates-after-span", test_calibrates_after_span);
  g_test_add_func ("/tsc_map/distrusts-a-jump", test_distrusts_a_jump);
  g_test_add_func ("/tsc_map/distrusts-a-stopped-counter", test_distrusts_a_stopped_counter);
  g_test_add_func ("/tsc_map/bounded-when-the-map-moves", test_bounded_when_the_map_moves);
  g_test_add_func ("/tsc_map/this-machine-across-cpus", test_this_machine_across_cpus);
  return g_test_run ();
}
