/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of vdm-adapt's pipeline description (pipelines/adapt/source.c):
 * vdropmon right behind what reads the network for each kind of URI, the
 * options where they belong, and URIs it must refuse.
 */
#include <glib.h>

#include "source.h"

static Options
default_options (void)
{
  Options o = {.latency_ms = 200 };

  return o;
}

static gchar *
describe (const Options * o, const gchar * uri, gint height)
{
  g_autoptr (GError) err = NULL;
  gchar *d = source_pipeline_description (o, uri, height, &err);

  g_assert_no_error (err);
  g_assert_nonnull (d);
  return d;
}

static void
assert_contains (const gchar * text, const gchar * part)
{
  if (strstr (text, part) == NULL)
    g_error ("'%s' is not in '%s'", part, text);
}

static void
test_udp (void)
{
  Options o = default_options ();
  g_autofree gchar *d = NULL, *v6 = NULL;

  o.buffer_size = 16384;
  d = describe (&o, "udp://5004", 720);
  g_assert_true (g_str_has_prefix (d, "udpsrc name=src address=\"127.0.0.1\" port=5004 "
          "buffer-size=16384 caps=\"application/x-rtp,"));
  assert_contains (d, "! vdropmon name=vdm ! rtpjitterbuffer latency=200 ! rtph264depay "
      "! h264parse ! avdec_h264 ! videoscale ! capsfilter name=scale "
      "caps=\"video/x-raw,height=720,pixel-aspect-ratio=1/1\"");
  g_assert_true (g_str_has_suffix (d, "! videoconvert name=convert ! fakesink"));
  v6 = describe (&o, "udp://[::1]:6000", 480);
  assert_contains (v6, "address=\"::1\" port=6000 ");
}

static void
test_rtsp (void)
{
  Options o = default_options ();
  g_autofree gchar *plain = NULL, *tcp = NULL;

  plain = describe (&o, "rtsp://127.0.0.1:8554/test", 1080);
  g_assert_true (g_str_has_prefix (plain, "rtspsrc name=src "
          "location=\"rtsp://127.0.0.1:8554/test\" latency=200 ! application/x-rtp,"
          "media=video,encoding-name=H264 ! vdropmon name=vdm ! rtph264depay"));
  g_assert_null (strstr (plain, "protocols="));
  g_assert_null (strstr (plain, "udp-buffer-size"));
  o.rtsp_transport = (gchar *) "tcp";
  o.buffer_size = 65536;
  o.latency_ms = 500;
  tcp = describe (&o, "rtsp://h/x", 1080);
  assert_contains (tcp, "latency=500 protocols=tcp udp-buffer-size=65536 !");
}

/* HTTP-FLV: vdropmon after flvdemux, where the video has timestamps. */
static void
test_http_flv (void)
{
  Options o = default_options ();
  g_autofree gchar *d = describe (&o, "http://127.0.0.1:8080/live.flv", 360);

  g_assert_true (g_str_has_prefix (d, "souphttpsrc name=src "
          "location=\"http://127.0.0.1:8080/live.flv\" is-live=true ! flvdemux name=demux "
          "demux.video ! vdropmon name=vdm ! h264parse ! avdec_h264 ! videoscale"));
}

static void
test_overlay_and_sink (void)
{
  Options o = default_options ();
  g_autofree gchar *d = NULL;

  o.overlay = TRUE;
  o.sink = (gchar *) "fakesink sync=true";
  d = describe (&o, "udp://5004", 480);
  assert_contains (d, "pixel-aspect-ratio=1/1\" ! textoverlay name=overlay ");
  g_assert_true (g_str_has_suffix (d, "! videoconvert name=convert ! fakesink sync=true"));
}

static void
test_refused (void)
{
  static const gchar *const bad[] = { "ftp://h/x", "udp://0", "udp://70000", "udp://:5004",
    "udp://h:port", "udp://a b:5004", "rtsp://h/\"x", "5004", ""
  };
  Options o = default_options ();
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) err = NULL;
    gchar *d = source_pipeline_description (&o, bad[i], 720, &err);

    if (d != NULL)
      g_error ("'%s' was taken: %s", bad[i], d);
    g_assert_error (err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
  }
}

static void
test_scale_caps (void)
{
  g_autofree gchar *with_width = source_scale_caps (1280, 720);
  g_autofree gchar *height_only = source_scale_caps (0, 720);

  g_assert_cmpstr (with_width, ==, "video/x-raw,width=1280,height=720,pixel-aspect-ratio=1/1");
  g_assert_cmpstr (height_only, ==, "video/x-raw,height=720,pixel-aspect-ratio=1/1");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/adapt-source/udp", test_udp);
  g_test_add_func ("/adapt-source/rtsp", test_rtsp);
  g_test_add_func ("/adapt-source/http-flv", test_http_flv);
  g_test_add_func ("/adapt-source/overlay-and-sink", test_overlay_and_sink);
  g_test_add_func ("/adapt-source/refused", test_refused);
  g_test_add_func ("/adapt-source/scale-caps", test_scale_caps);
  return g_test_run ();
}
