/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * detector.c — the surge detector of detector.h.
 *
 * Details the model leaves open, decided here (tests/core/test_detector.c
 * pins each one down with exact times):
 *
 * Time and bins
 * - The bin grid starts at the time of the first call (signal or advance)
 *   after new/reset: bin i is [start + i*bin, start + (i+1)*bin).
 * - A time earlier than the latest seen, and VDM_TIME_NONE, mean "the latest
 *   time seen". So a late drop lands in the open bin.
 * - A signal whose time lies past the open bin closes the bins in between,
 *   exactly as advance() would have, so that the drop lands in the bin that
 *   contains its time. Events decided by those closes wait in a queue and are
 *   returned by the next advance(), with their own (bin end) times.
 * - A huge gap closes at most window + clear_bins + surge_bins bins one by
 *   one (enough for the window to fill with empty bins and for an episode to
 *   clear); the remaining bins are all empty and are skipped in one step:
 *   both EWMAs decay by (1-alpha)^n and the grid stays aligned.
 *
 * Baseline, surge, burst
 * - A bin is judged against factor x the baseline of the bins closed before
 *   it; it joins the window after being judged.
 * - Bins of a surge run that has not reached surge_bins yet are held back:
 *   they join the window if the run breaks, they belong to the episode (and
 *   its drop count) if it confirms. Bins closed during an episode never join.
 * - Decisions (surge, level, clear) use a second EWMA, the "trend", which is
 *   the EWMA with a burst bin counted as the baseline instead of its drops.
 *   Without this, one bin of >= 20 drops keeps the plain EWMA above the
 *   threshold for ~8 bins, so every burst would "confirm" as a surge 100 ms
 *   later (and clear ~1.8 s later) even when nothing follows it, contradicting
 *   "a transient burst: one bin, then quiet". With it, a lone burst gets
 *   circuit-break and clears after clear_bins; drops that go on after it
 *   confirm a surge within surge_bins bins. Events and snapshot report the
 *   plain EWMA. Without bursts the two are identical.
 * - "Under the threshold" (burst, clear) means trend <= threshold, the exact
 *   complement of the surge test trend > threshold.
 * - A burst bin needs at least one drop (so burst_drops <= 0 cannot turn every
 *   bin into a burst), is a trigger bin (never quiet), and marks only BURST as
 *   reported: its drop causes are shown in the event but stay "new", so a
 *   surge that confirms afterwards warns again with the regular action.
 * - Drop causes are HOST/NETWORK bits; other or no bits count as NETWORK. A
 *   surge run whose bins carry no drops (possible after a lowered factor)
 *   takes the causes of the last bin that had drops.
 *
 * Warnings, rate limit, clear
 * - Immediate triggers (keyframe, device, queue fill, silence) are latched by
 *   the signal and decided by the next advance(), at its time. Bin-based
 *   warnings and clears carry the end time of their bin.
 * - New in an episode = a cause bit not yet reported in it, or a level above
 *   the episode's level. The first warning of an episode is never delayed.
 * - A new warning that comes too early (< min_warning_interval after the
 *   previous one) is latched, merged with anything newer, and emitted at the
 *   first decision point (a bin close or an advance) at or after the end of
 *   the interval, whether or not its condition still holds: the application
 *   has not heard of that trouble yet. While one is latched the episode does
 *   not clear.
 * - A warning's causes are all causes behind it (also ones already reported);
 *   its action is the highest-priority one among the new causes
 *   (KEYFRAME > DEVICE > BURST > HOST > NETWORK), among all its causes when
 *   only the level rose. Its level is never below the level the episode
 *   already reached, so a later warning never reads as a downgrade.
 * - A renewal makes the deficit's cause fresh again, so its action is
 *   repeated: a deficit that starts again >= renew_after after the last one
 *   ended (and after the episode's last warning), or
 *   vdm_detector_deficit_renewed >= renew_after after the episode's last
 *   warning while the deficit goes on (the caller saw the predicted freeze
 *   come and predicts another). A renewal call that comes too early is
 *   forgotten, not latched: the caller says it again at its next round.
 * - Level: CRITICAL for keyframe, queue fill and device triggers or when
 *   trend > critical_factor x baseline; else WARNING.
 * - A quiet bin (for clear): trend <= threshold, no trigger signal in it
 *   (keyframe, device, fill >= threshold, silence(true), burst), not silent
 *   when it closes, last valid queue fill < threshold, no latched warning.
 * - An episode starts at its first warning's time; episode_drops counts the
 *   drops of every bin closed during the episode (the whole bin in which it
 *   started, the quiet bins) plus the held bins of the surge that started it.
 *   WARNING events leave episode_start_ns/episode_drops at 0.
 * - vdm_detector_level() is the level the episode has reported (NORMAL
 *   outside an episode).
 *
 * Robustness and configuration
 * - NaN or negative queue fill is ignored entirely (neither stored nor moves
 *   time). A fill above 1 is accepted as is.
 * - Counts add saturating in uint64; a window entry is capped at 2^40 so that
 *   the window sum (at most 2^16 entries) cannot overflow.
 * - set_config sanitizes: bin_ns 0 -> 100 ms; window < bin -> one bin; more
 *   than 65536 window bins -> 65536; alpha outside (0, 1] -> 0.2; surge_bins
 *   and clear_bins 0 -> 1, surge_bins at most 4096; NaN factors/thresholds ->
 *   the defaults; negative floor -> 0. A new bin size starts a new grid at the
 *   latest time seen (the open bin's signals carried into its first bin),
 *   empties the window and the surge run, rescales both EWMAs by new/old bin
 *   size (same drops per second), keeps the episode and restarts its quiet
 *   count. A new window size keeps the most recent bins; a new surge_bins
 *   flushes the held bins into the window and restarts the run. If memory for
 *   the new sizes cannot be had, the old configuration stays entirely.
 * - Undrained events: at most 64 wait in the queue; beyond that the oldest
 *   is dropped (calling advance() once per bin never gets near that).
 */
#include "detector.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EVENT_QUEUE_CAPACITY 64
#define MAX_WINDOW_BINS 65536u
#define MAX_SURGE_BINS 4096u
#define WINDOW_ENTRY_CAP (UINT64_C (1) << 40)
#define DROP_CAUSES (VDM_CAUSE_HOST | VDM_CAUSE_NETWORK)
#define ALL_CAUSES (VDM_CAUSE_HOST | VDM_CAUSE_NETWORK | VDM_CAUSE_KEYFRAME | VDM_CAUSE_DEVICE \
    | VDM_CAUSE_BURST)

/* A warning decided but not yet emitted (rate limit). */
typedef struct {
  bool active;
  uint32_t fresh;   /* cause bits new to the episode */
  uint32_t causes;  /* every cause behind it */
  vdm_level level;
} pending_warning;

struct vdm_detector {
  vdm_detector_config config;   /* sanitized */
  unsigned window_bins;

  bool started;
  uint64_t latest_ns;
  uint64_t bin_start_ns;        /* of the open bin */

  /* The open bin. */
  uint64_t bin_count;
  uint32_t bin_causes;
  bool bin_trigger;

  /* State after the last closed bin. */
  double ewma;                  /* reported */
  double trend;                 /* decided on: bursts counted as the baseline */
  double last_rate;             /* drops per second */
  uint32_t last_drop_causes;

  /* Baseline window: a ring of the most recent non-episode bin counts. */
  uint64_t *window;
  unsigned window_head;
  unsigned window_len;
  uint64_t window_sum;

  /* The current run of bins with trend > threshold. */
  unsigned surge_run;
  uint32_t surge_causes;
  uint64_t *held;               /* its bins closed outside an episode, capacity surge_bins */
  unsigned held_len;

  /* Immediate triggers, latched until the next advance. */
  uint32_t trigger_causes;
  vdm_level trigger_level;
  bool silent;
  bool trigger_renewed;         /* the latched deficit is a renewed one */
  uint64_t deficit_over_ns;     /* when the last deficit ended (silent went false) */
  double last_fill;             /* -1: none seen */

  /* The warning episode. */
  bool in_episode;
  uint64_t episode_start_ns;
  uint64_t episode_drops;
  uint32_t episode_reported;    /* causes a warning's action has answered */
  uint32_t episode_causes;      /* causes shown in any of its warnings */
  vdm_level episode_level;
  uint64_t last_warning_ns;
  unsigned quiet_run;
  pending_warning pending;

  vdm_detector_event queue[EVENT_QUEUE_CAPACITY];
  unsigned queue_head;
  unsigned queue_len;
};

/* ---- configuration ---- */

void
vdm_detector_config_init (vdm_detector_config *config)
{
  *config = (vdm_detector_config) {
    .bin_ns = 100 * VDM_MSECOND,
    .window_ns = 5 * VDM_SECOND,
    .alpha = 0.2,
    .factor = 1.8,
    .surge_bins = 2,
    .min_drops_per_bin = 0.5,
    .queue_fill_threshold = 0.9,
    .queue_fill_warning = 0.5,
    .clear_bins = 10,
    .min_warning_interval_ns = 100 * VDM_MSECOND,
    .critical_factor = 4.0,
    .burst_drops = 20,
    .renew_after_ns = 500 * VDM_MSECOND,
  };
}

static double
number_or (double value, double fallback)
{
  return isnan (value) ? fallback : value;
}

static vdm_detector_config
sanitized (const vdm_detector_config *in)
{
  vdm_detector_config defaults, out;

  vdm_detector_config_init (&defaults);
  if (in == NULL)
    return defaults;
  out = *in;
  if (out.bin_ns == 0)
    out.bin_ns = defaults.bin_ns;
  if (!(out.alpha > 0 && out.alpha <= 1))
    out.alpha = defaults.alpha;
  out.factor = number_or (out.factor, defaults.factor);
  if (out.surge_bins == 0)
    out.surge_bins = 1;
  if (out.surge_bins > MAX_SURGE_BINS)
    out.surge_bins = MAX_SURGE_BINS;
  out.min_drops_per_bin = number_or (out.min_drops_per_bin, defaults.min_drops_per_bin);
  if (out.min_drops_per_bin < 0)
    out.min_drops_per_bin = 0;
  out.queue_fill_threshold = number_or (out.queue_fill_threshold, defaults.queue_fill_threshold);
  out.queue_fill_warning = number_or (out.queue_fill_warning, defaults.queue_fill_warning);
  if (out.clear_bins == 0)
    out.clear_bins = 1;
  out.critical_factor = number_or (out.critical_factor, defaults.critical_factor);
  out.burst_drops = number_or (out.burst_drops, defaults.burst_drops);
  return out;
}

static unsigned
window_bins_of (const vdm_detector_config *config)
{
  uint64_t bins = config->window_ns / config->bin_ns;

  if (bins == 0)
    return 1;
  return bins > MAX_WINDOW_BINS ? MAX_WINDOW_BINS : (unsigned) bins;
}

/* ---- small helpers ---- */

static uint64_t
saturating_add (uint64_t a, uint64_t b)
{
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static vdm_level
max_level (vdm_level a, vdm_level b)
{
  return a > b ? a : b;
}

static uint32_t
drop_cause_bits (uint32_t cause)
{
  uint32_t bits = cause & DROP_CAUSES;
  return bits ? bits : VDM_CAUSE_NETWORK;
}

/* What to do first about these causes, by priority. */
static vdm_action
action_for (uint32_t causes)
{
  if (causes & VDM_CAUSE_KEYFRAME)
    return VDM_ACTION_REQUEST_KEYFRAME;
  if (causes & VDM_CAUSE_DEVICE)
    return VDM_ACTION_REINIT_DEVICE;
  if (causes & VDM_CAUSE_BURST)
    return VDM_ACTION_CIRCUIT_BREAK;
  if (causes & VDM_CAUSE_HOST)
    return VDM_ACTION_LOWER_RESOLUTION;
  if (causes & VDM_CAUSE_NETWORK)
    return VDM_ACTION_LOWER_BITRATE;
  return VDM_ACTION_NONE;
}

/* The cause an action answers: once a warning carried that action, the
 * cause counts as reported. Causes behind a warning whose action answered
 * something else stay new, so their own action follows in a later warning
 * (a lost keyframe first, then lower-resolution for the host trouble). */
static uint32_t
cause_answered_by (vdm_action action)
{
  switch (action) {
    case VDM_ACTION_REQUEST_KEYFRAME:
      return VDM_CAUSE_KEYFRAME;
    case VDM_ACTION_REINIT_DEVICE:
      return VDM_CAUSE_DEVICE;
    case VDM_ACTION_CIRCUIT_BREAK:
      return VDM_CAUSE_BURST;
    case VDM_ACTION_LOWER_RESOLUTION:
      return VDM_CAUSE_HOST;
    case VDM_ACTION_LOWER_BITRATE:
      return VDM_CAUSE_NETWORK;
    default:
      return 0;
  }
}

/* ---- baseline window ---- */

static void
window_push (vdm_detector *d, uint64_t count)
{
  uint64_t entry = count < WINDOW_ENTRY_CAP ? count : WINDOW_ENTRY_CAP;

  if (d->window_len < d->window_bins) {
    d->window[(d->window_head + d->window_len) % d->window_bins] = entry;
    d->window_len++;
  } else {
    d->window_sum -= d->window[d->window_head];
    d->window[d->window_head] = entry;
    d->window_head = (d->window_head + 1) % d->window_bins;
  }
  d->window_sum += entry;
}

static void
window_clear (vdm_detector *d)
{
  d->window_head = 0;
  d->window_len = 0;
  d->window_sum = 0;
}

static double
current_baseline (const vdm_detector *d)
{
  double mean;

  if (d->window_len == 0)
    return d->config.min_drops_per_bin;
  mean = (double) d->window_sum / (double) d->window_len;
  return mean > d->config.min_drops_per_bin ? mean : d->config.min_drops_per_bin;
}

/* CRITICAL when the trend is far above the baseline, else at_least. */
static vdm_level
level_for (const vdm_detector *d, vdm_level at_least)
{
  if (d->trend > d->config.critical_factor * current_baseline (d))
    return VDM_LEVEL_CRITICAL;
  return at_least;
}

/* ---- surge run ---- */

static void
hold_bin (vdm_detector *d, uint64_t count)
{
  if (d->held_len < d->config.surge_bins)
    d->held[d->held_len++] = count;
  else
    window_push (d, count);     /* cannot happen: the run would have confirmed */
}

/* A run that broke before confirming was no surge: its bins are baseline. */
static void
end_surge_run (vdm_detector *d)
{
  for (unsigned i = 0; i < d->held_len; i++)
    window_push (d, d->held[i]);
  d->held_len = 0;
  d->surge_run = 0;
  d->surge_causes = 0;
}

/* ---- events ---- */

static vdm_detector_event *
queue_push (vdm_detector *d, vdm_detector_event_type type, uint64_t time_ns)
{
  vdm_detector_event *event;

  if (d->queue_len == EVENT_QUEUE_CAPACITY) {
    d->queue_head = (d->queue_head + 1) % EVENT_QUEUE_CAPACITY;
    d->queue_len--;
  }
  event = &d->queue[(d->queue_head + d->queue_len) % EVENT_QUEUE_CAPACITY];
  d->queue_len++;
  *event = (vdm_detector_event) {
    .type = type,
    .time_ns = time_ns,
    .drop_rate = d->last_rate,
    .ewma = d->ewma,
    .baseline = current_baseline (d),
  };
  return event;
}

static void
begin_episode (vdm_detector *d, uint64_t time_ns)
{
  d->in_episode = true;
  d->episode_start_ns = time_ns;
  d->episode_drops = 0;
  d->episode_reported = 0;
  d->episode_causes = 0;
  d->episode_level = VDM_LEVEL_NORMAL;
  d->quiet_run = 0;
}

static void
end_episode (vdm_detector *d)
{
  d->in_episode = false;
  d->episode_reported = 0;
  d->episode_causes = 0;
  d->episode_level = VDM_LEVEL_NORMAL;
  d->quiet_run = 0;
}

/* A condition with causes `causes` (of which `context` only for display)
 * and level `level`; becomes a pending warning if it is new. */
static void
offer (vdm_detector *d, uint32_t causes, uint32_t context, vdm_level level, uint32_t renewed)
{
  uint32_t fresh = d->in_episode ? (causes & ~d->episode_reported) | (causes & renewed) : causes;

  if (d->in_episode && fresh == 0 && level <= d->episode_level)
    return;
  d->pending.active = true;
  d->pending.fresh |= fresh;
  d->pending.causes |= causes | context;
  d->pending.level = max_level (d->pending.level, level);
}

static bool
too_soon (const vdm_detector *d, uint64_t time_ns)
{
  return d->in_episode && (time_ns < d->last_warning_ns
      || time_ns - d->last_warning_ns < d->config.min_warning_interval_ns);
}

/* Emits the pending warning if the rate limit allows it at time_ns. */
static void
try_emit (vdm_detector *d, uint64_t time_ns)
{
  vdm_detector_event *event;

  if (!d->pending.active || too_soon (d, time_ns))
    return;
  if (!d->in_episode)
    begin_episode (d, time_ns);
  event = queue_push (d, VDM_DETECTOR_WARNING, time_ns);
  event->level = max_level (d->pending.level, d->episode_level);
  event->causes = d->pending.causes;
  event->action = action_for (d->pending.fresh ? d->pending.fresh : d->pending.causes);
  d->episode_reported |= cause_answered_by (event->action);
  d->episode_causes |= d->pending.causes;
  d->episode_level = event->level;
  d->last_warning_ns = time_ns;
  d->pending = (pending_warning) { 0 };
}

static void
emit_clear (vdm_detector *d, uint64_t time_ns)
{
  vdm_detector_event *event = queue_push (d, VDM_DETECTOR_CLEAR, time_ns);

  event->level = VDM_LEVEL_NORMAL;
  event->causes = d->episode_causes;
  event->action = VDM_ACTION_NONE;
  event->episode_start_ns = d->episode_start_ns;
  event->episode_drops = d->episode_drops;
  end_episode (d);
}

/* ---- bins ---- */

/* Where a closed bin's count goes: the episode, the held run, or the window. */
static void
file_bin (vdm_detector *d, uint64_t count, bool surging)
{
  if (d->in_episode) {
    d->episode_drops = saturating_add (d->episode_drops, count);
    if (surging && d->surge_run >= d->config.surge_bins) {
      for (unsigned i = 0; i < d->held_len; i++)
        d->episode_drops = saturating_add (d->episode_drops, d->held[i]);
      d->held_len = 0;
    }
  } else if (surging) {
    hold_bin (d, count);
  } else {
    window_push (d, count);
  }
}

static bool
bin_is_quiet (const vdm_detector *d, bool surging, bool burst)
{
  return !surging && !burst && !d->bin_trigger && !d->silent
      && !(d->last_fill >= d->config.queue_fill_threshold) && !d->pending.active;
}

static void
close_bin (vdm_detector *d)
{
  const vdm_detector_config *c = &d->config;
  uint64_t end_ns = d->bin_start_ns + c->bin_ns;
  uint64_t count = d->bin_count;
  uint32_t causes = d->bin_causes;
  double baseline = current_baseline (d);
  double threshold = c->factor * baseline;
  bool burst = !d->in_episode && count > 0 && (double) count >= c->burst_drops
      && d->trend <= threshold;
  bool surging;

  d->ewma = c->alpha * (double) count + (1 - c->alpha) * d->ewma;
  d->trend = c->alpha * (burst ? baseline : (double) count) + (1 - c->alpha) * d->trend;
  d->last_rate = (double) count * (double) VDM_SECOND / (double) c->bin_ns;
  if (causes)
    d->last_drop_causes = causes;

  surging = d->trend > threshold;
  if (surging) {
    if (d->surge_run < UINT_MAX)
      d->surge_run++;
    d->surge_causes |= causes ? causes : drop_cause_bits (d->last_drop_causes);
  } else {
    end_surge_run (d);
  }

  if (burst)
    offer (d, VDM_CAUSE_BURST, causes, level_for (d, VDM_LEVEL_WARNING), 0);
  if (d->surge_run >= c->surge_bins)
    offer (d, d->surge_causes, 0, level_for (d, VDM_LEVEL_WARNING), 0);
  try_emit (d, end_ns);

  file_bin (d, count, surging);
  if (d->in_episode) {
    d->quiet_run = bin_is_quiet (d, surging, burst) ? d->quiet_run + 1 : 0;
    if (d->quiet_run >= c->clear_bins)
      emit_clear (d, end_ns);
  }

  d->bin_start_ns = end_ns;
  d->bin_count = 0;
  d->bin_causes = 0;
  d->bin_trigger = false;
}

/* base^n by squaring: keeps this file free of libm (isnan is a macro). */
static double
power (double base, uint64_t n)
{
  double result = 1;

  for (; n > 0 && result != 0; n >>= 1, base *= base)
    if (n & 1)
      result *= base;
  return result;
}

/* Bins that would all be empty and change nothing but the EWMAs. */
static void
skip_empty_bins (vdm_detector *d, uint64_t n)
{
  double decay = power (1 - d->config.alpha, n);

  d->ewma *= decay;
  d->trend *= decay;
  d->last_rate = 0;
  d->bin_start_ns += n * d->config.bin_ns;
}

/* Closes every bin that ended at or before now_ns. */
static void
roll (vdm_detector *d, uint64_t now_ns)
{
  uint64_t due = (now_ns - d->bin_start_ns) / d->config.bin_ns;
  uint64_t one_by_one = (uint64_t) d->window_bins + d->config.clear_bins + d->config.surge_bins;

  if (one_by_one > due)
    one_by_one = due;
  for (uint64_t i = 0; i < one_by_one; i++)
    close_bin (d);
  if (due > one_by_one)
    skip_empty_bins (d, due - one_by_one);
}

/* Brings the detector to time_ns (or to the latest time seen, if earlier). */
static void
observe_time (vdm_detector *d, uint64_t time_ns)
{
  if (!d->started) {
    d->started = true;
    d->latest_ns = time_ns == VDM_TIME_NONE ? 0 : time_ns;
    d->bin_start_ns = d->latest_ns;
    return;
  }
  if (time_ns != VDM_TIME_NONE && time_ns > d->latest_ns)
    d->latest_ns = time_ns;
  roll (d, d->latest_ns);
}

/* ---- lifecycle ---- */

static void
reset_state (vdm_detector *d)
{
  uint64_t *window = d->window, *held = d->held;
  vdm_detector_config config = d->config;
  unsigned window_bins = d->window_bins;

  memset (d, 0, sizeof (*d));
  d->config = config;
  d->window_bins = window_bins;
  d->window = window;
  d->held = held;
  d->last_fill = -1;
}

vdm_detector *
vdm_detector_new (const vdm_detector_config *config)
{
  vdm_detector *d = calloc (1, sizeof (*d));

  if (d == NULL)
    return NULL;
  d->config = sanitized (config);
  d->window_bins = window_bins_of (&d->config);
  d->window = calloc (d->window_bins, sizeof (uint64_t));
  d->held = calloc (d->config.surge_bins, sizeof (uint64_t));
  if (d->window == NULL || d->held == NULL) {
    vdm_detector_free (d);
    return NULL;
  }
  reset_state (d);
  return d;
}

void
vdm_detector_free (vdm_detector *detector)
{
  if (detector == NULL)
    return;
  free (detector->window);
  free (detector->held);
  free (detector);
}

void
vdm_detector_reset (vdm_detector *detector)
{
  if (detector != NULL)
    reset_state (detector);
}

/* Copies the most recent bins of the window into a ring of new_bins. */
static void
window_resize (vdm_detector *d, uint64_t *ring, unsigned new_bins)
{
  unsigned keep = d->window_len < new_bins ? d->window_len : new_bins;
  uint64_t sum = 0;

  for (unsigned i = 0; i < keep; i++) {
    ring[i] = d->window[(d->window_head + d->window_len - keep + i) % d->window_bins];
    sum += ring[i];
  }
  free (d->window);
  d->window = ring;
  d->window_bins = new_bins;
  d->window_head = 0;
  d->window_len = keep;
  d->window_sum = sum;
}

/* A new bin size: a new grid from the latest time, same drops per second. */
static void
restart_bins (vdm_detector *d, uint64_t new_bin_ns)
{
  double scale = (double) new_bin_ns / (double) d->config.bin_ns;

  d->ewma *= scale;
  d->trend *= scale;
  d->held_len = 0;
  d->surge_run = 0;
  d->surge_causes = 0;
  d->quiet_run = 0;
  window_clear (d);
  if (d->started)
    d->bin_start_ns = d->latest_ns;
}

void
vdm_detector_set_config (vdm_detector *d, const vdm_detector_config *config)
{
  vdm_detector_config next = sanitized (config);
  unsigned next_window_bins = window_bins_of (&next);
  bool bin_changed = next.bin_ns != d->config.bin_ns;
  bool window_changed = bin_changed || next_window_bins != d->window_bins;
  bool surge_changed = next.surge_bins != d->config.surge_bins;
  uint64_t *ring = NULL, *held = NULL;

  /* Allocate first, so that a failure leaves everything as it was. */
  if (window_changed && (ring = calloc (next_window_bins, sizeof (uint64_t))) == NULL)
    return;
  if (surge_changed && (held = calloc (next.surge_bins, sizeof (uint64_t))) == NULL) {
    free (ring);
    return;
  }

  if (surge_changed) {
    end_surge_run (d);
    free (d->held);
    d->held = held;
  }
  if (window_changed)
    window_resize (d, ring, next_window_bins);
  if (bin_changed)
    restart_bins (d, next.bin_ns);
  d->config = next;
}

/* ---- signals ---- */

void
vdm_detector_add_drops (vdm_detector *d, uint64_t time_ns, vdm_cause cause, uint32_t count)
{
  observe_time (d, time_ns);
  if (count == 0)
    return;
  d->bin_count = saturating_add (d->bin_count, count);
  d->bin_causes |= drop_cause_bits (cause);
}

static void
latch_trigger (vdm_detector *d, uint64_t time_ns, uint32_t cause, vdm_level level)
{
  observe_time (d, time_ns);
  d->trigger_causes |= cause;
  d->trigger_level = max_level (d->trigger_level, level);
  d->bin_trigger = true;
}

void
vdm_detector_keyframe_lost (vdm_detector *d, uint64_t time_ns)
{
  latch_trigger (d, time_ns, VDM_CAUSE_KEYFRAME, VDM_LEVEL_CRITICAL);
}

/* The reader is falling behind: the queue was at least queue_fill_warning
 * full at the last reading and is again, no emptier (a keyframe that
 * fills a small buffer once drains by the next bin). */
static bool
queue_filling (const vdm_detector *d, double fill)
{
  double level = d->config.queue_fill_warning;

  return level > 0 && fill >= level && d->last_fill >= level && fill >= d->last_fill;
}

void
vdm_detector_queue_fill (vdm_detector *d, uint64_t time_ns, double fill)
{
  if (isnan (fill) || fill < 0)
    return;
  observe_time (d, time_ns);
  if (fill >= d->config.queue_fill_threshold)
    latch_trigger (d, time_ns, VDM_CAUSE_HOST, VDM_LEVEL_CRITICAL);
  else if (queue_filling (d, fill))
    latch_trigger (d, time_ns, VDM_CAUSE_HOST, VDM_LEVEL_WARNING);
  d->last_fill = fill;
}

/* A deficit that starts again long after the last one ended, and after
 * the episode's last warning, announces a new freeze. */
static bool
deficit_renewed (const vdm_detector *d)
{
  return d->in_episode && !d->silent && d->config.renew_after_ns > 0
      && d->deficit_over_ns >= d->last_warning_ns
      && d->latest_ns - d->deficit_over_ns >= d->config.renew_after_ns;
}

void
vdm_detector_arrival_deficit (vdm_detector *d, uint64_t time_ns, bool deficit, vdm_cause cause)
{
  if (deficit) {
    observe_time (d, time_ns);
    if (deficit_renewed (d))
      d->trigger_renewed = true;
    latch_trigger (d, time_ns, cause == VDM_CAUSE_HOST ? VDM_CAUSE_HOST : VDM_CAUSE_NETWORK,
        VDM_LEVEL_WARNING);
  } else {
    observe_time (d, time_ns);
    if (d->silent)
      d->deficit_over_ns = d->latest_ns;
  }
  d->silent = deficit;
}

void
vdm_detector_deficit_renewed (vdm_detector *d, uint64_t time_ns, vdm_cause cause)
{
  observe_time (d, time_ns);
  if (!d->in_episode || !d->silent || d->config.renew_after_ns == 0
      || d->latest_ns < d->last_warning_ns
      || d->latest_ns - d->last_warning_ns < d->config.renew_after_ns)
    return;
  d->trigger_renewed = true;
  latch_trigger (d, time_ns, cause == VDM_CAUSE_HOST ? VDM_CAUSE_HOST : VDM_CAUSE_NETWORK,
      VDM_LEVEL_WARNING);
}

void
vdm_detector_silence (vdm_detector *d, uint64_t time_ns, bool silent)
{
  vdm_detector_arrival_deficit (d, time_ns, silent, VDM_CAUSE_NETWORK);
}

void
vdm_detector_device_error (vdm_detector *d, uint64_t time_ns)
{
  latch_trigger (d, time_ns, VDM_CAUSE_DEVICE, VDM_LEVEL_CRITICAL);
}

unsigned
vdm_detector_advance (vdm_detector *d, uint64_t now_ns, vdm_detector_event *events, unsigned max)
{
  unsigned n = 0;

  observe_time (d, now_ns);
  if (d->trigger_causes) {
    offer (d, d->trigger_causes, 0, level_for (d, d->trigger_level),
        d->trigger_renewed ? DROP_CAUSES : 0);
    d->trigger_renewed = false;
    d->trigger_causes = 0;
    d->trigger_level = VDM_LEVEL_NORMAL;
  }
  try_emit (d, d->latest_ns);

  while (events != NULL && n < max && d->queue_len > 0) {
    events[n++] = d->queue[d->queue_head];
    d->queue_head = (d->queue_head + 1) % EVENT_QUEUE_CAPACITY;
    d->queue_len--;
  }
  return n;
}

vdm_level
vdm_detector_level (const vdm_detector *d)
{
  return d->in_episode ? d->episode_level : VDM_LEVEL_NORMAL;
}

void
vdm_detector_snapshot (const vdm_detector *d, double *ewma, double *baseline)
{
  if (ewma != NULL)
    *ewma = d->ewma;
  if (baseline != NULL)
    *baseline = current_baseline (d);
}

/* ---- names ---- */

const char *
vdm_action_name (vdm_action action)
{
  switch (action) {
    case VDM_ACTION_NONE:
      return "none";
    case VDM_ACTION_LOWER_RESOLUTION:
      return "lower-resolution";
    case VDM_ACTION_LOWER_BITRATE:
      return "lower-bitrate";
    case VDM_ACTION_REQUEST_KEYFRAME:
      return "request-keyframe";
    case VDM_ACTION_REINIT_DEVICE:
      return "reinit-device";
    case VDM_ACTION_CIRCUIT_BREAK:
      return "circuit-break";
  }
  return "unknown";
}

const char *
vdm_level_name (vdm_level level)
{
  switch (level) {
    case VDM_LEVEL_NORMAL:
      return "normal";
    case VDM_LEVEL_WARNING:
      return "warning";
    case VDM_LEVEL_CRITICAL:
      return "critical";
  }
  return "unknown";
}

/* Names in bit order; unknown bits are skipped. Truncates to fit len,
 * always NUL-terminated (when len > 0). */
const char *
vdm_causes_format (uint32_t causes, char *buf, unsigned len)
{
  static const char *const names[] = { "host", "network", "keyframe", "device", "burst" };
  unsigned used = 0;

  if (buf == NULL || len == 0)
    return buf;
  buf[0] = '\0';
  for (unsigned bit = 0; bit < sizeof (names) / sizeof (names[0]); bit++) {
    const char *name = names[bit];
    if (!(causes & (1u << bit)))
      continue;
    if (used > 0 && used + 1 < len)
      buf[used++] = ',';
    for (; *name != '\0' && used + 1 < len; name++)
      buf[used++] = *name;
    buf[used] = '\0';
  }
  return buf;
}

/*
 * Kernel drop reasons (names without SKB_DROP_REASON_) -> cause class.
 *
 * HOST: this host did not keep up — the socket, the protocol or the CPU
 * backlog ran out of memory or queue space, or our own TCP window was zero
 * because the reader was slow:
 *   SOCKET_RCVBUFF, PROTO_MEM, SOCKET_BACKLOG, CPU_BACKLOG, TCP_ZEROWINDOW,
 *   TCP_OFO_QUEUE_PRUNE (out-of-order queue pruned under memory pressure),
 *   TCP_LISTEN_OVERFLOW, NOMEM, PFMEMALLOC, FULL_RING (a driver/tun ring full).
 * 0: not a drop at all: NOT_DROPPED_YET, CONSUMED (and NULL or "").
 * NETWORK: everything else, in particular QDISC_DROP/OVERLIMIT/CONGESTED,
 *   TCP_OLD_DATA (a retransmission of data we had: a lost ACK, a delay
 *   spike; while our reader is starved the stream monitor makes it HOST),
 *   CAKE_FLOOD, FQ_*, NETFILTER_DROP, TCP_OFO_DROP (segment outside the
 *   window), IP_* (header, routing, source checks), NEIGH_*, *_CSUM,
 *   NOT_SPECIFIED, RTP_SEQ_GAP (userspace gap), "UNKNOWN" and names this
 *   table does not know (newer kernels): a packet of ours lost somewhere on
 *   the way, for which sending less is the safe first answer.
 */
static const char *const host_reasons[] = {
  "SOCKET_RCVBUFF", "PROTO_MEM", "SOCKET_BACKLOG", "CPU_BACKLOG", "TCP_ZEROWINDOW",
  "TCP_OFO_QUEUE_PRUNE", "TCP_LISTEN_OVERFLOW", "NOMEM", "PFMEMALLOC", "FULL_RING",
};

static const char *const not_drop_reasons[] = {
  "NOT_DROPPED_YET", "SKB_NOT_DROPPED_YET", "CONSUMED", "SKB_CONSUMED",
};

static bool
name_in (const char *name, const char *const *table, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (name, table[i]) == 0)
      return true;
  return false;
}

/* The name without the enum's prefix, NULL for none. */
static const char *
bare_reason (const char *reason_name)
{
  static const char prefix[] = "SKB_DROP_REASON_";

  if (reason_name == NULL || reason_name[0] == '\0')
    return NULL;
  if (strncmp (reason_name, prefix, sizeof (prefix) - 1) == 0)
    reason_name += sizeof (prefix) - 1;
  return reason_name;
}

bool
vdm_reason_is_tcp_old_data (const char *reason_name)
{
  reason_name = bare_reason (reason_name);
  return reason_name != NULL && strcmp (reason_name, "TCP_OLD_DATA") == 0;
}

vdm_cause
vdm_cause_of_reason (const char *reason_name)
{
  reason_name = bare_reason (reason_name);
  if (reason_name == NULL)
    return 0;
  if (name_in (reason_name, not_drop_reasons, sizeof (not_drop_reasons) / sizeof (not_drop_reasons[0])))
    return 0;
  if (name_in (reason_name, host_reasons, sizeof (host_reasons) / sizeof (host_reasons[0])))
    return VDM_CAUSE_HOST;
  return VDM_CAUSE_NETWORK;
}
