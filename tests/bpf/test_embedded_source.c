/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The embedded collector through the generic interface (root: it loads the
 * BPF program). Without the privilege it skips, or fails when
 * VDROPMON_REQUIRE_BPF=1. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"

static gboolean
require_bpf (void)
{
  return g_strcmp0 (g_getenv ("VDROPMON_REQUIRE_BPF"), "1") == 0;
}

/* Opens the embedded collector, or skips/fails this test saying why. */
static vdm_source *
open_or_skip (void)
{
  char *error = NULL;
  vdm_source *source = vdm_source_open ("embedded", NULL, &error);

  if (!source) {
    if (require_bpf ())
      g_error ("the embedded collector did not open: %s", error);
    g_test_skip (error);
  }
  free (error);
  return source;
}

/* Issue 9, #1: drop batches kept reason_name pointers into the collector's
 * reason table, freed with the last reference. The lowest code's name sits
 * at the start of that table, where the allocator writes its own pointers
 * once the block is freed: read after the free, it no longer says what it
 * said (and AddressSanitizer calls it a heap-use-after-free). */
static void
test_reason_name_outlives_last_unref (void)
{
  vdm_source *source = open_or_skip ();
  const char *names[4];
  char *copies[4];
  uint32_t codes[4] = { 0, 1, 2, 6 };
  int i;

  if (!source)
    return;
  for (i = 0; i < 4; i++) {
    names[i] = vdm_source_reason_name (source, codes[i]);
    copies[i] = g_strdup (names[i]);
  }
  g_assert_cmpstr (names[2], ==, "NOT_SPECIFIED");
  vdm_source_unref (source); /* the last reference: unloaded, table freed */
  for (i = 0; i < 4; i++)
    g_assert_cmpstr (names[i], ==, copies[i]);
  for (i = 0; i < 4; i++)
    g_free (copies[i]);
}

#define N_OPENERS 4
#define N_ROUNDS 6

static gpointer
open_unref_loop (gpointer data)
{
  int *failures = data;
  int i;

  for (i = 0; i < N_ROUNDS; i++) {
    char *error = NULL;
    vdm_source *source = vdm_source_open_embedded (&error);
    vdm_source_info info;
    vdm_counters counters;

    if (!source) {
      g_printerr ("open failed: %s\n", error);
      free (error);
      __atomic_add_fetch (failures, 1, __ATOMIC_SEQ_CST);
      continue;
    }
    /* A source handed out is alive: its maps answer. */
    vdm_source_get_info (source, &info);
    if (g_strcmp0 (info.name, "embedded") != 0 || vdm_source_counters (source, 1, &counters) != 0)
      __atomic_add_fetch (failures, 1, __ATOMIC_SEQ_CST);
    vdm_source_unref (source);
  }
  return NULL;
}

/* Opening while another thread drops the last reference never returns the
 * dying collector. */
static void
test_open_races_last_unref (void)
{
  vdm_source *probe = open_or_skip ();
  GThread *threads[N_OPENERS];
  int failures = 0, i;

  if (!probe)
    return;
  vdm_source_unref (probe);
  for (i = 0; i < N_OPENERS; i++)
    threads[i] = g_thread_new ("opener", open_unref_loop, &failures);
  for (i = 0; i < N_OPENERS; i++)
    g_thread_join (threads[i]);
  g_assert_cmpint (failures, ==, 0);
}

/* events_lost reads the one per-watch counter; it agrees with counters(). */
static void
test_events_lost_matches_counters (void)
{
  vdm_source *source = open_or_skip ();
  vdm_counters counters;
  uint64_t lost = 1;

  if (!source)
    return;
  g_assert_cmpint (vdm_source_events_lost (source, 3, &lost), ==, 0);
  g_assert_cmpint (vdm_source_counters (source, 3, &counters), ==, 0);
  g_assert_cmpuint (lost, ==, counters.ringbuf_lost);
  g_assert_cmpint (vdm_source_events_lost (source, VDM_MAX_WATCHES, &lost), <, 0);
  vdm_source_unref (source);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/embedded-source/reason-name-outlives-last-unref",
      test_reason_name_outlives_last_unref);
  g_test_add_func ("/embedded-source/open-races-last-unref", test_open_races_last_unref);
  g_test_add_func ("/embedded-source/events-lost", test_events_lost_matches_counters);
  return g_test_run ();
}
