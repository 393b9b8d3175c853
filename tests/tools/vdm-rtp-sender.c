/* vdm-rtp-sender — deterministic synthetic H.264 RTP/UDP sender for tests.
 *
 * Sends a bounded number of RTP packets that look like an H.264 stream
 * (RFC 6184 FU-A fragments, IDR every --gop frames) so that integration
 * tests and the demo know exactly which sequence numbers, timestamps and
 * keyframes went on the wire (see --log).  No GStreamer on purpose: the
 * sender must not share code or bugs with the element under test.
 *
 * Safety: traffic goes only to loopback, or with --allow-netns to 10/8
 * addresses from inside a named network namespace, i.e. one created by
 * `ip netns add` (our test topology uses 10.200.x.y).  Every run is bounded by --count and
 * --duration-ms.
 *
 * Exit status: 0 success (also when stopped by --duration-ms or a signal;
 * the summary says why), 1 runtime error, 2 bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sender_common.h"
#include "udp_dest.h"

#define PROG "vdm-rtp-sender"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

#define RTP_HEADER_LEN 12
#define RTP_CLOCK_RATE 90000
#define MAX_PAYLOAD 65000       /* below the 65507-byte UDP/IPv4 limit */
#define MAX_COUNT 10000000ULL
#define MAX_DURATION_MS 3600000ULL
#define MAX_RATE 1000000ULL
#define BURST_GAP_NS 1000000LL  /* pause after each burst when --rate 0 */

/* H.264 NAL bits (RFC 6184 §5.8): FU indicator F=0 NRI=3 type=28. */
#define FU_INDICATOR 0x7c
#define FU_START 0x80
#define FU_END 0x40
#define NAL_TYPE_NON_IDR 1
#define NAL_TYPE_IDR 5
#define NAL_NRI3 0x60

struct sender_opts
{
  struct sockaddr_storage dest;
  socklen_t dest_len;
  struct sockaddr_storage bind_addr;
  socklen_t bind_len;           /* 0 = no --bind */
  const char *dest_text;
  const char *log_path;
  uint64_t count;
  uint64_t rate;
  uint64_t duration_ms;
  unsigned size;
  unsigned packets_per_frame;
  unsigned fps;
  unsigned gop;
  unsigned burst;
  unsigned pt;
  uint32_t ssrc;
  uint16_t seq_start;
  bool allow_netns;
};

struct sender_stats
{
  uint64_t packets;
  uint64_t frames;
  uint64_t keyframes;
  uint64_t retries;
  const char *stop_reason;
};

static void
usage (FILE *out)
{
  fprintf (out,
      "Usage: vdm-rtp-sender --dest HOST:PORT --count N [options]\n"
      "Send synthetic H.264 RTP packets (FU-A, IDR every --gop frames).\n\n"
      "  --dest HOST:PORT          numeric IPv4 or [IPv6]; loopback only\n"
      "  --count N                 total packets to send (1..%llu, required)\n"
      "  --allow-netns             also allow 10.0.0.0/8, only when run inside\n"
      "                            a named namespace (ip netns exec NAME)\n"
      "  --bind HOST:PORT          local address to send from\n"
      "  --size BYTES              RTP payload bytes per packet (default 1200)\n"
      "  --packets-per-frame K     packets per frame (default 4)\n"
      "  --fps F                   frame rate for RTP timestamps (default 30)\n"
      "  --gop G                   every G-th frame is an IDR (default 30)\n"
      "  --pt PT                   payload type (default 96)\n"
      "  --ssrc SSRC               (default 0x11223344)\n"
      "  --seq-start S             first sequence number (default 0)\n"
      "  --rate PPS                packets per second; 0 = as fast as possible\n"
      "                            in bursts (default 0)\n"
      "  --burst B                 packets per burst when --rate 0 (default 32)\n"
      "  --duration-ms MS          hard cap on run time (default 10000)\n"
      "  --log FILE                one line per sent packet: \"seq ts keyframe\"\n"
      "  --help\n\n"
      "Timestamps start at 0 and advance 90000/F per frame.  A --count that\n"
      "is not a multiple of K ends with an incomplete frame (no marker).\n", (unsigned long long) MAX_COUNT);
}

