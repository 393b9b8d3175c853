/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of vdm-adapt's adaptation policy (pipelines/adapt/policy.c),
 * with exact times: down fast, min-dwell, hysteresis before a step up, the
 * climb after a clear, the sub-stream, and a bound on how often it can
 * switch between two rungs whatever the warnings and clears do.
 */
#include <glib.h>

#include "policy.h"

#define MS G_GINT64_CONSTANT (1000000)
#define S (1000 * MS)

/* Tags: any distinct addresses will do. */
static const char W1[] = "warning 1", W2[] = "warning 2", W3[] = "warning 3";
static const char C1[] = "clear 1", C2[] = "clear 2";

typedef struct {
  vdm_adapt_policy p;
  vdm_adapt_decisions out;
} Fixture;

static void
setup_with (Fixture * f, const int *ladder, unsigned n_rungs, int64_t dwell, int64_t up_after,
    gboolean substream)
{
  vdm_adapt_config c = {.n_rungs = n_rungs,.has_substream = substream,
    .min_dwell_ns = dwell,.step_up_after_ns = up_after
  };

  memcpy (c.ladder, ladder, n_rungs * sizeof (int));
  vdm_adapt_policy_init (&f->p, &c);
  f->out.n = 0;
}

/* The defaults of vdm-adapt: 1080,720,480, --min-dwell 2, --step-up-after 5. */
static void
setup (Fixture * f)
{
  setup_with (f, (const int[]) {1080, 720, 480}, 3, 2 * S, 5 * S, FALSE);
}

static const vdm_adapt_decisions *
warn (Fixture * f, int64_t t, const char *action, const void *tag)
{
  vdm_adapt_warning w = {.action = vdm_adapt_action_from_string (action),.level = "critical",
    .cause = "host",.suggested_height = -1,.suggested_bitrate = -1,.tag = tag
  };

  vdm_adapt_policy_on_warning (&f->p, t, &w, &f->out);
  return &f->out;
}

static const vdm_adapt_decisions *
clear (Fixture * f, int64_t t, const void *tag)
{
  vdm_adapt_policy_on_clear (&f->p, t, tag, &f->out);
  return &f->out;
}

static const vdm_adapt_decisions *
tick (Fixture * f, int64_t t)
{
  vdm_adapt_policy_tick (&f->p, t, &f->out);
  return &f->out;
}

static void
assert_decision (const vdm_adapt_decisions * out, unsigned i, vdm_adapt_event event,
    int64_t t, int from, int to, const void *reason)
{
  g_assert_cmpuint (out->n, >, i);
  g_assert_cmpstr (vdm_adapt_event_name (out->d[i].event), ==, vdm_adapt_event_name (event));
  g_assert_cmpint (out->d[i].time_ns, ==, t);
  g_assert_cmpint (out->d[i].from_height, ==, from);
  g_assert_cmpint (out->d[i].to_height, ==, to);
  g_assert_true (out->d[i].reason == reason);
}

static void
assert_only (const vdm_adapt_decisions * out, vdm_adapt_event event, int64_t t, int from,
    int to, const void *reason)
{
  g_assert_cmpuint (out->n, ==, 1);
  assert_decision (out, 0, event, t, from, to, reason);
}

/* ------------------------------------------------------------------------ */

static void
test_step_down_at_once (void)
{
  Fixture f;

  setup (&f);
  g_assert_cmpint (vdm_adapt_policy_height (&f.p), ==, 1080);
  assert_only (warn (&f, 10 * S, "lower-resolution", W1), VDM_ADAPT_STEP_DOWN, 10 * S, 1080,
      720, W1);
  g_assert_cmpint (vdm_adapt_policy_height (&f.p), ==, 720);
  /* Nothing pending: no step up without a clear. */
  g_assert_cmpint (vdm_adapt_policy_next_deadline (&f.p), ==, VDM_ADAPT_NEVER);
  g_assert_cmpuint (f.p.steps_down, ==, 1);
  g_assert_cmpuint (f.p.warnings, ==, 1);
}

