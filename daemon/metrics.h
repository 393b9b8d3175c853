/* metrics.h — a metrics registry and its Prometheus text exposition.
 *
 * Pure: no HTTP, no GLib, no clock. The caller passes the time (any
 * monotonic nanoseconds) to every call that needs it, so tests drive expiry
 * on a synthetic timeline.
 *
 * A registry holds families (one metric name, its help text, its type and
 * its label names); a family holds series (one value per set of label
 * values). Every write "touches" its series. A series not touched for
 * `stale_after_ns` is removed at the next vdm_metrics_expire() (and so at
 * the next render): a stream that went away stops being reported and its
 * series disappear from /metrics after that time, which Prometheus then
 * marks stale.
 *
 * Values are doubles: counters are written as absolute totals (the kernel's
 * and the element's counters are cumulative), so a counter that goes down is
 * a reset, which is what Prometheus's rate() expects.
 *
 * Not thread-safe: the daemon calls it from its one event loop, or under
 * its own lock.
 */
#ifndef VDM_METRICS_H
#define VDM_METRICS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  VDM_METRIC_COUNTER,
  VDM_METRIC_GAUGE,
} VdmMetricType;

/* Limits: a bad or hostile label value cannot make the registry unbounded. */
#define VDM_METRICS_MAX_LABELS 8
#define VDM_METRICS_MAX_LABEL_VALUE 128 /* bytes; longer values are cut */
#define VDM_METRICS_DEFAULT_MAX_SERIES 200000
#define VDM_METRICS_DEFAULT_STALE_AFTER_NS (120ull * 1000000000ull)

typedef struct VdmMetrics VdmMetrics;
typedef struct VdmMetricFamily VdmMetricFamily;

/* A growing text buffer the renderer writes into. */
typedef struct {
  char *data;
  size_t len;
  size_t cap;
  int failed; /* an allocation failed: data holds a truncated text */
} VdmMetricsText;

VdmMetrics *vdm_metrics_new (uint64_t stale_after_ns, size_t max_series);
void vdm_metrics_free (VdmMetrics * metrics);

/* Defines a family. `label_names` is NULL-terminated (NULL for none).
 * Returns NULL on an invalid metric or label name, a duplicate name, or
 * more than VDM_METRICS_MAX_LABELS labels. The registry owns the family. */
VdmMetricFamily *vdm_metrics_define (VdmMetrics * metrics, const char *name,
    VdmMetricType type, const char *help, const char *const *label_names);

/* Sets the series with these label values (one per label name, in order;
 * NULL counts as "") to `value`, creating it if needed, and touches it.
 * Returns 0, or -1 when the registry is at max_series (the write is counted
 * in vdm_metrics_series_refused()). */
int vdm_metrics_set (VdmMetricFamily * family, const char *const *label_values,
    double value, uint64_t now_ns);

/* Adds `delta` to the series (0 when new), touches it. Returns as set. */
int vdm_metrics_add (VdmMetricFamily * family, const char *const *label_values,
    double delta, uint64_t now_ns);

/* Removes one series now (no-op if absent). */
void vdm_metrics_remove (VdmMetricFamily * family,
    const char *const *label_values);

/* Removes every series, in every family, whose label `label_name` has the
 * value `label_value` (e.g. all series of one client pid when it leaves).
 * Returns how many were removed. */
size_t vdm_metrics_remove_where (VdmMetrics * metrics, const char *label_name,
    const char *label_value);

/* Removes the series not touched within stale_after_ns before now_ns.
 * Returns how many were removed. */
size_t vdm_metrics_expire (VdmMetrics * metrics, uint64_t now_ns);

/* Looks a value up; returns 0 and sets *value, or -1 when absent. */
int vdm_metrics_get (const VdmMetricFamily * family,
    const char *const *label_values, double *value);

size_t vdm_metrics_series_count (const VdmMetrics * metrics);
uint64_t vdm_metrics_series_refused (const VdmMetrics * metrics);
uint64_t vdm_metrics_series_expired (const VdmMetrics * metrics);

/* Families in definition order, for listings and tests. */
size_t vdm_metrics_family_count (const VdmMetrics * metrics);
const VdmMetricFamily *vdm_metrics_family_at (const VdmMetrics * metrics,
    size_t index);
const char *vdm_metric_family_name (const VdmMetricFamily * family);
VdmMetricType vdm_metric_family_type (const VdmMetricFamily * family);

/* Expires (as vdm_metrics_expire) then appends the whole registry to
 * `text` in the Prometheus text exposition format 0.0.4: for each family
 * "# HELP", "# TYPE", then its series in creation order. Returns 0, or -1
 * when memory ran out (text->failed is then set). */
int vdm_metrics_render (VdmMetrics * metrics, uint64_t now_ns,
    VdmMetricsText * text);

/* The media type of the rendered text, for the Content-Type header. */
#define VDM_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

void vdm_metrics_text_init (VdmMetricsText * text);
void vdm_metrics_text_clear (VdmMetricsText * text);

/* Escaping per the exposition format, exposed for tests: a label value
 * escapes backslash, double quote and newline; help text escapes backslash
 * and newline. Invalid UTF-8 bytes become '?', so the output is always
 * valid UTF-8. Appends to `text`. */
void vdm_metrics_append_label_value (VdmMetricsText * text, const char *value);
void vdm_metrics_append_help (VdmMetricsText * text, const char *help);

/* Name rules: metric [a-zA-Z_:][a-zA-Z0-9_:]*, label [a-zA-Z_][a-zA-Z0-9_]*
 * not starting with "__" (reserved by Prometheus). */
int vdm_metrics_valid_metric_name (const char *name);
int vdm_metrics_valid_label_name (const char *name);

#ifdef __cplusplus
}
#endif
#endif /* VDM_METRICS_H */
