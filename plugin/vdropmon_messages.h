/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmon_messages.h — the element's public bus API: the structures of
 * vdropmon-drop and vdropmon-stats (docs/messages.md documents every field).
 */
#ifndef VDROPMON_MESSAGES_H
#define VDROPMON_MESSAGES_H

#include <gst/gst.h>

#include "drop_batcher.h"
#include "event_source.h"
#include "flow_spec.h"

G_BEGIN_DECLS

#define VDM_DROP_MESSAGE "vdropmon-drop"
#define VDM_STATS_MESSAGE "vdropmon-stats"
#define VDM_WARNING_MESSAGE "vdropmon-warning"
#define VDM_CLEAR_MESSAGE "vdropmon-clear"

/* Shown by gst-inspect-1.0; docs/messages.md has every field. */
#define VDM_MESSAGES_SUMMARY \
  "vdropmon-drop: source, reason, reason-code, count, kernel-time, kernel-time-last, " \
  "running-time, pts, pts-last, rtp-seq-first, rtp-seq-last, rtp-seqs, rtp-seqs-truncated, " \
  "frames, ssrc, payload-type, keyframe, flow, attribution, events-lost | " \
  "vdropmon-warning: level, cause, reasons, action, drop-rate, ewma, baseline, stall-eta, " \
  "detect-time, running-time, suggested-height, suggested-bitrate | " \
  "vdropmon-clear: cause, duration, drops, detect-time, running-time | " \
  "vdropmon-stats (also the stats property, as application/x-vdropmon-stats): collector, " \
  "collector-status, flows, kernel-drops, reasons, events-lost, buffers, rtp-packets, " \
  "rtp-lost, rtp-reordered, rtp-duplicates, queue-fill-peak, drop-messages, loss-fraction, " \
  "jitter, fid, fid-max, bitrate, warnings, keyframe-requests-sent, keyframe-requests-seen, " \
  "detector-state, ewma, baseline, lag, runway"
#define VDM_STATS_STRUCTURE "application/x-vdropmon-stats"

/* A closed batch, placed on the pipeline's timeline. */
typedef struct {
  vdm_drop_batch batch;
  GstClockTime running_time;      /* of the first drop */
  GstClockTime pts_first, pts_last;
  gboolean keyframe;
  gchar flow[VDM_FLOW_STRING_MAX];
  guint64 events_lost;
} VdmDropReport;

typedef struct {
  const gchar *collector;         /* "embedded" | "none" */
  const gchar *collector_status;
  GPtrArray *flows;               /* of gchar*, borrowed */
  guint64 kernel_drops;
  guint64 per_reason[VDM_REASON_SLOTS];
  const gchar *reason_names[VDM_REASON_SLOTS];
  guint64 events_lost;
  guint64 buffers;
  guint64 rtp_packets, rtp_lost, rtp_reordered, rtp_duplicates;
  gdouble queue_fill_peak;        /* 0..1, -1 unavailable */
  guint64 drop_messages;
  gdouble loss_fraction;          /* lost / expected, from sequence numbers */
  gdouble jitter_ms;              /* RFC 3550 interarrival jitter */
  gdouble fid_ms, fid_max_ms;     /* frame-interval deviation, mean and max */
  gdouble bitrate;                /* bits/s at arrival */
  guint64 warnings;
  guint64 keyframe_requests_sent, keyframe_requests_seen;
  const gchar *detector_state;    /* "normal" | "warning" | "critical" */
  gdouble ewma, baseline;
  gdouble lag_ms;                 /* arrival behind media time, beyond its best */
  gdouble runway_ms;              /* until the playout buffer is empty; -1 not emptying */
} VdmStatsSnapshot;

const gchar *vdm_drop_source_name (vdm_drop_source source);
GstStructure *vdm_drop_report_to_structure (const VdmDropReport * report);
/* name: VDM_STATS_MESSAGE for the bus, VDM_STATS_STRUCTURE for the property. */
GstStructure *vdm_stats_to_structure (const VdmStatsSnapshot * stats, const gchar * name);

G_END_DECLS
#endif
