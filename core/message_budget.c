/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * message_budget.c — the drop-message token bucket and the summary of the
 * batches past it (see message_budget.h).
 */
#include "message_budget.h"

#include <string.h>

void
vdm_message_budget_init (vdm_message_budget *budget, double rate, double burst)
{
  memset (budget, 0, sizeof (*budget));
  budget->rate = rate;
  budget->burst = burst;
  budget->tokens = burst;
}

bool
vdm_message_budget_take (vdm_message_budget *budget, uint64_t now_ns)
{
  if (budget->started && now_ns > budget->last_ns) {
    budget->tokens += (double) (now_ns - budget->last_ns) * budget->rate / 1e9;
    if (budget->tokens > budget->burst)
      budget->tokens = budget->burst;
  }
  /* a time that went back refills nothing, and is not remembered */
  if (!budget->started || now_ns > budget->last_ns)
    budget->last_ns = now_ns;
  budget->started = true;
  if (budget->tokens < 1.0)
    return false;
  budget->tokens -= 1.0;
  return true;
}

static void
add_ssrc (vdm_drop_summary *summary, uint32_t ssrc)
{
  for (unsigned i = 0; i < summary->n_ssrcs; i++)
    if (summary->ssrcs[i] == ssrc)
      return;
  if (summary->n_ssrcs == VDM_SUMMARY_SSRCS) {
    summary->ssrcs_truncated = true;
    return;
  }
  summary->ssrcs[summary->n_ssrcs++] = ssrc;
}

void
vdm_drop_summary_add (vdm_drop_summary *summary, const vdm_drop_batch *batch)
{
  if (summary->messages == 0 || batch->first_time_ns < summary->first_time_ns)
    summary->first_time_ns = batch->first_time_ns;
  if (batch->last_time_ns > summary->last_time_ns)
    summary->last_time_ns = batch->last_time_ns;
  summary->messages++;
  summary->drops += batch->count;
  if (batch->source == VDM_DROP_SOURCE_RTP_GAP)
    summary->gap_drops += batch->count;
  else
    summary->kernel_drops += batch->count;
  if (batch->has_rtp)
    add_ssrc (summary, batch->ssrc);
}

void
vdm_drop_summary_clear (vdm_drop_summary *summary)
{
  memset (summary, 0, sizeof (*summary));
}
