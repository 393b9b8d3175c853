/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the trendline (GCC delay-gradient) estimator on a simulated
 * bottleneck: a 30 fps stream (keyframe every 30 frames, 8x a P-frame)
 * packetised in 1200-byte packets, sent frame by frame through a FIFO link
 * of a given capacity with a 10 ms base delay and, optionally, receiver
 * jitter. The truth (the queue's own delay) is known exactly, so the
 * estimator's queue delay and its time-to-empty can be checked against it.
 */
#include <glib.h>
#include <math.h>

#include "trendline.h"

#define MS VDM_MSECOND
#define FPS 30
#define FRAME_NS (VDM_SECOND / FPS)
#define PACKET_BYTES 1200
#define BASE_DELAY_NS (10 * MS)

typedef struct {
  double bitrate;                 /* of the stream, bit/s */
  uint64_t t0;                    /* send time of frame 0 (and media time 0) */
  uint64_t link_free_ns;          /* when the link finishes its queue */
  uint64_t last_arrival_ns;
  double jitter_ms;               /* receiver jitter, uniform [0, j) */
  GRand *rand;
  unsigned frame;
  uint64_t queue_delay_ns;        /* truth: queueing delay of the last packet */
} sim;

static void
sim_init (sim *s, double bitrate, double jitter_ms, guint32 seed)
{
  *s = (sim) { .bitrate = bitrate, .t0 = 100 * VDM_SECOND, .jitter_ms = jitter_ms,
    .rand = g_rand_new_with_seed (seed) };
}

static unsigned
frame_bytes (const sim *s, unsigned frame)
{
  /* per 30 frames: one keyframe of 8 units and 29 of 1 = 37 units */
  double unit = s->bitrate / 8.0 / FPS * 30.0 / 37.0;

  return (unsigned) (frame % 30 == 0 ? 8 * unit : unit);
}

/* Sends the next frame through a link of `capacity` bit/s into tl. */
static void
sim_frame (sim *s, vdm_trendline *tl, double capacity)
{
  uint64_t send = s->t0 + (uint64_t) s->frame * FRAME_NS;
  unsigned bytes = frame_bytes (s, s->frame);

  for (unsigned sent = 0; sent < bytes; sent += PACKET_BYTES) {
    unsigned size = bytes - sent < PACKET_BYTES ? bytes - sent : PACKET_BYTES;
    uint64_t start = send > s->link_free_ns ? send : s->link_free_ns;
    uint64_t arrival;

    s->link_free_ns = start + (uint64_t) (size * 8.0 / capacity * 1e9);
    s->queue_delay_ns = s->link_free_ns - send;
    arrival = s->link_free_ns + BASE_DELAY_NS;
    if (s->jitter_ms > 0)
      arrival += (uint64_t) (g_rand_double_range (s->rand, 0, s->jitter_ms) * MS);
    if (arrival < s->last_arrival_ns)
      arrival = s->last_arrival_ns;
    s->last_arrival_ns = arrival;
    vdm_trendline_packet (tl, arrival, (uint64_t) s->frame * FRAME_NS);
  }
  s->frame++;
}

static void
sim_free (sim *s)
{
  g_rand_free (s->rand);
}

/* A link 10x the stream's bitrate: the delay is constant (keyframes queue
 * for a few ms, then drain). Two minutes: never overusing nor building,
 * queue delay estimate below 15 ms. */
static void
test_constant_delay_is_normal (void)
{
  vdm_trendline tl;
  sim s;

  vdm_trendline_init (&tl, NULL);
  sim_init (&s, 2.5e6, 0, 1);
  for (unsigned f = 0; f < 120 * FPS; f++) {
    sim_frame (&s, &tl, 25e6);
    g_assert_cmpint (vdm_trendline_usage (&tl), !=, VDM_USAGE_OVERUSING);
    g_assert_false (vdm_trendline_queue_building (&tl));
    if (f > 2 * FPS)
      g_assert_cmpfloat (vdm_trendline_queue_delay_ms (&tl), <, 15.0);
  }
  g_assert_cmpstr (vdm_usage_name (vdm_trendline_usage (&tl)), ==, "normal");
  sim_free (&s);
}

/* The link falls from 4x to 90 % of the bitrate at 20 s and stays there:
 * the queue grows by 0.1 s per s. Overuse is declared within 2 s of the
 * onset and "queue building" holds from then on; from 1 s after the
 * detection (the 20-group fit of a smoothed delay needs that long to reach
 * the full slope: at the detection it reads about half of it), the
 * predicted time until the queue delay reaches a 2 s playout buffer is
 * within 25 % of the true time, checked every 250 ms until 1 s before the
 * truth. */
static void
test_growing_queue_overuses (void)
{
  vdm_trendline tl;
  sim s;
  const uint64_t buffer = 2 * VDM_SECOND;
  const unsigned onset = 20 * FPS;
  unsigned detected = 0, checks = 0;
  /* the truth: queue delay q(t) = 0.1 (t - onset) in send time, and the
   * packet sent at t arrives at t + q: q reaches the buffer for the frame
   * sent 20 s after the onset, which arrives 22 s after it */
  const double dry_at_s = 20.0;

  vdm_trendline_init (&tl, NULL);
  sim_init (&s, 2.5e6, 0, 2);
  for (unsigned f = 0; f < 60 * FPS; f++) {
    double since_onset_s;

    sim_frame (&s, &tl, f < onset ? 10e6 : 0.9 * 2.5e6);
    if (f < onset) {
      g_assert_cmpint (vdm_trendline_usage (&tl), !=, VDM_USAGE_OVERUSING);
      continue;
    }
    since_onset_s = (s.last_arrival_ns - (s.t0 + onset * FRAME_NS)) / 1e9;
    if (!detected && vdm_trendline_usage (&tl) == VDM_USAGE_OVERUSING) {
      detected = f;
      g_test_message ("overuse %.2f s after the onset, queue delay %.0f ms (true %.0f)",
          since_onset_s, vdm_trendline_queue_delay_ms (&tl), s.queue_delay_ns / 1e6);
      g_assert_cmpfloat (since_onset_s, <=, 2.0);
    }
    if (detected) {
      g_assert_true (vdm_trendline_queue_building (&tl));
      g_assert_cmpuint (vdm_trendline_building_for (&tl, s.last_arrival_ns), >, 0);
    } else {
      g_assert_cmpuint (vdm_trendline_building_for (&tl, s.last_arrival_ns), ==, 0);
    }
    if (detected && f >= detected + FPS && (f - detected) % (FPS / 4) == 0
        && since_onset_s < dry_at_s - 1.0) {
      uint64_t eta = vdm_trendline_time_to_empty (&tl, buffer);
      double truth = dry_at_s - since_onset_s;

      g_assert_cmpuint (eta, !=, VDM_TIME_NONE);
      if (fabs (eta / 1e9 - truth) > 0.25 * truth)
        g_error ("at %.2f s: predicted %.2f s, true %.2f s", since_onset_s, eta / 1e9, truth);
      checks++;
    }
  }
  g_assert_cmpuint (detected, >, 0);
  g_assert_cmpuint (checks, >, 40);
  sim_free (&s);
}

/* Benign: a link only 1.3x the bitrate (every keyframe queues ~160 ms,
 * then drains) and receiver jitter up to 20 ms on every packet, no trend,
 * ten minutes per seed. GCC flags overuse now and then on a keyframe (its
 * job is to react at once); what the monitor warns on never happens:
 * "queue building" never lasts 30 groups (1 s; it lasts up to ~20), and
 * the queue delay estimate stays under 80 ms (it peaks near 50). */
static void
test_jitter_without_trend (void)
{
  for (guint32 seed = 1; seed <= 4; seed++) {
    vdm_trendline tl;
    sim s;
    unsigned run = 0, longest = 0;
    double max_queue_ms = 0;

    vdm_trendline_init (&tl, NULL);
    sim_init (&s, 2.5e6, 20.0, seed);
    for (unsigned f = 0; f < 600 * FPS; f++) {
      sim_frame (&s, &tl, 1.3 * 2.5e6);
      run = vdm_trendline_queue_building (&tl) ? run + 1 : 0;
      longest = run > longest ? run : longest;
      if (f > 2 * FPS && vdm_trendline_queue_delay_ms (&tl) > max_queue_ms)
        max_queue_ms = vdm_trendline_queue_delay_ms (&tl);
    }
    g_test_message ("seed %u: longest queue building %u groups, queue delay up to %.0f ms",
        seed, longest, max_queue_ms);
    g_assert_cmpuint (longest, <, 30);
    g_assert_cmpfloat (max_queue_ms, <, 80.0);
    sim_free (&s);
  }
}

/* Bad timelines: time running backwards, media jumping an hour either
 * way, the media clock suddenly running at 10x (a clock-rate change), the
 * extremes of uint64. Nothing crashes (the suite runs under UBSan in CI
 * builds with -Db_sanitize), and none of it reads as overuse. */
static void
test_bad_timelines (void)
{
  vdm_trendline tl;
  uint64_t t = 50 * VDM_SECOND, m = 0;

  vdm_trendline_init (&tl, NULL);
  for (unsigned i = 0; i < 3000; i++) {
    switch (i % 500) {
      case 100:
        t -= 2 * VDM_SECOND;    /* arrival clock backwards */
        break;
      case 200:
        m += 3600 * VDM_SECOND; /* media jumps forward */
        break;
      case 300:
        m -= 1800 * VDM_SECOND; /* and back */
        break;
      default:
        break;
    }
    t += FRAME_NS;
    m += (i % 1000) > 400 && (i % 1000) < 600 ? 10 * FRAME_NS : FRAME_NS;
    vdm_trendline_packet (&tl, t, m);
    g_assert_cmpint (vdm_trendline_usage (&tl), !=, VDM_USAGE_OVERUSING);
    g_assert_false (isnan (vdm_trendline_trend (&tl)));
  }
  vdm_trendline_packet (&tl, UINT64_MAX - 1, 0);
  vdm_trendline_packet (&tl, 0, UINT64_MAX - 1);
  vdm_trendline_packet (&tl, UINT64_MAX - 1, UINT64_MAX - 1);
  vdm_trendline_packet (&tl, VDM_TIME_NONE, 5);
  for (unsigned i = 0; i < 100; i++)
    vdm_trendline_packet (&tl, i * (UINT64_MAX / 100), i * (UINT64_MAX / 100));
  g_assert_false (isnan (vdm_trendline_queue_delay_ms (&tl)));
  (void) vdm_trendline_time_to_empty (&tl, UINT64_MAX - 1);
}

/* The GCC filter by hand: groups every 10 ms of media, each arriving 2 ms
 * later than the last (d = +2 ms): accumulated after n deltas is n,
 * smoothed follows; with the window full the slope of smoothed vs arrival
 * is checked against a direct least-squares fit of the same points, and
 * the modified trend is min(n, 60) x slope x 4. */
static void
test_filter_arithmetic (void)
{
  vdm_trendline tl;
  double acc = 0, sm = 0, xs[20], ys[20], mx = 0, my = 0, num = 0, den = 0;
  unsigned n = 30;

  vdm_trendline_init (&tl, NULL);
  for (unsigned i = 0; i <= n + 1; i++)
    vdm_trendline_packet (&tl, VDM_SECOND + i * 12 * MS, i * 10 * MS);
  /* n + 2 groups started, n complete pairs: deltas 1..n */
  for (unsigned i = 1; i <= n; i++) {
    acc += 2.0;
    sm = 0.9 * sm + 0.1 * acc;
    if (i > n - 20) {
      xs[i - (n - 20) - 1] = i * 12.0;
      ys[i - (n - 20) - 1] = sm;
    }
  }
  for (unsigned i = 0; i < 20; i++) {
    mx += xs[i] / 20;
    my += ys[i] / 20;
  }
  for (unsigned i = 0; i < 20; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) * (xs[i] - mx);
  }
  g_assert_cmpfloat_with_epsilon (vdm_trendline_trend (&tl), num / den, 1e-9);
  g_assert_cmpfloat_with_epsilon (vdm_trendline_modified_trend_ms (&tl), 30 * 4 * num / den,
      1e-9);
  g_assert_cmpint (vdm_trendline_usage (&tl), ==, VDM_USAGE_OVERUSING);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/trendline/constant-delay-is-normal", test_constant_delay_is_normal);
  g_test_add_func ("/trendline/growing-queue-overuses", test_growing_queue_overuses);
  g_test_add_func ("/trendline/jitter-without-trend", test_jitter_without_trend);
  g_test_add_func ("/trendline/bad-timelines", test_bad_timelines);
  g_test_add_func ("/trendline/filter-arithmetic", test_filter_arithmetic);
  return g_test_run ();
}
