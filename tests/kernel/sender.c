/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sender.h"

#include <stdio.h>

#include "kernel_test_util.h"

VdmKtSender *
vdm_kt_sender_spawn (const gchar * label, const gchar * const *wrapper,
    const gchar * first_option, ...)
{
  VdmKtSender *sender = g_new0 (VdmKtSender, 1);
  GPtrArray *argv = g_ptr_array_new ();
  gchar *log_name = g_strdup_printf ("sent-%s.log", label);
  GError *error = NULL;
  const gchar *option;
  va_list args;

  sender->label = g_strdup (label);
  sender->log_path = vdm_kt_scratch_path (log_name);
  g_free (log_name);
  for (; wrapper && *wrapper; wrapper++)
    g_ptr_array_add (argv, (gpointer) * wrapper);
  g_ptr_array_add (argv, (gpointer) vdm_kt_require_env ("VDM_RTP_SENDER"));
  va_start (args, first_option);
  for (option = first_option; option; option = va_arg (args, const gchar *))
    g_ptr_array_add (argv, (gpointer) option);
  va_end (args);
  g_ptr_array_add (argv, (gpointer) "--log");
  g_ptr_array_add (argv, sender->log_path);
  g_ptr_array_add (argv, NULL);

  {
    gchar *line = g_strjoinv (" ", (gchar **) argv->pdata);
    printf ("  %s: %s\n", label, line);
    g_free (line);
  }
  sender->process = g_subprocess_newv ((const gchar * const *) argv->pdata,
      G_SUBPROCESS_FLAGS_NONE, &error);
  if (!sender->process)
    vdm_kt_fatal ("%s: cannot start the sender: %s", label, error->message);
  g_ptr_array_unref (argv);
  return sender;
}

static GArray *
read_log (const gchar * path)
{
  GArray *sent = g_array_new (FALSE, TRUE, sizeof (VdmKtSent));
  FILE *log = fopen (path, "r");
  unsigned seq, ts, key;

  if (!log)
    vdm_kt_fatal ("cannot read the sender log %s", path);
  while (fscanf (log, "%u %u %u", &seq, &ts, &key) == 3) {
    VdmKtSent p = {.seq = (guint16) seq,.ts = ts,.keyframe = key != 0 };
    g_array_append_val (sent, p);
  }
  fclose (log);
  return sent;
}

GArray *
vdm_kt_sender_finish (VdmKtSender * sender)
{
  GError *error = NULL;
  GArray *sent;

  if (!g_subprocess_wait_check (sender->process, NULL, &error))
    vdm_kt_fatal ("%s: the sender failed: %s", sender->label, error->message);
  sent = read_log (sender->log_path);
  if (sent->len == 0 || sent->len > 65536)
    vdm_kt_fatal ("%s: the sender logged %u packets (need 1..65536 for unique seqs)",
        sender->label, sent->len);
  g_object_unref (sender->process);
  g_free (sender->log_path);
  g_free (sender->label);
  g_free (sender);
  return sent;
}
