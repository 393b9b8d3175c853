/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "out_queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct vdm_out_frame {
  vdm_out_frame *next;
  vdm_out_kind kind;
  size_t len;
  uint8_t bytes[];
};

void
vdm_out_queue_init (vdm_out_queue *q, size_t max_events, size_t max_replies)
{
  memset (q, 0, sizeof (*q));
  q->limit[VDM_OUT_EVENT] = max_events;
  q->limit[VDM_OUT_REPLY] = max_replies;
  q->limit[VDM_OUT_STATUS] = 0;
}

void
vdm_out_queue_clear (vdm_out_queue *q)
{
  while (q->head)
    vdm_out_queue_pop (q);
}

bool
vdm_out_queue_full (const vdm_out_queue *q, vdm_out_kind kind)
{
  return q->limit[kind] && q->count[kind] >= q->limit[kind];
}

bool
vdm_out_queue_empty (const vdm_out_queue *q)
{
  return q->head == NULL;
}

int
vdm_out_queue_push (vdm_out_queue *q, vdm_out_kind kind, const uint8_t *frame, size_t len)
{
  vdm_out_frame *f;

  if (vdm_out_queue_full (q, kind))
    return -ENOBUFS;
  f = malloc (sizeof (*f) + len);
  if (!f)
    return -ENOMEM;
  f->next = NULL;
  f->kind = kind;
  f->len = len;
  memcpy (f->bytes, frame, len);
  if (q->tail)
    q->tail->next = f;
  else
    q->head = f;
  q->tail = f;
  q->count[kind]++;
  return 0;
}

const uint8_t *
vdm_out_queue_peek (const vdm_out_queue *q, size_t *len)
{
  if (!q->head)
    return NULL;
  *len = q->head->len;
  return q->head->bytes;
}

void
vdm_out_queue_pop (vdm_out_queue *q)
{
  vdm_out_frame *f = q->head;

  if (!f)
    return;
  q->head = f->next;
  if (!q->head)
    q->tail = NULL;
  q->count[f->kind]--;
  free (f);
}
