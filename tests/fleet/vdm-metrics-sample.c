/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vdm-metrics-sample — the vdropmond registry filled with synthetic streams.
 *
 *   vdm-metrics-sample --names              every metric name it exports
 *   vdm-metrics-sample --streams N          one scrape's text, N streams
 *   vdm-metrics-sample --streams N --bench R  render R times: size, series,
 *                                            time per scrape (stdout)
 *   --worst   every stream with 2 flows x 3 reasons and all 10 warning
 *             cells (the upper bound), instead of the typical stream
 *             (1 flow, 1 reason, 2 warning cells)
 *   vdm-metrics-sample --streams N --serve ADDR --seconds T [--port-file F]
 *             [--surge-at S --surge-for D --surge-rate R]
 *             serves /metrics for T seconds (metrics_http.c); stream 0's
 *             kernel drops grow by R/s from S to S+D (a synthetic surge:
 *             detector critical, a keyframe lost), then stay. For testing
 *             the rule file and dashboard against a real Prometheus; the
 *             numbers are synthetic, the exporter and Prometheus are real.
 *
 * Used by tests/fleet (promtool check metrics, dashboard names) and for
 * the cardinality and scrape-time figures of docs/fleet.md. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics_http.h"
#include "metrics_vdropmon.h"

#define S 1000000000ull
#define CLIENTS 10

static uint64_t
mono_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * S + (uint64_t) ts.tv_nsec;
}

static void
fill_stream (VdmFleetMetrics * fleet, int i, int worst, uint64_t now)
{
  static const char *const reasons[] = { "SOCKET_RCVBUFF", "QDISC_DROP", "NETFILTER_DROP" };
  char pipeline[32], flow[48];
  snprintf (pipeline, sizeof pipeline, "cam%04d", i);
  VdmStreamLabels stream = { "cam-recorder", (uint32_t) (100000 + i % CLIENTS), pipeline,
    "vdropmon0" };
  VdmStreamAnalytics a = {
    .keyframe_packets_dropped = (uint64_t) i, .rtp_gap_packets = 3, .events_lost = 0,
    .detector_state = (VdmDetectorState) (i % 3), .queue_fill_peak = 0.42,
    .jitter_seconds = 0.0031, .loss_ratio = 0.0012, .stall_eta_seconds = 0.2,
  };
  a.warnings[VDM_CAUSE_KEYFRAME][VDM_LEVEL_CRITICAL] = 2;
  a.warnings[VDM_CAUSE_HOST][VDM_LEVEL_WARNING] = 5;
  if (worst)
    for (int c = 0; c < VDM_CAUSE_COUNT; c++)
      for (int l = 0; l < VDM_LEVEL_COUNT; l++)
        a.warnings[c][l] = 1 + (uint64_t) c;
  vdm_fleet_stream_analytics (fleet, &stream, &a, now);
  int flows = worst ? 2 : 1, n_reasons = worst ? 3 : 1;
  for (int f = 0; f < flows; f++) {
    snprintf (flow, sizeof flow, "udp 0.0.0.0:%d", 20000 + 2 * i + f);
    for (int r = 0; r < n_reasons; r++)
      vdm_fleet_stream_kernel_drops (fleet, &stream, flow, reasons[r], 1000 + (uint64_t) i, now);
  }
}

static void
fill (VdmFleetMetrics * fleet, int streams, int worst, uint64_t now)
{
  static const char *const host_reasons[] = {
    "SOCKET_RCVBUFF", "QDISC_DROP", "NETFILTER_DROP", "NO_SOCKET", "TCP_CSUM",
    "UDP_CSUM", "PROTO_MEM", "SOCKET_BACKLOG", "OTHERHOST", "NOT_SPECIFIED",
  };
  for (int i = 0; i < streams; i++)
    fill_stream (fleet, i, worst, now);
  for (size_t r = 0; r < sizeof host_reasons / sizeof host_reasons[0]; r++)
    vdm_fleet_host_kernel_drops (fleet, host_reasons[r], 12345, now);
  VdmDaemonState d = { .clients = CLIENTS, .watches = (uint32_t) streams, .ring_events_lost = 0 };
  vdm_fleet_daemon_state (fleet, &d, now);
  vdm_fleet_bpf_program (fleet, "kfree_skb_rx_sk", 1, 123456789, 4242, now);
  vdm_fleet_bpf_program (fleet, "sk_data_ready", 1, 987654321, 8484, now);
}

