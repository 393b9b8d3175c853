/* test-server-smoke — starts one of the test servers on a free loopback
 * port, waits for its READY line, decodes its stream with a real client
 * pipeline and stops it with SIGTERM.
 *
 *   test-server-smoke --client=KIND [--ready-line=N] -- SERVER [ARGS...]
 *
 * KIND is rtsp-udp, rtsp-tcp (rtspsrc with that transport only) or flv
 * (souphttpsrc ! flvdemux).  The client uses the URL of the N-th READY
 * line (1-based, default 1).  The server always gets --port 0
 * --width 320 --height 240 --duration-s 60 before ARGS.
 *
 * Passes when the server is ready within 10 s, the client decodes at least
 * 30 frames of 320x240 within 10 s (RTSP: the SDP announces
 * a=framesize:96 320-240), and the server exits 0 within 5 s of SIGTERM.
 * The server is killed on every failure path, and gets SIGKILL from the
 * kernel if this test dies (PR_SET_PDEATHSIG), so nothing is left behind.
 */
#include <gio/gio.h>
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#define READY_TIMEOUT_S 10
#define FRAMES_TIMEOUT_S 10
#define EXIT_TIMEOUT_S 5
#define WANTED_FRAMES 30
#define WIDTH 320
#define HEIGHT 240
#define EXPECTED_FRAMESIZE "96 320-240"

typedef enum
{
  CLIENT_RTSP_UDP,
  CLIENT_RTSP_TCP,
  CLIENT_FLV,
} ClientKind;

typedef struct
{
  GMainLoop *loop;
  gboolean timed_out;

  GSubprocess *server;
  GDataInputStream *server_out;
  gint ready_line;              /* which READY line we want, 1-based */
  gint ready_seen;
  gchar *url;
  gboolean server_exited;

  ClientKind kind;
  GstElement *client;
  gint frames;                  /* atomic: counted in the streaming thread */
  gint bad_size_frames;         /* atomic */
  gint64 first_frame_us;        /* atomic-ish, set once */
  gchar *sdp_framesize;
  gchar *client_error;
} Smoke;

static gint64
elapsed_ms (gint64 since_us)
{
  return (g_get_monotonic_time () - since_us) / 1000;
}

static gboolean
on_timeout (gpointer data)
{
  Smoke *smoke = data;

  smoke->timed_out = TRUE;
  g_main_loop_quit (smoke->loop);
  return G_SOURCE_REMOVE;
}

/* Runs the loop until a callback quits it or timeout_s passes; returns
 * FALSE on timeout. */
static gboolean
run_loop (Smoke * smoke, guint timeout_s)
{
  guint timer = g_timeout_add_seconds (timeout_s, on_timeout, smoke);

  smoke->timed_out = FALSE;
  g_main_loop_run (smoke->loop);
  if (!smoke->timed_out)
    g_source_remove (timer);
  return !smoke->timed_out;
}

/* ---- server ----------------------------------------------------------- */

static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static GSubprocess *
spawn_server (gchar ** server_argv, GError ** err)
{
  g_autoptr (GSubprocessLauncher) launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  const gchar *fixed[] = { "--port", "0", "--width", G_STRINGIFY (WIDTH),
    "--height", G_STRINGIFY (HEIGHT), "--duration-s", "60"
  };

  g_ptr_array_add (argv, server_argv[0]);
  for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
    g_ptr_array_add (argv, (gpointer) fixed[i]);
  for (guint i = 1; server_argv[i] != NULL; i++)
    g_ptr_array_add (argv, server_argv[i]);
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL,
      NULL);
  return g_subprocess_launcher_spawnv (launcher,
      (const gchar * const *) argv->pdata, err);
}

static void read_next_line (Smoke * smoke);

