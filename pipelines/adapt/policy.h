/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy.h — vdm-adapt's adaptation policy as a state machine: what to do
 * on a vdropmon-warning, on a vdropmon-clear and as time passes. No
 * GStreamer, no clock of its own, no timers: every input carries the time
 * (CLOCK_MONOTONIC ns in vdm-adapt, anything monotonic in tests), and the
 * caller asks for the next deadline and calls vdm_adapt_policy_tick() when
 * it is reached. Outputs are decisions (docs/adaptation.md, "Hysteresis"):
 *
 *   down fast      a lower-resolution warning → one rung down at once;
 *                  lower-bitrate → the sub-stream if there is one, else a
 *                  rung down
 *   min-dwell      never two changes within min_dwell_ns: a change asked
 *                  for earlier is deferred to the end of the dwell, a newer
 *                  one replaces it, a clear cancels it
 *   up slowly      after a clear (or a source restart), step_up_after_ns
 *                  with no warning → one rung up (back to the main stream
 *                  first), again after as long, up to the top rung; any
 *                  warning stops the climb
 *
 * Messages are opaque to the policy: the caller passes a tag for each
 * warning and clear (vdm-adapt: the GstMessage) and gets it back as the
 * reason of the decisions it caused, also of deferred ones and of step-ups
 * (the clear that began the quiet). With retain/release set, the policy
 * holds the tags it keeps for later; with NULL it stores them as they are.
 */
#ifndef VDM_ADAPT_POLICY_H
#define VDM_ADAPT_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#define VDM_ADAPT_MAX_RUNGS 16
#define VDM_ADAPT_NEVER INT64_MAX
/* Enough for any one input: a cancel plus a move, or a due deferred move
 * plus a due step-up. */
#define VDM_ADAPT_MAX_DECISIONS 4

/* A warning's `action` field (docs/messages.md). */
typedef enum {
  VDM_ADAPT_ACTION_NONE,
  VDM_ADAPT_ACTION_LOWER_RESOLUTION,
  VDM_ADAPT_ACTION_LOWER_BITRATE,
  VDM_ADAPT_ACTION_REQUEST_KEYFRAME,
  VDM_ADAPT_ACTION_CIRCUIT_BREAK,
  VDM_ADAPT_ACTION_REINIT_DEVICE,
  VDM_ADAPT_ACTION_UNKNOWN,      /* a value this policy does not know */
} vdm_adapt_action;

/* What was decided; the names are the `event` of vdm-adapt's log. */
typedef enum {
  VDM_ADAPT_STEP_DOWN,           /* one rung down */
  VDM_ADAPT_STEP_UP,             /* one rung up */
  VDM_ADAPT_FLOOR,               /* a step down asked for on the lowest rung */
  VDM_ADAPT_DEFER,               /* a change asked for within min-dwell */
  VDM_ADAPT_CANCEL,              /* a deferred change dropped */
  VDM_ADAPT_SWITCH_SUBSTREAM,    /* rebuild the pipeline with the sub-stream */
  VDM_ADAPT_SWITCH_MAIN,         /* rebuild it with the main URI */
  VDM_ADAPT_REQUEST_KEYFRAME,
  VDM_ADAPT_HOLD,                /* circuit-break: a lone burst, no change */
  VDM_ADAPT_RESTART_SOURCE,      /* rebuild it with the URI in use */
  VDM_ADAPT_IGNORE,              /* no action to take */
  VDM_ADAPT_CLEAR,               /* a clear was seen: the quiet begins */
} vdm_adapt_event;

typedef struct {
  vdm_adapt_action action;
  /* The rest of the warning, as vdropmon posted it. This policy acts on
   * `action` alone (docs/adaptation.md, "One warning per new cause"); they
   * are here for policies that would not. -1 = not suggested. */
  const char *level;
  const char *cause;
  int suggested_height;
  int suggested_bitrate;
  const void *tag;               /* returned as the reason of its decisions */
} vdm_adapt_warning;

typedef struct {
  vdm_adapt_event event;
  int64_t time_ns;
  int from_height, to_height;    /* equal when the rung did not change */
  bool on_substream;             /* after the decision */
  const void *reason;            /* the tag of the message behind it, or NULL */
  const char *note;              /* a few words, static; NULL: none */
} vdm_adapt_decision;