static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return x < y ? -1 : x > y;
}

static int
bench (VdmFleetMetrics * fleet, int streams, int worst, int rounds)
{
  uint64_t *times = calloc ((size_t) rounds, sizeof *times);
  size_t bytes = 0;
  /* each round is one interval: every stream reports, then a scrape */
  uint64_t update_total = 0;
  for (int r = 0; r < rounds; r++) {
    uint64_t t0 = mono_ns ();
    fill (fleet, streams, worst, (uint64_t) (r + 1) * S);
    uint64_t t1 = mono_ns ();
    VdmMetricsText text;
    vdm_metrics_text_init (&text);
    if (vdm_fleet_metrics_render (fleet, (uint64_t) (r + 1) * S, &text) < 0)
      return 1;
    times[r] = mono_ns () - t1;
    update_total += t1 - t0;
    bytes = text.len;
    vdm_metrics_text_clear (&text);
  }
  qsort (times, (size_t) rounds, sizeof *times, cmp_u64);
  printf ("streams %d (%s)\nseries %zu\nbytes %zu\n"
      "render_ms_p50 %.3f\nrender_ms_max %.3f\nupdate_all_streams_ms_mean %.3f\n",
      streams, worst ? "worst" : "typical", vdm_metrics_series_count (fleet->registry), bytes,
      times[rounds / 2] / 1e6, times[rounds - 1] / 1e6, update_total / 1e6 / rounds);
  free (times);
  return 0;
}

typedef struct {
  pthread_mutex_t lock;
  VdmFleetMetrics *fleet;
} Served;

static int
render_served (VdmMetricsText * text, void *user_data)
{
  Served *served = user_data;
  pthread_mutex_lock (&served->lock);
  int rc = vdm_fleet_metrics_render (served->fleet, mono_ns (), text);
  pthread_mutex_unlock (&served->lock);
  return rc;
}

typedef struct {
  double at, duration, rate;
} Surge;

/* Stream 0 during and after the surge, as the daemon would report it. */
static void
surge_stream (VdmFleetMetrics * fleet, const Surge * surge, double elapsed, uint64_t now)
{
  double in_surge = elapsed - surge->at;
  if (in_surge < 0)
    in_surge = 0;
  if (in_surge > surge->duration)
    in_surge = surge->duration;
  int active = elapsed >= surge->at && elapsed < surge->at + surge->duration;
  VdmStreamLabels stream = { "cam-recorder", 99999, "surge0", "vdropmon0" };
  VdmStreamAnalytics a = {
    .keyframe_packets_dropped = in_surge > 0 ? 4 : 0,
    .detector_state = active ? VDM_DETECTOR_CRITICAL : VDM_DETECTOR_NORMAL,
    .queue_fill_peak = active ? 1.0 : 0.1, .jitter_seconds = 0.003,
    .loss_ratio = 0, .stall_eta_seconds = active ? 0.2 : -1,
  };
  if (in_surge > 0)
    a.warnings[VDM_CAUSE_HOST][VDM_LEVEL_CRITICAL] = 1;
  vdm_fleet_stream_analytics (fleet, &stream, &a, now);
  vdm_fleet_stream_kernel_drops (fleet, &stream, "udp 0.0.0.0:19999", "SOCKET_RCVBUFF",
      (uint64_t) (in_surge * surge->rate), now);
}

