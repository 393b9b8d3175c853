/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "e2e_receiver.h"

#include <gio/gio.h>
#include <stdio.h>
#include <string.h>

#include "kernel_test_util.h"
#include "receiver.h"

#define POLL_MS 20

static void
monitor_free (gpointer data)
{
  VdmE2eMonitor *m = data;

  gst_object_unref (m->element);
  g_ptr_array_unref (m->drops);
  g_ptr_array_unref (m->warnings);
  g_ptr_array_unref (m->stats);
  g_ptr_array_unref (m->summaries);
  g_free (m->name);
  g_free (m);
}

static VdmE2eMonitor *
monitor_of (VdmE2eReceiver * r, GstObject * element)
{
  guint i;

  for (i = 0; i < r->monitors->len; i++) {
    VdmE2eMonitor *m = g_ptr_array_index (r->monitors, i);
    if (GST_OBJECT (m->element) == element)
      return m;
  }
  return NULL;
}

/* A monitor's vdropmon-drop, -warning and -stats messages to its arrays,
 * while recording. */
static GPtrArray *
route_message (GstMessage * msg, const GstStructure * s, gpointer user_data)
{
  VdmE2eReceiver *r = user_data;
  VdmE2eMonitor *m = r->recording ? monitor_of (r, GST_MESSAGE_SRC (msg)) : NULL;

  if (m && gst_structure_has_name (s, "vdropmon-drop"))
    return m->drops;
  if (m && gst_structure_has_name (s, "vdropmon-warning"))
    return m->warnings;
  if (m && gst_structure_has_name (s, "vdropmon-stats"))
    return m->stats;
  if (m && gst_structure_has_name (s, "vdropmon-drop-summary"))
    return m->summaries;
  return NULL;
}

static void
on_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad, gpointer user_data)
{
  VdmE2eReceiver *r = user_data;
  VdmE2eFrame frame = {.time_ns = vdm_kt_now_ns (),.pts = GST_BUFFER_PTS (buf) };

  g_mutex_lock (&r->lock);
  if (r->recording)
    g_array_append_val (r->frames, frame);
  g_mutex_unlock (&r->lock);
}

static GstPadProbeReturn
on_decoded (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  VdmE2eReceiver *r = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  VdmE2eFrame frame = {.time_ns = vdm_kt_now_ns (),.pts = GST_BUFFER_PTS (buf) };

  g_mutex_lock (&r->lock);
  if (r->recording)
    g_array_append_val (r->decoded, frame);
  g_mutex_unlock (&r->lock);
  return GST_PAD_PROBE_OK;
}

static gboolean
is_vdropmon (GstElement * element)
{
  GstElementFactory *factory = gst_element_get_factory (element);

  return factory && g_strcmp0 (GST_OBJECT_NAME (factory), "vdropmon") == 0;
}

static void
find_monitors (VdmE2eReceiver * r)
{
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (r->pipeline));
  GValue item = G_VALUE_INIT;

  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElement *element = g_value_get_object (&item);
    if (is_vdropmon (element)) {
      VdmE2eMonitor *m = g_new0 (VdmE2eMonitor, 1);
      m->name = gst_element_get_name (element);
      m->element = gst_object_ref (element);
      m->drops = vdm_kt_messages_new ();
      m->warnings = vdm_kt_messages_new ();
      m->stats = vdm_kt_messages_new ();
      m->summaries = vdm_kt_messages_new ();
      g_ptr_array_add (r->monitors, m);
    }
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  if (r->monitors->len == 0)
    vdm_kt_fatal ("%s: no vdropmon element in the pipeline", r->label);
}

static void
watch_frames (VdmE2eReceiver * r)
{
  GstElement *sink = gst_bin_get_by_name (GST_BIN (r->pipeline), "sink");
  GstElement *dec = gst_bin_get_by_name (GST_BIN (r->pipeline), "dec");

  if (sink) {
    g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), r);
    gst_object_unref (sink);
  }
  if (dec) {
    GstPad *pad = gst_element_get_static_pad (dec, "src");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_decoded, r, NULL);
    gst_object_unref (pad);
    gst_object_unref (dec);
  }
}

