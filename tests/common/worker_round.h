/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * worker_round.h — moving a vdropmon element's GstTestClock and knowing,
 * without a sleep or a timeout, that its worker has had its round there.
 *
 * The worker waits on the element's clock for the end of each detector bin,
 * and registers the wait for the next end only after a round that started
 * at the end before (read the clock, then took the packets handed over)
 * has posted what it had to say (plugin/vdropmon_worker.c,
 * schedule_bin_wait_locked). So: move the clock to a bin's end, process the
 * waits that are due (each wakes the worker), and wait until a wait later
 * than that end is registered.
 */
#ifndef VDM_WORKER_ROUND_H
#define VDM_WORKER_ROUND_H

#include <gst/check/gstharness.h>

/* Moves h's test clock forward to `at` (a multiple of the element's
 * bin-duration, later than the clock's time) and returns once a worker
 * round that started at `at` — after every buffer pushed before this call
 * — has posted its messages (and sent its keyframe request). The harness
 * must hold one vdropmon and nothing else that waits on the clock. */
void vdm_worker_round_at (GstHarness * h, GstClockTime at);

#endif
