/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The embedded collector without privilege (issue 9, #11): opening fails
 * with a sentence saying why, and a second open reuses that answer instead
 * of parsing the kernel BTF and trying the load again. Run as root, the test
 * drops to nobody without capabilities in a child process first. */
#define _GNU_SOURCE
#include <glib.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collector.h"

static int
check_unprivileged (void)
{
  unsigned long before = vdm_embedded_load_attempts ();
  char *first = NULL, *second = NULL;
  vdm_source *a, *b;

  a = vdm_source_open ("embedded", NULL, &first);
  b = vdm_source_open ("embedded", NULL, &second);
  if (a || b) {
    g_printerr ("the collector opened without privilege?\n");
    return 1;
  }
  g_printerr ("first: %s\nsecond: %s\nload attempts: %lu\n", first, second,
      vdm_embedded_load_attempts () - before);
  if (!first || !second || strcmp (first, second) != 0)
    return 2;
  if (vdm_embedded_load_attempts () - before != 1)
    return 3; /* tried again */
  free (first);
  free (second);
  return 0;
}

static void
test_failure_remembered (void)
{
  pid_t pid;
  int status;

  if (geteuid () != 0) {
    g_assert_cmpint (check_unprivileged (), ==, 0);
    return;
  }
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0) {
    /* nobody, no groups: setresuid from root to non-root clears every capability. */
    if (setgroups (0, NULL) < 0 || setresgid (65534, 65534, 65534) < 0
        || setresuid (65534, 65534, 65534) < 0)
      _exit (10);
    _exit (check_unprivileged ());
  }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/embedded-unprivileged/failure-remembered", test_failure_remembered);
  return g_test_run ();
}
