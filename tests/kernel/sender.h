/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sender.h — runs tests/tools/vdm-rtp-sender (path in $VDM_RTP_SENDER) and
 * reads back its --log, the ground truth of what went on the wire.
 */
#ifndef VDM_KT_SENDER_H
#define VDM_KT_SENDER_H

#include <gio/gio.h>

G_BEGIN_DECLS

/* One line of the sender's --log: "seq ts keyframe". */
typedef struct
{
  guint16 seq;
  guint32 ts;
  gboolean keyframe;
} VdmKtSent;

typedef struct
{
  GSubprocess *process;
  gchar *log_path;
  gchar *label;
} VdmKtSender;

/* Starts the sender, optionally behind a wrapper command (e.g. "ip", "netns",
 * "exec", NS, NULL), with --log into the scratch directory and the given
 * options (NULL-terminated). Callers always pass --count and --duration-ms:
 * every run is bounded. */
VdmKtSender *vdm_kt_sender_spawn (const gchar * label, const gchar * const *wrapper,
    const gchar * first_option, ...) G_GNUC_NULL_TERMINATED;

/* Waits for it to exit; fatal unless it exited 0. Returns the packets it
 * logged as sent (GArray of VdmKtSent) and frees the sender. */
GArray *vdm_kt_sender_finish (VdmKtSender * sender);

G_END_DECLS
#endif
