/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmon_analytics.c — glue between what the element posts and the
 * daemon client's ANALYTICS frame (see vdropmon_analytics.h). The tally
 * and the pairs are daemon/metrics_analytics.c (pure); this file only
 * reads GstStructure fields and calls the client.
 */
#include "vdropmon_analytics.h"

#include <errno.h>
#include <math.h>

#include "client_source.h"
#include "metrics_analytics.h"

GST_DEBUG_CATEGORY_EXTERN (vdropmon_debug);
#define GST_CAT_DEFAULT vdropmon_debug

struct _VdmElementAnalytics
{
  GMutex lock;
  VdmAnalyticsTally tally;
  gboolean attached;            /* the source is the daemon client */
  gchar *element;
  guint64 sent, failed;
};

VdmElementAnalytics *
vdm_element_analytics_new (void)
{
  VdmElementAnalytics *a = g_new0 (VdmElementAnalytics, 1);

  g_mutex_init (&a->lock);
  vdm_analytics_tally_reset (&a->tally);
  return a;
}

void
vdm_element_analytics_free (VdmElementAnalytics * a)
{
  if (!a)
    return;
  g_free (a->element);
  g_mutex_clear (&a->lock);
  g_free (a);
}

void
vdm_element_analytics_attach (VdmElementAnalytics * a, vdm_source * source,
    vdm_subscription * sub, const gchar * element, const gchar * pipeline)
{
  /* -EINVAL: not the daemon client (embedded, fake): nothing to send to */
  gboolean daemon = vdm_daemon_client_set_names (source, sub, element, pipeline) == 0;

  g_mutex_lock (&a->lock);
  a->attached = daemon;
  g_free (a->element);
  a->element = g_strdup (element);
  vdm_analytics_tally_reset (&a->tally);
  g_mutex_unlock (&a->lock);
  GST_INFO ("analytics to the daemon: %s (element %s, pipeline %s)",
      daemon ? "on" : "off (not the daemon source)", element, pipeline);
}

void
vdm_element_analytics_detach (VdmElementAnalytics * a)
{
  g_mutex_lock (&a->lock);
  a->attached = FALSE;
  vdm_analytics_tally_reset (&a->tally);
  g_mutex_unlock (&a->lock);
}

void
vdm_element_analytics_drop (VdmElementAnalytics * a, gboolean rtp_gap, gboolean keyframe,
    guint64 count)
{
  g_mutex_lock (&a->lock);
  vdm_analytics_tally_drop (&a->tally, rtp_gap, keyframe, count);
  g_mutex_unlock (&a->lock);
}

void
vdm_element_analytics_alert (VdmElementAnalytics * a, const GstStructure * alert)
{
  guint64 stall_eta = G_MAXUINT64;

  g_mutex_lock (&a->lock);
  if (gst_structure_has_name (alert, "vdropmon-warning")) {
    gst_structure_get_uint64 (alert, "stall-eta", &stall_eta);
    vdm_analytics_tally_warning (&a->tally, gst_structure_get_string (alert, "level"),
        gst_structure_get_string (alert, "cause"), stall_eta);
  } else if (gst_structure_has_name (alert, "vdropmon-clear")) {
    vdm_analytics_tally_clear (&a->tally);
  }
  g_mutex_unlock (&a->lock);
}

static double
field_double (const GstStructure * s, const gchar * field, double otherwise)
{
  gdouble v;

  return gst_structure_get_double (s, field, &v) ? v : otherwise;
}

void
vdm_element_analytics_send (VdmElementAnalytics * a, vdm_source * source,
    const GstStructure * stats)
{
  const char *keys[VDM_ANALYTICS_MAX_PAIRS];
  double values[VDM_ANALYTICS_MAX_PAIRS];
  guint64 events_lost = 0;
  VdmAnalyticsStats now;
  gchar *element;
  size_t n;
  int err;

  gst_structure_get_uint64 (stats, "events-lost", &events_lost);
  now = (VdmAnalyticsStats) {
    .detector_state = gst_structure_get_string (stats, "detector-state"),
    .queue_fill_peak = field_double (stats, "queue-fill-peak", -1),
    .jitter_ms = field_double (stats, "jitter", 0),
    .loss_fraction = field_double (stats, "loss-fraction", 0),
    .events_lost = events_lost,
  };
  g_mutex_lock (&a->lock);
  if (!a->attached || !source) {
    g_mutex_unlock (&a->lock);
    return;
  }
  n = vdm_analytics_pairs (&a->tally, &now, keys, values);
  for (size_t i = 0; i < n; i++)       /* the client refuses a frame with NaN */
    if (!isfinite (values[i]))
      values[i] = -1;
  element = g_strdup (a->element);
  g_mutex_unlock (&a->lock);
  /* the client's send is non-blocking: -EAGAIN/-ENOTCONN lose this frame only */
  err = vdm_daemon_client_send_analytics (source, element, keys, values, n);
  g_mutex_lock (&a->lock);
  if (err < 0)
    a->failed++;
  else
    a->sent++;
  g_mutex_unlock (&a->lock);
  if (err < 0)
    GST_DEBUG ("analytics frame not sent (%s): the next interval sends the totals",
        g_strerror (-err));
  g_free (element);
}
