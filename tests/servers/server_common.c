/* server_common — see server_common.h. */
#include "server_common.h"

#include <glib-unix.h>
#include <string.h>

void
vdm_server_options_init (VdmServerOptions * opts, gint default_port)
{
  *opts = (VdmServerOptions) {
    .port = default_port,
    .width = 640,
    .height = 480,
    .fps = 30,
    .bitrate_kbps = 2000,
    .key_int = 30,
    .duration_s = 0,
  };
}

void
vdm_server_options_clear (VdmServerOptions * opts)
{
  g_clear_pointer (&opts->address, g_free);
  g_clear_pointer (&opts->pattern, g_free);
}

gboolean
vdm_server_parse_options (VdmServerOptions * opts, const GOptionEntry * extra,
    const gchar * summary, int *argc, char ***argv)
{
  GOptionEntry entries[] = {
    {"port", 0, 0, G_OPTION_ARG_INT, &opts->port,
        "TCP port (0 = pick a free one; see the READY line)", "PORT"},
    {"address", 0, 0, G_OPTION_ARG_STRING, &opts->address,
        "Address to listen on (default 127.0.0.1)", "ADDR"},
    {"width", 0, 0, G_OPTION_ARG_INT, &opts->width, "Frame width", "W"},
    {"height", 0, 0, G_OPTION_ARG_INT, &opts->height, "Frame height", "H"},
    {"fps", 0, 0, G_OPTION_ARG_INT, &opts->fps, "Frames per second", "N"},
    {"bitrate", 0, 0, G_OPTION_ARG_INT, &opts->bitrate_kbps,
        "H.264 bitrate in kbit/s", "KBPS"},
    {"key-int", 0, 0, G_OPTION_ARG_INT, &opts->key_int,
        "Maximum frames between keyframes", "FRAMES"},
    {"pattern", 0, 0, G_OPTION_ARG_STRING, &opts->pattern,
        "videotestsrc pattern nick (default ball)", "NAME"},
    {"duration-s", 0, 0, G_OPTION_ARG_INT, &opts->duration_s,
        "Exit after this many seconds (0 = until SIGINT/SIGTERM)", "S"},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (summary);
  g_autoptr (GError) err = NULL;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_main_entries (ctx, extra, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, argc, argv, &err)) {
    g_printerr ("%s: %s\n", g_get_prgname (), err->message);
    return FALSE;
  }
  if (opts->address == NULL)
    opts->address = g_strdup ("127.0.0.1");
  if (opts->pattern == NULL)
    opts->pattern = g_strdup ("ball");
  return TRUE;
}

gboolean
vdm_server_check_range (const gchar * name, gint value, gint min, gint max)
{
  if (value >= min && value <= max)
    return TRUE;
  g_printerr ("%s: --%s must be in [%d, %d], got %d\n", g_get_prgname (),
      name, min, max, value);
  return FALSE;
}

/* Catch a typo in --pattern now rather than as a failure when the first
 * client arrives (for RTSP: a failed DESCRIBE). */
static gboolean
pattern_is_known (const gchar * pattern)
{
  g_autoptr (GstElement) src = gst_element_factory_make ("videotestsrc", NULL);
  GParamSpec *pspec;

  if (src == NULL) {
    g_printerr ("%s: videotestsrc is not available\n", g_get_prgname ());
    return FALSE;
  }
  gst_object_ref_sink (src);
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (src), "pattern");
  if (g_enum_get_value_by_nick (G_PARAM_SPEC_ENUM (pspec)->enum_class,
          pattern) != NULL)
    return TRUE;
  g_printerr ("%s: unknown videotestsrc pattern '%s'\n", g_get_prgname (),
      pattern);
  return FALSE;
}

gboolean
vdm_server_options_valid (const VdmServerOptions * opts)
{
  return vdm_server_check_range ("port", opts->port, 0, 65535)
      && vdm_server_check_range ("width", opts->width, 16, 7680)
      && vdm_server_check_range ("height", opts->height, 16, 4320)
      && vdm_server_check_range ("fps", opts->fps, 1, 240)
      && vdm_server_check_range ("bitrate", opts->bitrate_kbps, 16, 200000)
      && vdm_server_check_range ("key-int", opts->key_int, 1, 100000)
      && vdm_server_check_range ("duration-s", opts->duration_s, 0, 86400)
      && pattern_is_known (opts->pattern);
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

void
vdm_server_warn_if_no_timeoverlay (void)
{
  if (!have_timeoverlay ())
    g_printerr ("%s: no timeoverlay element (pango plugin); "
        "streaming without the time overlay\n", g_get_prgname ());
}

gchar *
vdm_server_encoder_launch (const VdmServerOptions * opts, const gchar * label)
{
  /* The label is burnt into the picture so that a human looking at two
   * side-by-side streams can tell them apart. */
  g_autofree gchar *overlay = have_timeoverlay ()
      ? g_strdup_printf ("! timeoverlay text=\"%s\" ", label)
      : g_strdup ("");

  return g_strdup_printf ("videotestsrc is-live=true pattern=%s "
      "! video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1 %s"
      "! x264enc tune=zerolatency speed-preset=ultrafast bitrate=%d "
      "key-int-max=%d ",
      opts->pattern, opts->width, opts->height, opts->fps, overlay,
      opts->bitrate_kbps, opts->key_int);
}

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

void
vdm_server_quit_on_signals (GMainLoop * loop, const VdmServerOptions * opts)
{
  g_unix_signal_add (SIGINT, quit_loop, loop);
  g_unix_signal_add (SIGTERM, quit_loop, loop);
  if (opts->duration_s > 0)
    g_timeout_add_seconds (opts->duration_s, quit_loop, loop);
}

gchar *
vdm_server_url_host (const gchar * address)
{
  if (strchr (address, ':') != NULL)
    return g_strdup_printf ("[%s]", address);
  return g_strdup (address);
}
