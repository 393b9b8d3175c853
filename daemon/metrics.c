/* metrics.c — registry and Prometheus text exposition (see metrics.h). */
#include "metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct VdmMetricSeries VdmMetricSeries;

struct VdmMetricSeries {
  VdmMetricSeries *prev, *next; /* creation order, for rendering */
  VdmMetricSeries *chain;       /* hash bucket */
  uint64_t hash;
  uint64_t touched_ns;
  double value;
  char *values[VDM_METRICS_MAX_LABELS];
};

struct VdmMetricFamily {
  VdmMetrics *owner;
  char *name;
  char *help;
  VdmMetricType type;
  size_t n_labels;
  char *label_names[VDM_METRICS_MAX_LABELS];
  VdmMetricSeries *first, *last;
  VdmMetricSeries **buckets;
  size_t n_buckets;
  size_t n_series;
};

struct VdmMetrics {
  VdmMetricFamily **families;
  size_t n_families;
  size_t n_series;
  size_t max_series;
  uint64_t stale_after_ns;
  uint64_t refused;
  uint64_t expired;
};

/* ---- names ---------------------------------------------------------- */

static int
is_alpha_ (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int
is_digit (char c)
{
  return c >= '0' && c <= '9';
}

int
vdm_metrics_valid_metric_name (const char *name)
{
  if (!name || !(is_alpha_ (name[0]) || name[0] == ':'))
    return 0;
  for (const char *p = name + 1; *p; p++)
    if (!(is_alpha_ (*p) || is_digit (*p) || *p == ':'))
      return 0;
  return 1;
}

int
vdm_metrics_valid_label_name (const char *name)
{
  if (!name || !is_alpha_ (name[0]) || strncmp (name, "__", 2) == 0)
    return 0;
  for (const char *p = name + 1; *p; p++)
    if (!(is_alpha_ (*p) || is_digit (*p)))
      return 0;
  return 1;
}

/* ---- registry ------------------------------------------------------- */

VdmMetrics *
vdm_metrics_new (uint64_t stale_after_ns, size_t max_series)
{
  VdmMetrics *metrics = calloc (1, sizeof *metrics);
  if (!metrics)
    return NULL;
  metrics->stale_after_ns = stale_after_ns;
  metrics->max_series = max_series;
  return metrics;
}

static void
series_free (VdmMetricSeries * series, size_t n_labels)
{
  for (size_t i = 0; i < n_labels; i++)
    free (series->values[i]);
  free (series);
}

static void
family_free (VdmMetricFamily * family)
{
  VdmMetricSeries *series = family->first;
  while (series) {
    VdmMetricSeries *next = series->next;
    series_free (series, family->n_labels);
    series = next;
  }
  for (size_t i = 0; i < family->n_labels; i++)
    free (family->label_names[i]);
  free (family->buckets);
  free (family->name);
  free (family->help);
  free (family);
}

void
vdm_metrics_free (VdmMetrics * metrics)
{
  if (!metrics)
    return;
  for (size_t i = 0; i < metrics->n_families; i++)
    family_free (metrics->families[i]);
  free (metrics->families);
  free (metrics);
}

static VdmMetricFamily *
find_family (const VdmMetrics * metrics, const char *name)
{
  for (size_t i = 0; i < metrics->n_families; i++)
    if (strcmp (metrics->families[i]->name, name) == 0)
      return metrics->families[i];
  return NULL;
}

static int
valid_label_names (const char *const *label_names, size_t *n_labels)
{
  size_t n = 0;
  for (; label_names && label_names[n]; n++) {
    if (n >= VDM_METRICS_MAX_LABELS || !vdm_metrics_valid_label_name (label_names[n]))
      return 0;
    for (size_t j = 0; j < n; j++)
      if (strcmp (label_names[j], label_names[n]) == 0)
        return 0;
  }
  *n_labels = n;
  return 1;
}

static int
append_family (VdmMetrics * metrics, VdmMetricFamily * family)
{
  VdmMetricFamily **grown = realloc (metrics->families,
      (metrics->n_families + 1) * sizeof *grown);
  if (!grown)
    return -1;
  metrics->families = grown;
  metrics->families[metrics->n_families++] = family;
  return 0;
}

VdmMetricFamily *
vdm_metrics_define (VdmMetrics * metrics, const char *name, VdmMetricType type,
    const char *help, const char *const *label_names)
{
  size_t n_labels;
  if (!metrics || !vdm_metrics_valid_metric_name (name)
      || !valid_label_names (label_names, &n_labels) || find_family (metrics, name))
    return NULL;
  VdmMetricFamily *family = calloc (1, sizeof *family);
  if (!family)
    return NULL;
  family->owner = metrics;
  family->type = type;
  family->name = strdup (name);
  family->help = strdup (help ? help : "");
  family->n_labels = n_labels;
  int ok = family->name && family->help;
  for (size_t i = 0; i < n_labels; i++)
    ok = (family->label_names[i] = strdup (label_names[i])) && ok;
  if (!ok || append_family (metrics, family) < 0) {
    family->n_labels = n_labels;
    family_free (family);
    return NULL;
  }
  return family;
}

/* ---- series lookup -------------------------------------------------- */

/* Label values as stored: NULL is "", longer than the limit is cut. */
typedef struct {
  char buf[VDM_METRICS_MAX_LABELS][VDM_METRICS_MAX_LABEL_VALUE + 1];
  const char *v[VDM_METRICS_MAX_LABELS];
} NormalizedValues;

static void
normalize (const VdmMetricFamily * family, const char *const *label_values,
    NormalizedValues * out)
{
  for (size_t i = 0; i < family->n_labels; i++) {
    const char *value = (label_values && label_values[i]) ? label_values[i] : "";
    size_t len = strnlen (value, VDM_METRICS_MAX_LABEL_VALUE);
    memcpy (out->buf[i], value, len);
    out->buf[i][len] = '\0';
    out->v[i] = out->buf[i];
  }
}

static uint64_t
hash_values (const char *const *values, size_t n)
{
  uint64_t hash = 0xcbf29ce484222325ull; /* FNV-1a */
  for (size_t i = 0; i < n; i++) {
    for (const unsigned char *p = (const unsigned char *) values[i]; *p; p++)
      hash = (hash ^ *p) * 0x100000001b3ull;
    hash = (hash ^ 0xff) * 0x100000001b3ull; /* 0xff never occurs in UTF-8 */
  }
  return hash;
}

static int
same_values (const VdmMetricSeries * series, const char *const *values, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (series->values[i], values[i]) != 0)
      return 0;
  return 1;
}

