/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "drop_checks.h"

#include <stdio.h>
#include <string.h>

#include "kernel_test_util.h"
#include "receiver.h"
#include "sender.h"

#define MAX_SEQS_SHOWN 8
/* rtp-seqs lists at most this many seqs (public message API). */
#define MAX_LISTED_SEQS 64

static G_GNUC_NORETURN void
bad_field (const GstStructure * s, const gchar * field, const gchar * type)
{
  gchar *text = gst_structure_to_string (s);
  vdm_kt_fatal ("message field %s missing or not %s: %s", field, type, text);
}

guint
vdm_kt_msg_uint (const GstStructure * s, const gchar * field)
{
  guint v;
  if (!gst_structure_get_uint (s, field, &v))
    bad_field (s, field, "guint");
  return v;
}

gint
vdm_kt_msg_int (const GstStructure * s, const gchar * field)
{
  gint v;
  if (!gst_structure_get_int (s, field, &v))
    bad_field (s, field, "gint");
  return v;
}

guint64
vdm_kt_msg_u64 (const GstStructure * s, const gchar * field)
{
  guint64 v;
  if (!gst_structure_get_uint64 (s, field, &v))
    bad_field (s, field, "guint64");
  return v;
}

gboolean
vdm_kt_msg_bool (const GstStructure * s, const gchar * field)
{
  gboolean v;
  if (!gst_structure_get_boolean (s, field, &v))
    bad_field (s, field, "gboolean");
  return v;
}

const gchar *
vdm_kt_msg_string (const GstStructure * s, const gchar * field)
{
  const gchar *v = gst_structure_get_string (s, field);
  if (!v)
    bad_field (s, field, "a string");
  return v;
}

GArray *
vdm_kt_msg_seqs (const GstStructure * s)
{
  const GValue *list = gst_structure_get_value (s, "rtp-seqs");
  GArray *seqs = g_array_new (FALSE, FALSE, sizeof (guint16));
  guint i;

  if (!list || !GST_VALUE_HOLDS_ARRAY (list))
    bad_field (s, "rtp-seqs", "a GstValueArray");
  for (i = 0; i < gst_value_array_get_size (list); i++) {
    const GValue *item = gst_value_array_get_value (list, i);
    guint16 seq;
    if (!G_VALUE_HOLDS_UINT (item) || g_value_get_uint (item) > G_MAXUINT16)
      bad_field (s, "rtp-seqs", "an array of 16-bit guint");
    seq = (guint16) g_value_get_uint (item);
    g_array_append_val (seqs, seq);
  }
  return seqs;
}

void
vdm_kt_summarize (GPtrArray * messages, VdmKtDropSummary * out)
{
  gdouble latency_sum = 0;
  guint i, j;

  memset (out, 0, sizeof (*out));
  out->listed = g_new0 (guint8, 65536);
  out->min_after_last_ms = G_MAXDOUBLE;
  for (i = 0; i < messages->len; i++) {
    const VdmKtMessage *m = g_ptr_array_index (messages, i);
    gint64 first = (gint64) vdm_kt_msg_u64 (m->s, "kernel-time");
    gint64 last = (gint64) vdm_kt_msg_u64 (m->s, "kernel-time-last");
    gdouble latency = ((gint64) m->arrival_ns - first) / 1e6;
    GArray *seqs = vdm_kt_msg_seqs (m->s);

    out->n_messages++;
    out->sum_count += vdm_kt_msg_uint (m->s, "count");
    out->events_lost += vdm_kt_msg_u64 (m->s, "events-lost");
    if (vdm_kt_msg_bool (m->s, "rtp-seqs-truncated"))
      out->n_truncated++;
    for (j = 0; j < seqs->len; j++) {
      guint16 seq = g_array_index (seqs, guint16, j);
      if (out->listed[seq] == 1)
        out->n_repeated++;
      if (out->listed[seq] < G_MAXUINT8)
        out->listed[seq]++;
    }
    out->n_listed += seqs->len;
    g_array_unref (seqs);
    latency_sum += latency;
    out->latency_max_ms = MAX (out->latency_max_ms, latency);
    out->min_after_last_ms = MIN (out->min_after_last_ms, ((gint64) m->arrival_ns - last) / 1e6);
  }
  out->latency_mean_ms = out->n_messages ? latency_sum / out->n_messages : 0;
  if (!out->n_messages)
    out->min_after_last_ms = 0;
}

void
vdm_kt_summary_clear (VdmKtDropSummary * summary)
{
  g_clear_pointer (&summary->listed, g_free);
}

void
vdm_kt_print_summary (const gchar * label, const VdmKtDropSummary * s)
{
  printf ("  %s: %u vdropmon-drop messages, count sum %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
      " seqs listed (%u messages truncated), events-lost %" G_GUINT64_FORMAT "\n",
      label, s->n_messages, s->sum_count, s->n_listed, s->n_truncated, s->events_lost);
  printf ("  %s: latency drop -> bus message: mean %.2f ms, max %.2f ms\n", label,
      s->latency_mean_ms, s->latency_max_ms);
}