static bool
parse_uint (const char *name, const char *text, unsigned min, unsigned max,
    unsigned *out)
{
  uint64_t value;

  if (!sender_parse_u64 (PROG, name, text, min, max, &value))
    return false;
  *out = (unsigned) value;
  return true;
}

static bool
check_destination_allowed (const struct sender_opts *o)
{
  return udp_dest_check_allowed (PROG, &o->dest, o->dest_text,
      o->allow_netns ? UDP_DEST_NETNS : UDP_DEST_LOOPBACK);
}

enum
{
  OPT_DEST = 256, OPT_BIND, OPT_COUNT, OPT_SIZE, OPT_PPF, OPT_FPS, OPT_GOP,
  OPT_PT, OPT_SSRC, OPT_SEQ_START, OPT_RATE, OPT_BURST, OPT_DURATION,
  OPT_LOG, OPT_ALLOW_NETNS, OPT_HELP
};

static const struct option long_options[] = {
  {"dest", required_argument, NULL, OPT_DEST},
  {"bind", required_argument, NULL, OPT_BIND},
  {"count", required_argument, NULL, OPT_COUNT},
  {"size", required_argument, NULL, OPT_SIZE},
  {"packets-per-frame", required_argument, NULL, OPT_PPF},
  {"fps", required_argument, NULL, OPT_FPS},
  {"gop", required_argument, NULL, OPT_GOP},
  {"pt", required_argument, NULL, OPT_PT},
  {"ssrc", required_argument, NULL, OPT_SSRC},
  {"seq-start", required_argument, NULL, OPT_SEQ_START},
  {"rate", required_argument, NULL, OPT_RATE},
  {"burst", required_argument, NULL, OPT_BURST},
  {"duration-ms", required_argument, NULL, OPT_DURATION},
  {"log", required_argument, NULL, OPT_LOG},
  {"allow-netns", no_argument, NULL, OPT_ALLOW_NETNS},
  {"help", no_argument, NULL, OPT_HELP},
  {NULL, 0, NULL, 0}
};

static void
set_defaults (struct sender_opts *o)
{
  memset (o, 0, sizeof *o);
  o->size = 1200;
  o->packets_per_frame = 4;
  o->fps = 30;
  o->gop = 30;
  o->pt = 96;
  o->ssrc = 0x11223344;
  o->burst = 32;
  o->duration_ms = 10000;
}

/* Applies one option; returns false on a bad value. */
static bool
apply_option (void *opts, int opt, const char *arg)
{
  struct sender_opts *o = opts;
  uint64_t v;

  switch (opt) {
    case OPT_DEST:
      o->dest_text = arg;
      /* Port 0 is meaningful only for --bind (any free port). */
      return udp_dest_parse (PROG, "dest", arg, 1, &o->dest, &o->dest_len);
    case OPT_BIND:
      return udp_dest_parse (PROG, "bind", arg, 0, &o->bind_addr,
          &o->bind_len);
    case OPT_COUNT:
      return sender_parse_u64 (PROG, "count", arg, 1, MAX_COUNT, &o->count);
    case OPT_SIZE:
      return parse_uint ("size", arg, 2, MAX_PAYLOAD, &o->size);
    case OPT_PPF:
      return parse_uint ("packets-per-frame", arg, 1, 10000,
          &o->packets_per_frame);
    case OPT_FPS:
      return parse_uint ("fps", arg, 1, RTP_CLOCK_RATE, &o->fps);
    case OPT_GOP:
      return parse_uint ("gop", arg, 1, 1000000, &o->gop);
    case OPT_PT:
      return parse_uint ("pt", arg, 0, 127, &o->pt);
    case OPT_SSRC:
      if (!sender_parse_u64 (PROG, "ssrc", arg, 0, UINT32_MAX, &v))
        return false;
      o->ssrc = (uint32_t) v;
      return true;
    case OPT_SEQ_START:
      if (!sender_parse_u64 (PROG, "seq-start", arg, 0, 65535, &v))
        return false;
      o->seq_start = (uint16_t) v;
      return true;
    case OPT_RATE:
      return sender_parse_u64 (PROG, "rate", arg, 0, MAX_RATE, &o->rate);
    case OPT_BURST:
      return parse_uint ("burst", arg, 1, 100000, &o->burst);
    case OPT_DURATION:
      return sender_parse_u64 (PROG, "duration-ms", arg, 1, MAX_DURATION_MS,
          &o->duration_ms);
    case OPT_LOG:
      o->log_path = arg;
      return true;
    case OPT_ALLOW_NETNS:
      o->allow_netns = true;
      return true;
    default:
      return false;
  }
}

