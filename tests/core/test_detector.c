/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the surge detector on synthetic timelines. Every expected
 * time is worked out by hand in the comment above its assertion.
 *
 * Unless a test says otherwise: default config (bins 100 ms, window 5 s = 50
 * bins, alpha 0.2, factor 1.8, k = 2, floor 0.5, fill threshold 0.9,
 * clear 10 bins, interval 100 ms, critical 4.0, burst 20). The detector
 * starts at t = 0 and is advanced every 10 ms; signals of a tick are given
 * before that tick's advance. With a clean start the window holds only
 * zeros, so baseline = floor 0.5, threshold = 1.8 x 0.5 = 0.9 and the
 * critical line is 4 x 0.5 = 2.0. "trend" below is the EWMA the detector
 * decides on (equal to the EWMA except for a burst bin, see detector.c).
 */
#include <glib.h>
#include <math.h>

#include "detector.h"

#define MS VDM_MSECOND
#define EPS 1e-9

typedef void (*signals_fn) (vdm_detector *d, uint64_t t_ms, gpointer data);

/* Drives d with a tick every 10 ms from from_ms to to_ms (inclusive),
 * appending the events to out. */
static void
run_ticks (vdm_detector *d, uint64_t from_ms, uint64_t to_ms, signals_fn signals, gpointer data,
    GArray *out)
{
  for (uint64_t t = from_ms; t <= to_ms; t += 10) {
    vdm_detector_event events[8];
    unsigned n;

    if (signals != NULL)
      signals (d, t, data);
    n = vdm_detector_advance (d, t * MS, events, G_N_ELEMENTS (events));
    g_array_append_vals (out, events, n);
  }
}

static GArray *
new_events (void)
{
  return g_array_new (FALSE, TRUE, sizeof (vdm_detector_event));
}

static const vdm_detector_event *
event_at (GArray *events, guint i)
{
  g_assert_cmpuint (i, <, events->len);
  return &g_array_index (events, vdm_detector_event, i);
}

static void
assert_warning (const vdm_detector_event *e, uint64_t time_ms, vdm_level level, uint32_t causes,
    vdm_action action)
{
  char got[64], want[64];

  g_assert_cmpint (e->type, ==, VDM_DETECTOR_WARNING);
  g_assert_cmpuint (e->time_ns, ==, time_ms * MS);
  g_assert_cmpstr (vdm_level_name (e->level), ==, vdm_level_name (level));
  g_assert_cmpstr (vdm_causes_format (e->causes, got, sizeof got), ==,
      vdm_causes_format (causes, want, sizeof want));
  g_assert_cmpstr (vdm_action_name (e->action), ==, vdm_action_name (action));
}

static void
assert_clear (const vdm_detector_event *e, uint64_t time_ms, uint32_t causes,
    uint64_t episode_start_ms, uint64_t episode_drops)
{
  char got[64], want[64];

  g_assert_cmpint (e->type, ==, VDM_DETECTOR_CLEAR);
  g_assert_cmpuint (e->time_ns, ==, time_ms * MS);
  g_assert_cmpint (e->level, ==, VDM_LEVEL_NORMAL);
  g_assert_cmpstr (vdm_causes_format (e->causes, got, sizeof got), ==,
      vdm_causes_format (causes, want, sizeof want));
  g_assert_cmpint (e->action, ==, VDM_ACTION_NONE);
  g_assert_cmpuint (e->episode_start_ns, ==, episode_start_ms * MS);
  g_assert_cmpuint (e->episode_drops, ==, episode_drops);
}

/* ---- timelines ---- */

/* 10 drops per bin from first_ms to last_ms: one drop every 10 ms. */
typedef struct {
  uint64_t first_ms, last_ms;
  vdm_cause cause;
} steady_drops;

static void
steady_signals (vdm_detector *d, uint64_t t, gpointer data)
{
  const steady_drops *s = data;
  if (t >= s->first_ms && t <= s->last_ms)
    vdm_detector_add_drops (d, t * MS, s->cause, 1);
}

