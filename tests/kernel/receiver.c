/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "receiver.h"

#include <gio/gio.h>
#include <stdio.h>
#include <string.h>

#include "kernel_test_util.h"
#include "udp_proc.h"

#define WATCH_TIMEOUT_MS 5000
#define POLL_MS 20

/* vdropmon-drop to drops; -warning and -clear to signals. */
static GPtrArray *
route_message (GstMessage * msg, const GstStructure * s, gpointer user_data)
{
  VdmKtReceiver *r = user_data;

  if (gst_structure_has_name (s, "vdropmon-drop"))
    return r->drops;
  if (gst_structure_has_name (s, "vdropmon-warning")
      || gst_structure_has_name (s, "vdropmon-clear"))
    return r->signals;
  return NULL;
}

static void
note_passed (VdmKtReceiver * r, GstBuffer * buf)
{
  GstMapInfo map;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return;
  if (map.size >= 12 && (map.data[0] >> 6) == 2) {
    guint16 seq = (guint16) ((map.data[2] << 8) | map.data[3]);
    if (r->passed[seq] < G_MAXUINT8)
      r->passed[seq]++;
  }
  r->n_passed++;
  gst_buffer_unmap (buf, &map);
}

static GstPadProbeReturn
on_buffer_passed (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  VdmKtReceiver *r = user_data;

  g_mutex_lock (&r->lock);
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    note_passed (r, GST_PAD_PROBE_INFO_BUFFER (info));
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    guint i;
    for (i = 0; i < gst_buffer_list_length (list); i++)
      note_passed (r, gst_buffer_list_get (list, i));
  }
  g_mutex_unlock (&r->lock);
  return GST_PAD_PROBE_OK;
}

GstStructure *
vdm_kt_receiver_stats (VdmKtReceiver * r)
{
  GstStructure *stats = NULL;

  g_object_get (r->mon, "stats", &stats, NULL);
  if (!stats)
    vdm_kt_fatal ("vdropmon returned no stats structure");
  return stats;
}

guint64
vdm_kt_stats_u64 (const GstStructure * stats, const gchar * field)
{
  guint64 value = 0;

  if (!gst_structure_get_uint64 (stats, field, &value))
    vdm_kt_fatal ("stats field %s missing or not guint64: %s", field,
        gst_structure_to_string (stats));
  return value;
}

/* The element's flow string for our port, or NULL while not yet watched. */
static gchar *
watched_flow_for_port (const GstStructure * stats, guint16 port)
{
  const GValue *flows = gst_structure_get_value (stats, "flows");
  gchar *suffix = g_strdup_printf (":%u", port);
  gchar *found = NULL;
  guint i;

  if (!flows || !GST_VALUE_HOLDS_ARRAY (flows))
    vdm_kt_fatal ("stats field flows missing or not an array");
  for (i = 0; !found && i < gst_value_array_get_size (flows); i++) {
    const gchar *flow = g_value_get_string (gst_value_array_get_value (flows, i));
    if (flow && g_str_has_suffix (flow, suffix))
      found = g_strdup (flow);
  }
  g_free (suffix);
  return found;
}

static void
fail_on_bus_error (VdmKtReceiver * r)
{
  gchar *first = NULL;

  g_mutex_lock (&r->lock);
  if (r->problems->len)
    first = g_strdup (g_ptr_array_index (r->problems, 0));
  g_mutex_unlock (&r->lock);
  if (first && g_str_has_prefix (first, "error"))
    vdm_kt_fatal ("pipeline failed: %s", first);
  g_free (first);
}

static void
wait_until_watched (VdmKtReceiver * r, const gchar * label)
{
  guint64 deadline = vdm_kt_now_ns () + (guint64) WATCH_TIMEOUT_MS * 1000000;
  GstStructure *stats;

  for (;;) {
    fail_on_bus_error (r);
    stats = vdm_kt_receiver_stats (r);
    vdm_kt_require_collector (stats);
    r->flow = watched_flow_for_port (stats, r->port);
    gst_structure_free (stats);
    if (r->flow)
      break;
    if (vdm_kt_now_ns () > deadline)
      vdm_kt_fatal ("%s: vdropmon did not watch the udpsrc socket on port %u within %d ms",
          label, r->port, WATCH_TIMEOUT_MS);
    vdm_kt_sleep_ms (POLL_MS);
  }
  printf ("  %s: pipeline PLAYING, vdropmon watches \"%s\"\n", label, r->flow);
}

static GstElement *
get_named (GstElement * pipeline, const gchar * name)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), name);

  if (!e)
    vdm_kt_fatal ("pipeline has no element named \"%s\"", name);
  return e;
}

static void
learn_socket (VdmKtReceiver * r)
{
  gint port = 0;

  g_object_get (r->src, "port", &port, "used-socket", &r->socket, NULL);
  if (!r->socket || port <= 0 || port > 65535)
    vdm_kt_fatal ("udpsrc has no socket or port after starting (port %d)", port);
  r->port = (guint16) port;
  r->fd = g_socket_get_fd (r->socket);
}