/* Returns 0 to continue, EXIT_SUCCESS after --help, EXIT_USAGE on error. */
static int
parse_args (int argc, char **argv, struct sender_opts *o)
{
  int rc;

  set_defaults (o);
  rc = sender_parse_options (PROG, argc, argv, long_options, OPT_HELP, usage, apply_option, o);
  if (rc != 0)
    return rc;
  if (o->dest_text == NULL || o->count == 0) {
    fprintf (stderr, "vdm-rtp-sender: --dest and --count are required\n");
    return EXIT_USAGE;
  }
  if (o->bind_len != 0 && o->bind_addr.ss_family != o->dest.ss_family) {
    fprintf (stderr, "vdm-rtp-sender: --bind and --dest address families "
        "differ\n");
    return EXIT_USAGE;
  }
  if (!check_destination_allowed (o))
    return EXIT_USAGE;
  return 0;
}

static void
put_be16 (uint8_t *p, uint16_t v)
{
  p[0] = v >> 8;
  p[1] = v & 0xff;
}

static void
put_be32 (uint8_t *p, uint32_t v)
{
  put_be16 (p, v >> 16);
  put_be16 (p + 2, v & 0xffff);
}

/* What packet number `index` of the run is, derived purely from the index
 * so that the stream is reproducible. */
struct packet_plan
{
  uint64_t frame;
  unsigned part;                /* 0 .. packets_per_frame-1 */
  uint16_t seq;
  uint32_t ts;
  bool keyframe;
  bool marker;
};

static struct packet_plan
plan_packet (const struct sender_opts *o, uint64_t index)
{
  struct packet_plan p;

  p.frame = index / o->packets_per_frame;
  p.part = index % o->packets_per_frame;
  p.seq = (uint16_t) (o->seq_start + index);
  /* Computed from the frame number rather than accumulated so that frame
   * rates that do not divide 90000 do not drift. */
  p.ts = (uint32_t) (p.frame * RTP_CLOCK_RATE / o->fps);
  p.keyframe = p.frame % o->gop == 0;
  p.marker = p.part == o->packets_per_frame - 1;
  return p;
}

/* Writes the RTP header and an H.264 payload; returns the packet length. */
static size_t
build_packet (const struct sender_opts *o, const struct packet_plan *p,
    uint8_t *buf)
{
  uint8_t nal_type = p->keyframe ? NAL_TYPE_IDR : NAL_TYPE_NON_IDR;
  uint8_t *payload = buf + RTP_HEADER_LEN;
  size_t filler_from;

  buf[0] = 0x80;                /* V=2, no padding/extension/CSRC */
  buf[1] = (uint8_t) ((p->marker ? 0x80 : 0) | o->pt);
  put_be16 (buf + 2, p->seq);
  put_be32 (buf + 4, p->ts);
  put_be32 (buf + 8, o->ssrc);

  if (o->packets_per_frame == 1) {
    /* RFC 6184 forbids an FU with both S and E set: a frame that fits in
     * one packet is sent as a single NAL unit packet instead. */
    payload[0] = NAL_NRI3 | nal_type;
    filler_from = 1;
  } else {
    payload[0] = FU_INDICATOR;
    payload[1] = nal_type;
    if (p->part == 0)
      payload[1] |= FU_START;
    if (p->marker)
      payload[1] |= FU_END;
    filler_from = 2;
  }
  /* Never-zero filler: no accidental start codes for parsers downstream. */
  for (size_t i = filler_from; i < o->size; i++)
    payload[i] = (uint8_t) (0x80 | ((p->frame + i) & 0x7f));
  return RTP_HEADER_LEN + o->size;
}

