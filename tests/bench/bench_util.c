/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include "bench_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BPF_STATS_SYSCTL "/proc/sys/kernel/bpf_stats_enabled"
/* Four times the L2 of the cores this runs on (EPYC: 512 KiB-1 MiB), and a
 * good part of the L3: what the other streams' packets, their decoders and
 * the rest of the host leave of this stream's lines between two of its
 * packets. A whole-L3 walk (VDM_BENCH_THRASH_MB=32) is the worst case: even
 * the program's code and the maps' shared lines are then cold, which they
 * are not on a host that runs them 360,000 times a second. */
#define THRASH_MB_DEFAULT 4
#define CACHE_LINE 64

guint64
bench_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + (guint64) ts.tv_nsec;
}

guint64
bench_process_cpu_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + (guint64) ts.tv_nsec;
}

void
bench_set_seq (guint8 * p, guint16 seq, guint32 ts)
{
  p[2] = seq >> 8;
  p[3] = seq & 0xff;
  p[4] = ts >> 24;
  p[5] = (ts >> 16) & 0xff;
  p[6] = (ts >> 8) & 0xff;
  p[7] = ts & 0xff;
}

void
bench_write_rtp (guint8 * p, gsize size, guint16 seq, guint32 ts)
{
  gsize i;

  p[0] = 0x80;
  p[1] = 96;
  bench_set_seq (p, seq, ts);
  p[8] = 0x11;
  p[9] = 0x22;
  p[10] = 0x33;
  p[11] = 0x44;
  p[12] = (3 << 5) | 28;
  p[13] = 1;
  for (i = BENCH_RTP_HEADER + 2; i < size; i++)
    p[i] = (guint8) i;
}

void
bench_thrash_caches (void)
{
  static volatile guint8 *buffer;
  static gsize bytes;
  static guint8 round;
  gsize i;

  if (!buffer) {
    const gchar *env = g_getenv ("VDM_BENCH_THRASH_MB");
    bytes = (gsize) (env ? CLAMP (atoi (env), 1, 1024) : THRASH_MB_DEFAULT) << 20;
    buffer = g_malloc0 (bytes);
  }
  round++;
  /* Every line written: evicted from every other core's cache too. */
  for (i = 0; i < bytes; i += CACHE_LINE)
    buffer[i] = round;
}

void
bench_pace (guint64 * next, guint64 period_ns)
{
  struct timespec ts;

  if (bench_now_ns () < *next) {
    ts.tv_sec = *next / G_GUINT64_CONSTANT (1000000000);
    ts.tv_nsec = *next % G_GUINT64_CONSTANT (1000000000);
    while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR);
  }
  *next += period_ns;
}

static int
compare_doubles (const void *a, const void *b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return (x > y) - (x < y);
}

gdouble
bench_median (const gdouble * values, guint n)
{
  gdouble *sorted = g_memdup2 (values, n * sizeof (gdouble)), m;

  qsort (sorted, n, sizeof (gdouble), compare_doubles);
  m = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  g_free (sorted);
  return m;
}

/* ------------------------------------------------------------------------ */

static gchar saved_stats_setting[16];
static gboolean stats_setting_changed;

void
bench_bpf_stats_restore (void)
{
  FILE *f;

  if (!stats_setting_changed)
    return;
  f = fopen (BPF_STATS_SYSCTL, "w");
  if (f) {
    fputs (saved_stats_setting, f);
    fclose (f);
  }
  stats_setting_changed = FALSE;
}

static void
on_signal (int sig)
{
  bench_bpf_stats_restore ();
  signal (sig, SIG_DFL);
  raise (sig);
}

