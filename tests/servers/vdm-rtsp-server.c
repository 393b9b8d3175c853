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
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

#define MAX_MOUNTS 64
#define SESSION_CLEANUP_INTERVAL_S 2

typedef struct
{
  gint port;
  gchar *address;
  gchar *mount;
  gint width;
  gint height;
  gint fps;
  gint bitrate_kbps;
  gint key_int;
  gchar *pattern;
  gint mounts;
  gint duration_s;
} ServerOptions;

static gboolean
parse_options (ServerOptions * opts, int *argc, char ***argv)
{
  GOptionEntry entries[] = {
    {"port", 0, 0, G_OPTION_ARG_INT, &opts->port,
        "TCP port (0 = pick a free one; see the READY line)", "PORT"},
    {"address", 0, 0, G_OPTION_ARG_STRING, &opts->address,
        "Address to listen on (default 127.0.0.1)", "ADDR"},
    {"mount", 0, 0, G_OPTION_ARG_STRING, &opts->mount,
        "Mount point, or prefix with --mounts > 1 (default /test)", "PATH"},
    {"width", 0, 0, G_OPTION_ARG_INT, &opts->width, "Frame width", "W"},
    {"height", 0, 0, G_OPTION_ARG_INT, &opts->height, "Frame height", "H"},
    {"fps", 0, 0, G_OPTION_ARG_INT, &opts->fps, "Frames per second", "N"},
    {"bitrate", 0, 0, G_OPTION_ARG_INT, &opts->bitrate_kbps,
        "H.264 bitrate in kbit/s", "KBPS"},
    {"key-int", 0, 0, G_OPTION_ARG_INT, &opts->key_int,
        "Maximum frames between keyframes", "FRAMES"},
    {"pattern", 0, 0, G_OPTION_ARG_STRING, &opts->pattern,
        "videotestsrc pattern nick (default ball)", "NAME"},
    {"mounts", 0, 0, G_OPTION_ARG_INT, &opts->mounts,
        "Serve N independent mounts MOUNT0..MOUNT{N-1}", "N"},
    {"duration-s", 0, 0, G_OPTION_ARG_INT, &opts->duration_s,
        "Exit after this many seconds (0 = until SIGINT/SIGTERM)", "S"},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- test RTSP server");
  g_autoptr (GError) err = NULL;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, argc, argv, &err)) {
    g_printerr ("vdm-rtsp-server: %s\n", err->message);
    return FALSE;
  }
  return TRUE;
}

static gboolean
check_range (const gchar * name, gint value, gint min, gint max)
{
  if (value >= min && value <= max)
    return TRUE;
  g_printerr ("vdm-rtsp-server: --%s must be in [%d, %d], got %d\n",
      name, min, max, value);
  return FALSE;
}

/* Catch a typo in --pattern now rather than as a DESCRIBE failure when
 * the first client arrives. */
static gboolean
pattern_is_known (const gchar * pattern)
{
  g_autoptr (GstElement) src = gst_element_factory_make ("videotestsrc", NULL);
  GParamSpec *pspec;

  if (src == NULL) {
    g_printerr ("vdm-rtsp-server: videotestsrc is not available\n");
    return FALSE;
  }
  gst_object_ref_sink (src);
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (src), "pattern");
  if (g_enum_get_value_by_nick (G_PARAM_SPEC_ENUM (pspec)->enum_class,
          pattern) != NULL)
    return TRUE;
  g_printerr ("vdm-rtsp-server: unknown videotestsrc pattern '%s'\n",
      pattern);
  return FALSE;
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
  return check_range ("port", opts->port, 0, 65535)
      && check_range ("width", opts->width, 16, 7680)
      && check_range ("height", opts->height, 16, 4320)
      && check_range ("fps", opts->fps, 1, 240)
      && check_range ("bitrate", opts->bitrate_kbps, 16, 200000)
      && check_range ("key-int", opts->key_int, 1, 100000)
      && check_range ("mounts", opts->mounts, 1, MAX_MOUNTS)
      && check_range ("duration-s", opts->duration_s, 0, 86400)
      && mount_is_absolute (opts->mount) && pattern_is_known (opts->pattern);
}

