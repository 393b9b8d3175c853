/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_early_warning — vdropmon warns of a freeze before the decoded video
 * shows it, and stays quiet on a clean stream.
 *
 * A real encoder's stream (x264, 640x360, 30 fps, about 1.6 Mbit/s in ~235
 * packets/s of ~1 KB; recorded at test time into the scratch directory, so
 * no binary sits in git) is replayed in real time by vdm-rtp-replay into
 *
 *   udpsrc buffer-size=B ! vdropmon ! identity name=slow
 *     ! rtpjitterbuffer latency=200 ! rtph264depay ! h264parse
 *     ! avdec_h264 output-corrupt=false ! fakesink sync=true
 *
 * (a) ramp: B = 32 KiB. After a clean warm-up, slow's sleep-time rises a
 *     step at a time, so the thread that reads the socket falls behind
 *     gradually and SOCKET_RCVBUFF drops ramp up. A vdropmon-warning must
 *     reach the bus before the decoder output shows any of it.
 *     Why 32 KiB: the socket then holds 28 of these packets, ~120 ms of
 *     stream, less than the jitterbuffer's 200 ms, so the drops are the first
 *     damage. With 64 KiB (56 packets, ~240 ms) the reader lags past the
 *     latency before the queue overflows: the jitterbuffer re-times its
 *     output first (a PTS jump, no frame lost) and vdropmon's runway warning
 *     (arrival lag growing) comes first, a different story from this one.
 * (b) clean: B = 4 MiB, no sleep. No drop, no gap in the decoder output, and
 *     no warning while the stream flows. The silence warning that follows the
 *     end of the replay is expected: it is listed and ignored explicitly.
 *
 * When does "the decoder output show the gap"? A probe on avdec_h264's src
 * pad stamps each decoded frame with CLOCK_MONOTONIC; a probe on the
 * jitterbuffer's src pad tells which RTP timestamp each PTS belongs to, so
 * every decoded frame is known by its place in the stream. A gap is two
 * consecutive decoded frames more than 1.5 frame intervals apart in RTP time,
 * that is, frames are missing. (A PTS step alone proves nothing: the
 * jitterbuffer re-times its output when the reader lags more than its
 * latency; such jumps are reported apart.) Three moments, all asserted:
 *  - missing frame due: the last frame before the gap came out, plus one
 *    frame interval (or when the next frame came out, if sooner): when the
 *    first missing frame should have come out. Before it nothing downstream
 *    can tell that anything is wrong. "proven", when the next frame came
 *    out, is printed too;
 *  - first PTS discontinuity: the first output frame more than 1.5 intervals
 *    after the previous one in PTS, whatever the cause (the literal reading);
 *  - first damaged frame: the first frame a dropped packet belonged to (the
 *    replay's log and the packets that passed vdropmon say which), when it
 *    came out concealed or, if it never did, when it was due. Losing part of
 *    a frame usually shows as artefacts long before a whole frame is lost:
 *    this is the strictest bound.
 * With sync=true the sink holds every frame until its render time and so
 * paces the decoder: it pushes frame n about when frame n-1 is shown, so
 * output times follow what a viewer sees (one frame early, which only makes
 * the bounds stricter). With sync=false the decoder would push each frame as
 * soon as its packets were in: "due" would be the drop itself, and nothing
 * that needs to see a drop could warn before it.
 *
 * The warning is timed when it is posted (bus sync handler), drops by their
 * kernel-time, frames when pushed: all CLOCK_MONOTONIC.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "drop_checks.h"
#include "kernel_test_util.h"
#include "receiver.h"
#include "sender.h"

#define FRAME_RATE 30
#define FRAME_INTERVAL (GST_SECOND / FRAME_RATE)
#define RTP_FRAME_TICKS (90000 / FRAME_RATE)
/* Frames of the recording; the replay loops it. */
#define STREAM_FRAMES 150
/* A moving SMPTE pattern, not the ball: the ball compresses to ~170 kbit/s of
 * 200-byte packets, where this makes x264 spend its whole bitrate (~8 packets
 * per frame, 22 for a keyframe) like a camera would. */
#define STREAM_RECORDER \
  "videotestsrc num-buffers=" G_STRINGIFY (STREAM_FRAMES) " pattern=smpte horizontal-speed=8 " \
  "is-live=false ! video/x-raw,width=640,height=360,framerate=" G_STRINGIFY (FRAME_RATE) "/1 " \
  "! x264enc tune=zerolatency key-int-max=30 bitrate=1500 speed-preset=ultrafast " \
  "! rtph264pay mtu=1200 config-interval=-1 ! rtpstreampay ! filesink location=\"%s\""
#define RECORD_TIMEOUT_S 10

#define RECEIVER \
  "udpsrc name=src address=127.0.0.1 port=0 buffer-size=%u caps=\"" VDM_KT_RTP_CAPS "\" " \
  "! vdropmon name=mon ! identity name=slow sleep-time=0 " \
  "! rtpjitterbuffer name=jb latency=200 ! rtph264depay ! h264parse " \
  "! avdec_h264 name=dec output-corrupt=false ! fakesink sync=true"
#define RAMP_BUFFER_SIZE 32768
#define CLEAN_BUFFER_SIZE (4 << 20)

/* The ramp: sleep-time 0 for WARMUP_MS, then +STEP_US every STEP_MS (a
 * packet every ~4.3 ms arrives, so the reader falls behind from ~4000 us).
 * It ends AFTER_GAP_MS after both a gap and a warning were seen, or at
 * RAMP_LIMIT_MS. */
#define WARMUP_MS 1000
#define STEP_MS 300
#define STEP_US 500
#define MAX_SLEEP_US 15000
#define AFTER_GAP_MS 600
#define RAMP_LIMIT_MS 9000
#define POLL_MS 10

#define QUIET_MS 400
#define SETTLE_TIMEOUT_MS 4000
/* The clean run waits this long after the replay for the silence warning. */
#define AFTER_END_MS 500

typedef struct
{
  guint64 mono_ns;              /* when the decoder pushed it */
  GstClockTime pts;
} OutFrame;

/* A frame the jitterbuffer let out: its PTS names it downstream. */
typedef struct
{
  GstClockTime pts;
  guint32 rtp_ts;
} JbFrame;

typedef struct
{
  guint64 mono_ns;
  guint sleep_us;
} RampStep;

typedef struct
{
  const gchar *label;
  VdmKtReceiver *r;
  GstElement *slow;
  GstElement *jb;

  /* Guarded by r->lock, like the receiver's own records. */
  GPtrArray *signals;           /* r->signals: vdropmon-warning and vdropmon-clear */
  GArray *frames;               /* OutFrame, in output order */
  GArray *jb_frames;            /* JbFrame, one per RTP timestamp, in output order */
  guint64 last_arrival_ns;      /* last packet out of udpsrc */

  GArray *steps;                /* RampStep */
} Run;

typedef struct
{
  gboolean found;
  guint64 last_good_ns;         /* output time of the frame before the gap */
  guint64 due_ns;               /* last_good_ns + one frame interval, at most proven_ns */
  guint64 proven_ns;            /* output time of the frame after the gap */
  GstClockTime pts_before, pts_after;
  guint missing;                /* frames between the two */
  guint unmatched;              /* decoded frames whose RTP timestamp is not known */
  guint retimed;                /* PTS steps > 1.5 frames with no frame missing */
  guint64 first_retimed_ns;     /* output time of the first of those */
} Gap;

/* The first frame a drop hit, at the decoder output. */
typedef struct
{
  gboolean found;
  gboolean shown;               /* it came out, concealed; else it is missing */
  guint64 ns;                   /* when it came out, or was due */
  guint32 rtp_ts;
} Damage;

/* ------------------------------------------------------------------------ */
/* The recording.                                                            */

static gchar *
record_stream (void)
{
  gchar *path = vdm_kt_scratch_path ("stream.rtp");
  gchar *description = g_strdup_printf (STREAM_RECORDER, path);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (description, &error);
  GstMessage *msg;
  GstBus *bus;

  /* A missing element (x264enc is in gst-plugins-ugly) is an error here. */
  if (!pipeline || error)
    vdm_kt_fatal ("cannot build the stream recorder (%s): %s", description, error->message);
  bus = gst_element_get_bus (pipeline);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (bus, RECORD_TIMEOUT_S * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
    gst_message_parse_error (msg, &error, NULL);
  if (!msg || error)
    vdm_kt_fatal ("recording the stream fixture failed (%s): %s", description,
        error ? error->message : "timeout");
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  printf ("  recorded %d frames: %s\n", STREAM_FRAMES, description);
  g_free (description);
  return path;
}

/* ------------------------------------------------------------------------ */
/* Recording what the pipeline does.                                         */

static GstPadProbeReturn
on_decoded (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Run *run = user_data;
  OutFrame f = { vdm_kt_now_ns (), GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info)) };

  g_mutex_lock (&run->r->lock);
  g_array_append_val (run->frames, f);
  g_mutex_unlock (&run->r->lock);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_jitterbuffer_out (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Run *run = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  JbFrame f = { GST_BUFFER_PTS (buf), 0 };
  guint8 header[8];

  if (gst_buffer_extract (buf, 0, header, sizeof (header)) != sizeof (header))
    return GST_PAD_PROBE_OK;
  f.rtp_ts = GST_READ_UINT32_BE (header + 4);
  g_mutex_lock (&run->r->lock);
  if (run->jb_frames->len == 0
      || g_array_index (run->jb_frames, JbFrame, run->jb_frames->len - 1).rtp_ts != f.rtp_ts)
    g_array_append_val (run->jb_frames, f);
  g_mutex_unlock (&run->r->lock);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_arrival (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Run *run = user_data;
  guint64 now = vdm_kt_now_ns ();

  g_mutex_lock (&run->r->lock);
  run->last_arrival_ns = now;
  g_mutex_unlock (&run->r->lock);
  return GST_PAD_PROBE_OK;
}

static GstElement *
named (VdmKtReceiver * r, const gchar * name)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (r->pipeline), name);

  if (!e)
    vdm_kt_fatal ("pipeline has no element named \"%s\"", name);
  return e;
}

