/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gstvdropmon_priv.h — the element's state, shared by its files:
 *   gstvdropmon.c       GObject, properties, start/stop, the streaming path
 *   vdropmon_watch.c    which sockets/flows are watched; arrival probes on udpsrc
 *   vdropmon_worker.c   the worker thread: batches, detector, bus messages
 *   vdropmon_messages.c the structures of the messages (public API)
 *
 * Time: drops reach us stamped CLOCK_MONOTONIC (bpf_ktime_get_ns); batches
 * are posted on that time. The detector, arrivals and warnings run on the
 * pipeline clock ("detector time", vdm_now_locked), so that a GstTestClock
 * drives them deterministically; clock_map converts between the two.
 *
 * Locking: `lock` guards everything below it. The streaming threads (ours
 * and the udpsrc probes) hold it only to record what passed; the collector
 * thread only to queue a drop. Never call the event source while holding
 * it: the source holds its own lock while calling us.
 */
#ifndef GST_VDROPMON_PRIV_H
#define GST_VDROPMON_PRIV_H

#include <gio/gio.h>

#include "arrival_stats.h"
#include "clock_map.h"
#include "detector.h"
#include "drop_batcher.h"
#include "event_source.h"
#include "flow_spec.h"
#include "frame_map.h"
#include "gap_reconciler.h"
#include "gstvdropmon.h"
#include "rtp_parse.h"
#include "runway.h"
#include "seq_tracker.h"
#include "vdropmon_messages.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (vdropmon_debug);

/* One socket or flow this element asked the event source to watch. */
typedef struct
{
  guint32 watch_id;             /* 0 when no collector runs */
  guint64 cookie;               /* the socket's SO_COOKIE; 0 for a flow named by hand */
  GstPad *probed_pad;           /* the udpsrc src pad we observe arrivals on */
  gulong probe_id;
  gchar flow[VDM_FLOW_STRING_MAX];
  vdm_counters last_counters;   /* kept when the watch goes, so totals never shrink */
  guint64 events_lost_reported;
} VdmWatch;

/* What the detector's warnings need beyond the detector itself. */
typedef struct
{
  GstClockTime first_damage;    /* detector time of the earliest damage since the last warning */
  guint64 reasons_seen[VDM_REASON_SLOTS]; /* kernel reasons in the episode */
  gboolean gap_seen;
  guint64 keyframe_requests_sent;
  guint64 keyframe_requests_seen;
  GstClockTime latency;         /* from the LATENCY event, NONE before */
  GstClockTime buffer_latency;  /* a jitterbuffer's "latency" up- or downstream, NONE if none */
  gint height;                  /* from caps, -1 unknown */
} VdmEpisode;

struct _GstVdropmon
{
  GstBaseTransform parent;

  /* Properties, under the object lock. */
  GstVdropmonCollector collector_mode;
  gchar *watch;
  gboolean auto_discover;
  GstClockTime batch_interval;
  gboolean post_messages;
  GstClockTime interval;
  vdm_detector_config detector_config;
  GstClockTime silence_threshold;
  gboolean request_keyframe;
  GstClockTime playout_buffer;  /* 0: the pipeline latency */
  GstClockTime runway_threshold;

  GMutex lock;
  GCond cond;
  GThread *worker;
  gboolean worker_stop;
  gboolean wake;
  gboolean rescan_requested;
  gboolean detector_config_changed;
  guint64 next_rescan_ns, next_stats_ns, next_bin_ns;

  /* the stream */
  gboolean is_rtp;
  vdm_codec codec;
  vdm_frame_map *frames;
  vdm_seq_tracker *seqs;
  vdm_arrival_stats arrival;
  gboolean arrival_probed;      /* udpsrc probes see arrivals; transform_ip need not */
  vdm_runway runway;
  gboolean runway_settled;      /* restarted once past the start-up burst */
  guint32 runway_ssrc;
  guint32 last_rtp_ts;
  guint64 rtp_ts_ext;           /* RTP timestamp without wraps, for the runway */
  guint64 arrival_bytes;
  guint64 bytes_total;          /* through the element since start */
  vdm_gap_reconciler *gaps;
  vdm_clock_map clock_map;
  GstClock *clock;              /* the element's clock, cached by the worker */
  GstClockTime base_time;