VdmE2eReceiver *
vdm_e2e_receiver_start (const gchar * label, const gchar * description, GstClockTime latency)
{
  VdmE2eReceiver *r = g_new0 (VdmE2eReceiver, 1);
  GError *error = NULL;

  g_mutex_init (&r->lock);
  r->label = g_strdup (label);
  r->monitors = g_ptr_array_new_with_free_func (monitor_free);
  r->problems = g_ptr_array_new_with_free_func (g_free);
  r->frames = g_array_new (FALSE, FALSE, sizeof (VdmE2eFrame));
  r->decoded = g_array_new (FALSE, FALSE, sizeof (VdmE2eFrame));
  r->recording = TRUE;
  r->recorder = (VdmBusRecorder) {
  .label = r->label,.lock = &r->lock,.problems = r->problems,.route = route_message,
        .user_data = r};

  printf ("  %s: %s\n", label, description);
  r->pipeline = gst_parse_launch (description, &error);
  if (!r->pipeline)
    vdm_kt_fatal ("%s: cannot build the pipeline: %s", label, error->message);
  if (GST_CLOCK_TIME_IS_VALID (latency))
    gst_pipeline_set_latency (GST_PIPELINE (r->pipeline), latency);
  find_monitors (r);
  watch_frames (r);
  vdm_bus_recorder_attach (&r->recorder, r->pipeline);
  if (gst_element_set_state (r->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    vdm_e2e_receiver_check_errors (r);
    vdm_kt_fatal ("%s: the pipeline refused to go to PLAYING", label);
  }
  return r;
}

VdmE2eMonitor *
vdm_e2e_monitor (VdmE2eReceiver * r, const gchar * name)
{
  guint i;

  for (i = 0; i < r->monitors->len; i++) {
    VdmE2eMonitor *m = g_ptr_array_index (r->monitors, i);
    if (g_strcmp0 (m->name, name) == 0)
      return m;
  }
  vdm_kt_fatal ("%s: no vdropmon named \"%s\"", r->label, name);
}

GstElement *
vdm_e2e_element (VdmE2eReceiver * r, const gchar * name)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (r->pipeline), name);

  if (!e)
    vdm_kt_fatal ("%s: no element named \"%s\"", r->label, name);
  gst_object_unref (e);         /* the pipeline keeps it */
  return e;
}

GstStructure *
vdm_e2e_monitor_stats (VdmE2eMonitor * m)
{
  GstStructure *stats = NULL;

  g_object_get (m->element, "stats", &stats, NULL);
  if (!stats)
    vdm_kt_fatal ("%s returned no stats structure", m->name);
  return stats;
}

GPtrArray *
vdm_e2e_stats_flows (const GstStructure * stats)
{
  const GValue *flows = gst_structure_get_value (stats, "flows");
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  guint i;

  if (!flows || !GST_VALUE_HOLDS_ARRAY (flows))
    vdm_kt_fatal ("stats field flows missing or not an array");
  for (i = 0; i < gst_value_array_get_size (flows); i++)
    g_ptr_array_add (out, g_value_dup_string (gst_value_array_get_value (flows, i)));
  return out;
}

guint64
vdm_e2e_stats_reason (const GstStructure * stats, const gchar * reason)
{
  const GValue *v = gst_structure_get_value (stats, "reasons");
  guint64 n = 0;

  if (!v || !GST_VALUE_HOLDS_STRUCTURE (v))
    vdm_kt_fatal ("stats field reasons missing or not a structure");
  gst_structure_get_uint64 (gst_value_get_structure (v), reason, &n);
  return n;
}

gboolean
vdm_e2e_flows_have (GPtrArray * flows, const gchar * flow)
{
  guint i;

  for (i = 0; i < flows->len; i++)
    if (g_strcmp0 (g_ptr_array_index (flows, i), flow) == 0)
      return TRUE;
  return FALSE;
}

