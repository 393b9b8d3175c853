/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Discovery must not block (issue 9 #10). Upstream of vdropmon is a source
 * fetching from a server by name (host/port properties, as tcpclientsrc);
 * the process's default GResolver is a fake that hangs until the test lets
 * it go. The element must go on posting its stats, look the name up once
 * per run (not at every rescan), and stop at once, whatever the resolver.
 */
#include <gst/check/gstcheck.h>
#include <gst/base/gstpushsrc.h>
#include <gio/gio.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp_sockets.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

#define HOST "stream.example"

/* ---- a resolver that hangs ---- */

typedef struct
{
  GResolver parent;
} HungResolver;
typedef struct
{
  GResolverClass parent_class;
} HungResolverClass;

static GMutex hung_lock;
static GCond hung_cond;
static gboolean hung_released;
static gint hung_calls;

G_DEFINE_TYPE (HungResolver, hung_resolver, G_TYPE_RESOLVER);

static GList *
hung_lookup_by_name (GResolver * resolver, const gchar * host, GCancellable * cancel,
    GError ** error)
{
  g_atomic_int_inc (&hung_calls);
  g_mutex_lock (&hung_lock);
  while (!hung_released && !g_cancellable_is_cancelled (cancel))
    g_cond_wait_until (&hung_cond, &hung_lock, g_get_monotonic_time () + 10 * G_TIME_SPAN_MILLISECOND);
  g_mutex_unlock (&hung_lock);
  g_set_error_literal (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, "hung resolver");
  return NULL;
}

static void
hung_resolver_class_init (HungResolverClass * klass)
{
  G_RESOLVER_CLASS (klass)->lookup_by_name = hung_lookup_by_name;
}

static void
hung_resolver_init (HungResolver * self)
{
}

static void
release_resolver (void)
{
  g_mutex_lock (&hung_lock);
  hung_released = TRUE;
  g_cond_broadcast (&hung_cond);
  g_mutex_unlock (&hung_lock);
}

/* ---- a live source that names its server by host and port ---- */

typedef struct
{
  GstPushSrc parent;
  gchar *host;
  gint port;
} HostSrc;
typedef struct
{
  GstPushSrcClass parent_class;
} HostSrcClass;

G_DEFINE_TYPE (HostSrc, host_src, GST_TYPE_PUSH_SRC);

enum
{ PROP_0, PROP_HOST, PROP_PORT };

static void
host_src_set_property (GObject * object, guint id, const GValue * value, GParamSpec * pspec)
{
  HostSrc *self = (HostSrc *) object;

  if (id == PROP_HOST) {
    g_free (self->host);
    self->host = g_value_dup_string (value);
  } else if (id == PROP_PORT) {
    self->port = g_value_get_int (value);
  }
}

static void
host_src_get_property (GObject * object, guint id, GValue * value, GParamSpec * pspec)
{
  HostSrc *self = (HostSrc *) object;

  if (id == PROP_HOST)
    g_value_set_string (value, self->host);
  else if (id == PROP_PORT)
    g_value_set_int (value, self->port);
}

static GstFlowReturn
host_src_create (GstPushSrc * src, GstBuffer ** buf)
{
  g_usleep (10 * 1000);
  *buf = gst_buffer_new_allocate (NULL, 100, NULL);
  return GST_FLOW_OK;
}

static void
host_src_finalize (GObject * object)
{
  g_free (((HostSrc *) object)->host);
  G_OBJECT_CLASS (host_src_parent_class)->finalize (object);
}

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC,
    GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static void
host_src_class_init (HostSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  gobject_class->set_property = host_src_set_property;
  gobject_class->get_property = host_src_get_property;
  gobject_class->finalize = host_src_finalize;
  g_object_class_install_property (gobject_class, PROP_HOST, g_param_spec_string ("host", "Host",
          "Server", NULL, G_PARAM_READWRITE));
  g_object_class_install_property (gobject_class, PROP_PORT, g_param_spec_int ("port", "Port",
          "Port", 0, 65535, 0, G_PARAM_READWRITE));
  gst_element_class_add_static_pad_template (GST_ELEMENT_CLASS (klass), &src_template);
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "host src", "Source",
      "test", "vdropmon");
  GST_PUSH_SRC_CLASS (klass)->create = host_src_create;
}