static void
probe (GstElement * element, const gchar * pad_name, GstPadProbeCallback callback, Run * run)
{
  GstPad *pad = gst_element_get_static_pad (element, pad_name);

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, callback, run, NULL);
  gst_object_unref (pad);
}

static Run *
run_start (const gchar * label, guint buffer_size)
{
  Run *run = g_new0 (Run, 1);
  gchar *description = g_strdup_printf (RECEIVER, buffer_size);
  GstElement *dec;

  run->label = label;
  run->frames = g_array_new (FALSE, FALSE, sizeof (OutFrame));
  run->jb_frames = g_array_new (FALSE, FALSE, sizeof (JbFrame));
  run->steps = g_array_new (FALSE, FALSE, sizeof (RampStep));
  run->r = vdm_kt_receiver_start (label, description);
  run->signals = run->r->signals;
  run->slow = named (run->r, "slow");
  run->jb = named (run->r, "jb");
  dec = named (run->r, "dec");
  probe (dec, "src", on_decoded, run);
  probe (run->jb, "src", on_jitterbuffer_out, run);
  probe (run->r->src, "src", on_arrival, run);
  gst_object_unref (dec);
  g_free (description);
  return run;
}

static void
run_free (Run * run)
{
  vdm_kt_receiver_free (run->r);
  gst_object_unref (run->slow);
  gst_object_unref (run->jb);
  g_array_unref (run->frames);
  g_array_unref (run->jb_frames);
  g_array_unref (run->steps);
  g_free (run);
}