typedef struct {
  unsigned n;
  vdm_adapt_decision d[VDM_ADAPT_MAX_DECISIONS];
} vdm_adapt_decisions;

typedef struct {
  int ladder[VDM_ADAPT_MAX_RUNGS];  /* heights, highest first */
  unsigned n_rungs;
  bool has_substream;
  int64_t min_dwell_ns;
  int64_t step_up_after_ns;
  const void *(*retain) (const void *tag);  /* both NULL: tags kept as they are */
  void (*release) (const void *tag);
} vdm_adapt_config;

typedef enum {
  VDM_ADAPT_MOVE_NONE,
  VDM_ADAPT_MOVE_DOWN,
  VDM_ADAPT_MOVE_UP,
  VDM_ADAPT_MOVE_TO_SUBSTREAM,
  VDM_ADAPT_MOVE_TO_MAIN,
} vdm_adapt_move;

typedef struct {
  vdm_adapt_config config;
  unsigned rung;                 /* index into config.ladder */
  bool on_substream;
  bool changed_once;
  int64_t last_change_ns;
  bool quiet;                    /* after a clear or a restart, until a warning */
  const void *quiet_reason;      /* the clear that began it; NULL after a restart */
  int64_t step_up_due_ns;        /* VDM_ADAPT_NEVER: not armed */
  vdm_adapt_move deferred_move;
  const void *deferred_reason;
  int64_t deferred_due_ns;
  unsigned warnings, clears, steps_down, steps_up;
} vdm_adapt_policy;

/* The ladder from `heights` (any order, duplicates allowed): top_height
 * first, then the heights below it, highest first, without duplicates;
 * heights at or above top_height are left out. Returns the number of rungs,
 * or 0 if they would be more than VDM_ADAPT_MAX_RUNGS. */
unsigned vdm_adapt_build_ladder (int top_height, const int *heights, unsigned n_heights,
    int ladder[VDM_ADAPT_MAX_RUNGS]);

/* "lower-resolution" → VDM_ADAPT_ACTION_LOWER_RESOLUTION ...; NULL and
 * "none" → NONE; anything else → UNKNOWN. */
vdm_adapt_action vdm_adapt_action_from_string (const char *action);
/* "step-down", "defer", ...: the log's `event`. */
const char *vdm_adapt_event_name (vdm_adapt_event event);

/* Starts on the top rung, on the main stream, not quiet: the first climb
 * needs a clear or a restart. config->n_rungs must be at least 1. */
void vdm_adapt_policy_init (vdm_adapt_policy *policy, const vdm_adapt_config *config);
void vdm_adapt_policy_clear (vdm_adapt_policy *policy);

void vdm_adapt_policy_on_warning (vdm_adapt_policy *policy, int64_t now_ns,
    const vdm_adapt_warning *warning, vdm_adapt_decisions *out);
void vdm_adapt_policy_on_clear (vdm_adapt_policy *policy, int64_t now_ns, const void *tag,
    vdm_adapt_decisions *out);
/* The source was rebuilt (after a switch or restart-source decision): the
 * new vdropmon has no episode whose clear would come, so the quiet that
 * counts toward stepping up starts now. */
void vdm_adapt_policy_on_source_restarted (vdm_adapt_policy *policy, int64_t now_ns);
/* Carries out what is due at now_ns: a deferred change, a step-up. */
void vdm_adapt_policy_tick (vdm_adapt_policy *policy, int64_t now_ns, vdm_adapt_decisions *out);
/* Every call above fills `out` (from empty) with the decisions it made,
 * which hold their reasons until this is called. */
void vdm_adapt_decisions_release (vdm_adapt_policy *policy, vdm_adapt_decisions *out);
/* When tick() has something to do next; VDM_ADAPT_NEVER: nothing. */
int64_t vdm_adapt_policy_next_deadline (const vdm_adapt_policy *policy);

int vdm_adapt_policy_height (const vdm_adapt_policy *policy);
bool vdm_adapt_policy_on_substream (const vdm_adapt_policy *policy);

#endif
