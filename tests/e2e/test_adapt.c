/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_adapt — the example application acts before the picture freezes.
 *
 *   vdm-rtsp-server (loopback, 640x480 "snow", 4 Mbit/s, a keyframe a second)
 *   vdm-adapt --uri rtsp://... --rtsp-transport udp --ladder 480,360,240
 *             --log decisions.jsonl --frame-log frames.txt
 *
 * vdm-adapt (pipelines/adapt/) plays the stream with a 4 MB receive buffer:
 * a clean start. Two seconds in, the test gives vdm-adapt's RTP socket an
 * 8 KB receive buffer (SO_RCVBUF 4096 through pidfd_getfd(2): what
 * --buffer-size 4096 would have set), so nearly every frame's burst
 * overflows it — this host can no longer keep up. vdropmon warns (host,
 * lower-resolution) and vdm-adapt steps down (it scales after the
 * decoder, so the stream it receives stays as large); frames keep being
 * lost, and the picture freezes.
 *
 * Why 8 KB and not 16 KB: with 16 KB only keyframe bursts overflowed, and
 * in about one run of three (CI included) the decoder hid every loss — no
 * frozen frame, so the test could not tell whether the warning came first.
 * With 8 KB the freeze came in 7 of 7 runs, 0.2–2.0 s after the overload,
 * the step-down 118 ms–2.0 s before it.
 *
 * The check, from vdm-adapt's own --log (its decisions, CLOCK_MONOTONIC)
 * and --frame-log (the time every frame is shown by its sink, a fakesink
 * with sync=true: like a display, it shows each frame the pipeline latency
 * — rtspsrc's 200 ms jitterbuffer — after it arrived): it lowered the
 * resolution before the first frozen frame — W3C webrtc-stats rule, a gap
 * between frames of at least max (3 × avg, avg + 150 ms) over the last 30
 * — after the overload began. Also measured: when the smaller picture
 * reached the output ("renegotiated").
 *
 * Why a synchronised sink: rtpjitterbuffer pushes packets that arrive in
 * order at once and holds everything behind a gap until the missing packet
 * is given up (its latency); with a sink that shows frames on arrival
 * (sync=false), the picture stops at the very drop, and no warning can come
 * before that. The latency a display waits is what a warning can use.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_frames.h"
#include "e2e_server.h"
#include "kernel_test_util.h"
#include "proc_sockets.h"

#define SMALL_RCVBUF 4096
#define HEALTHY_FRAMES 60
#define RUN_SECONDS "10"
#define EXIT_TIMEOUT_MS 20000
#define FIRST_DROP_TIMEOUT_MS 3000

typedef struct
{
  guint64 time_ns;
  gchar *event;
  gchar *action;
  gchar *cause;                 /* of the warning behind it, or NULL */
  gchar *collector_status;      /* vdropmon's, in the final stats of "stop" */
} Decision;

static void
decision_clear (gpointer data)
{
  Decision *d = data;

  g_free (d->event);
  g_free (d->action);
  g_free (d->cause);
  g_free (d->collector_status);
}

/* The value of "key":"..." or "key":NUMBER in one JSON line; the first
 * occurrence, so top-level fields must come before "reason" (they do). */
static gchar *
json_field (const gchar * line, const gchar * key)
{
  gchar *pattern = g_strdup_printf ("\"%s\":(\"([^\"]*)\"|([0-9]+))", key);
  GRegex *regex = g_regex_new (pattern, 0, 0, NULL);
  GMatchInfo *match = NULL;
  gchar *value = NULL;

  if (g_regex_match (regex, line, 0, &match)) {
    value = g_match_info_fetch (match, 2);
    if (!value || !*value) {
      g_free (value);
      value = g_match_info_fetch (match, 3);
    }
  }
  g_match_info_free (match);
  g_regex_unref (regex);
  g_free (pattern);
  return value;
}

static GArray *
read_decisions (const gchar * path)
{
  GArray *decisions = g_array_new (FALSE, TRUE, sizeof (Decision));
  gchar *text = NULL, **lines;
  guint i;

  g_array_set_clear_func (decisions, decision_clear);
  if (!g_file_get_contents (path, &text, NULL, NULL))
    vdm_kt_fatal ("vdm-adapt wrote no decision log at %s", path);
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i]; i++) {
    gchar *time = json_field (lines[i], "time");
    const gchar *reason = strstr (lines[i], "\"reason\":{");
    Decision d = { 0 };

    if (!time)
      continue;
    d.time_ns = g_ascii_strtoull (time, NULL, 10);
    d.event = json_field (lines[i], "event");
    d.action = json_field (lines[i], "action");
    d.cause = reason ? json_field (reason, "cause") : NULL;
    d.collector_status = reason ? json_field (reason, "collector-status") : NULL;
    g_array_append_val (decisions, d);
    g_free (time);
  }
  g_strfreev (lines);
  g_free (text);
  return decisions;
}

