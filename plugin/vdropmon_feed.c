/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmon_feed.c — packets from the streaming threads to the monitor
 * without the element lock (issue 13).
 *
 * Every thread that sees packets has a feed of its own (one producer per
 * ring): the element's streaming thread (transform_ip), each probed udpsrc
 * source pad, the upstream RTP pad. It parses the RTP header once, stamps
 * the arrival, and appends a 32-byte record to its ring (core/packet_ring.c);
 * no lock, no allocation, no system call but the clock read. Whoever holds
 * the lock and needs the monitor up to date — the worker before each tick,
 * the collector callback before a kernel drop, stats, EOS, caps, a flush —
 * drains all feeds first, oldest arrival first. The producer takes the lock
 * only to wake the worker: at a sequence break (a gap is detected no later
 * than before), when its ring is half full, or when it overflowed. A full
 * ring never blocks the streaming thread: the record is counted lost
 * (`packets-unobserved` in stats) and the sequence starts afresh after it.
 */
#include "gstvdropmon_priv.h"

#define GST_CAT_DEFAULT vdropmon_debug
/* 2,048 slots (64 KiB): 2,048 records with the system clock as pipeline
 * clock, 1,024 with another (a record then carries that clock's time in a
 * second slot): 250 ms of a 4,000 packets/s stream between two worker
 * rounds at the least, and the worker is woken at half. */
#define FEED_CAPACITY 2048
#define MONOTONIC_RECHECK_NS (1000 * GST_MSECOND)

struct _VdmFeed
{
  gint refcount;
  vdm_packet_ring *ring;
  vdm_packet_ring_producer *producer;   /* its producer side (the own feed's in VDM_HOT) */
  GstVdropmon *self;            /* a reference, except for the element's own feed */
  gboolean own;                 /* transform_ip's: its arrivals count only without probes */
  /* Atomic: a probe on the pad linked straight to the element's sink pad:
   * its records say that the buffer passed too (vdropmon_arrivals.c). */
  gint direct;
};

/* The element's clock as the streaming threads read it. */
struct _VdmStreamClock
{
  GstClock *clock;              /* a reference */
};

/* ------------------------------------------------------------------------ */
/* Feeds.                                                                    */

static VdmFeed *
feed_new (GstVdropmon * self, gboolean own)
{
  VdmFeed *feed = g_new0 (VdmFeed, 1);

  feed->refcount = 1;
  /* transform_ip's producer side sits on the element's hot line */
  feed->ring = vdm_packet_ring_new_with_producer (FEED_CAPACITY,
      own ? VDM_HOT (self)->own_producer : NULL);
  g_assert (feed->ring);
  feed->producer = vdm_packet_ring_get_producer (feed->ring);
  feed->own = own;
  feed->self = own ? self : gst_object_ref (self);
  return feed;
}

VdmFeed *
vdm_feed_ref (VdmFeed * feed)
{
  g_atomic_int_inc (&feed->refcount);
  return feed;
}

void
vdm_feed_unref (gpointer data)
{
  VdmFeed *feed = data;

  if (!g_atomic_int_dec_and_test (&feed->refcount))
    return;
  if (!feed->own)
    gst_object_unref (feed->self);
  vdm_packet_ring_free (feed->ring);
  g_free (feed);
}

void
vdm_feeds_init (GstVdropmon * self)
{
  self->feeds = g_ptr_array_new_with_free_func (vdm_feed_unref);
  self->own_feed = feed_new (self, TRUE);
  self->own_ring = self->own_feed->ring;
  g_ptr_array_add (self->feeds, vdm_feed_ref (self->own_feed));
  self->stream_clocks = g_ptr_array_new ();
  VDM_VIEW_SET (self, clock_is_monotonic, TRUE);
  vdm_tsc_init (self);
}

static void
stream_clock_free (gpointer data)
{
  VdmStreamClock *c = data;

  gst_clear_object (&c->clock);
  g_free (c);
}

/* Finalize: no thread can push any more (probes hold a reference). */
void
vdm_feeds_finalize (GstVdropmon * self)
{
  g_ptr_array_unref (self->feeds);
  vdm_feed_unref (self->own_feed);
  g_ptr_array_set_free_func (self->stream_clocks, stream_clock_free);
  g_ptr_array_unref (self->stream_clocks);
}

/* A feed for another streaming thread (a probe): drained with the others
 * from now on. The caller gets a reference to give to its probe. */
