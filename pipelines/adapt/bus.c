/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bus.c — the bus watch: vdropmon's warnings and clears and the
 * capsfilter's "renegotiated" to decisions.c; errors and EOS end the run.
 */
#include "adapter.h"

static void
on_element_message (Adapter * a, GstMessage * message)
{
  const GstStructure *s = gst_message_get_structure (message);

  /* Once stopping, the silence that EOS causes is no news. */
  if (s == NULL || a->stopping)
    return;
  if (gst_structure_has_name (s, "vdropmon-warning"))
    decisions_on_warning (a, message);
  else if (gst_structure_has_name (s, "vdropmon-clear"))
    decisions_on_clear (a, message);
}

static gboolean
on_bus_message (GstBus * bus, GstMessage * message, gpointer user_data)
{
  Adapter *a = user_data;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *debug = NULL;

  switch (GST_MESSAGE_TYPE (message)) {
    case GST_MESSAGE_ELEMENT:
      on_element_message (a, message);
      break;
    case GST_MESSAGE_APPLICATION:
      if (gst_message_has_name (message, "vdm-adapt-renegotiated"))
        decisions_on_renegotiated (a, gst_message_get_structure (message));
      break;
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning (message, &err, &debug);
      g_printerr ("vdm-adapt: warning from %s: %s (%s)\n", GST_OBJECT_NAME (message->src),
          err->message, debug ? debug : "");
      break;
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (message, &err, &debug);
      g_printerr ("vdm-adapt: error from %s: %s (%s)\n", GST_OBJECT_NAME (message->src),
          err->message, debug ? debug : "");
      log_decision (a, "error", current_height (a), current_height (a), NULL, err->message);
      a->exit_code = EXIT_RUNTIME;
      g_main_loop_quit (a->loop);
      break;
    case GST_MESSAGE_EOS:
      log_decision (a, "eos", current_height (a), current_height (a), NULL, NULL);
      g_main_loop_quit (a->loop);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

guint
bus_watch_add (Adapter * a)
{
  GstBus *bus = gst_element_get_bus (a->pipeline);
  guint id = gst_bus_add_watch (bus, on_bus_message, a);

  gst_object_unref (bus);
  return id;
}