static VdmKtSender *
start_replay (Run * run, const gchar * stream, const gchar * loops, const gchar * duration_ms)
{
  gchar *dest = g_strdup_printf ("127.0.0.1:%u", run->r->port);
  gchar *label = g_strdup_printf ("%s-replay", run->label);
  VdmKtSender *replay;

  /* The shared sender helper runs $VDM_RTP_SENDER, which meson points at
   * vdm-rtp-replay for this test (same --log format). */
  replay = vdm_kt_sender_spawn (label, NULL, "--file", stream, "--dest", dest, "--loop", loops,
      "--duration-ms", duration_ms, NULL);
  g_free (label);
  g_free (dest);
  return replay;
}

/* ------------------------------------------------------------------------ */
/* Reading the records.                                                      */

#define AMBIGUOUS GUINT_TO_POINTER (G_MAXUINT)

/* PTS -> index + 1 in jb_frames; AMBIGUOUS for a PTS two frames got. */
static GHashTable *
index_jb_frames_locked (Run * run)
{
  GHashTable *by_pts = g_hash_table_new (g_int64_hash, g_int64_equal);
  guint i;

  for (i = 0; i < run->jb_frames->len; i++) {
    JbFrame *f = &g_array_index (run->jb_frames, JbFrame, i);
    gboolean seen = g_hash_table_contains (by_pts, &f->pts);
    g_hash_table_insert (by_pts, &f->pts, seen ? AMBIGUOUS : GUINT_TO_POINTER (i + 1));
  }
  return by_pts;
}

/* RTP time of a decoded frame in ticks after the first frame out of the
 * jitterbuffer (signed steps: no wrap), or FALSE if its PTS does not say. */
