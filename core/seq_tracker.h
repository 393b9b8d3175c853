/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * seq_tracker.h — RTP sequence gaps as userspace sees them at arrival,
 * per SSRC, with RFC 3550 appendix A.1 rules for dropouts and restarts.
 */
#ifndef VDM_SEQ_TRACKER_H
#define VDM_SEQ_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

#define VDM_SEQ_MAX_SOURCES 16

typedef struct {
  uint64_t received;   /* packets pushed */
  uint64_t lost;       /* missing per gaps, minus late arrivals that filled them */
  uint64_t reordered;  /* arrived behind the highest seq, within the misorder window */
  uint64_t duplicates; /* same seq as one already counted (best effort, recent only) */
  uint64_t resyncs;    /* jumps beyond the dropout window: sender restart, not loss */
} vdm_seq_stats;

typedef struct {
  uint32_t ssrc;
  uint16_t first_missing; /* first seq not received */
  uint16_t count;         /* how many consecutive seqs are missing */
} vdm_seq_gap;

typedef struct vdm_seq_tracker vdm_seq_tracker;

vdm_seq_tracker *vdm_seq_tracker_new (void);
void vdm_seq_tracker_free (vdm_seq_tracker *tracker);
void vdm_seq_tracker_reset (vdm_seq_tracker *tracker);
/* Forgets every SSRC's sequence state (e.g. after a flushing seek) but keeps
 * the totals, which reset clears too. */
void vdm_seq_tracker_forget_sources (vdm_seq_tracker *tracker);

/* Records one arrival. Returns true and fills *gap when this packet reveals
 * missing packets before it (count <= 3000: larger jumps resync instead). */
bool vdm_seq_tracker_push (vdm_seq_tracker *tracker, uint32_t ssrc, uint16_t seq, vdm_seq_gap *gap);

/* Totals over all SSRCs. */
void vdm_seq_tracker_stats (const vdm_seq_tracker *tracker, vdm_seq_stats *out);

#endif
