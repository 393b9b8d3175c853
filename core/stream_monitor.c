/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stream_monitor.c — the monitor's inputs (packets, buffers, kernel drops),
 * its batches and drop reports, and its stats. Warnings and clears are in
 * stream_monitor_alerts.c.
 */
#include "stream_monitor_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_MAP_CAPACITY 512
#define DEFAULT_CLOCK_RATE 90000
#define IPPROTO_UDP_ 17
#define IPPROTO_TCP_ 6

static void on_batch_ready (const vdm_drop_batch *batch, void *user_data);

void
vdm_monitor_config_init (vdm_monitor_config *config)
{
  memset (config, 0, sizeof (*config));
  vdm_detector_config_init (&config->detector);
  config->batch_interval_ns = 20 * VDM_MSECOND;
  config->silence_threshold_ns = 200 * VDM_MSECOND;
  config->playout_buffer_ns = 0;
  config->runway_threshold_ns = 2 * VDM_SECOND;
  config->congestion_sustain_ns = 500 * VDM_MSECOND;
  config->congestion_min_delay_ns = 0;
  config->stall_floor_ns = 100 * VDM_MSECOND;   /* see stall_detector.h */
  config->gap_grace_ns = 0;
}

vdm_stream_monitor *
vdm_stream_monitor_new (const vdm_monitor_config *config)
{
  vdm_stream_monitor *mon = calloc (1, sizeof (*mon));

  if (!mon)
    return NULL;
  mon->config = *config;
  mon->frames = vdm_frame_map_new (FRAME_MAP_CAPACITY);
  mon->seqs = vdm_seq_tracker_new ();
  mon->gaps = vdm_gap_reconciler_new ();
  mon->batcher = vdm_drop_batcher_new (config->batch_interval_ns, on_batch_ready, mon);
  mon->detector = vdm_detector_new (&config->detector);
  if (!mon->frames || !mon->seqs || !mon->gaps || !mon->batcher || !mon->detector) {
    vdm_stream_monitor_free (mon);
    return NULL;
  }
  vdm_stream_monitor_reset (mon);
  return mon;
}

void
vdm_stream_monitor_free (vdm_stream_monitor *mon)
{
  if (!mon)
    return;
  if (mon->frames)
    vdm_frame_map_free (mon->frames);
  if (mon->seqs)
    vdm_seq_tracker_free (mon->seqs);
  if (mon->gaps)
    vdm_gap_reconciler_free (mon->gaps);
  if (mon->batcher)
    vdm_drop_batcher_free (mon->batcher);
  if (mon->detector)
    vdm_detector_free (mon->detector);
  free (mon->reports);
  free (mon->alerts);
  free (mon);
}

void
vdm_stream_monitor_set_config (vdm_stream_monitor *mon, const vdm_monitor_config *config)
{
  mon->config = *config;
  vdm_drop_batcher_set_interval (mon->batcher, config->batch_interval_ns);
  vdm_detector_set_config (mon->detector, &config->detector);
}

void
vdm_stream_monitor_get_config (const vdm_stream_monitor *mon, vdm_monitor_config *config)
{
  *config = mon->config;
}

void
vdm_stream_monitor_reset (vdm_stream_monitor *mon)
{
  vdm_frame_map_reset (mon->frames);
  vdm_frame_map_set_clock_rate (mon->frames, DEFAULT_CLOCK_RATE);
  vdm_seq_tracker_reset (mon->seqs);
  vdm_gap_reconciler_reset (mon->gaps);
  vdm_drop_batcher_reset (mon->batcher);
  vdm_detector_reset (mon->detector);
  mon->detector_started = false;
  vdm_arrival_stats_init (&mon->arrival, DEFAULT_CLOCK_RATE);
  vdm_clock_map_init (&mon->clock_map);
  mon->is_rtp = false;
  mon->codec = VDM_CODEC_UNKNOWN;
  mon->clock_rate = DEFAULT_CLOCK_RATE;
  mon->height = -1;
  mon->latency = mon->buffer_latency = VDM_TIME_NONE;
  mon->active = false;
  vdm_monitor_restart_runway (mon);
  vdm_monitor_predict_reset (mon);
  vdm_monitor_reset_episode (mon);
  mon->silent = mon->deficit = false;
  mon->queue_fill_recent = mon->queue_fill_peak = -1.0;
  mon->next_bin = VDM_TIME_NONE;
  mon->buffers = mon->bytes = mon->rtp_packets = mon->arrival_bytes = 0;
  mon->drop_reports = mon->warnings = mon->reader_stalls = 0;
  mon->keyframe_requests_sent = mon->keyframe_requests_seen = 0;
  mon->bitrate = mon->fid_mean_ms = mon->fid_max_ms = 0;
  mon->n_reports = mon->n_alerts = 0;
}