VdmFeed *
vdm_feeds_add_locked (GstVdropmon * self)
{
  VdmFeed *feed = feed_new (self, FALSE);

  g_ptr_array_add (self->feeds, vdm_feed_ref (feed));
  return feed;
}

/* Its probe is gone: what it left is drained, its losses stay counted. */
void
vdm_feeds_remove_locked (GstVdropmon * self, VdmFeed * feed)
{
  vdm_feeds_drain_locked (self);
  self->unobserved_retired += vdm_packet_ring_lost (feed->ring);
  g_ptr_array_remove (self->feeds, feed);
}

static guint64
unobserved_total (GstVdropmon * self)
{
  guint64 lost = self->unobserved_retired;
  guint i;

  for (i = 0; i < self->feeds->len; i++)
    lost += vdm_packet_ring_lost (((VdmFeed *) g_ptr_array_index (self->feeds, i))->ring);
  return lost;
}

guint64
vdm_feeds_unobserved_locked (GstVdropmon * self)
{
  return unobserved_total (self) - self->unobserved_before;
}

void
vdm_feeds_restart_locked (GstVdropmon * self)
{
  const vdm_packet_record *r;
  guint i;

  for (i = 0; i < self->feeds->len; i++) {
    VdmFeed *feed = g_ptr_array_index (self->feeds, i);
    while ((r = vdm_packet_ring_peek (feed->ring)))
      vdm_packet_ring_pop (feed->ring);
  }
  self->unobserved_before = unobserved_total (self);
}

/* ------------------------------------------------------------------------ */
/* The consumer: whoever holds the lock.                                     */

/* The feed whose oldest record came first (records without arrival time,
 * mono 0, first of all: their order against arrivals does not matter). */
static VdmFeed *
oldest_feed (GstVdropmon * self, const vdm_packet_record ** oldest)
{
  VdmFeed *best = NULL;
  guint64 oldest_mono = 0;
  guint i;

  *oldest = NULL;
  for (i = 0; i < self->feeds->len; i++) {
    VdmFeed *feed = g_ptr_array_index (self->feeds, i);
    const vdm_packet_record *r = vdm_packet_ring_peek (feed->ring);
    guint64 mono = r ? vdm_tsc_stamp_ns_locked (self, r->mono) : 0;
    if (r && (!*oldest || mono < oldest_mono)) {
      *oldest = r;
      oldest_mono = mono;
      best = feed;
    }
  }
  return best;
}

/* Everything the streaming threads handed over, into the monitor, in the
 * order it arrived. Returns TRUE when it revealed a gap (a tick is due). */
gboolean
vdm_feeds_drain_locked (GstVdropmon * self)
{
  const vdm_packet_record *r;
  gboolean gap = FALSE;
  VdmFeed *feed;

  /* read once: it shares its line with the producer's head (VDM_HOT), and
   * a read per record would pull that line away from the streaming thread */
  gboolean probed = g_atomic_int_get (&VDM_HOT (self)->arrival_probed);

  vdm_tsc_calibrate_locked (self);
  while ((feed = oldest_feed (self, &r))) {
    vdm_packet_record record = *r;

    vdm_packet_ring_pop (feed->ring);
    vdm_tsc_convert_locked (self, &record);
    /* transform_ip is the arrival point only while no udpsrc is probed:
     * its records from before a probe took over are passed buffers only */
    if (feed->own && probed && (record.flags & VDM_PACKET_RTP))
      record.flags &= ~VDM_PACKET_ARRIVED;
    gap |= vdm_stream_monitor_packet (self->monitor, &record);
  }
  return gap;
}

void
vdm_feeds_sync_locked (GstVdropmon * self)
{
  if (vdm_feeds_drain_locked (self))
    vdm_wake_worker_locked (self);
}

/* After every change of the monitor's format. */
void
vdm_feeds_publish_format_locked (GstVdropmon * self)
{
  VDM_VIEW_SET (self, feed_format, VDM_FEED_FORMAT (vdm_stream_monitor_is_rtp
          (self->monitor), vdm_stream_monitor_codec (self->monitor)));
}

GstVdropmon *
vdm_feed_element (VdmFeed * feed)
{
  return feed->self;
}

void
vdm_feed_set_direct (VdmFeed * feed, gboolean direct)
{
  g_atomic_int_set (&feed->direct, direct);
}

gboolean
vdm_feed_is_direct (VdmFeed * feed)
{
  return g_atomic_int_get (&feed->direct);
}

/* ------------------------------------------------------------------------ */
/* Time, as the streaming threads read it.                                   */

