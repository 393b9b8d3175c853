/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy.c — vdm-adapt's adaptation policy (policy.h explains it). */
#include "policy.h"

#include <stdlib.h>
#include <string.h>

static const struct {
  const char *name;
  vdm_adapt_action action;
} action_names[] = {
  {"none", VDM_ADAPT_ACTION_NONE},
  {"lower-resolution", VDM_ADAPT_ACTION_LOWER_RESOLUTION},
  {"lower-bitrate", VDM_ADAPT_ACTION_LOWER_BITRATE},
  {"request-keyframe", VDM_ADAPT_ACTION_REQUEST_KEYFRAME},
  {"circuit-break", VDM_ADAPT_ACTION_CIRCUIT_BREAK},
  {"reinit-device", VDM_ADAPT_ACTION_REINIT_DEVICE},
};

static const char *const event_names[] = {
  [VDM_ADAPT_STEP_DOWN] = "step-down",
  [VDM_ADAPT_STEP_UP] = "step-up",
  [VDM_ADAPT_FLOOR] = "floor",
  [VDM_ADAPT_DEFER] = "defer",
  [VDM_ADAPT_CANCEL] = "cancel",
  [VDM_ADAPT_SWITCH_SUBSTREAM] = "switch-substream",
  [VDM_ADAPT_SWITCH_MAIN] = "switch-main",
  [VDM_ADAPT_REQUEST_KEYFRAME] = "request-keyframe",
  [VDM_ADAPT_HOLD] = "hold",
  [VDM_ADAPT_RESTART_SOURCE] = "restart-source",
  [VDM_ADAPT_IGNORE] = "ignore",
  [VDM_ADAPT_CLEAR] = "clear",
};

vdm_adapt_action
vdm_adapt_action_from_string (const char *action)
{
  size_t i;

  if (action == NULL)
    return VDM_ADAPT_ACTION_NONE;
  for (i = 0; i < sizeof (action_names) / sizeof (action_names[0]); i++)
    if (strcmp (action, action_names[i].name) == 0)
      return action_names[i].action;
  return VDM_ADAPT_ACTION_UNKNOWN;
}

const char *
vdm_adapt_event_name (vdm_adapt_event event)
{
  if ((unsigned) event >= sizeof (event_names) / sizeof (event_names[0]))
    return "unknown";
  return event_names[event];
}

static int
compare_descending (const void *a, const void *b)
{
  int x = *(const int *) a, y = *(const int *) b;

  return (y > x) - (y < x);
}

unsigned
vdm_adapt_build_ladder (int top_height, const int *heights, unsigned n_heights,
    int ladder[VDM_ADAPT_MAX_RUNGS])
{
  int values[VDM_ADAPT_MAX_RUNGS];
  unsigned n = 0, n_rungs = 0, i;

  /* The top is always a rung, so "back to where we started" is one. */
  values[n++] = top_height;
  for (i = 0; i < n_heights; i++) {
    if (heights[i] >= top_height)
      continue;
    if (n == VDM_ADAPT_MAX_RUNGS)
      return 0;
    values[n++] = heights[i];
  }
  qsort (values, n, sizeof (int), compare_descending);
  for (i = 0; i < n; i++)
    if (n_rungs == 0 || values[i] != ladder[n_rungs - 1])
      ladder[n_rungs++] = values[i];
  return n_rungs;
}

/* ------------------------------------------------------------------------ */
/* Tags the policy keeps for later.                                          */

static void
keep_tag (vdm_adapt_policy *p, const void **slot, const void *tag)
{
  const void *old = *slot;

  *slot = tag && p->config.retain ? p->config.retain (tag) : tag;
  if (old && p->config.release)
    p->config.release (old);
}

/* ------------------------------------------------------------------------ */

static void
emit (vdm_adapt_policy *p, vdm_adapt_decisions *out, vdm_adapt_event event, int64_t now,
    int from, const void *reason, const char *note)
{
  vdm_adapt_decision *d;

  /* No input makes more than VDM_ADAPT_MAX_DECISIONS (policy.h). */
  if (out->n == VDM_ADAPT_MAX_DECISIONS)
    return;
  d = &out->d[out->n++];
  d->event = event;
  d->time_ns = now;
  d->from_height = from;
  d->to_height = vdm_adapt_policy_height (p);
  d->on_substream = p->on_substream;
  /* Held for the caller, as a deferred move's reason is released the
   * moment the move is done. */
  d->reason = reason && p->config.retain ? p->config.retain (reason) : reason;
  d->note = note;
}

void
vdm_adapt_decisions_release (vdm_adapt_policy *p, vdm_adapt_decisions *out)
{
  unsigned i;

  for (i = 0; i < out->n; i++)
    if (out->d[i].reason && p->config.release)
      p->config.release (out->d[i].reason);
  out->n = 0;
}

static bool
below_top (const vdm_adapt_policy *p)
{
  return p->on_substream || p->rung > 0;
}

