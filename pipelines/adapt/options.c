/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* options.c — vdm-adapt's command line: parsed, checked, the ladder built. */
#include "options.h"

#include <gst/gst.h>
#include <string.h>

/* The rungs at or below start_height, highest first; start_height itself is
 * always the top rung, so "back to where we started" is a rung. */
static gboolean
parse_ladder (Options * o)
{
  g_auto (GStrv) parts = g_strsplit (o->ladder_text, ",", -1);
  gint heights[VDM_ADAPT_MAX_RUNGS];
  guint n = 0, i;

  for (i = 0; parts[i] != NULL; i++) {
    gchar *end = NULL;
    gint64 h = g_ascii_strtoll (g_strstrip (parts[i]), &end, 10);

    if (end == parts[i] || *end != '\0' || h < 16 || h > 4320) {
      g_printerr ("vdm-adapt: --ladder: '%s' is not a height in 16..4320\n", parts[i]);
      return FALSE;
    }
    if (h >= o->start_height)
      continue;
    if (n == VDM_ADAPT_MAX_RUNGS - 1) {
      g_printerr ("vdm-adapt: --ladder: at most %d rungs\n", VDM_ADAPT_MAX_RUNGS - 1);
      return FALSE;
    }
    heights[n++] = (gint) h;
  }
  o->n_rungs = vdm_adapt_build_ladder (o->start_height, heights, n, o->ladder);
  return o->n_rungs > 0;
}

static gboolean
check_options (Options * o)
{
  if (o->uri == NULL) {
    g_printerr ("vdm-adapt: --uri is required\n");
    return FALSE;
  }
  if (o->start_height < 16 || o->start_height > 4320) {
    g_printerr ("vdm-adapt: --start-height must be in 16..4320\n");
    return FALSE;
  }
  if (o->step_up_after_s < 0 || o->min_dwell_s < 0 || o->duration_s < 0
      || o->step_up_after_s > 3600 || o->min_dwell_s > 3600 || o->duration_s > 86400) {
    g_printerr ("vdm-adapt: --step-up-after, --min-dwell (0..3600) and "
        "--duration-s (0..86400) take seconds\n");
    return FALSE;
  }
  if (o->latency_ms < 0 || o->latency_ms > 60000 || o->buffer_size < 0
      || o->playout_buffer_ms < 0 || o->playout_buffer_ms > 600000) {
    g_printerr ("vdm-adapt: --latency-ms must be in 0..60000, --playout-buffer-ms "
        "in 0..600000, --buffer-size >= 0\n");
    return FALSE;
  }
  if (o->rtsp_transport && !g_str_equal (o->rtsp_transport, "udp")
      && !g_str_equal (o->rtsp_transport, "tcp") && !g_str_equal (o->rtsp_transport, "auto")) {
    g_printerr ("vdm-adapt: --rtsp-transport must be udp, tcp or auto\n");
    return FALSE;
  }
  return parse_ladder (o);
}

static void
set_defaults (Options * o)
{
  memset (o, 0, sizeof (*o));
  o->ladder_text = g_strdup ("1080,720,480");
  o->start_height = 1080;
  o->step_up_after_s = 5.0;
  o->min_dwell_s = 2.0;
  o->latency_ms = 200;
}

gboolean
options_parse (Options * o, int *argc, char ***argv)
{
  GOptionEntry entries[] = {
    {"uri", 0, 0, G_OPTION_ARG_STRING, &o->uri,
        "rtsp://HOST:PORT/PATH, http://HOST:PORT/PATH.flv or udp://[ADDR:]PORT "
          "(RTP H.264, payload 96; ADDR defaults to 127.0.0.1)", "URI"},
    {"substream-uri", 0, 0, G_OPTION_ARG_STRING, &o->substream_uri,
        "A lower-quality alternative of the same content, switched to on a "
          "lower-bitrate warning", "URI"},
    {"sink", 0, 0, G_OPTION_ARG_STRING, &o->sink,
        "Sink part, gst-launch syntax (default fakesink; e.g. autovideosink, or "
          "\"x264enc tune=zerolatency ! rtph264pay ! udpsink host=127.0.0.1 port=5010\")",
        "DESC"},
    {"ladder", 0, 0, G_OPTION_ARG_STRING, &o->ladder_text,
        "Heights to step through (default 1080,720,480)", "H,H,..."},
    {"start-height", 0, 0, G_OPTION_ARG_INT, &o->start_height,
        "Height to start at; never stepped above (default 1080)", "H"},
    {"step-up-after", 0, 0, G_OPTION_ARG_DOUBLE, &o->step_up_after_s,
        "Quiet seconds after vdropmon-clear before one rung up (default 5)", "S"},
    {"min-dwell", 0, 0, G_OPTION_ARG_DOUBLE, &o->min_dwell_s,
        "Least seconds between two changes (default 2)", "S"},
    {"overlay", 0, 0, G_OPTION_ARG_NONE, &o->overlay,
        "Show vdropmon's state on the video (textoverlay)", NULL},
    {"log", 0, 0, G_OPTION_ARG_FILENAME, &o->log_path,
        "Write every decision as a JSON line to FILE", "FILE"},
    {"frame-log", 0, 0, G_OPTION_ARG_FILENAME, &o->frame_log_path,
        "Write the CLOCK_MONOTONIC time (ns) of every frame shown, one per line, "
          "to FILE (a fakesink's handoff: after its clock wait; other sinks: when "
          "the frame is handed to them)", "FILE"},
    {"duration-s", 0, 0, G_OPTION_ARG_DOUBLE, &o->duration_s,
        "Stop after this many seconds (0 = until EOS or a signal)", "S"},
    {"latency-ms", 0, 0, G_OPTION_ARG_INT, &o->latency_ms,
        "Jitterbuffer latency for rtsp:// and udp:// (default 200)", "MS"},
    {"buffer-size", 0, 0, G_OPTION_ARG_INT, &o->buffer_size,
        "UDP receive buffer, bytes (udpsrc buffer-size, rtspsrc udp-buffer-size; "
          "0 = the element's default)", "BYTES"},
    {"rtsp-transport", 0, 0, G_OPTION_ARG_STRING, &o->rtsp_transport,
        "udp, tcp or auto (default auto)", "T"},
    {"playout-buffer-ms", 0, 0, G_OPTION_ARG_INT, &o->playout_buffer_ms,
        "vdropmon playout-buffer (runway), ms (default: 0 = pipeline latency; "
          "1000 for http-flv, which has none)", "MS"},
    {"set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->vdropmon_props,
        "Set a vdropmon property, e.g. --set clear-bins=5 (repeatable)", "PROP=VALUE"},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx =
      g_option_context_new ("- play or relay a stream, adapting on vdropmon warnings");
  g_autoptr (GError) err = NULL;

  set_defaults (o);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, argc, argv, &err)) {
    g_printerr ("vdm-adapt: %s\n", err->message);
    return FALSE;
  }
  if (*argc > 1) {
    g_printerr ("vdm-adapt: unexpected argument '%s'\n", (*argv)[1]);
    return FALSE;
  }
  return check_options (o);
}

void
options_clear (Options * o)
{
  g_free (o->uri);
  g_free (o->substream_uri);
  g_free (o->sink);
  g_free (o->ladder_text);
  g_free (o->log_path);
  g_free (o->frame_log_path);
  g_free (o->rtsp_transport);
  g_strfreev (o->vdropmon_props);
  memset (o, 0, sizeof (*o));
}