static gboolean
rtp_time_of_locked (Run * run, GHashTable * by_pts, const OutFrame * frame, gint64 * ticks)
{
  gpointer found = g_hash_table_lookup (by_pts, &frame->pts);
  guint32 first = g_array_index (run->jb_frames, JbFrame, 0).rtp_ts;

  if (!found || found == AMBIGUOUS)
    return FALSE;
  *ticks = (gint32) (g_array_index (run->jb_frames, JbFrame, GPOINTER_TO_UINT (found) - 1).rtp_ts
      - first);
  return TRUE;
}

/* The first frames missing from the decoder output: two consecutive decoded
 * frames more than 1.5 frame intervals apart in RTP time (their identity in
 * the stream), not in PTS, which the jitterbuffer re-times when the reader
 * lags more than its latency. Such PTS jumps are counted apart. A PTS two
 * frames share (rare, after a re-timing) names neither: such a frame is
 * counted as unmatched and no gap is claimed across it. */
static Gap
find_gap_locked (Run * run)
{
  Gap gap = { 0 };
  GHashTable *by_pts;
  const OutFrame *prev = NULL;
  gint64 prev_ticks = 0, ticks;
  guint i;

  if (run->jb_frames->len == 0)
    return gap;
  by_pts = index_jb_frames_locked (run);
  for (i = 0; i < run->frames->len && !gap.found; i++) {
    const OutFrame *f = &g_array_index (run->frames, OutFrame, i);
    if (!rtp_time_of_locked (run, by_pts, f, &ticks)) {
      gap.unmatched++;
      prev = NULL;              /* no gap can be proven across a frame we cannot name */
      continue;
    }
    if (prev && ticks - prev_ticks > RTP_FRAME_TICKS * 3 / 2) {
      gap.found = TRUE;
      gap.last_good_ns = prev->mono_ns;
      /* when the output runs late, frames come out back to back */
      gap.due_ns = MIN (prev->mono_ns + FRAME_INTERVAL, f->mono_ns);
      gap.proven_ns = f->mono_ns;
      gap.pts_before = prev->pts;
      gap.pts_after = f->pts;
      gap.missing = (guint) ((ticks - prev_ticks + RTP_FRAME_TICKS / 2) / RTP_FRAME_TICKS - 1);
    } else if (prev && f->pts > prev->pts + FRAME_INTERVAL * 3 / 2) {
      if (!gap.retimed++)
        gap.first_retimed_ns = f->mono_ns;
    }
    prev = f;
    prev_ticks = ticks;
  }
  g_hash_table_unref (by_pts);
  return gap;
}

/* RTP timestamp of the first packet sent that never passed vdropmon (the
 * replay's log and the receiver's probe, not the element's messages). */
static gboolean
first_dropped_frame (Run * run, GArray * sent, guint32 * rtp_ts)
{
  guint i;

  for (i = 0; i < sent->len; i++) {
    const VdmKtSent *p = &g_array_index (sent, VdmKtSent, i);
    if (!run->r->passed[p->seq]) {
      *rtp_ts = p->ts;
      return TRUE;
    }
  }
  return FALSE;
}

/* When the first frame a drop hit reached the decoder output: the frame
 * itself, concealed, or (missing) the moment it was due. */
static Damage
find_damage_locked (Run * run, GArray * sent)
{
  Damage damage = { 0 };
  GHashTable *by_pts;
  const OutFrame *prev = NULL;
  gint64 hit, ticks;
  guint i;

  if (run->jb_frames->len == 0 || !first_dropped_frame (run, sent, &damage.rtp_ts))
    return damage;
  hit = (gint32) (damage.rtp_ts - g_array_index (run->jb_frames, JbFrame, 0).rtp_ts);
  by_pts = index_jb_frames_locked (run);
  for (i = 0; i < run->frames->len && !damage.found; i++) {
    const OutFrame *f = &g_array_index (run->frames, OutFrame, i);
    if (!rtp_time_of_locked (run, by_pts, f, &ticks) || ticks < hit) {
      prev = f;
      continue;
    }
    damage.found = TRUE;
    damage.shown = ticks == hit;
    damage.ns = damage.shown || !prev ? f->mono_ns : MIN (prev->mono_ns + FRAME_INTERVAL,
        f->mono_ns);
  }
  g_hash_table_unref (by_pts);
  return damage;
}

static Gap
find_gap (Run * run)
{
  Gap gap;

  g_mutex_lock (&run->r->lock);
  gap = find_gap_locked (run);
  g_mutex_unlock (&run->r->lock);
  return gap;
}

