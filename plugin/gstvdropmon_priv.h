/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gstvdropmon_priv.h — the element's state, shared by its files. The
 * element is glue around one vdm_stream_monitor (core/stream_monitor.h),
 * which owns everything known of the stream. Files, by concern:
 *   gstvdropmon.c        GObject, start/stop, caps and events → monitor
 *   vdropmon_props.c     properties → monitor config (and doc blocks)
 *   vdropmon_arrivals.c  buffers seen passing and at udpsrc → RTP headers
 *   vdropmon_peek.c      a buffer's first bytes, system memory without a map
 *   vdropmon_feed.c      packet rings from the streaming threads to the monitor
 *   vdropmon_tsc.c       arrival stamps from the TSC, converted by the consumer
 *   vdropmon_collector.c    the kernel event source: opening, drops → monitor, counters
 *   vdropmon_watch.c     which sockets and flows are watched
 *   vdropmon_worker.c    an element's worker round: when to tick, what to post
 *   vdropmon_shared_worker.c  the one thread that runs every element's rounds
 *   vdropmon_messages.c  the structures of all four messages (public API)
 *
 * Time: the detector, silence and runway run on the element's pipeline
 * clock (CLOCK_MONOTONIC before there is one), so that a GstTestClock
 * drives them; batches, gap grace, stats and rescans on CLOCK_MONOTONIC,
 * the pace at which the kernel's events come. Kernel drops are stamped
 * CLOCK_MONOTONIC; the worker keeps the monitor's clock map between the two.
 *
 * Locking: `lock` guards everything below it, properties included. Every
 * vfunc, probe and callback takes it, calls the monitor, releases it —
 * except the per-buffer paths, which append to their feed's lock-free ring
 * (vdropmon_feed.c); whoever takes the lock to use the monitor drains the
 * rings first. The
 * event source is never called with it held (the source holds its own lock
 * while calling us); whoever calls the source holds a reference to it,
 * taken under `lock`, so that stop() cannot free it meanwhile.
 */
#ifndef GST_VDROPMON_PRIV_H
#define GST_VDROPMON_PRIV_H

#include <gio/gio.h>
#include <sys/socket.h>

#include "event_source.h"
#include "flow_spec.h"
#include "message_budget.h"
#include "gstvdropmon.h"
#include "rtp_parse.h"
#include "stream_monitor.h"
#include "tcp_unread.h"
#include "tsc_map.h"
#include "vdropmon_messages.h"
#include "vdropmon_analytics.h"
#include "vdropmon_shared_worker.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (vdropmon_debug);

/* One streaming thread's packets on their way to the monitor, and the
 * element's clock as those threads read it (vdropmon_feed.c). */
typedef struct _VdmFeed VdmFeed;
typedef struct _VdmStreamClock VdmStreamClock;

/* What the streaming threads need of the stream's format, in one atomic
 * int: our caps are RTP (bit 0), the codec (the bits above). */
#define VDM_FEED_FORMAT(is_rtp, codec) ((gint) (((codec) << 1) | ((is_rtp) ? 1 : 0)))
#define VDM_FEED_FORMAT_IS_RTP(format) (((format) & 1) != 0)
#define VDM_FEED_FORMAT_CODEC(format) ((vdm_codec) ((format) >> 1))

/* What a producer (a streaming thread) needs to know of the element,
 * written under the lock when it changes (VDM_VIEW_SET), read without it.
 * Two copies: transform_ip's in VDM_HOT, on the line its ring's producer
 * writes at every buffer, and the probes' apart: a probe on another
 * thread (udpsrc ! rtpjitterbuffer ! vdropmon) reading transform_ip's copy
 * would share that line and miss it at every packet. */
typedef struct
{
  /* Atomic: monitor time is CLOCK_MONOTONIC (no clock, or the system
   * clock); else stream_clock is the clock to ask (vdropmon_feed.c). */
  gint clock_is_monotonic;
  /* Atomic: arrivals are stamped with the TSC (vdropmon_tsc.c). */
  gint arrival_tsc;
  gint feed_format;             /* VDM_FEED_FORMAT(), atomic */
} VdmProducerView;

