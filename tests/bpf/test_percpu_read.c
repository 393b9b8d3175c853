/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bpf/percpu_read.c against a real per-CPU array (root: it creates a BPF
 * map). Every CPU's slot of chosen keys holds a known value; the batched
 * read, the one-key-at-a-time fallback (VDROPMON_BPF_NO_BATCH=1) and the
 * expected sums (and maxima, vdm_percpu_max_range) must agree, also for runs that start at key 0, end at the
 * map's last key, or run past it. Zeroing a run (a new watch's 256 reason
 * slots) clears exactly that run on every CPU, both ways, and the test
 * prints what each way costs. Without the privilege it skips, or fails
 * when VDROPMON_REQUIRE_BPF=1. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdbool.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "percpu_read.h"

#define MAP_KEYS 1024u

static int map_fd = -1;
static int n_cpus;

/* The value CPU cpu holds for key: zero for most keys (as most reason slots
 * are), large and distinct for others, so a value read for the wrong key or
 * CPU, or a CPU left out of the sum, changes the sum. */
static uint64_t
value_of (uint32_t key, int cpu)
{
  bool edge = key % 256 == 0 || key % 256 == 255 || key == 1000 || key == 5;
  if (key >= MAP_KEYS || (key % 7 != 0 && !edge))
    return 0;
  return ((uint64_t) key << 20) + ((uint64_t) (cpu + 1) << 40) + 3;
}

static uint64_t
expected_sum (uint32_t key)
{
  uint64_t total = 0;
  for (int cpu = 0; cpu < n_cpus; cpu++)
    total += value_of (key, cpu);
  return total;
}

/* The largest over the CPUs: the last CPU's value above, so a read that sums
 * or takes any other CPU's differs whenever there is more than one. */
static uint64_t
expected_max (uint32_t key)
{
  uint64_t peak = 0;
  for (int cpu = 0; cpu < n_cpus; cpu++)
    peak = MAX (peak, value_of (key, cpu));
  return peak;
}

static void
fill_map (void)
{
  uint64_t *values = g_new0 (uint64_t, n_cpus);
  for (uint32_t key = 0; key < MAP_KEYS; key++) {
    for (int cpu = 0; cpu < n_cpus; cpu++)
      values[cpu] = value_of (key, cpu);
    g_assert_cmpint (bpf_map_update_elem (map_fd, &key, values, BPF_ANY), ==, 0);
  }
  g_free (values);
}

static gboolean
create_map_or_skip (void)
{
  if (map_fd >= 0)
    return TRUE;
  n_cpus = libbpf_num_possible_cpus ();
  g_assert_cmpint (n_cpus, >, 0);
  map_fd = bpf_map_create (BPF_MAP_TYPE_PERCPU_ARRAY, "vdm_test_pcpu", sizeof (uint32_t),
      sizeof (uint64_t), MAP_KEYS, NULL);
  if (map_fd < 0) {
    char *why = g_strdup_printf ("cannot create a BPF map: %s", g_strerror (-map_fd));
    if (g_strcmp0 (g_getenv ("VDROPMON_REQUIRE_BPF"), "1") == 0)
      g_error ("%s (VDROPMON_REQUIRE_BPF=1)", why);
    g_test_skip (why);
    g_free (why);
    return FALSE;
  }
  fill_map ();
  return TRUE;
}

static void
set_batched (gboolean batched)
{
  if (batched)
    g_unsetenv ("VDROPMON_BPF_NO_BATCH");
  else
    g_setenv ("VDROPMON_BPF_NO_BATCH", "1", TRUE);
  g_assert_cmpint (vdm_percpu_batch_enabled (), ==, batched);
}

static void
check_range (uint32_t first, uint32_t n, gboolean batched, gboolean max)
{
  uint64_t *sums = g_new (uint64_t, n);
  memset (sums, 0xa5, n * sizeof *sums);  /* garbage: every slot must be written */
  set_batched (batched);
  if (max)
    g_assert_cmpint (vdm_percpu_max_range (map_fd, first, n, n_cpus, sums), ==, 0);
  else
    g_assert_cmpint (vdm_percpu_sum_range (map_fd, first, n, n_cpus, sums), ==, 0);
  for (uint32_t i = 0; i < n; i++) {
    uint64_t want = max ? expected_max (first + i) : expected_sum (first + i);
    if (sums[i] != want)
      g_error ("%s read of keys %u..%u: key %u %s %" G_GUINT64_FORMAT ", expected %"
          G_GUINT64_FORMAT, batched ? "batched" : "per-key", first, first + n - 1, first + i,
          max ? "peaked" : "summed", sums[i], want);
  }
  g_unsetenv ("VDROPMON_BPF_NO_BATCH");
  g_free (sums);
}

