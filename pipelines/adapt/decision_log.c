/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* decision_log.c — the decision log as JSON lines and stdout (decision_log.h). */
#include "decision_log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

#include <json-glib/json-glib.h>

struct DecisionLog
{
  FILE *file;
};

/* ------------------------------------------------------------------------ */
/* Message fields as JSON.                                                    */

static void add_structure (JsonBuilder * b, const GstStructure * s);
static void add_value (JsonBuilder * b, const GValue * v);

static void
add_array (JsonBuilder * b, const GValue * v)
{
  gboolean is_array = GST_VALUE_HOLDS_ARRAY (v);
  guint n = is_array ? gst_value_array_get_size (v) : gst_value_list_get_size (v);
  guint i;

  json_builder_begin_array (b);
  for (i = 0; i < n; i++)
    add_value (b, is_array ? gst_value_array_get_value (v, i) : gst_value_list_get_value (v, i));
  json_builder_end_array (b);
}

/* JSON integers are 64-bit signed here (JsonNode): a guint64 above that is
 * GST_CLOCK_TIME_NONE in every message vdm-adapt logs, so it is null. */
static void
add_uint64 (JsonBuilder * b, guint64 v)
{
  if (v > (guint64) G_MAXINT64)
    json_builder_add_null_value (b);
  else
    json_builder_add_int_value (b, (gint64) v);
}

/* A field's value as JSON: numbers as numbers (NONE and non-finite doubles
 * as null), arrays and lists as arrays, structures as objects, anything
 * else serialized to a string. */
static void
add_value (JsonBuilder * b, const GValue * v)
{
  GType t = G_VALUE_TYPE (v);

  if (t == G_TYPE_STRING) {
    json_builder_add_string_value (b, g_value_get_string (v) ? g_value_get_string (v) : "");
  } else if (t == G_TYPE_BOOLEAN) {
    json_builder_add_boolean_value (b, g_value_get_boolean (v));
  } else if (t == G_TYPE_INT) {
    json_builder_add_int_value (b, g_value_get_int (v));
  } else if (t == G_TYPE_UINT) {
    json_builder_add_int_value (b, g_value_get_uint (v));
  } else if (t == G_TYPE_INT64) {
    json_builder_add_int_value (b, g_value_get_int64 (v));
  } else if (t == G_TYPE_UINT64) {
    add_uint64 (b, g_value_get_uint64 (v));
  } else if (t == G_TYPE_DOUBLE) {
    if (isfinite (g_value_get_double (v)))
      json_builder_add_double_value (b, g_value_get_double (v));
    else
      json_builder_add_null_value (b);
  } else if (GST_VALUE_HOLDS_ARRAY (v) || GST_VALUE_HOLDS_LIST (v)) {
    add_array (b, v);
  } else if (GST_VALUE_HOLDS_STRUCTURE (v)) {
    add_structure (b, gst_value_get_structure (v));
  } else {
    g_autofree gchar *text = gst_value_serialize (v);
    json_builder_add_string_value (b, text ? text : "");
  }
}

static gboolean
add_field (GQuark field, const GValue * value, gpointer user_data)
{
  JsonBuilder *b = user_data;

  json_builder_set_member_name (b, g_quark_to_string (field));
  add_value (b, value);
  return TRUE;
}

/* {"message":"vdropmon-warning","level":"critical",...} or null */
static void
add_structure (JsonBuilder * b, const GstStructure * s)
{
  if (s == NULL) {
    json_builder_add_null_value (b);
    return;
  }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, gst_structure_get_name (s));
  gst_structure_foreach (s, add_field, b);
  json_builder_end_object (b);
}

static void
add_member_string (JsonBuilder * b, const gchar * name, const gchar * value)
{
  json_builder_set_member_name (b, name);
  if (value)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_member_int (JsonBuilder * b, const gchar * name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

/* ------------------------------------------------------------------------ */
/* stdout.                                                                    */

static void
print_reason (GString * line, const GstStructure * s)
{
  const gchar *name = gst_structure_get_name (s);
  guint64 eta = GST_CLOCK_TIME_NONE;

  if (g_str_equal (name, "vdropmon-warning")) {
    gst_structure_get_uint64 (s, "stall-eta", &eta);
    g_string_append_printf (line, " [%s %s, reasons %s, action %s, stall-eta ",
        gst_structure_get_string (s, "level"), gst_structure_get_string (s, "cause"),
        gst_structure_get_string (s, "reasons"), gst_structure_get_string (s, "action"));
    if (GST_CLOCK_TIME_IS_VALID (eta))
      g_string_append_printf (line, "%" G_GUINT64_FORMAT " ms]", eta / GST_MSECOND);
    else
      g_string_append (line, "unknown]");
  } else if (g_str_equal (name, "vdropmon-clear")) {
    guint64 duration = 0, drops = 0;

    gst_structure_get_uint64 (s, "duration", &duration);
    gst_structure_get_uint64 (s, "drops", &drops);
    g_string_append_printf (line, " [clear: %s, %" G_GUINT64_FORMAT " ms, %"
        G_GUINT64_FORMAT " drops]", gst_structure_get_string (s, "cause"),
        duration / GST_MSECOND, drops);
  }
}

void
decision_log_print (const DecisionRecord * r)
{
  GString *line = g_string_new (NULL);

  g_string_append_printf (line, "vdm-adapt: %s", r->event);
  if (r->from_height != r->to_height)
    g_string_append_printf (line, " %d -> %d", r->from_height, r->to_height);
  else
    g_string_append_printf (line, " at %d", r->to_height);
  if (r->note)
    g_string_append_printf (line, " (%s)", r->note);
  if (r->reason)
    print_reason (line, r->reason);
  g_print ("%s\n", line->str);
  g_string_free (line, TRUE);
}

/* ------------------------------------------------------------------------ */
/* --log.                                                                     */

/* Members in this order (tests/e2e/test_adapt.c finds the top-level ones
 * before "reason"). */
gchar *
decision_log_to_json (const DecisionRecord * r)
{
  const gchar *action = r->reason ? gst_structure_get_string (r->reason, "action") : NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  add_member_int (b, "time", r->time_ns);
  json_builder_set_member_name (b, "running-time");
  add_uint64 (b, r->running_time);
  add_member_string (b, "event", r->event);
  add_member_string (b, "action", action ? action : "none");
  add_member_int (b, "from-height", r->from_height);
  add_member_int (b, "to-height", r->to_height);
  add_member_string (b, "uri", r->uri);
  add_member_string (b, "note", r->note);
  json_builder_set_member_name (b, "reason");
  add_structure (b, r->reason);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

DecisionLog *
decision_log_open (const gchar * path, GError ** err)
{
  FILE *file = fopen (path, "w");
  DecisionLog *log;

  if (file == NULL) {
    g_set_error (err, G_FILE_ERROR, g_file_error_from_errno (errno), "cannot write %s: %s",
        path, g_strerror (errno));
    return NULL;
  }
  log = g_new0 (DecisionLog, 1);
  log->file = file;
  return log;
}

void
decision_log_write (DecisionLog * log, const DecisionRecord * r)
{
  g_autofree gchar *json = decision_log_to_json (r);

  fprintf (log->file, "%s\n", json);
  fflush (log->file);
}

void
decision_log_close (DecisionLog * log)
{
  if (log == NULL)
    return;
  fclose (log->file);
  g_free (log);
}