/* One message's own consistency; returns a complaint or NULL. */
static gchar *
inconsistency (const GstStructure * s)
{
  guint count = vdm_kt_msg_uint (s, "count");
  gboolean truncated = vdm_kt_msg_bool (s, "rtp-seqs-truncated");
  GArray *seqs = vdm_kt_msg_seqs (s);
  gint first = vdm_kt_msg_int (s, "rtp-seq-first");
  gint last = vdm_kt_msg_int (s, "rtp-seq-last");
  gchar *why = NULL;

  if (count == 0)
    why = g_strdup ("count is 0");
  else if (vdm_kt_msg_u64 (s, "kernel-time") > vdm_kt_msg_u64 (s, "kernel-time-last"))
    why = g_strdup ("kernel-time after kernel-time-last");
  else if (!truncated && seqs->len != count)
    why = g_strdup_printf ("count %u but %u seqs listed", count, seqs->len);
  else if (truncated && (seqs->len != MAX_LISTED_SEQS || count <= MAX_LISTED_SEQS))
    why = g_strdup_printf ("truncated with count %u and %u seqs listed", count, seqs->len);
  else if (seqs->len && first != g_array_index (seqs, guint16, 0))
    why = g_strdup_printf ("rtp-seq-first %d is not the first listed seq %u", first,
        g_array_index (seqs, guint16, 0));
  else if (seqs->len && !truncated && last != g_array_index (seqs, guint16, seqs->len - 1))
    why = g_strdup_printf ("rtp-seq-last %d is not the last listed seq %u", last,
        g_array_index (seqs, guint16, seqs->len - 1));
  g_array_unref (seqs);
  return why;
}

static gboolean
string_field_is (const GstStructure * s, const gchar * field, const gchar * expected)
{
  return !expected || g_strcmp0 (vdm_kt_msg_string (s, field), expected) == 0;
}

static void
expect_all (GPtrArray * messages, const gchar * field, const gchar * expected)
{
  guint i, bad = 0;
  const gchar *example = NULL;

  if (!expected)
    return;
  for (i = 0; i < messages->len; i++) {
    const GstStructure *s = ((VdmKtMessage *) g_ptr_array_index (messages, i))->s;
    if (!string_field_is (s, field, expected) && bad++ == 0)
      example = vdm_kt_msg_string (s, field);
  }
  vdm_kt_expect (bad == 0, "%s == \"%s\" in all %u messages%s%s%s", field, expected,
      messages->len, bad ? " (e.g. \"" : "", bad ? example : "", bad ? "\")" : "");
}

void
vdm_kt_check_fields (GPtrArray * messages, const VdmKtExpectedDrop * expected)
{
  guint i, bad_ssrc = 0, bad_pt = 0, n_inconsistent = 0;
  gchar *first_complaint = NULL;

  expect_all (messages, "source", expected->source);
  expect_all (messages, "reason", expected->reason);
  expect_all (messages, "attribution", expected->attribution);
  expect_all (messages, "flow", expected->flow);
  for (i = 0; i < messages->len; i++) {
    const GstStructure *s = ((VdmKtMessage *) g_ptr_array_index (messages, i))->s;
    gchar *why = inconsistency (s);
    if (expected->ssrc >= 0 && vdm_kt_msg_uint (s, "ssrc") != (guint) expected->ssrc)
      bad_ssrc++;
    if (expected->payload_type >= 0 && vdm_kt_msg_int (s, "payload-type") != expected->payload_type)
      bad_pt++;
    if (why && n_inconsistent++ == 0) {
      gchar *text = gst_structure_to_string (s);
      first_complaint = g_strdup_printf ("%s in %s", why, text);
      g_free (text);
    }
    g_free (why);
  }
  if (expected->ssrc >= 0)
    vdm_kt_expect (bad_ssrc == 0, "ssrc == 0x%08x in all messages (%u differ)",
        (guint) expected->ssrc, bad_ssrc);
  if (expected->payload_type >= 0)
    vdm_kt_expect (bad_pt == 0, "payload-type == %d in all messages (%u differ)",
        expected->payload_type, bad_pt);
  vdm_kt_expect (n_inconsistent == 0, "each message consistent (count vs rtp-seqs, "
      "seq-first/last, kernel-time order)%s%s", first_complaint ? ": " : "",
      first_complaint ? first_complaint : "");
  g_free (first_complaint);
}

static guint64
reason_count (const GstStructure * stats, const gchar * reason)
{
  const GstStructure *reasons = NULL;
  const GValue *v = gst_structure_get_value (stats, "reasons");
  guint64 n = 0;

  if (v && GST_VALUE_HOLDS_STRUCTURE (v))
    reasons = gst_value_get_structure (v);
  if (!reasons)
    vdm_kt_fatal ("stats field reasons missing or not a structure");
  gst_structure_get_uint64 (reasons, reason, &n);
  return n;
}