static void
test_ranges (void)
{
  static const struct { uint32_t first, n; } ranges[] = {
    { 0, 256 },            /* from key 0: no previous key to start after */
    { 256, 256 },          /* a watch's reason slots (slot 1) */
    { 3 * 256, 256 },      /* the map's last 256 keys */
    { 1000, 100 },         /* past the end: the rest sums to 0 */
    { MAP_KEYS, 4 },       /* wholly past the end */
    { 5, 1 },
    { 0, MAP_KEYS },
  };
  if (!create_map_or_skip ())
    return;
  for (size_t i = 0; i < G_N_ELEMENTS (ranges); i++)  /* the first and last keys count */
    g_assert_true (ranges[i].first >= MAP_KEYS
        || (expected_sum (ranges[i].first) && expected_sum (ranges[i].first + ranges[i].n - 1))
        || ranges[i].first + ranges[i].n > MAP_KEYS);
  for (size_t i = 0; i < G_N_ELEMENTS (ranges); i++) {
    check_range (ranges[i].first, ranges[i].n, TRUE, FALSE);
    check_range (ranges[i].first, ranges[i].n, FALSE, FALSE);
    check_range (ranges[i].first, ranges[i].n, TRUE, TRUE);
    check_range (ranges[i].first, ranges[i].n, FALSE, TRUE);
  }
  /* this kernel (5.6+) has batched lookups: the reader must still use them */
  g_assert_true (vdm_percpu_batch_enabled ());
}

/* Every key of first..first+n-1 holds 0 on every CPU, every other key its
 * value, as read key by key with the kernel's own lookup. */
static void
check_zeroed (uint32_t first, uint32_t n, gboolean batched)
{
  uint64_t *values = g_new0 (uint64_t, n_cpus);
  for (uint32_t key = 0; key < MAP_KEYS; key++) {
    gboolean inside = key >= first && key - first < n;
    g_assert_cmpint (bpf_map_lookup_elem (map_fd, &key, values), ==, 0);
    for (int cpu = 0; cpu < n_cpus; cpu++)
      if (values[cpu] != (inside ? 0 : value_of (key, cpu)))
        g_error ("%s zeroing of keys %u..%u: key %u CPU %d holds %" G_GUINT64_FORMAT,
            batched ? "batched" : "per-key", first, first + n - 1, key, cpu, values[cpu]);
  }
  g_free (values);
}

static void
test_zero (void)
{
  static const struct { uint32_t first, n; } ranges[] = {
    { 256, 256 },          /* a watch's reason slots (slot 1) */
    { 0, 256 },
    { 3 * 256, 256 },      /* the map's last 256 keys */
    { 5, 1 },
    { 0, MAP_KEYS },
  };
  if (!create_map_or_skip ())
    return;
  for (size_t i = 0; i < G_N_ELEMENTS (ranges); i++) {
    for (int batched = 1; batched >= 0; batched--) {
      fill_map ();
      set_batched (batched);
      g_assert_cmpint (vdm_percpu_zero_range (map_fd, ranges[i].first, ranges[i].n, n_cpus), ==, 0);
      check_zeroed (ranges[i].first, ranges[i].n, batched);
    }
  }
  g_unsetenv ("VDROPMON_BPF_NO_BATCH");
  /* this kernel (5.6+) has batched updates: the zeroing must still use them */
  g_assert_true (vdm_percpu_batch_enabled ());
  /* past the map's end: an error, not a crash */
  g_assert_cmpint (vdm_percpu_zero_range (map_fd, MAP_KEYS - 1, 2, n_cpus), <, 0);
  g_assert_cmpint (vdm_percpu_zero_range (-1, 0, 4, n_cpus), <, 0);
  fill_map ();
}

static double
seconds_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* What zeroing a new watch's 256 reason slots costs, batched and key by
 * key (a measurement printed for docs/benchmarks.md, not a pass/fail). */
static void
test_zero_cost (void)
{
  enum { ROUNDS = 200 };
  if (!create_map_or_skip ())
    return;
  for (int batched = 1; batched >= 0; batched--) {
    set_batched (batched);
    double best = 1e9, total = 0;
    for (int r = 0; r < ROUNDS; r++) {
      double start = seconds_now ();
      g_assert_cmpint (vdm_percpu_zero_range (map_fd, 256, 256, n_cpus), ==, 0);
      double took = seconds_now () - start;
      total += took;
      best = took < best ? took : best;
    }
    g_test_message ("zeroing 256 keys (%d CPUs) %s: mean %.1f us, best %.1f us over %d rounds",
        n_cpus, batched ? "batched" : "per key", total / ROUNDS * 1e6, best * 1e6, ROUNDS);
  }
  g_unsetenv ("VDROPMON_BPF_NO_BATCH");
  fill_map ();
}

/* Bad input: a clear error and zeros, never a crash. */
static void
test_bad_fd (void)
{
  uint64_t sums[4] = { 1, 2, 3, 4 };
  g_assert_cmpint (vdm_percpu_sum_range (-1, 0, 4, 2, sums), <, 0);
  for (int i = 0; i < 4; i++)
    g_assert_cmpuint (sums[i], ==, 0);
  g_assert_cmpint (vdm_percpu_sum_range (0, 0, 0, 2, sums), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/percpu-read/ranges", test_ranges);
  g_test_add_func ("/percpu-read/bad-fd", test_bad_fd);
  g_test_add_func ("/percpu-read/zero", test_zero);
  g_test_add_func ("/percpu-read/zero-cost", test_zero_cost);
  int rc = g_test_run ();
  if (map_fd >= 0)
    close (map_fd);
  return rc;
}
