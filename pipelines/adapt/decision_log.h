/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * decision_log.h — vdm-adapt's record of what it decided: one JSON object
 * per line in --log (fields in docs/adaptation.md, "The decision log";
 * tests/e2e/test_adapt.c reads them) and a shorter line on stdout.
 */
#ifndef VDM_ADAPT_DECISION_LOG_H
#define VDM_ADAPT_DECISION_LOG_H

#include <gst/gst.h>

typedef struct
{
  gint64 time_ns;               /* CLOCK_MONOTONIC */
  GstClockTime running_time;    /* NONE before PLAYING */
  const gchar *event;           /* "step-down", "clear", ... */
  gint from_height, to_height;
  const gchar *uri;             /* the stream in use after the decision */
  const gchar *note;            /* or NULL */
  /* The message behind it (a warning, a clear, the final stats) or NULL;
   * its "action" is the record's action, "none" without. */
  const GstStructure *reason;
} DecisionRecord;

typedef struct DecisionLog DecisionLog;

/* NULL and errno's message in `err` if `path` cannot be written. */
DecisionLog *decision_log_open (const gchar * path, GError ** err);
/* Appends the record, flushed: a reader sees whole lines. */
void decision_log_write (DecisionLog * log, const DecisionRecord * r);
void decision_log_close (DecisionLog * log);
/* The record as one JSON object, without a newline. */
gchar *decision_log_to_json (const DecisionRecord * r);
/* "vdm-adapt: step-down 1080 -> 720 [critical host, ...]" on stdout. */
void decision_log_print (const DecisionRecord * r);

#endif