static bool
is_climb (vdm_adapt_move move)
{
  return move == VDM_ADAPT_MOVE_UP || move == VDM_ADAPT_MOVE_TO_MAIN;
}

/* Carries out a move now; false if there was nothing to do. */
static bool
apply_move (vdm_adapt_policy *p, int64_t now, vdm_adapt_move move, const void *reason,
    vdm_adapt_decisions *out)
{
  int from = vdm_adapt_policy_height (p);

  switch (move) {
    case VDM_ADAPT_MOVE_DOWN:
      if (p->rung + 1 >= p->config.n_rungs) {
        emit (p, out, VDM_ADAPT_FLOOR, now, from, reason, "already on the lowest rung");
        return false;
      }
      p->rung++;
      p->steps_down++;
      emit (p, out, VDM_ADAPT_STEP_DOWN, now, from, reason, NULL);
      break;
    case VDM_ADAPT_MOVE_UP:
      if (p->rung == 0)
        return false;
      p->rung--;
      p->steps_up++;
      emit (p, out, VDM_ADAPT_STEP_UP, now, from, reason, NULL);
      break;
    case VDM_ADAPT_MOVE_TO_SUBSTREAM:
      p->on_substream = true;
      p->steps_down++;
      emit (p, out, VDM_ADAPT_SWITCH_SUBSTREAM, now, from, reason, NULL);
      break;
    case VDM_ADAPT_MOVE_TO_MAIN:
      p->on_substream = false;
      p->steps_up++;
      emit (p, out, VDM_ADAPT_SWITCH_MAIN, now, from, reason, NULL);
      break;
    case VDM_ADAPT_MOVE_NONE:
      return false;
  }
  p->changed_once = true;
  p->last_change_ns = now;
  return true;
}

static int64_t
dwell_ends_ns (const vdm_adapt_policy *p)
{
  if (!p->changed_once)
    return INT64_MIN;
  return p->last_change_ns + p->config.min_dwell_ns;
}

static const char *
defer_note (vdm_adapt_move move)
{
  if (move == VDM_ADAPT_MOVE_DOWN)
    return "step-down within min-dwell";
  if (move == VDM_ADAPT_MOVE_UP)
    return "step-up within min-dwell";
  return "stream switch within min-dwell";
}

/* Does the move now, or when min-dwell since the last change has passed;
 * a newer request replaces a deferred one. */
static void
request_move (vdm_adapt_policy *p, int64_t now, vdm_adapt_move move, const void *reason,
    vdm_adapt_decisions *out)
{
  int64_t ends = dwell_ends_ns (p);

  if (now >= ends) {
    apply_move (p, now, move, reason, out);
    return;
  }
  p->deferred_move = move;
  keep_tag (p, &p->deferred_reason, reason);
  p->deferred_due_ns = ends;
  emit (p, out, VDM_ADAPT_DEFER, now, vdm_adapt_policy_height (p), reason, defer_note (move));
}

static void
cancel_deferred (vdm_adapt_policy *p, int64_t now, const void *reason, const char *why,
    vdm_adapt_decisions *out)
{
  if (p->deferred_move == VDM_ADAPT_MOVE_NONE)
    return;
  p->deferred_move = VDM_ADAPT_MOVE_NONE;
  keep_tag (p, &p->deferred_reason, NULL);
  emit (p, out, VDM_ADAPT_CANCEL, now, vdm_adapt_policy_height (p), reason, why);
}

/* ------------------------------------------------------------------------ */
/* Quiet: stepping back up.                                                   */

/* Another rung up after step-up-after more of quiet. */
static void
arm_step_up (vdm_adapt_policy *p, int64_t now)
{
  p->step_up_due_ns = p->quiet && below_top (p) ? now + p->config.step_up_after_ns
      : VDM_ADAPT_NEVER;
}

static void
begin_quiet (vdm_adapt_policy *p, int64_t now, const void *reason)
{
  p->quiet = true;
  keep_tag (p, &p->quiet_reason, reason);
  arm_step_up (p, now);
}

static void
end_quiet (vdm_adapt_policy *p)
{
  p->quiet = false;
  keep_tag (p, &p->quiet_reason, NULL);
  p->step_up_due_ns = VDM_ADAPT_NEVER;
}

static void
run_deferred (vdm_adapt_policy *p, int64_t now, vdm_adapt_decisions *out)
{
  vdm_adapt_move move = p->deferred_move;
  const void *reason = p->deferred_reason;   /* ours until released below */

  p->deferred_move = VDM_ADAPT_MOVE_NONE;
  p->deferred_reason = NULL;
  apply_move (p, now, move, reason, out);
  if (is_climb (move))
    arm_step_up (p, now);
  if (reason && p->config.release)
    p->config.release (reason);
}