static VdmMetricSeries *
lookup (const VdmMetricFamily * family, const char *const *values, uint64_t hash)
{
  if (family->n_buckets == 0)
    return NULL;
  for (VdmMetricSeries *s = family->buckets[hash % family->n_buckets]; s; s = s->chain)
    if (s->hash == hash && same_values (s, values, family->n_labels))
      return s;
  return NULL;
}

/* Keeps the load factor at most 1, so lookups stay O(1) at 100k series. */
static int
grow_buckets (VdmMetricFamily * family)
{
  if (family->n_series < family->n_buckets)
    return 0;
  size_t n = family->n_buckets ? family->n_buckets * 2 : 16;
  VdmMetricSeries **buckets = calloc (n, sizeof *buckets);
  if (!buckets)
    return -1;
  for (VdmMetricSeries *s = family->first; s; s = s->next) {
    s->chain = buckets[s->hash % n];
    buckets[s->hash % n] = s;
  }
  free (family->buckets);
  family->buckets = buckets;
  family->n_buckets = n;
  return 0;
}

static VdmMetricSeries *
create (VdmMetricFamily * family, const char *const *values, uint64_t hash)
{
  VdmMetrics *metrics = family->owner;
  if (metrics->n_series >= metrics->max_series || grow_buckets (family) < 0) {
    metrics->refused++;
    return NULL;
  }
  VdmMetricSeries *series = calloc (1, sizeof *series);
  if (!series) {
    metrics->refused++;
    return NULL;
  }
  for (size_t i = 0; i < family->n_labels; i++) {
    if (!(series->values[i] = strdup (values[i]))) {
      series_free (series, i);
      metrics->refused++;
      return NULL;
    }
  }
  series->hash = hash;
  series->prev = family->last;
  if (family->last)
    family->last->next = series;
  else
    family->first = series;
  family->last = series;
  series->chain = family->buckets[hash % family->n_buckets];
  family->buckets[hash % family->n_buckets] = series;
  family->n_series++;
  metrics->n_series++;
  return series;
}