/* A second step down waits for min-dwell; a newer request replaces the
 * deferred one (its reason goes with it); it happens exactly at the end. */
static void
test_min_dwell_defers (void)
{
  Fixture f;

  setup (&f);
  warn (&f, 10 * S, "lower-resolution", W1);
  assert_only (warn (&f, 11 * S, "lower-resolution", W2), VDM_ADAPT_DEFER, 11 * S, 720, 720,
      W2);
  g_assert_cmpstr (f.out.d[0].note, ==, "step-down within min-dwell");
  g_assert_cmpint (vdm_adapt_policy_next_deadline (&f.p), ==, 12 * S);
  assert_only (warn (&f, 11 * S + 500 * MS, "lower-bitrate", W3), VDM_ADAPT_DEFER,
      11 * S + 500 * MS, 720, 720, W3);
  g_assert_cmpint (vdm_adapt_policy_next_deadline (&f.p), ==, 12 * S);
  g_assert_cmpuint (tick (&f, 12 * S - 1)->n, ==, 0);
  assert_only (tick (&f, 12 * S), VDM_ADAPT_STEP_DOWN, 12 * S, 720, 480, W3);
  g_assert_cmpint (vdm_adapt_policy_next_deadline (&f.p), ==, VDM_ADAPT_NEVER);
  /* Exactly min-dwell after that change: at once again (here the floor). */
  assert_only (warn (&f, 14 * S, "lower-resolution", W1), VDM_ADAPT_FLOOR, 14 * S, 480, 480,
      W1);
}

/* A clear before the dwell ends cancels the deferred step down. */
static void
test_clear_cancels_deferred (void)
{
  Fixture f;

  setup (&f);
  warn (&f, 10 * S, "lower-resolution", W1);
  warn (&f, 11 * S, "lower-resolution", W2);
  clear (&f, 11 * S + 500 * MS, C1);
  g_assert_cmpuint (f.out.n, ==, 2);
  assert_decision (&f.out, 0, VDM_ADAPT_CANCEL, 11 * S + 500 * MS, 720, 720, C1);
  g_assert_cmpstr (f.out.d[0].note, ==, "cleared before min-dwell passed");
  assert_decision (&f.out, 1, VDM_ADAPT_CLEAR, 11 * S + 500 * MS, 720, 720, C1);
  g_assert_cmpint (vdm_adapt_policy_next_deadline (&f.p), ==, 16 * S + 500 * MS);
  g_assert_cmpuint (tick (&f, 12 * S)->n, ==, 0);
  g_assert_cmpint (vdm_adapt_policy_height (&f.p), ==, 720);
}

/* The floor is no change: it does not start a dwell. */
static void
test_floor_is_no_change (void)
{
  Fixture f;

  setup_with (&f, (const int[]) {720, 480}, 2, 2 * S, 100 * MS, FALSE);
  warn (&f, 10 * S, "lower-resolution", W1);
  assert_only (warn (&f, 20 * S, "lower-resolution", W2), VDM_ADAPT_FLOOR, 20 * S, 480, 480,
      W2);
  g_assert_cmpstr (f.out.d[0].note, ==, "already on the lowest rung");
  clear (&f, 20 * S + 500 * MS, C1);
  /* 100 ms of quiet; the floor 0.6 s before does not hold it back. */
  assert_only (tick (&f, 20 * S + 600 * MS), VDM_ADAPT_STEP_UP, 20 * S + 600 * MS, 480, 720,
      C1);
  g_assert_cmpuint (f.p.steps_down, ==, 1);
}

/* Hysteresis: step-up-after of quiet after the clear, to the nanosecond;
 * the step up names the clear that began the quiet. */