  /* drops and warnings */
  vdm_drop_batcher *batcher;
  GArray *ready_reports;        /* VdmDropReport, filled by the batcher */
  vdm_detector *detector;
  gboolean silent;
  gboolean deficit;             /* silent, or arriving too slowly to play (runway) */
  VdmEpisode episode;
  guint64 buffers;
  guint64 rtp_packets;
  guint64 drop_messages;
  guint64 warnings_posted;
  gdouble queue_fill_peak;       /* since the last stats message */
  gdouble queue_fill_recent;     /* since the last worker round, -1 unknown */
  gdouble bitrate;              /* bits/s received over the last stats interval */
  gdouble fid_mean_ms, fid_max_ms; /* over the last stats interval */

  GArray *watches;              /* VdmWatch */
  vdm_counters retired;         /* counters of watches that went away */

  /* Set in start(), cleared in stop(); read by the worker without lock. */
  vdm_source *source;
  vdm_subscription *subscription;
  gchar *collector_status;
  gboolean warned_no_bpf;
};

guint64 vdm_monotonic_ns (void);
/* a + b, or G_MAXUINT64 (never) instead of wrapping: huge intervals are legal. */
guint64 vdm_time_add (guint64 a, guint64 b);
/* Detector time now: the pipeline clock, CLOCK_MONOTONIC before there is one. */
guint64 vdm_now_locked (GstVdropmon * self);
/* A CLOCK_MONOTONIC stamp (a kernel drop) in detector time. */
guint64 vdm_mono_to_detector_locked (GstVdropmon * self, guint64 mono_ns);
/* Detector time to running time; NONE before base time or without a clock. */
GstClockTime vdm_running_time_locked (GstVdropmon * self, guint64 detector_ns);

/* The first bytes of a buffer, without ever writing to it. */
typedef struct
{
  const guint8 *data;
  gsize size;
  gboolean complete;            /* data is the whole buffer */
  gboolean mapped;
  GstBuffer *buffer;
  GstMapInfo map;
  guint8 head[256];
} VdmPeek;

gboolean vdm_peek_buffer (GstBuffer * buf, VdmPeek * peek);
void vdm_peek_release (VdmPeek * peek);

/* vdropmon_watch.c */
void vdm_watch_rescan (GstVdropmon * self);
gboolean vdm_watch_manual_flows (GstVdropmon * self);
void vdm_watch_release_all (GstVdropmon * self);
const VdmWatch *vdm_watch_find_locked (GstVdropmon * self, guint32 watch_id);
/* A packet seen at arrival (udpsrc probe, or our own sink without probes). */
void vdm_observe_arrival_locked (GstVdropmon * self, const vdm_rtp_header * rtp, gsize size);
/* A timestamped buffer that is not RTP arrived: media time against arrival. */
void vdm_observe_media_locked (GstVdropmon * self, GstClockTime pts);
/* Gaps detected at or before now - grace that the kernel did not explain
 * go to the batcher and the detector as RTP-gap drops. */
void vdm_settle_gaps_locked (GstVdropmon * self, guint64 now, guint64 grace);

/* vdropmon_worker.c */
gpointer vdm_worker_main (gpointer data);
void vdm_worker_wake_locked (GstVdropmon * self);
void vdm_on_batch_ready (const vdm_drop_batch * batch, void *user_data);
void vdm_on_kernel_drop (void *user_data, const vdm_drop * drop);
void vdm_refresh_kernel_counters (GstVdropmon * self);
void vdm_post_pending_drops (GstVdropmon * self);
GstStructure *vdm_build_stats (GstVdropmon * self, const gchar * name);

G_END_DECLS
#endif
