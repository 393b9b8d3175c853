/* vdm-rtp-replay — replays a recorded RTP stream over UDP in real time.
 *
 * Reads RTP packets framed as in RFC 4571 (a 2-byte big-endian length before
 * each packet: what GStreamer's rtpstreampay writes) and sends each one when
 * its RTP timestamp (90 kHz) says it is due, times --speed.  A real encoder's
 * packets, with their real sizes, keyframe bursts and pacing, where
 * vdm-rtp-sender makes up synthetic ones.  --loop plays the file again with
 * sequence numbers and timestamps continuing, so a short recording feeds a
 * long run without the receiver seeing a jump.
 *
 * Safety: traffic goes only to loopback.  Every run is bounded by
 * --duration-ms and by --count (default: the packets of all the loops).
 *
 * --log writes "seq ts keyframe" per packet sent, the format of
 * vdm-rtp-sender's log.  The keyframe column (H.264 IDR/SPS/PPS, also inside
 * STAP-A and FU-A) uses the element's own rtp_parse module: fine for a tool
 * that only paces and labels packets, but a test that checks the element's
 * keyframe flag must take its ground truth from vdm-rtp-sender instead.
 *
 * Exit status: 0 success (also when stopped by --duration-ms, --count or a
 * signal; the summary says why), 1 runtime error, 2 bad arguments or file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rtp_parse.h"
#include "sender_common.h"
#include "udp_dest.h"

#define PROG "vdm-rtp-replay"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

#define RTP_HEADER_LEN 12
#define RTP_CLOCK_RATE 90000
#define MAX_FILE_BYTES (64u << 20)
#define MAX_COUNT 10000000ULL
#define MAX_LOOPS 100000ULL
#define MAX_DURATION_MS 3600000ULL
#define DEFAULT_FRAME_TICKS 3000       /* 30 fps, for a file of a single frame */

struct replay_opts
{
  struct sockaddr_storage dest;
  socklen_t dest_len;
  const char *dest_text;
  const char *file_path;
  const char *log_path;
  double speed;
  uint64_t loops;
  uint64_t count;               /* 0 = every packet of every loop */
  uint64_t duration_ms;
};

/* One recorded packet and when it is due, in RTP ticks after the first. */
struct recorded_packet
{
  uint8_t *data;
  size_t len;
  int64_t offset_ticks;
};

struct recording
{
  uint8_t *bytes;
  struct recorded_packet *packets;
  size_t n_packets;
  int64_t span_ticks;           /* one loop, including the last frame's duration */
};

struct replay_stats
{
  uint64_t packets;
  uint64_t keyframe_packets;
  uint64_t loops_done;
  uint64_t retries;
  const char *stop_reason;
};

static void
usage (FILE *out)
{
  fprintf (out,
      "Usage: vdm-rtp-replay --file FILE --dest HOST:PORT [options]\n"
      "Replay RFC 4571 framed RTP packets (2-byte length + packet, as written by\n"
      "rtpstreampay) over UDP, paced by their 90 kHz RTP timestamps.\n\n"
      "  --file FILE               the recording (at most %u MiB)\n"
      "  --dest HOST:PORT          numeric IPv4 or [IPv6]; loopback only\n"
      "  --speed F                 pace at F times real time (0.01..100, default 1)\n"
      "  --loop N                  play the file N times, sequence numbers and\n"
      "                            timestamps continuing (1..%llu, default 1)\n"
      "  --count N                 stop after N packets (default: all loops)\n"
      "  --duration-ms MS          hard cap on run time (default 10000)\n"
      "  --log FILE                one line per sent packet: \"seq ts keyframe\"\n"
      "  --help\n", MAX_FILE_BYTES >> 20, (unsigned long long) MAX_LOOPS);
}