static Damage
find_damage (Run * run, GArray * sent)
{
  Damage damage;

  g_mutex_lock (&run->r->lock);
  damage = find_damage_locked (run, sent);
  g_mutex_unlock (&run->r->lock);
  return damage;
}

static const gchar *
field_or (const GstStructure * s, const gchar * field)
{
  const gchar *v = gst_structure_get_string (s, field);
  return v ? v : "?";
}

static gboolean
is_warning (const VdmKtMessage * m)
{
  return gst_structure_has_name (m->s, "vdropmon-warning");
}

/* The first vdropmon-warning (whose reasons name `reason`, unless NULL), or
 * NULL. The pointer stays valid: records only grow. */
static const VdmKtMessage *
first_warning (Run * run, const gchar * reason)
{
  const VdmKtMessage *found = NULL;
  guint i;

  g_mutex_lock (&run->r->lock);
  for (i = 0; !found && i < run->signals->len; i++) {
    const VdmKtMessage *m = g_ptr_array_index (run->signals, i);
    if (is_warning (m) && (!reason || strstr (field_or (m->s, "reasons"), reason)))
      found = m;
  }
  g_mutex_unlock (&run->r->lock);
  return found;
}

/* kernel-time of the earliest kernel drop, G_MAXUINT64 if none. */
static guint64
first_drop_ns (Run * run)
{
  guint64 first = G_MAXUINT64;
  guint i;

  g_mutex_lock (&run->r->lock);
  for (i = 0; i < run->r->drops->len; i++) {
    const VdmKtMessage *m = g_ptr_array_index (run->r->drops, i);
    if (g_str_has_prefix (vdm_kt_msg_string (m->s, "source"), "kernel"))
      first = MIN (first, vdm_kt_msg_u64 (m->s, "kernel-time"));
  }
  g_mutex_unlock (&run->r->lock);
  return first;
}

/* Drops (sum of count) whose batch began in [from, to). */
static guint64
drops_between (Run * run, guint64 from, guint64 to)
{
  guint64 n = 0;
  guint i;

  for (i = 0; i < run->r->drops->len; i++) {
    const VdmKtMessage *m = g_ptr_array_index (run->r->drops, i);
    guint64 t = vdm_kt_msg_u64 (m->s, "kernel-time");
    if (t >= from && t < to)
      n += vdm_kt_msg_uint (m->s, "count");
  }
  return n;
}

static guint64
socket_drops (gpointer data)
{
  return vdm_kt_receiver_socket_drops (data);
}

/* ms of b after a (negative when before). */
static gdouble
ms_after (guint64 a, guint64 b)
{
  return ((gdouble) b - (gdouble) a) / 1e6;
}

static void
print_signals (Run * run, guint64 t0)
{
  guint i;

  for (i = 0; i < run->signals->len; i++) {
    const VdmKtMessage *m = g_ptr_array_index (run->signals, i);
    gchar *text = gst_structure_to_string (m->s);
    printf ("  %s: +%.1f ms %s\n", run->label, ms_after (t0, m->arrival_ns), text);
    g_free (text);
  }
}

/* ------------------------------------------------------------------------ */
/* (a) the ramp.                                                             */

static void
set_sleep (Run * run, guint sleep_us)
{
  RampStep step = { vdm_kt_now_ns (), sleep_us };

  g_object_set (run->slow, "sleep-time", sleep_us, NULL);
  g_array_append_val (run->steps, step);
}

/* Raises slow's sleep-time step by step until a gap and a warning are in
 * (and AFTER_GAP_MS more, to see what follows), bounded by RAMP_LIMIT_MS. */
static void
ramp (Run * run)
{
  guint64 start = vdm_kt_now_ns ();
  guint64 next_step = start + (guint64) WARMUP_MS * GST_MSECOND;
  guint64 end = start + (guint64) RAMP_LIMIT_MS * GST_MSECOND;
  guint sleep_us = 0;
  gboolean ending = FALSE;

  set_sleep (run, 0);
  while (vdm_kt_now_ns () < end) {
    guint64 now = vdm_kt_now_ns ();
    if (!ending && find_gap (run).found && first_warning (run, NULL)) {
      ending = TRUE;
      end = MIN (end, now + (guint64) AFTER_GAP_MS * GST_MSECOND);
    }
    if (!ending && now >= next_step && sleep_us < MAX_SLEEP_US) {
      sleep_us += STEP_US;
      set_sleep (run, sleep_us);
      next_step += (guint64) STEP_MS * GST_MSECOND;
    }
    vdm_kt_sleep_ms (POLL_MS);
  }
  /* Let the pipeline drain quickly. */
  g_object_set (run->slow, "sleep-time", 0, NULL);
  printf ("  ramp: %u steps, up to sleep-time %u us, %.0f ms\n", run->steps->len - 1, sleep_us,
      ms_after (start, vdm_kt_now_ns ()));
}