static void
on_server_line (GObject * source, GAsyncResult * result, gpointer data)
{
  Smoke *smoke = data;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *line = g_data_input_stream_read_line_finish_utf8
      (G_DATA_INPUT_STREAM (source), result, NULL, &err);

  if (line == NULL) {
    g_printerr ("server closed its stdout before READY%s%s\n",
        err ? ": " : "", err ? err->message : "");
    g_main_loop_quit (smoke->loop);
    return;
  }
  g_print ("server: %s\n", line);
  if (g_str_has_prefix (line, "READY ") && ++smoke->ready_seen ==
      smoke->ready_line) {
    smoke->url = g_strdup (line + strlen ("READY "));
    g_main_loop_quit (smoke->loop);
    return;
  }
  read_next_line (smoke);
}

static void
read_next_line (Smoke * smoke)
{
  g_data_input_stream_read_line_async (smoke->server_out,
      G_PRIORITY_DEFAULT, NULL, on_server_line, smoke);
}

static void
on_server_exit (GObject * source, GAsyncResult * result, gpointer data)
{
  Smoke *smoke = data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  smoke->server_exited = TRUE;
  g_main_loop_quit (smoke->loop);
}

/* SIGTERM, then a bounded wait; TRUE when it exited 0 in time. */
static gboolean
stop_server (Smoke * smoke)
{
  gint64 start = g_get_monotonic_time ();

  g_subprocess_send_signal (smoke->server, SIGTERM);
  g_subprocess_wait_async (smoke->server, NULL, on_server_exit, smoke);
  if (!run_loop (smoke, EXIT_TIMEOUT_S) || !smoke->server_exited) {
    g_printerr ("FAIL: server still running %d s after SIGTERM\n",
        EXIT_TIMEOUT_S);
    return FALSE;
  }
  if (!g_subprocess_get_if_exited (smoke->server)) {
    g_printerr ("FAIL: server died from signal %d after SIGTERM\n",
        g_subprocess_get_term_sig (smoke->server));
    return FALSE;
  }
  if (g_subprocess_get_exit_status (smoke->server) != 0) {
    g_printerr ("FAIL: server exited %d after SIGTERM\n",
        g_subprocess_get_exit_status (smoke->server));
    return FALSE;
  }
  g_print ("server exited 0, %" G_GINT64_FORMAT " ms after SIGTERM\n",
      elapsed_ms (start));
  return TRUE;
}

/* Every failure path ends here: nothing may outlive the test. */
static void
kill_server (Smoke * smoke)
{
  if (smoke->server == NULL || smoke->server_exited)
    return;
  g_subprocess_force_exit (smoke->server);
  g_subprocess_wait (smoke->server, NULL, NULL);
  smoke->server_exited = TRUE;
}

/* ---- client ----------------------------------------------------------- */

static gchar *
client_description (ClientKind kind, const gchar * url)
{
  const gchar *decode = "h264parse ! avdec_h264 ! fakesink name=sink "
      "sync=false";

  switch (kind) {
    case CLIENT_RTSP_UDP:
    case CLIENT_RTSP_TCP:
      return g_strdup_printf ("rtspsrc name=src location=%s protocols=%s "
          "latency=200 ! rtph264depay ! %s", url,
          kind == CLIENT_RTSP_UDP ? "udp" : "tcp", decode);
    case CLIENT_FLV:
      return g_strdup_printf ("souphttpsrc location=%s is-live=true "
          "! flvdemux ! %s", url, decode);
  }
  g_assert_not_reached ();
}

static gboolean
frame_has_wanted_size (GstPad * pad)
{
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  GstStructure *s;
  gint width = 0, height = 0;

  if (caps == NULL)
    return FALSE;
  s = gst_caps_get_structure (caps, 0);
  return gst_structure_get_int (s, "width", &width)
      && gst_structure_get_int (s, "height", &height)
      && width == WIDTH && height == HEIGHT;
}

