/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the deadline queue (core/deadline_queue.c): the shared
 * worker's schedule (issue 13). Order, moves both ways, removal from any
 * place, the grain that lets deadlines share a wake, and a long random
 * run checked against a plain array.
 */
#include <glib.h>

#include "deadline_queue.h"

#define MS 1000000ull
#define N_CLIENTS 300

/* Three clients come out earliest first, each once, none before its time. */
static void
test_order_and_due (void)
{
  vdm_deadline_queue *q = vdm_deadline_queue_new ();
  vdm_deadline_entry a, b, c;

  vdm_deadline_entry_init (&a);
  vdm_deadline_entry_init (&b);
  vdm_deadline_entry_init (&c);
  g_assert_cmpuint (vdm_deadline_queue_next (q), ==, VDM_DEADLINE_NEVER);
  g_assert_null (vdm_deadline_queue_pop_due (q, UINT64_MAX - 1));
  g_assert_true (vdm_deadline_queue_set (q, &a, 30 * MS));
  g_assert_true (vdm_deadline_queue_set (q, &b, 10 * MS));
  g_assert_true (vdm_deadline_queue_set (q, &c, 20 * MS));
  g_assert_cmpuint (vdm_deadline_queue_length (q), ==, 3);
  g_assert_cmpuint (vdm_deadline_queue_next (q), ==, 10 * MS);
  g_assert_null (vdm_deadline_queue_pop_due (q, 10 * MS - 1));
  g_assert_true (vdm_deadline_queue_pop_due (q, 25 * MS) == &b);
  g_assert_false (vdm_deadline_entry_queued (&b));
  g_assert_true (vdm_deadline_queue_pop_due (q, 25 * MS) == &c);
  g_assert_null (vdm_deadline_queue_pop_due (q, 25 * MS));
  g_assert_true (vdm_deadline_queue_pop_due (q, 30 * MS) == &a);
  g_assert_cmpuint (vdm_deadline_queue_length (q), ==, 0);
  vdm_deadline_queue_free (q);
}

/* set moves a queued entry later or earlier; advance only earlier (a wake
 * never postpones a round); NEVER takes it out. */
static void
test_move_advance_never (void)
{
  vdm_deadline_queue *q = vdm_deadline_queue_new ();
  vdm_deadline_entry a, b;

  vdm_deadline_entry_init (&a);
  vdm_deadline_entry_init (&b);
  vdm_deadline_queue_set (q, &a, 10 * MS);
  vdm_deadline_queue_set (q, &b, 20 * MS);
  vdm_deadline_queue_set (q, &a, 40 * MS);      /* later */
  g_assert_cmpuint (vdm_deadline_queue_next (q), ==, 20 * MS);
  vdm_deadline_queue_advance (q, &a, 50 * MS);  /* not earlier: stays */
  g_assert_cmpuint (a.due, ==, 40 * MS);
  vdm_deadline_queue_advance (q, &a, 0);        /* now */
  g_assert_cmpuint (vdm_deadline_queue_next (q), ==, 0);
  g_assert_true (vdm_deadline_queue_pop_due (q, 0) == &a);
  vdm_deadline_queue_advance (q, &a, 5 * MS);   /* not queued: queued */
  g_assert_true (vdm_deadline_entry_queued (&a));
  vdm_deadline_queue_set (q, &a, VDM_DEADLINE_NEVER);
  g_assert_false (vdm_deadline_entry_queued (&a));
  g_assert_cmpuint (vdm_deadline_queue_length (q), ==, 1);
  vdm_deadline_queue_remove (q, &a);    /* not queued: nothing */
  vdm_deadline_queue_remove (q, &b);
  g_assert_cmpuint (vdm_deadline_queue_length (q), ==, 0);
  g_assert_null (vdm_deadline_queue_pop_due (q, UINT64_MAX - 1));
  vdm_deadline_queue_free (q);
}

/* Rounded to a 1 ms grain, deadlines within one millisecond share one
 * wake, at the end of their millisecond, never before their own time;
 * "now" and grid times stay. */