/* The fields transform_ip reads and writes for every buffer, on one cache
 * line of the element (VDM_HOT): a stream among thousands finds it cold at
 * each packet, and it is one miss instead of two (issue 13). */
typedef struct
{
  /* transform_ip's packet ring's producer side (core/packet_ring.h) */
  guint8 own_producer[VDM_PACKET_RING_PRODUCER_SIZE];
  VdmProducerView view;
  /* udpsrc probes see arrivals; transform_ip need not. Written under lock
   * with g_atomic_int_set, read by transform_ip without it. */
  gint arrival_probed;
  /* The buffer the probe on the pad linked straight to our sink pad has
   * just recorded as passed (its record carries PASSED and FRAME):
   * transform_ip, on the same thread right after, takes it back and has
   * nothing left to do (the header is read once). Atomic pointer; only
   * that probe, on transform_ip's own thread, writes it. */
  gpointer passed_at_probe;
} VdmHot;

G_STATIC_ASSERT (sizeof (VdmHot) <= 64);
#define VDM_ALIVE 0x76646d61u  /* "vdma" */
#define VDM_HOT(self) ((VdmHot *) (((guintptr) (self)->hot_storage + 63) & ~(guintptr) 63))
/* Both copies of a VdmProducerView field, under the lock. */
#define VDM_VIEW_SET(self, field, value) G_STMT_START {                 \
    g_atomic_int_set (&VDM_HOT (self)->view.field, (value));            \
    g_atomic_int_set (&(self)->probe_view.field, (value));              \
  } G_STMT_END

/* One socket or flow this element asked the event source to watch. */
typedef struct
{
  guint32 watch_id;             /* 0 when no collector runs */
  guint64 cookie;               /* the socket's SO_COOKIE; 0 for a flow named by hand */
  GstPad *probed_pad;           /* the udpsrc src pad we observe arrivals on */
  GSocket *probed_socket;       /* that udpsrc's socket (owned ref): its unread backlog */
  /* A TCP connection found upstream: who it is, so that the kernel can be
   * asked for its unread bytes without an fd of ours keeping it open. */
  vdm_tcp_identity tcp;
  gboolean tcp_known;
  gulong probe_id;
  VdmFeed *feed;                /* its probe's packets */
  gchar flow[VDM_FLOW_STRING_MAX];
  vdm_counters last_counters;   /* kept when the watch goes, so totals never shrink */
  guint64 events_lost_reported;
  /* Drops the ring buffer lost the events of (issue 9 #6): per reason, the
   * events delivered and the drops announced from the counters instead. */
  guint8 protocol;              /* of the flow, for unseen drops */
  guint64 events_seen[VDM_REASON_SLOTS];
  guint64 unseen_announced[VDM_REASON_SLOTS];
  guint64 events_lost_announced;
} VdmWatch;

/* A watch that went away (its socket closed, rtspsrc reconnected), kept
 * while a batch opened before may still be posted: the drops of a socket's
 * last moments keep its flow. */
typedef struct
{
  guint32 watch_id;             /* with its generation: never the id of a later watch */
  gchar flow[VDM_FLOW_STRING_MAX];
  guint64 released_mono;
} VdmReleasedWatch;

struct _GstVdropmon
{
  GstBaseTransform parent;

  /* What transform_ip reads and writes for every buffer: one cache line
   * (VDM_HOT), inside this storage at its first 64-byte boundary (GObject
   * does not align instances to a line). Nothing else is on that line:
   * the worker writes the lock below all the time, and
   * would take the line away from the streaming thread at every turn. */
  guint8 hot_storage[2 * 64];
  vdm_packet_ring *own_ring;    /* own_feed's ring; its producer is in VDM_HOT */
  VdmStreamClock *stream_clock; /* atomic; every one published stays in stream_clocks */
  VdmProducerView probe_view;   /* the probes' copy (VDM_VIEW_SET) */