static bool
parse_speed (const char *text, double *out)
{
  char *end = NULL;
  double value;

  errno = 0;
  value = strtod (text, &end);
  if (errno != 0 || end == text || *end != '\0' || !(value >= 0.01 && value <= 100)) {
    fprintf (stderr, "vdm-rtp-replay: --speed: expected a number in 0.01..100, got '%s'\n", text);
    return false;
  }
  *out = value;
  return true;
}

enum
{
  OPT_FILE = 256, OPT_DEST, OPT_SPEED, OPT_LOOP, OPT_COUNT, OPT_DURATION, OPT_LOG, OPT_HELP
};

static const struct option long_options[] = {
  {"file", required_argument, NULL, OPT_FILE},
  {"dest", required_argument, NULL, OPT_DEST},
  {"speed", required_argument, NULL, OPT_SPEED},
  {"loop", required_argument, NULL, OPT_LOOP},
  {"count", required_argument, NULL, OPT_COUNT},
  {"duration-ms", required_argument, NULL, OPT_DURATION},
  {"log", required_argument, NULL, OPT_LOG},
  {"help", no_argument, NULL, OPT_HELP},
  {NULL, 0, NULL, 0}
};

static bool
apply_option (void *opts, int opt, const char *arg)
{
  struct replay_opts *o = opts;

  switch (opt) {
    case OPT_FILE:
      o->file_path = arg;
      return true;
    case OPT_DEST:
      o->dest_text = arg;
      return udp_dest_parse (PROG, "dest", arg, 1, &o->dest, &o->dest_len);
    case OPT_SPEED:
      return parse_speed (arg, &o->speed);
    case OPT_LOOP:
      return sender_parse_u64 (PROG, "loop", arg, 1, MAX_LOOPS, &o->loops);
    case OPT_COUNT:
      return sender_parse_u64 (PROG, "count", arg, 1, MAX_COUNT, &o->count);
    case OPT_DURATION:
      return sender_parse_u64 (PROG, "duration-ms", arg, 1, MAX_DURATION_MS, &o->duration_ms);
    case OPT_LOG:
      o->log_path = arg;
      return true;
    default:
      return false;
  }
}

