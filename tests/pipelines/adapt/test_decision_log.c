/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of vdm-adapt's decision log (pipelines/adapt/decision_log.c):
 * each record one line of JSON that a JSON parser reads back field for
 * field, in the order and form docs/adaptation.md gives and
 * tests/e2e/test_adapt.c relies on.
 */
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <math.h>

#include "decision_log.h"

static GstStructure *
warning_structure (void)
{
  GstStructure *nested = gst_structure_new ("inner", "n", G_TYPE_INT, 7, NULL);
  GValue seqs = G_VALUE_INIT, seq = G_VALUE_INIT;
  GstStructure *s = gst_structure_new ("vdropmon-warning",
      "level", G_TYPE_STRING, "critical",
      "cause", G_TYPE_STRING, "host,keyframe",
      "action", G_TYPE_STRING, "lower-resolution",
      "reasons", G_TYPE_STRING, "SOCKET_RCVBUFF \"quoted\"\nnext line",
      "drop-rate", G_TYPE_DOUBLE, 2290.5,
      "ewma", G_TYPE_DOUBLE, INFINITY,
      "stall-eta", G_TYPE_UINT64, GST_CLOCK_TIME_NONE,
      "detect-time", G_TYPE_UINT64, G_GUINT64_CONSTANT (2083646818248),
      "suggested-height", G_TYPE_INT, -1,
      "count", G_TYPE_UINT, 4000000000u,
      "offset", G_TYPE_INT64, G_GINT64_CONSTANT (-5),
      "keyframe", G_TYPE_BOOLEAN, TRUE,
      "rate", GST_TYPE_FRACTION, 30, 1,
      "inner", GST_TYPE_STRUCTURE, nested, NULL);
  guint i;

  g_value_init (&seqs, GST_TYPE_ARRAY);
  g_value_init (&seq, G_TYPE_UINT);
  for (i = 0; i < 3; i++) {
    g_value_set_uint (&seq, 18269 + i);
    gst_value_array_append_value (&seqs, &seq);
  }
  gst_structure_take_value (s, "rtp-seqs", &seqs);
  g_value_unset (&seq);
  gst_structure_free (nested);
  return s;
}

static JsonObject *
parse_object (const gchar * json, JsonParser ** parser)
{
  g_autoptr (GError) err = NULL;

  *parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (*parser, json, -1, &err));
  g_assert_no_error (err);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (*parser)));
  return json_node_get_object (json_parser_get_root (*parser));
}

/* Every field of a warning, typed as JSON types; NONE and infinity null. */
static void
test_warning_record (void)
{
  GstStructure *warning = warning_structure ();
  DecisionRecord r = {.time_ns = G_GINT64_CONSTANT (3545664000123),
    .running_time = G_GUINT64_CONSTANT (3619000000),.event = "step-down",.from_height = 1080,
    .to_height = 720,.uri = "udp://127.0.0.1:5004",.note = NULL,.reason = warning
  };
  g_autofree gchar *json = decision_log_to_json (&r);
  JsonParser *parser;
  JsonObject *o = parse_object (json, &parser), *reason, *inner;
  JsonArray *seqs;

  g_assert_null (strchr (json, '\n'));
  g_assert_cmpint (json_object_get_int_member (o, "time"), ==, 3545664000123);
  g_assert_cmpint (json_object_get_int_member (o, "running-time"), ==, 3619000000);
  g_assert_cmpstr (json_object_get_string_member (o, "event"), ==, "step-down");
  g_assert_cmpstr (json_object_get_string_member (o, "action"), ==, "lower-resolution");
  g_assert_cmpint (json_object_get_int_member (o, "from-height"), ==, 1080);
  g_assert_cmpint (json_object_get_int_member (o, "to-height"), ==, 720);
  g_assert_cmpstr (json_object_get_string_member (o, "uri"), ==, "udp://127.0.0.1:5004");
  g_assert_true (json_object_get_null_member (o, "note"));

  reason = json_object_get_object_member (o, "reason");
  g_assert_cmpstr (json_object_get_string_member (reason, "message"), ==, "vdropmon-warning");
  g_assert_cmpstr (json_object_get_string_member (reason, "cause"), ==, "host,keyframe");
  g_assert_cmpstr (json_object_get_string_member (reason, "reasons"), ==,
      "SOCKET_RCVBUFF \"quoted\"\nnext line");
  g_assert_cmpfloat (json_object_get_double_member (reason, "drop-rate"), ==, 2290.5);
  g_assert_true (json_object_get_null_member (reason, "ewma"));
  g_assert_true (json_object_get_null_member (reason, "stall-eta"));
  g_assert_cmpint (json_object_get_int_member (reason, "detect-time"), ==, 2083646818248);
  g_assert_cmpint (json_object_get_int_member (reason, "suggested-height"), ==, -1);
  g_assert_cmpint (json_object_get_int_member (reason, "count"), ==, 4000000000);
  g_assert_cmpint (json_object_get_int_member (reason, "offset"), ==, -5);
  g_assert_true (json_object_get_boolean_member (reason, "keyframe"));
  g_assert_cmpstr (json_object_get_string_member (reason, "rate"), ==, "30/1");
  inner = json_object_get_object_member (reason, "inner");
  g_assert_cmpstr (json_object_get_string_member (inner, "message"), ==, "inner");
  g_assert_cmpint (json_object_get_int_member (inner, "n"), ==, 7);
  seqs = json_object_get_array_member (reason, "rtp-seqs");
  g_assert_cmpuint (json_array_get_length (seqs), ==, 3);
  g_assert_cmpint (json_array_get_int_element (seqs, 2), ==, 18271);

  g_object_unref (parser);
  gst_structure_free (warning);
}

