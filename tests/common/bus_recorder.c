/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus_recorder.h"

#include <time.h>

/* CLOCK_MONOTONIC in ns: bpf_ktime_get_ns()'s clock, so that post times
 * compare with the element's kernel-time fields. */
static guint64
monotonic_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + (guint64) ts.tv_nsec;
}

static void
message_free (gpointer data)
{
  VdmKtMessage *m = data;

  gst_structure_free (m->s);
  g_free (m);
}

GPtrArray *
vdm_kt_messages_new (void)
{
  return g_ptr_array_new_with_free_func (message_free);
}

GPtrArray *
vdm_bus_route_drops (GstMessage * msg, const GstStructure * s, gpointer into)
{
  return gst_structure_has_name (s, "vdropmon-drop") ? into : NULL;
}

static void
record_problem (VdmBusRecorder * rec, GstMessage * msg)
{
  gboolean is_error = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR;
  GError *error = NULL;
  gchar *debug = NULL, *text;

  if (is_error)
    gst_message_parse_error (msg, &error, &debug);
  else
    gst_message_parse_warning (msg, &error, &debug);
  text = g_strdup_printf ("%s from %s: %s (%s)", is_error ? "error" : "warning",
      GST_MESSAGE_SRC_NAME (msg), error->message, debug ? debug : "");
  g_printerr ("  %s%sbus %s\n", rec->label ? rec->label : "", rec->label ? ": " : "", text);
  g_mutex_lock (rec->lock);
  g_ptr_array_add (rec->problems, text);
  g_mutex_unlock (rec->lock);
  g_clear_error (&error);
  g_free (debug);
}

static void
record_element_message (VdmBusRecorder * rec, GstMessage * msg, guint64 now)
{
  const GstStructure *s = gst_message_get_structure (msg);
  GPtrArray *into;

  if (!s)
    return;
  g_mutex_lock (rec->lock);
  into = rec->route (msg, s, rec->user_data);
  if (into) {
    VdmKtMessage *copy = g_new0 (VdmKtMessage, 1);
    copy->s = gst_structure_copy (s);
    copy->arrival_ns = now;
    g_ptr_array_add (into, copy);
  }
  g_mutex_unlock (rec->lock);
}

/* Runs in the posting thread: the time is that of the post. */
static GstBusSyncReply
on_bus_message (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  VdmBusRecorder *rec = user_data;
  guint64 now = monotonic_ns ();

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:
      record_element_message (rec, msg, now);
      break;
    case GST_MESSAGE_ERROR:
    case GST_MESSAGE_WARNING:
      record_problem (rec, msg);
      break;
    default:
      break;
  }
  /* Nobody runs a main loop: keep the bus queue from growing. */
  return GST_BUS_DROP;
}

void
vdm_bus_recorder_attach (VdmBusRecorder * rec, GstElement * pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);

  /* A bus has one sync handler: unset, then set. */
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  gst_bus_set_sync_handler (bus, on_bus_message, rec, NULL);
  gst_object_unref (bus);
}

void
vdm_bus_recorder_detach (GstElement * pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);

  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  gst_object_unref (bus);
}