/* ------------------------------------------------------------------------ */
/* What the stream is.                                                       */

void
vdm_stream_monitor_set_format (vdm_stream_monitor *mon, bool is_rtp, vdm_codec codec,
    uint32_t clock_rate, int height)
{
  mon->is_rtp = is_rtp;
  mon->codec = codec;
  mon->height = height;
  if (clock_rate > 0) {
    mon->clock_rate = clock_rate;
    vdm_frame_map_set_clock_rate (mon->frames, clock_rate);
    vdm_arrival_stats_init (&mon->arrival, clock_rate);
  }
}

bool
vdm_stream_monitor_is_rtp (const vdm_stream_monitor *mon)
{
  return mon->is_rtp;
}

vdm_codec
vdm_stream_monitor_codec (const vdm_stream_monitor *mon)
{
  return mon->codec;
}

void
vdm_stream_monitor_set_latency (vdm_stream_monitor *mon, uint64_t latency_ns)
{
  mon->latency = latency_ns;
}

void
vdm_stream_monitor_set_buffer_latency (vdm_stream_monitor *mon, uint64_t latency_ns)
{
  mon->buffer_latency = latency_ns;
}

void
vdm_stream_monitor_set_clock_map (vdm_stream_monitor *mon, const vdm_clock_map *map)
{
  mon->clock_map = *map;
}

void
vdm_stream_monitor_time_base_changed (vdm_stream_monitor *mon)
{
  vdm_detector_reset (mon->detector);
  mon->detector_started = false;
  vdm_arrival_stats_init (&mon->arrival, mon->clock_rate);
  vdm_monitor_predict_reset (mon);
  mon->silent = false;
}

void
vdm_stream_monitor_set_active (vdm_stream_monitor *mon, bool active, uint64_t now)
{
  if (active && !mon->active) {
    /* Nothing arrived while paused, and nothing was due: silence and the
     * arrival lag count from the resume, not from the last packet. */
    if (mon->arrival.started && now != VDM_TIME_NONE && now > mon->arrival.last_arrival_ns)
      mon->arrival.last_arrival_ns = now;
    vdm_runway_init (&mon->runway);
    vdm_monitor_predict_reset (mon);
  }
  if (!active && mon->deficit) {
    /* a pause is no outage: the deficit ends with it */
    mon->deficit = mon->silent = false;
    vdm_monitor_detector_at (mon, now);
    vdm_detector_arrival_deficit (mon->detector, now, false, VDM_CAUSE_NETWORK);
  }
  mon->active = active;
}

/* ------------------------------------------------------------------------ */
/* Packets and buffers.                                                      */

void
vdm_stream_monitor_buffer_passed (vdm_stream_monitor *mon, size_t size)
{
  mon->buffers++;
  mon->bytes += size;
}

static void
rtp_passed (vdm_stream_monitor *mon, uint32_t ssrc, uint32_t rtp_ts, uint64_t pts, bool keyframe)
{
  mon->rtp_packets++;
  vdm_frame_map_observe_rtp (mon->frames, ssrc, rtp_ts, pts, keyframe);
}

void
vdm_stream_monitor_rtp_passed (vdm_stream_monitor *mon, const vdm_rtp_header *rtp, uint64_t pts)
{
  rtp_passed (mon, rtp->ssrc, rtp->timestamp, pts,
      vdm_payload_is_keyframe (mon->codec, rtp->payload, rtp->payload_len));
}

void
vdm_stream_monitor_media_passed (vdm_stream_monitor *mon, uint64_t arrival_running, uint64_t pts)
{
  vdm_frame_map_observe_arrival (mon->frames, arrival_running, pts);
}

