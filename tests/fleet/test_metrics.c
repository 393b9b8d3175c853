/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of daemon/metrics.c: the registry, exact exposition text,
 * escaping, values, expiry on an explicit timeline, limits. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "metrics.h"

#define S 1000000000ull

static char *
render (VdmMetrics * m, uint64_t now)
{
  VdmMetricsText text;
  vdm_metrics_text_init (&text);
  g_assert_cmpint (vdm_metrics_render (m, now, &text), ==, 0);
  char *copy = g_strdup (text.data ? text.data : "");
  vdm_metrics_text_clear (&text);
  return copy;
}

static void
test_names (void)
{
  g_assert_true (vdm_metrics_valid_metric_name ("vdropmon_x_total"));
  g_assert_true (vdm_metrics_valid_metric_name (":a:b_9"));
  g_assert_false (vdm_metrics_valid_metric_name ("9abc"));
  g_assert_false (vdm_metrics_valid_metric_name ("a-b"));
  g_assert_false (vdm_metrics_valid_metric_name (""));
  g_assert_false (vdm_metrics_valid_metric_name (NULL));
  g_assert_true (vdm_metrics_valid_label_name ("flow"));
  g_assert_true (vdm_metrics_valid_label_name ("_x1"));
  g_assert_false (vdm_metrics_valid_label_name ("__name__"));
  g_assert_false (vdm_metrics_valid_label_name ("a:b"));
  g_assert_false (vdm_metrics_valid_label_name ("1a"));
}

