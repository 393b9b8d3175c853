/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_metrics.c — libFuzzer target for vdropmond's metrics text: the
 * registry and renderer (daemon/metrics.c) fed label values, help texts and
 * names from untrusted bytes (element and pipeline names come from
 * clients), the ANALYTICS key parser and the --metrics-listen parser.
 *
 * Input: pieces separated by 0xff bytes: [0] a metric name, [1] help,
 * [2..3] label names, [4..] label values (two per series). Checks that the
 * output is valid UTF-8 and has exactly one line per HELP, TYPE and series
 * (an unescaped newline in a value would add one).
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "metrics.h"
#include "metrics_http.h"
#include "metrics_vdropmon.h"

#define MAX_PIECES 16

static int
valid_utf8 (const unsigned char *s, size_t len)
{
  size_t i = 0;
  while (i < len) {
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
        : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || i + n > len)
      return 0;
    for (size_t k = 1; k < n; k++)
      if ((s[i + k] & 0xc0) != 0x80)
        return 0;
    i += n;
  }
  return 1;
}

static size_t
split (char *text, size_t len, char *pieces[MAX_PIECES])
{
  size_t n = 0;
  pieces[n++] = text;
  for (size_t i = 0; i < len && n < MAX_PIECES; i++) {
    if ((unsigned char) text[i] == 0xff) {
      text[i] = '\0';
      pieces[n++] = text + i + 1;
    }
  }
  return n;
}

static void
check_render (char *pieces[], size_t n)
{
  VdmMetrics *m = vdm_metrics_new (1000, 64);
  const char *labels[] = { pieces[2 % n], pieces[3 % n], NULL };
  VdmMetricFamily *f = vdm_metrics_define (m, pieces[0], VDM_METRIC_COUNTER, pieces[1 % n], labels);
  VdmMetricFamily *g = vdm_metrics_define (m, "fuzz_gauge", VDM_METRIC_GAUGE, pieces[1 % n], NULL);
  size_t series = 0;
  for (size_t i = 4; i + 1 < n && f; i += 2) {
    const char *values[] = { pieces[i], pieces[i + 1] };
    if (vdm_metrics_set (f, values, (double) i, i) == 0)
      series++;
  }
  vdm_metrics_set (g, NULL, (double) n, 0);
  size_t count = vdm_metrics_series_count (m);
  VdmMetricsText text;
  vdm_metrics_text_init (&text);
  if (vdm_metrics_render (m, 500, &text) < 0)
    abort ();
  if (!valid_utf8 ((const unsigned char *) text.data, text.len))
    abort ();
  size_t lines = 0;
  for (size_t i = 0; i < text.len; i++)
    lines += text.data[i] == '\n';
  if (lines != 2 * vdm_metrics_family_count (m) + count || count > series + 1)
    abort ();
  vdm_metrics_text_clear (&text);
  vdm_metrics_free (m);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = malloc (size + 1);
  memcpy (text, data, size);
  text[size] = '\0';
  /* the listen parser reads the whole input as one string */
  struct sockaddr_storage addr;
  unsigned addr_len;
  char error[128];
  vdm_metrics_http_parse_listen (text, &addr, &addr_len, error, sizeof error);

  char *pieces[MAX_PIECES];
  size_t n = split (text, size, pieces);
  check_render (pieces, n);

  double values[MAX_PIECES];
  for (size_t i = 0; i < n; i++)
    values[i] = (double) (int8_t) pieces[i][0] / 4.0;
  VdmStreamAnalytics a;
  vdm_fleet_analytics_parse ((const char *const *) pieces, values, n, &a);
  free (text);
  return 0;
}
