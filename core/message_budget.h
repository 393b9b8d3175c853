/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * message_budget.h — how many drop messages one element may post (issue 9
 * #9). A batch per SSRC means a flood of rotating, spoofed SSRCs would post
 * a message per couple of packets; past the budget, the batches are folded
 * into one summary instead, posted at most once per summary period. The
 * budget is per element, so a flooding stream spends its own and never
 * another element's.
 *
 * A token bucket: `rate` messages per second, up to `burst` at once. Plain
 * C, no locks, times passed in (CLOCK_MONOTONIC ns).
 */
#ifndef VDM_MESSAGE_BUDGET_H
#define VDM_MESSAGE_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "drop_batcher.h"

#define VDM_SUMMARY_SSRCS 64   /* distinct SSRCs counted exactly; past this, "at least" */

typedef struct {
  double rate, burst, tokens;
  uint64_t last_ns;
  bool started;
} vdm_message_budget;

/* What the batches past the budget had, since the last summary. */
typedef struct {
  uint64_t messages;            /* drop messages not posted */
  uint64_t drops;               /* the drops they counted */
  uint64_t kernel_drops;        /* of which the kernel's */
  uint64_t gap_drops;           /* of which RTP sequence gaps */
  uint32_t ssrcs[VDM_SUMMARY_SSRCS];
  unsigned n_ssrcs;             /* distinct SSRCs among them, at most VDM_SUMMARY_SSRCS */
  bool ssrcs_truncated;         /* there were more */
  uint64_t first_time_ns, last_time_ns; /* of their drops, CLOCK_MONOTONIC */
} vdm_drop_summary;

void vdm_message_budget_init (vdm_message_budget *budget, double rate, double burst);
/* true: a message may be posted at now_ns (a token is spent). */
bool vdm_message_budget_take (vdm_message_budget *budget, uint64_t now_ns);

void vdm_drop_summary_add (vdm_drop_summary *summary, const vdm_drop_batch *batch);
static inline bool
vdm_drop_summary_empty (const vdm_drop_summary *summary)
{
  return summary->messages == 0;
}
void vdm_drop_summary_clear (vdm_drop_summary *summary);

#endif
