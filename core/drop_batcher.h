/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * drop_batcher.h — turns a flood of single drops into a few batches: one per
 * (source, watch, reason, SSRC) and per interval, whose counts add up to the
 * drops put in. A batch opens at its first drop and closes interval later,
 * so no drop waits longer than interval to be reported.
 */
#ifndef VDM_DROP_BATCHER_H
#define VDM_DROP_BATCHER_H

#include <stdbool.h>
#include <stdint.h>

#include "vdm_time.h"

#define VDM_BATCH_MAX_SEQS 64    /* seqs listed per batch; the count goes on past it */
#define VDM_BATCH_MAX_FRAMES 16  /* distinct RTP timestamps remembered per batch */
#define VDM_BATCHER_MAX_OPEN 32  /* open batches; the oldest is closed early past this */
#define VDM_REASON_NAME_MAX 48   /* a kernel drop reason's name, copied into each batch */

typedef enum {
  VDM_DROP_SOURCE_KERNEL_UDP = 0,
  VDM_DROP_SOURCE_KERNEL_TCP,
  VDM_DROP_SOURCE_KERNEL_OTHER,
  VDM_DROP_SOURCE_RTP_GAP,
} vdm_drop_source;

/* One drop (or, for RTP gaps, `count` consecutive seqs starting at rtp_seq). */
typedef struct {
  vdm_drop_source source;
  uint32_t watch_id;
  uint32_t reason;
  const char *reason_name;   /* read during the add call only; the batch keeps a copy */
  uint64_t time_ns;          /* CLOCK_MONOTONIC of the drop */
  uint32_t count;            /* 1 for kernel drops */
  bool has_rtp;
  uint32_t ssrc;
  uint16_t rtp_seq;
  uint32_t rtp_ts;
  uint8_t payload_type;
  bool keyframe_packet;
  uint8_t attribution;       /* enum vdm_attribution, or 0 for userspace */
} vdm_drop_record;

typedef struct {
  vdm_drop_source source;
  uint32_t watch_id;
  uint32_t reason;
  /* A copy: a batch outlives the event source that named the reason. */
  char reason_name[VDM_REASON_NAME_MAX];
  uint8_t attribution;
  uint64_t count;
  uint64_t first_time_ns, last_time_ns;
  bool has_rtp;
  uint32_t ssrc;
  int payload_type;          /* -1 when not RTP */
  uint16_t seq_first, seq_last; /* in arrival order of the drops; valid if has_rtp */
  uint16_t seqs[VDM_BATCH_MAX_SEQS];
  unsigned n_seqs;
  bool seqs_truncated;
  uint32_t rtp_ts[VDM_BATCH_MAX_FRAMES]; /* distinct, in order first seen */
  unsigned n_frames;
  bool frames_truncated;
  bool keyframe;             /* some dropped packet carried a keyframe NAL */
} vdm_drop_batch;

typedef void (*vdm_batch_ready_fn) (const vdm_drop_batch *batch, void *user_data);

typedef struct vdm_drop_batcher vdm_drop_batcher;

/* ready is called for every batch that closes, from whichever call closes it. */
vdm_drop_batcher *vdm_drop_batcher_new (uint64_t interval_ns, vdm_batch_ready_fn ready,
    void *user_data);
void vdm_drop_batcher_free (vdm_drop_batcher *batcher);
/* Forgets every open batch without calling ready (a restart: nothing of the
 * old run may reach the new one). */
void vdm_drop_batcher_reset (vdm_drop_batcher *batcher);
void vdm_drop_batcher_set_interval (vdm_drop_batcher *batcher, uint64_t interval_ns);

/* now_ns: CLOCK_MONOTONIC when the drop reached userspace; the batch closes
 * at now_ns of its first drop + interval. */
void vdm_drop_batcher_add (vdm_drop_batcher *batcher, const vdm_drop_record *record, uint64_t now_ns);
/* Closes every batch whose deadline is <= now_ns. */
void vdm_drop_batcher_flush_due (vdm_drop_batcher *batcher, uint64_t now_ns);
void vdm_drop_batcher_flush_all (vdm_drop_batcher *batcher);
/* Earliest deadline of an open batch, VDM_TIME_NONE if none is open. */
uint64_t vdm_drop_batcher_next_deadline (const vdm_drop_batcher *batcher);

#endif