/* Loss the kernel did not explain: it happened before this host. */
static void
on_unexplained_gap (uint32_t ssrc, uint16_t first_seq, uint16_t count, uint64_t detected_ns,
    const vdm_gap_context *context, void *user_data)
{
  vdm_stream_monitor *mon = user_data;
  vdm_drop_record record = {
    .source = VDM_DROP_SOURCE_RTP_GAP,
    .reason_name = "RTP_SEQ_GAP",
    /* CLOCK_MONOTONIC of the arrival that revealed it, as for kernel drops */
    .time_ns = detected_ns,
    .count = count,
    .has_rtp = true,
    .ssrc = ssrc,
    .rtp_seq = first_seq,
    /* the frame of the packet after the gap: the one known to be damaged */
    .rtp_ts = context->rtp_ts,
    .payload_type = context->payload_type,
  };
  vdm_frame_info frame;

  /* Lost inside a keyframe: the packet after the gap, or its frame, says so. */
  record.keyframe_packet = context->keyframe
      || (vdm_frame_map_lookup_rtp (mon->frames, ssrc, context->rtp_ts, &frame)
      && frame.pts_exact && frame.keyframe);
  vdm_drop_batcher_add (mon->batcher, &record, mon->now.mono);
  vdm_monitor_detector_at (mon, context->stamp);
  vdm_detector_add_drops (mon->detector, context->stamp, VDM_CAUSE_NETWORK, count);
  if (record.keyframe_packet)
    vdm_detector_keyframe_lost (mon->detector, context->stamp);
  mon->episode.gap_seen = true;
  vdm_monitor_note_damage (mon, context->stamp);
}

static bool
rtp_arrived (vdm_stream_monitor *mon, const vdm_rtp_header *rtp, bool keyframe, size_t size,
    vdm_now now)
{
  vdm_gap_context context = {
    .stamp = now.clock,         /* the damage, on the detector's time base */
    .rtp_ts = rtp->timestamp,
    .payload_type = rtp->payload_type,
    .keyframe = keyframe,
  };
  vdm_seq_gap gap;

  mon->now = now;
  mon->arrival_bytes += size;
  vdm_arrival_stats_packet (&mon->arrival, now.clock, rtp->ssrc, rtp->timestamp);
  vdm_monitor_observe_rtp_media (mon, rtp, now.clock);
  vdm_gap_reconciler_arrived (mon->gaps, rtp->ssrc, rtp->seq);
  if (!vdm_seq_tracker_push (mon->seqs, rtp->ssrc, rtp->seq, &gap))
    return false;
  /* the grace runs on the kernel's pace: its events come in real time */
  vdm_gap_reconciler_gap (mon->gaps, now.mono, &context, gap.ssrc, gap.first_missing, gap.count,
      on_unexplained_gap, mon);
  return true;
}

bool
vdm_stream_monitor_rtp_arrived (vdm_stream_monitor *mon, const vdm_rtp_header *rtp, size_t size,
    vdm_now now)
{
  return rtp_arrived (mon, rtp,
      vdm_payload_is_keyframe (mon->codec, rtp->payload, rtp->payload_len), size, now);
}

void
vdm_stream_monitor_media_arrived (vdm_stream_monitor *mon, uint64_t pts, uint64_t now)
{
  vdm_runway_observe (&mon->runway, now, pts);
  vdm_monitor_predict_arrival (mon, now, pts);
  /* Non-RTP streams (FLV after flvdemux) need silence, jitter and FID too:
   * their PTS in the units of an RTP timestamp (one "source", 0). */
  vdm_arrival_stats_packet (&mon->arrival, now, 0,
      (uint32_t) ((unsigned __int128) pts * mon->arrival.clock_rate / VDM_SECOND));
}

/* The facts of one packet from a packet ring: the same inputs as the calls
 * above, with the keyframe flag the producer found in the payload. */
bool
vdm_stream_monitor_packet (vdm_stream_monitor *mon, const vdm_packet_record *r)
{
  bool rtp = r->flags & VDM_PACKET_RTP, keyframe = r->flags & VDM_PACKET_KEYFRAME;
  vdm_now now = {.clock = r->clock,.mono = r->mono };

  if (r->flags & VDM_PACKET_PASSED)
    vdm_stream_monitor_buffer_passed (mon, r->size);
  if (r->flags & VDM_PACKET_FRAME) {
    if (rtp)
      rtp_passed (mon, r->ssrc, r->rtp_ts, r->pts, keyframe);
    else if (r->pts != VDM_TIME_NONE)
      vdm_stream_monitor_media_passed (mon, r->pts, r->pts);
  }
  if (!(r->flags & VDM_PACKET_ARRIVED))
    return false;
  if (r->flags & VDM_PACKET_AFTER_LOSS)
    vdm_stream_monitor_arrivals_unobserved (mon);
  if (rtp) {
    vdm_rtp_header header = {
      .marker = r->flags & VDM_PACKET_MARKER,
      .payload_type = r->payload_type,
      .seq = r->seq,
      .timestamp = r->rtp_ts,
      .ssrc = r->ssrc,
    };
    return rtp_arrived (mon, &header, keyframe, r->size, now);
  }
  if (r->pts != VDM_TIME_NONE)
    vdm_stream_monitor_media_arrived (mon, r->pts, r->clock);
  return false;
}

