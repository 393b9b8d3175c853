/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stream_monitor.h — one monitored stream: everything that is known of it
 * and everything it has to say. It owns the frame map, the sequence
 * tracker, the gap reconciler, the drop batcher, the surge detector, the
 * arrival statistics, the runway, the warning episode and the counters.
 *
 * Plain C: no GStreamer, no locks (the caller serialises calls), no clock
 * of its own. Every input carries the time it happened at, as a vdm_now:
 * `clock`, the stream's time base (the element passes its pipeline clock,
 * so that a GstTestClock drives the detector, silence and runway), and
 * `mono`, CLOCK_MONOTONIC, the kernel's pace, on which batches close and
 * arrival gaps wait for the kernel to name their packets. A daemon passes
 * CLOCK_MONOTONIC for both. Kernel drops are stamped CLOCK_MONOTONIC; a
 * clock map (set by the caller) brings them to clock time and running time.
 *
 * Inputs are calls: a packet arrived, a buffer passed, the kernel dropped
 * this, the queue is this full, time is now T (tick). Outputs are plain
 * structs the caller drains after a tick: drop reports, alerts (warnings
 * and clears), and a stats snapshot on demand. A monitor works without
 * arrival input (a daemon sees kernel drops only) and without kernel input
 * (no eBPF: gaps and silence only).
 */
#ifndef VDM_STREAM_MONITOR_H
#define VDM_STREAM_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock_map.h"
#include "detector.h"
#include "drop_batcher.h"
#include "packet_ring.h"
#include "rtp_parse.h"
#include "vdm_time.h"

#define VDM_MONITOR_REASONS_MAX 256   /* "SOCKET_RCVBUFF,RTP_SEQ_GAP" */

/* The time of an input: see above. */
typedef struct {
  uint64_t clock;                 /* the stream's time base ("monitor time") */
  uint64_t mono;                  /* CLOCK_MONOTONIC */
} vdm_now;

typedef struct {
  vdm_detector_config detector;
  uint64_t batch_interval_ns;     /* drops of one key within this make one report */
  uint64_t silence_threshold_ns;  /* nothing arriving this long is an outage */
  uint64_t playout_buffer_ns;     /* media the player holds; 0: the pipeline latency */
  uint64_t runway_threshold_ns;   /* warn when the playout buffer empties within this */
  /* Queue build-up (stream_monitor_predict.c): "overusing" must hold this
   * long (500 ms), with at least this queue delay (0: a quarter of the
   * playout buffer, within 40-80 ms), before it warns. */
  uint64_t congestion_sustain_ns;
  uint64_t congestion_min_delay_ns;
  /* The adaptive stall threshold never goes below this (60 ms). */
  uint64_t stall_floor_ns;
  /* How long an arrival gap waits for the kernel to name its packets: 0
   * without a kernel event source (the gap is reported at once). */
  uint64_t gap_grace_ns;
} vdm_monitor_config;

/* A kernel drop, as plain values: nothing here points into the source's
 * memory after the call returns. */
typedef struct {
  uint64_t ktime_ns;              /* CLOCK_MONOTONIC of the drop */
  uint32_t reason;                /* the kernel's skb_drop_reason */
  const char *reason_name;        /* read during the call only (copied) */
  uint32_t watch_id;
  uint8_t protocol;               /* IPPROTO_UDP, IPPROTO_TCP, ... */
  uint8_t attribution;            /* enum vdm_attribution */
  const uint8_t *payload;         /* first L4 payload bytes, read during the call only */
  size_t payload_len;
  uint32_t count;                 /* packets: 0 or 1 = one; more for a catch-up */
} vdm_kernel_drop;

/* A closed batch of drops, placed on the stream's timeline. */
typedef struct {
  vdm_drop_batch batch;           /* reason name copied in */
  uint64_t running_time;          /* of the first drop, VDM_TIME_NONE unknown */
  uint64_t pts_first, pts_last;   /* of the frames it hit, VDM_TIME_NONE unknown */
  bool keyframe;                  /* it hit a keyframe */
} vdm_drop_report;

/* A warning (a freeze is coming) or a clear (the trouble is over). */
typedef struct {
  vdm_detector_event event;       /* type, level, causes, action, rates, episode */
  char reasons[VDM_MONITOR_REASONS_MAX]; /* kernel reasons and RTP_SEQ_GAP of the episode */
  uint64_t stall_eta_ns;          /* until the damage reaches the sink; VDM_TIME_NONE unknown */
  uint64_t running_time;          /* of event.time_ns, VDM_TIME_NONE unknown */
  int suggested_height;           /* next rung down the ladder, -1 unknown */
  int suggested_bitrate;          /* 70 % of the measured bitrate for lower-bitrate, else -1 */
} vdm_alert;