static gboolean
clock_is_monotonic (GstClock * clock)
{
  GstClockType type = GST_CLOCK_TYPE_REALTIME;
  GstClockTime internal, external, num, denom;
  GstClock *master;

  if (G_OBJECT_TYPE (clock) != GST_TYPE_SYSTEM_CLOCK)
    return FALSE;
  g_object_get (clock, "clock-type", &type, NULL);
  master = gst_clock_get_master (clock);
  gst_clear_object (&master);
  if (type != GST_CLOCK_TYPE_MONOTONIC || master)
    return FALSE;
  gst_clock_get_calibration (clock, &internal, &external, &num, &denom);
  return internal == external && num == denom;
}

/* clock_is_monotonic() of self->clock, asked again when the clock changes
 * and at most every MONOTONIC_RECHECK_NS (a calibration or a master set
 * on the system clock later shows within that). */
static gboolean
clock_is_monotonic_cached_locked (GstVdropmon * self)
{
  guint64 mono = vdm_monotonic_ns ();

  if (self->monotonic_checked != self->clock
      || mono - self->monotonic_checked_mono >= MONOTONIC_RECHECK_NS) {
    self->monotonic_verdict = clock_is_monotonic (self->clock);
    self->monotonic_checked = self->clock;
    self->monotonic_checked_mono = mono;
  }
  return self->monotonic_verdict;
}

/* The worker keeps self->clock; the streaming threads read this copy
 * without the lock. A clock once published stays alive until finalize (a
 * probe may still be reading it), so only a change publishes a new one.
 * clock_is_monotonic says whether they need it at all: it is cleared only
 * after a clock to ask is published, and set before that clock goes, so a
 * reader that sees it cleared finds a clock (maybe the one just replaced,
 * still alive: a few nanoseconds stale). */
void
vdm_feeds_publish_clock_locked (GstVdropmon * self)
{
  VdmStreamClock *now = g_atomic_pointer_get (&self->stream_clock), *next = NULL;
  gboolean is_monotonic = !self->clock || clock_is_monotonic_cached_locked (self);

  if (is_monotonic)
    VDM_VIEW_SET (self, clock_is_monotonic, TRUE);
  if (now ? now->clock != self->clock : self->clock != NULL) {
    if (self->clock) {
      next = g_new0 (VdmStreamClock, 1);
      next->clock = gst_object_ref (self->clock);
      g_ptr_array_add (self->stream_clocks, next);
    }
    g_atomic_pointer_set (&self->stream_clock, next);
  }
  if (!is_monotonic)
    VDM_VIEW_SET (self, clock_is_monotonic, FALSE);
}

/* Both times of an arrival, as vdm_times_locked() gives them: one clock
 * read with the system clock (its time is CLOCK_MONOTONIC's), or one TSC
 * read that the consumer converts to it (vdropmon_tsc.c). */
void
vdm_feed_stamp_arrival (GstVdropmon * self, const VdmProducerView * view, vdm_packet_record * r)
{
  r->mono = G_LIKELY (g_atomic_int_get (&view->arrival_tsc)) ? vdm_tsc_read () | VDM_TSC_STAMP
      : vdm_monotonic_ns ();
  if (G_LIKELY (g_atomic_int_get (&view->clock_is_monotonic))) {
    r->clock = r->mono;
  } else {
    const VdmStreamClock *c = g_atomic_pointer_get (&self->stream_clock);
    r->clock = c ? gst_clock_get_time (c->clock) : r->mono;
  }
  r->flags |= VDM_PACKET_ARRIVED;
}

/* ------------------------------------------------------------------------ */
/* Producers: one streaming thread per feed.                                 */

static void
wake_worker (GstVdropmon * self)
{
  g_mutex_lock (&self->lock);
  vdm_wake_worker_locked (self);
  g_mutex_unlock (&self->lock);
}

void
vdm_feed_push (VdmFeed * feed, const vdm_packet_record * r)
{
  if (G_UNLIKELY (vdm_packet_ring_produce (feed->producer, r) & VDM_RING_WAKE))
    wake_worker (feed->self);
}

void
vdm_feed_push_own (GstVdropmon * self, const vdm_packet_record * r)
{
  if (G_UNLIKELY (vdm_packet_ring_produce ((vdm_packet_ring_producer *)
              VDM_HOT (self)->own_producer, r) & VDM_RING_WAKE))
    wake_worker (self);
}

vdm_codec
vdm_feed_codec (VdmFeed * feed)
{
  return VDM_FEED_FORMAT_CODEC (g_atomic_int_get (&feed->self->probe_view.feed_format));
}