/* Drops per ramp step: the ramp the detector saw. */
static void
print_ramp (Run * run)
{
  GString *line = g_string_new ("  RAMP: sleep-time us (drops):");
  guint i;

  g_mutex_lock (&run->r->lock);
  for (i = 0; i < run->steps->len; i++) {
    const RampStep *s = &g_array_index (run->steps, RampStep, i);
    guint64 until = i + 1 < run->steps->len
        ? g_array_index (run->steps, RampStep, i + 1).mono_ns : G_MAXUINT64;
    g_string_append_printf (line, " %u(%" G_GUINT64_FORMAT ")", s->sleep_us,
        drops_between (run, s->mono_ns, until));
  }
  g_mutex_unlock (&run->r->lock);
  printf ("%s\n", line->str);
  g_string_free (line, TRUE);
}

static void
print_jitterbuffer (Run * run)
{
  GstStructure *stats = NULL;
  gchar *text;

  g_object_get (run->jb, "stats", &stats, NULL);
  text = stats ? gst_structure_to_string (stats) : g_strdup ("(none)");
  printf ("  %s: rtpjitterbuffer %s\n", run->label, text);
  g_free (text);
  if (stats)
    gst_structure_free (stats);
}

static void
print_warning_line (const gchar * what, const VdmKtMessage * m, guint64 t0)
{
  GstClockTime stall_eta = GST_CLOCK_TIME_NONE;

  if (!m) {
    printf ("    %-34s      none\n", what);
    return;
  }
  gst_structure_get_uint64 (m->s, "stall-eta", &stall_eta);
  printf ("    %-34s %+9.1f  level=%s cause=%s reasons=%s action=%s stall-eta=%.1f ms\n", what,
      ms_after (t0, m->arrival_ns), field_or (m->s, "level"), field_or (m->s, "cause"),
      field_or (m->s, "reasons"), field_or (m->s, "action"),
      GST_CLOCK_TIME_IS_VALID (stall_eta) ? stall_eta / 1e6 : NAN);
}

static void
print_timeline (Run * run, const Gap * gap, const Damage * damage, guint64 first_drop,
    const VdmKtMessage * warning, const VdmKtMessage * drop_warning)
{
  guint64 t0 = g_array_index (run->steps, RampStep, 0).mono_ns;

  print_ramp (run);
  print_signals (run, t0);
  printf ("  TIMELINE (ms after the warm-up began):\n");
  printf ("    %-34s %+9.1f\n", "first drop (kernel-time)",
      first_drop != G_MAXUINT64 ? ms_after (t0, first_drop) : NAN);
  print_warning_line ("first warning posted", warning, t0);
  print_warning_line ("first warning naming the drops", drop_warning, t0);
  if (gap->retimed)
    printf ("    %-34s %+9.1f  (%u PTS jumps without a missing frame)\n",
        "jitterbuffer re-timed the output", ms_after (t0, gap->first_retimed_ns), gap->retimed);
  if (damage->found)
    printf ("    %-34s %+9.1f  rtp %u, %s\n", "first damaged frame out/due", ms_after (t0,
            damage->ns), damage->rtp_ts, damage->shown ? "shown concealed" : "missing");
  if (!gap->found) {
    printf ("    no frame missing in the decoder output (%u frames)\n", run->frames->len);
    return;
  }
  printf ("    %-34s %+9.1f  pts %" GST_TIME_FORMAT "\n", "last good frame out",
      ms_after (t0, gap->last_good_ns), GST_TIME_ARGS (gap->pts_before));
  printf ("    %-34s %+9.1f\n", "first missing frame due", ms_after (t0, gap->due_ns));
  printf ("    %-34s %+9.1f  pts %" GST_TIME_FORMAT ", %u frames missing\n",
      "next frame out (gap proven)", ms_after (t0, gap->proven_ns), GST_TIME_ARGS (gap->pts_after),
      gap->missing);
  if (warning && first_drop != G_MAXUINT64)
    printf ("  LEAD: first warning %.1f ms %s the first drop; ahead of the first damaged frame "
        "by %.1f ms, of the first missing frame by %.1f ms (due) / %.1f ms (proven)\n",
        fabs (ms_after (first_drop, warning->arrival_ns)),
        warning->arrival_ns < first_drop ? "before" : "after",
        damage->found ? ms_after (warning->arrival_ns, damage->ns) : NAN,
        ms_after (warning->arrival_ns, gap->due_ns), ms_after (warning->arrival_ns,
            gap->proven_ns));
  if (drop_warning && drop_warning != warning)
    printf ("  LEAD: first warning naming SOCKET_RCVBUFF ahead of the first missing frame by "
        "%.1f ms (due)\n", ms_after (drop_warning->arrival_ns, gap->due_ns));
}