/* What the stream looks like now (the element adds the collector's side). */
typedef struct {
  uint64_t buffers, bytes;
  uint64_t rtp_packets, rtp_lost, rtp_reordered, rtp_duplicates;
  double loss_fraction;
  double jitter_ms;
  double fid_ms, fid_max_ms;      /* over the last stats interval */
  double bitrate;                 /* bits/s at arrival over the last stats interval */
  double queue_fill_peak;         /* 0..1 since the last interval, -1 unknown */
  uint64_t drop_reports;          /* reports drained so far */
  uint64_t warnings;
  uint64_t keyframe_requests_sent, keyframe_requests_seen;
  const char *detector_state;     /* static: "normal" | "warning" | "critical" */
  double ewma, baseline;
  double lag_ms;
  double runway_ms;               /* -1: not emptying */
  double queue_delay_ms;          /* delay above the empty-queue delay (trendline) */
  double trend;                   /* delay gradient, ms per ms of arrival */
  const char *usage;              /* static: "normal" | "overusing" | "underusing" */
  double stall_threshold_ms;      /* nothing arriving this long is a stall */
  uint64_t reader_stalls;         /* silences past it that waited in the kernel (not stalls) */
} vdm_monitor_stats;

typedef struct vdm_stream_monitor vdm_stream_monitor;

void vdm_monitor_config_init (vdm_monitor_config *config);   /* the element's defaults */
vdm_stream_monitor *vdm_stream_monitor_new (const vdm_monitor_config *config);
void vdm_stream_monitor_free (vdm_stream_monitor *mon);
/* Takes effect at once: open batches get the new interval, the detector
 * its new settings from its next bin. */
void vdm_stream_monitor_set_config (vdm_stream_monitor *mon, const vdm_monitor_config *config);
void vdm_stream_monitor_get_config (const vdm_stream_monitor *mon, vdm_monitor_config *config);
/* Forgets everything of the stream — open batches, undrained reports and
 * alerts, the episode, counters — as at creation. The one place that
 * decides what a restart clears. */
void vdm_stream_monitor_reset (vdm_stream_monitor *mon);

/* ---- what the stream is ---- */
void vdm_stream_monitor_set_format (vdm_stream_monitor *mon, bool is_rtp, vdm_codec codec,
    uint32_t clock_rate, int height);
bool vdm_stream_monitor_is_rtp (const vdm_stream_monitor *mon);
vdm_codec vdm_stream_monitor_codec (const vdm_stream_monitor *mon);
/* The pipeline's latency / a jitterbuffer's latency found nearby (for the
 * playout buffer when playout_buffer_ns is 0); VDM_TIME_NONE unknown. */
void vdm_stream_monitor_set_latency (vdm_stream_monitor *mon, uint64_t latency_ns);
void vdm_stream_monitor_set_buffer_latency (vdm_stream_monitor *mon, uint64_t latency_ns);
/* The clock map from CLOCK_MONOTONIC to monitor time and running time;
 * invalid (no pipeline clock yet) means monitor time is CLOCK_MONOTONIC. */
void vdm_stream_monitor_set_clock_map (vdm_stream_monitor *mon, const vdm_clock_map *map);
/* A new time base: what the detector and the arrival statistics learned
 * on the old one does not compare. */
void vdm_stream_monitor_time_base_changed (vdm_stream_monitor *mon);
/* Paused: no arrivals are expected, so no silence or runway warnings; on
 * resume the silence counts from now. */
void vdm_stream_monitor_set_active (vdm_stream_monitor *mon, bool active, uint64_t now_clock);

/* ---- inputs ---- */
/* A buffer passed the element (any kind); counted. */
void vdm_stream_monitor_buffer_passed (vdm_stream_monitor *mon, size_t size);
/* An RTP packet passed with this PTS (VDM_TIME_NONE if none): teaches the
 * frame map which PTS and keyframe flag its timestamp has. */
void vdm_stream_monitor_rtp_passed (vdm_stream_monitor *mon, const vdm_rtp_header *rtp,
    uint64_t pts);
/* A timestamped non-RTP buffer passed at running time `arrival_running`. */
void vdm_stream_monitor_media_passed (vdm_stream_monitor *mon, uint64_t arrival_running,
    uint64_t pts);
/* An RTP packet arrived (as early as it can be seen: udpsrc). Returns true
 * when it revealed a gap (worth a tick soon). */
bool vdm_stream_monitor_rtp_arrived (vdm_stream_monitor *mon, const vdm_rtp_header *rtp,
    size_t size, vdm_now now);
