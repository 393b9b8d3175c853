/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * drop_batcher.c — a small table of open batches, looked up linearly
 * (there are at most VDM_BATCHER_MAX_OPEN). A batch is copied out of the
 * table before the ready callback runs, so the callback may call back into
 * the batcher.
 */
#include "drop_batcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  vdm_drop_batch batch;
  uint64_t opened_ns;
  uint64_t deadline;
  uint64_t serial; /* opening order: the smallest is the oldest */
} open_batch;

struct vdm_drop_batcher {
  uint64_t interval_ns;
  vdm_batch_ready_fn ready;
  void *user_data;
  open_batch open[VDM_BATCHER_MAX_OPEN];
  unsigned n_open;
  uint64_t next_serial;
};

vdm_drop_batcher *
vdm_drop_batcher_new (uint64_t interval_ns, vdm_batch_ready_fn ready, void *user_data)
{
  vdm_drop_batcher *batcher = calloc (1, sizeof (*batcher));
  if (batcher == NULL)
    return NULL;
  batcher->interval_ns = interval_ns;
  batcher->ready = ready;
  batcher->user_data = user_data;
  return batcher;
}

/* Open batches are dropped without a callback: at this point whoever
 * would receive them may be gone. Call flush_all first to get them. */
void
vdm_drop_batcher_free (vdm_drop_batcher *batcher)
{
  free (batcher);
}

void
vdm_drop_batcher_reset (vdm_drop_batcher *batcher)
{
  batcher->n_open = 0;
}

/* Saturates below VDM_TIME_NONE, which means "no deadline". */
static uint64_t
deadline_of (uint64_t opened_ns, uint64_t interval_ns)
{
  uint64_t latest = VDM_TIME_NONE - 1;
  return opened_ns >= latest || interval_ns > latest - opened_ns
      ? latest : opened_ns + interval_ns;
}

/* Open batches take the new interval too: a shorter one must not wait for
 * the old, longer deadline. */
void
vdm_drop_batcher_set_interval (vdm_drop_batcher *batcher, uint64_t interval_ns)
{
  batcher->interval_ns = interval_ns;
  for (unsigned i = 0; i < batcher->n_open; i++)
    batcher->open[i].deadline = deadline_of (batcher->open[i].opened_ns, interval_ns);
}

static void
close_batch (vdm_drop_batcher *batcher, unsigned index)
{
  vdm_drop_batch closed = batcher->open[index].batch;

  batcher->n_open--;
  batcher->open[index] = batcher->open[batcher->n_open];
  if (batcher->ready)
    batcher->ready (&closed, batcher->user_data);
}

static bool
earlier (const open_batch *a, const open_batch *b)
{
  return a->deadline < b->deadline || (a->deadline == b->deadline && a->serial < b->serial);
}

/* Index of the open batch due first, if it is due at now_ns; -1 if none. */
static int
first_due (const vdm_drop_batcher *batcher, uint64_t now_ns)
{
  int best = -1;
  for (unsigned i = 0; i < batcher->n_open; i++) {
    const open_batch *o = &batcher->open[i];
    if (o->deadline <= now_ns && (best < 0 || earlier (o, &batcher->open[best])))
      best = (int) i;
  }
  return best;
}

void
vdm_drop_batcher_flush_due (vdm_drop_batcher *batcher, uint64_t now_ns)
{
  int i;
  /* Search again after each close: the callback may have changed the table. */
  while ((i = first_due (batcher, now_ns)) >= 0)
    close_batch (batcher, (unsigned) i);
}

void
vdm_drop_batcher_flush_all (vdm_drop_batcher *batcher)
{
  int i;
  while ((i = first_due (batcher, UINT64_MAX)) >= 0)
    close_batch (batcher, (unsigned) i);
}

uint64_t
vdm_drop_batcher_next_deadline (const vdm_drop_batcher *batcher)
{
  uint64_t deadline = VDM_TIME_NONE;
  for (unsigned i = 0; i < batcher->n_open; i++) {
    if (batcher->open[i].deadline < deadline)
      deadline = batcher->open[i].deadline;
  }
  return deadline;
}

