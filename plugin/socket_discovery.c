/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "socket_discovery.h"

#include <gst/base/gstbasesrc.h>

GST_DEBUG_CATEGORY_EXTERN (vdropmon_debug);
#define GST_CAT_DEFAULT vdropmon_debug

/* rtspsrc → rtpbin → rtpsession is about ten hops; anything far beyond is a loop. */
#define MAX_DEPTH 64

typedef struct {
  GHashTable *visited;   /* GstElement* already walked */
  VdmUpstream *found;
} Walk;

static void visit_src_pad (Walk * walk, GstPad * srcpad, guint depth);

static gboolean
is_udp_source (GstElement * element)
{
  /* udpsrc exposes the socket it reads as "used-socket"; so do its forks. */
  return GST_IS_BASE_SRC (element)
      && g_object_class_find_property (G_OBJECT_GET_CLASS (element), "used-socket") != NULL;
}

static const struct
{
  const gchar *scheme;
  guint16 default_port;
} tcp_schemes[] = {
  {"rtsp", 554}, {"rtspt", 554}, {"rtsph", 80}, {"rtsps", 322}, {"rtspst", 322},
  {"http", 80}, {"https", 443}, {"rtmp", 1935}, {"rtmps", 443},
};

static gboolean
has_string_property (GstElement * element, const gchar * name)
{
  GParamSpec *spec = g_object_class_find_property (G_OBJECT_GET_CLASS (element), name);
  return spec && spec->value_type == G_TYPE_STRING;
}

/* The server a "location" URI names, if it is fetched over TCP. */
static VdmNetClient *
client_from_location (GstElement * element)
{
  gchar *location = NULL;
  GstUri *uri;
  VdmNetClient *client = NULL;
  guint i;

  g_object_get (element, "location", &location, NULL);
  uri = location ? gst_uri_from_string (location) : NULL;
  for (i = 0; uri && gst_uri_get_host (uri) && i < G_N_ELEMENTS (tcp_schemes); i++) {
    guint port = gst_uri_get_port (uri);
    if (g_strcmp0 (gst_uri_get_scheme (uri), tcp_schemes[i].scheme) != 0)
      continue;
    client = g_new0 (VdmNetClient, 1);
    client->host = g_strdup (gst_uri_get_host (uri));
    client->port = port == GST_URI_NO_PORT ? tcp_schemes[i].default_port : (guint16) port;
    break;
  }
  if (uri)
    gst_uri_unref (uri);
  g_free (location);
  return client;
}

/* tcpclientsrc and the like: "host" and "port". */
static VdmNetClient *
client_from_host_port (GstElement * element)
{
  GParamSpec *port_spec = g_object_class_find_property (G_OBJECT_GET_CLASS (element), "port");
  VdmNetClient *client;
  gint port = 0;

  if (!has_string_property (element, "host") || !port_spec || port_spec->value_type != G_TYPE_INT
      || !GST_IS_BASE_SRC (element))
    return NULL;
  g_object_get (element, "port", &port, NULL);
  if (port <= 0 || port > 65535)
    return NULL;
  client = g_new0 (VdmNetClient, 1);
  g_object_get (element, "host", &client->host, NULL);
  client->port = (guint16) port;
  return client;
}

/* rtpjitterbuffer, rtpbin and rtspsrc hold the stream back by their
 * "latency" (guint, ms): the time between arrival and the screen. */
static GstClockTime
latency_property (GstElement * element)
{
  GParamSpec *spec = g_object_class_find_property (G_OBJECT_GET_CLASS (element), "latency");
  guint ms = 0;

  if (!spec || spec->value_type != G_TYPE_UINT || !(spec->flags & G_PARAM_READABLE))
    return GST_CLOCK_TIME_NONE;
  g_object_get (element, "latency", &ms, NULL);
  return ms * GST_MSECOND;
}

static void
collect_element (Walk * walk, GstElement * element)
{
  VdmNetClient *client = NULL;
  GstClockTime latency = latency_property (element);

  if (GST_CLOCK_TIME_IS_VALID (latency) && (!GST_CLOCK_TIME_IS_VALID (walk->found->buffer_latency)
          || latency > walk->found->buffer_latency))
    walk->found->buffer_latency = latency;

  if (is_udp_source (element)) {
    GST_LOG ("found udp source %" GST_PTR_FORMAT, element);
    g_ptr_array_add (walk->found->udp_sources, gst_object_ref (element));
    return;
  }
  if (has_string_property (element, "location"))
    client = client_from_location (element);
  if (!client)
    client = client_from_host_port (element);
  if (client && client->host) {
    GST_LOG ("found network client %" GST_PTR_FORMAT " of %s:%u", element, client->host,
        client->port);
    client->element = gst_object_ref (element);
    g_ptr_array_add (walk->found->net_clients, client);
  } else if (client) {
    g_free (client);
  }
}