static void
test_define_rejects (void)
{
  VdmMetrics *m = vdm_metrics_new (10 * S, 100);
  const char *dup[] = { "a", "a", NULL };
  const char *reserved[] = { "__a", NULL };
  const char *nine[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i", NULL };
  const char *eight[] = { "a", "b", "c", "d", "e", "f", "g", "h", NULL };
  g_assert_nonnull (vdm_metrics_define (m, "x", VDM_METRIC_GAUGE, "h", NULL));
  g_assert_null (vdm_metrics_define (m, "x", VDM_METRIC_COUNTER, "h", NULL));
  g_assert_null (vdm_metrics_define (m, "bad name", VDM_METRIC_GAUGE, "h", NULL));
  g_assert_null (vdm_metrics_define (m, "y", VDM_METRIC_GAUGE, "h", dup));
  g_assert_null (vdm_metrics_define (m, "y", VDM_METRIC_GAUGE, "h", reserved));
  g_assert_null (vdm_metrics_define (m, "y", VDM_METRIC_GAUGE, "h", nine));
  g_assert_nonnull (vdm_metrics_define (m, "y", VDM_METRIC_GAUGE, "h", eight));
  g_assert_cmpuint (vdm_metrics_family_count (m), ==, 2);
  g_assert_cmpstr (vdm_metric_family_name (vdm_metrics_family_at (m, 1)), ==, "y");
  g_assert_null (vdm_metrics_family_at (m, 2));
  vdm_metrics_free (m);
}

static void
test_render_exact (void)
{
  VdmMetrics *m = vdm_metrics_new (10 * S, 100);
  const char *labels[] = { "flow", "reason", NULL };
  VdmMetricFamily *drops = vdm_metrics_define (m, "t_drops_total", VDM_METRIC_COUNTER,
      "Drops.", labels);
  VdmMetricFamily *up = vdm_metrics_define (m, "t_up", VDM_METRIC_GAUGE, "Up.", NULL);
  VdmMetricFamily *empty = vdm_metrics_define (m, "t_empty", VDM_METRIC_GAUGE, "None yet.",
      labels);
  g_assert_nonnull (empty);
  const char *a[] = { "udp 127.0.0.1:5004", "SOCKET_RCVBUFF" };
  const char *b[] = { "udp 127.0.0.1:5006", "QDISC_DROP" };
  g_assert_cmpint (vdm_metrics_set (drops, a, 2476, 1), ==, 0);
  g_assert_cmpint (vdm_metrics_set (drops, b, 3, 1), ==, 0);
  g_assert_cmpint (vdm_metrics_set (drops, a, 2477, 2), ==, 0); /* same series, new value */
  g_assert_cmpint (vdm_metrics_set (up, NULL, 1, 2), ==, 0);
  char *text = render (m, 3);
  g_assert_cmpstr (text, ==,
      "# HELP t_drops_total Drops.\n"
      "# TYPE t_drops_total counter\n"
      "t_drops_total{flow=\"udp 127.0.0.1:5004\",reason=\"SOCKET_RCVBUFF\"} 2477\n"
      "t_drops_total{flow=\"udp 127.0.0.1:5006\",reason=\"QDISC_DROP\"} 3\n"
      "# HELP t_up Up.\n"
      "# TYPE t_up gauge\n"
      "t_up 1\n"
      "# HELP t_empty None yet.\n"
      "# TYPE t_empty gauge\n");
  g_free (text);
  g_assert_cmpuint (vdm_metrics_series_count (m), ==, 3);
  vdm_metrics_free (m);
}

static char *
label_escaped (const char *value)
{
  VdmMetricsText text;
  vdm_metrics_text_init (&text);
  vdm_metrics_append_label_value (&text, value);
  char *copy = g_strdup (text.data ? text.data : "");
  vdm_metrics_text_clear (&text);
  return copy;
}

static char *
help_escaped (const char *value)
{
  VdmMetricsText text;
  vdm_metrics_text_init (&text);
  vdm_metrics_append_help (&text, value);
  char *copy = g_strdup (text.data ? text.data : "");
  vdm_metrics_text_clear (&text);
  return copy;
}

static void
test_escaping (void)
{
  struct { const char *in, *label, *help; } cases[] = {
    { "plain", "plain", "plain" },
    { "a\\b", "a\\\\b", "a\\\\b" },
    { "say \"hi\"", "say \\\"hi\\\"", "say \"hi\"" },
    { "two\nlines", "two\\nlines", "two\\nlines" },
    { "caméra-東京", "caméra-東京", "caméra-東京" },     /* valid UTF-8 kept */
    { "bad\xff\xfe" "byte", "bad??byte", "bad??byte" },  /* invalid bytes */
    { "cut\xe6\x9d", "cut??", "cut??" },                 /* truncated sequence */
    { "over\xc0\xaf", "over??", "over??" },              /* overlong '/' */
    { "sur\xed\xa0\x80", "sur???", "sur???" },           /* UTF-16 surrogate */
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    char *label = label_escaped (cases[i].in);
    char *help = help_escaped (cases[i].in);
    g_assert_cmpstr (label, ==, cases[i].label);
    g_assert_cmpstr (help, ==, cases[i].help);
    g_assert_true (g_utf8_validate (label, -1, NULL));
    g_free (label);
    g_free (help);
  }
}

static void
test_escaping_in_render (void)
{
  VdmMetrics *m = vdm_metrics_new (10 * S, 100);
  const char *labels[] = { "pipeline", NULL };
  VdmMetricFamily *f = vdm_metrics_define (m, "t", VDM_METRIC_GAUGE, "Help with \\ and\nnewline.",
      labels);
  const char *v[] = { "cam \"1\"\\\n" };
  vdm_metrics_set (f, v, 1, 0);
  char *text = render (m, 0);
  g_assert_cmpstr (text, ==,
      "# HELP t Help with \\\\ and\\nnewline.\n"
      "# TYPE t gauge\n"
      "t{pipeline=\"cam \\\"1\\\"\\\\\\n\"} 1\n");
  g_free (text);
  vdm_metrics_free (m);
}

static void
test_values (void)
{
  VdmMetrics *m = vdm_metrics_new (10 * S, 100);
  const char *labels[] = { "k", NULL };
  VdmMetricFamily *f = vdm_metrics_define (m, "v", VDM_METRIC_GAUGE, "", labels);
  struct { const char *k; double value; const char *text; } cases[] = {
    { "zero", 0, "0" },
    { "tenth", 0.1, "0.1" },
    { "third", 1.0 / 3, "0.33333333333333331" },
    { "big", 18446744073709551615.0, "1.8446744073709552e+19" }, /* %.15g reads back wrong */
    { "int", 123456789012, "123456789012" },
    { "neg", -1.5, "-1.5" },
    { "nan", NAN, "NaN" },
    { "inf", INFINITY, "+Inf" },
    { "ninf", -INFINITY, "-Inf" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    const char *v[] = { cases[i].k };
    vdm_metrics_set (f, v, cases[i].value, 0);
  }
  char *text = render (m, 0);
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    char *line = g_strdup_printf ("v{k=\"%s\"} %s\n", cases[i].k, cases[i].text);
    if (!strstr (text, line))
      g_error ("missing line %s in:\n%s", line, text);
    g_free (line);
  }
  g_free (text);
  vdm_metrics_free (m);
}

static void
test_add_and_get (void)
{
  VdmMetrics *m = vdm_metrics_new (10 * S, 100);
  const char *labels[] = { "k", NULL };
  VdmMetricFamily *f = vdm_metrics_define (m, "c_total", VDM_METRIC_COUNTER, "", labels);
  const char *v[] = { "a" };
  double value = -1;
  g_assert_cmpint (vdm_metrics_get (f, v, &value), ==, -1);
  vdm_metrics_add (f, v, 2, 0);
  vdm_metrics_add (f, v, 3, 0);
  g_assert_cmpint (vdm_metrics_get (f, v, &value), ==, 0);
  g_assert_cmpfloat (value, ==, 5);
  /* NULL label values are "" */
  const char *null_value[] = { NULL };
  const char *empty_value[] = { "" };
  vdm_metrics_set (f, null_value, 7, 0);
  g_assert_cmpint (vdm_metrics_get (f, empty_value, &value), ==, 0);
  g_assert_cmpfloat (value, ==, 7);
  vdm_metrics_remove (f, v);
  g_assert_cmpint (vdm_metrics_get (f, v, &value), ==, -1);
  g_assert_cmpuint (vdm_metrics_series_count (m), ==, 1);
  vdm_metrics_free (m);
}

static void
test_expiry (void)
{
  VdmMetrics *m = vdm_metrics_new (10 * S, 100);
  const char *labels[] = { "stream", NULL };
  VdmMetricFamily *f = vdm_metrics_define (m, "g", VDM_METRIC_GAUGE, "", labels);
  const char *a[] = { "a" }, *b[] = { "b" };
  vdm_metrics_set (f, a, 1, 100 * S);
  vdm_metrics_set (f, b, 2, 100 * S);
  vdm_metrics_set (f, b, 3, 105 * S);   /* b reports again */
  g_assert_cmpuint (vdm_metrics_expire (m, 110 * S), ==, 0);   /* exactly 10 s: kept */
  g_assert_cmpuint (vdm_metrics_expire (m, 110 * S + 1), ==, 1);
  double value;
  g_assert_cmpint (vdm_metrics_get (f, a, &value), ==, -1);
  g_assert_cmpint (vdm_metrics_get (f, b, &value), ==, 0);
  char *text = render (m, 115 * S + 1);     /* render expires too */
  g_assert_null (strstr (text, "g{"));
  g_free (text);
  g_assert_cmpuint (vdm_metrics_series_count (m), ==, 0);
  g_assert_cmpuint (vdm_metrics_series_expired (m), ==, 2);
  /* early in the timeline (now < stale_after) nothing can be stale */
  vdm_metrics_set (f, a, 1, 0);
  g_assert_cmpuint (vdm_metrics_expire (m, 5 * S), ==, 0);
  vdm_metrics_free (m);
}

static void
test_remove_where (void)
{
  VdmMetrics *m = vdm_metrics_new (10 * S, 100);
  const char *two[] = { "pid", "reason", NULL };
  const char *one[] = { "pid", NULL };
  const char *other[] = { "reason", NULL };
  VdmMetricFamily *f = vdm_metrics_define (m, "a", VDM_METRIC_GAUGE, "", two);
  VdmMetricFamily *g = vdm_metrics_define (m, "b", VDM_METRIC_GAUGE, "", one);
  VdmMetricFamily *h = vdm_metrics_define (m, "c", VDM_METRIC_GAUGE, "", other);
  const char *f1[] = { "1", "X" }, *f2[] = { "2", "X" }, *f3[] = { "1", "Y" };
  const char *g1[] = { "1" }, *h1[] = { "1" };
  vdm_metrics_set (f, f1, 1, 0);
  vdm_metrics_set (f, f2, 1, 0);
  vdm_metrics_set (f, f3, 1, 0);
  vdm_metrics_set (g, g1, 1, 0);
  vdm_metrics_set (h, h1, 1, 0);  /* reason "1", not pid "1": stays */
  g_assert_cmpuint (vdm_metrics_remove_where (m, "pid", "1"), ==, 3);
  g_assert_cmpuint (vdm_metrics_series_count (m), ==, 2);
  double value;
  g_assert_cmpint (vdm_metrics_get (f, f2, &value), ==, 0);
  g_assert_cmpint (vdm_metrics_get (h, h1, &value), ==, 0);
  vdm_metrics_free (m);
}

static void
test_limits (void)
{
  VdmMetrics *m = vdm_metrics_new (10 * S, 3);
  const char *labels[] = { "k", NULL };
  VdmMetricFamily *f = vdm_metrics_define (m, "g", VDM_METRIC_GAUGE, "", labels);
  const char *a[] = { "a" }, *b[] = { "b" }, *c[] = { "c" }, *d[] = { "d" };
  g_assert_cmpint (vdm_metrics_set (f, a, 1, 0), ==, 0);
  g_assert_cmpint (vdm_metrics_set (f, b, 1, 0), ==, 0);
  g_assert_cmpint (vdm_metrics_set (f, c, 1, 0), ==, 0);
  g_assert_cmpint (vdm_metrics_set (f, d, 1, 0), ==, -1);
  g_assert_cmpint (vdm_metrics_set (f, a, 2, 0), ==, 0);    /* existing ones still update */
  g_assert_cmpuint (vdm_metrics_series_refused (m), ==, 1);
  g_assert_cmpint (vdm_metrics_set (NULL, a, 1, 0), ==, -1); /* no family: no crash */
  vdm_metrics_free (m);

  /* A label value longer than the limit is cut: two values that differ only
   * after the limit are one series. */
  m = vdm_metrics_new (10 * S, 100);
  f = vdm_metrics_define (m, "g", VDM_METRIC_GAUGE, "", labels);
  char long1[400], long2[400];
  memset (long1, 'x', sizeof long1 - 1);
  long1[sizeof long1 - 1] = '\0';
  memcpy (long2, long1, sizeof long2);
  long2[300] = 'y';
  const char *l1[] = { long1 }, *l2[] = { long2 };
  vdm_metrics_set (f, l1, 1, 0);
  vdm_metrics_set (f, l2, 2, 0);
  g_assert_cmpuint (vdm_metrics_series_count (m), ==, 1);
  char *text = render (m, 0);
  char *expected = g_strdup_printf ("g{k=\"%.*s\"} 2\n", VDM_METRICS_MAX_LABEL_VALUE, long1);
  g_assert_nonnull (strstr (text, expected));
  g_free (expected);
  g_free (text);
  vdm_metrics_free (m);
}

static void
test_many_series (void)
{
  VdmMetrics *m = vdm_metrics_new (10 * S, 100000);
  const char *labels[] = { "pid", "element", NULL };
  VdmMetricFamily *f = vdm_metrics_define (m, "g", VDM_METRIC_GAUGE, "", labels);
  char pid[16], element[16];
  for (int i = 0; i < 20000; i++) {
    g_snprintf (pid, sizeof pid, "%d", i / 10);
    g_snprintf (element, sizeof element, "e%d", i % 10);
    const char *v[] = { pid, element };
    g_assert_cmpint (vdm_metrics_set (f, v, i, 0), ==, 0);
  }
  g_assert_cmpuint (vdm_metrics_series_count (m), ==, 20000);
  for (int i = 0; i < 20000; i += 7) {
    g_snprintf (pid, sizeof pid, "%d", i / 10);
    g_snprintf (element, sizeof element, "e%d", i % 10);
    const char *v[] = { pid, element };
    double value;
    g_assert_cmpint (vdm_metrics_get (f, v, &value), ==, 0);
    g_assert_cmpfloat (value, ==, i);
  }
  /* removing from the middle keeps lookups and order right */
  g_assert_cmpuint (vdm_metrics_remove_where (m, "element", "e3"), ==, 2000);
  g_assert_cmpuint (vdm_metrics_series_count (m), ==, 18000);
  char *text = render (m, 0);
  g_assert_null (strstr (text, "element=\"e3\""));
  g_assert_nonnull (strstr (text, "g{pid=\"1999\",element=\"e9\"} 19999\n"));
  g_free (text);
  vdm_metrics_free (m);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics/names", test_names);
  g_test_add_func ("/metrics/define-rejects", test_define_rejects);
  g_test_add_func ("/metrics/render-exact", test_render_exact);
  g_test_add_func ("/metrics/escaping", test_escaping);
  g_test_add_func ("/metrics/escaping-in-render", test_escaping_in_render);
  g_test_add_func ("/metrics/values", test_values);
  g_test_add_func ("/metrics/add-and-get", test_add_and_get);
  g_test_add_func ("/metrics/expiry", test_expiry);
  g_test_add_func ("/metrics/remove-where", test_remove_where);
  g_test_add_func ("/metrics/limits", test_limits);
  g_test_add_func ("/metrics/many-series", test_many_series);
  return g_test_run ();
}