static void
check_ramp (Run * run, GArray * sent)
{
  Gap gap = find_gap (run);
  Damage damage = find_damage (run, sent);
  const VdmKtMessage *warning = first_warning (run, NULL);
  const VdmKtMessage *drop_warning = first_warning (run, "SOCKET_RCVBUFF");
  guint64 first_drop = first_drop_ns (run);
  guint64 first_jump = gap.retimed ? gap.first_retimed_ns : gap.proven_ns;

  print_timeline (run, &gap, &damage, first_drop, warning, drop_warning);
  vdm_kt_expect (first_drop != G_MAXUINT64, "the ramp made the kernel drop packets");
  vdm_kt_expect (gap.found, "frames are missing from the decoder output (%u frames out, %u "
      "not matched to an RTP timestamp)", run->frames->len, gap.unmatched);
  if (first_drop == G_MAXUINT64 || !gap.found)
    return;
  vdm_kt_expect (gap.unmatched == 0, "every frame decoded before the gap was named by its RTP "
      "timestamp (%u were not)", gap.unmatched);
  vdm_kt_expect (first_drop < gap.due_ns, "the first drop came before the first missing frame "
      "was due (%.1f ms)", ms_after (first_drop, gap.due_ns));
  vdm_kt_expect (warning && warning->arrival_ns < gap.due_ns, "a vdropmon-warning came before "
      "the first missing frame was due (lead %.1f ms)",
      warning ? ms_after (warning->arrival_ns, gap.due_ns) : NAN);
  vdm_kt_expect (drop_warning && drop_warning->arrival_ns < gap.due_ns, "a vdropmon-warning "
      "naming SOCKET_RCVBUFF came before the first missing frame was due (lead %.1f ms)",
      drop_warning ? ms_after (drop_warning->arrival_ns, gap.due_ns) : NAN);
  vdm_kt_expect (warning && warning->arrival_ns < first_jump, "the warning came before the "
      "first PTS discontinuity in the decoder output (%s, lead %.1f ms)",
      gap.retimed ? "a re-timing" : "the gap", warning ? ms_after (warning->arrival_ns,
          first_jump) : NAN);
  vdm_kt_expect (damage.found && warning && warning->arrival_ns < damage.ns, "the warning came "
      "even before the first damaged frame was %s (lead %.1f ms)",
      damage.shown ? "shown" : "due", damage.found && warning ? ms_after (warning->arrival_ns,
          damage.ns) : NAN);
}

static void
ramp_run (const gchar * stream)
{
  Run *run = run_start ("ramp", RAMP_BUFFER_SIZE);
  VdmKtSender *replay = start_replay (run, stream, "3", "12000");
  VdmKtDropSummary summary;
  GstStructure *stats;
  guint64 kernel;
  GArray *sent;

  ramp (run);
  g_subprocess_send_signal (replay->process, SIGTERM);
  sent = vdm_kt_sender_finish (replay);
  vdm_kt_expect (vdm_kt_receiver_settle (run->r, QUIET_MS, SETTLE_TIMEOUT_MS, socket_drops, run->r),
      "ramp: counters, buffers and messages settled");
  stats = vdm_kt_receiver_stats (run->r);
  kernel = vdm_kt_receiver_socket_drops (run->r);
  print_jitterbuffer (run);
  vdm_kt_receiver_stop (run->r);

  vdm_kt_summarize (run->r->drops, &summary);
  vdm_kt_print_summary ("ramp", &summary);
  vdm_kt_check_counts (&summary, stats, "/proc/net/udp drops", kernel, "SOCKET_RCVBUFF");
  vdm_kt_check_fields (run->r->drops, &(VdmKtExpectedDrop) {
        .source = "kernel-udp",.reason = "SOCKET_RCVBUFF",.attribution = "socket",
        .flow = run->r->flow,.ssrc = -1,.payload_type = 96});
  check_ramp (run, sent);

  vdm_kt_summary_clear (&summary);
  gst_structure_free (stats);
  g_array_unref (sent);
  run_free (run);
}

