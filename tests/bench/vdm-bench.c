/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdm-bench — what vdropmon costs, side by side in one run (issue 13):
 *   a) bench_element.c  the element per RTP buffer, next to identity
 *   b) bench_bpf.c      the BPF programs per invocation (kernel statistics)
 *   c) bench_flood.c    a drop flood: rate, and no drop unaccounted for
 *   d) bench_host.c     hundreds of streams: CPU with vdropmon vs identity
 * each at a tight flood and at a realistic rate with cold caches, then a
 * summary against the targets. b-d need root (they run under the root-tests
 * lock via `ninja bench`). VDM_BENCH_ONLY=element,bpf,flood,host picks
 * parts. Not a test: it prints tables. About 3 minutes.
 */
#include <stdio.h>
#include <string.h>

#include <gst/gst.h>

#include "bench_parts.h"
#include "bench_util.h"

void
bench_summary_init (BenchSummary * s)
{
  guint i;

  memset (s, 0, sizeof (*s));
  s->element_tight_ns = s->element_cold_ns = s->element_tight_all_ns = -1;
  s->element_unobserved_fraction = -1;
  for (i = 0; i < 2; i++)
    s->kfree_unwatched[i] = s->kfree_nosock[i] = s->kfree_watched[i] = s->ready_watched[i] =
        s->ready_unwatched[i] = s->meminfo_ns[i] = s->kfree_unwatched_cookie[i] =
        s->ready_unwatched_cookie[i] = -1;
  s->flood_drops_per_s = s->flood_sent_per_s = s->flood_ceiling_per_s = -1;
  s->flood_accounted = s->flood_kept_passing = -1;
  s->host_extra_ns_per_packet = s->host_identity_ns_per_packet =
      s->host_vdropmon_ns_per_packet = s->host_identity_switches = s->host_vdropmon_switches = -1;
}

static const gchar *
verdict (gdouble value, gdouble target)
{
  return value < 0 ? "not run" : value <= target ? "met" : "MISSED";
}

static void
ns_row (const gchar * label, const gdouble * v, gdouble target)
{
  printf ("   %-40s %10.0f %10.0f   <= %-6.0f %s / %s\n", label, v[0], v[1], target,
      verdict (v[0], target), verdict (v[1], target));
}

static void
print_flood (const BenchSummary * s)
{
  printf ("   %-40s %10.0f %10s   >= 1000000 %s; accounted: %s; kept passing: %s\n",
      "flood drops/s", s->flood_drops_per_s, "", verdict (s->flood_drops_per_s < 0 ? -1 :
          1e6 / MAX (s->flood_drops_per_s, 1), 1.0),
      s->flood_accounted < 0 ? "not run" : s->flood_accounted ? "yes" : "NO",
      s->flood_kept_passing < 0 ? "not run" : s->flood_kept_passing ? "yes" : "NO");
  if (s->flood_accounted < 0)
    return;
  printf ("   %-40s %10.0f %10s   (%.0f %% of it with vdropmon; %u kfree_skb programs on the "
      "host)\n", "flood ceiling, identity, drops/s", s->flood_ceiling_per_s, "",
      s->flood_ceiling_per_s > 0 ? 100 * s->flood_drops_per_s / s->flood_ceiling_per_s : -1,
      s->flood_kfree_programs);
  printf ("   %-40s %10.0f %10s   (%u datagrams per send%s)\n", "flood: datagrams sent/s",
      s->flood_sent_per_s, "", s->flood_gso_segments,
      s->flood_gso_segments > 1 ? ", UDP GSO" : "");
  printf ("   %-40s %10" G_GUINT64_FORMAT " %10s   == kernel %" G_GUINT64_FORMAT " (of them "
      "events-lost %" G_GUINT64_FORMAT ", posted count-only; the last %" G_GUINT64_FORMAT
      " ms late)\n", "flood: drops in vdropmon-drop messages", s->flood_messages, "",
      s->flood_kernel_drops, s->flood_events_lost, s->flood_late_ms);
  printf ("   %-40s %10" G_GUINT64_FORMAT " %10s   (sent, neither dropped at a watched socket "
      "nor received)\n", "flood: datagrams lost elsewhere", s->flood_outside_sockets, "");
}