  GMutex lock;

  /* Properties. */
  GstVdropmonCollector collector_mode;
  gchar *watch;
  gchar *daemon_socket;
  gboolean auto_discover;
  gboolean post_messages;
  gboolean request_keyframe;
  GstClockTime interval;
  vdm_monitor_config config;    /* the monitor's settings, applied at once */

  /* The stream. */
  vdm_stream_monitor *monitor;
  /* Packets from the streaming threads (vdropmon_feed.c): every feed,
   * transform_ip's own among them; drained under lock. */
  GPtrArray *feeds;
  VdmFeed *own_feed;
  VdmFeed *rtp_feed;            /* the upstream RTP pad probe's */
  guint64 unobserved_retired;   /* lost by feeds that went away */
  guint64 unobserved_before;    /* lost before this run started */
  vdm_tsc_map tsc_map;          /* TSC stamps → CLOCK_MONOTONIC (vdropmon_tsc.c) */
  guint64 tsc_last_ns;          /* the last TSC stamp handed to the monitor, converted */
  GPtrArray *stream_clocks;
  /* Whether self->clock's time is CLOCK_MONOTONIC's, as last asked (at
   * most every second: asking takes process-wide locks, which every
   * worker's round at a bin's end would contend for; issue 13). */
  GstClock *monotonic_checked;  /* not a reference: compared only */
  gboolean monotonic_verdict;
  guint64 monotonic_checked_mono;
  gboolean playing;             /* PLAYING: arrivals are expected */
  gboolean have_caps;
  GstPad *rtp_pad;              /* nearest upstream RTP pad when we are not on one */
  gulong rtp_probe_id;

  /* Time. */
  GstClock *clock;              /* the element's clock, cached by the worker */
  GstClockTime base_time;

  /* VDM_ALIVE from init to finalize: a round that finds anything else
   * runs on an element that is gone (a lifecycle bug; the tests fail on
   * the critical it raises). */
  guint32 alive;
  /* Atomic: a worker round of this element is running (the lifecycle's
   * check: none may run once the element's stop() unregistered it). */
  gint round_running;
  /* The worker: this element's place on the process's shared worker
   * (vdropmon_shared_worker.c), from start() to stop(); NULL otherwise. */
  VdmWorkerClient *worker_client;
  gboolean rescan_requested;
  guint64 next_rescan_mono;     /* CLOCK_MONOTONIC: discovery is real-world I/O */
  guint64 last_stats_mono;      /* CLOCK_MONOTONIC of the last stats message */
  GstClockID bin_wait;          /* worker rounds only: on the element's clock */
  GstClockTime bin_wait_time;
  /* The next bin's end in CLOCK_MONOTONIC when the clock's time is that
   * (the system clock): a deadline of the element's round instead of a
   * wait on the clock. G_MAXUINT64 otherwise. */
  guint64 bin_due_mono;
  GstClockTime round_clock_time;  /* clock time at the last round's start, NONE without a clock */
  guint64 next_fd_scan_mono;    /* /proc/self/fd is read again from then on */
  guint64 fd_scan_backoff;

  /* Drop messages past the budget go into one summary (issue 9 #9). */
  vdm_message_budget drop_budget;
  vdm_drop_summary drop_summary;

  /* Server names being resolved off the worker (vdropmon_resolve.c). */
  GPtrArray *lookups;
  guint64 last_summary_mono;

  /* Watches. */
  GArray *watches;              /* VdmWatch */
  GArray *released;             /* VdmReleasedWatch, oldest first */
  vdm_counters retired;         /* counters of watches that went away */

  /* The event source: set in start(), cleared in stop(). */
  vdm_source *source;
  vdm_subscription *subscription;
  gchar *collector_name;        /* what start() got: "embedded", "daemon", "fake", "none" */
  gchar *collector_status;      /* "running", "disabled", "unavailable: why" */
  gchar *collector_skipped;     /* why the sources tried before it were not used */
  gboolean warned_no_bpf;
  /* Per-stream analytics sent to vdropmond (own lock; issue 11). */
  VdmElementAnalytics *analytics;
};

