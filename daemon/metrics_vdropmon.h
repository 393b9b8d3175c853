/* metrics_vdropmon.h — the series vdropmond exports (docs/fleet.md).
 *
 * Pure, like metrics.h: the daemon hands in what it knows (per-watch kernel
 * counters, the analytics each element sends every `interval`, host-wide
 * drop counters, its own state) with the time, and renders on scrape.
 *
 * Every name starts with `vdropmon_`. Per-stream series carry the labels
 * command, pid, pipeline, element (one vdropmon element of one client
 * process), plus flow and reason on the kernel drop counter. No label is
 * unbounded: reason, cause and level come from fixed sets, flow is one of
 * the stream's watched sockets.
 */
#ifndef VDM_METRICS_VDROPMON_H
#define VDM_METRICS_VDROPMON_H

#include "metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Warning causes and levels as in docs/messages.md (`vdropmon-warning`). */
typedef enum {
  VDM_CAUSE_HOST,
  VDM_CAUSE_NETWORK,
  VDM_CAUSE_KEYFRAME,
  VDM_CAUSE_BURST,
  VDM_CAUSE_DEVICE,
  VDM_CAUSE_COUNT
} VdmWarningCause;

typedef enum {
  VDM_LEVEL_WARNING,
  VDM_LEVEL_CRITICAL,
  VDM_LEVEL_COUNT
} VdmWarningLevel;

/* vdropmon_stream_detector_state values. */
typedef enum {
  VDM_DETECTOR_NORMAL = 0,
  VDM_DETECTOR_WARNING = 1,
  VDM_DETECTOR_CRITICAL = 2,
} VdmDetectorState;

const char *vdm_warning_cause_name (VdmWarningCause cause);
const char *vdm_warning_level_name (VdmWarningLevel level);

/* Who a stream is: one vdropmon element in one client process. */
typedef struct {
  const char *command;  /* the client's /proc/PID/comm */
  uint32_t pid;
  const char *pipeline; /* the element's top-level pipeline name */
  const char *element;  /* the element's name */
} VdmStreamLabels;

/* What an element reports every `interval` (cumulative since it started). */
typedef struct {
  uint64_t keyframe_packets_dropped; /* dropped packets with keyframe=true */
  uint64_t rtp_gap_packets;          /* loss before this host (rtp-gap) */
  uint64_t events_lost;              /* ring events lost for its watches */
  uint64_t warnings[VDM_CAUSE_COUNT][VDM_LEVEL_COUNT];
  VdmDetectorState detector_state;
  double queue_fill_peak;   /* 0..1 over the interval; < 0: unknown */
  double jitter_seconds;
  double loss_ratio;        /* 0..1 */
  double stall_eta_seconds; /* < 0: no warning open or no buffer known */
} VdmStreamAnalytics;

/* The ANALYTICS message (docs/daemon.md) carries key/value pairs; the keys
 * are listed in docs/fleet.md ("What the element sends"): the
 * vdropmon-stats names where one exists, in its units (jitter and stall-eta
 * in ms). Fills `out` (starting from "unknown": queue fill and stall-eta
 * -1, everything else 0) and returns how many keys it did not know, which
 * are ignored: a newer element may send more. A value out of its range
 * (negative counts, a state other than 0..2, NaN) is ignored the same way
 * and counted. */
size_t vdm_fleet_analytics_parse (const char *const *keys, const double *values,
    size_t n, VdmStreamAnalytics * out);

/* The daemon's own state. */
typedef struct {
  uint32_t clients;
  uint32_t watches;
  uint64_t ring_events_lost; /* BPF ring reserve failures, all watches */
} VdmDaemonState;

typedef struct {
  VdmMetrics *registry;
  VdmMetricFamily *stream_kernel_drops;
  VdmMetricFamily *stream_keyframe_drops;
  VdmMetricFamily *stream_rtp_gaps;
  VdmMetricFamily *stream_warnings;
  VdmMetricFamily *stream_events_lost;
  VdmMetricFamily *stream_detector_state;
  VdmMetricFamily *stream_queue_fill_peak;
  VdmMetricFamily *stream_jitter;
  VdmMetricFamily *stream_loss;
  VdmMetricFamily *stream_stall_eta;
  VdmMetricFamily *host_kernel_drops;
  VdmMetricFamily *daemon_clients;
  VdmMetricFamily *daemon_watches;
  VdmMetricFamily *daemon_ring_events_lost;
  VdmMetricFamily *bpf_stats_enabled;
  VdmMetricFamily *bpf_run_seconds;
  VdmMetricFamily *bpf_runs;
  VdmMetricFamily *build_info;
  VdmMetricFamily *metrics_series;
  VdmMetricFamily *metrics_refused;
  char version[64];
} VdmFleetMetrics;

/* Defines every family. stale_after_ns: how long a stream's series stay
 * after its last report (VDM_METRICS_DEFAULT_STALE_AFTER_NS). */
VdmFleetMetrics *vdm_fleet_metrics_new (uint64_t stale_after_ns, size_t max_series,
    const char *version);
void vdm_fleet_metrics_free (VdmFleetMetrics * fleet);

/* The kernel's total for one watched socket (flow, as "udp 127.0.0.1:5004")
 * and one reason name. */
void vdm_fleet_stream_kernel_drops (VdmFleetMetrics * fleet,
    const VdmStreamLabels * stream, const char *flow, const char *reason,
    uint64_t total, uint64_t now_ns);

/* One analytics report of an element. Warning counters appear when first
 * non-zero (8 mostly empty series per stream would triple the series count);
 * stall-eta only while it is known. */
void vdm_fleet_stream_analytics (VdmFleetMetrics * fleet,
    const VdmStreamLabels * stream, const VdmStreamAnalytics * analytics,
    uint64_t now_ns);

/* Host-wide total of one reason, every socket, watched or not. */
void vdm_fleet_host_kernel_drops (VdmFleetMetrics * fleet, const char *reason,
    uint64_t total, uint64_t now_ns);

void vdm_fleet_daemon_state (VdmFleetMetrics * fleet,
    const VdmDaemonState * state, uint64_t now_ns);

/* From bpf_prog_info: run_time_ns and run_cnt count only while the sysctl
 * kernel.bpf_stats_enabled is 1; `enabled` says whether it is. */
void vdm_fleet_bpf_program (VdmFleetMetrics * fleet, const char *program,
    int enabled, uint64_t run_time_ns, uint64_t run_count, uint64_t now_ns);

/* Refreshes the always-present series (build info, registry size) and
 * renders. Call on every scrape. */
int vdm_fleet_metrics_render (VdmFleetMetrics * fleet, uint64_t now_ns,
    VdmMetricsText * text);

#ifdef __cplusplus
}
#endif
#endif /* VDM_METRICS_VDROPMON_H */
