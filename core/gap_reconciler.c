/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gap_reconciler.h"

#include <stdlib.h>
#include <string.h>

/* One bit per sequence number: "the kernel dropped this one". */
typedef struct {
  bool used;
  uint32_t ssrc;
  uint64_t last_use;
  uint64_t dropped[65536 / 64];
} source_bits;

typedef struct {
  uint32_t ssrc;
  uint16_t first_seq;
  uint16_t count;
  uint64_t detected_ns;
  vdm_gap_context context;
} pending_gap;

struct vdm_gap_reconciler {
  source_bits sources[VDM_RECONCILER_SOURCES];
  uint64_t use_counter;
  pending_gap pending[VDM_RECONCILER_PENDING]; /* in detection order */
  unsigned n_pending;
  uint64_t unnamed;             /* kernel drops with no seq, not yet matched to a gap seq */
  uint64_t unnamed_until;       /* they explain gaps detected up to this time */
};

vdm_gap_reconciler *
vdm_gap_reconciler_new (void)
{
  return calloc (1, sizeof (vdm_gap_reconciler));
}

void
vdm_gap_reconciler_free (vdm_gap_reconciler *rec)
{
  free (rec);
}

void
vdm_gap_reconciler_reset (vdm_gap_reconciler *rec)
{
  memset (rec, 0, sizeof (*rec));
}

/* The bits of ssrc; with create, takes the least recently used slot. */
static source_bits *
bits_of (vdm_gap_reconciler *rec, uint32_t ssrc, bool create)
{
  source_bits *lru = &rec->sources[0];
  unsigned i;

  for (i = 0; i < VDM_RECONCILER_SOURCES; i++) {
    source_bits *s = &rec->sources[i];
    if (s->used && s->ssrc == ssrc) {
      s->last_use = ++rec->use_counter;
      return s;
    }
    if (!s->used || (lru->used && s->last_use < lru->last_use))
      lru = s;
  }
  if (!create)
    return NULL;
  memset (lru, 0, sizeof (*lru));
  lru->used = true;
  lru->ssrc = ssrc;
  lru->last_use = ++rec->use_counter;
  return lru;
}

void
vdm_gap_reconciler_kernel_drop (vdm_gap_reconciler *rec, uint32_t ssrc, uint16_t seq)
{
  source_bits *s = bits_of (rec, ssrc, true);
  s->dropped[seq / 64] |= 1ull << (seq % 64);
}

void
vdm_gap_reconciler_arrived (vdm_gap_reconciler *rec, uint32_t ssrc, uint16_t seq)
{
  source_bits *s = bits_of (rec, ssrc, false);
  if (s)
    s->dropped[seq / 64] &= ~(1ull << (seq % 64));
}

void
vdm_gap_reconciler_unnamed_drops (vdm_gap_reconciler *rec, uint64_t count, uint64_t valid_until_ns)
{
  rec->unnamed += count;
  rec->unnamed_until = valid_until_ns;
}

/* A gap seq no event named: one of the kernel's unnamed drops, if any
 * are left for a gap of that time. */
static bool
take_unnamed (vdm_gap_reconciler *rec, uint64_t detected_ns)
{
  if (!rec->unnamed || detected_ns > rec->unnamed_until)
    return false;
  rec->unnamed--;
  return true;
}

/* Reports the runs of gap seqs the kernel did not name; consumes the bits. */
static void
settle_gap (vdm_gap_reconciler *rec, const pending_gap *gap, vdm_unexplained_fn fn, void *user_data)
{
  source_bits *s = bits_of (rec, gap->ssrc, false);
  uint16_t run_start = 0, run_len = 0;
  uint32_t i;

  for (i = 0; i < gap->count; i++) {
    uint16_t seq = (uint16_t) (gap->first_seq + i);
    bool explained = (s && (s->dropped[seq / 64] & (1ull << (seq % 64))))
        || take_unnamed (rec, gap->detected_ns);
    if (s)
      s->dropped[seq / 64] &= ~(1ull << (seq % 64));
    if (!explained) {
      if (run_len == 0)
        run_start = seq;
      run_len++;
      continue;
    }
    if (run_len)
      fn (gap->ssrc, run_start, run_len, gap->detected_ns, &gap->context, user_data);
    run_len = 0;
  }
  if (run_len)
    fn (gap->ssrc, run_start, run_len, gap->detected_ns, &gap->context, user_data);
}

static void
settle_first (vdm_gap_reconciler *rec, vdm_unexplained_fn fn, void *user_data)
{
  pending_gap gap = rec->pending[0];

  memmove (&rec->pending[0], &rec->pending[1], (--rec->n_pending) * sizeof (pending_gap));
  settle_gap (rec, &gap, fn, user_data);
}

void
vdm_gap_reconciler_gap (vdm_gap_reconciler *rec, uint64_t now_ns,
    const vdm_gap_context *context, uint32_t ssrc, uint16_t first_seq, uint16_t count,
    vdm_unexplained_fn fn, void *user_data)
{
  if (count == 0)
    return;
  if (rec->n_pending == VDM_RECONCILER_PENDING)
    settle_first (rec, fn, user_data);
  rec->pending[rec->n_pending++] = (pending_gap) {
    .ssrc = ssrc, .first_seq = first_seq, .count = count, .detected_ns = now_ns, .context = *context,
  };
}

void
vdm_gap_reconciler_settle (vdm_gap_reconciler *rec, uint64_t now_ns, uint64_t grace_ns,
    vdm_unexplained_fn fn, void *user_data)
{
  while (rec->n_pending && rec->pending[0].detected_ns + grace_ns <= now_ns)
    settle_first (rec, fn, user_data);
}

uint64_t
vdm_gap_reconciler_oldest (const vdm_gap_reconciler *rec)
{
  return rec->n_pending ? rec->pending[0].detected_ns : UINT64_MAX;
}
