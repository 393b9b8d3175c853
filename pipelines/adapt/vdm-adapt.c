/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdm-adapt — an example application that plays or relays a live H.264
 * stream and adapts *before* the picture freezes, driven by vdropmon's bus
 * messages (docs/adaptation.md explains the policy, docs/messages.md the
 * messages).
 *
 *   SOURCE ! vdropmon ! ... ! avdec_h264 ! videoscale
 *     ! capsfilter name=scale caps=video/x-raw,height=H [! textoverlay]
 *     ! videoconvert ! SINK
 *
 * SOURCE by URI: rtsp://… (rtspsrc), http://….flv (souphttpsrc ! flvdemux),
 * udp://[ADDR:]PORT (udpsrc, plain RTP H.264 payload 96, + rtpjitterbuffer).
 *
 * On vdropmon-warning, by its action:
 *   lower-resolution  one rung down the height ladder (new capsfilter caps;
 *                     videoscale renegotiates while PLAYING)
 *   lower-bitrate     switch to --substream-uri if given (the pipeline is
 *                     rebuilt), else one rung down
 *   request-keyframe  send a GstForceKeyUnit upstream, unless vdropmon's own
 *                     request-keyframe property already did
 *   circuit-break     hold (log only): a lone burst
 *   reinit-device     restart the source (the pipeline is rebuilt)
 * Hysteresis: after vdropmon-clear, --step-up-after seconds without a new
 * warning → one rung back up (or back to the main URI), and again after as
 * long, up to --start-height; never two changes within --min-dwell.
 *
 * Every decision is printed on stdout and, with --log, written as one JSON
 * object per line (fields in docs/adaptation.md), so that tests can check
 * what was decided and when; with --frame-log, the time of every frame
 * shown, so that they can tell when the picture froze.
 *
 * Exit status: 0 after EOS, --duration-s or SIGINT/SIGTERM; 1 on a pipeline
 * error; 2 on bad arguments.
 */
#include <gst/gst.h>
#include <gst/video/video.h>
#include <glib-unix.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "policy.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

/* After EOS is sent on shutdown, how long to wait for it to reach the sinks. */
#define SHUTDOWN_GRACE_MS 3000
#define RTP_H264_CAPS "application/x-rtp,media=video,clock-rate=90000," \
  "encoding-name=H264,payload=96"

typedef enum
{
  SOURCE_RTSP,
  SOURCE_HTTP_FLV,
  SOURCE_UDP,
} SourceKind;

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

typedef struct
{
  Options *opts;
  GMainLoop *loop;
  GstElement *pipeline;
  GstElement *vdropmon;
  GstElement *scale;            /* the capsfilter */
  GstElement *overlay;          /* NULL without --overlay */
  guint bus_watch;
  FILE *log;
  FILE *frame_log;              /* written by the sink's streaming thread */
  gint exit_code;
  gboolean stopping;

  /* What the decoder delivers, for the output width: written by a pad
   * probe in the streaming thread, read by the main loop. */
  GMutex input_lock;
  gint input_width, input_height, input_par_n, input_par_d;

  /* The policy decides (policy.h); its reasons are the GstMessages of
   * vdropmon's warnings and clears. */
  vdm_adapt_policy policy;
  guint policy_timer;           /* until the policy's next deadline */
  gint target_height;           /* the policy's height, atomic: the input probe reads it */
  gboolean started_once;
  GstStructure *overlay_warning; /* the last warning; NULL after a clear */
  gint64 change_pending_since;  /* decision time of a rung change not yet seen downstream */
  guint restart_idle;
  gchar *restart_uri;
} Adapter;

static gboolean start_pipeline (Adapter * a, const gchar * uri, GError ** err);

/* ------------------------------------------------------------------------ */
/* Time.                                                                      */

static gint64
mono_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static guint
seconds_to_ms (gdouble seconds)
{
  return (guint) MAX (0.0, round (seconds * 1000.0));
}

static void
replace_structure (GstStructure ** slot, const GstStructure * s)
{
  if (*slot)
    gst_structure_free (*slot);
  *slot = s ? gst_structure_copy (s) : NULL;
}

/* ------------------------------------------------------------------------ */
/* Options.                                                                   */

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

static gboolean
parse_options (Options * o, int *argc, char ***argv)
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

/* ------------------------------------------------------------------------ */
/* Pipeline description.                                                      */

static gboolean
source_kind (const gchar * uri, SourceKind * kind)
{
  if (g_str_has_prefix (uri, "rtsp://") || g_str_has_prefix (uri, "rtsps://")
      || g_str_has_prefix (uri, "rtspt://"))
    *kind = SOURCE_RTSP;
  else if (g_str_has_prefix (uri, "http://") || g_str_has_prefix (uri, "https://"))
    *kind = SOURCE_HTTP_FLV;
  else if (g_str_has_prefix (uri, "udp://"))
    *kind = SOURCE_UDP;
  else
    return FALSE;
  return TRUE;
}

