/* metrics_daemon.c — vdropmond's metrics glue (see metrics_daemon.h). */
#define _GNU_SOURCE
#include "metrics_daemon.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "metrics_http.h"
#include "metrics_vdropmon.h"
#include "percpu_read.h"

typedef struct {
  uint32_t watch_id;
  VdmStreamLabels labels;       /* points into the strings below */
  char command[VDM_PROTO_NAME_MAX + 1];
  char element[VDM_PROTO_NAME_MAX + 1];
  char pipeline[VDM_PROTO_NAME_MAX + 1];
  char flow[128];
} watch_entry;

struct vdm_daemon_metrics {
  pthread_mutex_t lock;         /* the table, the registry */
  vdm_source *source;
  VdmFleetMetrics *fleet;
  VdmMetricsHttp *http;
  watch_entry *watches;
  size_t n_watches, cap_watches;
  unsigned n_clients;
  int host_drops_fd;            /* the BPF host_drops map, -1 until found */
  int host_drops_tries;
};

static uint64_t
monotonic_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

/* ---- the table (loop thread, under the lock) -------------------------- */

void
vdm_daemon_metrics_on_clients (void *data, unsigned n_clients)
{
  vdm_daemon_metrics *m = data;
  pthread_mutex_lock (&m->lock);
  m->n_clients = n_clients;
  pthread_mutex_unlock (&m->lock);
}

static void
fix_label_pointers (watch_entry *w, uint32_t pid)
{
  w->labels.command = w->command;
  w->labels.pid = pid;
  w->labels.pipeline = w->pipeline;
  w->labels.element = w->element;
}

static void
add_watch (vdm_daemon_metrics *m, const vdm_peer *peer, uint32_t id, const char *element,
    const char *pipeline, const char *flow)
{
  if (m->n_watches == m->cap_watches) {
    size_t cap = m->cap_watches ? m->cap_watches * 2 : 64;
    watch_entry *grown = realloc (m->watches, cap * sizeof *grown);
    if (!grown)
      return;                   /* that watch is not exported; the daemon goes on */
    m->watches = grown;
    m->cap_watches = cap;
    for (size_t i = 0; i < m->n_watches; i++)
      fix_label_pointers (&m->watches[i], m->watches[i].labels.pid);
  }
  watch_entry *w = &m->watches[m->n_watches++];
  memset (w, 0, sizeof *w);
  w->watch_id = id;
  snprintf (w->command, sizeof w->command, "%s", peer->command);
  snprintf (w->element, sizeof w->element, "%s", element ? element : "");
  snprintf (w->pipeline, sizeof w->pipeline, "%s", pipeline ? pipeline : "");
  snprintf (w->flow, sizeof w->flow, "%s", flow ? flow : "");
  fix_label_pointers (w, (uint32_t) peer->pid);
}

static void
remove_watch (vdm_daemon_metrics *m, uint32_t id)
{
  for (size_t i = 0; i < m->n_watches; i++) {
    if (m->watches[i].watch_id != id)
      continue;
    m->watches[i] = m->watches[--m->n_watches];
    fix_label_pointers (&m->watches[i], m->watches[i].labels.pid);
    return;
  }
}

void
vdm_daemon_metrics_on_watch (void *data, const vdm_peer *peer, uint32_t watch_id,
    const char *element, const char *pipeline, const char *flow, bool added)
{
  vdm_daemon_metrics *m = data;
  pthread_mutex_lock (&m->lock);
  if (added)
    add_watch (m, peer, watch_id, element, pipeline, flow);
  else
    remove_watch (m, watch_id);
  /* a removed watch's series are no longer refreshed: they expire */
  pthread_mutex_unlock (&m->lock);
}

/* The pipeline name an element gave with its watches (ANALYTICS has none). */
static const char *
pipeline_of (const vdm_daemon_metrics *m, pid_t pid, const char *element)
{
  for (size_t i = 0; i < m->n_watches; i++)
    if (m->watches[i].labels.pid == (uint32_t) pid && strcmp (m->watches[i].element, element) == 0)
      return m->watches[i].pipeline;
  return "";
}

