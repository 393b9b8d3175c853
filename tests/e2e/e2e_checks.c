/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "e2e_checks.h"

#include <stdio.h>

#include "drop_checks.h"
#include "e2e_frames.h"
#include "e2e_receiver.h"
#include "kernel_test_util.h"
#include "receiver.h"

#define NS_PER_MS 1e6

guint64
vdm_e2e_sum_count (GPtrArray * messages, const gchar * reason)
{
  guint64 sum = 0;
  guint i;

  for (i = 0; i < messages->len; i++) {
    const GstStructure *s = ((VdmKtMessage *) g_ptr_array_index (messages, i))->s;
    if (!reason || g_strcmp0 (vdm_kt_msg_string (s, "reason"), reason) == 0)
      sum += vdm_kt_msg_uint (s, "count");
  }
  return sum;
}

void
vdm_e2e_expect_all (GPtrArray * messages, const gchar * field, const gchar * expected)
{
  const gchar *example = NULL;
  guint i, bad = 0;

  for (i = 0; i < messages->len; i++) {
    const GstStructure *s = ((VdmKtMessage *) g_ptr_array_index (messages, i))->s;
    const gchar *value = vdm_kt_msg_string (s, field);
    if (g_strcmp0 (value, expected) != 0 && bad++ == 0)
      example = value;
  }
  vdm_kt_expect (bad == 0, "%s == \"%s\" in all %u messages%s%s%s", field, expected,
      messages->len, bad ? " (e.g. \"" : "", bad ? example : "", bad ? "\")" : "");
}

/* Messages of one reason, or of every other reason (new array, shared). */
static GPtrArray *
with_reason (GPtrArray * messages, const gchar * reason, gboolean equal)
{
  GPtrArray *out = g_ptr_array_new ();
  guint i;

  for (i = 0; i < messages->len; i++) {
    VdmKtMessage *m = g_ptr_array_index (messages, i);
    if ((g_strcmp0 (vdm_kt_msg_string (m->s, "reason"), reason) == 0) == equal)
      g_ptr_array_add (out, m);
  }
  return out;
}

static void
print_other_reasons (GPtrArray * others)
{
  GHashTable *sums = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter it;
  gpointer key, value;
  guint i;

  for (i = 0; i < others->len; i++) {
    const GstStructure *s = ((VdmKtMessage *) g_ptr_array_index (others, i))->s;
    const gchar *reason = vdm_kt_msg_string (s, "reason");
    guint sum = GPOINTER_TO_UINT (g_hash_table_lookup (sums, reason));
    g_hash_table_insert (sums, (gpointer) reason,
        GUINT_TO_POINTER (sum + vdm_kt_msg_uint (s, "count")));
  }
  g_hash_table_iter_init (&it, sums);
  while (g_hash_table_iter_next (&it, &key, &value))
    printf ("  other drops of the flow: %s %u\n", (gchar *) key, GPOINTER_TO_UINT (value));
  g_hash_table_unref (sums);
}

/* On a count mismatch: every message, to find the drop that went missing
 * (compare with a trace of skb:kfree_skb). */
static void
dump_messages (GPtrArray * messages)
{
  guint i;

  for (i = 0; i < messages->len; i++) {
    const GstStructure *s = ((VdmKtMessage *) g_ptr_array_index (messages, i))->s;
    printf ("    drop message: kernel-time %" G_GUINT64_FORMAT " .. %" G_GUINT64_FORMAT
        " count %u reason %s attribution %s\n", vdm_kt_msg_u64 (s, "kernel-time"),
        vdm_kt_msg_u64 (s, "kernel-time-last"), vdm_kt_msg_uint (s, "count"),
        vdm_kt_msg_string (s, "reason"), vdm_kt_msg_string (s, "attribution"));
  }
}

/* tbf counts, now and then, a drop or two that no kfree_skb of the flow
 * shows (flow_drops.h): at most this share of its count. */
#define TBF_UNTRACED_MAX_FRACTION 0.1