guint64 vdm_monotonic_ns (void);
/* a + b, or G_MAXUINT64 (never) instead of wrapping: huge intervals are legal. */
guint64 vdm_time_add (guint64 a, guint64 b);
/* Monitor time now: the pipeline clock, CLOCK_MONOTONIC before there is one. */
guint64 vdm_now_locked (GstVdropmon * self);
/* Both times of an input to the monitor. */
vdm_now vdm_times_locked (GstVdropmon * self);
void vdm_wake_worker_locked (GstVdropmon * self);

/* vdropmon_props.c */
void vdm_props_install (GObjectClass * gobject_class);
void vdm_props_init (GstVdropmon * self);
void vdm_props_set (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec);
void vdm_props_get (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec);

/* vdropmon_feed.c: streaming threads → monitor without the lock (issue 13) */
void vdm_feeds_init (GstVdropmon * self);
void vdm_feeds_finalize (GstVdropmon * self);
VdmFeed *vdm_feed_ref (VdmFeed * feed);
void vdm_feed_unref (gpointer feed);
/* A feed for a probe's thread; the caller owns the returned reference. */
VdmFeed *vdm_feeds_add_locked (GstVdropmon * self);
void vdm_feeds_remove_locked (GstVdropmon * self, VdmFeed * feed);
/* start(): what is in the rings is of no run; losses count from now. */
void vdm_feeds_restart_locked (GstVdropmon * self);
/* Everything handed over so far into the monitor; TRUE if a gap showed. */
gboolean vdm_feeds_drain_locked (GstVdropmon * self);
/* The same, waking the worker for a gap (callers other than the worker). */
void vdm_feeds_sync_locked (GstVdropmon * self);
/* Packets the streaming threads could not hand over (full rings). */
guint64 vdm_feeds_unobserved_locked (GstVdropmon * self);
void vdm_feeds_publish_clock_locked (GstVdropmon * self);
void vdm_feeds_publish_format_locked (GstVdropmon * self);
/* Producers, each from its feed's one thread: the arrival's times into r
 * (ARRIVED), and r into the feed's ring (the element's own for push_own). */
void vdm_feed_stamp_arrival (GstVdropmon * self, const VdmProducerView * view,
    vdm_packet_record * r);
void vdm_feed_push (VdmFeed * feed, const vdm_packet_record * r);
void vdm_feed_push_own (GstVdropmon * self, const vdm_packet_record * r);
vdm_codec vdm_feed_codec (VdmFeed * feed);
GstVdropmon *vdm_feed_element (VdmFeed * feed);
/* The feed's probe sits on the pad linked straight to our sink pad. */
void vdm_feed_set_direct (VdmFeed * feed, gboolean direct);
gboolean vdm_feed_is_direct (VdmFeed * feed);

/* vdropmon_peek.c: the first bytes of a buffer, never written to. */
typedef struct
{
  const guint8 *data;
  gsize size;
  gboolean complete;            /* data is the whole buffer */
  GstMemory *mapped;            /* to unmap, or NULL */
  GstMapInfo map;
  guint8 head[256];             /* a copy of the head of a multi-memory buffer */
} VdmPeek;
/* Once per process, before the first peek: where system memory keeps its
 * data (the fast path), found and checked at run time. */
void vdm_peek_init (void);
/* The fast path is on: system memory is read without a map. */
gboolean vdm_peek_sysmem_direct (void);
/* FALSE: the buffer's memory could not be read. vdm_peek_release() after
 * either way. */
gboolean vdm_peek_buffer (GstBuffer * buf, VdmPeek * peek);
void vdm_peek_release (VdmPeek * peek);

/* vdropmon_tsc.c: TSC arrival stamps; the consumer's side under the lock. */
void vdm_tsc_init (GstVdropmon * self);
/* Before a drain: a fresh (TSC, CLOCK_MONOTONIC) pair; turns TSC stamps on
 * once the rate is known, off if the counter disagrees with the clock. */
