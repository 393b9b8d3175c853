/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* source.c — the pipeline description (source.h). */
#include "source.h"

#include <string.h>

#define RTP_H264_CAPS "application/x-rtp,media=video,clock-rate=90000," \
  "encoding-name=H264,payload=96"

typedef enum
{
  SOURCE_RTSP,
  SOURCE_HTTP_FLV,
  SOURCE_UDP,
} SourceKind;

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

gchar *
source_scale_caps (gint width, gint height)
{
  if (width > 0)
    return g_strdup_printf ("video/x-raw,width=%d,height=%d,pixel-aspect-ratio=1/1",
        width, height);
  return g_strdup_printf ("video/x-raw,height=%d,pixel-aspect-ratio=1/1", height);
}

gchar *
source_pipeline_description (const Options * o, const gchar * uri, gint height, GError ** err)
{
  g_autofree gchar *source = source_description (o, uri, err);
  g_autofree gchar *caps = NULL;

  if (source == NULL)
    return NULL;
  caps = source_scale_caps (0, height);
  return g_strdup_printf ("%s ! videoscale ! capsfilter name=scale caps=\"%s\" %s "
      "! videoconvert name=convert ! %s", source, caps,
      o->overlay ? "! textoverlay name=overlay text=\"vdropmon: ok\" valignment=top "
      "halignment=left font-desc=\"Sans 14\" shaded-background=true" : "",
      o->sink ? o->sink : "fakesink");
}
