/* metrics_analytics.h — the element's side of the ANALYTICS frame
 * (docs/fleet.md, "What the element sends"): tallies what the element
 * posts (drop reports, warnings, clears) and turns them, with its stats,
 * into the key/value pairs the daemon parses (vdm_fleet_analytics_parse).
 *
 * Pure: no GStreamer, no I/O; the element calls it from its worker thread.
 */
#ifndef VDM_METRICS_ANALYTICS_H
#define VDM_METRICS_ANALYTICS_H

#include <stddef.h>
#include <stdint.h>

#include "metrics_vdropmon.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  uint64_t keyframe_packets_dropped;  /* packets of kernel drop reports that hit a keyframe */
  uint64_t rtp_gap_packets;
  uint64_t warnings[VDM_CAUSE_COUNT][VDM_LEVEL_COUNT];
  double stall_eta_ms;                /* of the open episode's last warning; -1 none */
} VdmAnalyticsTally;

/* What the element's stats say now (vdropmon-stats fields). */
typedef struct {
  const char *detector_state;  /* "normal" | "warning" | "critical" */
  double queue_fill_peak;      /* -1 unknown */
  double jitter_ms;
  double loss_fraction;
  uint64_t events_lost;
} VdmAnalyticsStats;

#define VDM_ANALYTICS_MAX_PAIRS (8 + VDM_CAUSE_COUNT * VDM_LEVEL_COUNT)

void vdm_analytics_tally_reset (VdmAnalyticsTally * tally);
/* One vdropmon-drop: rtp_gap for source=rtp-gap, keyframe its flag. */
void vdm_analytics_tally_drop (VdmAnalyticsTally * tally, int rtp_gap, int keyframe,
    uint64_t count);
/* One vdropmon-warning: its level, its comma-separated causes, its
 * stall-eta in ns (UINT64_MAX: unknown). Unknown names are ignored. */
void vdm_analytics_tally_warning (VdmAnalyticsTally * tally, const char *level,
    const char *causes, uint64_t stall_eta_ns);
/* A vdropmon-clear: the episode is over. */
void vdm_analytics_tally_clear (VdmAnalyticsTally * tally);

/* Fills keys/values (VDM_ANALYTICS_MAX_PAIRS each; keys are static
 * strings) and returns how many pairs. Warning cells at 0 are left out. */
size_t vdm_analytics_pairs (const VdmAnalyticsTally * tally, const VdmAnalyticsStats * stats,
    const char *keys[], double values[]);

#ifdef __cplusplus
}
#endif
#endif /* VDM_METRICS_ANALYTICS_H */