void
bench_print_summary (const BenchSummary * s)
{
  gdouble ratio[2] = { -1, -1 };

  if (s->element_tight_ns >= 0 && s->identity_tight_ns > 0)
    ratio[0] = s->element_tight_ns / s->identity_tight_ns;
  if (s->element_cold_ns >= 0 && s->identity_cold_ns > 0)
    ratio[1] = s->element_cold_ns / s->identity_cold_ns;
  printf ("summary (issue 13 targets; -1: not measured)\n");
  printf ("   %-40s %10s %10s   %-9s %s\n", "figure", "tight", "cold", "target", "tight / cold");
  printf ("   %-40s %10.0f %10.0f   ns\n", "element own, collector=auto", s->element_tight_ns,
      s->element_cold_ns);
  printf ("   %-40s %10.0f %10.0f   ns\n", "identity silent=true own", s->identity_tight_ns,
      s->identity_cold_ns);
  printf ("   %-40s %10.2f %10.2f   <= 1.15   %s / %s\n", "element / identity", ratio[0], ratio[1],
      verdict (ratio[0], 1.15), verdict (ratio[1], 1.15));
  printf ("   %-40s %10.2f %10s   (%.0f / %.0f ns: the worker's share included)\n",
      "element / identity, tight, all threads", s->element_tight_all_ns >= 0
      && s->identity_tight_all_ns > 0 ? s->element_tight_all_ns / s->identity_tight_all_ns : -1,
      "", s->element_tight_all_ns, s->identity_tight_all_ns);
  printf ("   %-40s %9.1f%% %10s   (packets-unobserved of all pushed, collector=auto, all its "
      "pipelines: counted, not silent)\n", "element: records its worker did not take",
      s->element_unobserved_fraction < 0 ? -1 : 100 * s->element_unobserved_fraction, "");
  ns_row ("BPF kfree_skb, unwatched socket", s->kfree_unwatched, 60);
  ns_row ("BPF kfree_skb, unwatched, with cookie", s->kfree_unwatched_cookie, 60);
  ns_row ("BPF kfree_skb, no socket", s->kfree_nosock, 80);
  ns_row ("BPF kfree_skb, watched (event)", s->kfree_watched, 250);
  ns_row ("queue fill: BPF sk_data_ready, watched", s->ready_watched, 60);
  printf ("   %-40s %10.0f %10.0f   (every socket of the host pays it)\n",
      "BPF sk_data_ready, unwatched, per packet", s->ready_unwatched[0], s->ready_unwatched[1]);
  printf ("   %-40s %10.0f %10.0f   (a socket `ss` has listed)\n",
      "BPF sk_data_ready, unwatched, cookie", s->ready_unwatched_cookie[0],
      s->ready_unwatched_cookie[1]);
  printf ("   %-40s %10.0f %10.0f   (per read, by the worker on a timer)\n",
      "getsockopt(SO_MEMINFO), per read", s->meminfo_ns[0], s->meminfo_ns[1]);
  print_flood (s);
  printf ("   %-40s %10.0f %10.0f   (all-in ns per packet: identity, vdropmon)\n",
      "host: CPU per packet", s->host_identity_ns_per_packet, s->host_vdropmon_ns_per_packet);
  printf ("   %-40s %9.3f%% %9.3f%%   (of one core, at 300 packets/s)\n",
      "host: CPU per stream, identity / vdropmon",
      s->host_identity_ns_per_packet < 0 ? -1 : 100 * s->host_identity_ns_per_packet * 300 / 1e9,
      s->host_vdropmon_ns_per_packet < 0 ? -1 : 100 * s->host_vdropmon_ns_per_packet * 300 / 1e9);
  printf ("   %-40s %10.0f %10.0f   (every thread of the process)\n",
      "host: context switches/s per stream", s->host_identity_switches,
      s->host_vdropmon_switches);
  printf ("   %-40s %10.0f %10s   <= 140 ns %s (%u streams measured)\n",
      "host: vdropmon - identity, ns/packet", s->host_extra_ns_per_packet, "",
      verdict (s->host_extra_ns_per_packet, 140), s->host_streams);
  printf ("   %-40s %9.1f%% %10s   <= 5 %%   %s\n", "host: 1,200 streams x 300 pkt/s, 1 core",
      s->host_extra_ns_per_packet < 0 ? -1 : 100 * s->host_core_share_1200, "",
      verdict (s->host_extra_ns_per_packet < 0 ? -1 : s->host_core_share_1200, 0.05));
}

static gboolean
wanted (const gchar * part)
{
  const gchar *only = g_getenv ("VDM_BENCH_ONLY");
  gchar **parts;
  gboolean yes;

  if (g_str_equal (part, "element") && g_getenv ("VDM_BENCH_SKIP_ELEMENT"))
    return FALSE;
  if (!only || !*only)
    return TRUE;
  parts = g_strsplit (only, ",", -1);
  yes = g_strv_contains ((const gchar * const *) parts, part);
  g_strfreev (parts);
  return yes;
}

int
main (int argc, char **argv)
{
  guint64 start = bench_now_ns ();
  BenchSummary summary;

  /* Run from anywhere: find the plugin in the build tree. */
  if (!g_getenv ("GST_PLUGIN_PATH"))
    g_setenv ("GST_PLUGIN_PATH", VDM_PLUGIN_DIR, TRUE);
  if (!g_getenv ("GST_REGISTRY"))
    g_setenv ("GST_REGISTRY", VDM_BENCH_REGISTRY, TRUE);
  gst_init (&argc, &argv);
  if (!gst_element_factory_find ("vdropmon")) {
    g_printerr ("vdropmon not found (GST_PLUGIN_PATH=%s)\n", g_getenv ("GST_PLUGIN_PATH"));
    return 1;
  }
  bench_summary_init (&summary);
  if (wanted ("element"))
    bench_element (&summary);
  if (wanted ("bpf"))
    bench_bpf (&summary);
  if (wanted ("flood"))
    bench_flood (&summary);
  if (wanted ("host"))
    bench_host (&summary);
  bench_bpf_stats_restore ();
  bench_print_summary (&summary);
  printf ("\ntotal %.1f s\n", (bench_now_ns () - start) / 1e9);
  return 0;
}
