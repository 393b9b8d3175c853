/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * event_source.c — the run-time side of event_source.h: opening a source by
 * name, the reference count, and the public functions, each of which only
 * dispatches to the implementation's ops table. Nothing here knows what an
 * implementation does.
 */
#define _GNU_SOURCE
#include "event_source.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_source.h"

#define MAX_OPENERS 8

typedef struct {
  const char *name;
  vdm_source_opener open;
} opener_entry;

static vdm_source *open_fake (const char *daemon_socket, char **error);
static vdm_source *open_embedded (const char *daemon_socket, char **error);

static pthread_mutex_t openers_lock = PTHREAD_MUTEX_INITIALIZER;
static opener_entry openers[MAX_OPENERS] = {
  { "embedded", open_embedded },
  { "fake", open_fake },
};

char *
vdm_source_format_error (const char *fmt, ...)
{
  va_list args;
  char *text = NULL;

  va_start (args, fmt);
  if (vasprintf (&text, fmt, args) < 0)
    text = NULL;
  va_end (args);
  return text;
}

static vdm_source *
open_fake (const char *daemon_socket, char **error)
{
  return vdm_source_ref (vdm_fake_source_as_source (vdm_fake_source_get_default ()));
}

static vdm_source *
open_embedded (const char *daemon_socket, char **error)
{
  return vdm_source_open_embedded (error);
}

int
vdm_source_register_opener (const char *name, vdm_source_opener open)
{
  int i, free_slot = -1, result = -ENOSPC;

  pthread_mutex_lock (&openers_lock);
  for (i = 0; i < MAX_OPENERS; i++) {
    if (openers[i].name && strcmp (openers[i].name, name) == 0)
      break;
    if (!openers[i].name && free_slot < 0)
      free_slot = i;
  }
  if (i == MAX_OPENERS)
    i = free_slot;
  if (i >= 0) {
    openers[i].name = vdm_source_intern_name (name);
    openers[i].open = open;
    result = openers[i].name ? 0 : -ENOMEM;
  }
  pthread_mutex_unlock (&openers_lock);
  return result;
}

static vdm_source_opener
find_opener (const char *name)
{
  vdm_source_opener open = NULL;
  int i;

  pthread_mutex_lock (&openers_lock);
  for (i = 0; i < MAX_OPENERS && !open; i++)
    if (openers[i].name && strcmp (openers[i].name, name) == 0)
      open = openers[i].open;
  pthread_mutex_unlock (&openers_lock);
  return open;
}

vdm_source *
vdm_source_open (const char *name, const char *daemon_socket, char **error)
{
  vdm_source_opener open;
  vdm_source *source;

  *error = NULL;
  if (!name) {
    *error = vdm_source_format_error ("no event source named");
    return NULL;
  }
  open = find_opener (name);
  if (!open) {
    if (strcmp (name, "daemon") == 0)
      *error = vdm_source_format_error ("daemon client not built yet (this build of vdropmon has no "
          "\"daemon\" event source)");
    else
      *error = vdm_source_format_error ("unknown event source \"%s\" (known: embedded, fake, daemon)", name);
    return NULL;
  }
  source = open (daemon_socket, error);
  if (!source && !*error)
    *error = vdm_source_format_error ("the %s event source failed to open and said nothing why", name);
  return source;
}

void
vdm_source_init (vdm_source *source, const vdm_source_ops *ops)
{
  source->ops = ops;
  __atomic_store_n (&source->refcount, 1, __ATOMIC_RELEASE);
}

vdm_source *
vdm_source_ref (vdm_source *source)
{
  if (source)
    __atomic_add_fetch (&source->refcount, 1, __ATOMIC_RELAXED);
  return source;
}

void
vdm_source_unref (vdm_source *source)
{
  if (!source)
    return;
  /* acq_rel: every use before our unref happens before destroy. */
  if (__atomic_sub_fetch (&source->refcount, 1, __ATOMIC_ACQ_REL) == 0)
    source->ops->destroy (source);
}

void
vdm_source_get_info (vdm_source *source, vdm_source_info *info)
{
  memset (info, 0, sizeof (*info));
  source->ops->get_info (source, info);
  if (!info->name)
    info->name = source->ops->name;
}

vdm_subscription *
vdm_source_subscribe (vdm_source *source, const vdm_consumer *consumer, void *user_data)
{
  return source->ops->subscribe (source, consumer, user_data);
}

void
vdm_source_unsubscribe (vdm_source *source, vdm_subscription *sub)
{
  if (sub)
    source->ops->unsubscribe (source, sub);
}

int
vdm_source_watch (vdm_source *source, vdm_subscription *sub, const vdm_watch_spec *spec)
{
  if (!sub || !spec)
    return -EINVAL;
  return source->ops->watch (source, sub, spec);
}

void
vdm_source_unwatch (vdm_source *source, vdm_subscription *sub, uint32_t watch_id)
{
  if (sub && watch_id)
    source->ops->unwatch (source, sub, watch_id);
}

int
vdm_source_unwatch_final (vdm_source *source, vdm_subscription *sub, uint32_t watch_id,
    vdm_counters *out)
{
  int err;

  memset (out, 0, sizeof (*out));
  if (!sub || !watch_id)
    return -EINVAL;
  if (source->ops->unwatch_final)
    return source->ops->unwatch_final (source, sub, watch_id, out);
  err = source->ops->counters (source, watch_id, out);
  source->ops->unwatch (source, sub, watch_id);
  if (err < 0)
    memset (out, 0, sizeof (*out));
  return err;
}

int
vdm_source_counters (vdm_source *source, uint32_t watch_id, vdm_counters *out)
{
  memset (out, 0, sizeof (*out));
  if (watch_id == 0)
    return -EINVAL;
  return source->ops->counters (source, watch_id, out);
}

int
vdm_source_events_lost (vdm_source *source, uint32_t watch_id, uint64_t *out)
{
  vdm_counters counters;
  int err;

  *out = 0;
  if (watch_id == 0)
    return -EINVAL;
  if (source->ops->events_lost)
    return source->ops->events_lost (source, watch_id, out);
  err = source->ops->counters (source, watch_id, &counters);
  if (err == 0)
    *out = counters.ringbuf_lost;
  return err;
}

int
vdm_source_queue_peak (vdm_source *source, uint32_t watch_id)
{
  if (watch_id == 0)
    return -1;
  return source->ops->queue_peak (source, watch_id);
}

const char *
vdm_source_reason_name (vdm_source *source, uint32_t reason)
{
  const char *name = source->ops->reason_name (source, reason);
  return name ? name : "UNKNOWN";
}