static void
unlink_series (VdmMetricFamily * family, VdmMetricSeries * series)
{
  VdmMetricSeries **link = &family->buckets[series->hash % family->n_buckets];
  while (*link != series)
    link = &(*link)->chain;
  *link = series->chain;
  if (series->prev)
    series->prev->next = series->next;
  else
    family->first = series->next;
  if (series->next)
    series->next->prev = series->prev;
  else
    family->last = series->prev;
  family->n_series--;
  family->owner->n_series--;
  series_free (series, family->n_labels);
}

static VdmMetricSeries *
find_or_create (VdmMetricFamily * family, const char *const *label_values)
{
  NormalizedValues norm;
  normalize (family, label_values, &norm);
  uint64_t hash = hash_values (norm.v, family->n_labels);
  VdmMetricSeries *series = lookup (family, norm.v, hash);
  return series ? series : create (family, norm.v, hash);
}

int
vdm_metrics_set (VdmMetricFamily * family, const char *const *label_values,
    double value, uint64_t now_ns)
{
  VdmMetricSeries *series = family ? find_or_create (family, label_values) : NULL;
  if (!series)
    return -1;
  series->value = value;
  series->touched_ns = now_ns;
  return 0;
}

int
vdm_metrics_add (VdmMetricFamily * family, const char *const *label_values,
    double delta, uint64_t now_ns)
{
  VdmMetricSeries *series = family ? find_or_create (family, label_values) : NULL;
  if (!series)
    return -1;
  series->value += delta;
  series->touched_ns = now_ns;
  return 0;
}

int
vdm_metrics_get (const VdmMetricFamily * family, const char *const *label_values,
    double *value)
{
  if (!family)
    return -1;
  NormalizedValues norm;
  normalize (family, label_values, &norm);
  VdmMetricSeries *series = lookup (family, norm.v, hash_values (norm.v, family->n_labels));
  if (!series)
    return -1;
  *value = series->value;
  return 0;
}

void
vdm_metrics_remove (VdmMetricFamily * family, const char *const *label_values)
{
  if (!family)
    return;
  NormalizedValues norm;
  normalize (family, label_values, &norm);
  VdmMetricSeries *series = lookup (family, norm.v, hash_values (norm.v, family->n_labels));
  if (series)
    unlink_series (family, series);
}

static int
label_index (const VdmMetricFamily * family, const char *label_name)
{
  for (size_t i = 0; i < family->n_labels; i++)
    if (strcmp (family->label_names[i], label_name) == 0)
      return (int) i;
  return -1;
}

size_t
vdm_metrics_remove_where (VdmMetrics * metrics, const char *label_name,
    const char *label_value)
{
  size_t removed = 0;
  for (size_t f = 0; metrics && f < metrics->n_families; f++) {
    VdmMetricFamily *family = metrics->families[f];
    int index = label_index (family, label_name);
    if (index < 0)
      continue;
    for (VdmMetricSeries *s = family->first, *next; s; s = next) {
      next = s->next;
      if (strncmp (s->values[index], label_value, VDM_METRICS_MAX_LABEL_VALUE) == 0) {
        unlink_series (family, s);
        removed++;
      }
    }
  }
  return removed;
}

