/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmon_tsc.c — arrival stamps from the TSC where it can be trusted
 * (issue 13; the conversion is core/tsc_map.c).
 *
 * The streaming threads stamp an arrival with one `rdtsc` instead of a
 * CLOCK_MONOTONIC read once this element's map knows the counter's rate;
 * whoever drains the rings (under the lock) reads a (TSC, CLOCK_MONOTONIC)
 * pair first and converts the stamps it takes out. Until the rate is known
 * (the first 20 ms after the first drain), on a CPU without an invariant
 * counter, after the map found the counter disagreeing with the clock (then
 * for the whole process, with one warning), or with
 * VDROPMON_ARRIVAL_CLOCK=monotonic in the environment, the streaming
 * threads read CLOCK_MONOTONIC as before. Converted stamps never go back:
 * a stamp that converts to before the last one handed to the monitor takes
 * the last one's time (the map's error bound is 50 us).
 */
#define _GNU_SOURCE             /* secure_getenv */
#include "gstvdropmon_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GST_CAT_DEFAULT vdropmon_debug
/* Tries at reading a pair close together (preemption between the reads). */
#define PAIR_TRIES 4
/* A pair whose two counter reads are further apart is not used (ticks). */
#define PAIR_MAX_TICKS 20000

static gint tsc_distrusted;     /* atomic: some element's map found it wrong */

static gpointer
tsc_usable_once (gpointer unused)
{
  const char *env = secure_getenv ("VDROPMON_ARRIVAL_CLOCK");

  if (env && strcmp (env, "monotonic") == 0) {
    fprintf (stderr, "vdropmon: VDROPMON_ARRIVAL_CLOCK=monotonic: arrivals stamped with "
        "CLOCK_MONOTONIC, not the TSC\n");
    return GINT_TO_POINTER (1);
  }
  GST_INFO ("TSC %s", vdm_tsc_invariant ()? "invariant: arrivals stamped with it" :
      "not invariant: arrivals stamped with CLOCK_MONOTONIC");
  return GINT_TO_POINTER (vdm_tsc_invariant ()? 2 : 1);
}

static gboolean
tsc_usable (void)
{
  static GOnce once = G_ONCE_INIT;

  return GPOINTER_TO_INT (g_once (&once, tsc_usable_once, NULL)) == 2
      && !g_atomic_int_get (&tsc_distrusted);
}

void
vdm_tsc_init (GstVdropmon * self)
{
  vdm_tsc_map_init (&self->tsc_map);
  self->tsc_last_ns = 0;
  VDM_VIEW_SET (self, arrival_tsc, FALSE);
}

/* The closest of a few (counter, clock, counter) reads; FALSE if none was
 * close (the thread was preempted every time). */
static gboolean
read_pair (guint64 * tsc, guint64 * ns)
{
  guint64 best = G_MAXUINT64;
  guint i;

  for (i = 0; i < PAIR_TRIES && best > PAIR_MAX_TICKS / 4; i++) {
    guint64 t1 = vdm_tsc_read (), n = vdm_monotonic_ns (), t2 = vdm_tsc_read ();
    if (t2 - t1 < best) {
      best = t2 - t1;
      *tsc = t1 + (t2 - t1) / 2;
      *ns = n;
    }
  }
  return best <= PAIR_MAX_TICKS;
}

static void
distrust (GstVdropmon * self, guint64 tsc, guint64 ns)
{
  VDM_VIEW_SET (self, arrival_tsc, FALSE);
  if (!g_atomic_int_compare_and_exchange (&tsc_distrusted, FALSE, TRUE))
    return;
  GST_WARNING_OBJECT (self, "the TSC (%" G_GUINT64_FORMAT ") disagrees with CLOCK_MONOTONIC "
      "(%" G_GUINT64_FORMAT " ns, map says %" G_GUINT64_FORMAT "): arrivals are stamped with "
      "CLOCK_MONOTONIC from now on", tsc, ns, vdm_tsc_map_to_ns (&self->tsc_map, tsc));
}

/* Before a drain: a fresh pair for the stamps about to be converted. */
void
vdm_tsc_calibrate_locked (GstVdropmon * self)
{
  guint64 tsc, ns;

  if (!self->probe_view.arrival_tsc && !vdm_tsc_map_ready (&self->tsc_map) && !tsc_usable ())
    return;
  if (!read_pair (&tsc, &ns))
    return;
  if (vdm_tsc_map_pair (&self->tsc_map, tsc, ns) != VDM_TSC_PAIR_OK) {
    distrust (self, tsc, ns);
    return;
  }
  if (vdm_tsc_map_ready (&self->tsc_map) && !self->probe_view.arrival_tsc && tsc_usable ()) {
    GST_DEBUG_OBJECT (self, "arrivals stamped with the TSC from now on (%.6f ns per tick)",
        self->tsc_map.ns_per_tick);
    VDM_VIEW_SET (self, arrival_tsc, TRUE);
  }
}

guint64
vdm_tsc_stamp_ns_locked (GstVdropmon * self, guint64 mono)
{
  guint64 ns;

  if (G_LIKELY (!(mono & VDM_TSC_STAMP)))
    return mono;
  ns = vdm_tsc_map_to_ns (&self->tsc_map, mono & ~VDM_TSC_STAMP);
  return MAX (ns, self->tsc_last_ns);
}

void
vdm_tsc_convert_locked (GstVdropmon * self, vdm_packet_record * r)
{
  guint64 raw = r->mono;

  if (G_LIKELY (!(raw & VDM_TSC_STAMP)))
    return;
  r->mono = vdm_tsc_stamp_ns_locked (self, raw);
  self->tsc_last_ns = r->mono;
  if (r->clock == raw)          /* the system clock's time: the same instant */
    r->clock = r->mono;
}