void
vdm_stream_monitor_arrivals_unobserved (vdm_stream_monitor *mon)
{
  /* the sequence numbers of the missing arrivals are no loss */
  vdm_seq_tracker_forget_sources (mon->seqs);
}

void
vdm_stream_monitor_arrivals_moved (vdm_stream_monitor *mon)
{
  vdm_seq_tracker_forget_sources (mon->seqs);
  /* arrival times jump back by the latency between the two points too */
  vdm_arrival_stats_init (&mon->arrival, mon->arrival.clock_rate);
  vdm_monitor_restart_runway (mon);
  vdm_monitor_predict_reset (mon);
}

void
vdm_stream_monitor_flush (vdm_stream_monitor *mon)
{
  vdm_frame_map_reset (mon->frames);
  vdm_seq_tracker_forget_sources (mon->seqs);
}

/* ------------------------------------------------------------------------ */
/* Kernel drops.                                                             */

static vdm_drop_source
drop_source_of_protocol (uint8_t protocol)
{
  if (protocol == IPPROTO_UDP_)
    return VDM_DROP_SOURCE_KERNEL_UDP;
  if (protocol == IPPROTO_TCP_)
    return VDM_DROP_SOURCE_KERNEL_TCP;
  return VDM_DROP_SOURCE_KERNEL_OTHER;
}

/* When the kernel dropped it, on the stream's clock: as long before now
 * as the drop is before now on CLOCK_MONOTONIC (both read at one moment,
 * so a clock that does not follow real time, a GstTestClock, gets it
 * right too). */
static uint64_t
drop_time (uint64_t ktime_ns, vdm_now now)
{
  uint64_t age;

  if (ktime_ns == 0 || ktime_ns > now.mono)
    return now.clock;
  age = now.mono - ktime_ns;
  return age < now.clock ? now.clock - age : 0;
}

static void
note_reason (vdm_stream_monitor *mon, uint32_t reason, const char *name)
{
  unsigned slot = reason < VDM_REASON_SLOTS - 1 ? reason : VDM_REASON_SLOTS - 1;

  mon->episode.reasons_seen[slot]++;
  if (!mon->episode.reason_names[slot][0])
    snprintf (mon->episode.reason_names[slot], VDM_REASON_NAME_MAX, "%s", name ? name : "");
}

/* A drop's cause: its reason's class (detector.c) — but a TCP segment of
 * data this host already had (TCP_OLD_DATA) that comes while our reader is
 * starved (stream_monitor_predict.c) is this host's: the reader left the
 * receive window full, and the sender probed it or sent again what was
 * not acknowledged (issue 9: a TCP reader held 800 ms made these, and
 * they warned `network`, lower-bitrate). While the reader keeps up, such
 * a segment is the sender's timer on its own (a lost ACK, a delay spike on
 * the path): network. */
static vdm_cause
kernel_drop_cause (const vdm_stream_monitor *mon, const vdm_kernel_drop *drop, uint64_t t)
{
  vdm_cause cause = vdm_cause_of_reason (drop->reason_name);

  if (drop->protocol == IPPROTO_TCP_ && vdm_reason_is_tcp_old_data (drop->reason_name)
      && vdm_monitor_predict_reader_starved_at (mon, t))
    return VDM_CAUSE_HOST;
  return cause ? cause : VDM_CAUSE_NETWORK;
}