static void
visit_element (Walk * walk, GstElement * element, guint depth)
{
  GstIterator *it;
  GValue item = G_VALUE_INIT;

  if (depth > MAX_DEPTH || g_hash_table_contains (walk->visited, element))
    return;
  g_hash_table_add (walk->visited, element);
  collect_element (walk, element);

  it = gst_element_iterate_sink_pads (element);
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstPad *peer = gst_pad_get_peer (g_value_get_object (&item));
    if (peer) {
      visit_src_pad (walk, peer, depth + 1);
      gst_object_unref (peer);
    }
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
}

static void
visit_src_pad (Walk * walk, GstPad * srcpad, guint depth)
{
  GstElement *element;

  if (depth > MAX_DEPTH)
    return;
  if (GST_IS_GHOST_PAD (srcpad)) {
    /* A bin's source pad: the bin itself may be the client (rtspsrc);
     * continue inside it. */
    GstElement *bin = gst_pad_get_parent_element (srcpad);
    GstPad *target = gst_ghost_pad_get_target (GST_GHOST_PAD (srcpad));
    if (bin && !g_hash_table_contains (walk->visited, bin)) {
      g_hash_table_add (walk->visited, bin);
      collect_element (walk, bin);
    }
    if (bin)
      gst_object_unref (bin);
    if (target) {
      visit_src_pad (walk, target, depth + 1);
      gst_object_unref (target);
    }
    return;
  }
  if (GST_IS_PROXY_PAD (srcpad)) {
    /* The inside of a bin's sink ghost pad: continue outside the bin. */
    GstProxyPad *ghost = gst_proxy_pad_get_internal (GST_PROXY_PAD (srcpad));
    GstPad *peer = ghost ? gst_pad_get_peer (GST_PAD (ghost)) : NULL;
    if (peer) {
      visit_src_pad (walk, peer, depth + 1);
      gst_object_unref (peer);
    }
    if (ghost)
      gst_object_unref (ghost);
    return;
  }
  element = gst_pad_get_parent_element (srcpad);
  if (element) {
    visit_element (walk, element, depth);
    gst_object_unref (element);
  }
}

static void
free_client (gpointer data)
{
  VdmNetClient *client = data;

  gst_object_unref (client->element);
  g_free (client->host);
  g_free (client);
}

void
vdm_discover_upstream (GstPad * sinkpad, VdmUpstream * out)
{
  Walk walk;
  GstPad *peer;

  out->udp_sources = g_ptr_array_new_with_free_func (gst_object_unref);
  out->net_clients = g_ptr_array_new_with_free_func (free_client);
  out->buffer_latency = GST_CLOCK_TIME_NONE;
  walk.visited = g_hash_table_new (NULL, NULL);
  walk.found = out;
  peer = gst_pad_get_peer (sinkpad);
  if (peer) {
    visit_src_pad (&walk, peer, 0);
    gst_object_unref (peer);
  }
  g_hash_table_unref (walk.visited);
}

void
vdm_upstream_clear (VdmUpstream * upstream)
{
  g_clear_pointer (&upstream->udp_sources, g_ptr_array_unref);
  g_clear_pointer (&upstream->net_clients, g_ptr_array_unref);
}

#define DOWNSTREAM_HOPS 8

GstClockTime
vdm_discover_downstream_latency (GstPad * srcpad)
{
  GstPad *peer = gst_pad_get_peer (srcpad);
  GstClockTime latency = GST_CLOCK_TIME_NONE;
  guint hop;

  /* Follow the first source pad of each element: enough for the usual
   * "vdropmon ! rtpjitterbuffer ! depay" chain, bounded against loops. */
  for (hop = 0; peer && hop < DOWNSTREAM_HOPS && !GST_CLOCK_TIME_IS_VALID (latency); hop++) {
    GstElement *element = gst_pad_get_parent_element (peer);
    GstIterator *it;
    GValue item = G_VALUE_INIT;

    gst_object_unref (peer);
    peer = NULL;
    if (!element)
      break;
    latency = latency_property (element);
    it = gst_element_iterate_src_pads (element);
    if (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
      peer = gst_pad_get_peer (g_value_get_object (&item));
      g_value_unset (&item);
    }
    gst_iterator_free (it);
    gst_object_unref (element);
  }
  if (peer)
    gst_object_unref (peer);
  return latency;
}