/* A timestamped non-RTP unit arrived (media time pts). */
void vdm_stream_monitor_media_arrived (vdm_stream_monitor *mon, uint64_t pts, uint64_t now_clock);
/* One packet's facts, handed over through a packet ring (packet_ring.h)
 * by a streaming thread that does not take the caller's lock: PASSED does
 * what buffer_passed does, FRAME what rtp_passed (media_passed, not RTP)
 * does, ARRIVED
 * what rtp_arrived (media_arrived) does, at the record's times, with the
 * keyframe flag the producer found. AFTER_LOSS on an arrival: the arrivals
 * just before it were not observed (arrivals_unobserved). Returns true
 * when it revealed a gap. */
bool vdm_stream_monitor_packet (vdm_stream_monitor *mon, const vdm_packet_record *record);
/* Arrivals were not observed (a full packet ring): the next packet of each
 * source starts a new sequence, so the missing ones are not loss. */
void vdm_stream_monitor_arrivals_unobserved (vdm_stream_monitor *mon);
/* The arrival point moved upstream (a udpsrc probe took over): sequence
 * and arrival state start over, the totals stay. */
void vdm_stream_monitor_arrivals_moved (vdm_stream_monitor *mon);
/* A flushing seek: timestamps restart; the totals stay. */
void vdm_stream_monitor_flush (vdm_stream_monitor *mon);
/* The kernel dropped a packet of this stream; now: when it was received.
 * Returns true when it cannot wait for the next planned tick (a keyframe,
 * or a batch due earlier than any before). */
bool vdm_stream_monitor_kernel_drop (vdm_stream_monitor *mon, const vdm_kernel_drop *drop,
    vdm_now now);
/* The kernel dropped count packets of this stream (drop->reason, seen in
 * its per-reason counters) whose events never came: the ring buffer was
 * full (issue 9 #6). They count as drops of their reason — cause and
 * action as if their events had come — in one report without seqs, and
 * they explain as many RTP gap seqs that no event named, so those do not
 * come back as network loss. drop->ktime_ns is ignored (unknown: now). */
void vdm_stream_monitor_kernel_drops_unseen (vdm_stream_monitor *mon,
    const vdm_kernel_drop *drop, uint64_t count, vdm_now now);
/* The receive queues the arrivals are read from (the udpsrc sockets) held
 * unread_bytes at monitor time now_clock: asked of the kernel right before
 * a tick. Data waiting there was delivered by the network, so a reader
 * late on a loaded host is no network stall (the adaptive stall counts
 * silence at the kernel), and a silence past `silence-threshold` with data
 * waiting is the host's (cause host). 0 bytes says nothing. */
void vdm_stream_monitor_socket_backlog (vdm_stream_monitor *mon, uint64_t unread_bytes,
    uint64_t now_clock);
/* Receive-queue fill peak (0..1) since the last call, -1 unknown. */
void vdm_stream_monitor_queue_fill (vdm_stream_monitor *mon, double fill, uint64_t now_clock);
void vdm_stream_monitor_keyframe_request_sent (vdm_stream_monitor *mon);
void vdm_stream_monitor_keyframe_request_seen (vdm_stream_monitor *mon);

/* ---- time ---- */
/* Time is now `now`: settles gaps, closes due batches, runs the detector.
 * final: the end (EOS, stop): everything pending comes out. Reports and
 * alerts wait to be drained. */
void vdm_stream_monitor_tick (vdm_stream_monitor *mon, vdm_now now, bool final);
/* CLOCK_MONOTONIC at which tick next has something to do (a batch, a
 * gap's grace, a detector bin, the stall threshold passing if nothing
 * arrives). */
uint64_t vdm_stream_monitor_next_deadline (const vdm_stream_monitor *mon, uint64_t now_mono);
/* Once per stats interval, before its stats: FID and bitrate over it. */
void vdm_stream_monitor_close_interval (vdm_stream_monitor *mon, uint64_t interval_ns);
/* After the interval's stats: the queue-fill peak starts over. */
void vdm_stream_monitor_restart_peak (vdm_stream_monitor *mon);

/* ---- outputs ---- */
/* Moves up to max waiting reports / alerts to out; returns how many. */
unsigned vdm_stream_monitor_take_reports (vdm_stream_monitor *mon, vdm_drop_report *out,
    unsigned max);
unsigned vdm_stream_monitor_take_alerts (vdm_stream_monitor *mon, vdm_alert *out, unsigned max);
void vdm_stream_monitor_stats (const vdm_stream_monitor *mon, vdm_monitor_stats *out);

#endif
