/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "e2e_server.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "kernel_test_util.h"

#define READY_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 5000
#define POLL_MS 20
/* Longer than any e2e test (meson timeout 60 s): only a safety net. */
#define SERVER_LIFETIME "90"

/* In the child, before exec: die with the test, whatever ends it. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static gboolean
has_exited (VdmE2eServer * server)
{
  /* GLib reaps the child in its worker thread; the identifier goes away then. */
  return g_subprocess_get_identifier (server->process) == NULL;
}

/* The READY lines written so far; returns how many. */
static guint
read_ready_lines (VdmE2eServer * server)
{
  gchar *text = NULL, **lines;
  guint i;

  g_ptr_array_set_size (server->urls, 0);
  if (!g_file_get_contents (server->stdout_path, &text, NULL, NULL))
    return 0;
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i]; i++)
    if (g_str_has_prefix (lines[i], "READY ") && lines[i + 1])     /* whole lines only */
      g_ptr_array_add (server->urls, g_strdup (lines[i] + strlen ("READY ")));
  g_strfreev (lines);
  g_free (text);
  return server->urls->len;
}

static void
wait_ready (VdmE2eServer * server, guint n_ready)
{
  guint64 deadline = vdm_kt_now_ns () + (guint64) READY_TIMEOUT_MS * 1000000;

  while (read_ready_lines (server) < n_ready) {
    if (has_exited (server))
      vdm_kt_fatal ("%s: the server exited before it was ready", server->label);
    if (vdm_kt_now_ns () > deadline)
      vdm_kt_fatal ("%s: no %u READY lines within %d ms", server->label, n_ready,
          READY_TIMEOUT_MS);
    vdm_kt_sleep_ms (POLL_MS);
  }
}

GSubprocess *
vdm_e2e_spawn (const gchar * label, const gchar * const *argv, const gchar * stdout_path)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  GError *error = NULL;
  GSubprocess *process;
  gchar *line = g_strjoinv (" ", (gchar **) argv);

  printf ("  %s: %s\n", label, line);
  g_free (line);
  if (stdout_path)
    g_subprocess_launcher_set_stdout_file_path (launcher, stdout_path);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (!process)
    vdm_kt_fatal ("%s: cannot start %s: %s", label, argv[0], error->message);
  g_object_unref (launcher);
  return process;
}

VdmE2eServer *
vdm_e2e_server_start (const gchar * label, const gchar * env_binary, const gchar * netns,
    guint n_ready, const gchar * first_option, ...)
{
  VdmE2eServer *server = g_new0 (VdmE2eServer, 1);
  GPtrArray *argv = g_ptr_array_new ();
  gchar *file_name = g_strdup_printf ("server-%s.out", label);
  const gchar *option;
  va_list args;

  server->label = g_strdup (label);
  server->stdout_path = vdm_kt_scratch_path (file_name);
  server->urls = g_ptr_array_new_with_free_func (g_free);
  g_free (file_name);
  if (netns) {
    g_ptr_array_add (argv, (gpointer) "ip");
    g_ptr_array_add (argv, (gpointer) "netns");
    g_ptr_array_add (argv, (gpointer) "exec");
    g_ptr_array_add (argv, (gpointer) netns);
  }
  g_ptr_array_add (argv, (gpointer) vdm_kt_require_env (env_binary));
  va_start (args, first_option);
  for (option = first_option; option; option = va_arg (args, const gchar *))
    g_ptr_array_add (argv, (gpointer) option);
  va_end (args);
  g_ptr_array_add (argv, (gpointer) "--duration-s");
  g_ptr_array_add (argv, (gpointer) SERVER_LIFETIME);
  g_ptr_array_add (argv, NULL);

  server->process = vdm_e2e_spawn (label, (const gchar * const *) argv->pdata,
      server->stdout_path);
  g_ptr_array_unref (argv);
  wait_ready (server, n_ready);
  printf ("  %s: ready at %s\n", label, vdm_e2e_server_url (server, 0));
  return server;
}

const gchar *
vdm_e2e_server_url (VdmE2eServer * server, guint index)
{
  if (index >= server->urls->len)
    vdm_kt_fatal ("%s: no READY line #%u", server->label, index + 1);
  return g_ptr_array_index (server->urls, index);
}

void
vdm_e2e_server_freeze (VdmE2eServer * server)
{
  g_subprocess_send_signal (server->process, SIGSTOP);
  server->frozen = TRUE;
}

void
vdm_e2e_server_thaw (VdmE2eServer * server)
{
  g_subprocess_send_signal (server->process, SIGCONT);
  server->frozen = FALSE;
}

void
vdm_e2e_server_kill (VdmE2eServer * server)
{
  g_subprocess_send_signal (server->process, SIGKILL);
  g_subprocess_wait (server->process, NULL, NULL);
  server->frozen = FALSE;
}

void
vdm_e2e_server_stop (VdmE2eServer * server)
{
  guint64 deadline = vdm_kt_now_ns () + (guint64) STOP_TIMEOUT_MS * 1000000;

  if (!server)
    return;
  if (server->frozen)
    g_subprocess_send_signal (server->process, SIGCONT);
  g_subprocess_send_signal (server->process, SIGTERM);
  while (!has_exited (server) && vdm_kt_now_ns () < deadline)
    vdm_kt_sleep_ms (POLL_MS);
  if (!has_exited (server)) {
    printf ("  %s: did not stop on SIGTERM, killing it\n", server->label);
    g_subprocess_force_exit (server->process);
  }
  g_subprocess_wait (server->process, NULL, NULL);
  g_object_unref (server->process);
  g_ptr_array_unref (server->urls);
  g_free (server->stdout_path);
  g_free (server->label);
  g_free (server);
}
