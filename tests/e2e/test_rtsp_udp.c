/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_rtsp_udp — RTSP with RTP over UDP, end to end on loopback:
 *
 *   vdm-rtsp-server (640x480 "snow", 4 Mbit/s, a keyframe a second)
 *   rtspsrc protocols=udp latency=200 ! vdropmon ! rtph264depay ! h264parse
 *     ! avdec_h264 ! fakesink sync=true
 *
 * Keyframes (~60 packets) leave the server as one burst. Once vdropmon
 * watches rtspsrc's udpsrc, the test gives that socket a 16 KB receive
 * buffer (SO_RCVBUF 16384: what udp-buffer-size=16384 sets), and the
 * bursts overflow it: SOCKET_RCVBUFF drops on a socket vdropmon had to find
 * inside rtspsrc by itself.
 *
 * Why the buffer shrinks only then: rtspsrc links its source pad after the
 * first RTP packet went through its jitterbuffer (latency), so vdropmon can
 * find the udpsrc only ~200 ms after the stream's first, largest burst (the
 * first keyframe). Drops before that are counted by the kernel and cannot
 * be reported; the count comparison needs every drop to happen watched.
 *
 * References: the kernel's own drop counter of that socket (/proc/net/udp,
 * found through the udpsrc's used-socket), and a packet capture on "lo"
 * (every packet the server sent, payload included, before any drop).
 * Checks: flows (both udpsrc sockets, the RTSP connection), fields, counts,
 * latency, sequence numbers (sent = passed + reported), keyframe flags
 * against the payloads of the dropped packets, and warning vs the first
 * frozen frame at the sink.
 */
#include <stdio.h>
#include <string.h>

#include "bpf_misses.h"
#include "drop_checks.h"
#include "e2e_checks.h"
#include "e2e_receiver.h"
#include "e2e_rtsp_udp.h"
#include "e2e_server.h"
#include "kernel_test_util.h"
#include "lo_capture.h"
#include "receiver.h"
#include "sender.h"

#define SMALL_RCVBUF 16384
#define OVERLOAD_MS 6000
#define LATENCY_LIMIT_MS 100.0
/* A lost keyframe packet warns at once (docs/messages.md): the worker is
 * woken by the drop event itself; but no sooner than warning-interval
 * (100 ms) after the warning before it, which the queue filling up often
 * posted a few ms earlier. */
#define KEYFRAME_WARNING_LIMIT_MS 150.0

/* The captured packets of our stream from the first one the probe saw on:
 * before that, nothing was dropped (big buffer) and nothing recorded. */
static GArray *
stream_packets (GArray * captured, const VdmE2eRtspUdp * u)
{
  GArray *out = g_array_new (FALSE, FALSE, sizeof (VdmE2eCaptured));
  gboolean started = FALSE;
  guint i;

  for (i = 0; i < captured->len; i++) {
    const VdmE2eCaptured *p = &g_array_index (captured, VdmE2eCaptured, i);
    if (p->port != u->rtp.port || p->ssrc != u->ssrc)
      continue;
    started = started || p->seq == (guint16) u->first_seq;
    if (started)
      g_array_append_val (out, *p);
  }
  return out;
}

static GArray *
as_sent (GArray * packets)
{
  GArray *sent = g_array_new (FALSE, FALSE, sizeof (VdmKtSent));
  guint i;

  for (i = 0; i < packets->len; i++) {
    const VdmE2eCaptured *p = &g_array_index (packets, VdmE2eCaptured, i);
    VdmKtSent s = {.seq = p->seq,.ts = p->ts,.keyframe = p->keyframe_nal };
    g_array_append_val (sent, s);
  }
  return sent;
}

/* rtp-gap messages should not exist here; say what they list, and whether
 * the kernel reported the same seqs (a loss reported twice). */