static int
serve (int streams, const char *listen, double seconds, const char *port_file,
    const Surge * surge)
{
  Served served = { .fleet = vdm_fleet_metrics_new (VDM_METRICS_DEFAULT_STALE_AFTER_NS,
        VDM_METRICS_DEFAULT_MAX_SERIES, "sample") };
  pthread_mutex_init (&served.lock, NULL);
  char error[256];
  VdmMetricsHttp *http = vdm_metrics_http_start (listen, render_served, &served, error,
      sizeof error);
  if (!http) {
    fprintf (stderr, "vdm-metrics-sample: %s\n", error);
    return 1;
  }
  if (port_file) {
    FILE *f = fopen (port_file, "w");
    if (!f)
      return 1;
    fprintf (f, "%u\n", vdm_metrics_http_port (http));
    fclose (f);
  }
  uint64_t start = mono_ns ();
  for (;;) {
    uint64_t now = mono_ns ();
    double elapsed = (double) (now - start) / 1e9;
    if (elapsed >= seconds)
      break;
    pthread_mutex_lock (&served.lock);
    fill (served.fleet, streams, 0, now);
    if (surge->rate > 0)
      surge_stream (served.fleet, surge, elapsed, now);
    pthread_mutex_unlock (&served.lock);
    struct timespec tick = { .tv_nsec = 100000000 };
    nanosleep (&tick, NULL);
  }
  printf ("scrapes %llu\n", (unsigned long long) vdm_metrics_http_scrapes (http));
  vdm_metrics_http_stop (http);
  vdm_fleet_metrics_free (served.fleet);
  return 0;
}

int
main (int argc, char **argv)
{
  int streams = 3, rounds = 0, names = 0, worst = 0;
  const char *listen = NULL, *port_file = NULL;
  double seconds = 10;
  Surge surge = { 0 };
  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--names") == 0)
      names = 1;
    else if (strcmp (argv[i], "--worst") == 0)
      worst = 1;
    else if (strcmp (argv[i], "--streams") == 0 && i + 1 < argc)
      streams = atoi (argv[++i]);
    else if (strcmp (argv[i], "--bench") == 0 && i + 1 < argc)
      rounds = atoi (argv[++i]);
    else if (strcmp (argv[i], "--serve") == 0 && i + 1 < argc)
      listen = argv[++i];
    else if (strcmp (argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = atof (argv[++i]);
    else if (strcmp (argv[i], "--port-file") == 0 && i + 1 < argc)
      port_file = argv[++i];
    else if (strcmp (argv[i], "--surge-at") == 0 && i + 1 < argc)
      surge.at = atof (argv[++i]);
    else if (strcmp (argv[i], "--surge-for") == 0 && i + 1 < argc)
      surge.duration = atof (argv[++i]);
    else if (strcmp (argv[i], "--surge-rate") == 0 && i + 1 < argc)
      surge.rate = atof (argv[++i]);
    else {
      fprintf (stderr, "usage: %s [--names] [--streams N] [--bench ROUNDS] [--worst] "
          "[--serve ADDR --seconds T [--port-file F] [--surge-at S --surge-for D "
          "--surge-rate R]]\n", argv[0]);
      return 2;
    }
  }
  if (listen)
    return serve (streams, listen, seconds, port_file, &surge);
  VdmFleetMetrics *fleet = vdm_fleet_metrics_new (VDM_METRICS_DEFAULT_STALE_AFTER_NS,
      VDM_METRICS_DEFAULT_MAX_SERIES, "sample");
  if (!fleet)
    return 1;
  int rc = 0;
  if (names) {
    for (size_t i = 0; i < vdm_metrics_family_count (fleet->registry); i++)
      printf ("%s\n", vdm_metric_family_name (vdm_metrics_family_at (fleet->registry, i)));
  } else if (rounds > 0) {
    rc = bench (fleet, streams, worst, rounds);
  } else {
    VdmMetricsText text;
    vdm_metrics_text_init (&text);
    fill (fleet, streams, worst, S);
    rc = vdm_fleet_metrics_render (fleet, S, &text) < 0;
    fwrite (text.data, 1, text.len, stdout);
    vdm_metrics_text_clear (&text);
  }
  vdm_fleet_metrics_free (fleet);
  return rc;
}