const gchar *
vdm_e2e_flows_find_prefix (GPtrArray * flows, const gchar * prefix)
{
  guint i;

  for (i = 0; i < flows->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (flows, i), prefix))
      return g_ptr_array_index (flows, i);
  return NULL;
}

void
vdm_e2e_receiver_end_recording (VdmE2eReceiver * r)
{
  g_mutex_lock (&r->lock);
  r->recording = FALSE;
  g_mutex_unlock (&r->lock);
}

void
vdm_e2e_receiver_check_errors (VdmE2eReceiver * r)
{
  gchar *first_error = NULL;
  guint i;

  g_mutex_lock (&r->lock);
  for (i = 0; !first_error && i < r->problems->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (r->problems, i), "error"))
      first_error = g_strdup (g_ptr_array_index (r->problems, i));
  g_mutex_unlock (&r->lock);
  if (first_error)
    vdm_kt_fatal ("%s: pipeline failed: %s", r->label, first_error);
}

static gchar *
flows_text (GPtrArray * flows)
{
  GString *text = g_string_new ("");
  guint i;

  for (i = 0; i < flows->len; i++)
    g_string_append_printf (text, "%s\"%s\"", i ? ", " : "",
        (gchar *) g_ptr_array_index (flows, i));
  return g_string_free (text, FALSE);
}

GPtrArray *
vdm_e2e_wait_flows (VdmE2eReceiver * r, VdmE2eMonitor * m, VdmE2eFlowsReady ready,
    gpointer user_data, guint timeout_ms)
{
  guint64 deadline = vdm_kt_now_ns () + (guint64) timeout_ms * 1000000;

  for (;;) {
    GstStructure *stats;
    GPtrArray *flows;
    gchar *text;

    vdm_e2e_receiver_check_errors (r);
    stats = vdm_e2e_monitor_stats (m);
    vdm_kt_require_collector (stats);
    flows = vdm_e2e_stats_flows (stats);
    gst_structure_free (stats);
    text = flows_text (flows);
    if (ready (flows, user_data)) {
      printf ("  %s: %s watches %s\n", r->label, m->name, text);
      g_free (text);
      return flows;
    }
    if (vdm_kt_now_ns () > deadline)
      vdm_kt_fatal ("%s: %s did not watch the expected flows within %u ms (watches %s)",
          r->label, m->name, timeout_ms, text);
    g_free (text);
    g_ptr_array_unref (flows);
    vdm_kt_sleep_ms (POLL_MS);
  }
}

static gboolean
is_udpsrc (GstElement * element)
{
  GstElementFactory *factory = gst_element_get_factory (element);

  return factory && g_strcmp0 (GST_OBJECT_NAME (factory), "udpsrc") == 0;
}

static gboolean
has_socket (GstElement * udpsrc)
{
  GSocket *socket = NULL;

  g_object_get (udpsrc, "used-socket", &socket, NULL);
  if (!socket)
    return FALSE;
  g_object_unref (socket);
  return TRUE;
}

/* rtspsrc adds its udpsrc elements to itself (it is a GstBin). */
static GPtrArray *
find_udpsrcs_with_socket (GstElement * bin)
{
  GPtrArray *found = g_ptr_array_new_with_free_func (gst_object_unref);
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (bin));
  GValue item = G_VALUE_INIT;

  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElement *element = g_value_get_object (&item);
    if (is_udpsrc (element) && has_socket (element))
      g_ptr_array_add (found, gst_object_ref (element));
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  return found;
}