static void
print_gaps (GPtrArray * gaps, const VdmKtDropSummary * kernel)
{
  guint i, j;

  for (i = 0; i < gaps->len; i++) {
    const VdmKtMessage *m = g_ptr_array_index (gaps, i);
    GArray *seqs = vdm_kt_msg_seqs (m->s);
    GString *text = g_string_new ("");
    for (j = 0; j < seqs->len; j++) {
      guint16 seq = g_array_index (seqs, guint16, j);
      g_string_append_printf (text, " %u%s", seq, kernel->listed[seq] ? "(also kernel)" : "");
    }
    printf ("  rtp-gap message: count %u, keyframe %d, seqs%s\n", vdm_kt_msg_uint (m->s, "count"),
        vdm_kt_msg_bool (m->s, "keyframe"), text->str);
    g_string_free (text, TRUE);
    g_array_unref (seqs);
  }
}

typedef struct
{
  guint kf_packets_dropped;     /* dropped packets carrying IDR/SPS/PPS data */
  guint kf_packets_unflagged;   /* ... listed in a keyframe=false message */
  guint flagged;                /* keyframe=true messages */
  guint flagged_without_keyframe_frame;
  guint unflagged_in_keyframe_frame;    /* hit only delta packets of an IDR frame */
  guint64 first_kf_drop_ns;     /* kernel-time of the first message with a keyframe packet */
} KeyframeTally;

/* Per message: does it list a packet with keyframe data, and a packet of
 * a frame that has keyframe data (the element may know either). */
static void
tally_keyframes (GPtrArray * messages, GArray * packets, KeyframeTally * t)
{
  guint8 *kf_packet = g_new0 (guint8, 65536);
  guint32 *ts_of = g_new0 (guint32, 65536);
  GHashTable *kf_frames = g_hash_table_new (NULL, NULL);
  guint i, j;

  *t = (KeyframeTally) { 0 };
  for (i = 0; i < packets->len; i++) {
    const VdmE2eCaptured *p = &g_array_index (packets, VdmE2eCaptured, i);
    kf_packet[p->seq] = p->keyframe_nal;
    ts_of[p->seq] = p->ts;
    if (p->keyframe_nal)
      g_hash_table_add (kf_frames, GUINT_TO_POINTER (p->ts));
  }
  for (i = 0; i < messages->len; i++) {
    const GstStructure *s = ((VdmKtMessage *) g_ptr_array_index (messages, i))->s;
    gboolean flagged = vdm_kt_msg_bool (s, "keyframe"), has_kf = FALSE, in_kf_frame = FALSE;
    GArray *seqs = vdm_kt_msg_seqs (s);

    for (j = 0; j < seqs->len; j++) {
      guint16 seq = g_array_index (seqs, guint16, j);
      in_kf_frame |= g_hash_table_contains (kf_frames, GUINT_TO_POINTER (ts_of[seq]));
      if (!kf_packet[seq])
        continue;
      has_kf = TRUE;
      t->kf_packets_dropped++;
      t->kf_packets_unflagged += !flagged;
    }
    if (has_kf && !t->first_kf_drop_ns)
      t->first_kf_drop_ns = vdm_kt_msg_u64 (s, "kernel-time");
    t->flagged += flagged;
    t->flagged_without_keyframe_frame += flagged && !in_kf_frame;
    t->unflagged_in_keyframe_frame += !flagged && in_kf_frame;
    g_array_unref (seqs);
  }
  g_hash_table_unref (kf_frames);
  g_free (ts_of);
  g_free (kf_packet);
}

