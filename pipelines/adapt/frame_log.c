/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* frame_log.c — when each frame is shown (frame_log.h). */
#include "frame_log.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

struct FrameLog
{
  FILE *file;                   /* written by the sink's streaming thread */
};

/* --frame-log: the CLOCK_MONOTONIC time each frame is shown. A fakesink
 * (the default) says so itself: its "handoff" comes after its clock wait,
 * so with sync=true that is when a display would show the frame. For other
 * sinks, the time the frame is handed to the sink part, which a
 * synchronised sink shows up to the pipeline latency later. */
static void
log_frame_now (FrameLog * log)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  fprintf (log->file, "%" G_GINT64_FORMAT "\n",
      (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec);
}

static void
on_sink_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad, gpointer user_data)
{
  log_frame_now (user_data);
}

static GstPadProbeReturn
on_frame_handed (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  log_frame_now (user_data);
  return GST_PAD_PROBE_OK;
}

/* The pipeline's sink that can signal each buffer it renders, or NULL. */
static GstElement *
handoff_sink (GstElement * pipeline)
{
  GstIterator *it = gst_bin_iterate_sinks (GST_BIN (pipeline));
  GValue item = G_VALUE_INIT;
  GstElement *found = NULL;

  while (!found && gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElement *sink = g_value_get_object (&item);
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (sink), "signal-handoffs"))
      found = gst_object_ref (sink);
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  return found;
}

void
frame_log_attach (FrameLog * log, GstElement * pipeline, GstElement * last_element)
{
  GstElement *sink = handoff_sink (pipeline);
  GstPad *pad;

  if (sink) {
    g_object_set (sink, "signal-handoffs", TRUE, NULL);
    g_signal_connect (sink, "handoff", G_CALLBACK (on_sink_handoff), log);
    gst_object_unref (sink);
    return;
  }
  pad = gst_element_get_static_pad (last_element, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_frame_handed, log, NULL);
  gst_object_unref (pad);
}

FrameLog *
frame_log_open (const gchar * path, GError ** err)
{
  FILE *file = fopen (path, "w");
  FrameLog *log;

  if (file == NULL) {
    g_set_error (err, G_FILE_ERROR, g_file_error_from_errno (errno), "cannot write %s: %s",
        path, g_strerror (errno));
    return NULL;
  }
  /* Whole lines even if the process is killed: a reader never sees half a time. */
  setvbuf (file, NULL, _IOLBF, 0);
  log = g_new0 (FrameLog, 1);
  log->file = file;
  return log;
}

void
frame_log_close (FrameLog * log)
{
  if (log == NULL)
    return;
  fclose (log->file);
  g_free (log);
}
