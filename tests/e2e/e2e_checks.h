/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * e2e_checks.h — what the end-to-end tests measure and check on top of
 * tests/kernel/drop_checks.h: counts per reason, socket names, and the
 * timing of warnings against the frames a viewer sees.
 */
#ifndef VDM_E2E_CHECKS_H
#define VDM_E2E_CHECKS_H

#include <gio/gio.h>
#include <gst/gst.h>

G_BEGIN_DECLS

/* Sum of count over messages (VdmKtMessage*) with this reason (NULL: all). */
guint64 vdm_e2e_sum_count (GPtrArray * messages, const gchar * reason);

/* A string field equal to expected in every message (VdmKtMessage*). */
void vdm_e2e_expect_all (GPtrArray * messages, const gchar * field, const gchar * expected);

/* Drops of a TCP flow in a tbf bottleneck (QDISC_DROP, attribution flow).
 * Exact reference: traced_drops, the kfree_skb QDISC_DROP events of the
 * flow counted by the tests' own BPF program (flow_drops.h); the QDISC_DROP
 * messages add up to it — or fall short by no more than bpf_misses, the
 * runs of vdropmon's program the kernel skipped (bpf_misses.h) — and so do
 * the stats' reasons.QDISC_DROP. Anchor: tbf's own counter, which those
 * events must account for but for a few (at most 10 %). Also: all kernel
 * messages add up to the stats' kernel-drops; every message names the flow,
 * arrives within latency_limit_ms; no event lost. Drops of other reasons
 * (the receiving socket's TCP_OLD_DATA, ...) are printed, and checked for
 * source and flow only. kernel_msgs: VdmKtMessage*. */
void vdm_e2e_check_tcp_qdisc_drops (GPtrArray * kernel_msgs, const GstStructure * stats,
    guint64 tbf_dropped, guint64 traced_drops, guint64 bpf_misses, const gchar * flow,
    gdouble latency_limit_ms);

/* "udp 0.0.0.0:41234": the flow vdropmon prints for a bound UDP socket. */
gchar *vdm_e2e_udp_flow_name (GSocket * socket);
guint16 vdm_e2e_socket_port (GSocket * socket);
/* The port of a URL (fatal without one). */
guint16 vdm_e2e_url_port (const gchar * url);

/* The first message posted at or after after_ns (NULL if none). */
gpointer vdm_e2e_first_posted_after (GPtrArray * messages, guint64 after_ns);

/* One line per warning, times relative to t0 (ms). */
void vdm_e2e_print_warnings (const gchar * label, GPtrArray * warnings, guint64 t0);

typedef struct
{
  guint64 first_drop_ns;        /* kernel-time of the first kernel drop (0: none) */
  guint64 first_warning_ns;     /* post time of the first warning (0: none) */
  gboolean froze;               /* a frozen frame at the sink (W3C rule) */
  guint64 freeze_start_ns;      /* its previous frame: the picture stops there */
  guint64 freeze_gap_ns;
  guint n_freezes;
  guint n_frames;
  guint64 longest_gap_ns;
  gdouble lead_ms;              /* freeze start - first warning */
  /* The same rule on the decoder's output (before the playout buffer). */
  gboolean decoder_gap;
  guint64 decoder_gap_start_ns;
  guint64 decoder_gap_ns;
  gdouble decoder_lead_ms;
} VdmE2eTiming;

/* Measures (from after_ns on) and prints the TIMING: lines: first drop,
 * first warning, first frozen frame at the sink, and the warning's lead;
 * with decoded (may be NULL) also the first such gap at the decoder's
 * output. frames, decoded: VdmE2eFrame; drops, warnings: VdmKtMessage*. */
void vdm_e2e_measure_timing (const gchar * label, GArray * frames, GArray * decoded,
    GPtrArray * drops, GPtrArray * warnings, guint64 after_ns, VdmE2eTiming * out);

/* One line per vdropmon-stats message posted at or after after_ns: lag,
 * runway, kernel-drops, detector-state (times relative to t0). */
void vdm_e2e_print_stats_timeline (const gchar * label, GPtrArray * stats, guint64 after_ns,
    guint64 t0);

G_END_DECLS
#endif