/* udp://PORT or udp://ADDR:PORT (udp://[V6]:PORT); loopback by default. */
static gboolean
parse_udp_uri (const gchar * uri, gchar ** address, gint * port)
{
  const gchar *rest = uri + strlen ("udp://");
  const gchar *colon = strrchr (rest, ':');
  const gchar *port_text = colon ? colon + 1 : rest;
  gchar *end = NULL;
  gint64 p = g_ascii_strtoll (port_text, &end, 10);

  if (end == port_text || *end != '\0' || p < 1 || p > 65535)
    return FALSE;
  *port = (gint) p;
  if (colon == NULL)
    *address = g_strdup ("127.0.0.1");
  else if (rest[0] == '[' && colon > rest + 1 && colon[-1] == ']')
    *address = g_strndup (rest + 1, colon - rest - 2);
  else
    *address = g_strndup (rest, colon - rest);
  return **address != '\0' && strpbrk (*address, " \"'!") == NULL;
}

/* Where vdropmon goes: right behind the element that reads the network, so
 * it sees arrivals as they happen and, through its upstream walk, finds
 * the socket. For FLV that is after flvdemux: the walk still reaches
 * souphttpsrc (its TCP connection), and the video there has PTS, which the
 * runway (arrival lag vs media time) needs. */
static gchar *
source_description (const Options * o, const gchar * uri, GError ** err)
{
  SourceKind kind;
  g_autofree gchar *quoted = NULL;

  if (!source_kind (uri, &kind) || strchr (uri, '"') != NULL) {
    g_set_error (err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "unsupported URI '%s' (rtsp://, http://...flv, udp://[ADDR:]PORT)", uri);
    return NULL;
  }
  quoted = g_strdup_printf ("\"%s\"", uri);
  switch (kind) {
    case SOURCE_RTSP:{
      GString *d = g_string_new (NULL);
      const gchar *t = o->rtsp_transport ? o->rtsp_transport : "auto";

      g_string_append_printf (d, "rtspsrc name=src location=%s latency=%d", quoted,
          o->latency_ms);
      if (!g_str_equal (t, "auto"))
        g_string_append_printf (d, " protocols=%s", t);
      if (o->buffer_size)
        g_string_append_printf (d, " udp-buffer-size=%d", o->buffer_size);
      /* Only the H.264 video stream, should the server offer more. */
      g_string_append (d, " ! application/x-rtp,media=video,encoding-name=H264 "
          "! vdropmon name=vdm ! rtph264depay ! h264parse ! avdec_h264");
      return g_string_free (d, FALSE);
    }
    case SOURCE_HTTP_FLV:
      return g_strdup_printf ("souphttpsrc name=src location=%s is-live=true "
          "! flvdemux name=demux demux.video ! vdropmon name=vdm "
          "! h264parse ! avdec_h264", quoted);
    case SOURCE_UDP:{
      g_autofree gchar *address = NULL;
      gint port;

      if (!parse_udp_uri (uri, &address, &port)) {
        g_set_error (err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
            "bad udp URI '%s' (udp://PORT or udp://ADDR:PORT)", uri);
        return NULL;
      }
      return g_strdup_printf ("udpsrc name=src address=\"%s\" port=%d buffer-size=%d "
          "caps=\"" RTP_H264_CAPS "\" ! vdropmon name=vdm "
          "! rtpjitterbuffer latency=%d ! rtph264depay ! h264parse ! avdec_h264",
          address, port, o->buffer_size, o->latency_ms);
    }
  }
  g_assert_not_reached ();
}

static gchar *
scale_caps_text (gint width, gint height)
{
  if (width > 0)
    return g_strdup_printf ("video/x-raw,width=%d,height=%d,pixel-aspect-ratio=1/1",
        width, height);
  return g_strdup_printf ("video/x-raw,height=%d,pixel-aspect-ratio=1/1", height);
}

static gchar *
pipeline_description (const Adapter * a, const gchar * uri, GError ** err)
{
  const Options *o = a->opts;
  g_autofree gchar *source = source_description (o, uri, err);
  g_autofree gchar *caps = NULL;

  if (source == NULL)
    return NULL;
  caps = scale_caps_text (0, vdm_adapt_policy_height (&a->policy));
  return g_strdup_printf ("%s ! videoscale ! capsfilter name=scale caps=\"%s\" %s "
      "! videoconvert name=convert ! %s", source, caps,
      o->overlay ? "! textoverlay name=overlay text=\"vdropmon: ok\" valignment=top "
      "halignment=left font-desc=\"Sans 14\" shaded-background=true" : "",
      o->sink ? o->sink : "fakesink");
}

/* ------------------------------------------------------------------------ */
/* The JSON decision log.                                                     */

static void
json_string (GString * out, const gchar * s)
{
  g_string_append_c (out, '"');
  for (; s && *s; s++) {
    guchar c = (guchar) * s;

    if (c == '"' || c == '\\')
      g_string_append_printf (out, "\\%c", c);
    else if (c == '\n')
      g_string_append (out, "\\n");
    else if (c < 0x20)
      g_string_append_printf (out, "\\u%04x", c);
    else
      g_string_append_c (out, c);
  }
  g_string_append_c (out, '"');
}

static void
json_double (GString * out, gdouble v)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (v))
    g_string_append (out, "null");
  else
    g_string_append (out, g_ascii_dtostr (buf, sizeof (buf), v));
}

