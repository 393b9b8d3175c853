/* vdm-rtsp-server — a real RTSP server (gst-rtsp-server) with a live,
 * synthetic H.264 stream, for tests and the pipelines/ scripts.
 *
 * Every client gets its own pipeline (the factory is not shared), so two
 * receivers of the same mount are independent: a stall or a drop on one
 * never shows on the other.  Clients may use UDP or TCP-interleaved
 * transport.  With --mounts N the server offers N mounts MOUNT0..MOUNT{N-1}
 * (e.g. /test0, /test1) for "two streams side by side" tests.
 *
 * Stdout is line-buffered; once the server listens it prints one line
 *   READY rtsp://ADDR:PORT/MOUNT
 * per mount (all mounts are live when the first line appears).  --port 0
 * lets the kernel pick a free port; the READY lines carry it.
 *
 * The server binds to loopback unless --address names another address
 * (for tests that run it inside a network namespace they created).
 *
 * Exit status: 0 after SIGINT/SIGTERM or --duration-s, 1 runtime error,
 * 2 bad arguments.
 */
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <stdio.h>

#include "server_common.h"

#define MAX_MOUNTS 64
#define SESSION_CLEANUP_INTERVAL_S 2

typedef struct
{
  VdmServerOptions common;
  gchar *mount;
  gint mounts;
} ServerOptions;

static gboolean
parse_options (ServerOptions * opts, int *argc, char ***argv)
{
  GOptionEntry entries[] = {
    {"mount", 0, 0, G_OPTION_ARG_STRING, &opts->mount,
        "Mount point, or prefix with --mounts > 1 (default /test)", "PATH"},
    {"mounts", 0, 0, G_OPTION_ARG_INT, &opts->mounts,
        "Serve N independent mounts MOUNT0..MOUNT{N-1}", "N"},
    {NULL}
  };

  return vdm_server_parse_options (&opts->common, entries,
      "- test RTSP server", argc, argv);
}

static gboolean
mount_is_absolute (const gchar * mount)
{
  if (mount[0] == '/')
    return TRUE;
  g_printerr ("vdm-rtsp-server: --mount must start with '/', got '%s'\n",
      mount);
  return FALSE;
}

static gboolean
validate_options (const ServerOptions * opts)
{
  return vdm_server_options_valid (&opts->common)
      && vdm_server_check_range ("mounts", opts->mounts, 1, MAX_MOUNTS)
      && mount_is_absolute (opts->mount);
}

static gchar *
mount_path (const ServerOptions * opts, gint index)
{
  if (opts->mounts == 1)
    return g_strdup (opts->mount);
  return g_strdup_printf ("%s%d", opts->mount, index);
}

static gchar *
launch_line (const ServerOptions * opts, const gchar * path)
{
  g_autofree gchar *encoder = vdm_server_encoder_launch (&opts->common, path);

  return g_strdup_printf ("( %s! rtph264pay name=pay0 pt=96 "
      "config-interval=-1 )", encoder);
}

/* rtph264pay's caps carry no frame size; add "a-framesize" on the way
 * out so the SDP (built from the stream's caps) announces it and a
 * receiver knows the resolution before the first keyframe. */
static GstPadProbeReturn
add_framesize_to_caps (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  const ServerOptions *opts = data;
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  GstCaps *caps;
  gchar *framesize;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS)
    return GST_PAD_PROBE_OK;
  gst_event_parse_caps (event, &caps);
  caps = gst_caps_copy (caps);
  framesize = g_strdup_printf ("%d-%d", opts->common.width,
      opts->common.height);
  gst_caps_set_simple (caps, "a-framesize", G_TYPE_STRING, framesize, NULL);
  g_free (framesize);
  gst_event_unref (event);
  GST_PAD_PROBE_INFO_DATA (info) = gst_event_new_caps (caps);
  gst_caps_unref (caps);
  return GST_PAD_PROBE_OK;
}

static void
on_media_configure (GstRTSPMediaFactory * factory, GstRTSPMedia * media,
    gpointer data)
{
  g_autoptr (GstElement) bin = gst_rtsp_media_get_element (media);
  g_autoptr (GstElement) pay = NULL;
  g_autoptr (GstPad) src = NULL;

  pay = gst_bin_get_by_name (GST_BIN (bin), "pay0");
  if (pay == NULL)
    return;
  src = gst_element_get_static_pad (pay, "src");
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      add_framesize_to_caps, data, NULL);
}