static int
open_socket (const struct sender_opts *o)
{
  int fd = socket (o->dest.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (fd < 0) {
    fprintf (stderr, "vdm-rtp-sender: socket: %s\n", strerror (errno));
    return -1;
  }
  if (o->bind_len != 0
      && bind (fd, (const struct sockaddr *) &o->bind_addr, o->bind_len) != 0) {
    fprintf (stderr, "vdm-rtp-sender: bind: %s\n", strerror (errno));
    close (fd);
    return -1;
  }
  return fd;
}

/* When packet `index` may go out: on a fixed schedule with --rate, else
 * after each --burst a short pause so "as fast as possible" stays bounded
 * and gives the receiver a chance to run. */
static int64_t
send_time (const struct sender_opts *o, uint64_t index, int64_t start,
    int64_t *burst_end)
{
  if (o->rate != 0)
    return start + (int64_t) (index * 1000000000ULL / o->rate);
  if (index != 0 && index % o->burst == 0)
    *burst_end = sender_now_ns () + BURST_GAP_NS;
  return *burst_end;
}

static void
log_packet (FILE *log, const struct packet_plan *p)
{
  if (log != NULL)
    fprintf (log, "%u %" PRIu32 " %d\n", p->seq, p->ts, p->keyframe ? 1 : 0);
}

static void
count_packet (const struct packet_plan *p, struct sender_stats *stats)
{
  stats->packets++;
  if (p->part == 0) {
    stats->frames++;
    if (p->keyframe)
      stats->keyframes++;
  }
}

static int
run (int fd, const struct sender_opts *o, FILE *log, struct sender_stats *st)
{
  static uint8_t buf[RTP_HEADER_LEN + MAX_PAYLOAD];
  int64_t start = sender_now_ns ();
  int64_t deadline = start + (int64_t) o->duration_ms * 1000000LL;
  int64_t burst_end = start;
  struct sender_dest dest = { &o->dest, o->dest_len, o->dest_text };

  st->stop_reason = "count reached";
  for (uint64_t i = 0; i < o->count; i++) {
    struct packet_plan p = plan_packet (o, i);
    size_t len = build_packet (o, &p, buf);
    int64_t when = send_time (o, i, start, &burst_end);
    int rc;

    if (when > sender_now_ns ())
      sender_sleep_until (when < deadline ? when : deadline);
    if (sender_stop_requested || sender_now_ns () >= deadline) {
      st->stop_reason = sender_stop_requested ? "signal" : "duration cap";
      return 0;
    }
    rc = sender_send_packet (PROG, fd, &dest, buf, len, deadline, &st->retries);
    if (rc < 0)
      return -1;
    if (rc > 0) {
      st->stop_reason = sender_stop_requested ? "signal" : "duration cap";
      return 0;
    }
    count_packet (&p, st);
    log_packet (log, &p);
  }
  return 0;
}

static bool
close_log (FILE *log, const char *path)
{
  if (log == NULL)
    return true;
  if (fclose (log) != 0) {
    fprintf (stderr, "vdm-rtp-sender: writing %s: %s\n", path,
        strerror (errno));
    return false;
  }
  return true;
}

int
main (int argc, char **argv)
{
  struct sender_opts opts;
  struct sender_stats stats = { 0 };
  FILE *log = NULL;
  int fd, rc;

  rc = parse_args (argc, argv, &opts);
  if (rc != 0)
    return rc < 0 ? EXIT_SUCCESS : rc;

  if (opts.log_path != NULL && (log = fopen (opts.log_path, "we")) == NULL) {
    fprintf (stderr, "vdm-rtp-sender: --log %s: %s\n", opts.log_path,
        strerror (errno));
    return EXIT_RUNTIME;
  }
  fd = open_socket (&opts);
  if (fd < 0) {
    close_log (log, opts.log_path);
    return EXIT_RUNTIME;
  }
  sender_install_signal_handlers ();
  rc = run (fd, &opts, log, &stats);
  close (fd);
  if (!close_log (log, opts.log_path))
    rc = -1;

  fprintf (stderr, "vdm-rtp-sender: sent %" PRIu64 " packets, %" PRIu64
      " frames, %" PRIu64 " keyframes to %s (%s, %" PRIu64 " send retries)\n",
      stats.packets, stats.frames, stats.keyframes, opts.dest_text,
      rc < 0 ? "error" : stats.stop_reason, stats.retries);
  return rc < 0 ? EXIT_RUNTIME : EXIT_SUCCESS;
}