size_t
vdm_metrics_expire (VdmMetrics * metrics, uint64_t now_ns)
{
  if (!metrics || now_ns < metrics->stale_after_ns)
    return 0;
  uint64_t oldest_kept = now_ns - metrics->stale_after_ns;
  size_t removed = 0;
  for (size_t f = 0; f < metrics->n_families; f++) {
    VdmMetricFamily *family = metrics->families[f];
    for (VdmMetricSeries *s = family->first, *next; s; s = next) {
      next = s->next;
      if (s->touched_ns < oldest_kept) {
        unlink_series (family, s);
        removed++;
      }
    }
  }
  metrics->expired += removed;
  return removed;
}

size_t
vdm_metrics_series_count (const VdmMetrics * metrics)
{
  return metrics ? metrics->n_series : 0;
}

uint64_t
vdm_metrics_series_refused (const VdmMetrics * metrics)
{
  return metrics ? metrics->refused : 0;
}

uint64_t
vdm_metrics_series_expired (const VdmMetrics * metrics)
{
  return metrics ? metrics->expired : 0;
}

size_t
vdm_metrics_family_count (const VdmMetrics * metrics)
{
  return metrics ? metrics->n_families : 0;
}

const VdmMetricFamily *
vdm_metrics_family_at (const VdmMetrics * metrics, size_t index)
{
  return (metrics && index < metrics->n_families) ? metrics->families[index] : NULL;
}

const char *
vdm_metric_family_name (const VdmMetricFamily * family)
{
  return family->name;
}

VdmMetricType
vdm_metric_family_type (const VdmMetricFamily * family)
{
  return family->type;
}

/* ---- text ----------------------------------------------------------- */

void
vdm_metrics_text_init (VdmMetricsText * text)
{
  memset (text, 0, sizeof *text);
}

void
vdm_metrics_text_clear (VdmMetricsText * text)
{
  free (text->data);
  vdm_metrics_text_init (text);
}

static int
reserve (VdmMetricsText * text, size_t more)
{
  if (text->failed)
    return -1;
  if (text->len + more + 1 <= text->cap)
    return 0;
  size_t cap = text->cap ? text->cap : 4096;
  while (cap < text->len + more + 1)
    cap *= 2;
  char *data = realloc (text->data, cap);
  if (!data) {
    text->failed = 1;
    return -1;
  }
  text->data = data;
  text->cap = cap;
  return 0;
}

static void
append_bytes (VdmMetricsText * text, const char *bytes, size_t n)
{
  if (reserve (text, n) < 0)
    return;
  memcpy (text->data + text->len, bytes, n);
  text->len += n;
  text->data[text->len] = '\0';
}