/* tests/e2e/test_adapt.c reads the lines with a regular expression: the
 * top-level members come first, in the documented order, "reason" last,
 * no space after a colon. */
static void
test_member_order (void)
{
  GstStructure *clear = gst_structure_new ("vdropmon-clear", "cause", G_TYPE_STRING, "host",
      "duration", G_TYPE_UINT64, G_GUINT64_CONSTANT (3484000000), NULL);
  DecisionRecord r = {.time_ns = 42,.running_time = GST_CLOCK_TIME_NONE,.event = "clear",
    .from_height = 720,.to_height = 720,.uri = "rtsp://h/x",.note = "a \"note\"",.reason = clear
  };
  g_autofree gchar *json = decision_log_to_json (&r);

  g_assert_cmpstr (json, ==, "{\"time\":42,\"running-time\":null,\"event\":\"clear\","
      "\"action\":\"none\",\"from-height\":720,\"to-height\":720,\"uri\":\"rtsp://h/x\","
      "\"note\":\"a \\\"note\\\"\",\"reason\":{\"message\":\"vdropmon-clear\","
      "\"cause\":\"host\",\"duration\":3484000000}}");
  gst_structure_free (clear);
}

/* No reason: null, action "none". */
static void
test_no_reason (void)
{
  DecisionRecord r = {.time_ns = 1,.running_time = 0,.event = "start",.from_height = 480,
    .to_height = 480,.uri = "udp://5004",.note = "udp://5004"
  };
  g_autofree gchar *json = decision_log_to_json (&r);
  JsonParser *parser;
  JsonObject *o = parse_object (json, &parser);

  g_assert_cmpint (json_object_get_int_member (o, "running-time"), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (o, "action"), ==, "none");
  g_assert_true (json_object_get_null_member (o, "reason"));
  g_object_unref (parser);
}

/* The file: one line per record, whole lines, readable at once. */
static void
test_file (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("vdm-adapt-log-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "decisions.jsonl", NULL);
  g_autofree gchar *bad = g_build_filename (dir, "no", "such", "dir", NULL);
  g_autoptr (GError) err = NULL;
  g_autofree gchar *text = NULL;
  g_auto (GStrv) lines = NULL;
  DecisionRecord r = {.running_time = GST_CLOCK_TIME_NONE,.event = "start",.uri = "udp://1" };
  DecisionLog *log = decision_log_open (path, &err);

  g_assert_no_error (err);
  r.time_ns = 1;
  decision_log_write (log, &r);
  r.time_ns = 2;
  r.event = "stop";
  decision_log_write (log, &r);
  /* Flushed: readable before the log is closed. */
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  g_assert_cmpstr (lines[2], ==, "");
  g_assert_true (g_str_has_prefix (lines[1], "{\"time\":2,"));
  decision_log_close (log);

  g_assert_null (decision_log_open (bad, &err));
  g_assert_error (err, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  gst_init (NULL, NULL);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/adapt-decision-log/warning-record", test_warning_record);
  g_test_add_func ("/adapt-decision-log/member-order", test_member_order);
  g_test_add_func ("/adapt-decision-log/no-reason", test_no_reason);
  g_test_add_func ("/adapt-decision-log/file", test_file);
  return g_test_run ();
}
