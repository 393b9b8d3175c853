/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmon_messages.h — the element's public bus API: the structures of
 * all four messages, vdropmon-drop, -warning, -clear and -stats, built
 * from the monitor's plain outputs here and nowhere else
 * (docs/messages.md documents every field).
 */
#ifndef VDROPMON_MESSAGES_H
#define VDROPMON_MESSAGES_H

#include <gst/gst.h>

#include "event_source.h"
#include "flow_spec.h"
#include "message_budget.h"
#include "stream_monitor.h"

G_BEGIN_DECLS

#define VDM_DROP_MESSAGE "vdropmon-drop"
#define VDM_STATS_MESSAGE "vdropmon-stats"
#define VDM_WARNING_MESSAGE "vdropmon-warning"
#define VDM_CLEAR_MESSAGE "vdropmon-clear"
#define VDM_DROP_SUMMARY_MESSAGE "vdropmon-drop-summary"

/* The drop-message budget per element (issue 9 #9): at most this many
 * vdropmon-drop messages at once, this many per second sustained; past it,
 * a vdropmon-drop-summary at most once per VDM_DROP_SUMMARY_PERIOD. */
#define VDM_DROP_MESSAGES_BURST 400
#define VDM_DROP_MESSAGES_PER_SECOND 200
#define VDM_DROP_SUMMARY_PERIOD GST_SECOND

/* Shown by gst-inspect-1.0; docs/messages.md has every field. */
#define VDM_MESSAGES_SUMMARY \
  "vdropmon-drop: source, reason, reason-code, count, kernel-time, kernel-time-last, " \
  "running-time, pts, pts-last, rtp-seq-first, rtp-seq-last, rtp-seqs, rtp-seqs-truncated, " \
  "frames, ssrc, payload-type, keyframe, flow, attribution, events-lost | " \
  "vdropmon-drop-summary: messages, count, kernel-count, rtp-gap-count, ssrcs, " \
  "ssrcs-truncated, kernel-time, kernel-time-last | " \
  "vdropmon-warning: level, cause, reasons, action, drop-rate, ewma, baseline, stall-eta, " \
  "detect-time, running-time, suggested-height, suggested-bitrate | " \
  "vdropmon-clear: cause, duration, drops, detect-time, running-time | " \
  "vdropmon-stats (also the stats property, as application/x-vdropmon-stats): collector, " \
  "collector-status, collector-skipped, flows, kernel-drops, reasons, events-lost, buffers, rtp-packets, " \
  "rtp-lost, rtp-reordered, rtp-duplicates, queue-fill-peak, drop-messages, loss-fraction, " \
  "jitter, fid, fid-max, bitrate, warnings, keyframe-requests-sent, keyframe-requests-seen, " \
  "detector-state, ewma, baseline, lag, runway, queue-delay, trend, path-usage, " \
  "stall-threshold, reader-stalls, packets-unobserved"
#define VDM_STATS_STRUCTURE "application/x-vdropmon-stats"

/* A monitor's drop report and what only the element knows of it. */
typedef struct {
  vdm_drop_report report;
  gchar flow[VDM_FLOW_STRING_MAX];
  guint64 events_lost;
} VdmDropReport;

typedef struct {
  const gchar *collector;         /* "embedded" | "daemon" | "fake" | "none" */
  const gchar *collector_status;
  const gchar *collector_skipped; /* "daemon: why; ..." or "" */
  GPtrArray *flows;               /* of gchar*, borrowed */
  guint64 kernel_drops;
  guint64 per_reason[VDM_REASON_SLOTS];
  const gchar *reason_names[VDM_REASON_SLOTS];
  guint64 events_lost;
  guint64 packets_unobserved;     /* not handed to the monitor: a streaming thread's ring was full */
  vdm_monitor_stats stream;       /* the monitor's side */
} VdmStatsSnapshot;

const gchar *vdm_drop_source_name (vdm_drop_source source);
GstStructure *vdm_drop_report_to_structure (const VdmDropReport * report);
GstStructure *vdm_drop_summary_to_structure (const vdm_drop_summary * summary);
/* vdropmon-warning or vdropmon-clear, after alert->event.type. */
GstStructure *vdm_alert_to_structure (const vdm_alert * alert);
/* name: VDM_STATS_MESSAGE for the bus, VDM_STATS_STRUCTURE for the property. */
GstStructure *vdm_stats_to_structure (const VdmStatsSnapshot * stats, const gchar * name);

G_END_DECLS
#endif
