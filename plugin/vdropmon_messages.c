/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vdropmon_messages.h"

const gchar *
vdm_drop_source_name (vdm_drop_source source)
{
  switch (source) {
    case VDM_DROP_SOURCE_KERNEL_UDP:
      return "kernel-udp";
    case VDM_DROP_SOURCE_KERNEL_TCP:
      return "kernel-tcp";
    case VDM_DROP_SOURCE_KERNEL_OTHER:
      return "kernel";
    case VDM_DROP_SOURCE_RTP_GAP:
      return "rtp-gap";
  }
  return "unknown";
}

static const gchar *
attribution_name (guint8 attribution)
{
  switch (attribution) {
    case VDM_ATTR_SOCKET:
      return "socket";
    case VDM_ATTR_FLOW:
      return "flow";
    case VDM_ATTR_CATCH_UP:
      return "catch-up";
    default:
      return "userspace";
  }
}

static void
set_seq_list (GstStructure * s, const vdm_drop_batch * batch)
{
  GValue list = G_VALUE_INIT, item = G_VALUE_INIT;
  guint i;

  g_value_init (&list, GST_TYPE_ARRAY);
  g_value_init (&item, G_TYPE_UINT);
  for (i = 0; batch->has_rtp && i < batch->n_seqs; i++) {
    g_value_set_uint (&item, batch->seqs[i]);
    gst_value_array_append_value (&list, &item);
  }
  gst_structure_take_value (s, "rtp-seqs", &list);
  g_value_unset (&item);
}

GstStructure *
vdm_drop_report_to_structure (const VdmDropReport * report)
{
  const vdm_drop_report *r = &report->report;
  const vdm_drop_batch *b = &r->batch;
  GstStructure *s;

  s = gst_structure_new (VDM_DROP_MESSAGE,
      "source", G_TYPE_STRING, vdm_drop_source_name (b->source),
      "reason", G_TYPE_STRING, b->reason_name,
      "reason-code", G_TYPE_UINT, b->reason,
      "count", G_TYPE_UINT, (guint) MIN (b->count, G_MAXUINT),
      "kernel-time", G_TYPE_UINT64, b->first_time_ns,
      "kernel-time-last", G_TYPE_UINT64, b->last_time_ns,
      "running-time", G_TYPE_UINT64, r->running_time,
      "pts", G_TYPE_UINT64, r->pts_first,
      "pts-last", G_TYPE_UINT64, r->pts_last,
      "rtp-seq-first", G_TYPE_INT, b->has_rtp ? (gint) b->seq_first : -1,
      "rtp-seq-last", G_TYPE_INT, b->has_rtp ? (gint) b->seq_last : -1,
      "rtp-seqs-truncated", G_TYPE_BOOLEAN, b->seqs_truncated,
      "frames", G_TYPE_UINT, b->n_frames,
      "ssrc", G_TYPE_UINT, b->has_rtp ? b->ssrc : 0,
      "payload-type", G_TYPE_INT, b->has_rtp ? b->payload_type : -1,
      "keyframe", G_TYPE_BOOLEAN, r->keyframe,
      "flow", G_TYPE_STRING, report->flow,
      "attribution", G_TYPE_STRING, attribution_name (b->attribution),
      "events-lost", G_TYPE_UINT64, report->events_lost, NULL);
  set_seq_list (s, b);
  return s;
}

/* The drop messages past the budget, folded (docs/messages.md). */
GstStructure *
vdm_drop_summary_to_structure (const vdm_drop_summary * summary)
{
  return gst_structure_new (VDM_DROP_SUMMARY_MESSAGE,
      "messages", G_TYPE_UINT64, summary->messages,
      "count", G_TYPE_UINT64, summary->drops,
      "kernel-count", G_TYPE_UINT64, summary->kernel_drops,
      "rtp-gap-count", G_TYPE_UINT64, summary->gap_drops,
      "ssrcs", G_TYPE_UINT, summary->n_ssrcs,
      "ssrcs-truncated", G_TYPE_BOOLEAN, summary->ssrcs_truncated,
      "kernel-time", G_TYPE_UINT64, summary->first_time_ns,
      "kernel-time-last", G_TYPE_UINT64, summary->last_time_ns, NULL);
}

static GstStructure *
warning_to_structure (const vdm_alert * alert)
{
  const vdm_detector_event *ev = &alert->event;
  gchar causes[96];

  vdm_causes_format (ev->causes, causes, sizeof (causes));
  return gst_structure_new (VDM_WARNING_MESSAGE,
      "level", G_TYPE_STRING, vdm_level_name (ev->level),
      "cause", G_TYPE_STRING, causes,
      "reasons", G_TYPE_STRING, alert->reasons,
      "action", G_TYPE_STRING, vdm_action_name (ev->action),
      "drop-rate", G_TYPE_DOUBLE, ev->drop_rate,
      "ewma", G_TYPE_DOUBLE, ev->ewma,
      "baseline", G_TYPE_DOUBLE, ev->baseline,
      "stall-eta", G_TYPE_UINT64, alert->stall_eta_ns,
      "detect-time", G_TYPE_UINT64, ev->time_ns,
      "running-time", G_TYPE_UINT64, alert->running_time,
      "suggested-height", G_TYPE_INT, alert->suggested_height,
      "suggested-bitrate", G_TYPE_INT, alert->suggested_bitrate, NULL);
}