static void json_structure (GString * out, const GstStructure * s);
static void json_value (GString * out, const GValue * v);

static void
json_array (GString * out, const GValue * v)
{
  gboolean is_array = GST_VALUE_HOLDS_ARRAY (v);
  guint n = is_array ? gst_value_array_get_size (v) : gst_value_list_get_size (v);
  guint i;

  g_string_append_c (out, '[');
  for (i = 0; i < n; i++) {
    if (i > 0)
      g_string_append_c (out, ',');
    json_value (out, is_array ? gst_value_array_get_value (v, i)
        : gst_value_list_get_value (v, i));
  }
  g_string_append_c (out, ']');
}

/* A field's value as JSON: numbers as numbers (NONE stays
 * 18446744073709551615, as on the bus), arrays as arrays, structures as
 * objects, anything else serialized to a string. */
static void
json_value (GString * out, const GValue * v)
{
  GType t = G_VALUE_TYPE (v);

  if (t == G_TYPE_STRING)
    json_string (out, g_value_get_string (v));
  else if (t == G_TYPE_BOOLEAN)
    g_string_append (out, g_value_get_boolean (v) ? "true" : "false");
  else if (t == G_TYPE_INT)
    g_string_append_printf (out, "%d", g_value_get_int (v));
  else if (t == G_TYPE_UINT)
    g_string_append_printf (out, "%u", g_value_get_uint (v));
  else if (t == G_TYPE_INT64)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, g_value_get_int64 (v));
  else if (t == G_TYPE_UINT64)
    g_string_append_printf (out, "%" G_GUINT64_FORMAT, g_value_get_uint64 (v));
  else if (t == G_TYPE_DOUBLE)
    json_double (out, g_value_get_double (v));
  else if (GST_VALUE_HOLDS_ARRAY (v) || GST_VALUE_HOLDS_LIST (v))
    json_array (out, v);
  else if (GST_VALUE_HOLDS_STRUCTURE (v))
    json_structure (out, gst_value_get_structure (v));
  else {
    g_autofree gchar *text = gst_value_serialize (v);
    json_string (out, text);
  }
}

static gboolean
append_field (GQuark field, const GValue * value, gpointer user_data)
{
  GString *out = user_data;

  if (out->str[out->len - 1] != '{')
    g_string_append_c (out, ',');
  json_string (out, g_quark_to_string (field));
  g_string_append_c (out, ':');
  json_value (out, value);
  return TRUE;
}

/* {"message":"vdropmon-warning","level":"critical",...} or null */
static void
json_structure (GString * out, const GstStructure * s)
{
  if (s == NULL) {
    g_string_append (out, "null");
    return;
  }
  g_string_append (out, "{\"message\":");
  json_string (out, gst_structure_get_name (s));
  gst_structure_foreach (s, append_field, out);
  g_string_append_c (out, '}');
}

/* ------------------------------------------------------------------------ */
/* Decisions: stdout and the log.                                             */

static gint
current_height (const Adapter * a)
{
  return vdm_adapt_policy_height (&a->policy);
}

static gboolean
on_substream (const Adapter * a)
{
  return vdm_adapt_policy_on_substream (&a->policy);
}

static const gchar *
current_uri (const Adapter * a)
{
  return on_substream (a) ? a->opts->substream_uri : a->opts->uri;
}

static GstClockTime
running_time (const Adapter * a)
{
  return a->pipeline ? gst_element_get_current_running_time (a->pipeline) : GST_CLOCK_TIME_NONE;
}

/* The overlay: the last warning until a clear, then "ok"; and the height
 * in use. Refreshed with every decision. */
static void
overlay_refresh (Adapter * a)
{
  const GstStructure *warning = a->overlay_warning;
  g_autofree gchar *text = NULL;
  guint64 eta = GST_CLOCK_TIME_NONE;
  g_autofree gchar *eta_text = NULL;

  if (a->overlay == NULL)
    return;
  if (warning == NULL) {
    text = g_strdup_printf ("vdropmon: ok | %dp%s", current_height (a),
        on_substream (a) ? " substream" : "");
  } else {
    gst_structure_get_uint64 (warning, "stall-eta", &eta);
    eta_text = GST_CLOCK_TIME_IS_VALID (eta) ?
        g_strdup_printf ("%" G_GUINT64_FORMAT " ms", eta / GST_MSECOND) : g_strdup ("?");
    text = g_strdup_printf ("vdropmon: %s %s | %s | stall in %s | %dp%s",
        gst_structure_get_string (warning, "level"),
        gst_structure_get_string (warning, "cause"),
        gst_structure_get_string (warning, "action"), eta_text, current_height (a),
        on_substream (a) ? " substream" : "");
  }
  g_object_set (a->overlay, "text", text, NULL);
}

