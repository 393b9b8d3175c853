/* vdm-flv-server — a live HTTP-FLV server (libsoup-3) with a synthetic
 * H.264 stream, for tests and the pipelines/ scripts.
 *
 *   GET /live.flv        200, Content-Type: video/x-flv, chunked, endless
 *   GET /liveN.flv       the same, N in [0, --streams); /live.flv = /live0.flv
 *
 * Every client gets its own encoder pipeline
 *   videotestsrc is-live=true ! x264enc tune=zerolatency ! h264parse
 *     ! flvmux streamable=true ! appsink
 * so two receivers are independent.  The FLV header, metadata and codec
 * data (flvmux's streamheader) go out first, then tags as they come.
 *
 * Threading: appsink hands buffers over in a streaming thread, but libsoup
 * objects belong to the main context.  Buffers are queued per client and
 * a single idle callback in the main context appends them to the response
 * body and unpauses the message.  A client that disconnects ("finished")
 * has its pipeline stopped; one that reads slower than the stream until
 * its backlog exceeds --max-backlog-mb is disconnected.
 *
 * Stdout is line-buffered; once listening the server prints
 *   READY http://ADDR:PORT/live.flv
 * and, with --streams N > 1, one more READY line per /liveN.flv.
 * The server binds to loopback unless --address names another address.
 *
 * Exit status: 0 after SIGINT/SIGTERM or --duration-s, 1 runtime error,
 * 2 bad arguments.
 */
#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <string.h>

#include "server_common.h"

#define MAX_STREAMS 64
#define MIB (1024 * 1024)
#define SHUTDOWN_GRACE_MS 1000

typedef struct
{
  VdmServerOptions common;
  gint streams;
  gint max_backlog_mb;
} ServerOptions;

typedef struct
{
  const ServerOptions *opts;
  GList *clients;               /* FlvClient*, main context only */
  guint next_client_id;
} FlvServer;

typedef struct
{
  gatomicrefcount ref;
  guint id;
  gint stream;
  FlvServer *server;

  /* Main context only. */
  SoupServerMessage *msg;       /* owned; NULL once the response is over */
  GstElement *pipeline;
  guint bus_watch;
  gsize backlog;                /* bytes appended but not yet written */

  /* Streaming thread only (appsink has one). */
  gboolean header_sent;
  gboolean skipping_header_run;

  /* Hand-over from the streaming thread to the main context. */
  GMutex lock;
  GQueue pending;               /* GBytes* */
  gboolean flush_scheduled;
} FlvClient;

static FlvClient *
flv_client_ref (FlvClient * client)
{
  g_atomic_ref_count_inc (&client->ref);
  return client;
}

static void
flv_client_unref (gpointer data)
{
  FlvClient *client = data;

  if (!g_atomic_ref_count_dec (&client->ref))
    return;
  g_queue_clear_full (&client->pending, (GDestroyNotify) g_bytes_unref);
  g_mutex_clear (&client->lock);
  g_free (client);
}

/* ---- options ---------------------------------------------------------- */

static gboolean
parse_options (ServerOptions * opts, int *argc, char ***argv)
{
  GOptionEntry entries[] = {
    {"streams", 0, 0, G_OPTION_ARG_INT, &opts->streams,
        "Also serve /live0.flv../live{N-1}.flv", "N"},
    {"max-backlog-mb", 0, 0, G_OPTION_ARG_INT, &opts->max_backlog_mb,
        "Disconnect a client whose unsent data exceeds this (default 64)",
        "MB"},
    {NULL}
  };

  return vdm_server_parse_options (&opts->common, entries,
      "- test HTTP-FLV server", argc, argv);
}

static gboolean
validate_options (const ServerOptions * opts)
{
  return vdm_server_options_valid (&opts->common)
      && vdm_server_check_range ("streams", opts->streams, 1, MAX_STREAMS)
      && vdm_server_check_range ("max-backlog-mb", opts->max_backlog_mb, 1,
      4096);
}

/* ---- request path ----------------------------------------------------- */

/* "/live.flv" is stream 0; "/liveN.flv" is stream N when N < streams.
 * Returns -1 for anything else. */
static gint
stream_for_path (const gchar * path, gint streams)
{
  const gchar *digits;
  gchar *end;
  guint64 n;

  if (g_strcmp0 (path, "/live.flv") == 0)
    return 0;
  if (!g_str_has_prefix (path, "/live"))
    return -1;
  digits = path + strlen ("/live");
  if (!g_ascii_isdigit (digits[0]))
    return -1;
  n = g_ascii_strtoull (digits, &end, 10);
  if (g_strcmp0 (end, ".flv") != 0 || n >= (guint64) streams)
    return -1;
  return (gint) n;
}

