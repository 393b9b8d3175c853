/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of gap_reconciler: kernel-named seqs are taken out of arrival gaps. */
#include <glib.h>

#include "gap_reconciler.h"

#define SSRC 0x5555u
#define MS 1000000ull

static const vdm_gap_context CTX = { .stamp = 7, .rtp_ts = 9000, .payload_type = 96 };

typedef struct {
  guint32 ssrc;
  guint16 first, count;
  guint64 detected;
  guint64 stamp;
} Run;

static void
collect (uint32_t ssrc, uint16_t first, uint16_t count, uint64_t detected,
    const vdm_gap_context *context, void *user_data)
{
  Run run = { ssrc, first, count, detected, context->stamp };
  g_array_append_val ((GArray *) user_data, run);
}

static void
assert_run (GArray *runs, guint i, guint16 first, guint16 count)
{
  g_assert_cmpuint (runs->len, >, i);
  g_assert_cmpuint (g_array_index (runs, Run, i).first, ==, first);
  g_assert_cmpuint (g_array_index (runs, Run, i).count, ==, count);
}

static void
test_unexplained_after_grace (void)
{
  vdm_gap_reconciler *rec = vdm_gap_reconciler_new ();
  GArray *runs = g_array_new (FALSE, FALSE, sizeof (Run));

  vdm_gap_reconciler_gap (rec, 100 * MS, &CTX, SSRC, 10, 3, collect, runs);
  g_assert_cmpuint (vdm_gap_reconciler_oldest (rec), ==, 100 * MS);
  vdm_gap_reconciler_settle (rec, 149 * MS, 50 * MS, collect, runs);
  g_assert_cmpuint (runs->len, ==, 0);
  vdm_gap_reconciler_settle (rec, 150 * MS, 50 * MS, collect, runs);
  g_assert_cmpuint (runs->len, ==, 1);
  assert_run (runs, 0, 10, 3);
  g_assert_cmpuint (g_array_index (runs, Run, 0).detected, ==, 100 * MS);
  g_assert_cmpuint (g_array_index (runs, Run, 0).stamp, ==, 7);
  g_assert_cmpuint (vdm_gap_reconciler_oldest (rec), ==, G_MAXUINT64);
  g_array_unref (runs);
  vdm_gap_reconciler_free (rec);
}

/* Kernel named 11 and 13 of the gap 10..14: 10, 12 and 14 are network loss. */
static void
test_partly_explained (void)
{
  vdm_gap_reconciler *rec = vdm_gap_reconciler_new ();
  GArray *runs = g_array_new (FALSE, FALSE, sizeof (Run));

  vdm_gap_reconciler_kernel_drop (rec, SSRC, 11);
  vdm_gap_reconciler_gap (rec, 0, &CTX, SSRC, 10, 5, collect, runs);
  vdm_gap_reconciler_kernel_drop (rec, SSRC, 13); /* late kernel event, inside grace */
  vdm_gap_reconciler_settle (rec, 50 * MS, 50 * MS, collect, runs);
  g_assert_cmpuint (runs->len, ==, 3);
  assert_run (runs, 0, 10, 1);
  assert_run (runs, 1, 12, 1);
  assert_run (runs, 2, 14, 1);
  g_array_unref (runs);
  vdm_gap_reconciler_free (rec);
}

static void
test_fully_explained_and_wrap (void)
{
  vdm_gap_reconciler *rec = vdm_gap_reconciler_new ();
  GArray *runs = g_array_new (FALSE, FALSE, sizeof (Run));
  guint16 seq;

  for (seq = 65534; seq != 2; seq++)
    vdm_gap_reconciler_kernel_drop (rec, SSRC, seq);
  vdm_gap_reconciler_gap (rec, 0, &CTX, SSRC, 65534, 4, collect, runs);
  vdm_gap_reconciler_settle (rec, G_MAXUINT32, 0, collect, runs);
  g_assert_cmpuint (runs->len, ==, 0);
  /* the bits were consumed: the same seqs missing again later are unexplained */
  vdm_gap_reconciler_gap (rec, 0, &CTX, SSRC, 65534, 4, collect, runs);
  vdm_gap_reconciler_settle (rec, G_MAXUINT32, 0, collect, runs);
  g_assert_cmpuint (runs->len, ==, 1);
  assert_run (runs, 0, 65534, 4);
  g_array_unref (runs);
  vdm_gap_reconciler_free (rec);
}

/* A seq that arrived was not lost: an old kernel note of it is forgotten. */
static void
test_arrival_clears (void)
{
  vdm_gap_reconciler *rec = vdm_gap_reconciler_new ();
  GArray *runs = g_array_new (FALSE, FALSE, sizeof (Run));

  vdm_gap_reconciler_kernel_drop (rec, SSRC, 500);
  vdm_gap_reconciler_arrived (rec, SSRC, 500);
  vdm_gap_reconciler_gap (rec, 0, &CTX, SSRC, 500, 1, collect, runs);
  vdm_gap_reconciler_settle (rec, 1, 0, collect, runs);
  assert_run (runs, 0, 500, 1);
  /* other SSRCs are separate */
  vdm_gap_reconciler_kernel_drop (rec, SSRC + 1, 600);
  vdm_gap_reconciler_gap (rec, 0, &CTX, SSRC, 600, 1, collect, runs);
  vdm_gap_reconciler_settle (rec, 1, 0, collect, runs);
  assert_run (runs, 1, 600, 1);
  g_array_unref (runs);
  vdm_gap_reconciler_free (rec);
}

static void
test_overflow_settles_oldest (void)
{
  vdm_gap_reconciler *rec = vdm_gap_reconciler_new ();
  GArray *runs = g_array_new (FALSE, FALSE, sizeof (Run));
  guint i;

  for (i = 0; i < VDM_RECONCILER_PENDING + 3; i++)
    vdm_gap_reconciler_gap (rec, i, &CTX, SSRC, (guint16) (i * 10), 1, collect, runs);
  g_assert_cmpuint (runs->len, ==, 3);
  assert_run (runs, 0, 0, 1);
  assert_run (runs, 2, 20, 1);
  vdm_gap_reconciler_settle (rec, G_MAXUINT32, 0, collect, runs);
  g_assert_cmpuint (runs->len, ==, VDM_RECONCILER_PENDING + 3);
  g_array_unref (runs);
  vdm_gap_reconciler_free (rec);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gap-reconciler/unexplained-after-grace", test_unexplained_after_grace);
  g_test_add_func ("/gap-reconciler/partly-explained", test_partly_explained);
  g_test_add_func ("/gap-reconciler/fully-explained-and-wrap", test_fully_explained_and_wrap);
  g_test_add_func ("/gap-reconciler/arrival-clears", test_arrival_clears);
  g_test_add_func ("/gap-reconciler/overflow-settles-oldest", test_overflow_settles_oldest);
  return g_test_run ();
}