static void
print_reason (GString * line, const GstStructure * s)
{
  const gchar *name = gst_structure_get_name (s);
  guint64 eta = GST_CLOCK_TIME_NONE;

  if (g_str_equal (name, "vdropmon-warning")) {
    gst_structure_get_uint64 (s, "stall-eta", &eta);
    g_string_append_printf (line, " [%s %s, reasons %s, action %s, stall-eta ",
        gst_structure_get_string (s, "level"), gst_structure_get_string (s, "cause"),
        gst_structure_get_string (s, "reasons"), gst_structure_get_string (s, "action"));
    if (GST_CLOCK_TIME_IS_VALID (eta))
      g_string_append_printf (line, "%" G_GUINT64_FORMAT " ms]", eta / GST_MSECOND);
    else
      g_string_append (line, "unknown]");
  } else if (g_str_equal (name, "vdropmon-clear")) {
    guint64 duration = 0, drops = 0;

    gst_structure_get_uint64 (s, "duration", &duration);
    gst_structure_get_uint64 (s, "drops", &drops);
    g_string_append_printf (line, " [clear: %s, %" G_GUINT64_FORMAT " ms, %"
        G_GUINT64_FORMAT " drops]", gst_structure_get_string (s, "cause"),
        duration / GST_MSECOND, drops);
  }
}

/* One decision: a line on stdout and a JSON object in --log. `reason` is the
 * message behind it (a warning, a clear), or NULL. */
static void
log_decision (Adapter * a, const gchar * event, gint from, gint to,
    const GstStructure * reason, const gchar * note)
{
  gint64 now = mono_now_ns ();
  GstClockTime rt = running_time (a);
  const gchar *action = reason ? gst_structure_get_string (reason, "action") : NULL;
  GString *line = g_string_new (NULL);

  g_string_append_printf (line, "vdm-adapt: %s", event);
  if (from != to)
    g_string_append_printf (line, " %d -> %d", from, to);
  else
    g_string_append_printf (line, " at %d", to);
  if (note)
    g_string_append_printf (line, " (%s)", note);
  if (reason)
    print_reason (line, reason);
  g_print ("%s\n", line->str);
  g_string_free (line, TRUE);
  overlay_refresh (a);

  if (a->log == NULL)
    return;
  line = g_string_new (NULL);
  g_string_append_printf (line, "{\"time\":%" G_GINT64_FORMAT ",\"running-time\":", now);
  if (GST_CLOCK_TIME_IS_VALID (rt))
    g_string_append_printf (line, "%" G_GUINT64_FORMAT, rt);
  else
    g_string_append (line, "null");
  g_string_append (line, ",\"event\":");
  json_string (line, event);
  g_string_append (line, ",\"action\":");
  json_string (line, action ? action : "none");
  g_string_append_printf (line, ",\"from-height\":%d,\"to-height\":%d,\"uri\":", from, to);
  json_string (line, current_uri (a));
  g_string_append (line, ",\"note\":");
  if (note)
    json_string (line, note);
  else
    g_string_append (line, "null");
  g_string_append (line, ",\"reason\":");
  json_structure (line, reason);
  g_string_append (line, "}\n");
  fputs (line->str, a->log);
  fflush (a->log);
  g_string_free (line, TRUE);
}

/* ------------------------------------------------------------------------ */
/* Changing the output height.                                                */

/* The width that keeps the input's display aspect ratio at `height`, even
 * (4:2:0 encoders want it); 0 while the input is unknown. */
static gint
width_for_height (Adapter * a, gint height)
{
  gint width = 0;

  g_mutex_lock (&a->input_lock);
  if (a->input_width > 0 && a->input_height > 0 && a->input_par_d > 0) {
    gdouble dar = (gdouble) a->input_width * a->input_par_n
        / ((gdouble) a->input_height * a->input_par_d);
    width = MAX (2, (gint) round (height * dar / 2.0) * 2);
  }
  g_mutex_unlock (&a->input_lock);
  return width;
}

/* New caps on the capsfilter: videoscale gets a reconfigure event and
 * renegotiates on its next buffer, while PLAYING. */
static void
apply_height (Adapter * a)
{
  gint height = g_atomic_int_get (&a->target_height);
  g_autofree gchar *text = scale_caps_text (width_for_height (a, height), height);
  GstCaps *caps = gst_caps_from_string (text);

  g_object_set (a->scale, "caps", caps, NULL);
  gst_caps_unref (caps);
}

/* A pad probe on videoscale's sink pad: learns the decoded size and sets
 * the capsfilter to the width that keeps its aspect ratio, before
 * videoscale negotiates with it. Streaming thread. */
static GstPadProbeReturn
on_input_caps (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Adapter *a = user_data;
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  GstCaps *caps;
  GstVideoInfo vinfo;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS)
    return GST_PAD_PROBE_OK;
  gst_event_parse_caps (event, &caps);
  if (!gst_video_info_from_caps (&vinfo, caps))
    return GST_PAD_PROBE_OK;
  g_mutex_lock (&a->input_lock);
  a->input_width = GST_VIDEO_INFO_WIDTH (&vinfo);
  a->input_height = GST_VIDEO_INFO_HEIGHT (&vinfo);
  a->input_par_n = GST_VIDEO_INFO_PAR_N (&vinfo);
  a->input_par_d = GST_VIDEO_INFO_PAR_D (&vinfo);
  g_mutex_unlock (&a->input_lock);
  apply_height (a);
  return GST_PAD_PROBE_OK;
}