/* ---- encoder pipeline ------------------------------------------------- */

static gchar *
pipeline_description (const ServerOptions * opts, gint stream)
{
  g_autofree gchar *label = g_strdup_printf ("live%d", stream);
  g_autofree gchar *encoder = vdm_server_encoder_launch (&opts->common,
      label);

  return g_strdup_printf ("%s! h264parse ! flvmux streamable=true "
      "! appsink name=sink sync=false max-buffers=0 drop=false", encoder);
}

static void flush_pending (FlvClient * client);

static gboolean
flush_pending_idle (gpointer data)
{
  flush_pending (data);
  return G_SOURCE_REMOVE;
}

/* Streaming thread: queue one chunk and make sure the main context will
 * pick it up. */
static void
queue_bytes (FlvClient * client, GBytes * bytes)
{
  gboolean schedule;

  g_mutex_lock (&client->lock);
  g_queue_push_tail (&client->pending, bytes);
  schedule = !client->flush_scheduled;
  client->flush_scheduled = TRUE;
  g_mutex_unlock (&client->lock);
  if (schedule)
    g_idle_add_full (G_PRIORITY_DEFAULT, flush_pending_idle,
        flv_client_ref (client), flv_client_unref);
}

static GBytes *
bytes_from_buffer (GstBuffer * buffer)
{
  GstMapInfo map;
  GBytes *bytes;

  if (!gst_buffer_map (buffer, &map, GST_MAP_READ))
    return NULL;
  bytes = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (buffer, &map);
  return bytes;
}

/* The FLV header, metadata and codec data that a new client must see
 * before any tag; flvmux publishes them as "streamheader" in its caps. */
static gboolean
queue_streamheader (FlvClient * client, GstCaps * caps)
{
  const GValue *array;

  if (caps == NULL || gst_caps_get_size (caps) == 0)
    return FALSE;
  array = gst_structure_get_value (gst_caps_get_structure (caps, 0),
      "streamheader");
  if (array == NULL || !GST_VALUE_HOLDS_ARRAY (array))
    return FALSE;
  for (guint i = 0; i < gst_value_array_get_size (array); i++) {
    const GValue *value = gst_value_array_get_value (array, i);
    GBytes *bytes;

    if (!GST_VALUE_HOLDS_BUFFER (value))
      continue;
    bytes = bytes_from_buffer (gst_value_get_buffer (value));
    if (bytes != NULL)
      queue_bytes (client, bytes);
  }
  return TRUE;
}

static GstFlowReturn
on_new_sample (GstAppSink * sink, gpointer data)
{
  FlvClient *client = data;
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (sink);
  GstBuffer *buffer;
  GBytes *bytes;

  if (sample == NULL)
    return GST_FLOW_EOS;
  buffer = gst_sample_get_buffer (sample);
  if (!client->header_sent) {
    client->header_sent = TRUE;
    client->skipping_header_run =
        queue_streamheader (client, gst_sample_get_caps (sample));
  }
  /* flvmux also pushes its header buffers in-band; they were just sent
   * from the caps, so skip the leading run of HEADER buffers. */
  if (client->skipping_header_run
      && GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_HEADER))
    return GST_FLOW_OK;
  client->skipping_header_run = FALSE;

  bytes = bytes_from_buffer (buffer);
  if (bytes == NULL)
    return GST_FLOW_ERROR;
  queue_bytes (client, bytes);
  return GST_FLOW_OK;
}

static void end_response (FlvClient * client);

