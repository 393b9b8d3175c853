/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stream_monitor_priv.h — the monitor's state, shared by its two files:
 *   stream_monitor.c         inputs, batches and reports, stats
 *   stream_monitor_alerts.c  runway, arrival deficit, episode, detector → alerts
 *   stream_monitor_predict.c stall and queue build-up from arrivals (issue 12)
 */
#ifndef VDM_STREAM_MONITOR_PRIV_H
#define VDM_STREAM_MONITOR_PRIV_H

#include "arrival_stats.h"
#include "frame_map.h"
#include "gap_reconciler.h"
#include "jb_model.h"
#include "runway.h"
#include "seq_tracker.h"
#include "stall_detector.h"
#include "stream_monitor.h"
#include "trendline.h"
#include "vdropmon_event.h"

/* What the warnings of one episode (warning → clear) need to say. */
typedef struct {
  uint64_t first_damage;          /* monitor time of the earliest damage since the last warning */
  uint64_t reasons_seen[VDM_REASON_SLOTS];
  char reason_names[VDM_REASON_SLOTS][VDM_REASON_NAME_MAX];
  bool gap_seen;
} vdm_episode;

/* The media clock the runway measures against: RTP timestamps extended
 * past their 32-bit wrap. */
typedef struct {
  bool valid;
  uint32_t ssrc;
  uint32_t last_rtp_ts;
  uint64_t rtp_ts_ext;
} vdm_media_clock;

struct vdm_stream_monitor {
  vdm_monitor_config config;
  vdm_now now;                    /* of the call in progress (for callbacks) */

  /* the stream */
  bool is_rtp;
  vdm_codec codec;
  uint32_t clock_rate;
  int height;
  uint64_t latency, buffer_latency;
  vdm_clock_map clock_map;
  bool active;

  vdm_frame_map *frames;
  vdm_seq_tracker *seqs;
  vdm_gap_reconciler *gaps;
  vdm_drop_batcher *batcher;
  vdm_detector *detector;
  bool detector_started;          /* its bins are aligned (vdm_monitor_detector_at) */
  vdm_arrival_stats arrival;
  vdm_runway runway;
  bool runway_settled;            /* restarted once past the start-up burst */
  vdm_media_clock media;
  vdm_stall_detector stall;       /* adaptive arrival-stall threshold */
  bool reader_stalled;            /* silent past it at the reader only, data in the kernel */
  uint64_t reader_stalls;         /* times that began */
  vdm_trendline trendline;        /* queue build-up on the path */
  vdm_jb_model jb;                /* an RTP jitterbuffer's timeline (RTP only) */
  /* queue-delay (ms) when the jitterbuffer last restarted its timeline:
   * the buffer was whole again there, only what queued since eats it */
  double queue_delay_base_ms;

  /* trouble */
  vdm_episode episode;
  bool silent;
  bool deficit;                   /* silent, or arriving too slowly to play (runway) */
  /* When the freeze the episode's last warning predicted was due (its
   * time + stall-eta), and the jitterbuffer restarts modelled by then:
   * past it, a deficit that goes on and predicts another freeze warns
   * again (a renewal). VDM_TIME_NONE: no warning, or no stall-eta. */
  uint64_t warned_due;
  uint64_t warned_restarts;
  double queue_fill_recent;       /* last known, -1 unknown */
  double queue_fill_peak;         /* since the last interval, -1 unknown */
  uint64_t next_bin;              /* CLOCK_MONOTONIC */

  /* counters */
  uint64_t buffers, bytes, rtp_packets, arrival_bytes;
  uint64_t drop_reports, warnings;
  uint64_t keyframe_requests_sent, keyframe_requests_seen;
  double bitrate, fid_mean_ms, fid_max_ms;

  /* outputs waiting to be drained */
  vdm_drop_report *reports;
  unsigned n_reports, cap_reports;
  vdm_alert *alerts;
  unsigned n_alerts, cap_alerts;
};

/* stream_monitor.c */
bool vdm_monitor_push_alert (vdm_stream_monitor *mon, const vdm_alert *alert);
/* Before any input to the detector at time t: a fresh detector's bins
 * start at a multiple of the bin length, so that bin edges (and the times
 * of warnings and clears) do not depend on when the first input came. */
void vdm_monitor_detector_at (vdm_stream_monitor *mon, uint64_t t);

/* stream_monitor_alerts.c */
void vdm_monitor_reset_episode (vdm_stream_monitor *mon);
void vdm_monitor_restart_runway (vdm_stream_monitor *mon);
void vdm_monitor_observe_rtp_media (vdm_stream_monitor *mon, const vdm_rtp_header *rtp,
    uint64_t now);
void vdm_monitor_note_damage (vdm_stream_monitor *mon, uint64_t t);
void vdm_monitor_run_detector (vdm_stream_monitor *mon, uint64_t now);
uint64_t vdm_monitor_playout_buffer (const vdm_stream_monitor *mon);
uint64_t vdm_monitor_running_time (const vdm_stream_monitor *mon, uint64_t t);

/* stream_monitor_predict.c */
void vdm_monitor_predict_reset (vdm_stream_monitor *mon);
void vdm_monitor_predict_arrival (vdm_stream_monitor *mon, uint64_t now, uint64_t media_ns);
void vdm_monitor_predict_backlog (vdm_stream_monitor *mon, uint64_t now);
bool vdm_monitor_predict_stalled (vdm_stream_monitor *mon, uint64_t now);
/* CLOCK_MONOTONIC at which the stall threshold passes, VDM_TIME_NONE. */
uint64_t vdm_monitor_predict_stall_deadline (const vdm_stream_monitor *mon);
/* The reader is behind: the kernel held unread data after its last read. */
bool vdm_monitor_predict_reader_late (const vdm_stream_monitor *mon);
/* ...and at t had read nothing for the stall threshold: starved. */
bool vdm_monitor_predict_reader_starved_at (const vdm_stream_monitor *mon, uint64_t t);
/* ...by half the playout buffer (at least the stall threshold). */
bool vdm_monitor_predict_reader_behind (const vdm_stream_monitor *mon, uint64_t now,
    uint64_t buffer);
uint64_t vdm_monitor_predict_stall_damage (vdm_stream_monitor *mon);
bool vdm_monitor_predict_congested (vdm_stream_monitor *mon, uint64_t now, uint64_t buffer,
    uint64_t *empty_in);
void vdm_monitor_predict_stats (const vdm_stream_monitor *mon, vdm_monitor_stats *out);
void vdm_monitor_predict_rtp_arrival (vdm_stream_monitor *mon, uint64_t now, uint64_t media_ns);
bool vdm_monitor_predict_jb_freeze (const vdm_stream_monitor *mon, uint64_t buffer,
    int64_t min_deficit, uint64_t *freeze_in);
/* Timeline restarts of the modelled jitterbuffer so far (freezes). */
uint64_t vdm_monitor_predict_jb_restarts (const vdm_stream_monitor *mon);
/* Over RTP with a known jitterbuffer latency: its timeline is modelled. */
bool vdm_monitor_predict_jb_modelled (const vdm_stream_monitor *mon);
/* The freeze of the modelled jitterbuffer's last restart is over at now:
 * the frames it had stamped played (playout buffer - restart deficit),
 * then the screen held the last one for the restart deficit. */
bool vdm_monitor_predict_jb_freeze_over (const vdm_stream_monitor *mon, uint64_t now);

#endif