void
vdm_kt_check_counts (const VdmKtDropSummary * summary, const GstStructure * stats,
    const gchar * reference_name, guint64 reference, const gchar * reason)
{
  guint64 kernel_drops = vdm_kt_stats_u64 (stats, "kernel-drops");
  guint64 by_reason = reason_count (stats, reason);
  guint64 stats_lost = vdm_kt_stats_u64 (stats, "events-lost");

  printf ("  COUNTS: %s %" G_GUINT64_FORMAT " | messages sum(count) %" G_GUINT64_FORMAT
      " | stats kernel-drops %" G_GUINT64_FORMAT " | stats reasons.%s %" G_GUINT64_FORMAT "\n",
      reference_name, reference, summary->sum_count, kernel_drops, reason, by_reason);
  vdm_kt_expect (reference > 0, "the kernel dropped packets (%s = %" G_GUINT64_FORMAT ")",
      reference_name, reference);
  vdm_kt_expect (summary->n_messages > 0, "vdropmon-drop messages were posted (%u)",
      summary->n_messages);
  vdm_kt_expect (summary->sum_count == reference, "sum of count (%" G_GUINT64_FORMAT
      ") == %s (%" G_GUINT64_FORMAT ")", summary->sum_count, reference_name, reference);
  vdm_kt_expect (kernel_drops == reference, "stats kernel-drops (%" G_GUINT64_FORMAT
      ") == %s", kernel_drops, reference_name);
  vdm_kt_expect (by_reason == reference, "stats reasons.%s (%" G_GUINT64_FORMAT ") == %s",
      reason, by_reason, reference_name);
  vdm_kt_expect (stats_lost == 0 && summary->events_lost == 0,
      "no ring-buffer event lost (stats %" G_GUINT64_FORMAT ", messages %" G_GUINT64_FORMAT ")",
      stats_lost, summary->events_lost);
}

void
vdm_kt_check_latency (const VdmKtDropSummary * summary, gdouble limit_ms)
{
  /* Sanitizer builds run several times slower: they check correctness, and
   * stretch the time limits by VDM_KT_TIME_SCALE (tests/run.sh sets it). */
  const gchar *scale_text = g_getenv ("VDM_KT_TIME_SCALE");
  gdouble scale = scale_text ? g_ascii_strtod (scale_text, NULL) : 1.0;

  if (scale > 1.0)
    limit_ms *= scale;
  printf ("  LATENCY: drop -> bus message over %u messages: mean %.2f ms, max %.2f ms\n",
      summary->n_messages, summary->latency_mean_ms, summary->latency_max_ms);
  vdm_kt_expect (summary->latency_max_ms <= limit_ms,
      "every message posted within %.0f ms of its kernel-time (max %.2f ms)", limit_ms,
      summary->latency_max_ms);
  vdm_kt_expect (summary->min_after_last_ms >= 0,
      "no message posted before its kernel-time-last (min %.3f ms after)",
      summary->min_after_last_ms);
}

/* Appends up to MAX_SEQS_SHOWN examples to text. */
static void
note_example (GString * text, guint * n, guint16 seq)
{
  if ((*n)++ < MAX_SEQS_SHOWN)
    g_string_append_printf (text, " %u", seq);
}

void
vdm_kt_check_seqs (const VdmKtDropSummary * summary, GArray * sent, const guint8 * passed)
{
  guint8 *is_sent = g_new0 (guint8, 65536);
  GString *unlisted = g_string_new (""), *wrong = g_string_new ("");
  guint n_expected = 0, n_unlisted = 0, n_wrong = 0, n_passed = 0, i;

  for (i = 0; i < sent->len; i++) {
    guint16 seq = g_array_index (sent, VdmKtSent, i).seq;
    is_sent[seq] = 1;
    if (passed[seq]) {
      n_passed++;
      continue;
    }
    n_expected++;
    if (!summary->listed[seq])
      note_example (unlisted, &n_unlisted, seq);
  }
  for (i = 0; i < 65536; i++)
    if (summary->listed[i] && (!is_sent[i] || passed[i]))
      note_example (wrong, &n_wrong, (guint16) i);

  printf ("  SEQS: sent %u, passed %u, sent-minus-passed %u, reported %" G_GUINT64_FORMAT
      " (listed %" G_GUINT64_FORMAT ")\n", sent->len, n_passed, n_expected, summary->sum_count,
      summary->n_listed);
  vdm_kt_expect (n_expected == summary->sum_count, "every sent packet passed or was reported "
      "dropped: sent-minus-passed %u == reported %" G_GUINT64_FORMAT, n_expected,
      summary->sum_count);
  vdm_kt_expect (summary->n_repeated == 0, "no seq reported twice (%u were)",
      summary->n_repeated);
  vdm_kt_expect (n_wrong == 0, "every reported seq was sent and did not pass (%u did not:%s)",
      n_wrong, wrong->str);
  if (summary->n_truncated == 0)
    vdm_kt_expect (n_unlisted == 0, "reported seqs == sent minus passed (%u missing:%s)",
        n_unlisted, unlisted->str);
  else
    printf ("  note: %u messages had truncated seq lists; set equality checked as inclusion "
        "plus counts\n", summary->n_truncated);
  g_string_free (unlisted, TRUE);
  g_string_free (wrong, TRUE);
  g_free (is_sent);
}
