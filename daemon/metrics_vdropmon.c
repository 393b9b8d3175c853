/* metrics_vdropmon.c — the series vdropmond exports (see metrics_vdropmon.h
 * and docs/fleet.md, which lists them; keep the two in step). */
#include "metrics_vdropmon.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1e9

static const char *const cause_names[VDM_CAUSE_COUNT] = {
  "host", "network", "keyframe", "burst", "device",
};

static const char *const level_names[VDM_LEVEL_COUNT] = { "warning", "critical" };

const char *
vdm_warning_cause_name (VdmWarningCause cause)
{
  return (unsigned) cause < VDM_CAUSE_COUNT ? cause_names[cause] : "unknown";
}

const char *
vdm_warning_level_name (VdmWarningLevel level)
{
  return (unsigned) level < VDM_LEVEL_COUNT ? level_names[level] : "unknown";
}

/* ---- the element's analytics ----------------------------------------- */

static int
parse_count (double value, uint64_t *out)
{
  if (!(value >= 0 && value < 1.8e19)) /* also false for NaN */
    return 0;
  *out = (uint64_t) value;
  return 1;
}

static int
parse_warning_key (const char *key, double value, VdmStreamAnalytics * out)
{
  static const char prefix[] = "warnings-";
  if (strncmp (key, prefix, sizeof prefix - 1) != 0)
    return 0;
  for (int c = 0; c < VDM_CAUSE_COUNT; c++) {
    for (int l = 0; l < VDM_LEVEL_COUNT; l++) {
      char name[48];
      snprintf (name, sizeof name, "%s%s-%s", prefix, cause_names[c], level_names[l]);
      if (strcmp (key, name) == 0)
        return parse_count (value, &out->warnings[c][l]);
    }
  }
  return 0;
}

static int
parse_one (const char *key, double v, VdmStreamAnalytics * out)
{
  if (strcmp (key, "keyframe-packets-dropped") == 0)
    return parse_count (v, &out->keyframe_packets_dropped);
  if (strcmp (key, "rtp-gap-packets") == 0)
    return parse_count (v, &out->rtp_gap_packets);
  if (strcmp (key, "events-lost") == 0)
    return parse_count (v, &out->events_lost);
  if (strcmp (key, "detector-state") == 0 && (v == 0 || v == 1 || v == 2))
    return (out->detector_state = (VdmDetectorState) v), 1;
  if (strcmp (key, "queue-fill-peak") == 0 && v >= -1 && v < 100)
    return (out->queue_fill_peak = v), 1;
  if (strcmp (key, "jitter") == 0 && v >= 0 && v < 1e9)
    return (out->jitter_seconds = v / 1000), 1;
  if (strcmp (key, "loss-fraction") == 0 && v >= 0 && v <= 1)
    return (out->loss_ratio = v), 1;
  if (strcmp (key, "stall-eta") == 0 && v >= -1 && v < 1e12)
    return (out->stall_eta_seconds = v < 0 ? -1 : v / 1000), 1;
  return parse_warning_key (key, v, out);
}

size_t
vdm_fleet_analytics_parse (const char *const *keys, const double *values, size_t n,
    VdmStreamAnalytics * out)
{
  memset (out, 0, sizeof *out);
  out->queue_fill_peak = -1;
  out->stall_eta_seconds = -1;
  size_t ignored = 0;
  for (size_t i = 0; i < n; i++)
    if (!keys[i] || !parse_one (keys[i], values[i], out))
      ignored++;
  return ignored;
}

/* ---- families -------------------------------------------------------- */

#define STREAM_LABELS "command", "pid", "pipeline", "element"

static const char *const stream_labels[] = { STREAM_LABELS, NULL };
static const char *const stream_flow_reason_labels[] = { STREAM_LABELS, "flow", "reason", NULL };
static const char *const stream_cause_level_labels[] = { STREAM_LABELS, "cause", "level", NULL };
static const char *const reason_labels[] = { "reason", NULL };
static const char *const program_labels[] = { "program", NULL };
static const char *const version_labels[] = { "version", NULL };

typedef struct {
  VdmMetricFamily **slot;
  const char *name;
  VdmMetricType type;
  const char *help;
  const char *const *labels;
} FamilySpec;

