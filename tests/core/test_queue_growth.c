/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of queue_growth: the standing queue's growth from the lower
 * envelope of frame delays, and the time until it exceeds a buffer. The
 * stream goes through a simulated bottleneck (a FIFO served at a rate) so
 * that keyframes queue as they do on a real link. */
#include <glib.h>

#include "queue_growth.h"

#define MS VDM_MSECOND
#define FPS 30
#define GOP 30
#define BITRATE 1.5e6           /* bit/s */
#define PACKET 1200.0           /* bytes */

typedef struct {
  double link_free;             /* when the bottleneck is idle again, s */
  double key_x;                 /* a keyframe's size in P-frames */
  GRand *rand;
  double jitter_s;              /* uniform extra delay after the bottleneck */
} path;

static double
p_frame_bytes (const path *p)
{
  return BITRATE / 8 / (GOP - 1 + p->key_x);
}

/* Sends frame f through a bottleneck of rate bit/s; calls observe for
 * every packet; returns the delay of its first packet (s). */
static double
send_frame (path *p, vdm_queue_growth *qg, guint f, double rate)
{
  double t = (double) f / FPS, size = (f % GOP == 0 ? p->key_x : 1) * p_frame_bytes (p);
  double first = -1;

  for (double sent = 0; sent < size; sent += PACKET) {
    double bytes = size - sent < PACKET ? size - sent : PACKET;
    double start = t > p->link_free ? t : p->link_free, out;

    p->link_free = start + bytes * 8 / rate;
    out = p->link_free + 0.001;
    if (p->rand && p->jitter_s > 0)
      out += g_rand_double_range (p->rand, 0, p->jitter_s);
    if (first < 0)
      first = out - t;
    vdm_queue_growth_observe (qg, 100 * VDM_SECOND + (guint64) (out * 1e9),
        5 * VDM_SECOND + (guint64) (t * 1e9));
  }
  return first;
}

static guint64
arrival_ns_of (guint f, double delay_s)
{
  return 100 * VDM_SECOND + (guint64) (((double) f / FPS + delay_s) * 1e9);
}

/* A link twice the bitrate, keyframes 8 P-frames big (each queues ~70 ms
 * and drains in a few frames), a few ms of jitter: 10 minutes without a
 * trustworthy growth, and never a 200 ms buffer predicted to run dry. */
static void
test_fast_link_keyframes (void)
{
  path p = { 0, 8, g_rand_new_with_seed (7), 0.004 };
  vdm_queue_growth qg;
  guint trusted = 0;

  vdm_queue_growth_init (&qg);
  for (guint f = 0; f < FPS * 600; f++) {
    double d = send_frame (&p, &qg, f, 2 * BITRATE);

    if (vdm_queue_growth_rate (&qg) > 0)
      trusted++;
    g_assert_cmpuint (vdm_queue_growth_time_to (&qg, 200 * MS, arrival_ns_of (f, d)), >,
        2 * VDM_SECOND);
  }
  g_assert_cmpfloat (vdm_queue_growth_queue_ms (&qg), <, 10);
  /* a slope over a keyframe's drain may pass now and then, never for long */
  g_assert_cmpuint (trusted, <, FPS * 600 / 100);
  g_rand_free (p.rand);
}

/* The link falls to 85 % of the bitrate at fall_s: the queue grows at
 * 0.15 / 0.85 = 0.176 s per s on average (a little less between
 * keyframes). Within 0.4 s of the fall the growth is seen (within 0.6 to
 * 1.25 of that) and the time until a 200 ms buffer is exceeded (the first
 * frame whose first packet waits longer) is predicted within 35 % (the
 * growth between keyframes: the next keyframe's step comes on top). At
 * 10.0 s the fall meets a keyframe, whose queue is a step at the onset,
 * not growth. */