static void
check_keyframes (GPtrArray * messages, GArray * packets, GPtrArray * warnings)
{
  const VdmKtMessage *warning;
  KeyframeTally t;
  guint i;

  tally_keyframes (messages, packets, &t);
  printf ("  KEYFRAMES: %u dropped packets carried IDR/SPS/PPS data; %u of them in "
      "keyframe=false messages; %u keyframe=true messages (%u without any packet of an IDR "
      "frame); %u keyframe=false messages hit an IDR frame only in non-IDR packets\n",
      t.kf_packets_dropped, t.kf_packets_unflagged, t.flagged, t.flagged_without_keyframe_frame,
      t.unflagged_in_keyframe_frame);
  vdm_kt_expect (t.kf_packets_dropped > 0, "keyframe packets were dropped (%u)",
      t.kf_packets_dropped);
  vdm_kt_expect (t.kf_packets_unflagged == 0, "every dropped packet with IDR/SPS/PPS data is "
      "in a keyframe=true message (%u are not)", t.kf_packets_unflagged);
  vdm_kt_expect (t.flagged_without_keyframe_frame == 0, "every keyframe=true message hit a "
      "frame with IDR/SPS/PPS data (%u did not)", t.flagged_without_keyframe_frame);

  /* The first lost keyframe packet warns at once, critical, cause keyframe. */
  warning = NULL;
  for (i = 0; !warning && i < warnings->len; i++) {
    const VdmKtMessage *w = g_ptr_array_index (warnings, i);
    if (strstr (gst_structure_get_string (w->s, "cause"), "keyframe"))
      warning = w;
  }
  if (vdm_kt_expect (warning != NULL, "a warning with cause keyframe was posted")
      && t.first_kf_drop_ns) {
    gdouble after_ms = ((gint64) warning->arrival_ns - (gint64) t.first_kf_drop_ns) / 1e6;
    vdm_kt_expect (after_ms <= KEYFRAME_WARNING_LIMIT_MS && g_strcmp0 (gst_structure_get_string
            (warning->s, "level"), "critical") == 0, "keyframe warning critical, %.1f ms after "
        "the first keyframe packet was dropped (limit %.0f ms)", after_ms,
        KEYFRAME_WARNING_LIMIT_MS);
  }
}