gboolean
bench_bpf_stats_enable (gchar ** why)
{
  FILE *f;

  if (stats_setting_changed)
    return TRUE;
  f = fopen (BPF_STATS_SYSCTL, "r");
  if (!f || !fgets (saved_stats_setting, sizeof (saved_stats_setting), f)) {
    *why = g_strdup_printf ("cannot read %s: %s", BPF_STATS_SYSCTL, g_strerror (errno));
    if (f)
      fclose (f);
    return FALSE;
  }
  fclose (f);
  g_strchomp (saved_stats_setting);
  f = fopen (BPF_STATS_SYSCTL, "w");
  if (!f || fputs ("1", f) < 0 || fclose (f) != 0) {
    *why = g_strdup_printf ("cannot write %s: %s", BPF_STATS_SYSCTL, g_strerror (errno));
    return FALSE;
  }
  stats_setting_changed = TRUE;
  atexit (bench_bpf_stats_restore);
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);
  return TRUE;
}

void
bench_program_stats (vdm_source * source, BenchProgramStats * out)
{
  memset (out, 0, sizeof (*out));
  if (vdm_embedded_program_stats (source, VDM_PROGRAM_KFREE_SKB, &out->kfree_ns,
          &out->kfree_runs) < 0)
    out->kfree_ns = out->kfree_runs = 0;
  if (vdm_embedded_program_stats (source, VDM_PROGRAM_SK_DATA_READY, &out->ready_ns,
          &out->ready_runs) < 0)
    out->ready_ns = out->ready_runs = 0;
}

gdouble
bench_ns_per_run (guint64 ns_before, guint64 ns_after, guint64 runs_before, guint64 runs_after)
{
  guint64 runs = runs_after - runs_before;

  return runs ? (gdouble) (ns_after - ns_before) / runs : 0;
}

static int
bpf_call (int cmd, union bpf_attr *attr)
{
  return (int) syscall (__NR_bpf, cmd, attr, sizeof (*attr));
}

/* Info of the program with this id; FALSE if it went away meanwhile. */
static gboolean
bpf_program_info (guint32 id, struct bpf_prog_info *info)
{
  union bpf_attr attr;
  int fd, err;

  memset (&attr, 0, sizeof (attr));
  attr.prog_id = id;
  fd = bpf_call (BPF_PROG_GET_FD_BY_ID, &attr);
  if (fd < 0)
    return FALSE;
  memset (info, 0, sizeof (*info));
  memset (&attr, 0, sizeof (attr));
  attr.info.bpf_fd = fd;
  attr.info.info_len = sizeof (*info);
  attr.info.info = (guint64) (guintptr) info;
  err = bpf_call (BPF_OBJ_GET_INFO_BY_FD, &attr);
  close (fd);
  return err == 0;
}

guint
bench_bpf_programs (const gchar * prefix, guint64 * run_ns, guint64 * run_cnt)
{
  union bpf_attr attr;
  guint32 id = 0;
  guint n = 0;

  *run_ns = *run_cnt = 0;
  for (;;) {
    struct bpf_prog_info info;

    memset (&attr, 0, sizeof (attr));
    attr.start_id = id;
    if (bpf_call (BPF_PROG_GET_NEXT_ID, &attr) != 0)
      break;
    id = attr.next_id;
    if (!bpf_program_info (id, &info) || !g_str_has_prefix (info.name, prefix))
      continue;
    n++;
    *run_ns += info.run_time_ns;
    *run_cnt += info.run_cnt;
  }
  return n;
}

/* ------------------------------------------------------------------------ */

int
bench_udp_receiver (struct sockaddr_in *addr, int rcvbuf)
{
  int fd = socket (AF_INET, SOCK_DGRAM, 0);
  socklen_t len = sizeof (*addr);

  memset (addr, 0, sizeof (*addr));
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (fd < 0 || setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof (rcvbuf)) < 0
      || bind (fd, (struct sockaddr *) addr, sizeof (*addr)) < 0
      || getsockname (fd, (struct sockaddr *) addr, &len) < 0) {
    perror ("vdm-bench: receiver socket");
    exit (1);
  }
  return fd;
}

struct sockaddr_in
bench_closed_port (void)
{
  struct sockaddr_in addr;
  int fd = bench_udp_receiver (&addr, 1);

  close (fd);
  return addr;
}