static void
test_step_up_after_quiet (void)
{
  Fixture f;

  setup (&f);
  warn (&f, 10 * S, "lower-resolution", W1);
  assert_only (clear (&f, 11 * S, C1), VDM_ADAPT_CLEAR, 11 * S, 720, 720, C1);
  g_assert_cmpstr (f.out.d[0].note, ==, "stepping up after step-up-after seconds of quiet");
  g_assert_cmpint (vdm_adapt_policy_next_deadline (&f.p), ==, 16 * S);
  g_assert_cmpuint (tick (&f, 16 * S - 1)->n, ==, 0);
  assert_only (tick (&f, 16 * S), VDM_ADAPT_STEP_UP, 16 * S, 720, 1080, C1);
  /* At the top: nothing more to wait for. */
  g_assert_cmpint (vdm_adapt_policy_next_deadline (&f.p), ==, VDM_ADAPT_NEVER);
  g_assert_cmpuint (f.p.steps_up, ==, 1);
}

/* Any warning ends the quiet, even one that changes nothing; the next
 * clear starts the wait over. */
static void
test_warning_stops_the_climb (void)
{
  Fixture f;

  setup (&f);
  warn (&f, 10 * S, "lower-resolution", W1);
  clear (&f, 11 * S, C1);
  assert_only (warn (&f, 16 * S - 1, "circuit-break", W2), VDM_ADAPT_HOLD, 16 * S - 1, 720,
      720, W2);
  g_assert_cmpint (vdm_adapt_policy_next_deadline (&f.p), ==, VDM_ADAPT_NEVER);
  g_assert_cmpuint (tick (&f, 16 * S)->n, ==, 0);
  clear (&f, 17 * S, C2);
  g_assert_cmpuint (tick (&f, 22 * S - 1)->n, ==, 0);
  assert_only (tick (&f, 22 * S), VDM_ADAPT_STEP_UP, 22 * S, 720, 1080, C2);
}

/* From the bottom, one rung per step-up-after of quiet, up to the top. */
static void
test_climb_rung_by_rung (void)
{
  Fixture f;

  setup (&f);
  warn (&f, 10 * S, "lower-resolution", W1);
  warn (&f, 12 * S, "lower-resolution", W2);
  g_assert_cmpint (vdm_adapt_policy_height (&f.p), ==, 480);
  clear (&f, 12 * S + 500 * MS, C1);
  assert_only (tick (&f, 17 * S + 500 * MS), VDM_ADAPT_STEP_UP, 17 * S + 500 * MS, 480, 720,
      C1);
  g_assert_cmpint (vdm_adapt_policy_next_deadline (&f.p), ==, 22 * S + 500 * MS);
  assert_only (tick (&f, 22 * S + 500 * MS), VDM_ADAPT_STEP_UP, 22 * S + 500 * MS, 720, 1080,
      C1);
  g_assert_cmpint (vdm_adapt_policy_next_deadline (&f.p), ==, VDM_ADAPT_NEVER);
}

/* A step up due within min-dwell waits for it; the climb goes on from when
 * it happened; a warning meanwhile cancels it. */
static void
test_step_up_within_dwell (void)
{
  Fixture f;

  setup_with (&f, (const int[]) {1080, 720, 480}, 3, 2 * S, 1 * S, FALSE);
  warn (&f, 10 * S, "lower-resolution", W1);
  warn (&f, 12 * S, "lower-resolution", W2);
  clear (&f, 12 * S + 100 * MS, C1);
  assert_only (tick (&f, 13 * S + 100 * MS), VDM_ADAPT_DEFER, 13 * S + 100 * MS, 480, 480, C1);
  g_assert_cmpstr (f.out.d[0].note, ==, "step-up within min-dwell");
  assert_only (tick (&f, 14 * S), VDM_ADAPT_STEP_UP, 14 * S, 480, 720, C1);
  g_assert_cmpint (vdm_adapt_policy_next_deadline (&f.p), ==, 15 * S);
  assert_only (tick (&f, 15 * S), VDM_ADAPT_DEFER, 15 * S, 720, 720, C1);
  warn (&f, 15 * S + 500 * MS, "request-keyframe", W3);
  g_assert_cmpuint (f.out.n, ==, 2);
  assert_decision (&f.out, 0, VDM_ADAPT_CANCEL, 15 * S + 500 * MS, 720, 720, W3);
  g_assert_cmpstr (f.out.d[0].note, ==, "a new warning: staying down");
  assert_decision (&f.out, 1, VDM_ADAPT_REQUEST_KEYFRAME, 15 * S + 500 * MS, 720, 720, W3);
  g_assert_cmpint (vdm_adapt_policy_next_deadline (&f.p), ==, VDM_ADAPT_NEVER);
  g_assert_cmpint (vdm_adapt_policy_height (&f.p), ==, 720);
}

