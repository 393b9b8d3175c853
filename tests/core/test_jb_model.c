/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of jb_model: when an RTP jitterbuffer in slave mode restarts
 * its timeline on a path whose delay keeps growing, and when the screen
 * freezes because of it. */
#include <glib.h>

#include "jb_model.h"

#define MS VDM_MSECOND
#define FRAME_NS (33333333ull)   /* 30 fps */
#define T0 (100 * VDM_SECOND)

/* Frames arriving with a steady delay plus a little jitter: the deficit
 * stays small, nothing restarts, no freeze is predicted. */
static void
test_steady_stream (void)
{
  vdm_jb_model m;

  vdm_jb_model_init (&m);
  for (guint i = 0; i < 30 * 60; i++)
    vdm_jb_model_observe (&m, T0 + 20 * MS + i * FRAME_NS + (i % 4) * 3 * MS, i * FRAME_NS,
        2 * VDM_SECOND);
  g_assert_cmpuint (m.restarts, ==, 0);
  g_assert_cmpint (vdm_jb_model_deficit (&m), <=, (gint64) (10 * MS));
  g_assert_cmpuint (vdm_jb_model_time_to_freeze (&m, 2 * VDM_SECOND, 2 * VDM_SECOND), ==, VDM_TIME_NONE);
}

/* Several packets of one frame (one media time) count once. */
static void
test_packets_of_a_frame_count_once (void)
{
  vdm_jb_model a, b;

  vdm_jb_model_init (&a);
  vdm_jb_model_init (&b);
  for (guint i = 0; i < 300; i++) {
    uint64_t t = T0 + i * FRAME_NS;

    vdm_jb_model_observe (&a, t, i * FRAME_NS, 2 * VDM_SECOND);
    vdm_jb_model_observe (&b, t, i * FRAME_NS, 2 * VDM_SECOND);
    vdm_jb_model_observe (&b, t + 5 * MS, i * FRAME_NS, 2 * VDM_SECOND);     /* later packet */
  }
  g_assert_cmpint (a.deficit_ns, ==, b.deficit_ns);
  g_assert_cmpint (a.skew, ==, b.skew);
}

/* The restart deficit: the latency, at most 1 s. */
static void
test_restart_deficit (void)
{
  g_assert_cmpuint (vdm_jb_model_restart_deficit (200 * MS), ==, 200 * MS);
  g_assert_cmpuint (vdm_jb_model_restart_deficit (2 * VDM_SECOND), ==, VDM_SECOND);
}

/* 10 s steady, then the delay grows by `growth` s per s (a path below the
 * bitrate, a bottleneck queue filling). Returns the time of the model's
 * first restart; *predicted gets, for each frame in the `horizon` before
 * it, the worst relative error of the predicted freeze time against the
 * restart + (latency - restart deficit). */
static uint64_t
ramp (double growth, uint64_t latency, uint64_t horizon, double *worst_error,
    uint64_t *first_warning)
{
  vdm_jb_model m;
  uint64_t predicted[30 * 60];
  uint64_t times[30 * 60];
  uint64_t restart = VDM_TIME_NONE;
  guint n = 0;

  vdm_jb_model_init (&m);
  for (guint i = 0; i < 30 * 60 && restart == VDM_TIME_NONE; i++) {
    uint64_t media = i * FRAME_NS;
    double extra = media > 10 * VDM_SECOND ? growth * (double) (media - 10 * VDM_SECOND) : 0;
    uint64_t t = T0 + media + (uint64_t) (extra / (1 - growth));

    vdm_jb_model_observe (&m, t, media, latency);
    if (m.restarts) {
      restart = t;
      break;
    }
    times[n] = t;
    predicted[n++] = vdm_jb_model_time_to_freeze (&m, latency, latency);
  }
  g_assert_cmpuint (restart, !=, VDM_TIME_NONE);
  *worst_error = 0;
  *first_warning = VDM_TIME_NONE;
  for (guint i = 0; i < n; i++) {
    uint64_t freeze = restart + latency - vdm_jb_model_restart_deficit (latency);
    double real = (double) (freeze - times[i]);

    if (predicted[i] != VDM_TIME_NONE && *first_warning == VDM_TIME_NONE
        && predicted[i] <= 2 * VDM_SECOND)
      *first_warning = times[i];
    if (restart - times[i] >= horizon)
      continue;
    g_assert_cmpuint (predicted[i], !=, VDM_TIME_NONE);
    double err = ((double) predicted[i] - real) / real;

    if (err < 0)
      err = -err;
    if (err > *worst_error)
      *worst_error = err;
  }
  return restart;
}

/* At 2000 ms the jitterbuffer restarts at 1 s of deficit, not when the
 * lag reaches the latency: the model says so before it happens, within
 * 25 % over the last 2 s, and a 2 s runway threshold is crossed well
 * before the freeze. */
