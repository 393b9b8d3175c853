/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * out_queue.h — the frames waiting for one client's socket to take them.
 * Bounded by kind: pushed drop frames (dropped, and counted by the caller,
 * when full), replies, and one status listing. Pure: no I/O.
 */
#ifndef VDM_DAEMON_OUT_QUEUE_H
#define VDM_DAEMON_OUT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  VDM_OUT_EVENT,   /* DROPS, CATCH_UP: may be refused when full */
  VDM_OUT_REPLY,   /* answers to requests */
  VDM_OUT_STATUS,  /* STATUS_ENTRY frames of one listing */
  VDM_OUT_KINDS
} vdm_out_kind;

typedef struct vdm_out_frame vdm_out_frame;

typedef struct {
  vdm_out_frame *head, *tail;
  size_t count[VDM_OUT_KINDS];
  size_t limit[VDM_OUT_KINDS];  /* 0 = unbounded */
} vdm_out_queue;

void vdm_out_queue_init (vdm_out_queue *q, size_t max_events, size_t max_replies);
void vdm_out_queue_clear (vdm_out_queue *q);

/* Copies the frame in. Returns 0, or -ENOBUFS when that kind is full, or
 * -ENOMEM. */
int vdm_out_queue_push (vdm_out_queue *q, vdm_out_kind kind, const uint8_t *frame, size_t len);

bool vdm_out_queue_full (const vdm_out_queue *q, vdm_out_kind kind);
bool vdm_out_queue_empty (const vdm_out_queue *q);

/* The oldest frame, without removing it; NULL when empty. */
const uint8_t *vdm_out_queue_peek (const vdm_out_queue *q, size_t *len);
void vdm_out_queue_pop (vdm_out_queue *q);

#endif
