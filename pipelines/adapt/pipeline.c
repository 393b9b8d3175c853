/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pipeline.c — the pipeline vdm-adapt runs (source.c describes it): built,
 * probed, started, stopped; the output height, keyframe requests and the
 * overlay applied to it.
 */
#include "adapter.h"

#include <gst/video/video.h>
#include <math.h>

#include "source.h"

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
void
pipeline_apply_height (Adapter * a)
{
  gint height = g_atomic_int_get (&a->target_height);
  g_autofree gchar *text = source_scale_caps (width_for_height (a, height), height);
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
  pipeline_apply_height (a);
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

/* The overlay: the last warning until a clear, then "ok"; and the height
 * in use. Refreshed with every decision. */
void
pipeline_refresh_overlay (Adapter * a)
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

GstClockTime
pipeline_running_time (const Adapter * a)
{
  return a->pipeline ? gst_element_get_current_running_time (a->pipeline) : GST_CLOCK_TIME_NONE;
}

gboolean
pipeline_vdropmon_requests_keyframes (Adapter * a)
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
gboolean
pipeline_request_keyframe (Adapter * a)
{
  GstPad *pad = gst_element_get_static_pad (a->scale, "sink");
  GstEvent *event = gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE,
      TRUE, 0);
  gboolean handled = gst_pad_push_event (pad, event);

  gst_object_unref (pad);
  return handled;
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

void
pipeline_stop (Adapter * a)
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

/* The probes of a new pipeline: output size learned and applied, a
 * RECONFIGURE stopped at the decoder, new output caps reported, frames
 * logged. */
static void
add_probes (Adapter * a)
{
  GstElement *videoscale, *decoder, *convert;

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
  if (a->frame_log) {
    convert = gst_bin_get_by_name (GST_BIN (a->pipeline), "convert");
    frame_log_attach (a->frame_log, a->pipeline, convert);
    gst_object_unref (convert);
  }
}

gboolean
pipeline_start (Adapter * a, const gchar * uri, GError ** err)
{
  g_autofree gchar *description = source_pipeline_description (a->opts, uri,
      current_height (a), err);

  pipeline_stop (a);
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
  add_probes (a);
  pipeline_refresh_overlay (a);
  a->bus_watch = bus_watch_add (a);
  log_decision (a, "start", current_height (a), current_height (a), NULL, uri);
  if (gst_element_set_state (a->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_set_error (err, GST_CORE_ERROR, GST_CORE_ERROR_STATE_CHANGE,
        "the pipeline would not start (see the error above)");
    return FALSE;
  }
  /* A new pipeline means a new vdropmon without an episode (its clear will
   * never come): the quiet that counts toward stepping up starts now. */
  if (a->started_once)
    decisions_on_source_restarted (a);
  a->started_once = TRUE;
  return TRUE;
}
