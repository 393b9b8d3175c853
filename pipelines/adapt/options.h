/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * options.h — vdm-adapt's command line (docs/adaptation.md lists it).
 */
#ifndef VDM_ADAPT_OPTIONS_H
#define VDM_ADAPT_OPTIONS_H

#include <glib.h>

#include "policy.h"

typedef struct
{
  gchar *uri;
  gchar *substream_uri;
  gchar *sink;
  gchar *ladder_text;
  gint start_height;
  gdouble step_up_after_s;
  gdouble min_dwell_s;
  gboolean overlay;
  gchar *log_path;
  gchar *frame_log_path;
  gdouble duration_s;
  gint latency_ms;
  gint buffer_size;
  gchar *rtsp_transport;
  gint playout_buffer_ms;
  gchar **vdropmon_props;       /* "prop=value" */

  gint ladder[VDM_ADAPT_MAX_RUNGS];     /* descending, all <= start_height */
  guint n_rungs;
} Options;

/* Fills `o` (defaults, then the command line, GStreamer's options too) and
 * checks it; FALSE after saying what is wrong on stderr. */
gboolean options_parse (Options * o, int *argc, char ***argv);
void options_clear (Options * o);

#endif
