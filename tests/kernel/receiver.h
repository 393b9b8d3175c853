/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * receiver.h — one receiving pipeline under test: udpsrc name=src !
 * vdropmon name=mon ! ... . Records, with their CLOCK_MONOTONIC post time
 * (bus_recorder.h), the vdropmon-drop, -warning and -clear messages, and
 * which RTP sequence numbers passed the element (a pad probe on its src pad).
 */
#ifndef VDM_KT_RECEIVER_H
#define VDM_KT_RECEIVER_H

#include <gio/gio.h>
#include <gst/gst.h>

#include "bus_recorder.h"

G_BEGIN_DECLS

#define VDM_KT_RTP_CAPS \
  "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"

typedef struct
{
  GstElement *pipeline;
  GstElement *src;              /* the udpsrc, name=src */
  GstElement *mon;              /* the vdropmon, name=mon */
  guint16 port;                 /* where udpsrc is bound (port=0 picks one) */
  int fd;                       /* its socket, valid until _stop() */
  gchar *flow;                  /* the element's name for that socket's flow */

  GMutex lock;                  /* guards everything below */
  GPtrArray *drops;             /* VdmKtMessage* (bus_recorder.h), in posting order */
  GPtrArray *signals;           /* VdmKtMessage*: vdropmon-warning and vdropmon-clear */
  GPtrArray *problems;          /* gchar*: warnings and errors on the bus */
  guint8 *passed;               /* [65536] buffers seen per RTP seq (saturating) */
  guint64 n_passed;

  GSocket *socket;
  VdmBusRecorder recorder;
} VdmKtReceiver;

/* Launches description (must name its udpsrc "src" and its vdropmon "mon"),
 * brings it to PLAYING and returns once the element watches the udpsrc
 * socket — only then may anything be sent. Skips per policy without eBPF. */
VdmKtReceiver *vdm_kt_receiver_start (const gchar * label, const gchar * description);

/* An extra kernel counter that must also have stopped moving. */
typedef guint64 (*VdmKtCounterFn) (gpointer user_data);

/* Waits (at most timeout_ms) until everything is final: no buffer passed,
 * no drop counted or reported and `external` unchanged for quiet_ms, and
 * every drop message the element counted is recorded. quiet_ms should be
 * well above the batch interval. Returns FALSE on timeout. */
gboolean vdm_kt_receiver_settle (VdmKtReceiver * r, guint quiet_ms, guint timeout_ms,
    VdmKtCounterFn external, gpointer external_data);

/* The element's stats property (caller frees). */
GstStructure *vdm_kt_receiver_stats (VdmKtReceiver * r);
guint64 vdm_kt_stats_u64 (const GstStructure * stats, const gchar * field);

/* The kernel's own drop counter of the udpsrc socket (/proc/net/udp). */
guint64 vdm_kt_receiver_socket_drops (VdmKtReceiver * r);
guint64 vdm_kt_fd_socket_drops (int fd);

/* Sets the pipeline to NULL. Recorded messages stay available. */
void vdm_kt_receiver_stop (VdmKtReceiver * r);
void vdm_kt_receiver_free (VdmKtReceiver * r);

G_END_DECLS
#endif