static GstPadProbeReturn
count_frame (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  Smoke *smoke = data;

  if (!frame_has_wanted_size (pad))
    g_atomic_int_inc (&smoke->bad_size_frames);
  if (g_atomic_int_add (&smoke->frames, 1) == 0)
    smoke->first_frame_us = g_get_monotonic_time ();
  return GST_PAD_PROBE_OK;
}

static void
on_sdp (GstElement * src, GstSDPMessage * sdp, gpointer data)
{
  Smoke *smoke = data;
  const GstSDPMedia *media;

  if (gst_sdp_message_medias_len (sdp) == 0)
    return;
  media = gst_sdp_message_get_media (sdp, 0);
  smoke->sdp_framesize =
      g_strdup (gst_sdp_media_get_attribute_val (media, "framesize"));
}

static gboolean
on_client_message (GstBus * bus, GstMessage * message, gpointer data)
{
  Smoke *smoke = data;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *debug = NULL;

  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR) {
    gst_message_parse_error (message, &err, &debug);
    smoke->client_error = g_strdup_printf ("%s (%s)", err->message,
        debug ? debug : "");
    g_main_loop_quit (smoke->loop);
  } else if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_EOS) {
    smoke->client_error = g_strdup ("unexpected EOS");
    g_main_loop_quit (smoke->loop);
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
check_frame_count (gpointer data)
{
  Smoke *smoke = data;

  if (g_atomic_int_get (&smoke->frames) >= WANTED_FRAMES)
    g_main_loop_quit (smoke->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
start_client (Smoke * smoke)
{
  g_autofree gchar *description = client_description (smoke->kind,
      smoke->url);
  g_autoptr (GError) err = NULL;
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstElement) src = NULL;
  g_autoptr (GstPad) pad = NULL;
  g_autoptr (GstBus) bus = NULL;

  g_print ("client: %s\n", description);
  smoke->client = gst_parse_launch (description, &err);
  if (smoke->client == NULL || err != NULL) {
    g_printerr ("FAIL: client pipeline: %s\n", err ? err->message : "?");
    return FALSE;
  }
  sink = gst_bin_get_by_name (GST_BIN (smoke->client), "sink");
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_frame, smoke,
      NULL);
  src = gst_bin_get_by_name (GST_BIN (smoke->client), "src");
  if (src != NULL)
    g_signal_connect (src, "on-sdp", G_CALLBACK (on_sdp), smoke);
  bus = gst_element_get_bus (smoke->client);
  gst_bus_add_watch (bus, on_client_message, smoke);
  return gst_element_set_state (smoke->client, GST_STATE_PLAYING)
      != GST_STATE_CHANGE_FAILURE;
}

static void
stop_client (Smoke * smoke)
{
  g_autoptr (GstBus) bus = NULL;

  if (smoke->client == NULL)
    return;
  gst_element_set_state (smoke->client, GST_STATE_NULL);
  bus = gst_element_get_bus (smoke->client);
  gst_bus_remove_watch (bus);
  gst_clear_object (&smoke->client);
}

static gboolean
receive_frames (Smoke * smoke)
{
  gint64 start = g_get_monotonic_time ();
  guint poll;
  gint frames;

  if (!start_client (smoke))
    return FALSE;
  poll = g_timeout_add (20, check_frame_count, smoke);
  run_loop (smoke, FRAMES_TIMEOUT_S);
  g_source_remove (poll);
  frames = g_atomic_int_get (&smoke->frames);
  stop_client (smoke);

  if (smoke->client_error != NULL) {
    g_printerr ("FAIL: client error after %d frames: %s\n", frames,
        smoke->client_error);
    return FALSE;
  }
  if (frames < WANTED_FRAMES) {
    g_printerr ("FAIL: %d frames decoded in %d s, wanted %d\n", frames,
        FRAMES_TIMEOUT_S, WANTED_FRAMES);
    return FALSE;
  }
  g_print ("client: first frame after %" G_GINT64_FORMAT " ms, %d frames "
      "after %" G_GINT64_FORMAT " ms\n",
      (smoke->first_frame_us - start) / 1000, frames, elapsed_ms (start));
  if (g_atomic_int_get (&smoke->bad_size_frames) > 0) {
    g_printerr ("FAIL: %d frames were not %dx%d\n",
        g_atomic_int_get (&smoke->bad_size_frames), WIDTH, HEIGHT);
    return FALSE;
  }
  if (smoke->kind != CLIENT_FLV
      && g_strcmp0 (smoke->sdp_framesize, EXPECTED_FRAMESIZE) != 0) {
    g_printerr ("FAIL: SDP framesize is '%s', wanted '%s'\n",
        smoke->sdp_framesize ? smoke->sdp_framesize : "(none)",
        EXPECTED_FRAMESIZE);
    return FALSE;
  }
  return TRUE;
}

/* ---- main ------------------------------------------------------------- */

static gboolean
wait_ready (Smoke * smoke)
{
  gint64 start = g_get_monotonic_time ();

  smoke->server_out = g_data_input_stream_new
      (g_subprocess_get_stdout_pipe (smoke->server));
  read_next_line (smoke);
  if (!run_loop (smoke, READY_TIMEOUT_S)) {
    g_printerr ("FAIL: no READY line #%d within %d s\n", smoke->ready_line,
        READY_TIMEOUT_S);
    return FALSE;
  }
  if (smoke->url == NULL) {
    g_printerr ("FAIL: server ended its output after %d READY line(s), "
        "wanted #%d\n", smoke->ready_seen, smoke->ready_line);
    return FALSE;
  }
  g_print ("server ready after %" G_GINT64_FORMAT " ms: %s\n",
      elapsed_ms (start), smoke->url);
  return TRUE;
}

static gboolean
parse_kind (const gchar * name, ClientKind * kind)
{
  if (g_strcmp0 (name, "rtsp-udp") == 0)
    *kind = CLIENT_RTSP_UDP;
  else if (g_strcmp0 (name, "rtsp-tcp") == 0)
    *kind = CLIENT_RTSP_TCP;
  else if (g_strcmp0 (name, "flv") == 0)
    *kind = CLIENT_FLV;
  else
    return FALSE;
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autofree gchar *kind_name = NULL;
  g_auto (GStrv) server_argv = NULL;
  gint ready_line = 1;
  GOptionEntry entries[] = {
    {"client", 0, 0, G_OPTION_ARG_STRING, &kind_name,
        "rtsp-udp | rtsp-tcp | flv", "KIND"},
    {"ready-line", 0, 0, G_OPTION_ARG_INT, &ready_line,
        "Use the URL of the N-th READY line (1-based)", "N"},
    {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &server_argv,
        NULL, "SERVER [ARGS...]"},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- server smoke "
      "test");
  g_autoptr (GError) err = NULL;
  Smoke smoke = { 0 };
  gboolean ok;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err)
      || !parse_kind (kind_name, &smoke.kind) || server_argv == NULL
      || ready_line < 1) {
    g_printerr ("usage: %s --client=rtsp-udp|rtsp-tcp|flv [--ready-line=N] "
        "-- SERVER [ARGS...]%s%s\n", argv[0], err ? "\n" : "",
        err ? err->message : "");
    return 2;
  }
  smoke.ready_line = ready_line;
  smoke.loop = g_main_loop_new (NULL, FALSE);

  smoke.server = spawn_server (server_argv, &err);
  if (smoke.server == NULL) {
    g_printerr ("FAIL: cannot start %s: %s\n", server_argv[0], err->message);
    return 1;
  }
  ok = wait_ready (&smoke) && receive_frames (&smoke) && stop_server (&smoke);

  stop_client (&smoke);
  kill_server (&smoke);
  g_clear_object (&smoke.server_out);
  g_clear_object (&smoke.server);
  g_main_loop_unref (smoke.loop);
  g_free (smoke.url);
  g_free (smoke.sdp_framesize);
  g_free (smoke.client_error);
  g_print ("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
