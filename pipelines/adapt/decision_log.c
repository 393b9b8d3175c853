/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* decision_log.c — the decision log as JSON lines and stdout (decision_log.h). */
#include "decision_log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

struct DecisionLog
{
  FILE *file;
};

static void
json_string (GString * out, const gchar * s)
{
  g_string_append_c (out, '"');
  for (; s && *s; s++) {
    guchar c = (guchar) * s;

    if (c == '"' || c == '\\')
      g_string_append_printf (out, "\\%c", c);
    else if (c == '\n')
      g_string_append (out, "\\n");
    else if (c < 0x20)
      g_string_append_printf (out, "\\u%04x", c);
    else
      g_string_append_c (out, c);
  }
  g_string_append_c (out, '"');
}

static void
json_double (GString * out, gdouble v)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (v))
    g_string_append (out, "null");
  else
    g_string_append (out, g_ascii_dtostr (buf, sizeof (buf), v));
}

static void json_structure (GString * out, const GstStructure * s);
static void json_value (GString * out, const GValue * v);

static void
json_array (GString * out, const GValue * v)
{
  gboolean is_array = GST_VALUE_HOLDS_ARRAY (v);
  guint n = is_array ? gst_value_array_get_size (v) : gst_value_list_get_size (v);
  guint i;

  g_string_append_c (out, '[');
  for (i = 0; i < n; i++) {
    if (i > 0)
      g_string_append_c (out, ',');
    json_value (out, is_array ? gst_value_array_get_value (v, i)
        : gst_value_list_get_value (v, i));
  }
  g_string_append_c (out, ']');
}

/* A field's value as JSON: numbers as numbers (NONE stays
 * 18446744073709551615, as on the bus), arrays as arrays, structures as
 * objects, anything else serialized to a string. */
static void
json_value (GString * out, const GValue * v)
{
  GType t = G_VALUE_TYPE (v);

  if (t == G_TYPE_STRING)
    json_string (out, g_value_get_string (v));
  else if (t == G_TYPE_BOOLEAN)
    g_string_append (out, g_value_get_boolean (v) ? "true" : "false");
  else if (t == G_TYPE_INT)
    g_string_append_printf (out, "%d", g_value_get_int (v));
  else if (t == G_TYPE_UINT)
    g_string_append_printf (out, "%u", g_value_get_uint (v));
  else if (t == G_TYPE_INT64)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, g_value_get_int64 (v));
  else if (t == G_TYPE_UINT64)
    g_string_append_printf (out, "%" G_GUINT64_FORMAT, g_value_get_uint64 (v));
  else if (t == G_TYPE_DOUBLE)
    json_double (out, g_value_get_double (v));
  else if (GST_VALUE_HOLDS_ARRAY (v) || GST_VALUE_HOLDS_LIST (v))
    json_array (out, v);
  else if (GST_VALUE_HOLDS_STRUCTURE (v))
    json_structure (out, gst_value_get_structure (v));
  else {
    g_autofree gchar *text = gst_value_serialize (v);
    json_string (out, text);
  }
}

static gboolean
append_field (GQuark field, const GValue * value, gpointer user_data)
{
  GString *out = user_data;

  if (out->str[out->len - 1] != '{')
    g_string_append_c (out, ',');
  json_string (out, g_quark_to_string (field));
  g_string_append_c (out, ':');
  json_value (out, value);
  return TRUE;
}

/* {"message":"vdropmon-warning","level":"critical",...} or null */
static void
json_structure (GString * out, const GstStructure * s)
{
  if (s == NULL) {
    g_string_append (out, "null");
    return;
  }
  g_string_append (out, "{\"message\":");
  json_string (out, gst_structure_get_name (s));
  gst_structure_foreach (s, append_field, out);
  g_string_append_c (out, '}');
}

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

gchar *
decision_log_to_json (const DecisionRecord * r)
{
  const gchar *action = r->reason ? gst_structure_get_string (r->reason, "action") : NULL;
  GString *line = g_string_new (NULL);

  g_string_append_printf (line, "{\"time\":%" G_GINT64_FORMAT ",\"running-time\":", r->time_ns);
  if (GST_CLOCK_TIME_IS_VALID (r->running_time))
    g_string_append_printf (line, "%" G_GUINT64_FORMAT, r->running_time);
  else
    g_string_append (line, "null");
  g_string_append (line, ",\"event\":");
  json_string (line, r->event);
  g_string_append (line, ",\"action\":");
  json_string (line, action ? action : "none");
  g_string_append_printf (line, ",\"from-height\":%d,\"to-height\":%d,\"uri\":",
      r->from_height, r->to_height);
  json_string (line, r->uri);
  g_string_append (line, ",\"note\":");
  if (r->note)
    json_string (line, r->note);
  else
    g_string_append (line, "null");
  g_string_append (line, ",\"reason\":");
  json_structure (line, r->reason);
  g_string_append (line, "}");
  return g_string_free (line, FALSE);
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
