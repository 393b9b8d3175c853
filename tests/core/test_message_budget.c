/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the drop-message budget (issue 9 #9): the token bucket's
 * rate and burst with exact times, and the summary of what it held back.
 */
#include <glib.h>

#include "message_budget.h"

#define MS 1000000ull

/* Burst 10, 5/s: 10 at once, then one per 200 ms, whatever the demand. */
static void
test_rate_and_burst (void)
{
  vdm_message_budget b;
  unsigned granted = 0;

  vdm_message_budget_init (&b, 5, 10);
  for (unsigned i = 0; i < 1000; i++)
    granted += vdm_message_budget_take (&b, 1000 * MS);
  g_assert_cmpuint (granted, ==, 10);
  g_assert_false (vdm_message_budget_take (&b, 1199 * MS));
  g_assert_true (vdm_message_budget_take (&b, 1200 * MS));
  g_assert_false (vdm_message_budget_take (&b, 1200 * MS));
  /* 10 s of a message per ms: 5/s plus nothing else */
  granted = 0;
  for (uint64_t t = 1201; t < 11201; t++)
    granted += vdm_message_budget_take (&b, t * MS);
  g_assert_cmpuint (granted, ==, 50);
  /* idle long: the burst again, no more */
  granted = 0;
  for (unsigned i = 0; i < 100; i++)
    granted += vdm_message_budget_take (&b, 100000 * MS);
  g_assert_cmpuint (granted, ==, 10);
}

/* A clock going back refills nothing. */
static void
test_time_going_back (void)
{
  vdm_message_budget b;

  vdm_message_budget_init (&b, 1, 1);
  g_assert_true (vdm_message_budget_take (&b, 5000 * MS));
  g_assert_false (vdm_message_budget_take (&b, 10 * MS));
  g_assert_false (vdm_message_budget_take (&b, 5999 * MS));
  g_assert_true (vdm_message_budget_take (&b, 6000 * MS));
}

static vdm_drop_batch
batch (vdm_drop_source source, uint32_t ssrc, uint64_t count, uint64_t t)
{
  vdm_drop_batch b = {.source = source, .count = count, .has_rtp = true, .ssrc = ssrc,
    .first_time_ns = t, .last_time_ns = t + 1
  };
  return b;
}

/* The summary adds counts per source, counts distinct SSRCs up to its cap,
 * and spans the first to the last drop. */
static void
test_summary (void)
{
  vdm_drop_summary s = { 0 };
  vdm_drop_batch b;

  g_assert_true (vdm_drop_summary_empty (&s));
  for (uint32_t i = 0; i < 100; i++) {
    b = batch (i % 2 ? VDM_DROP_SOURCE_RTP_GAP : VDM_DROP_SOURCE_KERNEL_UDP, 1000 + i % 70, 2,
        (200 - i) * MS);
    vdm_drop_summary_add (&s, &b);
  }
  b = batch (VDM_DROP_SOURCE_KERNEL_UDP, 1000, 1, 500 * MS);
  vdm_drop_summary_add (&s, &b);
  g_assert_cmpuint (s.messages, ==, 101);
  g_assert_cmpuint (s.drops, ==, 201);
  g_assert_cmpuint (s.kernel_drops, ==, 101);
  g_assert_cmpuint (s.gap_drops, ==, 100);
  g_assert_cmpuint (s.n_ssrcs, ==, VDM_SUMMARY_SSRCS);
  g_assert_true (s.ssrcs_truncated);
  g_assert_cmpuint (s.first_time_ns, ==, 101 * MS);
  g_assert_cmpuint (s.last_time_ns, ==, 500 * MS + 1);
  vdm_drop_summary_clear (&s);
  g_assert_true (vdm_drop_summary_empty (&s));
  b = batch (VDM_DROP_SOURCE_KERNEL_UDP, 7, 3, 9 * MS);
  vdm_drop_summary_add (&s, &b);
  g_assert_cmpuint (s.n_ssrcs, ==, 1);
  g_assert_false (s.ssrcs_truncated);
  g_assert_cmpuint (s.first_time_ns, ==, 9 * MS);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/message_budget/rate-and-burst", test_rate_and_burst);
  g_test_add_func ("/message_budget/time-going-back", test_time_going_back);
  g_test_add_func ("/message_budget/summary", test_summary);
  return g_test_run ();
}
