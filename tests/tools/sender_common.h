/* sender_common — what the test senders (vdm-rtp-sender, vdm-rtp-replay)
 * share besides where they may send (udp_dest): parsing of numeric
 * options, the monotonic clock they pace by, stopping on SIGINT/SIGTERM,
 * and sending a packet so that it really leaves this host.
 *
 * Messages go to stderr, prefixed with the `prog` the caller passes.
 */
#ifndef VDM_SENDER_COMMON_H
#define VDM_SENDER_COMMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* Set by SIGINT/SIGTERM once sender_install_signal_handlers() ran. */
extern volatile sig_atomic_t sender_stop_requested;

/* Without SA_RESTART: a signal interrupts sender_sleep_until(). */
void sender_install_signal_handlers (void);

/* CLOCK_MONOTONIC in ns. */
int64_t sender_now_ns (void);
/* Sleeps until the absolute monotonic time `when`; a signal cuts it short. */
void sender_sleep_until (int64_t when);

/* Parses option --`name`: an unsigned integer (decimal, 0x hex) within
 * [min, max]; otherwise says so and returns false. */
bool sender_parse_u64 (const char *prog, const char *name, const char *text, uint64_t min,
    uint64_t max, uint64_t *out);

struct option;

/* Applies one option (getopt_long's value and argument) to the tool's
 * options; false on a bad value (already said). */
typedef bool (*sender_apply_option) (void *opts, int opt, const char *arg);

/* Runs getopt_long over the command line: --help (help_opt) prints
 * usage to stdout and returns -1; an unknown option, a bad value or a
 * stray argument returns 2 (bad usage); else 0. */
int sender_parse_options (const char *prog, int argc, char **argv,
    const struct option *long_options, int help_opt, void (*usage) (FILE *),
    sender_apply_option apply, void *opts);

/* Where to send, as parsed by udp_dest_parse. */
struct sender_dest
{
  const struct sockaddr_storage *addr;
  socklen_t len;
  const char *text;
};

/* Sends one packet. Local queue pressure (ENOBUFS/EAGAIN) is retried, with
 * *retries counted, so that every packet really leaves this host: a gap
 * the receiver sees must come from the path under test, not from the
 * sender. Returns 0, 1 if the deadline or a signal stopped the retry, -1 on
 * error (said on stderr). */
int sender_send_packet (const char *prog, int fd, const struct sender_dest *dest,
    const uint8_t *buf, size_t len, int64_t deadline, uint64_t *retries);

#endif /* VDM_SENDER_COMMON_H */
