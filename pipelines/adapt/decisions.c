/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * decisions.c — vdropmon's warnings and clears go into the policy
 * (policy.h) with the time; what it decides is carried out here (new
 * caps, a keyframe request, a rebuilt pipeline) and logged. One GLib timer
 * waits for the policy's next deadline.
 */
#include "adapter.h"

#include <math.h>
#include <string.h>

static void
replace_structure (GstStructure ** slot, const GstStructure * s)
{
  if (*slot)
    gst_structure_free (*slot);
  *slot = s ? gst_structure_copy (s) : NULL;
}

gint
current_height (const Adapter * a)
{
  return vdm_adapt_policy_height (&a->policy);
}

gboolean
on_substream (const Adapter * a)
{
  return vdm_adapt_policy_on_substream (&a->policy);
}

const gchar *
current_uri (const Adapter * a)
{
  return on_substream (a) ? a->opts->substream_uri : a->opts->uri;
}

/* One decision: a line on stdout and a JSON object in --log. `reason` is the
 * message behind it (a warning, a clear), or NULL. */
void
log_decision (Adapter * a, const gchar * event, gint from, gint to,
    const GstStructure * reason, const gchar * note)
{
  DecisionRecord r = {.time_ns = mono_now_ns (),.running_time = pipeline_running_time (a),
    .event = event,.from_height = from,.to_height = to,.uri = current_uri (a),.note = note,
    .reason = reason
  };

  decision_log_print (&r);
  pipeline_refresh_overlay (a);
  if (a->log)
    decision_log_write (a->log, &r);
}

void
decisions_on_renegotiated (Adapter * a, const GstStructure * s)
{
  gint width = 0, height = 0;
  g_autofree gchar *note = NULL;

  gst_structure_get_int (s, "width", &width);
  gst_structure_get_int (s, "height", &height);
  if (a->change_pending_since)
    note = g_strdup_printf ("%dx%d, %" G_GINT64_FORMAT " ms after the decision",
        width, height, (mono_now_ns () - a->change_pending_since) / 1000000);
  else
    note = g_strdup_printf ("%dx%d", width, height);
  if (height == current_height (a))
    a->change_pending_since = 0;
  log_decision (a, "renegotiated", height, height, NULL, note);
}

static void
clear_timer (guint * id)
{
  if (*id) {
    g_source_remove (*id);
    *id = 0;
  }
}

static gboolean
restart_in_idle (gpointer user_data)
{
  Adapter *a = user_data;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *uri = g_steal_pointer (&a->restart_uri);

  a->restart_idle = 0;
  if (a->stopping)
    return G_SOURCE_REMOVE;
  if (!pipeline_start (a, uri, &err)) {
    g_printerr ("vdm-adapt: restarting with %s failed: %s\n", uri, err->message);
    a->exit_code = EXIT_RUNTIME;
    g_main_loop_quit (a->loop);
  }
  return G_SOURCE_REMOVE;
}

/* Rebuilds the pipeline with `uri`, from the main loop but not from inside
 * the bus watch that is about to go away with the old pipeline. */
static void
schedule_restart (Adapter * a, const gchar * uri)
{
  g_free (a->restart_uri);
  a->restart_uri = g_strdup (uri);
  if (!a->restart_idle)
    a->restart_idle = g_idle_add (restart_in_idle, a);
}

static void
carry_out_keyframe_request (Adapter * a, const GstStructure * reason)
{
  gint height = current_height (a);

  if (pipeline_vdropmon_requests_keyframes (a))
    log_decision (a, "keyframe-by-vdropmon", height, height, reason,
        "vdropmon's request-keyframe property sent it");
  else
    log_decision (a, "request-keyframe", height, height, reason,
        pipeline_request_keyframe (a) ? "GstForceKeyUnit sent upstream, handled"
        : "GstForceKeyUnit sent upstream, reached the source unhandled");
}