static gboolean
on_pipeline_message (GstBus * bus, GstMessage * message, gpointer data)
{
  FlvClient *client = data;
  g_autoptr (GError) err = NULL;

  switch (GST_MESSAGE_TYPE (message)) {
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (message, &err, NULL);
      g_printerr ("vdm-flv-server: client %u: pipeline error: %s\n",
          client->id, err->message);
      end_response (client);
      break;
    case GST_MESSAGE_EOS:
      end_response (client);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
start_pipeline (FlvClient * client)
{
  g_autofree gchar *description =
      pipeline_description (client->server->opts, client->stream);
  g_autoptr (GError) err = NULL;
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstBus) bus = NULL;
  GstAppSinkCallbacks callbacks = {.new_sample = on_new_sample };

  client->pipeline = gst_parse_launch (description, &err);
  if (client->pipeline == NULL || err != NULL) {
    g_printerr ("vdm-flv-server: cannot build pipeline: %s\n",
        err ? err->message : "unknown error");
    return FALSE;
  }
  sink = gst_bin_get_by_name (GST_BIN (client->pipeline), "sink");
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks,
      flv_client_ref (client), flv_client_unref);
  bus = gst_element_get_bus (client->pipeline);
  client->bus_watch = gst_bus_add_watch_full (bus, G_PRIORITY_DEFAULT,
      on_pipeline_message, flv_client_ref (client), flv_client_unref);
  if (gst_element_set_state (client->pipeline, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    g_printerr ("vdm-flv-server: cannot start pipeline\n");
    return FALSE;
  }
  return TRUE;
}

/* Idempotent: called on disconnect, on pipeline error and at shutdown. */
static void
stop_pipeline (FlvClient * client)
{
  if (client->bus_watch != 0) {
    g_source_remove (client->bus_watch);
    client->bus_watch = 0;
  }
  if (client->pipeline != NULL) {
    gst_element_set_state (client->pipeline, GST_STATE_NULL);
    gst_clear_object (&client->pipeline);
  }
}

/* ---- HTTP side (main context) ----------------------------------------- */

static void
disconnect_slow_client (FlvClient * client)
{
  GSocket *socket = soup_server_message_get_socket (client->msg);

  g_printerr ("vdm-flv-server: client %u: %" G_GSIZE_FORMAT " bytes unsent "
      "(over --max-backlog-mb); disconnecting it\n", client->id,
      client->backlog);
  stop_pipeline (client);
  /* The pending write then fails and libsoup finishes the message. */
  if (socket != NULL)
    g_socket_shutdown (socket, TRUE, TRUE, NULL);
}

static void
flush_pending (FlvClient * client)
{
  GQueue chunks = G_QUEUE_INIT;
  SoupMessageBody *body;
  GBytes *bytes;
  gsize max_backlog = (gsize) client->server->opts->max_backlog_mb * MIB;

  g_mutex_lock (&client->lock);
  chunks = client->pending;
  g_queue_init (&client->pending);
  client->flush_scheduled = FALSE;
  g_mutex_unlock (&client->lock);

  /* Late data of a stopped pipeline: the response is over or ending. */
  if (client->msg == NULL || client->pipeline == NULL) {
    g_queue_clear_full (&chunks, (GDestroyNotify) g_bytes_unref);
    return;
  }
  body = soup_server_message_get_response_body (client->msg);
  while ((bytes = g_queue_pop_head (&chunks)) != NULL) {
    client->backlog += g_bytes_get_size (bytes);
    soup_message_body_append_bytes (body, bytes);
    g_bytes_unref (bytes);
  }
  soup_server_message_unpause (client->msg);
  if (client->backlog > max_backlog)
    disconnect_slow_client (client);
}

static void
end_response (FlvClient * client)
{
  stop_pipeline (client);
  if (client->msg == NULL)
    return;
  soup_message_body_complete (soup_server_message_get_response_body
      (client->msg));
  soup_server_message_unpause (client->msg);
}

static void
on_wrote_body_data (SoupServerMessage * msg, guint size, gpointer data)
{
  FlvClient *client = data;

  client->backlog -= MIN (client->backlog, size);
}

/* Drops the server's hold on a client whose response is over. */
static void
forget_client (FlvClient * client)
{
  stop_pipeline (client);
  if (client->msg != NULL) {
    g_signal_handlers_disconnect_by_data (client->msg, client);
    g_clear_object (&client->msg);
  }
  client->server->clients = g_list_remove (client->server->clients, client);
  flv_client_unref (client);
}

/* Emitted when the response completed or the client went away. */
static void
on_finished (SoupServerMessage * msg, gpointer data)
{
  FlvClient *client = data;

  g_printerr ("vdm-flv-server: client %u: gone\n", client->id);
  forget_client (client);
}

static void
set_stream_headers (SoupServerMessage * msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_set_content_type (headers, "video/x-flv", NULL);
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  soup_message_headers_replace (headers, "Connection", "close");
}

static void
start_client (FlvServer * server, SoupServerMessage * msg, gint stream)
{
  FlvClient *client = g_new0 (FlvClient, 1);

  g_atomic_ref_count_init (&client->ref);
  g_mutex_init (&client->lock);
  g_queue_init (&client->pending);
  client->id = server->next_client_id++;
  client->stream = stream;
  client->server = server;
  /* Ours until "finished": libsoup may drop its own at disconnect. */
  client->msg = g_object_ref (msg);

  set_stream_headers (msg);
  /* A live stream never ends: written chunks must not pile up. */
  soup_message_body_set_accumulate (soup_server_message_get_response_body
      (msg), FALSE);
  g_signal_connect (msg, "finished", G_CALLBACK (on_finished), client);
  g_signal_connect (msg, "wrote-body-data", G_CALLBACK (on_wrote_body_data),
      client);
  server->clients = g_list_prepend (server->clients, client);
  g_printerr ("vdm-flv-server: client %u: %s wants stream %d\n",
      client->id, soup_server_message_get_remote_host (msg), stream);

  /* Nothing to send until the encoder produced the header. */
  soup_server_message_pause (msg);
  if (!start_pipeline (client))
    end_response (client);
}

static void
handle_request (SoupServer * soup, SoupServerMessage * msg,
    const char *path, GHashTable * query, gpointer data)
{
  FlvServer *server = data;
  const char *method = soup_server_message_get_method (msg);
  gint stream = stream_for_path (path, server->opts->streams);

  if (stream < 0) {
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
    return;
  }
  if (g_strcmp0 (method, SOUP_METHOD_HEAD) == 0) {
    set_stream_headers (msg);
    return;
  }
  if (g_strcmp0 (method, SOUP_METHOD_GET) != 0) {
    soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
        NULL);
    return;
  }
  start_client (server, msg, stream);
}

