/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmon_resolve.c — the server names of TCP sources, resolved without
 * ever blocking the worker (issue 9 #10). A name is looked up once per run
 * of the element (start → stop), on a thread of its own; until the answer
 * comes, discovery simply finds no socket for it. A hung resolver delays
 * only that socket's discovery: warnings, stats and stop() go on.
 *
 * The lookup is shared by the element and its thread (a reference each),
 * never the element itself: stop() cancels it and lets go, and the thread
 * frees it whenever the resolver returns.
 */
#include "gstvdropmon_priv.h"

#include <string.h>

#define GST_CAT_DEFAULT vdropmon_debug
#define MAX_ADDRS 8

typedef struct
{
  gint refs;
  GMutex lock;
  gchar *host;
  GCancellable *cancel;
  gboolean done;
  struct sockaddr_storage addrs[MAX_ADDRS];
  gint n_addrs;
} HostLookup;

static void
lookup_unref (gpointer data)
{
  HostLookup *l = data;

  if (!g_atomic_int_dec_and_test (&l->refs))
    return;
  g_mutex_clear (&l->lock);
  g_object_unref (l->cancel);
  g_free (l->host);
  g_free (l);
}

static gint
to_native (GList * list, struct sockaddr_storage *addrs, gint max)
{
  GList *l;
  gint n = 0;

  for (l = list; l && n < max; l = l->next) {
    GSocketAddress *sa = g_inet_socket_address_new (l->data, 0);
    if (g_socket_address_to_native (sa, &addrs[n], sizeof (addrs[n]), NULL))
      n++;
    g_object_unref (sa);
  }
  return n;
}

static gpointer
lookup_thread (gpointer data)
{
  HostLookup *l = data;
  GResolver *resolver = g_resolver_get_default ();      /* a reference: released below */
  GError *error = NULL;
  GList *list = g_resolver_lookup_by_name (resolver, l->host, l->cancel, &error);
  struct sockaddr_storage addrs[MAX_ADDRS];
  gint n = to_native (list, addrs, MAX_ADDRS);

  if (error) {
    GST_INFO ("cannot resolve %s: %s", l->host, error->message);
    g_error_free (error);
  }
  g_mutex_lock (&l->lock);
  memcpy (l->addrs, addrs, sizeof (addrs));
  l->n_addrs = n;
  l->done = TRUE;
  g_mutex_unlock (&l->lock);
  g_resolver_free_addresses (list);
  g_object_unref (resolver);
  lookup_unref (l);
  return NULL;
}

static HostLookup *
start_lookup (const gchar * host)
{
  HostLookup *l = g_new0 (HostLookup, 1);
  GThread *thread;

  l->refs = 2;                  /* the element's and the thread's */
  g_mutex_init (&l->lock);
  l->host = g_strdup (host);
  l->cancel = g_cancellable_new ();
  thread = g_thread_new ("vdropmon-dns", lookup_thread, l);
  g_thread_unref (thread);      /* detached: nobody waits for a resolver */
  return l;
}

static HostLookup *
find_or_start_locked (GstVdropmon * self, const gchar * host)
{
  guint i;
  HostLookup *l;

  if (!self->lookups)
    self->lookups = g_ptr_array_new_with_free_func (lookup_unref);
  for (i = 0; i < self->lookups->len; i++) {
    l = g_ptr_array_index (self->lookups, i);
    if (!strcmp (l->host, host))
      return l;
  }
  l = start_lookup (host);
  g_ptr_array_add (self->lookups, l);
  return l;
}

gint
vdm_resolve_host (GstVdropmon * self, const gchar * host, struct sockaddr_storage * addrs,
    gint max)
{
  GInetAddress *numeric = g_inet_address_new_from_string (host);
  HostLookup *l;
  gint n = 0;

  if (numeric) {                /* no resolver needed */
    GList one = {.data = numeric };
    n = to_native (&one, addrs, max);
    g_object_unref (numeric);
    return n;
  }
  g_mutex_lock (&self->lock);
  l = find_or_start_locked (self, host);
  g_mutex_lock (&l->lock);
  if (l->done) {
    n = MIN (max, l->n_addrs);
    memcpy (addrs, l->addrs, n * sizeof (*addrs));
  }
  g_mutex_unlock (&l->lock);
  g_mutex_unlock (&self->lock);
  return n;
}

void
vdm_resolve_cancel_all (GstVdropmon * self)
{
  GPtrArray *lookups;
  guint i;

  g_mutex_lock (&self->lock);
  lookups = self->lookups;
  self->lookups = NULL;
  g_mutex_unlock (&self->lock);
  if (!lookups)
    return;
  for (i = 0; i < lookups->len; i++)
    g_cancellable_cancel (((HostLookup *) g_ptr_array_index (lookups, i))->cancel);
  g_ptr_array_unref (lookups);
}