GPtrArray *
vdm_e2e_wait_udpsrcs (VdmE2eReceiver * r, GstElement * bin, guint n, guint timeout_ms)
{
  guint64 deadline = vdm_kt_now_ns () + (guint64) timeout_ms * 1000000;

  for (;;) {
    GPtrArray *found = find_udpsrcs_with_socket (bin);
    if (found->len >= n)
      return found;
    g_ptr_array_unref (found);
    vdm_e2e_receiver_check_errors (r);
    if (vdm_kt_now_ns () > deadline)
      vdm_kt_fatal ("%s: %s has no %u udpsrc with a socket after %u ms", r->label,
          GST_OBJECT_NAME (bin), n, timeout_ms);
    vdm_kt_sleep_ms (POLL_MS);
  }
}

/* The drop reports recorded: each vdropmon-drop, and those a
 * vdropmon-drop-summary stands for (its "messages"). Called with the
 * receiver's lock held. */
guint64
vdm_e2e_reports_recorded (VdmE2eMonitor * m)
{
  guint64 n = m->drops->len, held_back;
  guint i;

  for (i = 0; i < m->summaries->len; i++)
    if (gst_structure_get_uint64 (((VdmKtMessage *) g_ptr_array_index (m->summaries, i))->s,
            "messages", &held_back))
      n += held_back;
  return n;
}

/* What must stop moving before the recorded messages are final. */
static GArray *
read_progress (VdmE2eReceiver * r, VdmE2eCounterFn external, gpointer external_data,
    gboolean * complete)
{
  GArray *p = g_array_new (FALSE, FALSE, sizeof (guint64));
  guint i;

  *complete = TRUE;
  for (i = 0; i < r->monitors->len; i++) {
    VdmE2eMonitor *m = g_ptr_array_index (r->monitors, i);
    GstStructure *stats = vdm_e2e_monitor_stats (m);
    guint64 kernel = vdm_kt_stats_u64 (stats, "kernel-drops");
    guint64 posted = vdm_kt_stats_u64 (stats, "drop-messages");
    guint64 buffers = vdm_kt_stats_u64 (stats, "buffers");
    guint64 recorded;

    gst_structure_free (stats);
    g_mutex_lock (&r->lock);
    recorded = vdm_e2e_reports_recorded (m);
    g_mutex_unlock (&r->lock);
    if (posted != recorded)
      *complete = FALSE;
    g_array_append_val (p, kernel);
    g_array_append_val (p, posted);
    g_array_append_val (p, buffers);
  }
  if (external) {
    guint64 value = external (external_data);
    g_array_append_val (p, value);
  }
  return p;
}

static gboolean
same_progress (GArray * a, GArray * b)
{
  return a->len == b->len && memcmp (a->data, b->data, a->len * sizeof (guint64)) == 0;
}

gboolean
vdm_e2e_receiver_settle (VdmE2eReceiver * r, guint quiet_ms, guint timeout_ms,
    VdmE2eCounterFn external, gpointer external_data)
{
  guint64 start = vdm_kt_now_ns ();
  guint64 deadline = start + (guint64) timeout_ms * 1000000, quiet_since = start;
  gboolean complete;
  GArray *last = read_progress (r, external, external_data, &complete);

  for (;;) {
    GArray *p;
    guint64 now;

    vdm_kt_sleep_ms (POLL_MS);
    p = read_progress (r, external, external_data, &complete);
    now = vdm_kt_now_ns ();
    if (!same_progress (p, last) || !complete)
      quiet_since = now;
    g_array_unref (last);
    last = p;
    if (now - quiet_since >= (guint64) quiet_ms * 1000000) {
      printf ("  %s: settled after %.0f ms\n", r->label, (now - start) / 1e6);
      g_array_unref (last);
      return TRUE;
    }
    if (now > deadline) {
      printf ("  %s: did not settle within %u ms\n", r->label, timeout_ms);
      g_array_unref (last);
      return FALSE;
    }
  }
}

GArray *
vdm_e2e_receiver_frames (VdmE2eReceiver * r)
{
  GArray *copy;

  g_mutex_lock (&r->lock);
  copy = g_array_copy (r->frames);
  g_mutex_unlock (&r->lock);
  return copy;
}