static int
define_all (VdmFleetMetrics * f)
{
  const FamilySpec specs[] = {
    { &f->stream_kernel_drops, "vdropmon_stream_kernel_drops_total", VDM_METRIC_COUNTER,
      "Packets of this stream's watched socket the kernel dropped, by drop reason (exact per-CPU counters).",
      stream_flow_reason_labels },
    { &f->stream_keyframe_drops, "vdropmon_stream_keyframe_packets_dropped_total", VDM_METRIC_COUNTER,
      "Dropped packets that carried (part of) a keyframe, SPS or PPS: a freeze until the next keyframe.",
      stream_labels },
    { &f->stream_rtp_gaps, "vdropmon_stream_rtp_gap_packets_total", VDM_METRIC_COUNTER,
      "RTP sequence numbers missing at arrival that the kernel did not drop here: loss before this host.",
      stream_labels },
    { &f->stream_warnings, "vdropmon_stream_warnings_total", VDM_METRIC_COUNTER,
      "vdropmon-warning messages, counted once per cause they name, by level.",
      stream_cause_level_labels },
    { &f->stream_events_lost, "vdropmon_stream_events_lost_total", VDM_METRIC_COUNTER,
      "Drop events of this stream lost to a full ring buffer (counted in the drop counters, without details).",
      stream_labels },
    { &f->stream_detector_state, "vdropmon_stream_detector_state", VDM_METRIC_GAUGE,
      "Surge detector level of the current episode: 0 normal, 1 warning, 2 critical.",
      stream_labels },
    { &f->stream_queue_fill_peak, "vdropmon_stream_queue_fill_peak_ratio", VDM_METRIC_GAUGE,
      "Highest receive queue fill (rmem_alloc/rcvbuf) of the stream's sockets over the last interval.",
      stream_labels },
    { &f->stream_jitter, "vdropmon_stream_jitter_seconds", VDM_METRIC_GAUGE,
      "RFC 3550 interarrival jitter of the stream's current SSRC.",
      stream_labels },
    { &f->stream_loss, "vdropmon_stream_loss_ratio", VDM_METRIC_GAUGE,
      "Packets lost by RTP sequence numbers over packets expected, since the element started.",
      stream_labels },
    { &f->stream_stall_eta, "vdropmon_stream_stall_eta_seconds", VDM_METRIC_GAUGE,
      "Seconds until the damage of the open warning reaches the sink (present only during a warning).",
      stream_labels },
    { &f->host_kernel_drops, "vdropmon_host_kernel_drops_total", VDM_METRIC_COUNTER,
      "Packets the kernel of this host dropped, every socket and none, by drop reason.",
      reason_labels },
    { &f->daemon_clients, "vdropmon_daemon_clients", VDM_METRIC_GAUGE,
      "Client processes connected to vdropmond.", NULL },
    { &f->daemon_watches, "vdropmon_daemon_watches", VDM_METRIC_GAUGE,
      "Sockets watched for all clients.", NULL },
    { &f->daemon_ring_events_lost, "vdropmon_daemon_ring_events_lost_total", VDM_METRIC_COUNTER,
      "Drop events lost to a full BPF ring buffer, all watches.", NULL },
    { &f->bpf_stats_enabled, "vdropmon_bpf_stats_enabled", VDM_METRIC_GAUGE,
      "1 when the sysctl kernel.bpf_stats_enabled is on, so the BPF run time and count below grow.",
      NULL },
    { &f->bpf_run_seconds, "vdropmon_bpf_prog_run_seconds_total", VDM_METRIC_COUNTER,
      "Time the kernel spent in this BPF program (bpf_prog_info run_time_ns).", program_labels },
    { &f->bpf_runs, "vdropmon_bpf_prog_runs_total", VDM_METRIC_COUNTER,
      "Runs of this BPF program (bpf_prog_info run_cnt).", program_labels },
    { &f->build_info, "vdropmon_build_info", VDM_METRIC_GAUGE,
      "Always 1; the version of vdropmond in the label.", version_labels },
    { &f->metrics_series, "vdropmon_metrics_series", VDM_METRIC_GAUGE,
      "Series in this scrape.", NULL },
    { &f->metrics_refused, "vdropmon_metrics_series_refused_total", VDM_METRIC_COUNTER,
      "Series not created because the registry was at its limit.", NULL },
  };
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
    *specs[i].slot = vdm_metrics_define (f->registry, specs[i].name, specs[i].type,
        specs[i].help, specs[i].labels);
    if (!*specs[i].slot)
      return -1;
  }
  return 0;
}

VdmFleetMetrics *
vdm_fleet_metrics_new (uint64_t stale_after_ns, size_t max_series, const char *version)
{
  VdmFleetMetrics *fleet = calloc (1, sizeof *fleet);
  if (!fleet)
    return NULL;
  fleet->registry = vdm_metrics_new (stale_after_ns, max_series);
  if (!fleet->registry || define_all (fleet) < 0) {
    vdm_fleet_metrics_free (fleet);
    return NULL;
  }
  snprintf (fleet->version, sizeof fleet->version, "%s", version ? version : "unknown");
  return fleet;
}

void
vdm_fleet_metrics_free (VdmFleetMetrics * fleet)
{
  if (!fleet)
    return;
  vdm_metrics_free (fleet->registry);
  free (fleet);
}

/* The four stream label values; pid as text lives in `pid_buf`. */
static void
stream_values (const VdmStreamLabels * stream, char pid_buf[12], const char *out[4])
{
  snprintf (pid_buf, 12, "%" PRIu32, stream->pid);
  out[0] = stream->command;
  out[1] = pid_buf;
  out[2] = stream->pipeline;
  out[3] = stream->element;
}