static void
append_str (VdmMetricsText * text, const char *s)
{
  append_bytes (text, s, strlen (s));
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t
utf8_sequence (const unsigned char *p)
{
  size_t n;
  uint32_t cp;
  if (p[0] < 0x80)
    return 1;
  if ((p[0] & 0xe0) == 0xc0) { n = 2; cp = p[0] & 0x1f; }
  else if ((p[0] & 0xf0) == 0xe0) { n = 3; cp = p[0] & 0x0f; }
  else if ((p[0] & 0xf8) == 0xf0) { n = 4; cp = p[0] & 0x07; }
  else
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0; /* also stops at the terminating NUL */
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  static const uint32_t min_cp[] = { 0, 0, 0x80, 0x800, 0x10000 };
  if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0; /* overlong, out of range, surrogate */
  return n;
}

static void
append_escaped (VdmMetricsText * text, const char *s, int escape_quote)
{
  const unsigned char *p = (const unsigned char *) s;
  while (*p) {
    /* copy a run of plain ASCII at once: label values are mostly that */
    size_t run = 0;
    while (p[run] >= 0x20 && p[run] < 0x80 && p[run] != '\\' && p[run] != '"')
      run++;
    if (run > 0) {
      append_bytes (text, (const char *) p, run);
      p += run;
      continue;
    }
    size_t n = utf8_sequence (p);
    if (n == 0) {
      append_bytes (text, "?", 1);
      p++;
    } else if (*p == '\\') {
      append_bytes (text, "\\\\", 2), p++;
    } else if (*p == '\n') {
      append_bytes (text, "\\n", 2), p++;
    } else if (*p == '"' && escape_quote) {
      append_bytes (text, "\\\"", 2), p++;
    } else {
      append_bytes (text, (const char *) p, n);
      p += n;
    }
  }
}

void
vdm_metrics_append_label_value (VdmMetricsText * text, const char *value)
{
  append_escaped (text, value, 1);
}

void
vdm_metrics_append_help (VdmMetricsText * text, const char *help)
{
  append_escaped (text, help, 0);
}

/* Shortest of %.15g / %.17g that reads back exactly; the format's spellings
 * of NaN and the infinities. */
static void
append_value (VdmMetricsText * text, double value)
{
  char buf[40];
  if (isnan (value))
    snprintf (buf, sizeof buf, "NaN");
  else if (isinf (value))
    snprintf (buf, sizeof buf, value > 0 ? "+Inf" : "-Inf");
  else if (fabs (value) < 9007199254740992.0 && value == (double) (int64_t) value) {
    /* counters are integers: skip printf's float path, the scrape's main cost */
    char *end = buf + sizeof buf - 1, *p = end;
    int64_t v = (int64_t) value;
    uint64_t u = v < 0 ? (uint64_t) -v : (uint64_t) v;
    *end = '\0';
    do
      *--p = (char) ('0' + u % 10);
    while ((u /= 10) > 0);
    if (v < 0)
      *--p = '-';
    append_str (text, p);
    return;
  } else {
    snprintf (buf, sizeof buf, "%.15g", value);
    if (strtod (buf, NULL) != value)
      snprintf (buf, sizeof buf, "%.17g", value);
  }
  append_str (text, buf);
}

static const char *
type_name (VdmMetricType type)
{
  return type == VDM_METRIC_COUNTER ? "counter" : "gauge";
}

static void
render_series (VdmMetricsText * text, const VdmMetricFamily * family,
    const VdmMetricSeries * series)
{
  append_str (text, family->name);
  if (family->n_labels > 0) {
    append_bytes (text, "{", 1);
    for (size_t i = 0; i < family->n_labels; i++) {
      if (i > 0)
        append_bytes (text, ",", 1);
      append_str (text, family->label_names[i]);
      append_bytes (text, "=\"", 2);
      vdm_metrics_append_label_value (text, series->values[i]);
      append_bytes (text, "\"", 1);
    }
    append_bytes (text, "}", 1);
  }
  append_bytes (text, " ", 1);
  append_value (text, series->value);
  append_bytes (text, "\n", 1);
}

static void
render_family (VdmMetricsText * text, const VdmMetricFamily * family)
{
  append_str (text, "# HELP ");
  append_str (text, family->name);
  append_bytes (text, " ", 1);
  vdm_metrics_append_help (text, family->help);
  append_str (text, "\n# TYPE ");
  append_str (text, family->name);
  append_bytes (text, " ", 1);
  append_str (text, type_name (family->type));
  append_bytes (text, "\n", 1);
  for (const VdmMetricSeries *s = family->first; s; s = s->next)
    render_series (text, family, s);
}

int
vdm_metrics_render (VdmMetrics * metrics, uint64_t now_ns, VdmMetricsText * text)
{
  vdm_metrics_expire (metrics, now_ns);
  for (size_t f = 0; f < metrics->n_families; f++)
    render_family (text, metrics->families[f]);
  if (reserve (text, 0) < 0)
    return -1;
  return 0;
}
