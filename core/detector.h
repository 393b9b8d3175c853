/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * detector.h — the surge detector: turns drops, gaps, queue fill and arrival
 * silence into "a freeze is coming: do X" warnings and a matching all-clear,
 * early and rarely wrong. Plain C, driven by explicit timestamps, so that a
 * synthetic timeline gives exact, repeatable warning and clear times.
 *
 * Model: time is cut into bins (default 100 ms). Each closed bin's drop
 * count feeds an EWMA (alpha 0.2). The baseline is the mean per-bin drop
 * count over the sliding window (5 s) of bins that were not part of a surge,
 * floored at min_drops_per_bin. A surge is the EWMA above factor (1.8) x
 * baseline for k (2) consecutive bins. Immediate triggers skip the wait:
 * a keyframe packet lost, the receive queue >= queue_fill_threshold (0.9),
 * arrival silence. Once warning, the detector clears after clear_bins quiet
 * bins (EWMA back under the threshold and no trigger). Warnings while warning
 * are repeated only when something new happens (a new cause, a rise to
 * critical, an arrival deficit that comes back after renew_after, or one
 * that goes on while its caller predicts a new freeze after the one already
 * warned of: a new freeze predicted) and at most once per
 * min_warning_interval (100 ms).
 */
#ifndef VDM_DETECTOR_H
#define VDM_DETECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "vdm_time.h"

/* What kind of trouble a signal points to; decides the action. */
typedef enum {
  VDM_CAUSE_HOST = 1 << 0,      /* host cannot keep up: SOCKET_RCVBUFF, PROTO_MEM, *_BACKLOG, queue fill */
  VDM_CAUSE_NETWORK = 1 << 1,   /* QDISC_*, arrival gaps, arrival silence, low TCP throughput */
  VDM_CAUSE_KEYFRAME = 1 << 2,  /* a keyframe / parameter-set packet was lost */
  VDM_CAUSE_DEVICE = 1 << 3,    /* capture device errors (v4l2) */
  VDM_CAUSE_BURST = 1 << 4,     /* a transient burst: one bin, then quiet */
} vdm_cause;

typedef enum {
  VDM_ACTION_NONE = 0,
  VDM_ACTION_LOWER_RESOLUTION,
  VDM_ACTION_LOWER_BITRATE,
  VDM_ACTION_REQUEST_KEYFRAME,
  VDM_ACTION_REINIT_DEVICE,
  VDM_ACTION_CIRCUIT_BREAK,
} vdm_action;

typedef enum {
  VDM_LEVEL_NORMAL = 0,
  VDM_LEVEL_WARNING,
  VDM_LEVEL_CRITICAL,
} vdm_level;

typedef struct {
  uint64_t bin_ns;               /* 100 ms */
  uint64_t window_ns;            /* 5 s */
  double alpha;                  /* 0.2 */
  double factor;                 /* 1.8 */
  unsigned surge_bins;           /* k = 2 */
  double min_drops_per_bin;      /* 0.5: baseline floor, so a clean stream's lone drop is no surge */
  double queue_fill_threshold;   /* 0.9 */
  /* 0.5: the receive queue at or above this at two readings in a row (one
   * per bin), the second not lower, is the reader falling behind: a host
   * warning before the queue is full (issue 12 part 4). 0: off. */
  double queue_fill_warning;
  unsigned clear_bins;           /* 10 (1 s of quiet) */
  uint64_t min_warning_interval_ns; /* 100 ms */
  double critical_factor;        /* 4.0: EWMA above critical_factor x baseline -> critical */
  double burst_drops;            /* 20: a single bin with >= this many drops after clean bins -> burst */
  /* 500 ms: an arrival deficit that starts again after having been over
   * this long is a new freeze on its way (another stall, the queue growing
   * again after the application lowered its bitrate): warned again within
   * the episode although its cause was already reported. Also the least
   * time from the episode's last warning to a renewal of a deficit that
   * never ended (vdm_detector_deficit_renewed). 0: never. */
  uint64_t renew_after_ns;
} vdm_detector_config;