void
vdm_fleet_stream_kernel_drops (VdmFleetMetrics * fleet, const VdmStreamLabels * stream,
    const char *flow, const char *reason, uint64_t total, uint64_t now_ns)
{
  char pid[12];
  const char *v[6];
  stream_values (stream, pid, v);
  v[4] = flow;
  v[5] = reason;
  vdm_metrics_set (fleet->stream_kernel_drops, v, (double) total, now_ns);
}

static void
set_warnings (VdmFleetMetrics * fleet, const char *v[6], const VdmStreamAnalytics * a,
    uint64_t now_ns)
{
  for (int c = 0; c < VDM_CAUSE_COUNT; c++) {
    for (int l = 0; l < VDM_LEVEL_COUNT; l++) {
      double known;
      v[4] = cause_names[c];
      v[5] = level_names[l];
      /* a series, once there, stays while the stream reports */
      if (a->warnings[c][l] > 0 || vdm_metrics_get (fleet->stream_warnings, v, &known) == 0)
        vdm_metrics_set (fleet->stream_warnings, v, (double) a->warnings[c][l], now_ns);
    }
  }
}

void
vdm_fleet_stream_analytics (VdmFleetMetrics * fleet, const VdmStreamLabels * stream,
    const VdmStreamAnalytics * a, uint64_t now_ns)
{
  char pid[12];
  const char *v[6];
  stream_values (stream, pid, v);
  vdm_metrics_set (fleet->stream_keyframe_drops, v, (double) a->keyframe_packets_dropped, now_ns);
  vdm_metrics_set (fleet->stream_rtp_gaps, v, (double) a->rtp_gap_packets, now_ns);
  vdm_metrics_set (fleet->stream_events_lost, v, (double) a->events_lost, now_ns);
  vdm_metrics_set (fleet->stream_detector_state, v, (double) a->detector_state, now_ns);
  if (a->queue_fill_peak >= 0)
    vdm_metrics_set (fleet->stream_queue_fill_peak, v, a->queue_fill_peak, now_ns);
  else
    vdm_metrics_remove (fleet->stream_queue_fill_peak, v);
  vdm_metrics_set (fleet->stream_jitter, v, a->jitter_seconds, now_ns);
  vdm_metrics_set (fleet->stream_loss, v, a->loss_ratio, now_ns);
  if (a->stall_eta_seconds >= 0)
    vdm_metrics_set (fleet->stream_stall_eta, v, a->stall_eta_seconds, now_ns);
  else
    vdm_metrics_remove (fleet->stream_stall_eta, v);
  set_warnings (fleet, v, a, now_ns);
}

void
vdm_fleet_host_kernel_drops (VdmFleetMetrics * fleet, const char *reason, uint64_t total,
    uint64_t now_ns)
{
  const char *v[] = { reason };
  vdm_metrics_set (fleet->host_kernel_drops, v, (double) total, now_ns);
}

void
vdm_fleet_daemon_state (VdmFleetMetrics * fleet, const VdmDaemonState * state,
    uint64_t now_ns)
{
  vdm_metrics_set (fleet->daemon_clients, NULL, state->clients, now_ns);
  vdm_metrics_set (fleet->daemon_watches, NULL, state->watches, now_ns);
  vdm_metrics_set (fleet->daemon_ring_events_lost, NULL, (double) state->ring_events_lost,
      now_ns);
}

void
vdm_fleet_bpf_program (VdmFleetMetrics * fleet, const char *program, int enabled,
    uint64_t run_time_ns, uint64_t run_count, uint64_t now_ns)
{
  const char *v[] = { program };
  vdm_metrics_set (fleet->bpf_stats_enabled, NULL, enabled ? 1 : 0, now_ns);
  vdm_metrics_set (fleet->bpf_run_seconds, v, (double) run_time_ns / NS_PER_S, now_ns);
  vdm_metrics_set (fleet->bpf_runs, v, (double) run_count, now_ns);
}

int
vdm_fleet_metrics_render (VdmFleetMetrics * fleet, uint64_t now_ns, VdmMetricsText * text)
{
  VdmMetrics *registry = fleet->registry;
  const char *version[] = { fleet->version };
  vdm_metrics_expire (registry, now_ns);
  /* touched on every scrape, so they never go stale */
  vdm_metrics_set (fleet->build_info, version, 1, now_ns);
  vdm_metrics_set (fleet->metrics_refused, NULL,
      (double) vdm_metrics_series_refused (registry), now_ns);
  vdm_metrics_set (fleet->metrics_series, NULL, 0, now_ns);
  /* counted after the line above, so the count includes this series */
  vdm_metrics_set (fleet->metrics_series, NULL,
      (double) vdm_metrics_series_count (registry), now_ns);
  return vdm_metrics_render (registry, now_ns, text);
}