bool
vdm_stream_monitor_kernel_drop (vdm_stream_monitor *mon, const vdm_kernel_drop *drop,
    vdm_now now)
{
  vdm_drop_record record = {
    .source = drop_source_of_protocol (drop->protocol),
    .watch_id = drop->watch_id,
    .reason = drop->reason,
    .reason_name = drop->reason_name,
    .time_ns = drop->ktime_ns,
    .count = drop->count > 1 ? drop->count : 1,
    .attribution = drop->attribution,
  };
  vdm_rtp_header rtp;
  uint64_t before, t = drop_time (drop->ktime_ns, now);
  vdm_cause cause = kernel_drop_cause (mon, drop, t);

  mon->now = now;
  if (drop->protocol == IPPROTO_UDP_ && drop->payload
      && vdm_rtp_parse (drop->payload, drop->payload_len, false, &rtp)) {
    record.has_rtp = true;
    record.ssrc = rtp.ssrc;
    record.rtp_seq = rtp.seq;
    record.rtp_ts = rtp.timestamp;
    record.payload_type = rtp.payload_type;
    record.keyframe_packet = vdm_payload_is_keyframe (mon->codec, rtp.payload, rtp.payload_len);
    vdm_gap_reconciler_kernel_drop (mon->gaps, rtp.ssrc, rtp.seq);
  }
  before = vdm_drop_batcher_next_deadline (mon->batcher);
  vdm_drop_batcher_add (mon->batcher, &record, now.mono);
  /* A catch-up is history (drops while the collector daemon was away, or
   * before the watch): reported and counted, but no surge now. */
  if (drop->attribution == VDM_ATTR_CATCH_UP)
    return vdm_drop_batcher_next_deadline (mon->batcher) < before;
  vdm_monitor_detector_at (mon, t);
  vdm_detector_add_drops (mon->detector, t, cause, 1);
  if (record.keyframe_packet)
    vdm_detector_keyframe_lost (mon->detector, t);
  note_reason (mon, drop->reason, drop->reason_name);
  /* TCP retransmits what it drops: delay, not damage (the runway sees it) */
  if (drop->protocol != IPPROTO_TCP_)
    vdm_monitor_note_damage (mon, t);
  return record.keyframe_packet || vdm_drop_batcher_next_deadline (mon->batcher) < before;
}

void
vdm_stream_monitor_kernel_drops_unseen (vdm_stream_monitor *mon, const vdm_kernel_drop *drop,
    uint64_t count, vdm_now now)
{
  vdm_drop_record record = {
    .source = drop_source_of_protocol (drop->protocol),
    .watch_id = drop->watch_id,
    .reason = drop->reason,
    .reason_name = drop->reason_name,
    .time_ns = now.mono,
    .count = (uint32_t) (count < UINT32_MAX ? count : UINT32_MAX),
    .attribution = drop->attribution,
  };
  vdm_cause cause = kernel_drop_cause (mon, drop, now.clock);

  if (count == 0)
    return;
  mon->now = now;
  /* gaps they left are already waiting, or come within a grace (the
   * packets behind them are still queued) */
  if (drop->protocol == IPPROTO_UDP_)
    vdm_gap_reconciler_unnamed_drops (mon->gaps, count, now.mono + mon->config.gap_grace_ns);
  vdm_drop_batcher_add (mon->batcher, &record, now.mono);
  vdm_monitor_detector_at (mon, now.clock);
  vdm_detector_add_drops (mon->detector, now.clock, cause, (unsigned) record.count);
  note_reason (mon, drop->reason, drop->reason_name);
  if (drop->protocol != IPPROTO_TCP_)
    vdm_monitor_note_damage (mon, now.clock);
}

void
vdm_stream_monitor_queue_fill (vdm_stream_monitor *mon, double fill, uint64_t now)
{
  mon->queue_fill_recent = fill;
  if (fill < 0)
    return;
  if (fill > mon->queue_fill_peak)
    mon->queue_fill_peak = fill;
  vdm_monitor_detector_at (mon, now);
  vdm_detector_queue_fill (mon->detector, now, fill);
}

void
vdm_stream_monitor_socket_backlog (vdm_stream_monitor *mon, uint64_t unread_bytes, uint64_t now)
{
  if (unread_bytes > 0)
    vdm_monitor_predict_backlog (mon, now);
}

void
vdm_stream_monitor_keyframe_request_sent (vdm_stream_monitor *mon)
{
  mon->keyframe_requests_sent++;
}

void
vdm_stream_monitor_keyframe_request_seen (vdm_stream_monitor *mon)
{
  mon->keyframe_requests_seen++;
}

/* ------------------------------------------------------------------------ */
/* Batches → reports.                                                        */

