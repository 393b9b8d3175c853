/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdm-adapt — an example application that plays or relays a live H.264
 * stream and adapts *before* the picture freezes, driven by vdropmon's bus
 * messages (docs/adaptation.md explains the policy, docs/messages.md the
 * messages).
 *
 *   SOURCE ! vdropmon ! ... ! avdec_h264 ! videoscale
 *     ! capsfilter name=scale caps=video/x-raw,height=H [! textoverlay]
 *     ! videoconvert ! SINK
 *
 * SOURCE by URI: rtsp://… (rtspsrc), http://….flv (souphttpsrc ! flvdemux),
 * udp://[ADDR:]PORT (udpsrc, plain RTP H.264 payload 96, + rtpjitterbuffer).
 *
 * On vdropmon-warning, by its action:
 *   lower-resolution  one rung down the height ladder (new capsfilter caps;
 *                     videoscale renegotiates while PLAYING)
 *   lower-bitrate     switch to --substream-uri if given (the pipeline is
 *                     rebuilt), else one rung down
 *   request-keyframe  send a GstForceKeyUnit upstream, unless vdropmon's own
 *                     request-keyframe property already did
 *   circuit-break     hold (log only): a lone burst
 *   reinit-device     restart the source (the pipeline is rebuilt)
 * Hysteresis: after vdropmon-clear, --step-up-after seconds without a new
 * warning → one rung back up (or back to the main URI), and again after as
 * long, up to --start-height; never two changes within --min-dwell.
 *
 * Every decision is printed on stdout and, with --log, written as one JSON
 * object per line (fields in docs/adaptation.md), so that tests can check
 * what was decided and when; with --frame-log, the time of every frame
 * shown, so that they can tell when the picture froze.
 *
 * Exit status: 0 after EOS, --duration-s or SIGINT/SIGTERM; 1 on a pipeline
 * error; 2 on bad arguments.
 *
 * This file is main and the run's life; adapter.h lists the other parts.
 */
#include "adapter.h"

#include <glib-unix.h>
#include <math.h>

/* After EOS is sent on shutdown, how long to wait for it to reach the sinks. */
#define SHUTDOWN_GRACE_MS 3000

static guint
seconds_to_ms (gdouble seconds)
{
  return (guint) MAX (0.0, round (seconds * 1000.0));
}

static gboolean
quit_now (gpointer user_data)
{
  Adapter *a = user_data;

  g_main_loop_quit (a->loop);
  return G_SOURCE_REMOVE;
}

/* EOS first, so that the sinks finish (a relay's encoder drains) and
 * vdropmon posts the drops it still holds; then quit. */
static void
shut_down (Adapter * a)
{
  if (a->stopping) {
    g_main_loop_quit (a->loop);
    return;
  }
  a->stopping = TRUE;
  if (a->pipeline == NULL || !gst_element_send_event (a->pipeline, gst_event_new_eos ())) {
    g_main_loop_quit (a->loop);
    return;
  }
  /* Live sources may not turn EOS into an EOS message quickly: bounded. */
  g_timeout_add (SHUTDOWN_GRACE_MS, quit_now, a);
}

static gboolean
on_signal (gpointer user_data)
{
  Adapter *a = user_data;

  g_print ("vdm-adapt: signal, stopping\n");
  shut_down (a);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_duration_over (gpointer user_data)
{
  Adapter *a = user_data;

  log_decision (a, "duration-over", current_height (a), current_height (a), NULL, NULL);
  shut_down (a);
  return G_SOURCE_REMOVE;
}

static void
print_summary (const Adapter * a)
{
  g_print ("vdm-adapt: done: %u warnings, %u clears, %u steps down, %u steps up, "
      "ending at %dp%s\n", a->policy.warnings, a->policy.clears, a->policy.steps_down,
      a->policy.steps_up, current_height (a), on_substream (a) ? " (substream)" : "");
}

/* --log and --frame-log; FALSE after saying why not. */
static gboolean
open_logs (Adapter * a)
{
  g_autoptr (GError) err = NULL;

  if (a->opts->log_path && (a->log = decision_log_open (a->opts->log_path, &err)) == NULL) {
    g_printerr ("vdm-adapt: %s\n", err->message);
    return FALSE;
  }
  if (a->opts->frame_log_path
      && (a->frame_log = frame_log_open (a->opts->frame_log_path, &err)) == NULL) {
    g_printerr ("vdm-adapt: %s\n", err->message);
    return FALSE;
  }
  return TRUE;
}

/* vdropmon's last counters (kernel-drops, warnings, keyframe requests...)
 * go with the "stop" line, for whoever reads the log. */
static void
log_stop (Adapter * a)
{
  GstStructure *final_stats = NULL;

  if (a->vdropmon)
    g_object_get (a->vdropmon, "stats", &final_stats, NULL);
  log_decision (a, "stop", current_height (a), current_height (a), final_stats, NULL);
  if (final_stats)
    gst_structure_free (final_stats);
}

static void
adapter_clear (Adapter * a)
{
  pipeline_stop (a);
  decisions_clear (a);
  decision_log_close (a->log);
  frame_log_close (a->frame_log);
  if (a->loop)
    g_main_loop_unref (a->loop);
  g_mutex_clear (&a->input_lock);
}

int
main (int argc, char **argv)
{
  Options opts;
  Adapter a = {.opts = &opts };
  g_autoptr (GError) err = NULL;
  guint sigint, sigterm;
  gint exit_code;

  if (!options_parse (&opts, &argc, &argv))
    return EXIT_USAGE;
  g_mutex_init (&a.input_lock);
  if (!open_logs (&a)) {
    adapter_clear (&a);
    return EXIT_USAGE;
  }
  decisions_init (&a);
  a.loop = g_main_loop_new (NULL, FALSE);
  if (!pipeline_start (&a, opts.uri, &err)) {
    g_printerr ("vdm-adapt: %s\n", err->message);
    if (!gst_registry_check_feature_version (gst_registry_get (), "vdropmon", 1, 0, 0))
      g_printerr ("vdm-adapt: vdropmon not found: GST_PLUGIN_PATH=build/plugin?\n");
    adapter_clear (&a);
    /* A URI, --set or --sink that does not parse is a usage error. */
    return err->domain == G_OPTION_ERROR || err->domain == GST_PARSE_ERROR ?
        EXIT_USAGE : EXIT_RUNTIME;
  }
  sigint = g_unix_signal_add (SIGINT, on_signal, &a);
  sigterm = g_unix_signal_add (SIGTERM, on_signal, &a);
  if (opts.duration_s > 0)
    g_timeout_add (seconds_to_ms (opts.duration_s), on_duration_over, &a);
  g_main_loop_run (a.loop);

  log_stop (&a);
  pipeline_stop (&a);
  print_summary (&a);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  exit_code = a.exit_code;
  adapter_clear (&a);
  options_clear (&opts);
  return exit_code;
}