/* A deferred step down is not cancelled by a warning, only replaced. */
static void
test_warning_keeps_deferred_step_down (void)
{
  Fixture f;

  setup (&f);
  warn (&f, 10 * S, "lower-resolution", W1);
  warn (&f, 11 * S, "lower-resolution", W2);
  assert_only (warn (&f, 11 * S + 100 * MS, "circuit-break", W3), VDM_ADAPT_HOLD,
      11 * S + 100 * MS, 720, 720, W3);
  assert_only (tick (&f, 12 * S), VDM_ADAPT_STEP_DOWN, 12 * S, 720, 480, W2);
}

/* lower-bitrate: to the sub-stream, then down the ladder on it; back to
 * the main stream first, counting the quiet from the restart. */
static void
test_substream (void)
{
  Fixture f;

  setup_with (&f, (const int[]) {1080, 720, 480}, 3, 2 * S, 5 * S, TRUE);
  assert_only (warn (&f, 10 * S, "lower-bitrate", W1), VDM_ADAPT_SWITCH_SUBSTREAM, 10 * S,
      1080, 1080, W1);
  g_assert_true (f.out.d[0].on_substream);
  g_assert_true (vdm_adapt_policy_on_substream (&f.p));
  vdm_adapt_policy_on_source_restarted (&f.p, 10 * S + 30 * MS);
  g_assert_cmpint (vdm_adapt_policy_next_deadline (&f.p), ==, 15 * S + 30 * MS);
  assert_only (warn (&f, 13 * S, "lower-bitrate", W2), VDM_ADAPT_STEP_DOWN, 13 * S, 1080, 720,
      W2);
  clear (&f, 14 * S, C1);
  assert_only (tick (&f, 19 * S), VDM_ADAPT_SWITCH_MAIN, 19 * S, 720, 720, C1);
  g_assert_false (f.out.d[0].on_substream);
  vdm_adapt_policy_on_source_restarted (&f.p, 19 * S + 40 * MS);
  /* The restart's quiet has no clear behind it. */
  assert_only (tick (&f, 24 * S + 40 * MS), VDM_ADAPT_STEP_UP, 24 * S + 40 * MS, 720, 1080,
      NULL);
  g_assert_cmpuint (f.p.steps_down, ==, 2);
  g_assert_cmpuint (f.p.steps_up, ==, 2);
}

static void
test_lower_bitrate_without_substream (void)
{
  Fixture f;

  setup (&f);
  assert_only (warn (&f, 10 * S, "lower-bitrate", W1), VDM_ADAPT_STEP_DOWN, 10 * S, 1080, 720,
      W1);
  g_assert_false (vdm_adapt_policy_on_substream (&f.p));
}

/* The policy does not rate-limit keyframe requests (vdropmon already posts
 * one warning per new cause, at most every warning-interval): each such
 * warning asks for one, and none of them counts as a change for min-dwell. */