static void
check_counts_against (const gchar * what, guint64 reported, guint64 reference,
    guint64 bpf_misses, GPtrArray * kernel_msgs)
{
  gboolean ok;

  if (reported == reference || bpf_misses == 0)
    ok = vdm_kt_expect (reported == reference, "sum of count of QDISC_DROP messages (%"
        G_GUINT64_FORMAT ") == %s (%" G_GUINT64_FORMAT ")", reported, what, reference);
  else
    ok = vdm_kt_expect (reported < reference && reference - reported <= bpf_misses,
        "sum of count of QDISC_DROP messages (%" G_GUINT64_FORMAT ") == %s (%"
        G_GUINT64_FORMAT ") minus at most the %" G_GUINT64_FORMAT " runs of vdropmon's "
        "program the kernel skipped", reported, what, reference, bpf_misses);
  if (!ok)
    dump_messages (kernel_msgs);
}

void
vdm_e2e_check_tcp_qdisc_drops (GPtrArray * kernel_msgs, const GstStructure * stats,
    guint64 tbf_dropped, guint64 traced_drops, guint64 bpf_misses, const gchar * flow,
    gdouble latency_limit_ms)
{
  GPtrArray *qdisc = with_reason (kernel_msgs, "QDISC_DROP", TRUE);
  GPtrArray *others = with_reason (kernel_msgs, "QDISC_DROP", FALSE);
  guint64 qdisc_sum = vdm_e2e_sum_count (qdisc, NULL);
  guint64 all_sum = vdm_e2e_sum_count (kernel_msgs, NULL);
  guint64 stats_qdisc = vdm_e2e_stats_reason (stats, "QDISC_DROP");
  guint64 kernel_drops = vdm_kt_stats_u64 (stats, "kernel-drops");
  guint64 stats_lost = vdm_kt_stats_u64 (stats, "events-lost");
  guint64 untraced = tbf_dropped > traced_drops ? tbf_dropped - traced_drops : 0;
  VdmKtDropSummary summary;

  printf ("  COUNTS: tbf dropped %" G_GUINT64_FORMAT " | kfree_skb QDISC_DROP of the flow "
      "(tests' own BPF count) %" G_GUINT64_FORMAT " | QDISC_DROP messages %u, sum(count) %"
      G_GUINT64_FORMAT " | stats reasons.QDISC_DROP %" G_GUINT64_FORMAT " | all kernel "
      "messages sum(count) %" G_GUINT64_FORMAT " | stats kernel-drops %" G_GUINT64_FORMAT
      " | vdropmon program runs skipped %" G_GUINT64_FORMAT "\n", tbf_dropped, traced_drops,
      qdisc->len, qdisc_sum, stats_qdisc, all_sum, kernel_drops, bpf_misses);
  print_other_reasons (others);
  vdm_kt_expect (tbf_dropped > 0, "the bottleneck dropped packets (tbf dropped = %"
      G_GUINT64_FORMAT ")", tbf_dropped);
  check_counts_against ("the kernel's kfree_skb QDISC_DROP events of the flow", qdisc_sum,
      traced_drops, bpf_misses, kernel_msgs);
  vdm_kt_expect (traced_drops <= tbf_dropped
      && untraced <= TBF_UNTRACED_MAX_FRACTION * tbf_dropped, "those events account for tbf's "
      "drops (%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT "; tbf counted %" G_GUINT64_FORMAT
      " no kfree_skb showed, at most %.0f%% allowed)", traced_drops, tbf_dropped, untraced,
      100 * TBF_UNTRACED_MAX_FRACTION);
  vdm_kt_expect (stats_qdisc == qdisc_sum, "stats reasons.QDISC_DROP (%" G_GUINT64_FORMAT
      ") == the messages' sum", stats_qdisc);
  vdm_kt_expect (all_sum == kernel_drops, "all kernel messages (%" G_GUINT64_FORMAT ") == "
      "stats kernel-drops (%" G_GUINT64_FORMAT ")", all_sum, kernel_drops);
  vdm_kt_summarize (kernel_msgs, &summary);
  vdm_kt_expect (stats_lost == 0 && summary.events_lost == 0, "no ring-buffer event lost "
      "(stats %" G_GUINT64_FORMAT ", messages %" G_GUINT64_FORMAT ")", stats_lost,
      summary.events_lost);
  vdm_e2e_expect_all (kernel_msgs, "source", "kernel-tcp");
  vdm_e2e_expect_all (kernel_msgs, "flow", flow);
  vdm_e2e_expect_all (qdisc, "attribution", "flow");
  vdm_kt_check_latency (&summary, latency_limit_ms);
  vdm_kt_summary_clear (&summary);
  g_ptr_array_unref (qdisc);
  g_ptr_array_unref (others);
}

