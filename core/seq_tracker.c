/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * seq_tracker.c — per-SSRC sequence accounting after RFC 3550 appendix A.1:
 * a jump of less than MAX_DROPOUT ahead is a gap (loss), up to MAX_MISORDER
 * behind is a late packet, anything else is a stray packet unless the next
 * one continues from it, which means the sender restarted (resync).
 *
 * A 128-seq window behind the highest seq remembers which seqs arrived, so
 * that a late packet can be told apart from a duplicate and can take back
 * the loss counted for it.
 */
#include "seq_tracker.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DROPOUT 3000
#define MAX_MISORDER 100
#define SEQ_MOD 65536u
#define WINDOW_BITS 128u
#define NO_BAD_SEQ (SEQ_MOD + 1) /* never equals a 16-bit seq */

_Static_assert (WINDOW_BITS > MAX_MISORDER, "the window must cover the misorder range");

/* Bit i set: seq (max_seq - i) arrived. */
typedef struct {
  uint64_t low;  /* i = 0..63 */
  uint64_t high; /* i = 64..127 */
} seq_window;

typedef struct {
  bool in_use;
  uint32_t ssrc;
  uint64_t last_used;
  uint16_t max_seq;
  uint32_t bad_seq;      /* seq that would confirm a restart, or NO_BAD_SEQ */
  unsigned known;        /* seqs at and behind max_seq accounted for, <= WINDOW_BITS */
  seq_window window;
} seq_source;

struct vdm_seq_tracker {
  seq_source sources[VDM_SEQ_MAX_SOURCES];
  uint64_t tick;
  vdm_seq_stats stats; /* totals: survive the eviction of a source */
};

static void
window_advance (seq_window *w, unsigned n)
{
  if (n >= WINDOW_BITS) {
    w->low = w->high = 0;
  } else if (n >= 64) {
    w->high = w->low << (n - 64);
    w->low = 0;
  } else if (n > 0) {
    w->high = (w->high << n) | (w->low >> (64 - n));
    w->low <<= n;
  }
}

static bool
window_test (const seq_window *w, unsigned behind)
{
  return behind < 64 ? (w->low >> behind) & 1 : (w->high >> (behind - 64)) & 1;
}

static void
window_set (seq_window *w, unsigned behind)
{
  if (behind < 64)
    w->low |= (uint64_t) 1 << behind;
  else
    w->high |= (uint64_t) 1 << (behind - 64);
}

static void
source_start (seq_source *s, uint16_t seq)
{
  s->max_seq = seq;
  s->bad_seq = NO_BAD_SEQ;
  s->known = 1;
  s->window.low = 1;
  s->window.high = 0;
}

vdm_seq_tracker *
vdm_seq_tracker_new (void)
{
  return calloc (1, sizeof (vdm_seq_tracker));
}

void
vdm_seq_tracker_free (vdm_seq_tracker *tracker)
{
  free (tracker);
}

void
vdm_seq_tracker_reset (vdm_seq_tracker *tracker)
{
  memset (tracker, 0, sizeof (*tracker));
}

void
vdm_seq_tracker_forget_sources (vdm_seq_tracker *tracker)
{
  memset (tracker->sources, 0, sizeof (tracker->sources));
}

/* Returns the source of ssrc, or a fresh one (evicting the least recently
 * used) with *is_new set. */
static seq_source *
lookup_source (vdm_seq_tracker *tracker, uint32_t ssrc, bool *is_new)
{
  seq_source *free_slot = NULL, *oldest = NULL;

  for (unsigned i = 0; i < VDM_SEQ_MAX_SOURCES; i++) {
    seq_source *s = &tracker->sources[i];
    if (!s->in_use) {
      if (free_slot == NULL)
        free_slot = s;
    } else if (s->ssrc == ssrc) {
      *is_new = false;
      return s;
    } else if (oldest == NULL || s->last_used < oldest->last_used) {
      oldest = s;
    }
  }

  seq_source *victim = free_slot ? free_slot : oldest;
  memset (victim, 0, sizeof (*victim));
  victim->in_use = true;
  victim->ssrc = ssrc;
  *is_new = true;
  return victim;
}

static bool
on_ahead (vdm_seq_tracker *tracker, seq_source *s, uint16_t seq, unsigned delta, vdm_seq_gap *gap)
{
  unsigned missing = delta - 1;
  uint16_t first_missing = (uint16_t) (s->max_seq + 1);

  window_advance (&s->window, delta);
  window_set (&s->window, 0);
  s->known = s->known + delta < WINDOW_BITS ? s->known + delta : WINDOW_BITS;
  s->max_seq = seq;
  s->bad_seq = NO_BAD_SEQ;

  if (missing == 0)
    return false;
  tracker->stats.lost += missing;
  if (gap) {
    gap->ssrc = s->ssrc;
    gap->first_missing = first_missing;
    gap->count = (uint16_t) missing;
  }
  return true;
}

static void
on_behind (vdm_seq_tracker *tracker, seq_source *s, unsigned behind)
{
  if (behind >= s->known) {
    /* Older than anything accounted for (e.g. sent before the first seq we
     * saw): late, but no loss was counted for it. */
    tracker->stats.reordered++;
    return;
  }
  if (window_test (&s->window, behind)) {
    tracker->stats.duplicates++;
    return;
  }
  window_set (&s->window, behind);
  tracker->stats.lost--;
  tracker->stats.reordered++;
}

static void
on_far_jump (vdm_seq_tracker *tracker, seq_source *s, uint16_t seq)
{
  if (seq != s->bad_seq) {
    /* One stray packet does not move the stream; the next one decides. */
    s->bad_seq = (uint16_t) (seq + 1);
    return;
  }
  /* Two in a row: the sender restarted. Both count as arrived, none as lost. */
  tracker->stats.resyncs++;
  source_start (s, seq);
  window_set (&s->window, 1);
  s->known = 2;
}

bool
vdm_seq_tracker_push (vdm_seq_tracker *tracker, uint32_t ssrc, uint16_t seq, vdm_seq_gap *gap)
{
  bool is_new;
  seq_source *s = lookup_source (tracker, ssrc, &is_new);

  s->last_used = ++tracker->tick;
  tracker->stats.received++;

  if (is_new) {
    source_start (s, seq);
    return false;
  }

  unsigned delta = (uint16_t) (seq - s->max_seq);
  if (delta == 0) {
    tracker->stats.duplicates++;
    return false;
  }
  if (delta < MAX_DROPOUT)
    return on_ahead (tracker, s, seq, delta, gap);
  if (delta <= SEQ_MOD - MAX_MISORDER) {
    on_far_jump (tracker, s, seq);
    return false;
  }
  on_behind (tracker, s, SEQ_MOD - delta);
  return false;
}

void
vdm_seq_tracker_stats (const vdm_seq_tracker *tracker, vdm_seq_stats *out)
{
  *out = tracker->stats;
}