static gchar *
mount_path (const ServerOptions * opts, gint index)
{
  if (opts->mounts == 1)
    return g_strdup (opts->mount);
  return g_strdup_printf ("%s%d", opts->mount, index);
}

/* timeoverlay lives in the pango plugin (Debian: gstreamer1.0-x), which
 * a headless test machine may lack; the stream works without it. */
static gboolean
have_timeoverlay (void)
{
  g_autoptr (GstElementFactory) factory =
      gst_element_factory_find ("timeoverlay");

  return factory != NULL;
}

static gchar *
launch_line (const ServerOptions * opts, const gchar * path)
{
  /* The mount path is burnt into the picture so that a human looking at
   * two side-by-side streams can tell them apart. */
  g_autofree gchar *overlay = have_timeoverlay ()
      ? g_strdup_printf ("! timeoverlay text=\"%s\" ", path)
      : g_strdup ("");

  return g_strdup_printf ("( videotestsrc is-live=true pattern=%s "
      "! video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1 %s"
      "! x264enc tune=zerolatency speed-preset=ultrafast bitrate=%d "
      "key-int-max=%d "
      "! rtph264pay name=pay0 pt=96 config-interval=-1 )",
      opts->pattern, opts->width, opts->height, opts->fps, overlay,
      opts->bitrate_kbps, opts->key_int);
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
  framesize = g_strdup_printf ("%d-%d", opts->width, opts->height);
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

/* IPv6 literals need brackets inside a URL. */
static gchar *
url_host (const gchar * address)
{
  if (strchr (address, ':') != NULL)
    return g_strdup_printf ("[%s]", address);
  return g_strdup (address);
}

static void
announce_ready (GstRTSPServer * server, const ServerOptions * opts)
{
  g_autofree gchar *host = url_host (opts->address);
  gint port = gst_rtsp_server_get_bound_port (server);

  for (gint i = 0; i < opts->mounts; i++) {
    g_autofree gchar *path = mount_path (opts, i);
    printf ("READY rtsp://%s:%d%s\n", host, port, path);
  }
  fflush (stdout);
}

static gboolean
quit_on_signal (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
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
  g_autofree gchar *service = g_strdup_printf ("%d", opts->port);
  guint source_id;

  gst_rtsp_server_set_address (server, opts->address);
  gst_rtsp_server_set_service (server, service);
  mount_streams (server, opts);

  source_id = gst_rtsp_server_attach (server, NULL);
  if (source_id == 0) {
    g_printerr ("vdm-rtsp-server: cannot listen on %s:%d\n",
        opts->address, opts->port);
    return EXIT_RUNTIME;
  }

  g_unix_signal_add (SIGINT, quit_on_signal, loop);
  g_unix_signal_add (SIGTERM, quit_on_signal, loop);
  if (opts->duration_s > 0)
    g_timeout_add_seconds (opts->duration_s, quit_on_signal, loop);
  g_timeout_add_seconds (SESSION_CLEANUP_INTERVAL_S, cleanup_sessions, server);

  if (!have_timeoverlay ())
    g_printerr ("vdm-rtsp-server: no timeoverlay element (pango plugin); "
        "streaming without the time overlay\n");
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
  ServerOptions opts = {
    .port = 8554,
    .width = 640,
    .height = 480,
    .fps = 30,
    .bitrate_kbps = 2000,
    .key_int = 30,
    .mounts = 1,
    .duration_s = 0,
  };
  int status;

  setvbuf (stdout, NULL, _IOLBF, 0);
  if (!parse_options (&opts, &argc, &argv))
    return EXIT_USAGE;
  if (opts.address == NULL)
    opts.address = g_strdup ("127.0.0.1");
  if (opts.mount == NULL)
    opts.mount = g_strdup ("/test");
  if (opts.pattern == NULL)
    opts.pattern = g_strdup ("ball");
  if (!validate_options (&opts))
    return EXIT_USAGE;

  status = run_server (&opts);
  g_free (opts.address);
  g_free (opts.mount);
  g_free (opts.pattern);
  return status;
}
