/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * drop_checks.h — the assertions the kernel tests share: vdropmon-drop
 * messages against the kernel's own counters, against what was sent and
 * what passed, and their delay after the drop.
 */
#ifndef VDM_KT_DROP_CHECKS_H
#define VDM_KT_DROP_CHECKS_H

#include <gst/gst.h>

G_BEGIN_DECLS

/* What the recorded vdropmon-drop messages add up to. */
typedef struct
{
  guint n_messages;
  guint64 sum_count;
  guint n_truncated;            /* messages with rtp-seqs-truncated */
  guint64 n_listed;             /* entries over all rtp-seqs lists */
  guint n_repeated;             /* seqs listed more than once */
  guint8 *listed;               /* [65536] times each seq was listed */
  guint64 events_lost;
  gdouble latency_mean_ms, latency_max_ms; /* post time - kernel-time */
  gdouble min_after_last_ms;    /* post time - kernel-time-last, minimum */
} VdmKtDropSummary;

/* messages: VdmKtMessage* (receiver.h). */
void vdm_kt_summarize (GPtrArray * messages, VdmKtDropSummary * out);
void vdm_kt_summary_clear (VdmKtDropSummary * summary);
void vdm_kt_print_summary (const gchar * label, const VdmKtDropSummary * summary);

/* What every message is expected to say; NULL / -1 = not checked. */
typedef struct
{
  const gchar *source;
  const gchar *reason;
  const gchar *attribution;
  const gchar *flow;
  gint64 ssrc;
  gint payload_type;
} VdmKtExpectedDrop;

/* Field by field over all messages, plus each message's own consistency
 * (count vs listed seqs, seq-first/last, kernel-time order). */
void vdm_kt_check_fields (GPtrArray * messages, const VdmKtExpectedDrop * expected);

/* Drops happened; messages, kernel reference and the element's stats
 * (kernel-drops, reasons.<reason>) all agree; no event was lost. */
void vdm_kt_check_counts (const VdmKtDropSummary * summary, const GstStructure * stats,
    const gchar * reference_name, guint64 reference, const gchar * reason);

/* Every message posted within limit_ms of its kernel-time (times
 * $VDM_KT_TIME_SCALE when that is above 1: sanitizer builds). */
void vdm_kt_check_latency (const VdmKtDropSummary * summary, gdouble limit_ms);

/* sent: GArray of VdmKtSent; passed: [65536] per-seq counts. Every sent
 * packet either passed or was reported dropped, never both; when no list
 * was truncated, the reported seqs are exactly sent minus passed. */
void vdm_kt_check_seqs (const VdmKtDropSummary * summary, GArray * sent, const guint8 * passed);

/* Typed field access; fatal when a public field is missing or mistyped. */
guint vdm_kt_msg_uint (const GstStructure * s, const gchar * field);
gint vdm_kt_msg_int (const GstStructure * s, const gchar * field);
guint64 vdm_kt_msg_u64 (const GstStructure * s, const gchar * field);
gboolean vdm_kt_msg_bool (const GstStructure * s, const gchar * field);
const gchar *vdm_kt_msg_string (const GstStructure * s, const gchar * field);
/* rtp-seqs as a GArray of guint16 (caller frees). */
GArray *vdm_kt_msg_seqs (const GstStructure * s);

G_END_DECLS
#endif