/* A pad probe on the capsfilter's source pad: new output caps went
 * downstream. Posts "vdm-adapt-renegotiated" so the main loop can log how
 * long the change took. Streaming thread. */
static GstPadProbeReturn
on_output_caps (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  GstElement *scale = user_data;
  GstCaps *caps;
  GstStructure *s;
  gint width = 0, height = 0;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS)
    return GST_PAD_PROBE_OK;
  gst_event_parse_caps (event, &caps);
  s = gst_caps_get_structure (caps, 0);
  gst_structure_get_int (s, "width", &width);
  gst_structure_get_int (s, "height", &height);
  gst_element_post_message (scale, gst_message_new_application (GST_OBJECT (scale),
          gst_structure_new ("vdm-adapt-renegotiated", "width", G_TYPE_INT, width,
              "height", G_TYPE_INT, height, NULL)));
  return GST_PAD_PROBE_OK;
}

static void
on_renegotiated (Adapter * a, const GstStructure * s)
{
  gint width = 0, height = 0;
  g_autofree gchar *note = NULL;

  gst_structure_get_int (s, "width", &width);
  gst_structure_get_int (s, "height", &height);
  if (a->change_pending_since)
    note = g_strdup_printf ("%dx%d, %" G_GINT64_FORMAT " ms after the decision",
        width, height, (mono_now_ns () - a->change_pending_since) / 1000000);
  else
    note = g_strdup_printf ("%dx%d", width, height);
  if (height == current_height (a))
    a->change_pending_since = 0;
  log_decision (a, "renegotiated", height, height, NULL, note);
}

/* ------------------------------------------------------------------------ */
/* Carrying out the policy's decisions.                                       */

static void
clear_timer (guint * id)
{
  if (*id) {
    g_source_remove (*id);
    *id = 0;
  }
}

static gboolean
restart_in_idle (gpointer user_data)
{
  Adapter *a = user_data;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *uri = g_steal_pointer (&a->restart_uri);

  a->restart_idle = 0;
  if (a->stopping)
    return G_SOURCE_REMOVE;
  if (!start_pipeline (a, uri, &err)) {
    g_printerr ("vdm-adapt: restarting with %s failed: %s\n", uri, err->message);
    a->exit_code = EXIT_RUNTIME;
    g_main_loop_quit (a->loop);
  }
  return G_SOURCE_REMOVE;
}

/* Rebuilds the pipeline with `uri`, from the main loop but not from inside
 * the bus watch that is about to go away with the old pipeline. */
static void
schedule_restart (Adapter * a, const gchar * uri)
{
  g_free (a->restart_uri);
  a->restart_uri = g_strdup (uri);
  if (!a->restart_idle)
    a->restart_idle = g_idle_add (restart_in_idle, a);
}

static gboolean vdropmon_requests_keyframes (Adapter * a);
static gboolean send_keyframe_request (Adapter * a);

static void
carry_out_keyframe_request (Adapter * a, const GstStructure * reason)
{
  gint height = current_height (a);

  if (vdropmon_requests_keyframes (a))
    log_decision (a, "keyframe-by-vdropmon", height, height, reason,
        "vdropmon's request-keyframe property sent it");
  else
    log_decision (a, "request-keyframe", height, height, reason,
        send_keyframe_request (a) ? "GstForceKeyUnit sent upstream, handled"
        : "GstForceKeyUnit sent upstream, reached the source unhandled");
}

static void
carry_out (Adapter * a, const vdm_adapt_decision * d)
{
  const GstStructure *reason = d->reason ?
      gst_message_get_structure ((GstMessage *) d->reason) : NULL;
  const gchar *event = vdm_adapt_event_name (d->event);

  switch (d->event) {
    case VDM_ADAPT_STEP_DOWN:
    case VDM_ADAPT_STEP_UP:
      g_atomic_int_set (&a->target_height, d->to_height);
      apply_height (a);
      a->change_pending_since = d->time_ns;
      log_decision (a, event, d->from_height, d->to_height, reason, d->note);
      break;
    case VDM_ADAPT_SWITCH_SUBSTREAM:
    case VDM_ADAPT_SWITCH_MAIN:
    case VDM_ADAPT_RESTART_SOURCE:
      a->change_pending_since = 0;
      log_decision (a, event, d->from_height, d->to_height, reason, current_uri (a));
      schedule_restart (a, current_uri (a));
      break;
    case VDM_ADAPT_REQUEST_KEYFRAME:
      carry_out_keyframe_request (a, reason);
      break;
    default:
      log_decision (a, event, d->from_height, d->to_height, reason, d->note);
      break;
  }
}

static void arm_policy_timer (Adapter * a);

/* Carries out what the policy decided, then waits for its next deadline. */
static void
carry_out_all (Adapter * a, vdm_adapt_decisions * out)
{
  guint i;

  for (i = 0; i < out->n; i++)
    carry_out (a, &out->d[i]);
  vdm_adapt_decisions_release (&a->policy, out);
  arm_policy_timer (a);
}