static void
host_src_init (HostSrc * self)
{
  gst_base_src_set_live (GST_BASE_SRC (self), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
  gst_base_src_set_do_timestamp (GST_BASE_SRC (self), TRUE);
}

static gpointer
stop_pipeline (gpointer pipeline)
{
  gst_element_set_state (pipeline, GST_STATE_NULL);
  return GINT_TO_POINTER (1);
}

/* 5 stats messages, 100 ms apart, come although the name never resolves;
 * the name was looked up once over those rescans; NULL returns at once. */
GST_START_TEST (test_hung_resolver_blocks_nothing)
{
  GResolver *hung = g_object_new (hung_resolver_get_type (), NULL);
  GstElement *pipeline;
  GstBus *bus;
  GstMessage *msg;
  GThread *stopper;
  gint64 deadline;
  guint stats = 0;

  g_resolver_set_default (hung);
  g_object_unref (hung);
  gst_element_register (NULL, "vdmtesthostsrc", GST_RANK_NONE, host_src_get_type ());
  pipeline = gst_parse_launch ("vdmtesthostsrc host=" HOST " port=554 ! vdropmon collector=none "
      "interval=100000000 ! fakesink sync=false", NULL);
  fail_unless (pipeline != NULL);
  bus = gst_element_get_bus (pipeline);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  deadline = g_get_monotonic_time () + 3 * G_TIME_SPAN_SECOND;
  while (stats < 5 && g_get_monotonic_time () < deadline
      && (msg = gst_bus_timed_pop_filtered (bus, GST_SECOND, GST_MESSAGE_ELEMENT))) {
    stats += gst_structure_has_name (gst_message_get_structure (msg), "vdropmon-stats");
    gst_message_unref (msg);
  }
  fail_unless (stats >= 5, "%u stats messages in 3 s: the worker is blocked", stats);
  fail_unless_equals_int (g_atomic_int_get (&hung_calls), 1);

  stopper = g_thread_new ("stopper", stop_pipeline, pipeline);
  deadline = g_get_monotonic_time () + 2 * G_TIME_SPAN_SECOND;
  while (gst_element_get_state (pipeline, NULL, NULL, 0) != GST_STATE_CHANGE_SUCCESS
      || GST_STATE (pipeline) != GST_STATE_NULL) {
    fail_unless (g_get_monotonic_time () < deadline, "stop() waits for the resolver");
    g_usleep (10 * 1000);
  }
  g_thread_join (stopper);
  release_resolver ();
  gst_object_unref (bus);
  gst_object_unref (pipeline);
}

GST_END_TEST;

static guint64
cookie_of (int fd)
{
  guint64 cookie = 0;
  socklen_t len = sizeof (cookie);

  if (getsockopt (fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) < 0)
    return 0;
  return cookie;
}

/* A TCP socket found in /proc/self/fd is pinned (a duplicate): its owner
 * closes it and the number goes to another socket, the fd handed out is
 * still the socket identified (loopback, an ephemeral port). */
GST_START_TEST (test_found_tcp_fd_is_pinned)
{
  struct sockaddr_in addr = {.sin_family = AF_INET,.sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  struct sockaddr_storage server;
  socklen_t len = sizeof (addr);
  vdm_tcp_socket found[4];
  int listener = socket (AF_INET, SOCK_STREAM, 0), client = socket (AF_INET, SOCK_STREAM, 0);
  int reused, n;
  guint64 cookie;

  fail_unless (bind (listener, (struct sockaddr *) &addr, sizeof (addr)) == 0);
  fail_unless (listen (listener, 1) == 0);
  fail_unless (getsockname (listener, (struct sockaddr *) &addr, &len) == 0);
  fail_unless (connect (client, (struct sockaddr *) &addr, sizeof (addr)) == 0);
  cookie = cookie_of (client);
  memset (&server, 0, sizeof (server));
  memcpy (&server, &addr, sizeof (addr));
  n = vdm_tcp_sockets_to (&server, 1, ntohs (addr.sin_port), found, 4);
  fail_unless_equals_int (n, 1);
  fail_unless_equals_uint64 (found[0].cookie, cookie);
  close (client);
  reused = socket (AF_INET, SOCK_DGRAM, 0);     /* the lowest free number: client's */
  fail_unless_equals_int (reused, client);
  fail_unless_equals_uint64 (cookie_of (found[0].fd), cookie);
  close (found[0].fd);
  close (reused);
  close (listener);
}

GST_END_TEST;

static Suite *
discovery_suite (void)
{
  Suite *s = suite_create ("vdropmon-discovery");
  TCase *tc = tcase_create ("discovery");

  tcase_set_timeout (tc, 30);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_hung_resolver_blocks_nothing);
  tcase_add_test (tc, test_found_tcp_fd_is_pinned);
  return s;
}

GST_CHECK_MAIN (discovery);
