/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * frame_log.h — --frame-log: the CLOCK_MONOTONIC time (ns) of every frame
 * shown, one per line, so that tests can tell when the picture froze.
 */
#ifndef VDM_ADAPT_FRAME_LOG_H
#define VDM_ADAPT_FRAME_LOG_H

#include <gst/gst.h>

typedef struct FrameLog FrameLog;

/* NULL and errno's message in `err` if `path` cannot be written. */
FrameLog *frame_log_open (const gchar * path, GError ** err);
/* Starts logging the frames of a new pipeline: at its sink if that can
 * signal handoffs, else at the source pad of `last_element` (the element
 * before the sink part). */
void frame_log_attach (FrameLog * log, GstElement * pipeline, GstElement * last_element);
void frame_log_close (FrameLog * log);

#endif
