/* sender_common — see sender_common.h. */
#define _GNU_SOURCE
#include "sender_common.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETRY_GAP_NS 200000LL   /* pause before resending after ENOBUFS */

volatile sig_atomic_t sender_stop_requested;

static void
on_signal (int sig)
{
  (void) sig;
  sender_stop_requested = 1;
}

void
sender_install_signal_handlers (void)
{
  struct sigaction sa = { 0 };

  /* No SA_RESTART: a signal must interrupt clock_nanosleep. */
  sa.sa_handler = on_signal;
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
}

int64_t
sender_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void
sender_sleep_until (int64_t when)
{
  struct timespec ts = {
    .tv_sec = when / 1000000000LL,
    .tv_nsec = when % 1000000000LL
  };

  clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

bool
sender_parse_u64 (const char *prog, const char *name, const char *text, uint64_t min,
    uint64_t max, uint64_t *out)
{
  char *end = NULL;
  unsigned long long value;

  errno = 0;
  if (text[0] == '-' || text[0] == '\0')
    goto bad;
  value = strtoull (text, &end, 0);
  if (errno != 0 || *end != '\0' || value < min || value > max)
    goto bad;
  *out = value;
  return true;

bad:
  fprintf (stderr, "%s: --%s: expected an integer in %" PRIu64 "..%" PRIu64 ", got '%s'\n",
      prog, name, min, max, text);
  return false;
}

int
sender_send_packet (const char *prog, int fd, const struct sender_dest *dest,
    const uint8_t *buf, size_t len, int64_t deadline, uint64_t *retries)
{
  for (;;) {
    ssize_t n = sendto (fd, buf, len, 0, (const struct sockaddr *) dest->addr, dest->len);
    if (n == (ssize_t) len)
      return 0;
    if (n >= 0) {
      fprintf (stderr, "%s: short send (%zd of %zu)\n", prog, n, len);
      return -1;
    }
    if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
      fprintf (stderr, "%s: sendto %s: %s\n", prog, dest->text, strerror (errno));
      return -1;
    }
    if (sender_stop_requested || sender_now_ns () >= deadline)
      return 1;
    (*retries)++;
    sender_sleep_until (sender_now_ns () + RETRY_GAP_NS);
  }
}

int
sender_parse_options (const char *prog, int argc, char **argv,
    const struct option *long_options, int help_opt, void (*usage) (FILE *),
    sender_apply_option apply, void *opts)
{
  int opt;

  while ((opt = getopt_long (argc, argv, "", long_options, NULL)) != -1) {
    if (opt == help_opt) {
      usage (stdout);
      return -1;
    }
    if (opt == '?' || !apply (opts, opt, optarg))
      return 2;
  }
  if (optind < argc) {
    fprintf (stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
    return 2;
  }
  return 0;
}