static void
test_grain (void)
{
  vdm_deadline_queue *q = vdm_deadline_queue_new ();
  vdm_deadline_entry e[3];

  g_assert_cmpuint (vdm_deadline_round_up (0, MS), ==, 0);
  g_assert_cmpuint (vdm_deadline_round_up (100 * MS, MS), ==, 100 * MS);
  g_assert_cmpuint (vdm_deadline_round_up (100 * MS + 1, MS), ==, 101 * MS);
  g_assert_cmpuint (vdm_deadline_round_up (VDM_DEADLINE_NEVER, MS), ==, VDM_DEADLINE_NEVER);
  g_assert_cmpuint (vdm_deadline_round_up (VDM_DEADLINE_NEVER - 2, MS), ==,
      VDM_DEADLINE_NEVER - 1);
  g_assert_cmpuint (vdm_deadline_round_up (7, 0), ==, 7);
  for (unsigned i = 0; i < 3; i++) {
    vdm_deadline_entry_init (&e[i]);
    vdm_deadline_queue_set (q, &e[i], vdm_deadline_round_up (100 * MS + 1 + i * 300000, MS));
  }
  g_assert_cmpuint (vdm_deadline_queue_next (q), ==, 101 * MS);
  g_assert_null (vdm_deadline_queue_pop_due (q, 101 * MS - 1));
  for (unsigned i = 0; i < 3; i++)
    g_assert_nonnull (vdm_deadline_queue_pop_due (q, 101 * MS));
  vdm_deadline_queue_set (q, &e[0], 0);
  g_assert_cmpuint (vdm_deadline_queue_next (q), ==, 0);
  vdm_deadline_queue_free (q);
}

/* The earliest due in a plain array: what the heap must agree with. */
static uint64_t
reference_next (const uint64_t *due, unsigned n)
{
  uint64_t next = VDM_DEADLINE_NEVER;

  for (unsigned i = 0; i < n; i++)
    next = due[i] < next ? due[i] : next;
  return next;
}

/* 200,000 random sets, advances, removals and pops over 300 clients: after
 * each, the queue's earliest and length equal the array's, and a pop
 * returns a client whose deadline is the earliest. */
static void
test_random_against_array (void)
{
  vdm_deadline_queue *q = vdm_deadline_queue_new ();
  vdm_deadline_entry e[N_CLIENTS];
  uint64_t due[N_CLIENTS], now = 0;
  GRand *rand = g_rand_new_with_seed (13);

  for (unsigned i = 0; i < N_CLIENTS; i++) {
    vdm_deadline_entry_init (&e[i]);
    due[i] = VDM_DEADLINE_NEVER;
  }
  for (unsigned step = 0; step < 200000; step++) {
    unsigned i = g_rand_int_range (rand, 0, N_CLIENTS), n = 0;
    uint64_t t = now + (uint64_t) g_rand_int_range (rand, 0, 1000) * MS / 10;
    vdm_deadline_entry *popped;

    switch (g_rand_int_range (rand, 0, 5)) {
      case 0:
      case 1:
        g_assert_true (vdm_deadline_queue_set (q, &e[i], t));
        due[i] = t;
        break;
      case 2:
        g_assert_true (vdm_deadline_queue_advance (q, &e[i], t));
        due[i] = t < due[i] ? t : due[i];
        break;
      case 3:
        vdm_deadline_queue_remove (q, &e[i]);
        due[i] = VDM_DEADLINE_NEVER;
        break;
      default:
        now += (uint64_t) g_rand_int_range (rand, 0, 20) * MS;
        while ((popped = vdm_deadline_queue_pop_due (q, now))) {
          unsigned k = (unsigned) (popped - e);

          g_assert_cmpuint (k, <, N_CLIENTS);
          g_assert_cmpuint (due[k], ==, reference_next (due, N_CLIENTS));
          g_assert_cmpuint (due[k], <=, now);
          due[k] = VDM_DEADLINE_NEVER;
        }
        break;
    }
    g_assert_cmpuint (vdm_deadline_queue_next (q), ==, reference_next (due, N_CLIENTS));
    for (unsigned k = 0; k < N_CLIENTS; k++)
      n += due[k] != VDM_DEADLINE_NEVER;
    g_assert_cmpuint (vdm_deadline_queue_length (q), ==, n);
  }
  g_rand_free (rand);
  vdm_deadline_queue_free (q);
  for (unsigned k = 0; k < N_CLIENTS; k++)
    g_assert_false (vdm_deadline_entry_queued (&e[k]));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/deadline_queue/order_and_due", test_order_and_due);
  g_test_add_func ("/deadline_queue/move_advance_never", test_move_advance_never);
  g_test_add_func ("/deadline_queue/grain", test_grain);
  g_test_add_func ("/deadline_queue/random_against_array", test_random_against_array);
  return g_test_run ();
}