static void
place_rtp_batch (const vdm_stream_monitor *mon, vdm_drop_report *report)
{
  const vdm_drop_batch *b = &report->batch;

  for (unsigned i = 0; i < b->n_frames; i++) {
    vdm_frame_info info;
    if (!vdm_frame_map_lookup_rtp (mon->frames, b->ssrc, b->rtp_ts[i], &info))
      continue;
    report->keyframe |= info.keyframe;
    if (info.pts == VDM_TIME_NONE)
      continue;
    if (report->pts_first == VDM_TIME_NONE || info.pts < report->pts_first)
      report->pts_first = info.pts;
    if (report->pts_last == VDM_TIME_NONE || info.pts > report->pts_last)
      report->pts_last = info.pts;
  }
}

static bool
grow (void **array, unsigned *cap, unsigned n, size_t size)
{
  unsigned new_cap;
  void *bigger;

  if (n < *cap)
    return true;
  new_cap = *cap ? *cap * 2 : 16;
  bigger = realloc (*array, (size_t) new_cap * size);
  if (!bigger)
    return false;
  *array = bigger;
  *cap = new_cap;
  return true;
}

/* Batcher callback: place the batch on the timeline now, while the frame
 * map still remembers its frames. */
static void
on_batch_ready (const vdm_drop_batch *batch, void *user_data)
{
  vdm_stream_monitor *mon = user_data;
  vdm_drop_report *report;

  if (!grow ((void **) &mon->reports, &mon->cap_reports, mon->n_reports, sizeof (*report)))
    return;                     /* out of memory: the batch is lost, the counters are not */
  report = &mon->reports[mon->n_reports++];
  memset (report, 0, sizeof (*report));
  report->batch = *batch;
  report->running_time = vdm_clock_map_running_time (&mon->clock_map, batch->first_time_ns);
  report->pts_first = report->pts_last = VDM_TIME_NONE;
  report->keyframe = batch->keyframe;
  if (batch->has_rtp && batch->n_frames) {
    place_rtp_batch (mon, report);
  } else {
    report->pts_first = vdm_frame_map_lookup_arrival (mon->frames, report->running_time);
    report->pts_last = vdm_frame_map_lookup_arrival (mon->frames,
        vdm_clock_map_running_time (&mon->clock_map, batch->last_time_ns));
  }
}

void
vdm_monitor_detector_at (vdm_stream_monitor *mon, uint64_t t)
{
  uint64_t bin = mon->config.detector.bin_ns;
  vdm_detector_event none[1];

  if (mon->detector_started || t == VDM_TIME_NONE)
    return;
  mon->detector_started = true;
  vdm_detector_advance (mon->detector, bin ? t - t % bin : t, none, 0);
}

bool
vdm_monitor_push_alert (vdm_stream_monitor *mon, const vdm_alert *alert)
{
  if (!grow ((void **) &mon->alerts, &mon->cap_alerts, mon->n_alerts, sizeof (*alert)))
    return false;
  mon->alerts[mon->n_alerts++] = *alert;
  return true;
}

/* ------------------------------------------------------------------------ */
/* Time.                                                                     */

static uint64_t
add_saturating (uint64_t a, uint64_t b)
{
  return b > VDM_TIME_NONE - a ? VDM_TIME_NONE : a + b;
}

void
vdm_stream_monitor_tick (vdm_stream_monitor *mon, vdm_now now, bool final)
{
  mon->now = now;
  if (final) {
    vdm_gap_reconciler_settle (mon->gaps, VDM_TIME_NONE, 0, on_unexplained_gap, mon);
    vdm_drop_batcher_flush_all (mon->batcher);
  } else {
    vdm_gap_reconciler_settle (mon->gaps, now.mono, mon->config.gap_grace_ns,
        on_unexplained_gap, mon);
    vdm_drop_batcher_flush_due (mon->batcher, now.mono);
  }
  if (mon->active)
    vdm_monitor_run_detector (mon, now.clock);
  mon->next_bin = add_saturating (now.mono, mon->config.detector.bin_ns);
}