static GArray *
read_frames (const gchar * path)
{
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (VdmE2eFrame));
  gchar *text = NULL, **lines;
  guint i;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return frames;
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i] && lines[i + 1]; i++) {     /* whole lines only */
    VdmE2eFrame f = {.time_ns = g_ascii_strtoull (lines[i], NULL, 10),.pts = G_MAXUINT64 };
    g_array_append_val (frames, f);
  }
  g_strfreev (lines);
  g_free (text);
  return frames;
}

static void
wait_frames (const gchar * path, GSubprocess * adapt, guint n, guint timeout_ms)
{
  guint64 deadline = vdm_kt_now_ns () + (guint64) timeout_ms * 1000000;

  for (;;) {
    GArray *frames = read_frames (path);
    guint got = frames->len;

    g_array_unref (frames);
    if (got >= n)
      return;
    if (g_subprocess_get_identifier (adapt) == NULL)
      vdm_kt_fatal ("vdm-adapt exited early");
    if (vdm_kt_now_ns () > deadline)
      vdm_kt_fatal ("vdm-adapt handed %u frames to its sink in %u ms, expected %u", got,
          timeout_ms, n);
    vdm_kt_sleep_ms (50);
  }
}

static const Decision *
first_event_after (GArray * decisions, const gchar * event, guint64 after_ns)
{
  guint i;

  for (i = 0; i < decisions->len; i++) {
    const Decision *d = &g_array_index (decisions, Decision, i);
    if (d->time_ns >= after_ns && g_strcmp0 (d->event, event) == 0)
      return d;
  }
  return NULL;
}

static guint
count_events_before (GArray * decisions, const gchar * event, guint64 before_ns)
{
  guint i, n = 0;

  for (i = 0; i < decisions->len; i++) {
    const Decision *d = &g_array_index (decisions, Decision, i);
    n += d->time_ns < before_ns && g_strcmp0 (d->event, event) == 0;
  }
  return n;
}

static gboolean
wait_exit (GSubprocess * adapt)
{
  guint64 deadline = vdm_kt_now_ns () + (guint64) EXIT_TIMEOUT_MS * 1000000;

  while (g_subprocess_get_identifier (adapt) != NULL && vdm_kt_now_ns () < deadline)
    vdm_kt_sleep_ms (50);
  if (g_subprocess_get_identifier (adapt) != NULL) {
    g_subprocess_force_exit (adapt);
    g_subprocess_wait (adapt, NULL, NULL);
    return FALSE;
  }
  g_subprocess_wait (adapt, NULL, NULL);
  return g_subprocess_get_if_exited (adapt) && g_subprocess_get_exit_status (adapt) == 0;
}

/* vdm-adapt's vdropmon must have had its eBPF collector (skip policy). */
static void
require_collector (GArray * decisions)
{
  const Decision *stop = first_event_after (decisions, "stop", 0);
  const gchar *status = stop ? stop->collector_status : NULL;

  if (status && g_str_has_prefix (status, "unavailable"))
    vdm_kt_skip_or_fail ("vdm-adapt's vdropmon has no eBPF collector: %s", status);
  vdm_kt_expect (g_strcmp0 (status, "running") == 0, "vdm-adapt's vdropmon ran its eBPF "
      "collector (collector-status \"%s\" at stop)", status ? status : "(no stop line)");
}

/* When the kernel first dropped on that socket (polled: a few ms late at
 * most), or 0 if not within FIRST_DROP_TIMEOUT_MS. */
static guint64
wait_first_drop (pid_t pid, gulong inode)
{
  guint64 deadline = vdm_kt_now_ns () + (guint64) FIRST_DROP_TIMEOUT_MS * 1000000;

  while (vdm_kt_now_ns () < deadline) {
    if (vdm_e2e_proc_socket_drops (pid, inode) > 0)
      return vdm_kt_now_ns ();
    vdm_kt_sleep_ms (2);
  }
  return 0;
}

static gdouble
ms_between (guint64 from, guint64 to)
{
  return ((gint64) to - (gint64) from) / 1e6;
}

static void
print_decisions (GArray * decisions, guint64 t0)
{
  guint i;

  for (i = 0; i < decisions->len; i++) {
    const Decision *d = &g_array_index (decisions, Decision, i);
    printf ("  vdm-adapt decision at %+7.0f ms: %s (action %s%s%s)\n", ms_between (t0,
            d->time_ns), d->event, d->action ? d->action : "?", d->cause ? ", cause " : "",
        d->cause ? d->cause : "");
  }
}

