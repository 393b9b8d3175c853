/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_timeline.c — libFuzzer target for the modules that turn a stream's
 * timeline into warnings: detector, runway, arrival statistics, sequence
 * tracker, frame map, stall detector, trendline and jitterbuffer model, fed the way the element feeds them, with arbitrary
 * times (also going backwards or jumping by years), clock rates (1 Hz as a
 * server's SDP may say), and sequence/timestamp jumps (±2^31).
 *
 * Input: a program of operations, one opcode byte each followed by its
 * operands (fuzz_input.h: missing bytes read as 0).
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "arrival_stats.h"
#include "detector.h"
#include "frame_map.h"
#include "fuzz_input.h"
#include "jb_model.h"
#include "runway.h"
#include "seq_tracker.h"
#include "stall_detector.h"
#include "trendline.h"

#define MAX_OPS 4096
#define MAX_EVENTS 16

typedef struct {
  uint64_t now;
  vdm_detector *detector;
  vdm_detector_config config;
  vdm_runway runway;
  vdm_stall_detector stall;
  vdm_trendline trendline;
  vdm_jb_model jb;
  uint64_t jb_latency;
  vdm_arrival_stats arrival;
  vdm_seq_tracker *seqs;
  vdm_frame_map *frames;
  uint32_t clock_rate;
  /* per-stream state as the element keeps it (vdropmon_watch.c) */
  uint32_t ssrc, rtp_ts, runway_ssrc, last_rtp_ts;
  uint16_t seq;
  uint64_t rtp_ts_ext;
  uint64_t pts;
} timeline;

/* value * num / denom saturating at UINT64_MAX, as gst_util_uint64_scale. */
static uint64_t
scale (uint64_t value, uint64_t num, uint64_t denom)
{
  unsigned __int128 product = (unsigned __int128) value * num / denom;
  return product > UINT64_MAX ? UINT64_MAX : (uint64_t) product;
}

/* Time moves by a signed step: small steps most of the time, any 64-bit
 * jump (backwards, past the wrap) sometimes. */
static void
step_time (timeline *t, fuzz_input *in)
{
  uint8_t kind = fuzz_u8 (in);

  if (kind < 200)
    t->now += fuzz_u16 (in) * (uint64_t) VDM_MSECOND / 64;
  else if (kind < 230)
    t->now -= fuzz_u32 (in);
  else
    t->now += fuzz_u64 (in);
}

/* Mirrors observe_rtp_media_locked: RTP timestamps extended past their wrap. */
static void
observe_rtp_media (timeline *t, uint32_t ssrc, uint32_t rtp_ts)
{
  if (ssrc != t->runway_ssrc || !t->runway.started) {
    vdm_runway_init (&t->runway);
    t->runway_ssrc = ssrc;
    t->rtp_ts_ext = (uint64_t) 1 << 32;
  } else {
    t->rtp_ts_ext += (uint64_t) (int64_t) (int32_t) (rtp_ts - t->last_rtp_ts);
  }
  t->last_rtp_ts = rtp_ts;
  vdm_runway_observe (&t->runway, t->now, scale (t->rtp_ts_ext, VDM_SECOND, t->clock_rate));
  vdm_stall_arrival (&t->stall, t->now);
  vdm_trendline_packet (&t->trendline, t->now, scale (t->rtp_ts_ext, VDM_SECOND, t->clock_rate));
}

static void
op_packet (timeline *t, fuzz_input *in)
{
  uint8_t flags = fuzz_u8 (in);
  vdm_seq_gap gap;

  step_time (t, in);
  if (flags & 1)
    t->ssrc = fuzz_u8 (in) % 20;        /* more than VDM_SEQ_MAX_SOURCES */
  if (flags & 2)
    t->seq += (uint16_t) fuzz_u16 (in); /* any jump */
  else
    t->seq++;
  if (flags & 4)
    t->rtp_ts += fuzz_u32 (in);         /* any jump, ±2^31 included */
  else if (flags & 8)
    t->rtp_ts += t->clock_rate / 30 + 1;

  vdm_arrival_stats_packet (&t->arrival, t->now, t->ssrc, t->rtp_ts);
  observe_rtp_media (t, t->ssrc, t->rtp_ts);
  if (vdm_seq_tracker_push (t->seqs, t->ssrc, t->seq, &gap))
    vdm_detector_add_drops (t->detector, t->now, VDM_CAUSE_NETWORK, gap.count);
  vdm_frame_map_observe_rtp (t->frames, t->ssrc, t->rtp_ts,
      (flags & 16) ? VDM_TIME_NONE : t->now, flags & 32);
}

/* A buffer that is not RTP (FLV after flvdemux): vdm_observe_media_locked. */
static void
op_media (timeline *t, fuzz_input *in)
{
  step_time (t, in);
  if (fuzz_u8 (in) & 1)
    t->pts = fuzz_u64 (in);
  else
    t->pts += 33 * VDM_MSECOND;
  vdm_runway_observe (&t->runway, t->now, t->pts);
  vdm_stall_arrival (&t->stall, t->now);
  vdm_trendline_packet (&t->trendline, t->now, t->pts);
  vdm_jb_model_observe (&t->jb, t->now, t->pts, t->jb_latency);
  vdm_arrival_stats_packet (&t->arrival, t->now, 0,
      (uint32_t) scale (t->pts, t->clock_rate, VDM_SECOND));
  vdm_frame_map_observe_arrival (t->frames, t->now, t->pts);
}

static void
op_signal (timeline *t, fuzz_input *in)
{
  uint8_t which = fuzz_u8 (in);
  uint64_t time = fuzz_u8 (in) < 16 ? fuzz_u64 (in) : t->now;

  switch (which % 7) {
    case 0:
      vdm_detector_add_drops (t->detector, time, (vdm_cause) (fuzz_u8 (in) & 0x1f), fuzz_u32 (in));
      break;
    case 1:
      vdm_detector_keyframe_lost (t->detector, time);
      break;
    case 2:
      vdm_detector_queue_fill (t->detector, time, fuzz_double (in));
      break;
    case 3:
      vdm_detector_silence (t->detector, time, fuzz_u8 (in) & 1);
      break;
    case 4:
      vdm_detector_arrival_deficit (t->detector, time, fuzz_u8 (in) & 1,
          (vdm_cause) (fuzz_u8 (in) & 0x1f));
      break;
    case 5:                    /* the socket held unread data (the reader was late) */
      vdm_stall_backlog (&t->stall, time);
      break;
    default:
      vdm_detector_device_error (t->detector, time);
      break;
  }
}

/* What the worker does each round: advance, read every output. */
static void
op_tick (timeline *t, fuzz_input *in)
{
  vdm_detector_event events[MAX_EVENTS];
  vdm_frame_info info;
  double ewma, baseline, mean_ms, max_ms;
  char causes[64];

  step_time (t, in);
  unsigned n = vdm_detector_advance (t->detector, t->now, events, MAX_EVENTS);
  if (n > MAX_EVENTS)
    abort ();
  for (unsigned i = 0; i < n; i++) {
    (void) vdm_causes_format (events[i].causes, causes, sizeof (causes));
    (void) vdm_action_name (events[i].action);
    (void) vdm_level_name (events[i].level);
  }
  (void) vdm_detector_level (t->detector);
  vdm_detector_snapshot (t->detector, &ewma, &baseline);
  (void) vdm_runway_lag (&t->runway);
  (void) vdm_runway_time_to_empty (&t->runway, fuzz_u8 (in) < 32 ? fuzz_u64 (in) : 200 * VDM_MSECOND);
  (void) vdm_arrival_stats_jitter_ms (&t->arrival);
  vdm_arrival_stats_take_fid (&t->arrival, &mean_ms, &max_ms);
  (void) vdm_arrival_stats_is_silent (&t->arrival, t->now, fuzz_u32 (in));
  (void) vdm_stall_is_stalled (&t->stall, t->now);
  (void) vdm_stall_eta (&t->stall, t->now, fuzz_u32 (in), (int64_t) fuzz_u64 (in));
  (void) vdm_trendline_queue_delay_ms (&t->trendline);
  (void) vdm_trendline_building_for (&t->trendline, t->now);
  if (isnan (vdm_trendline_trend (&t->trendline)))
    abort ();
  (void) vdm_trendline_time_to_empty (&t->trendline, fuzz_u32 (in));
  (void) vdm_jb_model_deficit (&t->jb);
  (void) vdm_jb_model_time_to_freeze (&t->jb, fuzz_u8 (in) < 32 ? fuzz_u64 (in) : t->jb_latency,
      fuzz_u8 (in) < 32 ? fuzz_u64 (in) : 2 * VDM_SECOND);
  (void) vdm_frame_map_lookup_rtp (t->frames, t->ssrc, t->rtp_ts - fuzz_u32 (in), &info);
  (void) vdm_frame_map_lookup_arrival (t->frames, t->now - fuzz_u32 (in));
}

/* The element's properties, within their GParamSpec ranges (gstvdropmon.c). */
static void
op_config (timeline *t, fuzz_input *in)
{
  vdm_detector_config *c = &t->config;

  c->bin_ns = fuzz_range (in, 10 * VDM_MSECOND, 10 * VDM_SECOND);
  c->window_ns = fuzz_range (in, 100 * VDM_MSECOND, 600 * VDM_SECOND);
  c->alpha = 0.01 + (fuzz_u16 (in) / 65535.0) * 0.99;
  c->factor = 1.0 + fuzz_u16 (in) / 65.6;
  c->surge_bins = (unsigned) fuzz_range (in, 1, 100);
  c->min_drops_per_bin = fuzz_u32 (in) / 4294.967295;
  c->critical_factor = 1.0 + fuzz_u32 (in) / 4294.967295;
  c->burst_drops = 1.0 + fuzz_u32 (in) / 4.294967295;
  c->queue_fill_threshold = fuzz_u16 (in) / 65535.0;
  c->queue_fill_warning = fuzz_u16 (in) / 65535.0;
  t->jb_latency = fuzz_u8 (in) < 32 ? fuzz_u64 (in) : fuzz_range (in, 0, 600 * VDM_SECOND);
  vdm_detector_set_config (t->detector, c);
}

static void
op_clock_rate (timeline *t, fuzz_input *in)
{
  uint8_t kind = fuzz_u8 (in);

  /* caps carry clock-rate as a positive gint */
  t->clock_rate = kind < 64 ? 1 : kind < 128 ? 90000 : 1 + fuzz_u32 (in) % INT32_MAX;
  vdm_arrival_stats_init (&t->arrival, t->clock_rate);
  vdm_frame_map_set_clock_rate (t->frames, t->clock_rate);
}

/* Flush, restart, new stream. */
static void
op_reset (timeline *t, fuzz_input *in)
{
  switch (fuzz_u8 (in) % 4) {
    case 0:
      vdm_detector_reset (t->detector);
      break;
    case 1:
      vdm_seq_tracker_forget_sources (t->seqs);
      break;
    case 2:
      vdm_seq_tracker_reset (t->seqs);
      vdm_frame_map_reset (t->frames);
      break;
    default:
      vdm_runway_init (&t->runway);
      vdm_arrival_stats_init (&t->arrival, t->clock_rate);
      vdm_stall_init (&t->stall, NULL);
      vdm_trendline_init (&t->trendline, NULL);
      vdm_jb_model_init (&t->jb);
      break;
  }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  timeline t = { .clock_rate = 90000, .now = VDM_SECOND };
  fuzz_input in;
  vdm_seq_stats stats;

  fuzz_input_init (&in, data, size);
  vdm_detector_config_init (&t.config);
  t.detector = vdm_detector_new (&t.config);
  t.seqs = vdm_seq_tracker_new ();
  t.frames = vdm_frame_map_new (64);
  vdm_runway_init (&t.runway);
  vdm_stall_init (&t.stall, NULL);
  vdm_trendline_init (&t.trendline, NULL);
  vdm_jb_model_init (&t.jb);
  t.jb_latency = 2 * VDM_SECOND;
  vdm_arrival_stats_init (&t.arrival, t.clock_rate);

  for (unsigned ops = 0; ops < MAX_OPS && !fuzz_input_done (&in); ops++) {
    switch (fuzz_u8 (&in) % 8) {
      case 0: case 1: case 2: op_packet (&t, &in); break;
      case 3: op_media (&t, &in); break;
      case 4: op_signal (&t, &in); break;
      case 5: op_tick (&t, &in); break;
      case 6: op_config (&t, &in); break;
      default:
        if (fuzz_u8 (&in) & 1)
          op_clock_rate (&t, &in);
        else
          op_reset (&t, &in);
        break;
    }
  }
  vdm_seq_tracker_stats (t.seqs, &stats);

  vdm_frame_map_free (t.frames);
  vdm_seq_tracker_free (t.seqs);
  vdm_detector_free (t.detector);
  return 0;
}