static void
run_step_up (vdm_adapt_policy *p, int64_t now, vdm_adapt_decisions *out)
{
  p->step_up_due_ns = VDM_ADAPT_NEVER;
  if (!p->quiet || !below_top (p))
    return;
  /* Back to the main stream first: it is what the user asked for. */
  request_move (p, now, p->on_substream ? VDM_ADAPT_MOVE_TO_MAIN : VDM_ADAPT_MOVE_UP,
      p->quiet_reason, out);
  if (p->deferred_move == VDM_ADAPT_MOVE_NONE)
    arm_step_up (p, now);
}

/* ------------------------------------------------------------------------ */

void
vdm_adapt_policy_init (vdm_adapt_policy *p, const vdm_adapt_config *config)
{
  memset (p, 0, sizeof (*p));
  p->config = *config;
  p->step_up_due_ns = VDM_ADAPT_NEVER;
  p->deferred_due_ns = VDM_ADAPT_NEVER;
}

void
vdm_adapt_policy_clear (vdm_adapt_policy *p)
{
  keep_tag (p, &p->quiet_reason, NULL);
  keep_tag (p, &p->deferred_reason, NULL);
  p->deferred_move = VDM_ADAPT_MOVE_NONE;
  p->step_up_due_ns = VDM_ADAPT_NEVER;
}

static void
act_on (vdm_adapt_policy *p, int64_t now, const vdm_adapt_warning *w, vdm_adapt_decisions *out)
{
  int height = vdm_adapt_policy_height (p);

  switch (w->action) {
    case VDM_ADAPT_ACTION_LOWER_RESOLUTION:
      request_move (p, now, VDM_ADAPT_MOVE_DOWN, w->tag, out);
      break;
    case VDM_ADAPT_ACTION_LOWER_BITRATE:
      request_move (p, now, p->config.has_substream && !p->on_substream ?
          VDM_ADAPT_MOVE_TO_SUBSTREAM : VDM_ADAPT_MOVE_DOWN, w->tag, out);
      break;
    case VDM_ADAPT_ACTION_REQUEST_KEYFRAME:
      /* Not rate-limited here: vdropmon posts a warning for a new cause or
       * a higher level only, at most every warning-interval. */
      emit (p, out, VDM_ADAPT_REQUEST_KEYFRAME, now, height, w->tag, NULL);
      break;
    case VDM_ADAPT_ACTION_CIRCUIT_BREAK:
      emit (p, out, VDM_ADAPT_HOLD, now, height, w->tag, "a transient burst: no change");
      break;
    case VDM_ADAPT_ACTION_REINIT_DEVICE:
      emit (p, out, VDM_ADAPT_RESTART_SOURCE, now, height, w->tag, NULL);
      break;
    case VDM_ADAPT_ACTION_NONE:
    case VDM_ADAPT_ACTION_UNKNOWN:
      emit (p, out, VDM_ADAPT_IGNORE, now, height, w->tag, "no action to take");
      break;
  }
}

void
vdm_adapt_policy_on_warning (vdm_adapt_policy *p, int64_t now, const vdm_adapt_warning *w,
    vdm_adapt_decisions *out)
{
  out->n = 0;
  p->warnings++;
  end_quiet (p);
  if (is_climb (p->deferred_move))
    cancel_deferred (p, now, w->tag, "a new warning: staying down", out);
  act_on (p, now, w, out);
}

void
vdm_adapt_policy_on_clear (vdm_adapt_policy *p, int64_t now, const void *tag,
    vdm_adapt_decisions *out)
{
  out->n = 0;
  p->clears++;
  cancel_deferred (p, now, tag, "cleared before min-dwell passed", out);
  emit (p, out, VDM_ADAPT_CLEAR, now, vdm_adapt_policy_height (p), tag, below_top (p) ?
      "stepping up after step-up-after seconds of quiet" : "at the top already");
  begin_quiet (p, now, tag);
}

void
vdm_adapt_policy_on_source_restarted (vdm_adapt_policy *p, int64_t now)
{
  begin_quiet (p, now, NULL);
}

void
vdm_adapt_policy_tick (vdm_adapt_policy *p, int64_t now, vdm_adapt_decisions *out)
{
  out->n = 0;
  if (p->deferred_move != VDM_ADAPT_MOVE_NONE && now >= p->deferred_due_ns)
    run_deferred (p, now, out);
  if (now >= p->step_up_due_ns)
    run_step_up (p, now, out);
}

int64_t
vdm_adapt_policy_next_deadline (const vdm_adapt_policy *p)
{
  int64_t next = p->step_up_due_ns;

  if (p->deferred_move != VDM_ADAPT_MOVE_NONE && p->deferred_due_ns < next)
    next = p->deferred_due_ns;
  return next;
}

int
vdm_adapt_policy_height (const vdm_adapt_policy *p)
{
  return p->config.ladder[p->rung];
}

bool
vdm_adapt_policy_on_substream (const vdm_adapt_policy *p)
{
  return p->on_substream;
}