/* ---- server lifetime -------------------------------------------------- */

static gboolean
listen_on (SoupServer * soup, const ServerOptions * opts)
{
  const VdmServerOptions *common = &opts->common;
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string
      (common->address);
  g_autoptr (GSocketAddress) address = NULL;
  g_autoptr (GError) err = NULL;

  if (inet == NULL) {
    g_printerr ("vdm-flv-server: --address '%s' is not an IP address\n",
        common->address);
    return FALSE;
  }
  address = g_inet_socket_address_new (inet, common->port);
  if (!soup_server_listen (soup, address, 0, &err)) {
    g_printerr ("vdm-flv-server: cannot listen on %s:%d: %s\n",
        common->address, common->port, err->message);
    return FALSE;
  }
  return TRUE;
}

static gint
bound_port (SoupServer * soup)
{
  GSList *uris = soup_server_get_uris (soup);
  gint port = uris ? g_uri_get_port (uris->data) : -1;

  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return port;
}

static void
announce_ready (SoupServer * soup, const ServerOptions * opts)
{
  g_autofree gchar *host = vdm_server_url_host (opts->common.address);
  gint port = bound_port (soup);

  printf ("READY http://%s:%d/live.flv\n", host, port);
  for (gint i = 0; opts->streams > 1 && i < opts->streams; i++)
    printf ("READY http://%s:%d/live%d.flv\n", host, port, i);
  fflush (stdout);
}

static gboolean
stop_waiting (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* End every response with its final chunk so receivers see a clean end
 * of stream, give libsoup a bounded moment to write it, then close what
 * is left.  Every encoder is stopped before main() returns. */
static void
shut_down (FlvServer * server, SoupServer * soup)
{
  gboolean waited_enough = FALSE;
  guint timer;
  g_autoptr (GList) clients = g_list_copy (server->clients);

  for (GList * l = clients; l != NULL; l = l->next)
    end_response (l->data);
  timer = g_timeout_add (SHUTDOWN_GRACE_MS, stop_waiting, &waited_enough);
  while (server->clients != NULL && !waited_enough)
    g_main_context_iteration (NULL, TRUE);
  if (!waited_enough)
    g_source_remove (timer);

  while (server->clients != NULL)
    forget_client (server->clients->data);
  soup_server_disconnect (soup);
}

static int
run_server (const ServerOptions * opts)
{
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (SoupServer) soup = soup_server_new ("server-header",
      "vdm-flv-server ", NULL);
  FlvServer server = {.opts = opts };

  soup_server_add_handler (soup, NULL, handle_request, &server, NULL);
  if (!listen_on (soup, opts))
    return VDM_SERVER_EXIT_RUNTIME;

  vdm_server_quit_on_signals (loop, &opts->common);
  vdm_server_warn_if_no_timeoverlay ();
  announce_ready (soup, opts);
  g_main_loop_run (loop);
  shut_down (&server, soup);
  return 0;
}

int
main (int argc, char **argv)
{
  ServerOptions opts = {
    .streams = 1,
    .max_backlog_mb = 64,
  };
  int status;

  g_set_prgname ("vdm-flv-server");
  setvbuf (stdout, NULL, _IOLBF, 0);
  vdm_server_options_init (&opts.common, 8080);
  if (!parse_options (&opts, &argc, &argv))
    return VDM_SERVER_EXIT_USAGE;
  if (!validate_options (&opts))
    return VDM_SERVER_EXIT_USAGE;

  status = run_server (&opts);
  vdm_server_options_clear (&opts.common);
  return status;
}