static void
test_step (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  steady_drops drops = { 2000, 10000, VDM_CAUSE_NETWORK };
  GArray *events = new_events ();
  const vdm_detector_event *e;

  /* Bins 0..19 are clean (window all zeros -> threshold 0.9). Bin 20
   * [2.0, 2.1) holds 10 drops: trend = 0.2 x 10 = 2.0 > 0.9, run 1 of 2.
   * Bin 21 closes at 2.2 s: trend = 2 + 0.8 x 2.0 = 3.6 > 0.9, run 2:
   * WARNING at exactly 2.2 s. 3.6 > 2.0 (critical line) -> CRITICAL.
   * NETWORK -> lower-bitrate. Nothing new after that: no more events. */
  run_ticks (d, 0, 5000, steady_signals, &drops, events);
  g_assert_cmpuint (events->len, ==, 1);
  e = event_at (events, 0);
  assert_warning (e, 2200, VDM_LEVEL_CRITICAL, VDM_CAUSE_NETWORK, VDM_ACTION_LOWER_BITRATE);
  g_assert_cmpfloat_with_epsilon (e->ewma, 3.6, EPS);
  g_assert_cmpfloat_with_epsilon (e->baseline, 0.5, EPS);
  g_assert_cmpfloat_with_epsilon (e->drop_rate, 100.0, EPS);
  g_assert_cmpuint (e->episode_start_ns, ==, 0);
  g_assert_cmpint (vdm_detector_level (d), ==, VDM_LEVEL_CRITICAL);

  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

/* Bin 20 + j (j = 0..9) gets j + 1 drops, at its start. */
static void
ramp_signals (vdm_detector *d, uint64_t t, gpointer data)
{
  (void) data;
  if (t >= 2000 && t < 3000 && t % 100 == 0)
    vdm_detector_add_drops (d, t * MS, VDM_CAUSE_NETWORK, (uint32_t) ((t - 2000) / 100 + 1));
}

static void
test_ramp (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  GArray *events = new_events ();

  /* trend per bin: 20 (1 drop) 0.2; 21 (2) 0.4 + 0.16 = 0.56; both <= 0.9,
   * they join the window (mean 3/22 < floor: baseline stays 0.5).
   * 22 (3): 0.6 + 0.448 = 1.048 > 0.9, run 1.
   * 23 (4): 0.8 + 0.8384 = 1.6384 > 0.9, run 2 -> WARNING at its close,
   *   2.4 s; 1.6384 <= 2.0 -> level WARNING.
   * 24 (5): 1.0 + 1.31072 = 2.31072 > 2.0 -> level rises to CRITICAL, new,
   *   and 2.5 - 2.4 = 100 ms is the minimum interval: CRITICAL at 2.5 s, no
   *   new cause so the action is that of its causes (lower-bitrate).
   * Bins 25..29 add nothing new. */
  run_ticks (d, 0, 3000, ramp_signals, NULL, events);
  g_assert_cmpuint (events->len, ==, 2);
  assert_warning (event_at (events, 0), 2400, VDM_LEVEL_WARNING, VDM_CAUSE_NETWORK,
      VDM_ACTION_LOWER_BITRATE);
  g_assert_cmpfloat_with_epsilon (event_at (events, 0)->ewma, 1.6384, EPS);
  g_assert_cmpfloat_with_epsilon (event_at (events, 0)->drop_rate, 40.0, EPS);
  assert_warning (event_at (events, 1), 2500, VDM_LEVEL_CRITICAL, VDM_CAUSE_NETWORK,
      VDM_ACTION_LOWER_BITRATE);
  g_assert_cmpfloat_with_epsilon (event_at (events, 1)->ewma, 2.31072, EPS);

  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

/* Drops at the start of bins: 30 in bin 20, then `after` per bin. */
typedef struct {
  uint32_t after;
} burst_plan;

static void
burst_signals (vdm_detector *d, uint64_t t, gpointer data)
{
  const burst_plan *plan = data;
  if (t == 2000)
    vdm_detector_add_drops (d, t * MS, VDM_CAUSE_HOST, 30);
  else if (t > 2000 && t % 100 == 0 && plan->after > 0)
    vdm_detector_add_drops (d, t * MS, VDM_CAUSE_HOST, plan->after);
}

static void
test_burst (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  burst_plan plan = { 0 };
  GArray *events = new_events ();
  const vdm_detector_event *e;

  /* Bin 20 (30 drops >= 20, previous trend 0 <= 0.9, no episode) closes at
   * 2.1 s: burst -> WARNING, causes burst+host, circuit-break. The reported
   * EWMA is 0.2 x 30 = 6; the trend counts the burst bin as the baseline:
   * 0.2 x 0.5 = 0.1, below 2.0 -> level WARNING. Bins 21..30 are empty,
   * trend 0.08, 0.064, ... <= 0.9: ten quiet bins, the tenth (bin 30)
   * closes at 3.1 s -> CLEAR, episode from 2.1 s with the 30 drops. */
  run_ticks (d, 0, 6000, burst_signals, &plan, events);
  g_assert_cmpuint (events->len, ==, 2);
  e = event_at (events, 0);
  assert_warning (e, 2100, VDM_LEVEL_WARNING, VDM_CAUSE_BURST | VDM_CAUSE_HOST,
      VDM_ACTION_CIRCUIT_BREAK);
  g_assert_cmpfloat_with_epsilon (e->ewma, 6.0, EPS);
  g_assert_cmpfloat_with_epsilon (e->drop_rate, 300.0, EPS);
  assert_clear (event_at (events, 1), 3100, VDM_CAUSE_BURST | VDM_CAUSE_HOST, 2100, 30);
  g_assert_cmpfloat_with_epsilon (event_at (events, 1)->ewma, 6.0 * pow (0.8, 10), EPS);
  g_assert_cmpint (vdm_detector_level (d), ==, VDM_LEVEL_NORMAL);

  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

static void
test_burst_then_surge (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  burst_plan plan = { 5 };
  GArray *events = new_events ();

  /* Burst at 2.1 s as above (trend 0.1). Then 5 host drops per bin:
   * bin 21: 1 + 0.08 = 1.08 > 0.9, run 1; bin 22: 1 + 0.864 = 1.864, run 2
   * -> the surge confirms at 2.3 s, level WARNING (1.864 <= 2.0). HOST was
   * only shown with the burst, not reported as a cause of its own: it is new
   * -> a second warning, with the regular host action, 200 ms after the
   * first. Bin 23: 1 + 1.4912 = 2.4912 > 2.0 -> CRITICAL at 2.4 s. */
  run_ticks (d, 0, 4000, burst_signals, &plan, events);
  g_assert_cmpuint (events->len, ==, 3);
  assert_warning (event_at (events, 0), 2100, VDM_LEVEL_WARNING, VDM_CAUSE_BURST | VDM_CAUSE_HOST,
      VDM_ACTION_CIRCUIT_BREAK);
  assert_warning (event_at (events, 1), 2300, VDM_LEVEL_WARNING, VDM_CAUSE_HOST,
      VDM_ACTION_LOWER_RESOLUTION);
  assert_warning (event_at (events, 2), 2400, VDM_LEVEL_CRITICAL, VDM_CAUSE_HOST,
      VDM_ACTION_LOWER_RESOLUTION);

  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

static void
test_clear_timing (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  steady_drops drops = { 2000, 2990, VDM_CAUSE_NETWORK };
  GArray *events = new_events ();
  const vdm_detector_event *e;
  double trend_at_3s = 10 * (1 - pow (0.8, 10));

  /* 10 drops per bin in bins 20..29 (2.0 to 3.0 s): WARNING at 2.2 s as in
   * the step test. After n such bins the trend is 10 (1 - 0.8^n); at 3.0 s
   * (n = 10) 8.926. Then it decays by 0.8 per empty bin: after 10 empty bins
   * (bin 39, closes 4.0 s) 0.958 > 0.9, after 11 (bin 40, closes 4.1 s)
   * 0.767 <= 0.9: the first quiet bin. The tenth quiet bin is bin 49,
   * closing at 5.0 s -> CLEAR at exactly 5.0 s. The episode started at
   * 2.2 s and holds bins 20..49: 10 x 10 = 100 drops. */
  g_assert_cmpfloat (trend_at_3s * pow (0.8, 10), >, 0.9);
  g_assert_cmpfloat (trend_at_3s * pow (0.8, 11), <=, 0.9);
  run_ticks (d, 0, 4990, steady_signals, &drops, events);
  g_assert_cmpuint (events->len, ==, 1);
  run_ticks (d, 5000, 8000, steady_signals, &drops, events);
  g_assert_cmpuint (events->len, ==, 2);
  assert_warning (event_at (events, 0), 2200, VDM_LEVEL_CRITICAL, VDM_CAUSE_NETWORK,
      VDM_ACTION_LOWER_BITRATE);
  e = event_at (events, 1);
  assert_clear (e, 5000, VDM_CAUSE_NETWORK, 2200, 100);
  g_assert_cmpfloat_with_epsilon (e->ewma, trend_at_3s * pow (0.8, 20), EPS);
  g_assert_cmpfloat_with_epsilon (e->drop_rate, 0.0, EPS);
  g_assert_cmpint (vdm_detector_level (d), ==, VDM_LEVEL_NORMAL);

  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

/* 0 or 1 drop per bin, the drop with probability p, from a seeded PRNG. */
typedef struct {
  GRand *rand;
  double p;
} noise_plan;

static void
noise_signals (vdm_detector *d, uint64_t t, gpointer data)
{
  noise_plan *plan = data;
  if (t % 100 == 50 && g_rand_double (plan->rand) < plan->p)
    vdm_detector_add_drops (d, t * MS, VDM_CAUSE_NETWORK, 1);
}

/* Runs 60 s of noise for seeds 1..20 and asserts that nothing is reported. */
static void
assert_noise_is_quiet (const vdm_detector_config *config, double p)
{
  for (guint32 seed = 1; seed <= 20; seed++) {
    vdm_detector *d = vdm_detector_new (config);
    noise_plan plan = { g_rand_new_with_seed (seed), p };
    GArray *events = new_events ();

    run_ticks (d, 0, 60000, noise_signals, &plan, events);
    g_assert_cmpuint (events->len, ==, 0);
    g_assert_cmpint (vdm_detector_level (d), ==, VDM_LEVEL_NORMAL);
    g_array_free (events, TRUE);
    g_rand_free (plan.rand);
    vdm_detector_free (d);
  }
}

static void
test_clean_noise (void)
{
  vdm_detector_config config;

  /* Default config, a lone drop in about one bin of five (2 drops/s):
   * 0 warnings in 60 s for every seed (also measured over 1000 seeds).
   *
   * Limit of the default floor: with at most 1 drop per bin the EWMA stays
   * <= 1, but the threshold 1.8 x max(0.5, window mean) is 0.9 < 1 while
   * the window mean is below 0.556. Then about ten drop bins in a row
   * confirm a surge: with a drop in half of the bins (fair coin) that
   * happens in about 6% of 60 s runs (63 of 1000 seeds), 0.1% at one bin
   * in four. */
  assert_noise_is_quiet (NULL, 0.2);

  /* A floor >= 1 / factor makes 0-1 drops per bin provably quiet, at any
   * drop probability: threshold >= 1.8 x 0.56 = 1.008 > 1 >= EWMA. */
  vdm_detector_config_init (&config);
  config.min_drops_per_bin = 0.56;
  assert_noise_is_quiet (&config, 0.5);
  assert_noise_is_quiet (&config, 0.9);
}

static void
keyframe_signals (vdm_detector *d, uint64_t t, gpointer data)
{
  (void) data;
  if (t == 1240) {
    vdm_detector_add_drops (d, 1234 * MS, VDM_CAUSE_NETWORK, 1);
    vdm_detector_keyframe_lost (d, 1234 * MS);
  }
}

static void
test_keyframe_loss (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  GArray *events = new_events ();
  const vdm_detector_event *e;

  /* A keyframe packet lost at 1.234 s: the advance at 1.240 s, inside bin
   * 12 [1.2, 1.3), emits CRITICAL request-keyframe. Bin 12 holds a trigger
   * (not quiet); bins 13..22 are quiet, bin 22 closes at 2.3 s -> CLEAR.
   * The lone drop (trend 0.2) is no surge and counts in the episode since
   * bin 12 closed inside it. */
  run_ticks (d, 0, 1230, keyframe_signals, NULL, events);
  g_assert_cmpuint (events->len, ==, 0);
  g_assert_cmpint (vdm_detector_level (d), ==, VDM_LEVEL_NORMAL);
  run_ticks (d, 1240, 1240, keyframe_signals, NULL, events);
  g_assert_cmpuint (events->len, ==, 1);
  e = event_at (events, 0);
  assert_warning (e, 1240, VDM_LEVEL_CRITICAL, VDM_CAUSE_KEYFRAME, VDM_ACTION_REQUEST_KEYFRAME);
  g_assert_cmpint (vdm_detector_level (d), ==, VDM_LEVEL_CRITICAL);
  run_ticks (d, 1250, 4000, NULL, NULL, events);
  g_assert_cmpuint (events->len, ==, 2);
  assert_clear (event_at (events, 1), 2300, VDM_CAUSE_KEYFRAME, 1240, 1);

  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

static void
fill_signals (vdm_detector *d, uint64_t t, gpointer data)
{
  (void) data;
  if (t == 1240)
    vdm_detector_queue_fill (d, 1234 * MS, 0.95);
  if (t == 1500) {
    /* Invalid samples are ignored: they neither lower the last fill (which
     * would allow a clear) nor trigger. */
    vdm_detector_queue_fill (d, t * MS, NAN);
    vdm_detector_queue_fill (d, t * MS, -1.0);
  }
  if (t == 2000)
    vdm_detector_queue_fill (d, t * MS, 0.3);
}

static void
test_queue_fill (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  GArray *events = new_events ();

  /* Fill 0.95 >= 0.9 at 1.234 s -> the next advance, 1.240 s, emits
   * CRITICAL host lower-resolution. The last valid fill stays 0.95 until the
   * 0.3 sample at 2.0 s; bin 19 closes (at 2.0 s) before that sample is
   * taken, so bins 20..29 are the quiet ones: CLEAR at 3.0 s. */
  run_ticks (d, 0, 5000, fill_signals, NULL, events);
  g_assert_cmpuint (events->len, ==, 2);
  assert_warning (event_at (events, 0), 1240, VDM_LEVEL_CRITICAL, VDM_CAUSE_HOST,
      VDM_ACTION_LOWER_RESOLUTION);
  assert_clear (event_at (events, 1), 3000, VDM_CAUSE_HOST, 1240, 0);

  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

/* Issue 12 part 4: a reader falling behind fills its queue bin after bin.
 * Readings 0.3, 0.55 (one reading over 0.5 is a keyframe in a small
 * buffer, nothing), 0.6 (twice over 0.5, not lower): a host warning at
 * that reading, level warning, before the queue is anywhere near full. A
 * queue that drains again (0.6 then 0.52 then 0.51) says nothing. */
static void
filling_signals (vdm_detector *d, uint64_t t, gpointer data)
{
  const double *fills = data;

  if (t >= 1000 && t < 1300 && t % 100 == 0)
    vdm_detector_queue_fill (d, t * MS, fills[(t - 1000) / 100]);
}

static void
test_queue_filling (void)
{
  const double rising[] = { 0.3, 0.55, 0.6 }, draining[] = { 0.6, 0.52, 0.51 };
  vdm_detector *d = vdm_detector_new (NULL);
  GArray *events = new_events ();

  run_ticks (d, 0, 1500, filling_signals, (gpointer) rising, events);
  g_assert_cmpuint (events->len, ==, 1);
  assert_warning (event_at (events, 0), 1200, VDM_LEVEL_WARNING, VDM_CAUSE_HOST,
      VDM_ACTION_LOWER_RESOLUTION);
  vdm_detector_free (d);
  g_array_set_size (events, 0);

  d = vdm_detector_new (NULL);
  run_ticks (d, 0, 1500, filling_signals, (gpointer) draining, events);
  g_assert_cmpuint (events->len, ==, 0);
  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

static void
silence_signals (vdm_detector *d, uint64_t t, gpointer data)
{
  (void) data;
  if (t == 1240)
    vdm_detector_silence (d, 1234 * MS, true);
  if (t == 1500)
    vdm_detector_silence (d, t * MS, true);    /* repeated: nothing new */
  if (t == 3000)
    vdm_detector_silence (d, t * MS, false);
}

static void
test_silence (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  GArray *events = new_events ();

  /* Silence from 1.234 s: WARNING network lower-bitrate at the 1.240 s
   * advance. No clear while silent: silence(false) at 3.0 s first closes
   * bin 29 (still silent), so bins 30..39 are quiet: CLEAR at 4.0 s. */
  run_ticks (d, 0, 6000, silence_signals, NULL, events);
  g_assert_cmpuint (events->len, ==, 2);
  assert_warning (event_at (events, 0), 1240, VDM_LEVEL_WARNING, VDM_CAUSE_NETWORK,
      VDM_ACTION_LOWER_BITRATE);
  assert_clear (event_at (events, 1), 4000, VDM_CAUSE_NETWORK, 1240, 0);

  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

typedef struct {
  uint64_t on1, off1, on2, off2;
} two_deficits;

static void
two_deficits_signals (vdm_detector *d, uint64_t t, gpointer data)
{
  const two_deficits *p = data;

  if (t == p->on1 || t == p->on2)
    vdm_detector_arrival_deficit (d, t * MS, true, VDM_CAUSE_NETWORK);
  if (t == p->off1 || t == p->off2)
    vdm_detector_arrival_deficit (d, t * MS, false, VDM_CAUSE_NETWORK);
}

/* Episodes: a stall from 1.0 s to 1.3 s warns at 1.0 s (network,
 * lower-bitrate). The episode is still open (clear needs 10 quiet bins:
 * 2.3 s at the earliest) when a second stall starts at 1.9 s, 600 ms after
 * the first ended (>= renew_after 500 ms): a new freeze on its way, warned
 * again at 1.9 s with the same cause and action. */
static void
test_episode_renewed_deficit (void)
{
  two_deficits p = { 1000, 1300, 1900, 2200 };
  vdm_detector *d = vdm_detector_new (NULL);
  GArray *events = new_events ();

  run_ticks (d, 0, 5000, two_deficits_signals, &p, events);
  g_assert_cmpuint (events->len, ==, 3);
  assert_warning (event_at (events, 0), 1000, VDM_LEVEL_WARNING, VDM_CAUSE_NETWORK,
      VDM_ACTION_LOWER_BITRATE);
  assert_warning (event_at (events, 1), 1900, VDM_LEVEL_WARNING, VDM_CAUSE_NETWORK,
      VDM_ACTION_LOWER_BITRATE);
  /* quiet from bin 22 (2.2-2.3 s; silent ended at 2.2 s) on: clear at 3.2 s */
  assert_clear (event_at (events, 2), 3200, VDM_CAUSE_NETWORK, 1000, 0);
  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

/* A deficit flapping faster than renew_after (a trickle of packets through
 * a stalled link: 1.0-1.3 s, then again from 1.7 s, 400 ms later) is one
 * freeze: one warning. With renew_after 0 the same flapping never repeats
 * either. */
static void
test_episode_flapping_not_renewed (void)
{
  two_deficits p = { 1000, 1300, 1700, 2000 };
  vdm_detector_config config;
  vdm_detector *d;
  GArray *events = new_events ();

  d = vdm_detector_new (NULL);
  run_ticks (d, 0, 5000, two_deficits_signals, &p, events);
  g_assert_cmpuint (events->len, ==, 2);
  assert_warning (event_at (events, 0), 1000, VDM_LEVEL_WARNING, VDM_CAUSE_NETWORK,
      VDM_ACTION_LOWER_BITRATE);
  assert_clear (event_at (events, 1), 3000, VDM_CAUSE_NETWORK, 1000, 0);
  vdm_detector_free (d);

  g_array_set_size (events, 0);
  p = (two_deficits) { 1000, 1300, 1900, 2200 };
  vdm_detector_config_init (&config);
  config.renew_after_ns = 0;
  d = vdm_detector_new (&config);
  run_ticks (d, 0, 5000, two_deficits_signals, &p, events);
  g_assert_cmpuint (events->len, ==, 2);
  g_assert_cmpint (event_at (events, 1)->type, ==, VDM_DETECTOR_CLEAR);
  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

static void
long_deficit_signals (vdm_detector *d, uint64_t t, gpointer data)
{
  (void) data;
  if (t == 400)                 /* no episode yet: nothing to renew */
    vdm_detector_deficit_renewed (d, t * MS, VDM_CAUSE_NETWORK);
  if (t == 1000)
    vdm_detector_arrival_deficit (d, t * MS, true, VDM_CAUSE_NETWORK);
  if (t == 1300 || t == 1600 || t == 1700 || t == 2000 || t == 3000)
    vdm_detector_deficit_renewed (d, t * MS, VDM_CAUSE_NETWORK);
  if (t == 2500)
    vdm_detector_arrival_deficit (d, t * MS, false, VDM_CAUSE_NETWORK);
}

/* A deficit that never ends (a long congestion) with a new freeze
 * predicted inside it: the deficit starts at 1.0 s (warned at 1.0 s). A
 * renewal at 1.3 s is 300 ms after that warning (< renew_after 500 ms):
 * forgotten. At 1.6 s: warned again, network, lower-bitrate. 1.7 s and
 * 2.0 s are under 500 ms after that one: nothing. The deficit ends at
 * 2.5 s, so 3.0 s renews nothing (a deficit that starts again goes through
 * vdm_detector_arrival_deficit); quiet from bin 25 on, clear at 3.5 s.
 * The call at 0.4 s, outside any episode, starts none. */
static void
test_episode_renewed_long_deficit (void)
{
  vdm_detector_config config;
  vdm_detector *d = vdm_detector_new (NULL);
  GArray *events = new_events ();

  run_ticks (d, 0, 5000, long_deficit_signals, NULL, events);
  g_assert_cmpuint (events->len, ==, 3);
  assert_warning (event_at (events, 0), 1000, VDM_LEVEL_WARNING, VDM_CAUSE_NETWORK,
      VDM_ACTION_LOWER_BITRATE);
  assert_warning (event_at (events, 1), 1600, VDM_LEVEL_WARNING, VDM_CAUSE_NETWORK,
      VDM_ACTION_LOWER_BITRATE);
  assert_clear (event_at (events, 2), 3500, VDM_CAUSE_NETWORK, 1000, 0);
  vdm_detector_free (d);

  /* renew_after 0: never twice */
  g_array_set_size (events, 0);
  vdm_detector_config_init (&config);
  config.renew_after_ns = 0;
  d = vdm_detector_new (&config);
  run_ticks (d, 0, 5000, long_deficit_signals, NULL, events);
  g_assert_cmpuint (events->len, ==, 2);
  g_assert_cmpint (event_at (events, 1)->type, ==, VDM_DETECTOR_CLEAR);
  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

static void
host_then_network_signals (vdm_detector *d, uint64_t t, gpointer data)
{
  (void) data;
  if (t >= 2000 && t < 2400)
    vdm_detector_add_drops (d, t * MS, VDM_CAUSE_HOST, 1);
  if (t == 2600)
    vdm_detector_arrival_deficit (d, t * MS, true, VDM_CAUSE_NETWORK);
}

/* A new cause repeats the warning: a host surge (2.2 s, lower-resolution),
 * then, in the same episode, a network deficit at 2.6 s: warned again,
 * lower-bitrate. Its first occurrence is fresh by cause, no renewal
 * needed. */
static void
test_episode_new_cause (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  GArray *events = new_events ();

  run_ticks (d, 0, 2700, host_then_network_signals, NULL, events);
  g_assert_cmpuint (events->len, ==, 2);
  g_assert_cmpuint (event_at (events, 0)->time_ns, ==, 2200 * MS);
  g_assert_cmpuint (event_at (events, 0)->action, ==, VDM_ACTION_LOWER_RESOLUTION);
  g_assert_cmpuint (event_at (events, 1)->time_ns, ==, 2600 * MS);
  g_assert_cmpuint (event_at (events, 1)->action, ==, VDM_ACTION_LOWER_BITRATE);
  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

static void
keyframe_in_surge_signals (vdm_detector *d, uint64_t t, gpointer data)
{
  (void) data;
  if (t >= 2000 && t < 3000)
    vdm_detector_add_drops (d, t * MS, VDM_CAUSE_HOST, 1);
  if (t == 2190)
    vdm_detector_keyframe_lost (d, t * MS);
}

/* 10 host drops per bin from 2.0 s (the step: a surge confirmed at 2.2 s)
 * and a keyframe lost at 2.19 s. Advances come every 10 ms, so the
 * keyframe warning goes out at 2.19 s, alone: request-keyframe. The surge
 * at 2.2 s is too soon (100 ms interval): it waits for 2.29 s, where its
 * host cause is still unanswered: lower-resolution. An episode that began
 * with a keyframe loss still tells the application to decode less. */
static void
test_keyframe_then_surge (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  GArray *events = new_events ();

  run_ticks (d, 0, 2500, keyframe_in_surge_signals, NULL, events);
  g_assert_cmpuint (events->len, ==, 2);
  assert_warning (event_at (events, 0), 2190, VDM_LEVEL_CRITICAL, VDM_CAUSE_KEYFRAME,
      VDM_ACTION_REQUEST_KEYFRAME);
  g_assert_cmpuint (event_at (events, 1)->action, ==, VDM_ACTION_LOWER_RESOLUTION);
  g_assert_cmpuint (event_at (events, 1)->time_ns, ==, 2290 * MS);
  g_assert_true (event_at (events, 1)->causes & VDM_CAUSE_HOST);
  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

static void
pending_together_signals (vdm_detector *d, uint64_t t, gpointer data)
{
  (void) data;
  if (t >= 2000 && t < 3000)
    vdm_detector_add_drops (d, t * MS, VDM_CAUSE_HOST, 1);
  if (t == 2150)
    vdm_detector_silence (d, t * MS, true);
  if (t == 2210)
    vdm_detector_keyframe_lost (d, t * MS);
}

/* A silence warning at 2.15 s makes the surge confirmed at 2.2 s wait for
 * the rate limit; the keyframe lost at 2.21 s joins it: one warning at
 * 2.25 s for host and keyframe, answering the keyframe. The host cause is
 * still unanswered: lower-resolution follows once the interval allows
 * (2.35 s), while the surge holds. */
static void
test_keyframe_and_surge_together (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  GArray *events = new_events ();

  run_ticks (d, 0, 2500, pending_together_signals, NULL, events);
  g_assert_cmpuint (events->len, ==, 3);
  g_assert_cmpuint (event_at (events, 0)->action, ==, VDM_ACTION_LOWER_BITRATE);
  g_assert_cmpuint (event_at (events, 1)->time_ns, ==, 2250 * MS);
  g_assert_cmpuint (event_at (events, 1)->causes & (VDM_CAUSE_HOST | VDM_CAUSE_KEYFRAME), ==,
      VDM_CAUSE_HOST | VDM_CAUSE_KEYFRAME);
  g_assert_cmpuint (event_at (events, 1)->action, ==, VDM_ACTION_REQUEST_KEYFRAME);
  g_assert_cmpuint (event_at (events, 2)->action, ==, VDM_ACTION_LOWER_RESOLUTION);
  g_assert_cmpuint (event_at (events, 2)->time_ns, ==, 2350 * MS);
  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

static void
host_deficit_signals (vdm_detector *d, uint64_t t, gpointer data)
{
  (void) data;
  if (t == 1240)
    vdm_detector_arrival_deficit (d, 1234 * MS, true, VDM_CAUSE_HOST);
  if (t == 3000)
    vdm_detector_arrival_deficit (d, t * MS, false, VDM_CAUSE_HOST);
}

/* The same state as silence, but the lag waits in our own queue: a host
 * warning, lower-resolution; it clears like silence, at 4.0 s. */
static void
test_host_arrival_deficit (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  GArray *events = new_events ();

  run_ticks (d, 0, 6000, host_deficit_signals, NULL, events);
  g_assert_cmpuint (events->len, ==, 2);
  assert_warning (event_at (events, 0), 1240, VDM_LEVEL_WARNING, VDM_CAUSE_HOST,
      VDM_ACTION_LOWER_RESOLUTION);
  assert_clear (event_at (events, 1), 4000, VDM_CAUSE_HOST, 1240, 0);
  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

static void
rate_limit_signals (vdm_detector *d, uint64_t t, gpointer data)
{
  (void) data;
  if (t == 1010)
    vdm_detector_keyframe_lost (d, 1005 * MS);
  if (t == 1060)
    vdm_detector_device_error (d, t * MS);
}

static void
test_rate_limit (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  GArray *events = new_events ();
  vdm_detector_event buf[4];

  /* Keyframe -> CRITICAL request-keyframe at the 1.010 s advance. The device
   * error 50 ms later is a new cause but too early: latched, and emitted by
   * the first advance at or after 1.010 + 0.100 = 1.110 s (the bin close at
   * 1.1 s is too early). Its action is that of the new cause only. */
  run_ticks (d, 0, 1100, rate_limit_signals, NULL, events);
  g_assert_cmpuint (events->len, ==, 1);
  assert_warning (event_at (events, 0), 1010, VDM_LEVEL_CRITICAL, VDM_CAUSE_KEYFRAME,
      VDM_ACTION_REQUEST_KEYFRAME);
  run_ticks (d, 1110, 1110, NULL, NULL, events);
  g_assert_cmpuint (events->len, ==, 2);
  assert_warning (event_at (events, 1), 1110, VDM_LEVEL_CRITICAL, VDM_CAUSE_DEVICE,
      VDM_ACTION_REINIT_DEVICE);
  g_array_free (events, TRUE);
  vdm_detector_free (d);

  /* Irregular advances: 1.060 (device error, 50 ms), 1.105 (95 ms: still too
   * early), 1.125 -> emitted at 1.125 s, the first advance after the
   * interval. */
  d = vdm_detector_new (NULL);
  vdm_detector_advance (d, 0, buf, 4);
  vdm_detector_keyframe_lost (d, 1010 * MS);
  g_assert_cmpuint (vdm_detector_advance (d, 1010 * MS, buf, 4), ==, 1);
  vdm_detector_device_error (d, 1060 * MS);
  g_assert_cmpuint (vdm_detector_advance (d, 1060 * MS, buf, 4), ==, 0);
  g_assert_cmpuint (vdm_detector_advance (d, 1105 * MS, buf, 4), ==, 0);
  g_assert_cmpuint (vdm_detector_advance (d, 1125 * MS, buf, 4), ==, 1);
  assert_warning (&buf[0], 1125, VDM_LEVEL_CRITICAL, VDM_CAUSE_DEVICE, VDM_ACTION_REINIT_DEVICE);
  vdm_detector_free (d);
}

static void
test_priority (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  vdm_detector_event buf[4];

  /* Several new causes in one warning: keyframe beats device beats host
   * beats network. All go in the causes. */
  vdm_detector_advance (d, 0, buf, 4);
  vdm_detector_silence (d, 10 * MS, true);
  vdm_detector_queue_fill (d, 10 * MS, 0.99);
  vdm_detector_device_error (d, 10 * MS);
  vdm_detector_keyframe_lost (d, 10 * MS);
  g_assert_cmpuint (vdm_detector_advance (d, 20 * MS, buf, 4), ==, 1);
  assert_warning (&buf[0], 20, VDM_LEVEL_CRITICAL,
      VDM_CAUSE_NETWORK | VDM_CAUSE_HOST | VDM_CAUSE_DEVICE | VDM_CAUSE_KEYFRAME,
      VDM_ACTION_REQUEST_KEYFRAME);

  vdm_detector_reset (d);
  vdm_detector_advance (d, 0, buf, 4);
  vdm_detector_silence (d, 10 * MS, true);
  vdm_detector_queue_fill (d, 10 * MS, 0.9);  /* >= threshold */
  g_assert_cmpuint (vdm_detector_advance (d, 20 * MS, buf, 4), ==, 1);
  assert_warning (&buf[0], 20, VDM_LEVEL_CRITICAL, VDM_CAUSE_NETWORK | VDM_CAUSE_HOST,
      VDM_ACTION_LOWER_RESOLUTION);

  /* A new cause of level WARNING (silence) in a CRITICAL episode (keyframe)
   * reads CRITICAL: the episode does not go down before its CLEAR. */
  vdm_detector_reset (d);
  vdm_detector_advance (d, 0, buf, 4);
  vdm_detector_keyframe_lost (d, 10 * MS);
  g_assert_cmpuint (vdm_detector_advance (d, 20 * MS, buf, 4), ==, 1);
  vdm_detector_silence (d, 200 * MS, true);
  g_assert_cmpuint (vdm_detector_advance (d, 200 * MS, buf, 4), ==, 1);
  assert_warning (&buf[0], 200, VDM_LEVEL_CRITICAL, VDM_CAUSE_NETWORK, VDM_ACTION_LOWER_BITRATE);
  vdm_detector_free (d);
}

static void
test_no_burst_while_surging (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  vdm_detector_event buf[4];

  /* Bin 20: 10 drops, trend 2.0 > 0.9 (run 1). Bin 21: 30 drops, but the
   * trend before it is above the threshold: no burst; the trend takes all
   * 30: 6 + 1.6 = 7.6, run 2 -> a plain surge at 2.2 s: host, CRITICAL,
   * lower-resolution (no burst, no circuit-break). */
  vdm_detector_advance (d, 0, buf, 4);
  vdm_detector_add_drops (d, 2000 * MS, VDM_CAUSE_HOST, 10);
  vdm_detector_add_drops (d, 2100 * MS, VDM_CAUSE_HOST, 30);
  g_assert_cmpuint (vdm_detector_advance (d, 2199 * MS, buf, 4), ==, 0);
  g_assert_cmpuint (vdm_detector_advance (d, 2200 * MS, buf, 4), ==, 1);
  assert_warning (&buf[0], 2200, VDM_LEVEL_CRITICAL, VDM_CAUSE_HOST, VDM_ACTION_LOWER_RESOLUTION);
  g_assert_cmpfloat_with_epsilon (buf[0].ewma, 7.6, EPS);

  /* In an episode a big bin is no burst either. Keyframe episode at 1.24 s;
   * 30 network drops in bin 13: trend 0.2 x 30 + 0.8 x 0.2 = 6.16, run 1;
   * bin 14 (empty) 4.928 > 0.9, run 2 -> surge, network is new -> CRITICAL
   * lower-bitrate at 1.5 s. */
  vdm_detector_reset (d);
  vdm_detector_advance (d, 0, buf, 4);
  vdm_detector_add_drops (d, 1234 * MS, VDM_CAUSE_NETWORK, 1);
  vdm_detector_keyframe_lost (d, 1234 * MS);
  g_assert_cmpuint (vdm_detector_advance (d, 1240 * MS, buf, 4), ==, 1);
  vdm_detector_add_drops (d, 1300 * MS, VDM_CAUSE_NETWORK, 30);
  g_assert_cmpuint (vdm_detector_advance (d, 1400 * MS, buf, 4), ==, 0);
  g_assert_cmpuint (vdm_detector_advance (d, 1500 * MS, buf, 4), ==, 1);
  assert_warning (&buf[0], 1500, VDM_LEVEL_CRITICAL, VDM_CAUSE_NETWORK, VDM_ACTION_LOWER_BITRATE);
  vdm_detector_free (d);
}

static void
test_strict_threshold (void)
{
  vdm_detector_config config;
  vdm_detector *d;
  vdm_detector_event buf[4];

  /* alpha 1 makes the EWMA the bin count exactly, factor 1 and floor 2 the
   * threshold exactly 2, k = 1. A bin of 2 drops equals the threshold: no
   * surge ("above" is strict). A bin of 3 is above: WARNING at its close. */
  vdm_detector_config_init (&config);
  config.alpha = 1.0;
  config.factor = 1.0;
  config.min_drops_per_bin = 2.0;
  config.surge_bins = 1;
  d = vdm_detector_new (&config);
  vdm_detector_advance (d, 0, buf, 4);
  vdm_detector_add_drops (d, 0, VDM_CAUSE_HOST, 2);
  g_assert_cmpuint (vdm_detector_advance (d, 100 * MS, buf, 4), ==, 0);
  vdm_detector_add_drops (d, 100 * MS, VDM_CAUSE_HOST, 3);
  g_assert_cmpuint (vdm_detector_advance (d, 200 * MS, buf, 4), ==, 1);
  assert_warning (&buf[0], 200, VDM_LEVEL_WARNING, VDM_CAUSE_HOST, VDM_ACTION_LOWER_RESOLUTION);
  vdm_detector_free (d);
}

static void
test_pending_blocks_clear (void)
{
  vdm_detector_config config;
  vdm_detector *d;
  GArray *events = new_events ();
  vdm_detector_event buf[4];

  /* clear after 1 quiet bin, warnings at most once per second. Keyframe at
   * 50 ms -> WARNING at 50 ms. Device error at 150 ms (bin 1): latched until
   * 1.05 s. Bins 2..9 would be quiet but a latched warning holds the clear
   * back; the advance at 1.05 s emits it; bin 10 [1.0, 1.1) is then quiet
   * -> CLEAR at 1.1 s with both causes. */
  vdm_detector_config_init (&config);
  config.clear_bins = 1;
  config.min_warning_interval_ns = VDM_SECOND;
  d = vdm_detector_new (&config);
  vdm_detector_advance (d, 0, buf, 4);
  vdm_detector_keyframe_lost (d, 50 * MS);
  vdm_detector_advance (d, 50 * MS, buf, 4);
  assert_warning (&buf[0], 50, VDM_LEVEL_CRITICAL, VDM_CAUSE_KEYFRAME, VDM_ACTION_REQUEST_KEYFRAME);
  vdm_detector_device_error (d, 150 * MS);
  run_ticks (d, 150, 2000, NULL, NULL, events);
  g_assert_cmpuint (events->len, ==, 2);
  assert_warning (event_at (events, 0), 1050, VDM_LEVEL_CRITICAL, VDM_CAUSE_DEVICE,
      VDM_ACTION_REINIT_DEVICE);
  assert_clear (event_at (events, 1), 1100, VDM_CAUSE_KEYFRAME | VDM_CAUSE_DEVICE, 50, 0);

  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

/* One drop at the start of every bin. */
static void
one_per_bin_signals (vdm_detector *d, uint64_t t, gpointer data)
{
  (void) data;
  if (t % 100 == 0)
    vdm_detector_add_drops (d, t * MS, VDM_CAUSE_NETWORK, 1);
}

static void
test_set_config_factor (void)
{
  vdm_detector_config config;
  vdm_detector *d;
  GArray *events = new_events ();

  /* One drop per bin from t = 0: the window mean is 1, baseline 1,
   * threshold 1.8; the trend 1 - 0.8^n stays below 1: no warning in 3 s.
   * At 3.0 s (after bin 29 closed) the factor drops to 0.9 -> threshold
   * 0.9. Bin 30 closes at 3.1 s: trend 1 - 0.8^31 = 0.999 > 0.9, run 1; bin
   * 31 at 3.2 s: run 2 -> WARNING at 3.2 s, level WARNING (0.999 <= 4 x 1). */
  vdm_detector_config_init (&config);
  d = vdm_detector_new (&config);
  run_ticks (d, 0, 3000, one_per_bin_signals, NULL, events);
  g_assert_cmpuint (events->len, ==, 0);
  config.factor = 0.9;
  vdm_detector_set_config (d, &config);
  run_ticks (d, 3010, 4000, one_per_bin_signals, NULL, events);
  g_assert_cmpuint (events->len, ==, 1);
  assert_warning (event_at (events, 0), 3200, VDM_LEVEL_WARNING, VDM_CAUSE_NETWORK,
      VDM_ACTION_LOWER_BITRATE);
  g_assert_cmpfloat_with_epsilon (event_at (events, 0)->baseline, 1.0, EPS);

  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

/* 5 drops at the start of every 100 ms from 2.0 s. */
static void
five_per_100ms_signals (vdm_detector *d, uint64_t t, gpointer data)
{
  (void) data;
  if (t >= 2000 && t % 100 == 0)
    vdm_detector_add_drops (d, t * MS, VDM_CAUSE_HOST, 5);
}

static void
test_set_config_bin_size (void)
{
  double ewma_before, ewma_after;
  vdm_detector_config config;
  vdm_detector *d;
  GArray *events = new_events ();

  /* Control, 100 ms bins: 5 drops per bin from 2.0 s, trend 1.0 (run 1),
   * 1.8 (run 2) -> WARNING at 2.2 s (1.8 <= 2.0); next bin 1 + 1.44 = 2.44
   * > 2.0 -> CRITICAL at 2.3 s. */
  d = vdm_detector_new (NULL);
  run_ticks (d, 0, 3000, five_per_100ms_signals, NULL, events);
  g_assert_cmpuint (events->len, ==, 2);
  assert_warning (event_at (events, 0), 2200, VDM_LEVEL_WARNING, VDM_CAUSE_HOST,
      VDM_ACTION_LOWER_RESOLUTION);
  assert_warning (event_at (events, 1), 2300, VDM_LEVEL_CRITICAL, VDM_CAUSE_HOST,
      VDM_ACTION_LOWER_RESOLUTION);
  vdm_detector_free (d);
  g_array_set_size (events, 0);

  /* Bins become 200 ms at 1.0 s: a new grid [1.0, 1.2), [1.2, 1.4), ...
   * with an empty window (baseline floor 0.5). Bin [2.0, 2.2) has 10 drops:
   * trend 2.0 > 0.9, run 1; [2.2, 2.4): 3.6, run 2 -> WARNING at 2.4 s,
   * CRITICAL (3.6 > 2.0), drop rate 10 / 0.2 s = 50/s. */
  vdm_detector_config_init (&config);
  d = vdm_detector_new (&config);
  run_ticks (d, 0, 1000, five_per_100ms_signals, NULL, events);
  config.bin_ns = 200 * MS;
  vdm_detector_set_config (d, &config);
  run_ticks (d, 1010, 3000, five_per_100ms_signals, NULL, events);
  g_assert_cmpuint (events->len, ==, 1);
  assert_warning (event_at (events, 0), 2400, VDM_LEVEL_CRITICAL, VDM_CAUSE_HOST,
      VDM_ACTION_LOWER_RESOLUTION);
  g_assert_cmpfloat_with_epsilon (event_at (events, 0)->drop_rate, 50.0, EPS);

  /* The episode survives another bin size change: still CRITICAL, and no
   * new warning for the same cause. */
  /* Same drops per second: the EWMA (drops per bin) halves with the bin. */
  vdm_detector_snapshot (d, &ewma_before, NULL);
  config.bin_ns = 100 * MS;
  vdm_detector_set_config (d, &config);
  vdm_detector_snapshot (d, &ewma_after, NULL);
  g_assert_cmpfloat_with_epsilon (ewma_after, ewma_before / 2, EPS);
  g_assert_cmpint (vdm_detector_level (d), ==, VDM_LEVEL_CRITICAL);
  run_ticks (d, 3010, 3500, five_per_100ms_signals, NULL, events);
  g_assert_cmpuint (events->len, ==, 1);

  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

static void
test_config_sanitized (void)
{
  vdm_detector_config config;
  vdm_detector *d;
  steady_drops drops = { 2000, 10000, VDM_CAUSE_NETWORK };
  GArray *events = new_events ();

  /* Values that make no sense fall back to the defaults: bin 0 -> 100 ms,
   * alpha 0 -> 0.2, NaN factors -> 1.8 and 4.0. So the step gives the step
   * test's warning: 2.2 s, CRITICAL. */
  vdm_detector_config_init (&config);
  config.bin_ns = 0;
  config.alpha = 0;
  config.factor = NAN;
  config.critical_factor = NAN;
  d = vdm_detector_new (&config);
  run_ticks (d, 0, 3000, steady_signals, &drops, events);
  g_assert_cmpuint (events->len, ==, 1);
  assert_warning (event_at (events, 0), 2200, VDM_LEVEL_CRITICAL, VDM_CAUSE_NETWORK,
      VDM_ACTION_LOWER_BITRATE);
  vdm_detector_free (d);
  g_array_set_size (events, 0);

  /* A shorter window and k = 3 set while running (at 1.0 s): the step now
   * confirms at its third surging bin: trend 2.0, 3.6, 4.88 -> 2.3 s. */
  vdm_detector_config_init (&config);
  d = vdm_detector_new (&config);
  run_ticks (d, 0, 1000, steady_signals, &drops, events);
  config.window_ns = VDM_SECOND;
  config.surge_bins = 3;
  vdm_detector_set_config (d, &config);
  run_ticks (d, 1010, 3000, steady_signals, &drops, events);
  g_assert_cmpuint (events->len, ==, 1);
  assert_warning (event_at (events, 0), 2300, VDM_LEVEL_CRITICAL, VDM_CAUSE_NETWORK,
      VDM_ACTION_LOWER_BITRATE);
  g_assert_cmpfloat_with_epsilon (event_at (events, 0)->ewma, 4.88, EPS);
  vdm_detector_free (d);
  g_array_free (events, TRUE);
}

static void
test_reset (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  steady_drops drops = { 2000, 10000, VDM_CAUSE_NETWORK };
  GArray *events = new_events ();
  double ewma, baseline;

  run_ticks (d, 0, 3000, steady_signals, &drops, events);
  g_assert_cmpuint (events->len, ==, 1);
  vdm_detector_reset (d);
  g_assert_cmpint (vdm_detector_level (d), ==, VDM_LEVEL_NORMAL);
  vdm_detector_snapshot (d, &ewma, &baseline);
  g_assert_cmpfloat (ewma, ==, 0.0);
  g_assert_cmpfloat_with_epsilon (baseline, 0.5, EPS);

  /* Back to the start: the clock restarts at the next call (t = 0 again,
   * earlier than before) and the step gives its warning at 2.2 s again. */
  g_array_set_size (events, 0);
  run_ticks (d, 0, 3000, steady_signals, &drops, events);
  g_assert_cmpuint (events->len, ==, 1);
  assert_warning (event_at (events, 0), 2200, VDM_LEVEL_CRITICAL, VDM_CAUSE_NETWORK,
      VDM_ACTION_LOWER_BITRATE);

  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

static void
test_big_time_jump (void)
{
  /* A million hours: 3.6e10 bins, which would never finish one by one. */
  const uint64_t jump_ms = UINT64_C (1000000) * 3600 * 1000;
  vdm_detector *d = vdm_detector_new (NULL);
  GArray *events = new_events ();
  vdm_detector_event buf[4];
  double ewma, baseline;
  uint64_t j;

  /* A keyframe episode at 1.24 s (as in test_keyframe_loss), then one
   * advance a million hours later. The clear is decided among the bins
   * closed one by one: CLEAR at 2.3 s, not at the end of the jump. */
  run_ticks (d, 0, 1230, keyframe_signals, NULL, events);
  run_ticks (d, 1240, 1240, keyframe_signals, NULL, events);
  g_assert_cmpuint (events->len, ==, 1);
  j = 1240 + jump_ms;
  g_assert_cmpuint (vdm_detector_advance (d, j * MS, buf, 4), ==, 1);
  assert_clear (&buf[0], 2300, VDM_CAUSE_KEYFRAME, 1240, 1);
  vdm_detector_snapshot (d, &ewma, &baseline);
  g_assert_cmpfloat (ewma, <, 1e-9);
  g_assert_cmpfloat_with_epsilon (baseline, 0.5, EPS);

  /* The grid is kept: bins still start at multiples of 100 ms, so the open
   * bin is [j - 40 ms, j + 60 ms). 10 drops in it and in the next bin:
   * trend 2.0 then 3.6 -> WARNING at the close of the second, j + 160 ms. */
  vdm_detector_add_drops (d, j * MS, VDM_CAUSE_NETWORK, 10);
  g_assert_cmpuint (vdm_detector_advance (d, (j + 60) * MS, buf, 4), ==, 0);
  vdm_detector_add_drops (d, (j + 60) * MS, VDM_CAUSE_NETWORK, 10);
  g_assert_cmpuint (vdm_detector_advance (d, (j + 159) * MS, buf, 4), ==, 0);
  g_assert_cmpuint (vdm_detector_advance (d, (j + 160) * MS, buf, 4), ==, 1);
  assert_warning (&buf[0], j + 160, VDM_LEVEL_CRITICAL, VDM_CAUSE_NETWORK,
      VDM_ACTION_LOWER_BITRATE);

  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

static void
test_time_backwards (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  GArray *events = new_events ();
  vdm_detector_event buf[4];

  /* Clean up to 2.05 s. Drops stamped 1.0 s arrive late: they count in the
   * open bin [2.0, 2.1). An advance to 1.5 s (backwards) or to "none" means
   * "2.05 s": nothing closes. The step then proceeds as in test_step: 10
   * drops in bins 20 and 21 -> WARNING at 2.2 s. */
  run_ticks (d, 0, 2050, NULL, NULL, events);
  vdm_detector_add_drops (d, 1000 * MS, VDM_CAUSE_NETWORK, 10);
  g_assert_cmpuint (vdm_detector_advance (d, 1500 * MS, buf, 4), ==, 0);
  g_assert_cmpuint (vdm_detector_advance (d, VDM_TIME_NONE, buf, 4), ==, 0);
  vdm_detector_add_drops (d, 2100 * MS, VDM_CAUSE_NETWORK, 10);
  g_assert_cmpuint (vdm_detector_advance (d, 2000 * MS, buf, 4), ==, 0);
  g_assert_cmpuint (vdm_detector_advance (d, 2199 * MS, buf, 4), ==, 0);
  g_assert_cmpuint (vdm_detector_advance (d, 2200 * MS, buf, 4), ==, 1);
  assert_warning (&buf[0], 2200, VDM_LEVEL_CRITICAL, VDM_CAUSE_NETWORK,
      VDM_ACTION_LOWER_BITRATE);

  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

static void
test_signal_closes_bins (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  vdm_detector_event buf[4];

  /* Without an advance in between, drops stamped 2.05 s and 2.15 s still
   * land in bins 20 and 21; the warning decided at the close of bin 21
   * (2.2 s) waits for the next advance and keeps its time. */
  vdm_detector_advance (d, 0, buf, 4);
  vdm_detector_add_drops (d, 2050 * MS, VDM_CAUSE_HOST, 10);
  vdm_detector_add_drops (d, 2150 * MS, VDM_CAUSE_HOST, 10);
  vdm_detector_add_drops (d, 2250 * MS, VDM_CAUSE_HOST, 0);
  g_assert_cmpuint (vdm_detector_advance (d, 2250 * MS, buf, 4), ==, 1);
  assert_warning (&buf[0], 2200, VDM_LEVEL_CRITICAL, VDM_CAUSE_HOST,
      VDM_ACTION_LOWER_RESOLUTION);
  vdm_detector_free (d);
}

static void
test_huge_counts (void)
{
  vdm_detector *d = vdm_detector_new (NULL);
  GArray *events = new_events ();
  vdm_detector_event buf[4];

  /* 3 x (2^32 - 1) drops in bin 0 (no cause bits -> network): a burst at
   * 0.1 s; then quiet, CLEAR at 1.1 s with the exact 64-bit sum. */
  vdm_detector_advance (d, 0, buf, 4);
  for (int i = 0; i < 3; i++)
    vdm_detector_add_drops (d, 50 * MS, 0, UINT32_MAX);
  run_ticks (d, 50, 2000, NULL, NULL, events);
  g_assert_cmpuint (events->len, ==, 2);
  assert_warning (event_at (events, 0), 100, VDM_LEVEL_WARNING,
      VDM_CAUSE_BURST | VDM_CAUSE_NETWORK, VDM_ACTION_CIRCUIT_BREAK);
  assert_clear (event_at (events, 1), 1100, VDM_CAUSE_BURST | VDM_CAUSE_NETWORK, 100,
      UINT64_C (3) * UINT32_MAX);

  g_array_free (events, TRUE);
  vdm_detector_free (d);
}

static void
test_names (void)
{
  char buf[64], small[8];

  g_assert_cmpstr (vdm_action_name (VDM_ACTION_NONE), ==, "none");
  g_assert_cmpstr (vdm_action_name (VDM_ACTION_LOWER_RESOLUTION), ==, "lower-resolution");
  g_assert_cmpstr (vdm_action_name (VDM_ACTION_LOWER_BITRATE), ==, "lower-bitrate");
  g_assert_cmpstr (vdm_action_name (VDM_ACTION_REQUEST_KEYFRAME), ==, "request-keyframe");
  g_assert_cmpstr (vdm_action_name (VDM_ACTION_REINIT_DEVICE), ==, "reinit-device");
  g_assert_cmpstr (vdm_action_name (VDM_ACTION_CIRCUIT_BREAK), ==, "circuit-break");
  g_assert_cmpstr (vdm_level_name (VDM_LEVEL_NORMAL), ==, "normal");
  g_assert_cmpstr (vdm_level_name (VDM_LEVEL_WARNING), ==, "warning");
  g_assert_cmpstr (vdm_level_name (VDM_LEVEL_CRITICAL), ==, "critical");

  g_assert_cmpstr (vdm_causes_format (0, buf, sizeof buf), ==, "");
  g_assert_cmpstr (vdm_causes_format (VDM_CAUSE_HOST | VDM_CAUSE_KEYFRAME, buf, sizeof buf), ==,
      "host,keyframe");
  g_assert_cmpstr (vdm_causes_format (0x1f | 0x100, buf, sizeof buf), ==,
      "host,network,keyframe,device,burst");
  g_assert_cmpstr (vdm_causes_format (VDM_CAUSE_HOST | VDM_CAUSE_NETWORK, small, sizeof small), ==,
      "host,ne");
}

static void
test_cause_of_reason (void)
{
  const char *host[] = { "SOCKET_RCVBUFF", "PROTO_MEM", "SOCKET_BACKLOG", "CPU_BACKLOG",
    "TCP_ZEROWINDOW", "TCP_OFO_QUEUE_PRUNE", "NOMEM", "FULL_RING", "SKB_DROP_REASON_PROTO_MEM" };
  const char *network[] = { "QDISC_DROP", "QDISC_OVERLIMIT", "QDISC_CONGESTED", "NETFILTER_DROP",
    "TCP_OFO_DROP", "IP_INHDR", "IP_RPFILTER", "IP_INNOROUTES", "RTP_SEQ_GAP", "NOT_SPECIFIED",
    "UNKNOWN", "SOME_FUTURE_REASON" };

  for (guint i = 0; i < G_N_ELEMENTS (host); i++)
    g_assert_cmpint (vdm_cause_of_reason (host[i]), ==, VDM_CAUSE_HOST);
  for (guint i = 0; i < G_N_ELEMENTS (network); i++)
    g_assert_cmpint (vdm_cause_of_reason (network[i]), ==, VDM_CAUSE_NETWORK);
  g_assert_cmpint (vdm_cause_of_reason (NULL), ==, 0);
  g_assert_cmpint (vdm_cause_of_reason (""), ==, 0);
  g_assert_cmpint (vdm_cause_of_reason ("NOT_DROPPED_YET"), ==, 0);
  g_assert_cmpint (vdm_cause_of_reason ("CONSUMED"), ==, 0);
  /* by its name alone, a TCP duplicate is the network's (the stream
   * monitor makes it the host's while the reader is starved) */
  g_assert_cmpint (vdm_cause_of_reason ("TCP_OLD_DATA"), ==, VDM_CAUSE_NETWORK);
  g_assert_true (vdm_reason_is_tcp_old_data ("TCP_OLD_DATA"));
  g_assert_true (vdm_reason_is_tcp_old_data ("SKB_DROP_REASON_TCP_OLD_DATA"));
  g_assert_false (vdm_reason_is_tcp_old_data ("TCP_OFOMERGE"));
  g_assert_false (vdm_reason_is_tcp_old_data (NULL));
  g_assert_false (vdm_reason_is_tcp_old_data (""));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/detector/step", test_step);
  g_test_add_func ("/detector/host-arrival-deficit", test_host_arrival_deficit);
  g_test_add_func ("/detector/keyframe-then-surge", test_keyframe_then_surge);
  g_test_add_func ("/detector/keyframe-and-surge-together", test_keyframe_and_surge_together);
  g_test_add_func ("/detector/ramp", test_ramp);
  g_test_add_func ("/detector/burst", test_burst);
  g_test_add_func ("/detector/burst-then-surge", test_burst_then_surge);
  g_test_add_func ("/detector/clear-timing", test_clear_timing);
  g_test_add_func ("/detector/clean-noise", test_clean_noise);
  g_test_add_func ("/detector/keyframe-loss", test_keyframe_loss);
  g_test_add_func ("/detector/queue-filling", test_queue_filling);
  g_test_add_func ("/detector/queue-fill", test_queue_fill);
  g_test_add_func ("/detector/silence", test_silence);
  g_test_add_func ("/detector/rate-limit", test_rate_limit);
  g_test_add_func ("/detector/priority", test_priority);
  g_test_add_func ("/detector/no-burst-while-surging", test_no_burst_while_surging);
  g_test_add_func ("/detector/strict-threshold", test_strict_threshold);
  g_test_add_func ("/detector/pending-blocks-clear", test_pending_blocks_clear);
  g_test_add_func ("/detector/set-config-factor", test_set_config_factor);
  g_test_add_func ("/detector/set-config-bin-size", test_set_config_bin_size);
  g_test_add_func ("/detector/config-sanitized", test_config_sanitized);
  g_test_add_func ("/detector/reset", test_reset);
  g_test_add_func ("/detector/big-time-jump", test_big_time_jump);
  g_test_add_func ("/detector/time-backwards", test_time_backwards);
  g_test_add_func ("/detector/signal-closes-bins", test_signal_closes_bins);
  g_test_add_func ("/detector/huge-counts", test_huge_counts);
  g_test_add_func ("/detector/names", test_names);
  g_test_add_func ("/detector/episode-renewed-deficit", test_episode_renewed_deficit);
  g_test_add_func ("/detector/episode-flapping-not-renewed", test_episode_flapping_not_renewed);
  g_test_add_func ("/detector/episode-renewed-long-deficit", test_episode_renewed_long_deficit);
  g_test_add_func ("/detector/episode-new-cause", test_episode_new_cause);
  g_test_add_func ("/detector/cause-of-reason", test_cause_of_reason);
  return g_test_run ();
}
