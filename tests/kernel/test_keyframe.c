/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_keyframe — the keyframe flag of vdropmon-drop against the sender's
 * own record of which packets carried IDR slices.
 *
 * Same overload as test_rcvbuf (tiny SO_RCVBUF, read at ~500/s, sent at
 * 1000/s), but with an IDR frame every 8 frames of 4 packets: one packet
 * in eight is a keyframe packet and about half of all packets are dropped,
 * so IDR packets are dropped for sure, while a 20 ms batch (about 20 packets
 * sent, 5 frames) often holds none and so tests the "false" side too.
 */
#include <stdio.h>

#include "drop_checks.h"
#include "kernel_test_util.h"
#include "receiver.h"
#include "sender.h"

#define SSRC 0x1dc0ffee
#define LATENCY_LIMIT_MS 100.0

static guint64
socket_drops (gpointer data)
{
  return vdm_kt_receiver_socket_drops (data);
}

typedef struct
{
  VdmKtSent by_seq[65536];
  gboolean known[65536];
} SentIndex;

static SentIndex *
index_sent (GArray * sent)
{
  SentIndex *index = g_new0 (SentIndex, 1);
  guint i;

  for (i = 0; i < sent->len; i++) {
    const VdmKtSent *p = &g_array_index (sent, VdmKtSent, i);
    index->by_seq[p->seq] = *p;
    index->known[p->seq] = TRUE;
  }
  return index;
}

/* Distinct RTP timestamps among seqs (what "frames" must count). */
static guint
count_frames (const SentIndex * index, GArray * seqs)
{
  GHashTable *ts = g_hash_table_new (NULL, NULL);
  guint i, n;

  for (i = 0; i < seqs->len; i++)
    g_hash_table_add (ts, GUINT_TO_POINTER (index->by_seq[g_array_index (seqs, guint16, i)].ts));
  n = g_hash_table_size (ts);
  g_hash_table_unref (ts);
  return n;
}

typedef struct
{
  guint keyframe_seqs_dropped;   /* listed seqs the log marks keyframe=1 */
  guint keyframe_seqs_unflagged; /* ... in a message with keyframe=false */
  guint delta_only_batches;      /* complete lists of delta packets only */
  guint delta_only_flagged;      /* ... that still said keyframe=true */
  guint frames_checked, frames_wrong;
  guint mixed_batches;
} KeyframeTally;

static void
tally_message (const SentIndex * index, const GstStructure * s, KeyframeTally * t)
{
  GArray *seqs = vdm_kt_msg_seqs (s);
  gboolean keyframe = vdm_kt_msg_bool (s, "keyframe");
  gboolean truncated = vdm_kt_msg_bool (s, "rtp-seqs-truncated");
  guint i, n_key = 0, n_unknown = 0, frames;

  for (i = 0; i < seqs->len; i++) {
    guint16 seq = g_array_index (seqs, guint16, i);
    if (!index->known[seq])
      n_unknown++;
    else if (index->by_seq[seq].keyframe)
      n_key++;
  }
  t->keyframe_seqs_dropped += n_key;
  if (n_key && !keyframe)
    t->keyframe_seqs_unflagged += n_key;
  if (n_key && n_key < seqs->len)
    t->mixed_batches++;
  /* The sender's frames are pure: delta packets only means delta frames only. */
  if (!truncated && n_key == 0 && n_unknown == 0 && seqs->len > 0) {
    t->delta_only_batches++;
    if (keyframe)
      t->delta_only_flagged++;
  }
  frames = count_frames (index, seqs);
  if (!truncated && n_unknown == 0 && frames <= 16) {
    t->frames_checked++;
    if (vdm_kt_msg_uint (s, "frames") != frames)
      t->frames_wrong++;
  }
  g_array_unref (seqs);
}

static void
check_keyframes (GPtrArray * drops, GArray * sent)
{
  SentIndex *index = index_sent (sent);
  KeyframeTally t = { 0 };
  guint i;

  for (i = 0; i < drops->len; i++)
    tally_message (index, ((VdmKtMessage *) g_ptr_array_index (drops, i))->s, &t);
  printf ("  KEYFRAMES: %u keyframe packets dropped; of %u messages %u mixed keyframe and "
      "delta packets, %u held delta packets only\n", t.keyframe_seqs_dropped, drops->len,
      t.mixed_batches, t.delta_only_batches);
  vdm_kt_expect (t.keyframe_seqs_dropped > 0, "at least one keyframe packet was dropped (%u)",
      t.keyframe_seqs_dropped);
  vdm_kt_expect (t.keyframe_seqs_unflagged == 0, "every dropped keyframe packet is in a "
      "message with keyframe=true (%u are not)", t.keyframe_seqs_unflagged);
  vdm_kt_expect (t.delta_only_batches > 0, "some batch held only delta packets (%u)",
      t.delta_only_batches);
  vdm_kt_expect (t.delta_only_flagged == 0, "every delta-only batch has keyframe=false "
      "(%u of %u say true)", t.delta_only_flagged, t.delta_only_batches);
  vdm_kt_expect (t.frames_checked > 0 && t.frames_wrong == 0, "frames == distinct RTP "
      "timestamps of the dropped seqs (%u of %u messages differ)", t.frames_wrong,
      t.frames_checked);
  g_free (index);
}

int
main (int argc, char **argv)
{
  VdmKtReceiver *r;
  VdmKtSender *sender;
  VdmKtDropSummary summary;
  GstStructure *stats;
  GArray *sent;
  guint64 kernel;
  gchar *dest, *ssrc;
  int status;

  vdm_kt_begin ("kernel-keyframe", &argc, &argv);
  r = vdm_kt_receiver_start ("receiver",
      "udpsrc name=src address=127.0.0.1 port=0 buffer-size=16384 caps=\"" VDM_KT_RTP_CAPS "\" "
      "! vdropmon name=mon ! identity sleep-time=2000 ! fakesink sync=false");

  dest = g_strdup_printf ("127.0.0.1:%u", r->port);
  ssrc = g_strdup_printf ("%u", SSRC);
  sender = vdm_kt_sender_spawn ("sender", NULL, "--dest", dest, "--count", "800", "--rate", "1000",
      "--gop", "8", "--packets-per-frame", "4", "--ssrc", ssrc, "--duration-ms", "5000", NULL);
  sent = vdm_kt_sender_finish (sender);

  vdm_kt_expect (vdm_kt_receiver_settle (r, 400, 6000, socket_drops, r),
      "counters, buffers and messages settled");
  stats = vdm_kt_receiver_stats (r);
  kernel = vdm_kt_receiver_socket_drops (r);
  vdm_kt_receiver_stop (r);

  vdm_kt_summarize (r->drops, &summary);
  vdm_kt_print_summary ("receiver", &summary);
  vdm_kt_check_counts (&summary, stats, "/proc/net/udp drops", kernel, "SOCKET_RCVBUFF");
  vdm_kt_check_fields (r->drops, &(VdmKtExpectedDrop) {
        .source = "kernel-udp",.reason = "SOCKET_RCVBUFF",.attribution = "socket",
        .flow = r->flow,.ssrc = SSRC,.payload_type = 96});
  vdm_kt_check_latency (&summary, LATENCY_LIMIT_MS);
  vdm_kt_check_seqs (&summary, sent, r->passed);
  check_keyframes (r->drops, sent);

  status = vdm_kt_finish ();
  vdm_kt_summary_clear (&summary);
  gst_structure_free (stats);
  g_array_unref (sent);
  g_free (dest);
  g_free (ssrc);
  vdm_kt_receiver_free (r);
  return status;
}
