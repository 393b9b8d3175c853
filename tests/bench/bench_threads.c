/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bench_threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  gint tid;
  gchar name[32];
  guint64 run_ns;               /* schedstat: time on a CPU */
  guint64 wait_ns;              /* schedstat: runnable, waiting for a CPU */
  guint64 voluntary, involuntary;
} ThreadSample;

struct _BenchThreads
{
  GArray *threads;              /* ThreadSample */
};

typedef struct
{
  gchar name[32];
  BenchThreadTotals totals;
} NameRow;

static gboolean
read_sample (const gchar * dir, ThreadSample * s)
{
  gchar *path, *text = NULL, *line;
  unsigned long long run = 0, wait = 0;
  gboolean ok = FALSE;

  path = g_build_filename (dir, "schedstat", NULL);
  if (g_file_get_contents (path, &text, NULL, NULL) && sscanf (text, "%llu %llu", &run, &wait) == 2)
    ok = TRUE;
  s->run_ns = run;
  s->wait_ns = wait;
  g_free (text);
  g_free (path);
  path = g_build_filename (dir, "status", NULL);
  text = NULL;
  if (ok && g_file_get_contents (path, &text, NULL, NULL)) {
    for (line = strtok (text, "\n"); line; line = strtok (NULL, "\n")) {
      if (g_str_has_prefix (line, "Name:"))
        g_strlcpy (s->name, g_strstrip (line + 5), sizeof (s->name));
      else if (g_str_has_prefix (line, "voluntary_ctxt_switches:"))
        s->voluntary = g_ascii_strtoull (line + 24, NULL, 10);
      else if (g_str_has_prefix (line, "nonvoluntary_ctxt_switches:"))
        s->involuntary = g_ascii_strtoull (line + 27, NULL, 10);
    }
  } else {
    ok = FALSE;
  }
  g_free (text);
  g_free (path);
  return ok;
}

BenchThreads *
bench_threads_snapshot (void)
{
  BenchThreads *snap = g_new0 (BenchThreads, 1);
  GDir *dir = g_dir_open ("/proc/self/task", 0, NULL);
  const gchar *entry;

  snap->threads = g_array_new (FALSE, TRUE, sizeof (ThreadSample));
  while (dir && (entry = g_dir_read_name (dir))) {
    gchar *path = g_build_filename ("/proc/self/task", entry, NULL);
    ThreadSample s = {.tid = atoi (entry) };

    if (read_sample (path, &s))
      g_array_append_val (snap->threads, s);
    g_free (path);
  }
  if (dir)
    g_dir_close (dir);
  return snap;
}

void
bench_threads_free (BenchThreads * snap)
{
  if (!snap)
    return;
  g_array_unref (snap->threads);
  g_free (snap);
}

static const ThreadSample *
find_tid (const BenchThreads * snap, gint tid)
{
  guint i;

  for (i = 0; i < snap->threads->len; i++)
    if (g_array_index (snap->threads, ThreadSample, i).tid == tid)
      return &g_array_index (snap->threads, ThreadSample, i);
  return NULL;
}

static NameRow *
row_for (GArray * rows, const gchar * name)
{
  NameRow row = { 0 };
  guint i;

  for (i = 0; i < rows->len; i++)
    if (strcmp (g_array_index (rows, NameRow, i).name, name) == 0)
      return &g_array_index (rows, NameRow, i);
  g_strlcpy (row.name, name, sizeof (row.name));
  g_array_append_val (rows, row);
  return &g_array_index (rows, NameRow, rows->len - 1);
}

static gint
by_run_time (gconstpointer a, gconstpointer b)
{
  const BenchThreadTotals *x = &((const NameRow *) a)->totals;
  const BenchThreadTotals *y = &((const NameRow *) b)->totals;

  return x->run_ns < y->run_ns ? 1 : x->run_ns > y->run_ns ? -1 : 0;
}

static GArray *
rows_between (const BenchThreads * before, const BenchThreads * after)
{
  GArray *rows = g_array_new (FALSE, TRUE, sizeof (NameRow));
  guint i;

  for (i = 0; i < after->threads->len; i++) {
    const ThreadSample *a = &g_array_index (after->threads, ThreadSample, i);
    const ThreadSample *b = find_tid (before, a->tid);
    BenchThreadTotals *t = &row_for (rows, a->name)->totals;

    t->threads++;
    t->run_ns += a->run_ns - (b ? b->run_ns : 0);
    t->wait_ns += a->wait_ns - (b ? b->wait_ns : 0);
    t->voluntary += a->voluntary - (b ? b->voluntary : 0);
    t->involuntary += a->involuntary - (b ? b->involuntary : 0);
  }
  g_array_sort (rows, by_run_time);
  return rows;
}

void
bench_threads_print (const BenchThreads * before, const BenchThreads * after,
    gdouble seconds, guint n_streams)
{
  GArray *rows = rows_between (before, after);
  guint i;

  printf ("     %-18s %7s %8s %14s %16s %16s\n", "thread", "threads", "CPU",
      "µs/s/stream", "vol. cs/s/stream", "invol. cs/s/str.");
  for (i = 0; i < rows->len && i < 8; i++) {
    const NameRow *r = &g_array_index (rows, NameRow, i);
    const BenchThreadTotals *t = &r->totals;

    printf ("     %-18s %7u %7.1f%% %14.1f %16.1f %16.1f\n", r->name, t->threads,
        100.0 * t->run_ns / (seconds * 1e9), t->run_ns / 1e3 / seconds / n_streams,
        t->voluntary / seconds / n_streams, t->involuntary / seconds / n_streams);
  }
  g_array_unref (rows);
}

gdouble
bench_threads_switches_per_stream (const BenchThreads * before, const BenchThreads * after,
    gdouble seconds, guint n_streams)
{
  GArray *rows = rows_between (before, after);
  guint64 total = 0;
  guint i;

  for (i = 0; i < rows->len; i++) {
    const BenchThreadTotals *t = &g_array_index (rows, NameRow, i).totals;

    total += t->voluntary + t->involuntary;
  }
  g_array_unref (rows);
  return total / seconds / n_streams;
}

void
bench_threads_named (const BenchThreads * before, const BenchThreads * after,
    const gchar * name, BenchThreadTotals * out)
{
  GArray *rows = rows_between (before, after);
  guint i;

  memset (out, 0, sizeof (*out));
  for (i = 0; i < rows->len; i++)
    if (strcmp (g_array_index (rows, NameRow, i).name, name) == 0)
      *out = g_array_index (rows, NameRow, i).totals;
  g_array_unref (rows);
}
