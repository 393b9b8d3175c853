/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "worker_round.h"

#include <gst/check/gstcheck.h>
#include <gst/check/gsttestclock.h>

void
vdm_worker_round_at (GstHarness * h, GstClockTime at)
{
  GstTestClock *clock = gst_harness_get_testclock (h);
  GstClockID next, due;

  fail_unless (clock != NULL, "the harness has no test clock");
  /* later, so that every round started from now on follows the pushes */
  fail_unless (gst_clock_get_time (GST_CLOCK (clock)) < at, "the clock is at %" GST_TIME_FORMAT
      " already", GST_TIME_ARGS (gst_clock_get_time (GST_CLOCK (clock))));
  fail_unless (gst_harness_set_time (h, at));
  for (;;) {
    /* the worker always has a wait registered between its rounds */
    gst_test_clock_wait_for_next_pending_id (clock, &next);
    if (gst_clock_id_get_time (next) > at)
      break;
    gst_clock_id_unref (next);
    /* due at `at` or before: its callback wakes the worker */
    if ((due = gst_test_clock_process_next_clock_id (clock)))
      gst_clock_id_unref (due);
  }
  gst_clock_id_unref (next);
  gst_object_unref (clock);
}
