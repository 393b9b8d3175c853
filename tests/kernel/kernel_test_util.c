/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kernel_test_util.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const gchar *test_name = "kernel-test";
static guint n_checks, n_failures;
static gchar *scratch_dir;

static gboolean
bpf_required (void)
{
  return g_strcmp0 (g_getenv ("VDROPMON_REQUIRE_BPF"), "1") == 0;
}

void
vdm_kt_skip_or_fail (const gchar * format, ...)
{
  va_list args;
  gchar *why;

  va_start (args, format);
  why = g_strdup_vprintf (format, args);
  va_end (args);
  fflush (stdout);
  if (bpf_required ()) {
    fprintf (stderr, "\n*** %s: FAIL: %s\n*** (VDROPMON_REQUIRE_BPF=1: "
        "not allowed to skip)\n\n", test_name, why);
    exit (1);
  }
  fprintf (stderr, "\n****************************************************************\n"
      "*** %s: SKIPPED: %s\n"
      "*** The real-kernel path was NOT tested. Set VDROPMON_REQUIRE_BPF=1\n"
      "*** to turn this skip into a failure.\n"
      "****************************************************************\n\n", test_name, why);
  exit (VDM_KT_EXIT_SKIP);
}

void
vdm_kt_fatal (const gchar * format, ...)
{
  va_list args;

  fflush (stdout);
  fprintf (stderr, "%s: FATAL: ", test_name);
  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  fprintf (stderr, "\n");
  exit (1);
}

gboolean
vdm_kt_expect (gboolean ok, const gchar * format, ...)
{
  va_list args;

  n_checks++;
  if (!ok)
    n_failures++;
  printf ("  %-4s ", ok ? "ok" : "FAIL");
  va_start (args, format);
  vprintf (format, args);
  va_end (args);
  printf ("\n");
  fflush (stdout);
  return ok;
}

int
vdm_kt_finish (void)
{
  printf ("%s: %u checks, %u failed: %s\n", test_name, n_checks, n_failures,
      n_failures ? "FAIL" : "PASS");
  fflush (stdout);
  return n_failures || n_checks == 0 ? 1 : 0;
}

void
vdm_kt_require_collector (const GstStructure * stats)
{
  const gchar *status = gst_structure_get_string (stats, "collector-status");

  if (status && g_str_has_prefix (status, "unavailable"))
    vdm_kt_skip_or_fail ("the eBPF collector cannot load here: %s", status);
  if (g_strcmp0 (status, "running") != 0)
    vdm_kt_fatal ("collector-status is \"%s\", expected \"running\"", status ? status : "(none)");
}

guint64
vdm_kt_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * 1000000000ULL + (guint64) ts.tv_nsec;
}

void
vdm_kt_sleep_ms (guint ms)
{
  g_usleep ((gulong) ms * 1000);
}

static void
on_watchdog (int sig)
{
  static const char msg[] = "\n*** kernel test: FATAL: watchdog: still running after "
      G_STRINGIFY (VDM_KT_WATCHDOG_SECONDS) " s, giving up\n";
  (void) sig;
  (void) !write (STDERR_FILENO, msg, sizeof (msg) - 1);
  _exit (1);
}

static void
remove_scratch_dir (void)
{
  GDir *dir;
  const gchar *name;

  if (!scratch_dir || g_getenv ("VDM_KT_KEEP_SCRATCH"))
    return;
  dir = g_dir_open (scratch_dir, 0, NULL);
  while (dir && (name = g_dir_read_name (dir))) {
    gchar *path = g_build_filename (scratch_dir, name, NULL);
    g_unlink (path);
    g_free (path);
  }
  if (dir)
    g_dir_close (dir);
  g_rmdir (scratch_dir);
}

gchar *
vdm_kt_scratch_path (const gchar * name)
{
  if (!scratch_dir) {
    GError *error = NULL;
    scratch_dir = g_dir_make_tmp ("vdropmon-kt-XXXXXX", &error);
    if (!scratch_dir)
      vdm_kt_fatal ("cannot make a scratch directory: %s", error->message);
    atexit (remove_scratch_dir);
  }
  return g_build_filename (scratch_dir, name, NULL);
}

const gchar *
vdm_kt_require_env (const gchar * name)
{
  const gchar *value = g_getenv (name);

  if (!value || !*value)
    vdm_kt_fatal ("environment variable %s is not set (run through meson test)", name);
  return value;
}

void
vdm_kt_begin (const gchar * name, int *argc, char ***argv)
{
  GstElementFactory *factory;

  test_name = name;
  setvbuf (stdout, NULL, _IOLBF, 0);
  printf ("=== %s (pid %d) ===\n", name, (int) getpid ());
  if (geteuid () != 0)
    vdm_kt_skip_or_fail ("needs root to load the eBPF program (running as uid %d)",
        (int) geteuid ());
  signal (SIGALRM, on_watchdog);
  alarm (VDM_KT_WATCHDOG_SECONDS);
  gst_init (argc, argv);
  factory = gst_element_factory_find ("vdropmon");
  if (!factory)
    vdm_kt_fatal ("element vdropmon not found (GST_PLUGIN_PATH=%s)",
        g_getenv ("GST_PLUGIN_PATH") ? g_getenv ("GST_PLUGIN_PATH") : "(unset)");
  gst_object_unref (factory);
}