static gboolean
on_policy_due (gpointer user_data)
{
  Adapter *a = user_data;
  vdm_adapt_decisions out;

  a->policy_timer = 0;
  if (a->stopping)
    return G_SOURCE_REMOVE;
  vdm_adapt_policy_tick (&a->policy, mono_now_ns (), &out);
  carry_out_all (a, &out);
  return G_SOURCE_REMOVE;
}

static void
arm_policy_timer (Adapter * a)
{
  gint64 due = vdm_adapt_policy_next_deadline (&a->policy);
  gint64 left;

  clear_timer (&a->policy_timer);
  if (due == VDM_ADAPT_NEVER)
    return;
  left = MAX (0, due - mono_now_ns ());
  /* Rounded up: the policy does nothing before its deadline. */
  a->policy_timer = g_timeout_add ((guint) MIN ((left + 999999) / 1000000, G_MAXUINT),
      on_policy_due, a);
}

static const void *
retain_message (const void *message)
{
  return gst_message_ref ((GstMessage *) message);
}

static void
release_message (const void *message)
{
  gst_message_unref ((GstMessage *) message);
}

static void
init_policy (Adapter * a)
{
  const Options *o = a->opts;
  vdm_adapt_config config = {.n_rungs = o->n_rungs,.has_substream = o->substream_uri != NULL,
    .min_dwell_ns = (gint64) round (o->min_dwell_s * 1e9),
    .step_up_after_ns = (gint64) round (o->step_up_after_s * 1e9),
    .retain = retain_message,.release = release_message
  };

  memcpy (config.ladder, o->ladder, sizeof (config.ladder));
  vdm_adapt_policy_init (&a->policy, &config);
  g_atomic_int_set (&a->target_height, current_height (a));
}

/* ------------------------------------------------------------------------ */
/* vdropmon messages.                                                         */

static gboolean
vdropmon_requests_keyframes (Adapter * a)
{
  gboolean on = FALSE;

  if (a->vdropmon)
    g_object_get (a->vdropmon, "request-keyframe", &on, NULL);
  return on;
}

/* Upstream from the capsfilter: through videoscale, the decoder, the
 * parser and the depayloader to vdropmon and the source; rtpbin (inside
 * rtspsrc) turns it into an RTCP PLI on the way, yet the event usually
 * ends unhandled at a udpsrc, so the result says little. */
static gboolean
send_keyframe_request (Adapter * a)
{
  GstPad *pad = gst_element_get_static_pad (a->scale, "sink");
  GstEvent *event = gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE,
      TRUE, 0);
  gboolean handled = gst_pad_push_event (pad, event);

  gst_object_unref (pad);
  return handled;
}

static gint
int_field (const GstStructure * s, const gchar * name)
{
  gint value = -1;

  gst_structure_get_int (s, name, &value);
  return value;
}

static void
on_warning (Adapter * a, GstMessage * message)
{
  const GstStructure *s = gst_message_get_structure (message);
  vdm_adapt_warning warning = {
    .action = vdm_adapt_action_from_string (gst_structure_get_string (s, "action")),
    .level = gst_structure_get_string (s, "level"),
    .cause = gst_structure_get_string (s, "cause"),
    .suggested_height = int_field (s, "suggested-height"),
    .suggested_bitrate = int_field (s, "suggested-bitrate"),
    .tag = message,
  };
  vdm_adapt_decisions out;

  replace_structure (&a->overlay_warning, s);
  vdm_adapt_policy_on_warning (&a->policy, mono_now_ns (), &warning, &out);
  carry_out_all (a, &out);
}

static void
on_clear (Adapter * a, GstMessage * message)
{
  vdm_adapt_decisions out;

  replace_structure (&a->overlay_warning, NULL);
  vdm_adapt_policy_on_clear (&a->policy, mono_now_ns (), message, &out);
  carry_out_all (a, &out);
}

static void
on_element_message (Adapter * a, GstMessage * message)
{
  const GstStructure *s = gst_message_get_structure (message);

  /* Once stopping, the silence that EOS causes is no news. */
  if (s == NULL || a->stopping)
    return;
  if (gst_structure_has_name (s, "vdropmon-warning"))
    on_warning (a, message);
  else if (gst_structure_has_name (s, "vdropmon-clear"))
    on_clear (a, message);
}

/* ------------------------------------------------------------------------ */
/* Pipeline life.                                                             */

static gboolean
quit_now (gpointer user_data)
{
  Adapter *a = user_data;

  g_main_loop_quit (a->loop);
  return G_SOURCE_REMOVE;
}

/* EOS first, so that the sinks finish (a relay's encoder drains) and
 * vdropmon posts the drops it still holds; then quit. */