VdmKtReceiver *
vdm_kt_receiver_start (const gchar * label, const gchar * description)
{
  VdmKtReceiver *r = g_new0 (VdmKtReceiver, 1);
  GError *error = NULL;
  GstPad *pad;

  g_mutex_init (&r->lock);
  r->drops = vdm_kt_messages_new ();
  r->signals = vdm_kt_messages_new ();
  r->problems = g_ptr_array_new_with_free_func (g_free);
  r->recorder = (VdmBusRecorder) {
  .lock = &r->lock,.problems = r->problems,.route = route_message,.user_data = r};
  r->passed = g_new0 (guint8, 65536);
  r->fd = -1;

  printf ("  %s: %s\n", label, description);
  r->pipeline = gst_parse_launch (description, &error);
  if (!r->pipeline)
    vdm_kt_fatal ("%s: cannot build the pipeline: %s", label, error->message);
  r->src = get_named (r->pipeline, "src");
  r->mon = get_named (r->pipeline, "mon");

  vdm_bus_recorder_attach (&r->recorder, r->pipeline);
  pad = gst_element_get_static_pad (r->mon, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
      on_buffer_passed, r, NULL);
  gst_object_unref (pad);

  if (gst_element_set_state (r->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    fail_on_bus_error (r);
    vdm_kt_fatal ("%s: the pipeline refused to go to PLAYING", label);
  }
  learn_socket (r);
  wait_until_watched (r, label);
  return r;
}

typedef struct
{
  guint64 n_passed, n_drop_messages, kernel_drops, element_messages, external;
} Progress;

static Progress
read_progress (VdmKtReceiver * r, VdmKtCounterFn external, gpointer external_data)
{
  GstStructure *stats = vdm_kt_receiver_stats (r);
  Progress p = { 0 };

  p.kernel_drops = vdm_kt_stats_u64 (stats, "kernel-drops");
  p.element_messages = vdm_kt_stats_u64 (stats, "drop-messages");
  gst_structure_free (stats);
  p.external = external ? external (external_data) : 0;
  g_mutex_lock (&r->lock);
  p.n_passed = r->n_passed;
  p.n_drop_messages = r->drops->len;
  g_mutex_unlock (&r->lock);
  return p;
}

gboolean
vdm_kt_receiver_settle (VdmKtReceiver * r, guint quiet_ms, guint timeout_ms,
    VdmKtCounterFn external, gpointer external_data)
{
  guint64 start = vdm_kt_now_ns ();
  guint64 deadline = start + (guint64) timeout_ms * 1000000;
  guint64 quiet_since = start;
  Progress last = read_progress (r, external, external_data);

  for (;;) {
    guint64 now;
    Progress p;

    vdm_kt_sleep_ms (POLL_MS);
    p = read_progress (r, external, external_data);
    now = vdm_kt_now_ns ();
    if (memcmp (&p, &last, sizeof (p)) != 0 || p.element_messages != p.n_drop_messages)
      quiet_since = now;
    last = p;
    if (now - quiet_since >= (guint64) quiet_ms * 1000000) {
      printf ("  settled after %.0f ms: %" G_GUINT64_FORMAT " buffers passed, %"
          G_GUINT64_FORMAT " kernel drops, %" G_GUINT64_FORMAT " drop messages\n",
          (now - start) / 1e6, p.n_passed, p.kernel_drops, p.n_drop_messages);
      return TRUE;
    }
    if (now > deadline) {
      printf ("  did not settle within %u ms (element counted %" G_GUINT64_FORMAT
          " drop messages, %" G_GUINT64_FORMAT " recorded)\n", timeout_ms,
          p.element_messages, p.n_drop_messages);
      return FALSE;
    }
  }
}

guint64
vdm_kt_fd_socket_drops (int fd)
{
  uint64_t drops = 0;
  int err = vdm_udp_proc_drops (fd, &drops);

  if (err < 0)
    vdm_kt_fatal ("cannot read the kernel drop counter of fd %d: %s", fd, g_strerror (-err));
  return drops;
}

guint64
vdm_kt_receiver_socket_drops (VdmKtReceiver * r)
{
  return vdm_kt_fd_socket_drops (r->fd);
}

void
vdm_kt_receiver_stop (VdmKtReceiver * r)
{
  gst_element_set_state (r->pipeline, GST_STATE_NULL);
  r->fd = -1;
}

void
vdm_kt_receiver_free (VdmKtReceiver * r)
{
  if (!r)
    return;
  vdm_kt_receiver_stop (r);
  gst_object_unref (r->src);
  gst_object_unref (r->mon);
  gst_object_unref (r->pipeline);
  g_clear_object (&r->socket);
  g_ptr_array_unref (r->drops);
  g_ptr_array_unref (r->signals);
  g_ptr_array_unref (r->problems);
  g_free (r->passed);
  g_free (r->flow);
  g_mutex_clear (&r->lock);
  g_free (r);
}
