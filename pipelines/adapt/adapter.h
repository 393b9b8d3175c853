/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * adapter.h — what vdm-adapt's parts share: the running pipeline, the
 * policy and the logs, and the calls one part makes into another. All of
 * it runs in the main loop unless a comment says otherwise.
 *
 *   vdm-adapt.c     main: logs, signals, --duration-s, shutdown
 *   options.c       the command line
 *   source.c        the pipeline description, by URI
 *   pipeline.c      building and stopping it; probes, the output height,
 *                   keyframe requests, the overlay
 *   bus.c           the bus watch: messages to the parts that handle them
 *   decisions.c     vdropmon's warnings and clears into the policy, its
 *                   decisions carried out and logged
 *   policy.c        the adaptation policy (no GStreamer)
 *   decision_log.c  --log (JSON lines) and the lines on stdout
 *   frame_log.c     --frame-log
 */
#ifndef VDM_ADAPT_ADAPTER_H
#define VDM_ADAPT_ADAPTER_H

#include <gst/gst.h>
#include <time.h>

#include "decision_log.h"
#include "frame_log.h"
#include "options.h"
#include "policy.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

typedef struct
{
  Options *opts;
  GMainLoop *loop;
  GstElement *pipeline;
  GstElement *vdropmon;
  GstElement *scale;            /* the capsfilter */
  GstElement *overlay;          /* NULL without --overlay */
  guint bus_watch;
  DecisionLog *log;             /* NULL without --log */
  FrameLog *frame_log;          /* NULL without --frame-log */
  gint exit_code;
  gboolean stopping;

  /* What the decoder delivers, for the output width: written by a pad
   * probe in the streaming thread, read by the main loop. */
  GMutex input_lock;
  gint input_width, input_height, input_par_n, input_par_d;

  /* The policy decides (policy.h); its reasons are the GstMessages of
   * vdropmon's warnings and clears. */
  vdm_adapt_policy policy;
  guint policy_timer;           /* until the policy's next deadline */
  gint target_height;           /* the policy's height, atomic: the input probe reads it */
  gboolean started_once;
  GstStructure *overlay_warning; /* the last warning; NULL after a clear */
  gint64 change_pending_since;  /* decision time of a rung change not yet seen downstream */
  guint restart_idle;
  gchar *restart_uri;
} Adapter;

static inline gint64
mono_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* decisions.c */
void decisions_init (Adapter * a);
void decisions_clear (Adapter * a);
void decisions_on_warning (Adapter * a, GstMessage * warning);
void decisions_on_clear (Adapter * a, GstMessage * clear);
/* A rebuilt pipeline (not the first): the quiet starts now. */
void decisions_on_source_restarted (Adapter * a);
/* New caps left the capsfilter ("vdm-adapt-renegotiated", from pipeline.c). */
void decisions_on_renegotiated (Adapter * a, const GstStructure * s);
/* A line on stdout and in --log; `reason`: the message behind it, or NULL. */
void log_decision (Adapter * a, const gchar * event, gint from, gint to,
    const GstStructure * reason, const gchar * note);
gint current_height (const Adapter * a);
gboolean on_substream (const Adapter * a);
const gchar *current_uri (const Adapter * a);

/* pipeline.c */
/* Builds the pipeline for `uri` at the current height and sets it PLAYING;
 * an existing one is stopped first. */
gboolean pipeline_start (Adapter * a, const gchar * uri, GError ** err);
void pipeline_stop (Adapter * a);
/* The capsfilter to the target height, renegotiated while PLAYING. */
void pipeline_apply_height (Adapter * a);
/* A GstForceKeyUnit upstream; TRUE if an element handled it. */
gboolean pipeline_request_keyframe (Adapter * a);
/* vdropmon's own request-keyframe property: it asks already. */
gboolean pipeline_vdropmon_requests_keyframes (Adapter * a);
void pipeline_refresh_overlay (Adapter * a);
GstClockTime pipeline_running_time (const Adapter * a);

/* bus.c */
guint bus_watch_add (Adapter * a);

#endif