static void
shut_down (Adapter * a)
{
  if (a->stopping) {
    g_main_loop_quit (a->loop);
    return;
  }
  a->stopping = TRUE;
  if (a->pipeline == NULL || !gst_element_send_event (a->pipeline, gst_event_new_eos ())) {
    g_main_loop_quit (a->loop);
    return;
  }
  /* Live sources may not turn EOS into an EOS message quickly: bounded. */
  g_timeout_add (SHUTDOWN_GRACE_MS, quit_now, a);
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
        on_renegotiated (a, gst_message_get_structure (message));
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

static void
stop_pipeline (Adapter * a)
{
  if (a->pipeline == NULL)
    return;
  gst_element_set_state (a->pipeline, GST_STATE_NULL);
  if (a->bus_watch) {
    g_source_remove (a->bus_watch);
    a->bus_watch = 0;
  }
  gst_clear_object (&a->vdropmon);
  gst_clear_object (&a->scale);
  gst_clear_object (&a->overlay);
  gst_clear_object (&a->pipeline);
}

static gboolean
set_vdropmon_props (Adapter * a, GError ** err)
{
  gboolean flv = g_str_has_prefix (current_uri (a), "http");
  gint playout_ms = a->opts->playout_buffer_ms ? a->opts->playout_buffer_ms : flv ? 1000 : 0;
  gchar **p;

  /* An HTTP-FLV pipeline reports no latency; the runway needs a buffer size. */
  if (playout_ms)
    g_object_set (a->vdropmon, "playout-buffer", (guint64) playout_ms * GST_MSECOND, NULL);
  for (p = a->opts->vdropmon_props; p && *p; p++) {
    g_auto (GStrv) kv = g_strsplit (*p, "=", 2);

    if (kv[0] == NULL || kv[1] == NULL
        || !g_object_class_find_property (G_OBJECT_GET_CLASS (a->vdropmon), kv[0])) {
      g_set_error (err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--set '%s': not PROP=VALUE with a vdropmon property", *p);
      return FALSE;
    }
    gst_util_set_object_arg (G_OBJECT (a->vdropmon), kv[0], kv[1]);
  }
  return TRUE;
}

/* A new output size changes nothing for the compressed part of the
 * pipeline, yet a RECONFIGURE event left to travel upstream reaches the
 * source, which then renegotiates and sends a serialized ALLOCATION query
 * downstream: rtpjitterbuffer holds that query until everything queued
 * before it has been pushed (a jitterbuffer latency, more behind a slow
 * sink), and meanwhile the source reads nothing from its socket. The
 * decoder renegotiates its own output; upstream of it, drop the event. */
static GstPadProbeReturn
drop_reconfigure (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_RECONFIGURE)
    return GST_PAD_PROBE_DROP;
  return GST_PAD_PROBE_OK;
}

static void
add_probe (GstElement * element, const gchar * pad_name, GstPadProbeType type,
    GstPadProbeCallback callback, gpointer data)
{
  GstPad *pad = gst_element_get_static_pad (element, pad_name);

  gst_pad_add_probe (pad, type, callback, data, NULL);
  gst_object_unref (pad);
}

/* --frame-log: the CLOCK_MONOTONIC time each frame is shown. A fakesink
 * (the default) says so itself: its "handoff" comes after its clock wait,
 * so with sync=true that is when a display would show the frame. For other
 * sinks, the time the frame is handed to the sink part, which a
 * synchronised sink shows up to the pipeline latency later. */
static void
log_frame_now (Adapter * a)
{
  fprintf (a->frame_log, "%" G_GINT64_FORMAT "\n", mono_now_ns ());
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

static void
add_frame_log (Adapter * a)
{
  GstElement *sink, *convert;

  if (a->frame_log == NULL)
    return;
  sink = handoff_sink (a->pipeline);
  if (sink) {
    g_object_set (sink, "signal-handoffs", TRUE, NULL);
    g_signal_connect (sink, "handoff", G_CALLBACK (on_sink_handoff), a);
    gst_object_unref (sink);
    return;
  }
  convert = gst_bin_get_by_name (GST_BIN (a->pipeline), "convert");
  add_probe (convert, "src", GST_PAD_PROBE_TYPE_BUFFER, on_frame_handed, a);
  gst_object_unref (convert);
}

/* The element linked to `element`'s sink pad. */
static GstElement *
upstream_element (GstElement * element)
{
  GstPad *sink = gst_element_get_static_pad (element, "sink");
  GstPad *peer = gst_pad_get_peer (sink);
  GstElement *upstream = gst_pad_get_parent_element (peer);

  gst_object_unref (peer);
  gst_object_unref (sink);
  return upstream;
}

/* Builds the pipeline for `uri` at the current rung and sets it PLAYING;
 * an existing one is stopped first. */
static gboolean
start_pipeline (Adapter * a, const gchar * uri, GError ** err)
{
  g_autofree gchar *description = pipeline_description (a, uri, err);
  GstElement *videoscale, *decoder;
  GstBus *bus;

  stop_pipeline (a);
  if (description == NULL)
    return FALSE;
  a->pipeline = gst_parse_launch_full (description, NULL, GST_PARSE_FLAG_FATAL_ERRORS, err);
  if (a->pipeline == NULL)
    return FALSE;
  a->vdropmon = gst_bin_get_by_name (GST_BIN (a->pipeline), "vdm");
  a->scale = gst_bin_get_by_name (GST_BIN (a->pipeline), "scale");
  a->overlay = a->opts->overlay ? gst_bin_get_by_name (GST_BIN (a->pipeline), "overlay") : NULL;
  if (!set_vdropmon_props (a, err))
    return FALSE;
  g_mutex_lock (&a->input_lock);
  a->input_width = a->input_height = 0;
  g_mutex_unlock (&a->input_lock);
  add_probe (a->scale, "src", GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_output_caps, a->scale);
  videoscale = upstream_element (a->scale);
  add_probe (videoscale, "sink", GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_input_caps, a);
  decoder = upstream_element (videoscale);
  add_probe (decoder, "sink", GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, drop_reconfigure, NULL);
  gst_object_unref (decoder);
  gst_object_unref (videoscale);
  add_frame_log (a);
  overlay_refresh (a);
  bus = gst_element_get_bus (a->pipeline);
  a->bus_watch = gst_bus_add_watch (bus, on_bus_message, a);
  gst_object_unref (bus);
  log_decision (a, "start", current_height (a), current_height (a), NULL, uri);
  if (gst_element_set_state (a->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_set_error (err, GST_CORE_ERROR, GST_CORE_ERROR_STATE_CHANGE,
        "the pipeline would not start (see the error above)");
    return FALSE;
  }
  /* A new pipeline means a new vdropmon without an episode (its clear will
   * never come): the quiet that counts toward stepping up starts now. */
  if (a->started_once) {
    vdm_adapt_policy_on_source_restarted (&a->policy, mono_now_ns ());
    arm_policy_timer (a);
  }
  a->started_once = TRUE;
  return TRUE;
}

/* ------------------------------------------------------------------------ */

static gboolean
on_signal (gpointer user_data)
{
  Adapter *a = user_data;

  g_print ("vdm-adapt: signal, stopping\n");
  shut_down (a);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_duration_over (gpointer user_data)
{
  Adapter *a = user_data;

  log_decision (a, "duration-over", current_height (a), current_height (a), NULL, NULL);
  shut_down (a);
  return G_SOURCE_REMOVE;
}

static void
print_summary (const Adapter * a)
{
  g_print ("vdm-adapt: done: %u warnings, %u clears, %u steps down, %u steps up, "
      "ending at %dp%s\n", a->policy.warnings, a->policy.clears, a->policy.steps_down,
      a->policy.steps_up, current_height (a), on_substream (a) ? " (substream)" : "");
}

int
main (int argc, char **argv)
{
  Options opts = {.ladder_text = g_strdup ("1080,720,480"),.start_height = 1080,
    .step_up_after_s = 5.0,.min_dwell_s = 2.0,.latency_ms = 200
  };
  Adapter a = {.opts = &opts };
  g_autoptr (GError) err = NULL;
  GstStructure *final_stats = NULL;
  guint sigint, sigterm;

  if (!parse_options (&opts, &argc, &argv))
    return EXIT_USAGE;
  if (opts.log_path && (a.log = fopen (opts.log_path, "w")) == NULL) {
    g_printerr ("vdm-adapt: cannot write %s: %s\n", opts.log_path, g_strerror (errno));
    return EXIT_USAGE;
  }
  if (opts.frame_log_path && (a.frame_log = fopen (opts.frame_log_path, "w")) == NULL) {
    g_printerr ("vdm-adapt: cannot write %s: %s\n", opts.frame_log_path, g_strerror (errno));
    return EXIT_USAGE;
  }
  /* Whole lines even if the process is killed: a reader never sees half a time. */
  if (a.frame_log)
    setvbuf (a.frame_log, NULL, _IOLBF, 0);
  g_mutex_init (&a.input_lock);
  init_policy (&a);
  a.loop = g_main_loop_new (NULL, FALSE);
  if (!start_pipeline (&a, opts.uri, &err)) {
    g_printerr ("vdm-adapt: %s\n", err->message);
    if (!gst_registry_check_feature_version (gst_registry_get (), "vdropmon", 1, 0, 0))
      g_printerr ("vdm-adapt: vdropmon not found: GST_PLUGIN_PATH=build/plugin?\n");
    stop_pipeline (&a);
    /* A URI, --set or --sink that does not parse is a usage error. */
    return err->domain == G_OPTION_ERROR || err->domain == GST_PARSE_ERROR ?
        EXIT_USAGE : EXIT_RUNTIME;
  }
  sigint = g_unix_signal_add (SIGINT, on_signal, &a);
  sigterm = g_unix_signal_add (SIGTERM, on_signal, &a);
  if (opts.duration_s > 0)
    g_timeout_add (seconds_to_ms (opts.duration_s), on_duration_over, &a);
  g_main_loop_run (a.loop);

  /* vdropmon's last counters (kernel-drops, warnings, keyframe requests...)
   * go with the "stop" line, for whoever reads the log. */
  if (a.vdropmon)
    g_object_get (a.vdropmon, "stats", &final_stats, NULL);
  log_decision (&a, "stop", current_height (&a), current_height (&a), final_stats, NULL);
  if (final_stats)
    gst_structure_free (final_stats);
  stop_pipeline (&a);
  print_summary (&a);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  if (a.log)
    fclose (a.log);
  if (a.frame_log)
    fclose (a.frame_log);
  clear_timer (&a.policy_timer);
  vdm_adapt_policy_clear (&a.policy);
  replace_structure (&a.overlay_warning, NULL);
  g_free (a.restart_uri);
  g_main_loop_unref (a.loop);
  g_mutex_clear (&a.input_lock);
  return a.exit_code;
}