static GstStructure *
clear_to_structure (const vdm_alert * alert)
{
  const vdm_detector_event *ev = &alert->event;
  gchar causes[96];

  vdm_causes_format (ev->causes, causes, sizeof (causes));
  return gst_structure_new (VDM_CLEAR_MESSAGE,
      "cause", G_TYPE_STRING, causes,
      "duration", G_TYPE_UINT64, ev->time_ns - MIN (ev->time_ns, ev->episode_start_ns),
      "drops", G_TYPE_UINT64, ev->episode_drops,
      "detect-time", G_TYPE_UINT64, ev->time_ns,
      "running-time", G_TYPE_UINT64, alert->running_time, NULL);
}

GstStructure *
vdm_alert_to_structure (const vdm_alert * alert)
{
  return alert->event.type == VDM_DETECTOR_WARNING ? warning_to_structure (alert)
      : clear_to_structure (alert);
}

static void
set_string_list (GstStructure * s, const gchar * field, GPtrArray * strings)
{
  GValue list = G_VALUE_INIT, item = G_VALUE_INIT;
  guint i;

  g_value_init (&list, GST_TYPE_ARRAY);
  g_value_init (&item, G_TYPE_STRING);
  for (i = 0; strings && i < strings->len; i++) {
    g_value_set_string (&item, g_ptr_array_index (strings, i));
    gst_value_array_append_value (&list, &item);
  }
  gst_structure_take_value (s, field, &list);
  g_value_unset (&item);
}

static GstStructure *
reasons_structure (const VdmStatsSnapshot * stats)
{
  GstStructure *reasons = gst_structure_new_empty ("reasons");
  guint slot;

  for (slot = 0; slot < VDM_REASON_SLOTS; slot++) {
    if (stats->per_reason[slot] && stats->reason_names[slot])
      gst_structure_set (reasons, stats->reason_names[slot], G_TYPE_UINT64, stats->per_reason[slot],
          NULL);
  }
  return reasons;
}

GstStructure *
vdm_stats_to_structure (const VdmStatsSnapshot * stats, const gchar * name)
{
  const vdm_monitor_stats *m = &stats->stream;
  GstStructure *s, *reasons;

  s = gst_structure_new (name,
      "collector", G_TYPE_STRING, stats->collector,
      "collector-status", G_TYPE_STRING, stats->collector_status,
      "collector-skipped", G_TYPE_STRING, stats->collector_skipped,
      "kernel-drops", G_TYPE_UINT64, stats->kernel_drops,
      "events-lost", G_TYPE_UINT64, stats->events_lost,
      "buffers", G_TYPE_UINT64, m->buffers,
      "rtp-packets", G_TYPE_UINT64, m->rtp_packets,
      "rtp-lost", G_TYPE_UINT64, m->rtp_lost,
      "rtp-reordered", G_TYPE_UINT64, m->rtp_reordered,
      "rtp-duplicates", G_TYPE_UINT64, m->rtp_duplicates,
      "queue-fill-peak", G_TYPE_DOUBLE, m->queue_fill_peak,
      "drop-messages", G_TYPE_UINT64, m->drop_reports,
      "loss-fraction", G_TYPE_DOUBLE, m->loss_fraction,
      "jitter", G_TYPE_DOUBLE, m->jitter_ms,
      "fid", G_TYPE_DOUBLE, m->fid_ms,
      "fid-max", G_TYPE_DOUBLE, m->fid_max_ms,
      "bitrate", G_TYPE_DOUBLE, m->bitrate,
      "warnings", G_TYPE_UINT64, m->warnings,
      "keyframe-requests-sent", G_TYPE_UINT64, m->keyframe_requests_sent,
      "keyframe-requests-seen", G_TYPE_UINT64, m->keyframe_requests_seen,
      "detector-state", G_TYPE_STRING, m->detector_state,
      "ewma", G_TYPE_DOUBLE, m->ewma,
      "baseline", G_TYPE_DOUBLE, m->baseline,
      "lag", G_TYPE_DOUBLE, m->lag_ms,
      "runway", G_TYPE_DOUBLE, m->runway_ms,
      "queue-delay", G_TYPE_DOUBLE, m->queue_delay_ms,
      "trend", G_TYPE_DOUBLE, m->trend,
      "path-usage", G_TYPE_STRING, m->usage,
      "stall-threshold", G_TYPE_DOUBLE, m->stall_threshold_ms,
      "reader-stalls", G_TYPE_UINT64, m->reader_stalls,
      "packets-unobserved", G_TYPE_UINT64, stats->packets_unobserved, NULL);
  set_string_list (s, "flows", stats->flows);
  reasons = reasons_structure (stats);
  gst_structure_set (s, "reasons", GST_TYPE_STRUCTURE, reasons, NULL);
  gst_structure_free (reasons);
  return s;
}