void vdm_tsc_calibrate_locked (GstVdropmon * self);
/* A record's mono in CLOCK_MONOTONIC ns, whether stamped with the TSC or not. */
guint64 vdm_tsc_stamp_ns_locked (GstVdropmon * self, guint64 mono);
/* The record's TSC stamp (and its clock, when the same) converted, for the monitor. */
void vdm_tsc_convert_locked (GstVdropmon * self, vdm_packet_record * r);

/* vdropmon_arrivals.c */
void vdm_arrivals_buffer_passed (GstVdropmon * self, GstBuffer * buf);
/* Arrivals move to this udpsrc's src pad; the watch keeps the probe. */
void vdm_arrivals_probe_udpsrc (GstVdropmon * self, GstElement * udpsrc, GSocket * socket,
    VdmWatch * watch);
void vdm_arrivals_unprobe (GstVdropmon * self, VdmWatch * watch);
/* At a rescan: which probe, if any, is linked straight to our sink pad. */
void vdm_arrivals_recheck_direct (GstVdropmon * self);
/* Right before a tick: what the probed sockets (udpsrc; else the watched
 * TCP connections) hold unread → the monitor. */
void vdm_arrivals_feed_backlog_locked (GstVdropmon * self, guint64 now_clock);
/* When our own caps are not RTP: the nearest upstream RTP pad teaches the
 * frame map and the codec (placement independence). Without self->lock. */
void vdm_arrivals_find_rtp_pad (GstVdropmon * self);
void vdm_arrivals_release_rtp_pad (GstVdropmon * self);
/* Our own caps / those of the RTP pad upstream → the monitor's format. */
void vdm_arrivals_set_caps_locked (GstVdropmon * self, const GstStructure * s);
void vdm_arrivals_set_upstream_caps_locked (GstVdropmon * self, const GstStructure * s);

/* vdropmon_collector.c */
gboolean vdm_collector_start (GstVdropmon * self);
void vdm_collector_stop (GstVdropmon * self);
/* A reference to the running source (NULL if none), for calls without lock. */
vdm_source *vdm_collector_ref (GstVdropmon * self);
void vdm_collector_refresh_counters (GstVdropmon * self);
/* Events lost since the last call for this watch. */
guint64 vdm_collector_take_events_lost (GstVdropmon * self, guint32 watch_id);
void vdm_collector_announce_unseen (GstVdropmon * self);

/* vdropmon_resolve.c: the addresses of a host, 0 while its lookup runs. */
gint vdm_resolve_host (GstVdropmon * self, const gchar * host, struct sockaddr_storage *addrs,
    gint max);
void vdm_resolve_cancel_all (GstVdropmon * self);
void vdm_collector_feed_queue_fill (GstVdropmon * self);
GstStructure *vdm_build_stats (GstVdropmon * self, const gchar * name);

/* vdropmon_watch.c */
void vdm_watch_rescan (GstVdropmon * self);
gboolean vdm_watch_manual_flows (GstVdropmon * self);
void vdm_watch_release_all (GstVdropmon * self);
const VdmWatch *vdm_watch_find_locked (GstVdropmon * self, guint32 watch_id);
/* The flow of a watch, current or recently released; NULL if unknown. */
const gchar *vdm_watch_flow_locked (GstVdropmon * self, guint32 watch_id);
GArray *vdm_watch_copy_ids (GstVdropmon * self);
void vdm_watch_retire_counters_locked (GstVdropmon * self, const VdmWatch * watch);

/* vdropmon_worker.c */
void vdm_worker_start (GstVdropmon * self);
void vdm_worker_stop (GstVdropmon * self);
/* Adopts the element's clock (a new time base) and refreshes the clock map. */
void vdm_worker_refresh_clock_locked (GstVdropmon * self);
/* EOS, on the streaming thread: every drop known so far is posted now. */
void vdm_worker_post_pending (GstVdropmon * self);

G_END_DECLS
#endif