static GInetSocketAddress *
local_address (GSocket * socket)
{
  GError *error = NULL;
  GSocketAddress *addr = g_socket_get_local_address (socket, &error);

  if (!addr || !G_IS_INET_SOCKET_ADDRESS (addr))
    vdm_kt_fatal ("cannot read a socket's local address: %s",
        error ? error->message : "not an inet socket");
  return G_INET_SOCKET_ADDRESS (addr);
}

gchar *
vdm_e2e_udp_flow_name (GSocket * socket)
{
  GInetSocketAddress *addr = local_address (socket);
  gchar *ip = g_inet_address_to_string (g_inet_socket_address_get_address (addr));
  gchar *name = g_strdup_printf ("udp %s:%u", ip, g_inet_socket_address_get_port (addr));

  g_free (ip);
  g_object_unref (addr);
  return name;
}

guint16
vdm_e2e_socket_port (GSocket * socket)
{
  GInetSocketAddress *addr = local_address (socket);
  guint16 port = g_inet_socket_address_get_port (addr);

  g_object_unref (addr);
  return port;
}

guint16
vdm_e2e_url_port (const gchar * url)
{
  GstUri *uri = gst_uri_from_string (url);
  guint port = uri ? gst_uri_get_port (uri) : GST_URI_NO_PORT;

  if (uri)
    gst_uri_unref (uri);
  if (port == GST_URI_NO_PORT || port == 0 || port > 65535)
    vdm_kt_fatal ("no port in \"%s\"", url);
  return (guint16) port;
}

gpointer
vdm_e2e_first_posted_after (GPtrArray * messages, guint64 after_ns)
{
  guint i;

  for (i = 0; i < messages->len; i++) {
    VdmKtMessage *m = g_ptr_array_index (messages, i);
    if (m->arrival_ns >= after_ns)
      return m;
  }
  return NULL;
}

static gdouble
ms_since (guint64 t, guint64 t0)
{
  return ((gint64) t - (gint64) t0) / NS_PER_MS;
}

void
vdm_e2e_print_warnings (const gchar * label, GPtrArray * warnings, guint64 t0)
{
  guint i;

  for (i = 0; i < warnings->len; i++) {
    const VdmKtMessage *m = g_ptr_array_index (warnings, i);
    gchar *text = m->arrival_ns < t0 ? gst_structure_to_string (m->s) : NULL;

    printf ("  %s: warning at %+.0f ms: level=%s cause=%s reasons=%s action=%s%s%s\n", label,
        ms_since (m->arrival_ns, t0), gst_structure_get_string (m->s, "level"),
        gst_structure_get_string (m->s, "cause"), gst_structure_get_string (m->s, "reasons"),
        gst_structure_get_string (m->s, "action"), text ? " — before the trouble: " : "",
        text ? text : "");
    g_free (text);
  }
}

static guint64
first_kernel_time_after (GPtrArray * drops, guint64 after_ns)
{
  guint64 first = 0;
  guint i;

  for (i = 0; i < drops->len; i++) {
    guint64 t = vdm_kt_msg_u64 (((VdmKtMessage *) g_ptr_array_index (drops, i))->s,
        "kernel-time");
    if (t >= after_ns && (!first || t < first))
      first = t;
  }
  return first;
}

