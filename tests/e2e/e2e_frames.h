/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * e2e_frames.h — frozen frames, by the rule of the W3C WebRTC statistics
 * (RTCInboundRtpStreamStats.freezeCount): a frame is frozen when the time
 * since the previous rendered frame is at least
 *     max (3 × avg, avg + 150 ms)
 * where avg is the mean interval over the last 30 rendered frames.
 * Pure: works on recorded times, no GStreamer pipeline needed.
 */
#ifndef VDM_E2E_FRAMES_H
#define VDM_E2E_FRAMES_H

#include <glib.h>

G_BEGIN_DECLS

#define VDM_E2E_FREEZE_WINDOW 30
/* Fewer intervals than this before a frame: too little history to judge. */
#define VDM_E2E_FREEZE_MIN_HISTORY 10

typedef struct
{
  guint64 time_ns;              /* CLOCK_MONOTONIC when it was rendered */
  guint64 pts;                  /* its PTS (GST_CLOCK_TIME_NONE if none) */
} VdmE2eFrame;

typedef struct
{
  gboolean found;
  guint index;                  /* of the frame that ends the freeze */
  guint64 start_ns;             /* the previous frame: the picture stops moving */
  guint64 end_ns;               /* the frozen frame itself */
  guint64 threshold_ns;         /* max (3 × avg, avg + 150 ms) there */
  guint64 avg_ns;
} VdmE2eFreeze;

/* The first frozen frame whose freeze starts at or after after_ns.
 * frames: VdmE2eFrame in rendering order. Returns out->found. */
gboolean vdm_e2e_first_freeze (const GArray * frames, guint64 after_ns, VdmE2eFreeze * out);

/* How many freezes start at or after after_ns. */
guint vdm_e2e_count_freezes (const GArray * frames, guint64 after_ns);

/* The longest interval between two frames rendered at or after after_ns. */
guint64 vdm_e2e_longest_gap (const GArray * frames, guint64 after_ns);

G_END_DECLS
#endif