typedef enum {
  VDM_DETECTOR_WARNING = 1,
  VDM_DETECTOR_CLEAR,
} vdm_detector_event_type;

typedef struct {
  vdm_detector_event_type type;
  uint64_t time_ns;              /* the detector time at which it was decided */
  vdm_level level;               /* WARNING or CRITICAL; NORMAL for CLEAR */
  uint32_t causes;               /* vdm_cause bits behind it (for CLEAR: those of the episode) */
  vdm_action action;             /* what to do first; NONE for CLEAR */
  double drop_rate;              /* drops per second in the last closed bin */
  double ewma;                   /* drops per bin */
  double baseline;               /* drops per bin */
  uint64_t episode_start_ns;     /* CLEAR: when the warning episode began */
  uint64_t episode_drops;        /* CLEAR: drops during the episode */
} vdm_detector_event;

typedef struct vdm_detector vdm_detector;

void vdm_detector_config_init (vdm_detector_config *config); /* the defaults above */
vdm_detector *vdm_detector_new (const vdm_detector_config *config);
void vdm_detector_free (vdm_detector *detector);
/* Takes effect from the next bin; a changed bin size restarts the window. */
void vdm_detector_set_config (vdm_detector *detector, const vdm_detector_config *config);
void vdm_detector_reset (vdm_detector *detector);

/* Signals. Times are any monotonic ns clock, non-decreasing across calls
 * (an earlier time is treated as the latest seen). */
void vdm_detector_add_drops (vdm_detector *detector, uint64_t time_ns, vdm_cause cause,
    uint32_t count);
void vdm_detector_keyframe_lost (vdm_detector *detector, uint64_t time_ns);
void vdm_detector_queue_fill (vdm_detector *detector, uint64_t time_ns, double fill);
/* Packets stopped coming (outage) / started again. */
void vdm_detector_silence (vdm_detector *detector, uint64_t time_ns, bool silent);
/* The same state for any arrival deficit (silence, or media arriving ever
 * later), naming where it comes from: VDM_CAUSE_NETWORK as silence does,
 * or VDM_CAUSE_HOST when the data waits in our own receive queue. */
void vdm_detector_arrival_deficit (vdm_detector *detector, uint64_t time_ns, bool deficit,
    vdm_cause cause);
void vdm_detector_device_error (vdm_detector *detector, uint64_t time_ns);
/* The arrival deficit goes on, but the freeze the episode's last warning
 * predicted has come and the caller predicts another one (a long
 * congestion whose jitterbuffer restarted its timeline: the next restart
 * is on its way). Warned again like a deficit that starts again, if it
 * comes at least renew_after after the episode's last warning; ignored
 * outside an episode, outside a deficit, or with renew_after 0. cause as
 * in vdm_detector_arrival_deficit. */
void vdm_detector_deficit_renewed (vdm_detector *detector, uint64_t time_ns, vdm_cause cause);

/* Advances time to now_ns, closing every bin that ended; writes at most max
 * events and returns how many. Call at least once per bin. */
unsigned vdm_detector_advance (vdm_detector *detector, uint64_t now_ns, vdm_detector_event *events,
    unsigned max);

vdm_level vdm_detector_level (const vdm_detector *detector);
void vdm_detector_snapshot (const vdm_detector *detector, double *ewma, double *baseline);

const char *vdm_action_name (vdm_action action);   /* "lower-resolution", ... */
const char *vdm_level_name (vdm_level level);      /* "normal" | "warning" | "critical" */
/* Comma-separated names of the cause bits: "host,keyframe". Returns buf. */
const char *vdm_causes_format (uint32_t causes, char *buf, unsigned len);
/* The cause class of a kernel drop reason name (HOST, NETWORK), 0 if none. */
vdm_cause vdm_cause_of_reason (const char *reason_name);
/* A TCP segment of data this host had already received (TCP_OLD_DATA): a
 * retransmission or a window probe. Its class is NETWORK; the stream
 * monitor makes it HOST while its reader is starved (stream_monitor.c). */
bool vdm_reason_is_tcp_old_data (const char *reason_name);

#endif