static void
test_keyframe_requests (void)
{
  Fixture f;
  int64_t t;

  setup (&f);
  for (t = 10 * S; t < 10 * S + 300 * MS; t += 100 * MS)
    assert_only (warn (&f, t, "request-keyframe", W1), VDM_ADAPT_REQUEST_KEYFRAME, t, 1080, 1080,
        W1);
  assert_only (warn (&f, 10 * S + 300 * MS, "lower-resolution", W2), VDM_ADAPT_STEP_DOWN,
      10 * S + 300 * MS, 1080, 720, W2);
}

static void
test_other_actions (void)
{
  Fixture f;

  setup (&f);
  assert_only (warn (&f, S, "circuit-break", W1), VDM_ADAPT_HOLD, S, 1080, 1080, W1);
  assert_only (warn (&f, 2 * S, "reinit-device", W1), VDM_ADAPT_RESTART_SOURCE, 2 * S, 1080,
      1080, W1);
  assert_only (warn (&f, 3 * S, "none", W1), VDM_ADAPT_IGNORE, 3 * S, 1080, 1080, W1);
  assert_only (warn (&f, 4 * S, NULL, W1), VDM_ADAPT_IGNORE, 4 * S, 1080, 1080, W1);
  assert_only (warn (&f, 5 * S, "reboot-the-world", W1), VDM_ADAPT_IGNORE, 5 * S, 1080, 1080,
      W1);
  assert_only (clear (&f, 6 * S, C1), VDM_ADAPT_CLEAR, 6 * S, 1080, 1080, C1);
  g_assert_cmpstr (f.out.d[0].note, ==, "at the top already");
  /* None of these was a change: a step down now is not deferred. */
  assert_only (warn (&f, 6 * S + 1, "lower-resolution", W2), VDM_ADAPT_STEP_DOWN, 6 * S + 1,
      1080, 720, W2);
  g_assert_cmpuint (f.p.warnings, ==, 6);
  g_assert_cmpuint (f.p.clears, ==, 1);
}

static void
test_names (void)
{
  g_assert_cmpint (vdm_adapt_action_from_string ("lower-resolution"), ==,
      VDM_ADAPT_ACTION_LOWER_RESOLUTION);
  g_assert_cmpint (vdm_adapt_action_from_string ("lower-bitrate"), ==,
      VDM_ADAPT_ACTION_LOWER_BITRATE);
  g_assert_cmpint (vdm_adapt_action_from_string ("request-keyframe"), ==,
      VDM_ADAPT_ACTION_REQUEST_KEYFRAME);
  g_assert_cmpint (vdm_adapt_action_from_string ("circuit-break"), ==,
      VDM_ADAPT_ACTION_CIRCUIT_BREAK);
  g_assert_cmpint (vdm_adapt_action_from_string ("reinit-device"), ==,
      VDM_ADAPT_ACTION_REINIT_DEVICE);
  g_assert_cmpint (vdm_adapt_action_from_string ("Lower-Resolution"), ==,
      VDM_ADAPT_ACTION_UNKNOWN);
  g_assert_cmpstr (vdm_adapt_event_name (VDM_ADAPT_SWITCH_SUBSTREAM), ==, "switch-substream");
  g_assert_cmpstr (vdm_adapt_event_name (VDM_ADAPT_CLEAR), ==, "clear");
  g_assert_cmpstr (vdm_adapt_event_name ((vdm_adapt_event) 99), ==, "unknown");
}