uint64_t
vdm_stream_monitor_next_deadline (const vdm_stream_monitor *mon, uint64_t now)
{
  uint64_t next = mon->next_bin;
  uint64_t gap = vdm_gap_reconciler_oldest (mon->gaps);
  uint64_t batch = vdm_drop_batcher_next_deadline (mon->batcher);
  uint64_t stall = vdm_monitor_predict_stall_deadline (mon);

  if (next == VDM_TIME_NONE)
    next = now;
  if (stall < next)
    next = stall;
  if (gap != UINT64_MAX)
    next = next < add_saturating (gap, mon->config.gap_grace_ns) ? next
        : add_saturating (gap, mon->config.gap_grace_ns);
  return batch < next ? batch : next;
}

void
vdm_stream_monitor_close_interval (vdm_stream_monitor *mon, uint64_t interval_ns)
{
  vdm_arrival_stats_take_fid (&mon->arrival, &mon->fid_mean_ms, &mon->fid_max_ms);
  mon->bitrate = interval_ns ? mon->arrival_bytes * 8.0 * VDM_SECOND / interval_ns : 0;
  mon->arrival_bytes = 0;
}

/* ------------------------------------------------------------------------ */
/* Outputs.                                                                  */

unsigned
vdm_stream_monitor_take_reports (vdm_stream_monitor *mon, vdm_drop_report *out, unsigned max)
{
  unsigned n = mon->n_reports < max ? mon->n_reports : max;

  if (n == 0)
    return 0;                   /* the array may not exist yet: no memcpy from NULL */
  memcpy (out, mon->reports, n * sizeof (*out));
  memmove (mon->reports, mon->reports + n, (mon->n_reports - n) * sizeof (*out));
  mon->n_reports -= n;
  mon->drop_reports += n;
  return n;
}

unsigned
vdm_stream_monitor_take_alerts (vdm_stream_monitor *mon, vdm_alert *out, unsigned max)
{
  unsigned n = mon->n_alerts < max ? mon->n_alerts : max;

  if (n == 0)
    return 0;                   /* the array may not exist yet: no memcpy from NULL */
  memcpy (out, mon->alerts, n * sizeof (*out));
  memmove (mon->alerts, mon->alerts + n, (mon->n_alerts - n) * sizeof (*out));
  mon->n_alerts -= n;
  return n;
}

void
vdm_stream_monitor_stats (const vdm_stream_monitor *mon, vdm_monitor_stats *out)
{
  vdm_seq_stats seq;
  uint64_t expected, buffer = vdm_monitor_playout_buffer (mon);

  memset (out, 0, sizeof (*out));
  vdm_seq_tracker_stats (mon->seqs, &seq);
  out->buffers = mon->buffers;
  out->bytes = mon->bytes;
  out->rtp_packets = mon->rtp_packets;
  out->rtp_lost = seq.lost;
  out->rtp_reordered = seq.reordered;
  out->rtp_duplicates = seq.duplicates;
  expected = seq.received + seq.lost;
  out->loss_fraction = expected ? (double) seq.lost / expected : 0.0;
  out->jitter_ms = vdm_arrival_stats_jitter_ms (&mon->arrival);
  out->fid_ms = mon->fid_mean_ms;
  out->fid_max_ms = mon->fid_max_ms;
  out->bitrate = mon->bitrate;
  out->queue_fill_peak = mon->queue_fill_peak;
  out->drop_reports = mon->drop_reports;
  out->warnings = mon->warnings;
  out->keyframe_requests_sent = mon->keyframe_requests_sent;
  out->keyframe_requests_seen = mon->keyframe_requests_seen;
  out->detector_state = vdm_level_name (vdm_detector_level (mon->detector));
  out->lag_ms = vdm_runway_lag (&mon->runway) / 1e6;
  out->runway_ms = -1.0;
  if (buffer != VDM_TIME_NONE && buffer) {
    uint64_t empty_in = vdm_runway_time_to_empty (&mon->runway, buffer), jb_freeze;

    /* over RTP the jitterbuffer's timeline may break first */
    if (vdm_monitor_predict_jb_freeze (mon, buffer, (int64_t) (buffer / 10), &jb_freeze)
        && jb_freeze < empty_in)
      empty_in = jb_freeze;
    if (empty_in != VDM_TIME_NONE)
      out->runway_ms = empty_in / 1e6;
  }
  vdm_monitor_predict_stats (mon, out);
  vdm_detector_snapshot (mon->detector, &out->ewma, &out->baseline);
}

void
vdm_stream_monitor_restart_peak (vdm_stream_monitor *mon)
{
  mon->queue_fill_peak = -1.0;
}