static void
test_ramp_restarts_at_one_second (void)
{
  double worst;
  uint64_t first, restart;

  restart = ramp (0.2, 2 * VDM_SECOND, 2 * VDM_SECOND, &worst, &first);
  /* the deficit reaches 1 s well before the lag (0.2 s/s) could reach 2 s (10 s) */
  g_assert_cmpuint (restart, <, T0 + 20 * VDM_SECOND);
  g_assert_cmpuint (restart, >, T0 + 13 * VDM_SECOND);
  g_assert_cmpfloat (worst, <=, 0.25);
  g_assert_cmpuint (first, !=, VDM_TIME_NONE);
  /* warned (eta <= 2 s) at least 1.5 s before the screen freezes */
  g_assert_cmpuint (restart + VDM_SECOND - first, >=, 1500 * MS);
}

/* At 200 ms the restart comes when a frame misses its deadline: at 200 ms
 * of deficit (0.2 s/s: 1 s into the ramp), which the screen shows at
 * once. The growth's estimate is still catching up then, so only: a
 * freeze was predicted at least 300 ms before. */
static void
test_ramp_small_buffer (void)
{
  double worst;
  uint64_t first, restart;

  restart = ramp (0.2, 200 * MS, 0, &worst, &first);
  g_assert_cmpuint (restart, >=, T0 + 10900 * MS);
  g_assert_cmpuint (restart, <=, T0 + 11200 * MS);
  g_assert_cmpuint (first, !=, VDM_TIME_NONE);
  g_assert_cmpuint (restart - first, >=, 300 * MS);
}

/* Garbage in (time going backwards, media jumping by hours) restarts the
 * model instead of overflowing it. */
static void
test_discontinuities (void)
{
  vdm_jb_model m;

  vdm_jb_model_init (&m);
  for (guint i = 0; i < 100; i++)
    vdm_jb_model_observe (&m, T0 + i * FRAME_NS, i * FRAME_NS, 2 * VDM_SECOND);
  vdm_jb_model_observe (&m, T0, 3600 * VDM_SECOND, 2 * VDM_SECOND);
  vdm_jb_model_observe (&m, 1, 3601 * VDM_SECOND, 2 * VDM_SECOND);
  vdm_jb_model_observe (&m, UINT64_MAX - 1, 0, VDM_TIME_NONE);
  g_assert_cmpint (vdm_jb_model_deficit (&m), ==, 0);
  g_assert_cmpuint (vdm_jb_model_time_to_freeze (&m, VDM_TIME_NONE, VDM_TIME_NONE), ==, VDM_TIME_NONE);
}

/* After a restart the next one is predicted at once: 10 s steady, then
 * the delay grows by 0.2 s per s of wall time (0.25 per s of media). Right
 * after the first restart the deficit is 0 and its growth starts at the
 * delay's (the skew of a new timeline stays at its first delay while the
 * window fills): the next freeze is (1 s / 0.2) + 1 s = ~6 s away; the
 * model itself restarts again and the prediction is within 25 % of that
 * restart + 1 s. Before, the growth was learnt again from 0 (no
 * prediction at the restart). */
static void
test_restart_keeps_the_growth (void)
{
  vdm_jb_model m;
  uint64_t first = VDM_TIME_NONE, second = VDM_TIME_NONE, predicted = VDM_TIME_NONE;

  vdm_jb_model_init (&m);
  for (guint i = 0; i < 30 * 40 && second == VDM_TIME_NONE; i++) {
    uint64_t media = i * FRAME_NS;
    uint64_t extra = media > 10 * VDM_SECOND ? (media - 10 * VDM_SECOND) / 4 : 0;
    uint64_t t = T0 + media + extra;

    vdm_jb_model_observe (&m, t, media, 2 * VDM_SECOND);
    if (m.restarts == 1 && first == VDM_TIME_NONE) {
      first = t;
      g_assert_cmpint (vdm_jb_model_deficit (&m), ==, 0);
      predicted = vdm_jb_model_time_to_freeze (&m, 2 * VDM_SECOND, 2 * VDM_SECOND);
      g_assert_cmpuint (predicted, !=, VDM_TIME_NONE);
    }
    if (m.restarts == 2)
      second = t;
  }
  g_assert_cmpuint (second, !=, VDM_TIME_NONE);
  {
    double to_freeze = (double) (second + VDM_SECOND - first);

    g_test_message ("predicted %.2f s, the next freeze came %.2f s after the restart",
        predicted / 1e9, to_freeze / 1e9);
    g_assert_cmpfloat (predicted, >=, 0.75 * to_freeze);
    g_assert_cmpfloat (predicted, <=, 1.25 * to_freeze);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/jb_model/steady", test_steady_stream);
  g_test_add_func ("/jb_model/packets-of-a-frame", test_packets_of_a_frame_count_once);
  g_test_add_func ("/jb_model/restart-deficit", test_restart_deficit);
  g_test_add_func ("/jb_model/ramp-2000ms", test_ramp_restarts_at_one_second);
  g_test_add_func ("/jb_model/ramp-200ms", test_ramp_small_buffer);
  g_test_add_func ("/jb_model/discontinuities", test_discontinuities);
  g_test_add_func ("/jb_model/restart-keeps-the-growth", test_restart_keeps_the_growth);
  return g_test_run ();
}