static void
carry_out (Adapter * a, const vdm_adapt_decision * d)
{
  const GstStructure *reason = d->reason ?
      gst_message_get_structure ((GstMessage *) d->reason) : NULL;
  const gchar *event = vdm_adapt_event_name (d->event);

  switch (d->event) {
    case VDM_ADAPT_STEP_DOWN:
    case VDM_ADAPT_STEP_UP:
      g_atomic_int_set (&a->target_height, d->to_height);
      pipeline_apply_height (a);
      a->change_pending_since = d->time_ns;
      log_decision (a, event, d->from_height, d->to_height, reason, d->note);
      break;
    case VDM_ADAPT_SWITCH_SUBSTREAM:
    case VDM_ADAPT_SWITCH_MAIN:
    case VDM_ADAPT_RESTART_SOURCE:
      a->change_pending_since = 0;
      log_decision (a, event, d->from_height, d->to_height, reason, current_uri (a));
      schedule_restart (a, current_uri (a));
      break;
    case VDM_ADAPT_REQUEST_KEYFRAME:
      carry_out_keyframe_request (a, reason);
      break;
    default:
      log_decision (a, event, d->from_height, d->to_height, reason, d->note);
      break;
  }
}

static void arm_policy_timer (Adapter * a);

/* Carries out what the policy decided, then waits for its next deadline. */
static void
carry_out_all (Adapter * a, vdm_adapt_decisions * out)
{
  guint i;

  for (i = 0; i < out->n; i++)
    carry_out (a, &out->d[i]);
  vdm_adapt_decisions_release (&a->policy, out);
  arm_policy_timer (a);
}

static gboolean
on_policy_due (gpointer user_data)
{
  Adapter *a = user_data;
  vdm_adapt_decisions out;

  a->policy_timer = 0;
  if (a->stopping)
    return G_SOURCE_REMOVE;
  vdm_adapt_policy_tick (&a->policy, mono_now_ns (), &out);
  carry_out_all (a, &out);
  return G_SOURCE_REMOVE;
}

static void
arm_policy_timer (Adapter * a)
{
  gint64 due = vdm_adapt_policy_next_deadline (&a->policy);
  gint64 left;

  clear_timer (&a->policy_timer);
  if (due == VDM_ADAPT_NEVER)
    return;
  left = MAX (0, due - mono_now_ns ());
  /* Rounded up: the policy does nothing before its deadline. */
  a->policy_timer = g_timeout_add ((guint) MIN ((left + 999999) / 1000000, G_MAXUINT),
      on_policy_due, a);
}

static const void *
retain_message (const void *message)
{
  return gst_message_ref ((GstMessage *) message);
}

static void
release_message (const void *message)
{
  gst_message_unref ((GstMessage *) message);
}

void
decisions_init (Adapter * a)
{
  const Options *o = a->opts;
  vdm_adapt_config config = {.n_rungs = o->n_rungs,.has_substream = o->substream_uri != NULL,
    .min_dwell_ns = (gint64) round (o->min_dwell_s * 1e9),
    .step_up_after_ns = (gint64) round (o->step_up_after_s * 1e9),
    .retain = retain_message,.release = release_message
  };

  memcpy (config.ladder, o->ladder, sizeof (config.ladder));
  vdm_adapt_policy_init (&a->policy, &config);
  g_atomic_int_set (&a->target_height, current_height (a));
}

static gint
int_field (const GstStructure * s, const gchar * name)
{
  gint value = -1;

  gst_structure_get_int (s, name, &value);
  return value;
}

void
decisions_on_warning (Adapter * a, GstMessage * message)
{
  const GstStructure *s = gst_message_get_structure (message);
  vdm_adapt_warning warning = {
    .action = vdm_adapt_action_from_string (gst_structure_get_string (s, "action")),
    .level = gst_structure_get_string (s, "level"),
    .cause = gst_structure_get_string (s, "cause"),
    .suggested_height = int_field (s, "suggested-height"),
    .suggested_bitrate = int_field (s, "suggested-bitrate"),
    .tag = message,
  };
  vdm_adapt_decisions out;

  replace_structure (&a->overlay_warning, s);
  vdm_adapt_policy_on_warning (&a->policy, mono_now_ns (), &warning, &out);
  carry_out_all (a, &out);
}

void
decisions_on_clear (Adapter * a, GstMessage * message)
{
  vdm_adapt_decisions out;

  replace_structure (&a->overlay_warning, NULL);
  vdm_adapt_policy_on_clear (&a->policy, mono_now_ns (), message, &out);
  carry_out_all (a, &out);
}

void
decisions_on_source_restarted (Adapter * a)
{
  vdm_adapt_policy_on_source_restarted (&a->policy, mono_now_ns ());
  arm_policy_timer (a);
}

void
decisions_clear (Adapter * a)
{
  clear_timer (&a->policy_timer);
  vdm_adapt_policy_clear (&a->policy);
  replace_structure (&a->overlay_warning, NULL);
  g_clear_pointer (&a->restart_uri, g_free);
}
