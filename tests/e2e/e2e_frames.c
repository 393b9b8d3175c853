/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "e2e_frames.h"

#define MS 1000000ULL
#define FREEZE_MIN_EXTRA_NS (150 * MS)

static guint64
frame_time (const GArray * frames, guint i)
{
  return g_array_index (frames, VdmE2eFrame, i).time_ns;
}

/* Whether frame i is frozen; fills the details. Needs i >= MIN_HISTORY + 1. */
static gboolean
is_frozen (const GArray * frames, guint i, VdmE2eFreeze * out)
{
  guint n = MIN (i - 1, VDM_E2E_FREEZE_WINDOW);
  guint64 first = frame_time (frames, i - 1 - n), last = frame_time (frames, i - 1);
  guint64 avg = (last - first) / n;
  guint64 threshold = MAX (3 * avg, avg + FREEZE_MIN_EXTRA_NS);
  guint64 gap = frame_time (frames, i) - last;

  out->found = gap >= threshold;
  out->index = i;
  out->start_ns = last;
  out->end_ns = frame_time (frames, i);
  out->threshold_ns = threshold;
  out->avg_ns = avg;
  return out->found;
}

gboolean
vdm_e2e_first_freeze (const GArray * frames, guint64 after_ns, VdmE2eFreeze * out)
{
  guint i;

  for (i = VDM_E2E_FREEZE_MIN_HISTORY + 1; i < frames->len; i++)
    if (frame_time (frames, i - 1) >= after_ns && is_frozen (frames, i, out))
      return TRUE;
  *out = (VdmE2eFreeze) { 0 };
  return FALSE;
}

guint
vdm_e2e_count_freezes (const GArray * frames, guint64 after_ns)
{
  VdmE2eFreeze freeze;
  guint i, n = 0;

  for (i = VDM_E2E_FREEZE_MIN_HISTORY + 1; i < frames->len; i++)
    if (frame_time (frames, i - 1) >= after_ns && is_frozen (frames, i, &freeze))
      n++;
  return n;
}

guint64
vdm_e2e_longest_gap (const GArray * frames, guint64 after_ns)
{
  guint64 longest = 0;
  guint i;

  for (i = 1; i < frames->len; i++)
    if (frame_time (frames, i - 1) >= after_ns)
      longest = MAX (longest, frame_time (frames, i) - frame_time (frames, i - 1));
  return longest;
}