static void
congestion_seen_early (double fall_s)
{
  path p = { 0, 2, g_rand_new_with_seed (3), 0.002 };
  vdm_queue_growth qg;
  double seen_at = -1, eta_s = -1, fill_at = -1, truth = 0.15 / 0.85;

  vdm_queue_growth_init (&qg);
  for (guint f = 0; f < FPS * 20 && fill_at < 0; f++) {
    double t = (double) f / FPS, d = send_frame (&p, &qg, f, t >= fall_s ? 0.85 * BITRATE : 4 * BITRATE);
    guint64 eta = vdm_queue_growth_time_to (&qg, 200 * MS, arrival_ns_of (f, d));

    if (t < fall_s) {
      g_assert_cmpuint (eta, ==, VDM_TIME_NONE);
      continue;
    }
    if (seen_at < 0 && eta != VDM_TIME_NONE && eta <= 2 * VDM_SECOND) {
      seen_at = t + d;
      eta_s = eta / 1e9;
      g_assert_cmpfloat (vdm_queue_growth_rate (&qg), >, 0.6 * truth);
      g_assert_cmpfloat (vdm_queue_growth_rate (&qg), <, 1.25 * truth);
    }
    if (d > 0.2 + 0.001)
      fill_at = t + d;
  }
  g_test_message ("fall at %.1f s: seen %.3f s after, stall in %.3f s predicted, %.3f s true",
      fall_s, seen_at - fall_s, eta_s, fill_at - seen_at);
  g_assert_cmpfloat (seen_at, >, fall_s);
  g_assert_cmpfloat (seen_at, <, fall_s + 0.4);
  g_assert_cmpfloat (fill_at, >, seen_at);
  g_assert_cmpfloat (eta_s, >, 0.65 * (fill_at - seen_at));
  g_assert_cmpfloat (eta_s, <, 1.35 * (fill_at - seen_at));
  g_rand_free (p.rand);
}

static void
test_congestion_seen_early (void)
{
  congestion_seen_early (10.2);
  congestion_seen_early (10.0);
}

/* A queue that grew to ~100 ms and stays (the link back at the bitrate):
 * the growth stops being trusted once the envelope is flat. */
static void
test_queue_that_stops_growing (void)
{
  path p = { 0, 3, NULL, 0 };
  vdm_queue_growth qg;

  vdm_queue_growth_init (&qg);
  for (guint f = 0; f < FPS * 20; f++) {
    double t = (double) f / FPS;
    double rate = t < 5 ? 4 * BITRATE : t < 5.6 ? 0.85 * BITRATE : 1.0 * BITRATE;

    send_frame (&p, &qg, f, rate);
    if (t > 5.5 && t < 5.6)
      g_assert_cmpfloat (vdm_queue_growth_rate (&qg), >, 0.05);
  }
  g_assert_cmpfloat (vdm_queue_growth_rate (&qg), ==, 0);
  g_assert_cmpuint (vdm_queue_growth_time_to (&qg, 200 * MS, 200 * VDM_SECOND), ==,
      VDM_TIME_NONE);
  g_assert_cmpfloat (vdm_queue_growth_queue_ms (&qg), >, 60);
}

/* The player restarts its timeline at ~150 ms of queue (rebase): the
 * queue counts from there, the growth is kept, so the 200 ms buffer is
 * ~200 ms of growth away again, not 50 ms. */