/* ------------------------------------------------------------------------ */
/* (b) the clean run.                                                        */

/* The arrival-silence warning the end of the stream brings: cause network,
 * lower-bitrate, posted at least the stall threshold (at most
 * silence-threshold) after the last packet. */
static gboolean
is_end_of_stream_silence (const VdmKtMessage * m, guint64 last_arrival_ns, guint64 silence_ns)
{
  return g_strcmp0 (gst_structure_get_string (m->s, "cause"), "network") == 0
      && g_strcmp0 (gst_structure_get_string (m->s, "action"), "lower-bitrate") == 0
      && m->arrival_ns >= last_arrival_ns + silence_ns;
}

static void
check_clean (Run * run, const GstStructure * stats, guint64 kernel, guint64 silence_ns)
{
  guint i, while_flowing = 0, after_end = 0;
  Gap gap = find_gap (run);

  printf ("  clean: warnings and clears, in ms after the last packet arrived:\n");
  print_signals (run, run->last_arrival_ns);
  for (i = 0; i < run->signals->len; i++) {
    const VdmKtMessage *m = g_ptr_array_index (run->signals, i);
    if (!is_warning (m))
      continue;
    if (is_end_of_stream_silence (m, run->last_arrival_ns, silence_ns))
      after_end++;
    else
      while_flowing++;
  }
  printf ("  CLEAN: %u warnings while the stream flowed, %u silence warnings after it ended "
      "(ignored), %u frames decoded\n", while_flowing, after_end, run->frames->len);
  vdm_kt_expect (kernel == 0 && vdm_kt_stats_u64 (stats, "kernel-drops") == 0,
      "clean: no kernel drop (/proc %" G_GUINT64_FORMAT ", kernel-drops %" G_GUINT64_FORMAT ")",
      kernel, vdm_kt_stats_u64 (stats, "kernel-drops"));
  vdm_kt_expect (run->r->drops->len == 0, "clean: no vdropmon-drop (%u)", run->r->drops->len);
  vdm_kt_expect (while_flowing == 0, "clean: no vdropmon-warning while the stream flowed (%u)",
      while_flowing);
  vdm_kt_expect (run->frames->len >= STREAM_FRAMES * 9 / 10 && !gap.found,
      "clean: the decoder output %u of %d frames without a gap", run->frames->len, STREAM_FRAMES);
}

static void
clean_run (const gchar * stream)
{
  Run *run = run_start ("clean", CLEAN_BUFFER_SIZE);
  VdmKtSender *replay = start_replay (run, stream, "1", "8000");
  GstStructure *stats;
  guint64 kernel, silence_ns = 0;
  gdouble stall_ms = 0;
  GArray *sent;

  g_object_get (run->r->mon, "silence-threshold", &silence_ns, NULL);
  sent = vdm_kt_sender_finish (replay);
  vdm_kt_expect (vdm_kt_receiver_settle (run->r, QUIET_MS, SETTLE_TIMEOUT_MS, socket_drops, run->r),
      "clean: counters, buffers and messages settled");
  /* settle() waited QUIET_MS already; give the silence warning its time. */
  vdm_kt_sleep_ms (AFTER_END_MS);
  stats = vdm_kt_receiver_stats (run->r);
  kernel = vdm_kt_receiver_socket_drops (run->r);
  /* The end of the stream is a stall: declared after the stream's own
   * stall threshold (issue 12: adaptive, at most silence-threshold). */
  if (gst_structure_get_double (stats, "stall-threshold", &stall_ms) && stall_ms > 1
      && (guint64) (stall_ms - 1) * GST_MSECOND < silence_ns)
    silence_ns = (guint64) (stall_ms - 1) * GST_MSECOND;
  print_jitterbuffer (run);
  vdm_kt_receiver_stop (run->r);
  printf ("  clean: %u packets replayed, stall threshold %.1f ms\n", sent->len, stall_ms);

  check_clean (run, stats, kernel, silence_ns);
  gst_structure_free (stats);
  g_array_unref (sent);
  run_free (run);
}

int
main (int argc, char **argv)
{
  gchar *stream;

  vdm_kt_begin ("kernel-early-warning", &argc, &argv);
  stream = record_stream ();
  ramp_run (stream);
  clean_run (stream);
  g_free (stream);
  return vdm_kt_finish ();
}
