/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmon_analytics.h — the element's per-stream analytics for vdropmond
 * (issue 11, docs/fleet.md "What the element sends"): a tally of what the
 * element posts, sent as one ANALYTICS frame per stats interval when the
 * event source is the daemon client.
 *
 * Its own header because daemon/metrics_analytics.h and core/detector.h
 * both name their cause enums VDM_CAUSE_*: only vdropmon_analytics.c sees
 * the former. Thread-safe (own lock): the worker tallies under the
 * element's lock and sends with it released.
 */
#ifndef VDROPMON_ANALYTICS_H
#define VDROPMON_ANALYTICS_H

#include <gst/gst.h>

#include "event_source.h"

G_BEGIN_DECLS

typedef struct _VdmElementAnalytics VdmElementAnalytics;

VdmElementAnalytics *vdm_element_analytics_new (void);
void vdm_element_analytics_free (VdmElementAnalytics * a);

/* After subscribing: when source is the daemon client, tells it the names
 * that become the pipeline/element labels and starts sending. Other
 * sources: nothing is ever sent. */
void vdm_element_analytics_attach (VdmElementAnalytics * a, vdm_source * source,
    vdm_subscription * sub, const gchar * element, const gchar * pipeline);
/* stop(): nothing is sent after this; the tally starts again from 0. */
void vdm_element_analytics_detach (VdmElementAnalytics * a);

/* One drop report (every one, the budget's folded ones too). */
void vdm_element_analytics_drop (VdmElementAnalytics * a, gboolean rtp_gap,
    gboolean keyframe, guint64 count);
/* One vdropmon-warning or vdropmon-clear structure. */
void vdm_element_analytics_alert (VdmElementAnalytics * a, const GstStructure * alert);
/* Once per stats interval, with the vdropmon-stats structure: one
 * ANALYTICS frame. Never blocks: a daemon that is away or not reading
 * loses this interval's frame (the next carries the running totals). */
void vdm_element_analytics_send (VdmElementAnalytics * a, vdm_source * source,
    const GstStructure * stats);

G_END_DECLS
#endif
