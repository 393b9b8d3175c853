/* metrics_analytics.c — the element's ANALYTICS pairs (see metrics_analytics.h). */
#include "metrics_analytics.h"

#include <stdio.h>
#include <string.h>

/* "warnings-<cause>-<level>", in the order of VdmWarningCause and
 * VdmWarningLevel (the unit test checks them against the names). */
static const char *const warning_keys[VDM_CAUSE_COUNT][VDM_LEVEL_COUNT] = {
  { "warnings-host-warning", "warnings-host-critical" },
  { "warnings-network-warning", "warnings-network-critical" },
  { "warnings-keyframe-warning", "warnings-keyframe-critical" },
  { "warnings-burst-warning", "warnings-burst-critical" },
  { "warnings-device-warning", "warnings-device-critical" },
};

void
vdm_analytics_tally_reset (VdmAnalyticsTally * tally)
{
  memset (tally, 0, sizeof *tally);
  tally->stall_eta_ms = -1;
}

void
vdm_analytics_tally_drop (VdmAnalyticsTally * tally, int rtp_gap, int keyframe, uint64_t count)
{
  if (rtp_gap)
    tally->rtp_gap_packets += count;
  else if (keyframe)
    tally->keyframe_packets_dropped += count;
}

static int
level_index (const char *level)
{
  for (int l = 0; l < VDM_LEVEL_COUNT; l++)
    if (level && strcmp (level, vdm_warning_level_name ((VdmWarningLevel) l)) == 0)
      return l;
  return -1;
}

/* Index of the cause named by causes[0..len), or -1. */
static int
cause_index (const char *name, size_t len)
{
  for (int c = 0; c < VDM_CAUSE_COUNT; c++) {
    const char *known = vdm_warning_cause_name ((VdmWarningCause) c);
    if (strlen (known) == len && strncmp (name, known, len) == 0)
      return c;
  }
  return -1;
}

void
vdm_analytics_tally_warning (VdmAnalyticsTally * tally, const char *level, const char *causes,
    uint64_t stall_eta_ns)
{
  int l = level_index (level);
  if (l < 0 || !causes)
    return;
  for (const char *p = causes; *p;) {
    size_t len = strcspn (p, ",");
    int c = cause_index (p, len);
    if (c >= 0)
      tally->warnings[c][l]++;
    p += len;
    if (*p == ',')
      p++;
  }
  tally->stall_eta_ms = stall_eta_ns == UINT64_MAX ? -1 : (double) stall_eta_ns / 1e6;
}

void
vdm_analytics_tally_clear (VdmAnalyticsTally * tally)
{
  tally->stall_eta_ms = -1;
}

static double
detector_state_value (const char *state)
{
  if (state && strcmp (state, "critical") == 0)
    return VDM_DETECTOR_CRITICAL;
  if (state && strcmp (state, "warning") == 0)
    return VDM_DETECTOR_WARNING;
  return VDM_DETECTOR_NORMAL;
}

size_t
vdm_analytics_pairs (const VdmAnalyticsTally * tally, const VdmAnalyticsStats * stats,
    const char *keys[], double values[])
{
  size_t n = 0;
#define PAIR(k, v) (keys[n] = (k), values[n] = (v), n++)
  PAIR ("keyframe-packets-dropped", (double) tally->keyframe_packets_dropped);
  PAIR ("rtp-gap-packets", (double) tally->rtp_gap_packets);
  PAIR ("events-lost", (double) stats->events_lost);
  PAIR ("detector-state", detector_state_value (stats->detector_state));
  PAIR ("queue-fill-peak", stats->queue_fill_peak >= 0 ? stats->queue_fill_peak : -1);
  PAIR ("jitter", stats->jitter_ms);
  PAIR ("loss-fraction", stats->loss_fraction);
  /* stall-eta only while an episode is open: a cleared stream has none */
  int open = detector_state_value (stats->detector_state) != VDM_DETECTOR_NORMAL;
  PAIR ("stall-eta", open ? tally->stall_eta_ms : -1);
  for (int c = 0; c < VDM_CAUSE_COUNT; c++)
    for (int l = 0; l < VDM_LEVEL_COUNT; l++)
      if (tally->warnings[c][l] > 0)
        PAIR (warning_keys[c][l], (double) tally->warnings[c][l]);
#undef PAIR
  return n;
}
