/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * interned_names.c — strings that live as long as the process.
 *
 * Drop reason names travel far from the source that named them: into
 * batches, messages and reports that may outlive the source (an element
 * restarted, the last reference dropped). Interning them once per process
 * makes every such pointer valid forever; the set is small (a few hundred
 * kernel reason names), so it is never freed. Still reachable from the
 * buckets, so leak checkers do not count it.
 */
#include "event_source.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define N_BUCKETS 64

typedef struct interned {
  struct interned *next;
  char text[];
} interned;

static pthread_mutex_t intern_lock = PTHREAD_MUTEX_INITIALIZER;
static interned *buckets[N_BUCKETS];

static unsigned
hash_name (const char *name)
{
  unsigned h = 5381;

  while (*name)
    h = h * 33 + (unsigned char) *name++;
  return h % N_BUCKETS;
}

const char *
vdm_source_intern_name (const char *name)
{
  unsigned bucket;
  interned *entry;
  size_t len;

  if (!name)
    return NULL;
  bucket = hash_name (name);
  len = strlen (name);
  pthread_mutex_lock (&intern_lock);
  for (entry = buckets[bucket]; entry; entry = entry->next)
    if (strcmp (entry->text, name) == 0)
      break;
  if (!entry) {
    entry = malloc (sizeof (*entry) + len + 1);
    if (entry) {
      memcpy (entry->text, name, len + 1);
      entry->next = buckets[bucket];
      buckets[bucket] = entry;
    }
  }
  pthread_mutex_unlock (&intern_lock);
  return entry ? entry->text : NULL;
}