void
vdm_daemon_metrics_on_analytics (void *data, const vdm_peer *peer,
    const vdm_msg_analytics *analytics)
{
  vdm_daemon_metrics *m = data;
  const char *keys[VDM_PROTO_MAX_ANALYTICS];
  double values[VDM_PROTO_MAX_ANALYTICS];
  size_t n = analytics->n_metrics;
  if (n > VDM_PROTO_MAX_ANALYTICS)
    n = VDM_PROTO_MAX_ANALYTICS;
  for (size_t i = 0; i < n; i++) {
    keys[i] = analytics->metrics[i].key;
    values[i] = analytics->metrics[i].value;
  }
  VdmStreamAnalytics a;
  vdm_fleet_analytics_parse (keys, values, n, &a);
  pthread_mutex_lock (&m->lock);
  VdmStreamLabels labels = { peer->command, (uint32_t) peer->pid,
    pipeline_of (m, peer->pid, analytics->element), analytics->element };
  vdm_fleet_stream_analytics (m->fleet, &labels, &a, monotonic_ns ());
  pthread_mutex_unlock (&m->lock);
}

/* ---- the scrape (HTTP thread) ----------------------------------------- */

/* A copy of the watch table, taken under the lock, read without it. */
static size_t
copy_watches (vdm_daemon_metrics *m, watch_entry **out)
{
  pthread_mutex_lock (&m->lock);
  size_t n = m->n_watches;
  *out = n ? malloc (n * sizeof **out) : NULL;
  if (*out)
    memcpy (*out, m->watches, n * sizeof **out);
  else
    n = 0;
  pthread_mutex_unlock (&m->lock);
  for (size_t i = 0; i < n; i++)
    fix_label_pointers (&(*out)[i], (*out)[i].labels.pid);
  return n;
}

/* Whether the table (under the lock) still has this watch for this client
 * and socket, so that a re-used watch id is not read for the old stream. */
static bool
still_watched (const vdm_daemon_metrics *m, const watch_entry *w)
{
  for (size_t i = 0; i < m->n_watches; i++) {
    const watch_entry *now = &m->watches[i];
    if (now->watch_id == w->watch_id && now->labels.pid == w->labels.pid
        && strcmp (now->flow, w->flow) == 0)
      return true;
  }
  return false;
}

/* Kernel counters of every watch; returns the ring events lost, summed.
 * The counter reads (two bpf() calls a watch: the 256 reason slots in one
 * batched lookup, and the lost events) run without the lock, so the daemon's loop, whose hooks take it, is never
 * held up by a scrape; only the registry writes take it. */
static uint64_t
refresh_watches (vdm_daemon_metrics *m)
{
  watch_entry *watches;
  size_t n = copy_watches (m, &watches);
  uint64_t ring_lost = 0;
  vdm_counters counters;
  for (size_t i = 0; i < n; i++) {
    const watch_entry *w = &watches[i];
    if (vdm_source_counters (m->source, w->watch_id, &counters) < 0)
      continue;
    pthread_mutex_lock (&m->lock);
    if (!still_watched (m, w)) {
      /* ended (its id may already serve another socket): these counters
       * are not this stream's */
      pthread_mutex_unlock (&m->lock);
      continue;
    }
    ring_lost += counters.ringbuf_lost;
    uint64_t now = monotonic_ns ();
    for (unsigned slot = 0; slot < VDM_REASON_SLOTS; slot++)
      if (counters.per_reason[slot] > 0)
        vdm_fleet_stream_kernel_drops (m->fleet, &w->labels, w->flow,
            vdm_source_reason_name (m->source, slot), counters.per_reason[slot], now);
    pthread_mutex_unlock (&m->lock);
  }
  free (watches);
  return ring_lost;
}

static int
bpf_stats_enabled (void)
{
  FILE *f = fopen ("/proc/sys/kernel/bpf_stats_enabled", "r");
  int enabled = 0;
  if (f) {
    if (fscanf (f, "%d", &enabled) != 1)
      enabled = 0;
    fclose (f);
  }
  return enabled;
}

/* run_time_ns/run_cnt of the BPF programs this process holds (its own fds,
 * so other processes' copies are not counted). */
static void
refresh_bpf_programs (vdm_daemon_metrics *m, uint64_t now)
{
  DIR *dir = opendir ("/proc/self/fd");
  if (!dir)
    return;
  int enabled = bpf_stats_enabled ();
  struct dirent *entry;
  while ((entry = readdir (dir))) {
    char path[300], target[64];
    snprintf (path, sizeof path, "/proc/self/fd/%s", entry->d_name);
    ssize_t len = readlink (path, target, sizeof target - 1);
    if (len <= 0)
      continue;
    target[len] = '\0';
    if (strcmp (target, "anon_inode:bpf-prog") != 0)
      continue;
    struct bpf_prog_info info = { 0 };
    __u32 info_len = sizeof info;
    if (bpf_obj_get_info_by_fd (atoi (entry->d_name), &info, &info_len) == 0 && info.name[0])
      vdm_fleet_bpf_program (m->fleet, info.name, enabled, info.run_time_ns, info.run_cnt, now);
  }
  closedir (dir);
}