static GstRTSPMediaFactory *
create_factory (const ServerOptions * opts, const gchar * path)
{
  GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new ();
  g_autofree gchar *launch = launch_line (opts, path);

  gst_rtsp_media_factory_set_launch (factory, launch);
  /* One pipeline per client: receivers must not influence each other. */
  gst_rtsp_media_factory_set_shared (factory, FALSE);
  gst_rtsp_media_factory_set_protocols (factory,
      GST_RTSP_LOWER_TRANS_UDP | GST_RTSP_LOWER_TRANS_TCP);
  g_signal_connect (factory, "media-configure",
      G_CALLBACK (on_media_configure), (gpointer) opts);
  return factory;
}

static void
mount_streams (GstRTSPServer * server, const ServerOptions * opts)
{
  g_autoptr (GstRTSPMountPoints) mounts = gst_rtsp_server_get_mount_points
      (server);

  for (gint i = 0; i < opts->mounts; i++) {
    g_autofree gchar *path = mount_path (opts, i);
    gst_rtsp_mount_points_add_factory (mounts, path,
        create_factory (opts, path));
  }
}

static void
announce_ready (GstRTSPServer * server, const ServerOptions * opts)
{
  g_autofree gchar *host = vdm_server_url_host (opts->common.address);
  gint port = gst_rtsp_server_get_bound_port (server);

  for (gint i = 0; i < opts->mounts; i++) {
    g_autofree gchar *path = mount_path (opts, i);
    printf ("READY rtsp://%s:%d%s\n", host, port, path);
  }
  fflush (stdout);
}

/* Sessions of clients that vanished without TEARDOWN keep their
 * pipeline until they time out; reap them so pipelines do not pile up. */
static gboolean
cleanup_sessions (gpointer server)
{
  g_autoptr (GstRTSPSessionPool) pool =
      gst_rtsp_server_get_session_pool (server);

  gst_rtsp_session_pool_cleanup (pool);
  return G_SOURCE_CONTINUE;
}

static GstRTSPFilterResult
close_client (GstRTSPServer * server, GstRTSPClient * client, gpointer data)
{
  return GST_RTSP_FILTER_REMOVE;
}

static int
run_server (const ServerOptions * opts)
{
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (GstRTSPServer) server = gst_rtsp_server_new ();
  g_autofree gchar *service = g_strdup_printf ("%d", opts->common.port);
  guint source_id;

  gst_rtsp_server_set_address (server, opts->common.address);
  gst_rtsp_server_set_service (server, service);
  mount_streams (server, opts);

  source_id = gst_rtsp_server_attach (server, NULL);
  if (source_id == 0) {
    g_printerr ("vdm-rtsp-server: cannot listen on %s:%d\n",
        opts->common.address, opts->common.port);
    return VDM_SERVER_EXIT_RUNTIME;
  }

  vdm_server_quit_on_signals (loop, &opts->common);
  g_timeout_add_seconds (SESSION_CLEANUP_INTERVAL_S, cleanup_sessions, server);

  vdm_server_warn_if_no_timeoverlay ();
  announce_ready (server, opts);
  g_main_loop_run (loop);

  /* Stop accepting, then close every client (which tears down its
   * pipeline) before we leave. */
  g_source_remove (source_id);
  gst_rtsp_server_client_filter (server, close_client, NULL);
  return 0;
}

int
main (int argc, char **argv)
{
  ServerOptions opts = {.mounts = 1 };
  int status;

  g_set_prgname ("vdm-rtsp-server");
  setvbuf (stdout, NULL, _IOLBF, 0);
  vdm_server_options_init (&opts.common, 8554);
  if (!parse_options (&opts, &argc, &argv))
    return VDM_SERVER_EXIT_USAGE;
  if (opts.mount == NULL)
    opts.mount = g_strdup ("/test");
  if (!validate_options (&opts))
    return VDM_SERVER_EXIT_USAGE;

  status = run_server (&opts);
  vdm_server_options_clear (&opts.common);
  g_free (opts.mount);
  return status;
}