static void
test_rebase_keeps_growth (void)
{
  path p = { 0, 1, NULL, 0 };
  vdm_queue_growth qg;
  guint f;
  double d = 0, rate;
  guint64 eta;

  vdm_queue_growth_init (&qg);
  vdm_queue_growth_rebase (&qg);        /* not started: nothing */
  g_assert_false (qg.started);
  for (f = 0; f < FPS * 20 && d < 0.15; f++)
    d = send_frame (&p, &qg, f, (double) f / FPS < 5 ? 4 * BITRATE : 0.8 * BITRATE);
  rate = vdm_queue_growth_rate (&qg);
  g_assert_cmpfloat (rate, >, 0.2);
  g_assert_cmpfloat (rate, <, 0.3);
  vdm_queue_growth_rebase (&qg);
  g_assert_cmpfloat (vdm_queue_growth_queue_ms (&qg), <, 1);
  eta = vdm_queue_growth_time_to (&qg, 200 * MS, arrival_ns_of (f - 1, d));
  g_assert_cmpuint (eta, >, 600 * MS);    /* 200 ms / 0.25 = 0.8 s */
  g_assert_cmpuint (eta, <, 1000 * MS);
  for (guint end = f + FPS / 3; f < end; f++)
    send_frame (&p, &qg, f, 0.8 * BITRATE);
  /* 1/3 s at 0.25 s/s later: ~80 ms above the restart (less the envelope's lag) */
  g_assert_cmpfloat (vdm_queue_growth_queue_ms (&qg), >, 40);
  g_assert_cmpfloat (vdm_queue_growth_queue_ms (&qg), <, 100);
  g_assert_cmpfloat (vdm_queue_growth_rate (&qg), >, 0.2);
}

/* A stall (nothing arrives for 2 s) is not a queue: a fit older than 1 s
 * predicts nothing. */
static void
test_stale_fit (void)
{
  path p = { 0, 1, NULL, 0 };
  vdm_queue_growth qg;
  guint f;
  double d = 0;

  vdm_queue_growth_init (&qg);
  for (f = 0; f < FPS * 6; f++)
    d = send_frame (&p, &qg, f, (double) f / FPS < 5 ? 4 * BITRATE : 0.8 * BITRATE);
  g_assert_cmpuint (vdm_queue_growth_time_to (&qg, 2 * VDM_SECOND, arrival_ns_of (f, d)), !=,
      VDM_TIME_NONE);
  g_assert_cmpuint (vdm_queue_growth_time_to (&qg, 2 * VDM_SECOND,
          arrival_ns_of (f, d) + 2 * VDM_SECOND), ==, VDM_TIME_NONE);
}

/* Hostile input: offsets at the ends of the range, media jumps, arrivals
 * going back, the same frame over and over. Starts over, never traps. */
static void
test_hostile_input (void)
{
  vdm_queue_growth qg;
  guint64 t = 0;

  vdm_queue_growth_init (&qg);
  vdm_queue_growth_observe (&qg, VDM_TIME_NONE, 5);
  g_assert_false (qg.started);
  for (guint i = 0; i < 5000; i++) {
    guint64 media = (i % 7 == 0) ? G_MAXUINT64 - i : (guint64) i * 33 * MS;

    t += (i % 11 == 0) ? 0 : 3 * MS;
    vdm_queue_growth_observe (&qg, (i % 13 == 0) ? t / 2 : t, media);
    (void) vdm_queue_growth_time_to (&qg, G_MAXUINT64 - 1, t);
    (void) vdm_queue_growth_time_to (&qg, 1, 0);
  }
  vdm_queue_growth_observe (&qg, G_MAXUINT64 - 1, 0);
  vdm_queue_growth_observe (&qg, G_MAXUINT64 - 1, G_MAXUINT64 - 2);
  vdm_queue_growth_observe (&qg, 1, G_MAXUINT64 - 2);
  g_assert_cmpfloat (vdm_queue_growth_queue_ms (&qg), >=, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/queue-growth/fast-link-keyframes", test_fast_link_keyframes);
  g_test_add_func ("/queue-growth/congestion-seen-early", test_congestion_seen_early);
  g_test_add_func ("/queue-growth/queue-that-stops-growing", test_queue_that_stops_growing);
  g_test_add_func ("/queue-growth/rebase-keeps-growth", test_rebase_keeps_growth);
  g_test_add_func ("/queue-growth/stale-fit", test_stale_fit);
  g_test_add_func ("/queue-growth/hostile-input", test_hostile_input);
  return g_test_run ();
}
