/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "e2e_netns.h"

#include <stdio.h>

#include "kernel_test_util.h"

/* As netns.sh sets the tbf up (its defaults). */
#define TBF_BURST "8kb"
#define TBF_LATENCY "20ms"
#define BOTTLENECK_DEV "to-rcv"

void
vdm_e2e_topology_init (VdmE2eTopology * topo)
{
  topo->netns_sh = vdm_kt_require_env ("VDM_NETNS_SH");
  topo->prefix = vdm_kt_require_env ("VDM_NETNS_PREFIX");
  topo->snd = g_strdup_printf ("%s-snd", topo->prefix);
  topo->rtr = g_strdup_printf ("%s-rtr", topo->prefix);
}

void
vdm_e2e_topology_clear (VdmE2eTopology * topo)
{
  g_clear_pointer (&topo->snd, g_free);
  g_clear_pointer (&topo->rtr, g_free);
}

static gchar *
run (const gchar * const *argv)
{
  gchar *out = NULL, *line;
  GError *error = NULL;
  gint status = 0;

  if (!g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, NULL,
          &status, &error) || !g_spawn_check_wait_status (status, &error)) {
    line = g_strjoinv (" ", (gchar **) argv);
    vdm_kt_fatal ("%s failed: %s", line, error->message);
  }
  return out;
}

guint64
vdm_e2e_tbf_drops (gpointer data)
{
  const VdmE2eTopology *topo = data;
  const gchar *argv[] = { "bash", topo->netns_sh, "qdisc-drops", topo->prefix, NULL };
  gchar *out = run (argv), *end = NULL;
  guint64 drops = g_ascii_strtoull (out, &end, 10);

  if (end == out)
    vdm_kt_fatal ("netns.sh qdisc-drops printed \"%s\"", out);
  g_free (out);
  return drops;
}

void
vdm_e2e_tbf_set_rate (const VdmE2eTopology * topo, const gchar * rate)
{
  const gchar *argv[] = { "tc", "-n", topo->rtr, "qdisc", "change", "dev", BOTTLENECK_DEV,
    "root", "tbf", "rate", rate, "burst", TBF_BURST, "latency", TBF_LATENCY, NULL
  };

  g_free (run (argv));
  printf ("  bottleneck (tbf in %s) now at %s\n", topo->rtr, rate);
}
