/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gap_reconciler.h — keeps one loss from being reported twice. A packet the
 * kernel dropped on our socket also shows up as an RTP sequence gap at
 * arrival. Gaps are held for a short grace time; the seqs the kernel named
 * in the meantime are taken out, and what is left — loss before the host,
 * on the network — is reported as an RTP gap.
 */
#ifndef VDM_GAP_RECONCILER_H
#define VDM_GAP_RECONCILER_H

#include <stdbool.h>
#include <stdint.h>

#define VDM_RECONCILER_SOURCES 4
#define VDM_RECONCILER_PENDING 64

typedef struct vdm_gap_reconciler vdm_gap_reconciler;

/* What the caller knew when it saw the gap, handed back untouched. */
typedef struct {
  uint64_t stamp;        /* e.g. the time on another clock */
  uint32_t rtp_ts;       /* timestamp of the packet that revealed the gap */
  uint8_t payload_type;
  bool keyframe;         /* that packet carried a keyframe NAL: the gap is likely inside it */
} vdm_gap_context;

/* Called for each run of consecutive seqs nobody explained. */
typedef void (*vdm_unexplained_fn) (uint32_t ssrc, uint16_t first_seq, uint16_t count,
    uint64_t detected_ns, const vdm_gap_context *context, void *user_data);

vdm_gap_reconciler *vdm_gap_reconciler_new (void);
void vdm_gap_reconciler_free (vdm_gap_reconciler *rec);
void vdm_gap_reconciler_reset (vdm_gap_reconciler *rec);

void vdm_gap_reconciler_kernel_drop (vdm_gap_reconciler *rec, uint32_t ssrc, uint16_t seq);
/* The kernel dropped count packets of ours whose events were lost (a full
 * ring buffer, issue 9 #6): their seqs are unknown, so they explain the
 * next count gap seqs that no event named, of gaps detected up to
 * valid_until_ns. Without this they would come back as network loss. */
void vdm_gap_reconciler_unnamed_drops (vdm_gap_reconciler *rec, uint64_t count,
    uint64_t valid_until_ns);
/* A packet arrived: it was not lost, whatever was noted of it long ago. */
void vdm_gap_reconciler_arrived (vdm_gap_reconciler *rec, uint32_t ssrc, uint16_t seq);
/* A gap seen at arrival. now_ns is the time base of the grace period. If
 * more than VDM_RECONCILER_PENDING gaps wait, the oldest is settled at once. */
void vdm_gap_reconciler_gap (vdm_gap_reconciler *rec, uint64_t now_ns,
    const vdm_gap_context *context, uint32_t ssrc, uint16_t first_seq, uint16_t count,
    vdm_unexplained_fn fn, void *user_data);
/* Settles every gap detected at or before now_ns - grace_ns. */
void vdm_gap_reconciler_settle (vdm_gap_reconciler *rec, uint64_t now_ns, uint64_t grace_ns,
    vdm_unexplained_fn fn, void *user_data);
/* Detection time of the oldest pending gap, UINT64_MAX if none. */
uint64_t vdm_gap_reconciler_oldest (const vdm_gap_reconciler *rec);

#endif