static bool
batch_matches (const vdm_drop_batch *b, const vdm_drop_record *r)
{
  return b->source == r->source && b->watch_id == r->watch_id && b->reason == r->reason
      && b->has_rtp == r->has_rtp && (!r->has_rtp || b->ssrc == r->ssrc);
}

static void
close_oldest (vdm_drop_batcher *batcher)
{
  unsigned oldest = 0;
  for (unsigned i = 1; i < batcher->n_open; i++) {
    if (batcher->open[i].serial < batcher->open[oldest].serial)
      oldest = i;
  }
  close_batch (batcher, oldest);
}

static vdm_drop_batch *
open_new (vdm_drop_batcher *batcher, const vdm_drop_record *r, uint64_t now_ns)
{
  /* A loop, not an if: the callback of a batch closed here may add again. */
  while (batcher->n_open >= VDM_BATCHER_MAX_OPEN)
    close_oldest (batcher);

  open_batch *o = &batcher->open[batcher->n_open++];
  memset (o, 0, sizeof (*o));
  o->serial = batcher->next_serial++;
  o->opened_ns = now_ns;
  o->deadline = deadline_of (now_ns, batcher->interval_ns);

  vdm_drop_batch *b = &o->batch;
  b->source = r->source;
  b->watch_id = r->watch_id;
  b->reason = r->reason;
  snprintf (b->reason_name, sizeof (b->reason_name), "%s", r->reason_name ? r->reason_name : "");
  b->attribution = r->attribution;
  b->first_time_ns = b->last_time_ns = r->time_ns;
  b->has_rtp = r->has_rtp;
  b->ssrc = r->has_rtp ? r->ssrc : 0;
  b->payload_type = r->has_rtp ? r->payload_type : -1;
  b->seq_first = r->rtp_seq;
  return b;
}

static void
add_seqs (vdm_drop_batch *b, uint16_t first, uint32_t count)
{
  uint32_t room = VDM_BATCH_MAX_SEQS - b->n_seqs;
  uint32_t listed = count < room ? count : room;

  for (uint32_t i = 0; i < listed; i++)
    b->seqs[b->n_seqs++] = (uint16_t) (first + i);
  if (count > room)
    b->seqs_truncated = true;
  b->seq_last = (uint16_t) (first + count - 1);
}

static void
add_frame (vdm_drop_batch *b, uint32_t rtp_ts)
{
  for (unsigned i = 0; i < b->n_frames; i++) {
    if (b->rtp_ts[i] == rtp_ts)
      return;
  }
  if (b->n_frames < VDM_BATCH_MAX_FRAMES)
    b->rtp_ts[b->n_frames++] = rtp_ts;
  else
    b->frames_truncated = true;
}

static void
merge_record (vdm_drop_batch *b, const vdm_drop_record *r)
{
  /* A record always stands for at least one drop. */
  uint32_t count = r->count > 0 ? r->count : 1;

  b->count += count;
  if (r->time_ns < b->first_time_ns)
    b->first_time_ns = r->time_ns;
  if (r->time_ns > b->last_time_ns)
    b->last_time_ns = r->time_ns;
  if (r->has_rtp) {
    add_seqs (b, r->rtp_seq, count);
    add_frame (b, r->rtp_ts);
  }
  b->keyframe |= r->keyframe_packet;
}

void
vdm_drop_batcher_add (vdm_drop_batcher *batcher, const vdm_drop_record *record, uint64_t now_ns)
{
  vdm_drop_batch *b = NULL;

  /* A batch past its deadline must not take more drops: they would wait
   * longer than the interval. */
  vdm_drop_batcher_flush_due (batcher, now_ns);

  for (unsigned i = 0; i < batcher->n_open && b == NULL; i++) {
    if (batch_matches (&batcher->open[i].batch, record))
      b = &batcher->open[i].batch;
  }
  if (b == NULL)
    b = open_new (batcher, record, now_ns);
  merge_record (b, record);

  /* Only an interval of 0 makes the batch due at once. */
  vdm_drop_batcher_flush_due (batcher, now_ns);
}
