/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdm-tbf-sim — the element's own delay-based predictors (trendline,
 * runway, jitterbuffer model from core/) fed with a synthetic 30 fps
 * stream through a token-bucket bottleneck like the lead-time testbed's
 * tbf: when each would have spoken after the queue starts to grow
 * (docs/benchmarks.md, issue 12 second pass). No network, no clock: a
 * timeline computed in a loop.
 *
 *   vdm-tbf-sim FRACTION BUFFER_MS [KEYFRAME_X]
 *
 * FRACTION: bottleneck rate / stream bitrate (0.85 = 85 %), from 8 s on;
 * BUFFER_MS: playout buffer (and jitterbuffer latency); KEYFRAME_X: a
 * keyframe's size in P-frames (2, the testbed's x264 stream). Prints when
 * overuse is declared, when the congestion trigger's conditions hold
 * (500 ms of queue building, queue delay >= a quarter of the buffer within
 * 40-80 ms), when the lag reaches the buffer, and when the jitterbuffer
 * model restarts its timeline; times after the rate change.
 */
#include <stdio.h>
#include <stdlib.h>

#include "jb_model.h"
#include "runway.h"
#include "trendline.h"

#define BITRATE 1.52e6          /* the testbed stream as measured */
#define FPS 30
#define GOP 30
#define PAYLOAD 1400.0
#define WIRE 1500.0             /* + RTP, UDP, IP, VXLAN */
#define BUCKET (32 * 1024.0)    /* the testbed's tbf burst */
#define ONSET_S 8.0
#define SECONDS 40

typedef struct {
  double tokens, last_t, link_free;
} bucket;

/* When a packet of WIRE bytes offered at t leaves a tbf of rate r. */
static double
bucket_send (bucket *b, double t, double r)
{
  double now = t > b->link_free ? t : b->link_free;

  b->tokens += (now - b->last_t) * r / 8;
  if (b->tokens > BUCKET)
    b->tokens = BUCKET;
  b->last_t = now;
  if (b->tokens < WIRE) {
    now += (WIRE - b->tokens) * 8 / r;
    b->tokens = WIRE;
    b->last_t = now;
  }
  b->tokens -= WIRE;
  b->link_free = now;
  return now;
}

static double
clamp (double v, double lo, double hi)
{
  return v < lo ? lo : v > hi ? hi : v;
}

int
main (int argc, char **argv)
{
  double frac, buffer_ms, key_x, rate, p_bytes, min_delay_ms;
  bucket b = { BUCKET, 0, 0 };
  vdm_trendline tl;
  vdm_runway rw;
  vdm_jb_model jb;
  int declared = 0, fired = 0, lagged = 0, restarted = 0;

  if (argc < 3) {
    fprintf (stderr, "usage: vdm-tbf-sim FRACTION BUFFER_MS [KEYFRAME_X]\n");
    return 2;
  }
  frac = atof (argv[1]);
  buffer_ms = atof (argv[2]);
  key_x = argc > 3 ? atof (argv[3]) : 2;
  if (!(frac > 0.1 && frac < 10) || !(buffer_ms > 0) || !(key_x >= 1)) {
    fprintf (stderr, "vdm-tbf-sim: bad arguments\n");
    return 2;
  }
  rate = frac * BITRATE * WIRE / PAYLOAD;
  p_bytes = BITRATE / 8 / (GOP - 1 + key_x);
  min_delay_ms = clamp (buffer_ms / 4, 40, 80);
  vdm_trendline_init (&tl, NULL);
  vdm_runway_init (&rw);
  vdm_jb_model_init (&jb);
  for (int f = 0; f < FPS * SECONDS; f++) {
    double t = (double) f / FPS, size = (f % GOP == 0) ? key_x * p_bytes : p_bytes;
    uint64_t media = (uint64_t) (t * 1e9);

    for (int k = 0; k < (int) (size / PAYLOAD) + 1; k++) {
      double out = bucket_send (&b, t, t >= ONSET_S ? rate : 50e6);
      uint64_t arr = (uint64_t) ((out + 0.001) * 1e9);
      double since = out - ONSET_S, lag_ms;

      vdm_trendline_packet (&tl, arr, media);
      vdm_runway_observe (&rw, arr, media);
      vdm_jb_model_observe (&jb, arr, media, (uint64_t) (buffer_ms * 1e6));
      lag_ms = vdm_runway_lag (&rw) / 1e6;
      if (since < 0)
        continue;
      if (!declared && vdm_trendline_usage (&tl) == VDM_USAGE_OVERUSING) {
        declared = 1;
        printf ("overuse declared     +%.2f s (lag %.0f ms)\n", since, lag_ms);
      }
      if (!fired && vdm_trendline_building_for (&tl, arr) >= 500 * VDM_MSECOND
          && vdm_trendline_queue_delay_ms (&tl) >= min_delay_ms) {
        fired = 1;
        printf ("congestion trigger   +%.2f s (lag %.0f ms)\n", since, lag_ms);
      }
      if (!restarted && jb.restarts) {
        restarted = 1;
        printf ("jitterbuffer restart +%.2f s (lag %.0f ms)\n", since, lag_ms);
      }
      if (!lagged && lag_ms >= buffer_ms) {
        lagged = 1;
        printf ("lag reaches buffer   +%.2f s\n", since);
      }
    }
  }
  return 0;
}