GArray *
vdm_e2e_receiver_decoded (VdmE2eReceiver * r)
{
  GArray *copy;

  g_mutex_lock (&r->lock);
  copy = g_array_copy (r->decoded);
  g_mutex_unlock (&r->lock);
  return copy;
}

gboolean
vdm_e2e_wait_calm (VdmE2eReceiver * r, VdmE2eMonitor * m, guint calm_ms, guint timeout_ms)
{
  guint64 start = vdm_kt_now_ns (), deadline = start + (guint64) timeout_ms * 1000000;
  guint64 calm_since = start;

  for (;;) {
    GstStructure *stats = vdm_e2e_monitor_stats (m);
    gboolean normal = g_strcmp0 (gst_structure_get_string (stats, "detector-state"),
        "normal") == 0;
    guint64 now = vdm_kt_now_ns ();

    gst_structure_free (stats);
    vdm_e2e_receiver_check_errors (r);
    if (!normal)
      calm_since = now;
    if (now - calm_since >= (guint64) calm_ms * 1000000) {
      printf ("  %s: %s calm (detector normal for %u ms) after %.0f ms\n", r->label, m->name,
          calm_ms, (now - start) / 1e6);
      return TRUE;
    }
    if (now > deadline) {
      printf ("  %s: %s not calm within %u ms\n", r->label, m->name, timeout_ms);
      return FALSE;
    }
    vdm_kt_sleep_ms (POLL_MS);
  }
}

guint
vdm_e2e_receiver_n_frames (VdmE2eReceiver * r)
{
  guint n;

  g_mutex_lock (&r->lock);
  n = r->frames->len;
  g_mutex_unlock (&r->lock);
  return n;
}

void
vdm_e2e_wait_frames (VdmE2eReceiver * r, guint n, guint timeout_ms)
{
  guint64 start = vdm_kt_now_ns (), deadline = start + (guint64) timeout_ms * 1000000;

  while (vdm_e2e_receiver_n_frames (r) < n) {
    vdm_e2e_receiver_check_errors (r);
    if (vdm_kt_now_ns () > deadline)
      vdm_kt_fatal ("%s: only %u of %u frames rendered within %u ms", r->label,
          vdm_e2e_receiver_n_frames (r), n, timeout_ms);
    vdm_kt_sleep_ms (POLL_MS);
  }
  printf ("  %s: %u frames rendered after %.0f ms\n", r->label, n,
      (vdm_kt_now_ns () - start) / 1e6);
}

static GPtrArray *
drops_where (VdmE2eMonitor * m, gboolean kernel)
{
  GPtrArray *out = g_ptr_array_new ();
  guint i;

  for (i = 0; i < m->drops->len; i++) {
    VdmKtMessage *msg = g_ptr_array_index (m->drops, i);
    const gchar *source = gst_structure_get_string (msg->s, "source");
    gboolean is_kernel = g_str_has_prefix (source ? source : "", "kernel");
    if (is_kernel == kernel)
      g_ptr_array_add (out, msg);
  }
  return out;
}

GPtrArray *
vdm_e2e_kernel_drops (VdmE2eMonitor * m)
{
  return drops_where (m, TRUE);
}

GPtrArray *
vdm_e2e_gap_drops (VdmE2eMonitor * m)
{
  return drops_where (m, FALSE);
}

void
vdm_e2e_receiver_stop (VdmE2eReceiver * r)
{
  gst_element_set_state (r->pipeline, GST_STATE_NULL);
}

void
vdm_e2e_receiver_free (VdmE2eReceiver * r)
{
  if (!r)
    return;
  vdm_e2e_receiver_stop (r);
  vdm_bus_recorder_detach (r->pipeline);
  gst_object_unref (r->pipeline);
  g_ptr_array_unref (r->monitors);
  g_ptr_array_unref (r->problems);
  g_array_unref (r->frames);
  g_array_unref (r->decoded);
  g_free (r->label);
  g_mutex_clear (&r->lock);
  g_free (r);
}
