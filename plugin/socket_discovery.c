/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "socket_discovery.h"

#include <gst/base/gstbasesrc.h>

GST_DEBUG_CATEGORY_EXTERN (vdropmon_debug);
#define GST_CAT_DEFAULT vdropmon_debug

/* rtspsrc → rtpbin → rtpsession is about ten hops; anything far beyond is a loop. */
#define MAX_DEPTH 64

typedef struct {
  GHashTable *visited;   /* GstElement* already walked */
  GPtrArray *sources;     /* GstElement*, owned */
} Walk;

static void visit_src_pad (Walk * walk, GstPad * srcpad, guint depth);

static gboolean
is_udp_source (GstElement * element)
{
  /* udpsrc exposes the socket it reads as "used-socket"; so do its forks. */
  return GST_IS_BASE_SRC (element)
      && g_object_class_find_property (G_OBJECT_GET_CLASS (element), "used-socket") != NULL;
}

static void
collect_source (Walk * walk, GstElement * element)
{
  GST_LOG ("found %" GST_PTR_FORMAT, element);
  g_ptr_array_add (walk->sources, gst_object_ref (element));
}

static void
visit_element (Walk * walk, GstElement * element, guint depth)
{
  GstIterator *it;
  GValue item = G_VALUE_INIT;

  if (depth > MAX_DEPTH || g_hash_table_contains (walk->visited, element))
    return;
  g_hash_table_add (walk->visited, element);
  if (is_udp_source (element))
    collect_source (walk, element);

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
    /* A bin's source pad: continue inside the bin. */
    GstPad *target = gst_ghost_pad_get_target (GST_GHOST_PAD (srcpad));
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

GPtrArray *
vdm_discover_upstream_udp_sources (GstPad * sinkpad)
{
  Walk walk;
  GstPad *peer;

  walk.visited = g_hash_table_new (NULL, NULL);
  walk.sources = g_ptr_array_new_with_free_func (gst_object_unref);
  peer = gst_pad_get_peer (sinkpad);
  if (peer) {
    visit_src_pad (&walk, peer, 0);
    gst_object_unref (peer);
  }
  g_hash_table_unref (walk.visited);
  return walk.sources;
}