int
main (int argc, char **argv)
{
  VdmE2eServer *server;
  GSubprocess *adapt;
  VdmE2eProcSocket rtp;
  VdmE2eFreeze freeze;
  GArray *decisions, *frames;
  const Decision *step_down, *renegotiated;
  gchar *log_path, *frame_path, *pid_text;
  guint64 overload_start, first_drop;
  gboolean exited_ok, froze;
  pid_t pid;
  int effective;

  vdm_kt_begin ("e2e-adapt", &argc, &argv);
  server = vdm_e2e_server_start ("rtsp-server", "VDM_RTSP_SERVER", NULL, 1,
      "--port", "0", "--pattern", "snow", "--bitrate", "4000", "--key-int", "30", NULL);
  log_path = vdm_kt_scratch_path ("decisions.jsonl");
  frame_path = vdm_kt_scratch_path ("frames.txt");
  adapt = vdm_e2e_spawn ("vdm-adapt", (const gchar *[]) {
        vdm_kt_require_env ("VDM_ADAPT"), "--uri", vdm_e2e_server_url (server, 0),
        "--rtsp-transport", "udp", "--buffer-size", "4194304", "--ladder", "480,360,240",
        "--start-height", "480", "--min-dwell", "1", "--step-up-after", "60",
        "--sink", "fakesink sync=true",
        "--log", log_path, "--frame-log", frame_path, "--duration-s", RUN_SECONDS, NULL},
      NULL);
  pid_text = g_strdup (g_subprocess_get_identifier (adapt));
  pid = (pid_t) atoi (pid_text);

  /* A clean start: two seconds of frames (history for the freeze rule). */
  wait_frames (frame_path, adapt, HEALTHY_FRAMES, 8000);
  if (!vdm_e2e_proc_rtp_socket (pid, &rtp))
    vdm_kt_fatal ("vdm-adapt (pid %d) holds no RTP/RTCP socket pair", (int) pid);
  overload_start = vdm_kt_now_ns ();
  effective = vdm_e2e_proc_set_rcvbuf (pid, rtp.inode, SMALL_RCVBUF);
  printf ("  vdm-adapt's RTP socket (port %u, %" G_GUINT64_FORMAT " drops so far): SO_RCVBUF "
      "%d (kernel: %d)\n", rtp.port, rtp.drops, SMALL_RCVBUF, effective);
  vdm_kt_expect (rtp.drops == 0, "no drop before the overload (%" G_GUINT64_FORMAT ")",
      rtp.drops);
  first_drop = wait_first_drop (pid, rtp.inode);

  exited_ok = wait_exit (adapt);
  vdm_kt_expect (exited_ok, "vdm-adapt ran its %s s and exited 0", RUN_SECONDS);
  decisions = read_decisions (log_path);
  frames = read_frames (frame_path);
  print_decisions (decisions, overload_start);
  require_collector (decisions);

  vdm_kt_expect (count_events_before (decisions, "step-down", overload_start) == 0,
      "no step-down during the clean start");
  step_down = first_event_after (decisions, "step-down", overload_start);
  renegotiated = step_down ? first_event_after (decisions, "renegotiated", step_down->time_ns)
      : NULL;
  froze = vdm_e2e_first_freeze (frames, overload_start, &freeze);
  printf ("  FRAMES: %u shown by the sink, %u frozen (W3C rule) after the overload began, "
      "longest gap %.0f ms\n", frames->len, vdm_e2e_count_freezes (frames, overload_start),
      vdm_e2e_longest_gap (frames, overload_start) / 1e6);
  printf ("  TIMING: t0 = overload; first kernel drop on the RTP socket seen at %s%+.0f ms\n",
      first_drop ? "" : "(none) ", first_drop ? ms_between (overload_start, first_drop) : 0.0);
  if (froze)
    printf ("  TIMING: t0 = overload; first frozen frame: picture stopped at %+.0f ms for "
        "%.0f ms\n", ms_between (overload_start, freeze.start_ns),
        ms_between (freeze.start_ns, freeze.end_ns));
  if (step_down)
    printf ("  TIMING: step-down at %+.0f ms (cause %s), smaller picture out at %s%+.0f ms\n",
        ms_between (overload_start, step_down->time_ns), step_down->cause ? step_down->cause :
        "?", renegotiated ? "" : "(never) ", renegotiated ? ms_between (overload_start,
            renegotiated->time_ns) : 0.0);

  vdm_kt_expect (step_down != NULL && g_strcmp0 (step_down->action, "lower-resolution") == 0,
      "vdm-adapt stepped down on a lower-resolution warning after the overload began");
  vdm_kt_expect (froze, "the picture froze after the overload began (the scenario happened)");
  if (step_down && froze) {
    vdm_kt_expect (step_down->time_ns < freeze.start_ns, "it lowered the resolution before "
        "the first frozen frame (lead %.0f ms)", ms_between (step_down->time_ns,
            freeze.start_ns));
    if (renegotiated)
      printf ("  the smaller picture reached the output %.0f ms %s the freeze began\n",
          ABS (ms_between (renegotiated->time_ns, freeze.start_ns)),
          renegotiated->time_ns < freeze.start_ns ? "before" : "after");
  }

  g_array_unref (decisions);
  g_array_unref (frames);
  g_object_unref (adapt);
  vdm_e2e_server_stop (server);
  g_free (pid_text);
  g_free (log_path);
  g_free (frame_path);
  return vdm_kt_finish ();
}