/* The BPF program's host_drops map (every drop of the host, per reason
 * slot), found among this process's own fds by its name, so that no
 * interface of the event source had to grow for it. -1 if not found. */
static int
find_host_drops_map (void)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *entry;
  int found = -1;
  if (!dir)
    return -1;
  while (found < 0 && (entry = readdir (dir))) {
    char path[300], target[64];
    snprintf (path, sizeof path, "/proc/self/fd/%s", entry->d_name);
    ssize_t len = readlink (path, target, sizeof target - 1);
    if (len <= 0)
      continue;
    target[len] = '\0';
    struct bpf_map_info info = { 0 };
    __u32 info_len = sizeof info;
    int fd = atoi (entry->d_name);
    if (strcmp (target, "anon_inode:bpf-map") == 0
        && bpf_obj_get_info_by_fd (fd, &info, &info_len) == 0
        && strcmp (info.name, "host_drops") == 0 && info.value_size == sizeof (uint64_t))
      found = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  }
  closedir (dir);
  return found;
}

/* Host-wide drops by reason: per-CPU sums of each non-zero slot, read in
 * one batched lookup (percpu_read.h). */
static void
refresh_host_drops (vdm_daemon_metrics *m, uint64_t now)
{
  if (m->host_drops_fd < 0 && m->host_drops_tries < 3) {
    m->host_drops_tries++;  /* an older BPF object has no such map: stop looking */
    m->host_drops_fd = find_host_drops_map ();
  }
  int n_cpus = libbpf_num_possible_cpus ();
  if (m->host_drops_fd < 0 || n_cpus <= 0)
    return;
  uint64_t totals[VDM_REASON_SLOTS];
  if (vdm_percpu_sum_range (m->host_drops_fd, 0, VDM_REASON_SLOTS, n_cpus, totals) < 0)
    return;
  for (uint32_t slot = 0; slot < VDM_REASON_SLOTS; slot++)
    if (totals[slot] > 0)
      vdm_fleet_host_kernel_drops (m->fleet, vdm_source_reason_name (m->source, slot),
          totals[slot], now);
}

static int
render (VdmMetricsText *text, void *user_data)
{
  vdm_daemon_metrics *m = user_data;
  uint64_t ring_lost = refresh_watches (m);
  pthread_mutex_lock (&m->lock);
  uint64_t now = monotonic_ns ();
  VdmDaemonState state = {
    .clients = m->n_clients, .watches = (uint32_t) m->n_watches,
    .ring_events_lost = ring_lost,
  };
  vdm_fleet_daemon_state (m->fleet, &state, now);
  refresh_bpf_programs (m, now);
  refresh_host_drops (m, now);
  int rc = vdm_fleet_metrics_render (m->fleet, now, text);
  pthread_mutex_unlock (&m->lock);
  return rc;
}

vdm_daemon_metrics *
vdm_daemon_metrics_start (const char *listen, vdm_source *source, const char *version,
    uint64_t stale_after_ns, char *error, size_t error_size)
{
  vdm_daemon_metrics *m = calloc (1, sizeof *m);
  if (!m) {
    snprintf (error, error_size, "out of memory");
    return NULL;
  }
  pthread_mutex_init (&m->lock, NULL);
  m->source = source;
  m->host_drops_fd = -1;
  m->fleet = vdm_fleet_metrics_new (stale_after_ns, VDM_METRICS_DEFAULT_MAX_SERIES, version);
  if (m->fleet)
    m->http = vdm_metrics_http_start (listen, render, m, error, error_size);
  else
    snprintf (error, error_size, "out of memory");
  if (!m->http) {
    vdm_daemon_metrics_stop (m);
    return NULL;
  }
  return m;
}

uint16_t
vdm_daemon_metrics_port (const vdm_daemon_metrics *m)
{
  return vdm_metrics_http_port (m->http);
}

void
vdm_daemon_metrics_stop (vdm_daemon_metrics *m)
{
  if (!m)
    return;
  vdm_metrics_http_stop (m->http);  /* no scrape runs after this */
  vdm_fleet_metrics_free (m->fleet);
  free (m->watches);
  if (m->host_drops_fd >= 0)
    close (m->host_drops_fd);
  pthread_mutex_destroy (&m->lock);
  free (m);
}