/* Returns 0 to go on, -1 after --help, EXIT_USAGE on a bad command line. */
static int
parse_args (int argc, char **argv, struct replay_opts *o)
{
  int rc;

  *o = (struct replay_opts) {.speed = 1.0,.loops = 1,.duration_ms = 10000 };
  rc = sender_parse_options (PROG, argc, argv, long_options, OPT_HELP, usage, apply_option, o);
  if (rc != 0)
    return rc;
  if (o->file_path == NULL || o->dest_text == NULL) {
    fprintf (stderr, "vdm-rtp-replay: --file and --dest are required\n");
    return EXIT_USAGE;
  }
  if (!udp_dest_check_allowed (PROG, &o->dest, o->dest_text, UDP_DEST_LOOPBACK_ONLY))
    return EXIT_USAGE;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* The recording.                                                            */

static uint8_t *
read_whole_file (const char *path, size_t *len)
{
  FILE *f = fopen (path, "rbe");
  struct stat st;
  uint8_t *bytes = NULL;

  if (f == NULL || fstat (fileno (f), &st) != 0) {
    fprintf (stderr, "vdm-rtp-replay: %s: %s\n", path, strerror (errno));
  } else if (st.st_size <= 0 || st.st_size > MAX_FILE_BYTES) {
    fprintf (stderr, "vdm-rtp-replay: %s: %s\n", path, st.st_size ? "too large" : "empty");
  } else if ((bytes = malloc ((size_t) st.st_size)) == NULL) {
    fprintf (stderr, "vdm-rtp-replay: %s: out of memory\n", path);
  } else if (fread (bytes, 1, (size_t) st.st_size, f) != (size_t) st.st_size) {
    fprintf (stderr, "vdm-rtp-replay: %s: short read\n", path);
    free (bytes);
    bytes = NULL;
  } else {
    *len = (size_t) st.st_size;
  }
  if (f)
    fclose (f);
  return bytes;
}

static uint32_t
rtp_timestamp (const uint8_t *packet)
{
  return (uint32_t) packet[4] << 24 | (uint32_t) packet[5] << 16 | (uint32_t) packet[6] << 8
      | packet[7];
}

/* Splits the RFC 4571 framing; every packet must be RTP version 2. */
static bool
index_packets (struct recording *rec, size_t len, const char *path)
{
  size_t pos = 0, capacity = len / (2 + RTP_HEADER_LEN) + 1;

  rec->packets = calloc (capacity, sizeof (*rec->packets));
  if (rec->packets == NULL)
    return false;
  while (pos < len) {
    size_t n = pos + 2 <= len ? (size_t) rec->bytes[pos] << 8 | rec->bytes[pos + 1] : 0;
    uint8_t *packet = rec->bytes + pos + 2;

    if (n < RTP_HEADER_LEN || pos + 2 + n > len || (packet[0] >> 6) != 2) {
      fprintf (stderr, "vdm-rtp-replay: %s: no RTP packet at byte %zu (not RFC 4571 framed RTP?)\n",
          path, pos);
      return false;
    }
    rec->packets[rec->n_packets++] = (struct recorded_packet) {.data = packet,.len = n };
    pos += 2 + n;
  }
  if (rec->n_packets == 0)
    fprintf (stderr, "vdm-rtp-replay: %s: no packets\n", path);
  return rec->n_packets > 0;
}

/* Timestamps as ticks after the first packet (signed steps, so a wrap of the
 * 32-bit timestamp is no jump), and the length of one loop: up to the last
 * packet plus one frame, the last step between frames. */
static void
place_packets (struct recording *rec)
{
  int64_t offset = 0, frame_ticks = DEFAULT_FRAME_TICKS;
  size_t i;

  for (i = 1; i < rec->n_packets; i++) {
    int32_t step = (int32_t) (rtp_timestamp (rec->packets[i].data)
        - rtp_timestamp (rec->packets[i - 1].data));
    offset += step;
    if (step > 0)
      frame_ticks = step;
    rec->packets[i].offset_ticks = offset;
  }
  rec->span_ticks = (offset > 0 ? offset : 0) + frame_ticks;
}

static bool
load_recording (const char *path, struct recording *rec)
{
  size_t len = 0;

  memset (rec, 0, sizeof (*rec));
  rec->bytes = read_whole_file (path, &len);
  if (rec->bytes == NULL || !index_packets (rec, len, path))
    return false;
  place_packets (rec);
  return true;
}

static void
free_recording (struct recording *rec)
{
  free (rec->packets);
  free (rec->bytes);
}

/* ------------------------------------------------------------------------ */
/* Sending.                                                                  */

/* Loop `loop` of the file continues where the previous one ended. */
static void
continue_header (uint8_t *out, const struct recorded_packet *p, uint64_t loop, uint64_t n_packets,
    int64_t span_ticks)
{
  uint16_t seq = (uint16_t) ((p->data[2] << 8 | p->data[3]) + loop * n_packets);
  uint32_t ts = (uint32_t) (rtp_timestamp (p->data) + (uint64_t) span_ticks * loop);

  memcpy (out, p->data, p->len);
  out[2] = seq >> 8;
  out[3] = seq & 0xff;
  out[4] = ts >> 24;
  out[5] = (ts >> 16) & 0xff;
  out[6] = (ts >> 8) & 0xff;
  out[7] = ts & 0xff;
}

static void
log_packet (FILE *log, const uint8_t *packet, bool keyframe)
{
  if (log != NULL)
    fprintf (log, "%u %" PRIu32 " %d\n", (unsigned) (packet[2] << 8 | packet[3]),
        rtp_timestamp (packet), keyframe ? 1 : 0);
}

static bool
is_keyframe_packet (const uint8_t *packet, size_t len)
{
  vdm_rtp_header rtp;

  return vdm_rtp_parse (packet, len, true, &rtp)
      && vdm_payload_is_keyframe (VDM_CODEC_H264, rtp.payload, rtp.payload_len);
}

static int
run (int fd, const struct replay_opts *o, const struct recording *rec, FILE *log,
    struct replay_stats *st)
{
  static uint8_t buf[65536];
  uint64_t limit = o->count ? o->count : o->loops * rec->n_packets;
  int64_t start = sender_now_ns ();
  int64_t deadline = start + (int64_t) o->duration_ms * 1000000LL;
  double ns_per_tick = 1e9 / RTP_CLOCK_RATE / o->speed;
  struct sender_dest dest = { &o->dest, o->dest_len, o->dest_text };

  st->stop_reason = "all loops sent";
  for (uint64_t i = 0; i < o->loops * rec->n_packets; i++) {
    uint64_t loop = i / rec->n_packets;
    const struct recorded_packet *p = &rec->packets[i % rec->n_packets];
    int64_t ticks = (int64_t) loop * rec->span_ticks + p->offset_ticks;
    int64_t when = start + (int64_t) llround ((double) ticks * ns_per_tick);
    bool keyframe;
    int rc;

    if (st->packets >= limit) {
      st->stop_reason = "count reached";
      return 0;
    }
    if (when > sender_now_ns ())
      sender_sleep_until (when < deadline ? when : deadline);
    if (sender_stop_requested || sender_now_ns () >= deadline) {
      st->stop_reason = sender_stop_requested ? "signal" : "duration cap";
      return 0;
    }
    continue_header (buf, p, loop, rec->n_packets, rec->span_ticks);
    rc = sender_send_packet (PROG, fd, &dest, buf, p->len, deadline, &st->retries);
    if (rc != 0) {
      st->stop_reason = sender_stop_requested ? "signal" : "duration cap";
      return rc < 0 ? -1 : 0;
    }
    keyframe = is_keyframe_packet (buf, p->len);
    st->packets++;
    st->keyframe_packets += keyframe;
    st->loops_done = loop + 1;
    log_packet (log, buf, keyframe);
  }
  return 0;
}

int
main (int argc, char **argv)
{
  struct replay_opts opts;
  struct replay_stats stats = { 0 };
  struct recording rec;
  FILE *log = NULL;
  int fd, rc;

  rc = parse_args (argc, argv, &opts);
  if (rc != 0)
    return rc < 0 ? EXIT_SUCCESS : rc;
  if (!load_recording (opts.file_path, &rec)) {
    free_recording (&rec);
    return EXIT_USAGE;
  }
  if (opts.log_path != NULL && (log = fopen (opts.log_path, "we")) == NULL) {
    fprintf (stderr, "vdm-rtp-replay: --log %s: %s\n", opts.log_path, strerror (errno));
    free_recording (&rec);
    return EXIT_RUNTIME;
  }
  fd = socket (opts.dest.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fprintf (stderr, "vdm-rtp-replay: socket: %s\n", strerror (errno));
    rc = -1;
  } else {
    sender_install_signal_handlers ();
    rc = run (fd, &opts, &rec, log, &stats);
    close (fd);
  }
  if (log != NULL && fclose (log) != 0) {
    fprintf (stderr, "vdm-rtp-replay: writing %s: %s\n", opts.log_path, strerror (errno));
    rc = -1;
  }
  fprintf (stderr, "vdm-rtp-replay: sent %" PRIu64 " packets (%" PRIu64 " keyframe) of %zu per "
      "loop, %" PRIu64 " loop(s), to %s at %.2fx (%s, %" PRIu64 " send retries)\n", stats.packets,
      stats.keyframe_packets, rec.n_packets, stats.loops_done, opts.dest_text, opts.speed,
      rc < 0 ? "error" : stats.stop_reason, stats.retries);
  free_recording (&rec);
  return rc < 0 ? EXIT_RUNTIME : EXIT_SUCCESS;
}