int
main (int argc, char **argv)
{
  VdmE2eRtspUdp u = { 0 };
  VdmE2eCapture *capture;
  VdmE2eServer *server;
  VdmE2eReceiver *r;
  VdmE2eMonitor *mon;
  GPtrArray *flows, *kernel_msgs, *gap_msgs;
  VdmKtDropSummary summary;
  VdmE2eTiming timing;
  GstStructure *stats;
  GArray *captured, *packets, *sent, *frames;
  guint64 proc_before, proc_after, rtcp_drops, overload_start;
  gchar *launch;
  int status;

  vdm_kt_begin ("e2e-rtsp-udp", &argc, &argv);
  capture = vdm_e2e_capture_start ();
  server = vdm_e2e_server_start ("rtsp-server", "VDM_RTSP_SERVER", NULL, 1,
      "--port", "0", "--pattern", "snow", "--bitrate", "4000", "--key-int", "30", NULL);

  launch = g_strdup_printf ("rtspsrc name=src location=%s protocols=udp "
      "udp-buffer-size=4194304 latency=200 ! vdropmon name=mon ! rtph264depay ! h264parse "
      "! avdec_h264 ! fakesink name=sink sync=true signal-handoffs=true",
      vdm_e2e_server_url (server, 0));
  r = vdm_e2e_receiver_start ("receiver", launch, GST_CLOCK_TIME_NONE);
  mon = vdm_e2e_monitor (r, "mon");
  vdm_e2e_rtsp_udp_init (&u, r, vdm_e2e_element (r, "src"), vdm_e2e_server_url (server, 0));
  flows = vdm_e2e_wait_flows (r, mon, vdm_e2e_rtsp_udp_all_watched, &u, 10000);
  vdm_kt_expect (flows->len == 3, "vdropmon watches exactly the RTP and RTCP sockets and the "
      "RTSP connection (%u flows)", flows->len);

  proc_before = vdm_e2e_udp_socket_drops (&u.rtp);
  vdm_kt_expect (proc_before == 0, "no drop on the RTP socket before the overload (%"
      G_GUINT64_FORMAT ")", proc_before);
  overload_start = vdm_kt_now_ns ();
  vdm_e2e_shrink_rcvbuf (&u.rtp, SMALL_RCVBUF);
  vdm_kt_sleep_ms (OVERLOAD_MS);

  /* Stop the source, so that what was sent is final, then let it settle. */
  vdm_e2e_server_freeze (server);
  vdm_kt_expect (vdm_e2e_receiver_settle (r, 400, 5000, vdm_e2e_udp_socket_drops, &u.rtp),
      "counters, buffers and messages settled");
  stats = vdm_e2e_monitor_stats (mon);
  proc_after = vdm_e2e_udp_socket_drops (&u.rtp);
  rtcp_drops = vdm_e2e_udp_socket_drops (&u.rtcp);
  printf ("  kfree_skb program runs the kernel skipped: %" G_GUINT64_FORMAT "\n",
      vdm_e2e_kfree_skb_recursion_misses ());
  captured = vdm_e2e_capture_finish (capture);
  vdm_e2e_receiver_end_recording (r);
  vdm_e2e_server_thaw (server);
  vdm_e2e_receiver_stop (r);
  vdm_e2e_receiver_check_errors (r);

  kernel_msgs = vdm_e2e_kernel_drops (mon);
  gap_msgs = vdm_e2e_gap_drops (mon);
  printf ("  COUNTS: RTP socket /proc drops %" G_GUINT64_FORMAT " (before the overload %"
      G_GUINT64_FORMAT "), RTCP socket %" G_GUINT64_FORMAT "; rtp-gap messages %u\n",
      proc_after, proc_before, rtcp_drops, gap_msgs->len);
  vdm_kt_summarize (kernel_msgs, &summary);
  vdm_kt_print_summary ("receiver", &summary);
  vdm_kt_check_counts (&summary, stats, "RTP socket /proc drops", proc_after - proc_before,
      "SOCKET_RCVBUFF");
  vdm_kt_expect (rtcp_drops == 0, "the RTCP socket dropped nothing (%" G_GUINT64_FORMAT ")",
      rtcp_drops);
  print_gaps (gap_msgs, &summary);
  vdm_kt_expect (gap_msgs->len == 0, "no rtp-gap message: every loss here was the kernel's "
      "(%u)", gap_msgs->len);
  vdm_kt_check_fields (kernel_msgs, &(VdmKtExpectedDrop) {
        .source = "kernel-udp",.reason = "SOCKET_RCVBUFF",.attribution = "socket",
        .flow = u.rtp.flow,.ssrc = u.ssrc,.payload_type = 96});
  vdm_kt_check_latency (&summary, LATENCY_LIMIT_MS);

  packets = stream_packets (captured, &u);
  sent = as_sent (packets);
  vdm_kt_check_seqs (&summary, sent, u.passed);
  check_keyframes (kernel_msgs, packets, mon->warnings);

  frames = vdm_e2e_receiver_frames (r);
  vdm_e2e_print_warnings ("receiver", mon->warnings, overload_start);
  vdm_e2e_measure_timing ("rtsp-udp", frames, NULL, kernel_msgs, mon->warnings, overload_start,
      &timing);
  vdm_kt_expect (timing.n_frames > 0, "frames reached the sink during the overload (%u)",
      timing.n_frames);
  if (timing.froze)
    vdm_kt_expect (timing.first_warning_ns && timing.lead_ms > 0, "the first warning came "
        "before the first frozen frame (lead %.0f ms)", timing.lead_ms);

  status = vdm_kt_finish ();
  vdm_kt_summary_clear (&summary);
  g_ptr_array_unref (kernel_msgs);
  g_ptr_array_unref (gap_msgs);
  g_ptr_array_unref (flows);
  g_array_unref (captured);
  g_array_unref (packets);
  g_array_unref (sent);
  g_array_unref (frames);
  gst_structure_free (stats);
  vdm_e2e_receiver_free (r);
  vdm_e2e_rtsp_udp_clear (&u);
  vdm_e2e_server_stop (server);
  g_free (launch);
  return status;
}