static void
test_build_ladder (void)
{
  int ladder[VDM_ADAPT_MAX_RUNGS];
  int many[VDM_ADAPT_MAX_RUNGS];
  unsigned i;

  g_assert_cmpuint (vdm_adapt_build_ladder (1080, (const int[]) {480, 720, 1080, 2160, 720}, 5,
          ladder), ==, 3);
  g_assert_cmpint (ladder[0], ==, 1080);
  g_assert_cmpint (ladder[1], ==, 720);
  g_assert_cmpint (ladder[2], ==, 480);
  /* The start height is a rung even when not listed. */
  g_assert_cmpuint (vdm_adapt_build_ladder (600, (const int[]) {1080, 360}, 2, ladder), ==, 2);
  g_assert_cmpint (ladder[0], ==, 600);
  g_assert_cmpint (ladder[1], ==, 360);
  for (i = 0; i < VDM_ADAPT_MAX_RUNGS; i++)
    many[i] = 100 + (int) i;
  g_assert_cmpuint (vdm_adapt_build_ladder (2000, many, VDM_ADAPT_MAX_RUNGS - 1, ladder), ==,
      VDM_ADAPT_MAX_RUNGS);
  g_assert_cmpuint (vdm_adapt_build_ladder (2000, many, VDM_ADAPT_MAX_RUNGS, ladder), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* Tags held by the policy are released, and live as long as a decision. */

static GHashTable *held;

static const void *
count_retain (const void *tag)
{
  g_hash_table_insert (held, (gpointer) tag,
      GINT_TO_POINTER (GPOINTER_TO_INT (g_hash_table_lookup (held, tag)) + 1));
  return tag;
}

static void
count_release (const void *tag)
{
  gint n = GPOINTER_TO_INT (g_hash_table_lookup (held, tag));

  g_assert_cmpint (n, >, 0);
  g_hash_table_insert (held, (gpointer) tag, GINT_TO_POINTER (n - 1));
}

static gint
holds (const void *tag)
{
  return GPOINTER_TO_INT (g_hash_table_lookup (held, tag));
}

static void
test_tags_held_and_released (void)
{
  vdm_adapt_config c = {.ladder = {1080, 720, 480},.n_rungs = 3,.min_dwell_ns = 2 * S,
    .step_up_after_ns = 5 * S,.retain = count_retain,.release = count_release
  };
  vdm_adapt_policy p;
  vdm_adapt_decisions out;
  vdm_adapt_warning w = {.action = VDM_ADAPT_ACTION_LOWER_RESOLUTION,.tag = W1 };

  held = g_hash_table_new (NULL, NULL);
  vdm_adapt_policy_init (&p, &c);
  vdm_adapt_policy_on_warning (&p, 10 * S, &w, &out);
  vdm_adapt_decisions_release (&p, &out);
  w.tag = W2;
  vdm_adapt_policy_on_warning (&p, 11 * S, &w, &out);       /* deferred: held */
  vdm_adapt_decisions_release (&p, &out);
  g_assert_cmpint (holds (W2), ==, 1);
  vdm_adapt_policy_tick (&p, 12 * S, &out);
  /* The policy let go of it, the decision still holds it. */
  g_assert_true (out.d[0].reason == W2);
  g_assert_cmpint (holds (W2), ==, 1);
  vdm_adapt_decisions_release (&p, &out);
  g_assert_cmpint (holds (W2), ==, 0);
  vdm_adapt_policy_on_clear (&p, 13 * S, C1, &out);         /* the quiet's reason */
  vdm_adapt_decisions_release (&p, &out);
  g_assert_cmpint (holds (C1), ==, 1);
  vdm_adapt_policy_clear (&p);
  g_assert_cmpint (holds (W1), ==, 0);
  g_assert_cmpint (holds (C1), ==, 0);
  g_hash_table_unref (held);
}

/* ------------------------------------------------------------------------ */
/* Oscillation between two rungs is bounded.
 *
 * Claim: with min-dwell D and step-up-after U, two changes are at least D
 * apart, and a step up comes at least P = max (U, D) after the step down
 * before it. Why: a deferred change is carried out at the end of the
 * dwell, never earlier. A step up needs a quiet begun by a clear c after
 * the last warning and comes at c + U or later. The step down at s was
 * made on a warning w <= s, with no clear in between (a clear cancels a
 * deferred move), so c >= s and the step up is at s + U or later.
 * Between two rungs changes alternate, down-up gaps >= P, up-down >= D:
 * k changes span at least floor ((k-1)/2) P + ceil ((k-1)/2) D, so a window
 * of W holds at most 2 floor (W / (P + D)) + 2 of them.
 *
 * The test plays adversarial sequences of warnings and clears (one that
 * chases the policy, many random ones), carries out every deadline on
 * time, and checks the gaps and the count in every window. */

#define WINDOW (60 * S)

typedef struct {
  int64_t time;
  gboolean up;
} Change;

static void
record_changes (const vdm_adapt_decisions * out, GArray * changes)
{
  unsigned i;

  for (i = 0; i < out->n; i++) {
    Change c = {.time = out->d[i].time_ns };

    if (out->d[i].event != VDM_ADAPT_STEP_DOWN && out->d[i].event != VDM_ADAPT_STEP_UP)
      continue;
    c.up = out->d[i].event == VDM_ADAPT_STEP_UP;
    g_array_append_val (changes, c);
  }
}

/* Carries out every deadline up to and including `t`, in order. */
static void
run_until (Fixture * f, int64_t t, GArray * changes)
{
  int64_t due;

  while ((due = vdm_adapt_policy_next_deadline (&f->p)) <= t && due != VDM_ADAPT_NEVER)
    record_changes (tick (f, due), changes);
}

static guint
bound_for_window (int64_t window, int64_t dwell, int64_t up_after)
{
  int64_t cycle = MAX (up_after, dwell) + dwell;

  return 2 * (guint) (window / cycle) + 2;
}

/* The most changes in any window [t, t + window]; checks the gaps. */
static guint
most_in_window (GArray * changes, int64_t window, int64_t dwell, int64_t up_after)
{
  guint i, j, most = 0;

  for (i = 0; i < changes->len; i++) {
    const Change *c = &g_array_index (changes, Change, i);

    if (i > 0) {
      const Change *prev = &g_array_index (changes, Change, i - 1);

      g_assert_cmpint (c->time - prev->time, >=, dwell);
      g_assert_true (c->up != prev->up);        /* two rungs: they alternate */
      if (c->up)
        g_assert_cmpint (c->time - prev->time, >=, MAX (up_after, dwell));
    }
    for (j = i; j < changes->len && g_array_index (changes, Change, j).time <= c->time + window;)
      j++;
    most = MAX (most, j - i);
  }
  return most;
}

/* The adversary that chases the policy: a warning a millisecond after
 * every step up (deferred to the end of the dwell), a clear a millisecond
 * after every step down. It reaches the bound less one. */
static void
test_oscillation_chaser (void)
{
  const int64_t dwell = 2 * S, up_after = 5 * S, eps = MS;
  GArray *changes = g_array_new (FALSE, FALSE, sizeof (Change));
  Fixture f;
  int64_t t = 10 * S;
  guint most, bound = bound_for_window (WINDOW, dwell, up_after);

  setup_with (&f, (const int[]) {720, 480}, 2, dwell, up_after, FALSE);
  record_changes (warn (&f, t, "lower-resolution", W1), changes);
  while (t < 10 * S + 10 * WINDOW) {
    Change last = g_array_index (changes, Change, changes->len - 1);
    int64_t when = last.time + eps;

    run_until (&f, when - 1, changes);
    if (last.up)
      record_changes (warn (&f, when, "lower-resolution", W1), changes);
    else
      record_changes (clear (&f, when, C1), changes);
    /* Nothing due would mean it stopped moving: the test fails below. */
    if (vdm_adapt_policy_next_deadline (&f.p) == VDM_ADAPT_NEVER)
      break;
    run_until (&f, vdm_adapt_policy_next_deadline (&f.p), changes);
    t = g_array_index (changes, Change, changes->len - 1).time;
  }
  most = most_in_window (changes, WINDOW, dwell, up_after);
  g_test_message ("chaser: %u changes in all, at most %u in %d s (bound %u)", changes->len,
      most, (int) (WINDOW / S), bound);
  g_assert_cmpuint (most, <=, bound);
  g_assert_cmpuint (most, >=, bound - 1);
  g_assert_cmpint (t, >=, 10 * S + 10 * WINDOW);
  g_array_unref (changes);
}

/* Random warnings (of every action) and clears, at whole milliseconds so
 * that ties with deadlines happen, with several (D, U). */
static void
test_oscillation_random (void)
{
  static const char *const actions[] = { "lower-resolution", "lower-bitrate",
    "request-keyframe", "circuit-break"
  };
  static const int64_t params[][2] = { {2 * S, 5 * S}, {1 * S, 60 * S}, {2 * S, 500 * MS},
  {0, 1 * S}, {3 * S, 3 * S}
  };
  guint seed, k;

  for (k = 0; k < G_N_ELEMENTS (params); k++) {
    const int64_t dwell = params[k][0], up_after = params[k][1];
    guint bound = bound_for_window (WINDOW, dwell, up_after);
    /* Events about as far apart as a cycle, so that it does oscillate. */
    gint max_gap_ms = (gint) ((MAX (up_after, dwell) + dwell) * 3 / 2 / MS);

    for (seed = 1; seed <= 20; seed++) {
      GRand *rand = g_rand_new_with_seed (seed * 7919 + k);
      GArray *changes = g_array_new (FALSE, FALSE, sizeof (Change));
      Fixture f;
      int64_t t = S;
      guint i, most;

      setup_with (&f, (const int[]) {720, 480}, 2, dwell, up_after, FALSE);
      for (i = 0; i < 3000; i++) {
        t += g_rand_int_range (rand, 1, max_gap_ms) * MS;
        run_until (&f, t, changes);
        if (g_rand_boolean (rand))
          record_changes (clear (&f, t, C1), changes);
        else
          record_changes (warn (&f, t, actions[g_rand_int_range (rand, 0, 4)], W1), changes);
      }
      run_until (&f, t + 100 * S, changes);
      most = most_in_window (changes, WINDOW, dwell, up_after);
      g_assert_cmpuint (most, <=, bound);
      g_assert_cmpuint (changes->len, >, 10);   /* it did oscillate */
      g_array_unref (changes);
      g_rand_free (rand);
    }
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/adapt-policy/step-down-at-once", test_step_down_at_once);
  g_test_add_func ("/adapt-policy/min-dwell-defers", test_min_dwell_defers);
  g_test_add_func ("/adapt-policy/clear-cancels-deferred", test_clear_cancels_deferred);
  g_test_add_func ("/adapt-policy/floor-is-no-change", test_floor_is_no_change);
  g_test_add_func ("/adapt-policy/step-up-after-quiet", test_step_up_after_quiet);
  g_test_add_func ("/adapt-policy/warning-stops-the-climb", test_warning_stops_the_climb);
  g_test_add_func ("/adapt-policy/climb-rung-by-rung", test_climb_rung_by_rung);
  g_test_add_func ("/adapt-policy/step-up-within-dwell", test_step_up_within_dwell);
  g_test_add_func ("/adapt-policy/warning-keeps-deferred-step-down",
      test_warning_keeps_deferred_step_down);
  g_test_add_func ("/adapt-policy/substream", test_substream);
  g_test_add_func ("/adapt-policy/lower-bitrate-without-substream",
      test_lower_bitrate_without_substream);
  g_test_add_func ("/adapt-policy/keyframe-requests", test_keyframe_requests);
  g_test_add_func ("/adapt-policy/other-actions", test_other_actions);
  g_test_add_func ("/adapt-policy/names", test_names);
  g_test_add_func ("/adapt-policy/build-ladder", test_build_ladder);
  g_test_add_func ("/adapt-policy/tags-held-and-released", test_tags_held_and_released);
  g_test_add_func ("/adapt-policy/oscillation-chaser", test_oscillation_chaser);
  g_test_add_func ("/adapt-policy/oscillation-random", test_oscillation_random);
  return g_test_run ();
}