static void
print_timing (const gchar * label, const VdmE2eTiming * t, guint64 t0)
{
  printf ("  TIMING: %s: t0 = start of trouble; first kernel drop %s%+.0f ms, first warning "
      "%s%+.0f ms\n", label, t->first_drop_ns ? "" : "(none) ",
      t->first_drop_ns ? ms_since (t->first_drop_ns, t0) : 0.0,
      t->first_warning_ns ? "" : "(none) ",
      t->first_warning_ns ? ms_since (t->first_warning_ns, t0) : 0.0);
  printf ("  TIMING: %s: %u frames rendered after t0, longest gap %.0f ms, %u frozen frames "
      "(W3C rule)\n", label, t->n_frames, t->longest_gap_ns / NS_PER_MS, t->n_freezes);
  if (t->froze)
    printf ("  TIMING: %s: first frozen frame: picture stopped at %+.0f ms for %.0f ms; "
        "warning lead %s%.0f ms\n", label, ms_since (t->freeze_start_ns, t0),
        t->freeze_gap_ns / NS_PER_MS, t->first_warning_ns ? "" : "(no warning) ",
        t->first_warning_ns ? t->lead_ms : 0.0);
  else
    printf ("  TIMING: %s: no frozen frame at the sink\n", label);
  if (t->decoder_gap)
    printf ("  TIMING: %s: first such gap at the decoder's output: at %+.0f ms for %.0f ms; "
        "warning lead %s%.0f ms\n", label, ms_since (t->decoder_gap_start_ns, t0),
        t->decoder_gap_ns / NS_PER_MS, t->first_warning_ns ? "" : "(no warning) ",
        t->first_warning_ns ? t->decoder_lead_ms : 0.0);
}

void
vdm_e2e_measure_timing (const gchar * label, GArray * frames, GArray * decoded,
    GPtrArray * drops, GPtrArray * warnings, guint64 after_ns, VdmE2eTiming * out)
{
  const VdmKtMessage *warning = vdm_e2e_first_posted_after (warnings, after_ns);
  VdmE2eFreeze freeze;
  guint i;

  *out = (VdmE2eTiming) { 0 };
  out->first_drop_ns = first_kernel_time_after (drops, after_ns);
  out->first_warning_ns = warning ? warning->arrival_ns : 0;
  for (i = 0; i < frames->len; i++)
    if (g_array_index (frames, VdmE2eFrame, i).time_ns >= after_ns)
      out->n_frames++;
  out->longest_gap_ns = vdm_e2e_longest_gap (frames, after_ns);
  out->n_freezes = vdm_e2e_count_freezes (frames, after_ns);
  out->froze = vdm_e2e_first_freeze (frames, after_ns, &freeze);
  if (out->froze) {
    out->freeze_start_ns = freeze.start_ns;
    out->freeze_gap_ns = freeze.end_ns - freeze.start_ns;
    out->lead_ms = ms_since (freeze.start_ns, out->first_warning_ns);
  }
  if (decoded && vdm_e2e_first_freeze (decoded, after_ns, &freeze)) {
    out->decoder_gap = TRUE;
    out->decoder_gap_start_ns = freeze.start_ns;
    out->decoder_gap_ns = freeze.end_ns - freeze.start_ns;
    out->decoder_lead_ms = ms_since (freeze.start_ns, out->first_warning_ns);
  }
  print_timing (label, out, after_ns);
}

static gdouble
stats_double (const GstStructure * s, const gchar * field)
{
  gdouble v = 0;

  gst_structure_get_double (s, field, &v);
  return v;
}

void
vdm_e2e_print_stats_timeline (const gchar * label, GPtrArray * stats, guint64 after_ns,
    guint64 t0)
{
  guint i;

  for (i = 0; i < stats->len; i++) {
    const VdmKtMessage *m = g_ptr_array_index (stats, i);
    if (m->arrival_ns < after_ns)
      continue;
    printf ("  %s: stats at %+6.0f ms: lag %7.1f ms, runway %7.1f ms, kernel-drops %"
        G_GUINT64_FORMAT ", detector %s\n", label, ms_since (m->arrival_ns, t0),
        stats_double (m->s, "lag"), stats_double (m->s, "runway"),
        vdm_kt_stats_u64 (m->s, "kernel-drops"), gst_structure_get_string (m->s,
            "detector-state"));
  }
}
