/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * e2e_receiver.h — a receiving pipeline under test, with any number of
 * vdropmon elements and network sources (rtspsrc, souphttpsrc) in it.
 *
 * Records, per vdropmon element, its vdropmon-drop, vdropmon-warning and
 * vdropmon-stats messages with the CLOCK_MONOTONIC time they were posted
 * (bus sync handler); when the pipeline has a fakesink named "sink" with
 * signal-handoffs=true, the time each frame was rendered there (that
 * sink's handoff comes after its clock wait, so with sync=true the times
 * are those a viewer would see); and when it has an element named "dec",
 * the time each frame left it (the decoder's output, before any playout
 * buffer).
 */
#ifndef VDM_E2E_RECEIVER_H
#define VDM_E2E_RECEIVER_H

#include <gst/gst.h>

#include "bus_recorder.h"
#include "e2e_frames.h"

G_BEGIN_DECLS

typedef struct
{
  gchar *name;
  GstElement *element;
  GPtrArray *drops;             /* VdmKtMessage* (bus_recorder.h), vdropmon-drop */
  GPtrArray *warnings;          /* VdmKtMessage*, vdropmon-warning */
  GPtrArray *stats;             /* VdmKtMessage*, vdropmon-stats */
  GPtrArray *summaries;         /* VdmKtMessage*, vdropmon-drop-summary */
} VdmE2eMonitor;

typedef struct
{
  gchar *label;
  GstElement *pipeline;
  GMutex lock;                  /* guards the arrays below and the monitors' */
  GPtrArray *monitors;          /* VdmE2eMonitor*, every vdropmon in the pipeline */
  GPtrArray *problems;          /* gchar*: warnings and errors on the bus */
  GArray *frames;               /* VdmE2eFrame, rendered by "sink" */
  GArray *decoded;              /* VdmE2eFrame, out of "dec" */
  gboolean recording;           /* FALSE after vdm_e2e_receiver_end_recording() */
  VdmBusRecorder recorder;
} VdmE2eReceiver;

/* Builds the pipeline and sets it PLAYING. latency: when valid, the
 * pipeline's latency is fixed to it (gst_pipeline_set_latency), which is
 * the playout buffer the sink renders with. */
VdmE2eReceiver *vdm_e2e_receiver_start (const gchar * label, const gchar * description,
    GstClockTime latency);

VdmE2eMonitor *vdm_e2e_monitor (VdmE2eReceiver * r, const gchar * name);
/* A named element of the pipeline (owned by the pipeline). */
GstElement *vdm_e2e_element (VdmE2eReceiver * r, const gchar * name);

/* Drop reports recorded so far: vdropmon-drop messages plus the reports
 * the vdropmon-drop-summary messages stand for (compare with stats
 * drop-messages). With the receiver's lock held. */
guint64 vdm_e2e_reports_recorded (VdmE2eMonitor * m);

/* Its stats property (caller frees), and the watched flows in it. */
GstStructure *vdm_e2e_monitor_stats (VdmE2eMonitor * m);
GPtrArray *vdm_e2e_stats_flows (const GstStructure * stats);
guint64 vdm_e2e_stats_reason (const GstStructure * stats, const gchar * reason);

typedef gboolean (*VdmE2eFlowsReady) (GPtrArray * flows, gpointer user_data);

/* Polls the monitor's flows until ready() accepts them (skips per policy
 * when eBPF is unavailable; fatal on a pipeline error or after
 * timeout_ms). Returns the flows (caller frees). */
GPtrArray *vdm_e2e_wait_flows (VdmE2eReceiver * r, VdmE2eMonitor * m, VdmE2eFlowsReady ready,
    gpointer user_data, guint timeout_ms);

/* Flows helpers for ready() callbacks and checks. */
gboolean vdm_e2e_flows_have (GPtrArray * flows, const gchar * flow);
const gchar *vdm_e2e_flows_find_prefix (GPtrArray * flows, const gchar * prefix);

/* The udpsrc elements inside bin (recursively) once at least n of them
 * have a socket; fatal after timeout_ms. Returns refs (caller frees). */
GPtrArray *vdm_e2e_wait_udpsrcs (VdmE2eReceiver * r, GstElement * bin, guint n,
    guint timeout_ms);

/* Waits until every monitor's kernel-drops, drop-messages and buffers, the
 * messages recorded, and external() have not changed for quiet_ms. */
typedef guint64 (*VdmE2eCounterFn) (gpointer user_data);
gboolean vdm_e2e_receiver_settle (VdmE2eReceiver * r, guint quiet_ms, guint timeout_ms,
    VdmE2eCounterFn external, gpointer external_data);

/* Waits until the sink rendered n frames (fatal after timeout_ms). */
void vdm_e2e_wait_frames (VdmE2eReceiver * r, guint n, guint timeout_ms);

/* Waits until the monitor's detector-state has been "normal" for calm_ms
 * (a stream's start may warn); returns FALSE after timeout_ms. */
gboolean vdm_e2e_wait_calm (VdmE2eReceiver * r, VdmE2eMonitor * m, guint calm_ms,
    guint timeout_ms);

/* Copies of what was recorded so far, under the lock. */
GArray *vdm_e2e_receiver_frames (VdmE2eReceiver * r);
GArray *vdm_e2e_receiver_decoded (VdmE2eReceiver * r);
guint vdm_e2e_receiver_n_frames (VdmE2eReceiver * r);

/* The kernel-source drop messages (source kernel-udp, kernel-tcp, kernel)
 * of a monitor, and its rtp-gap ones: new arrays sharing the messages.
 * Only once the pipeline has stopped (or settled): they read the
 * recording without the lock. */
GPtrArray *vdm_e2e_kernel_drops (VdmE2eMonitor * m);
GPtrArray *vdm_e2e_gap_drops (VdmE2eMonitor * m);

/* Ends the recording of vdropmon messages and frames: what comes after
 * the test read its reference counters (the source resumed to let the
 * pipeline stop, say) is not compared with them. */
void vdm_e2e_receiver_end_recording (VdmE2eReceiver * r);

/* Fatal if the pipeline posted an error. */
void vdm_e2e_receiver_check_errors (VdmE2eReceiver * r);

void vdm_e2e_receiver_stop (VdmE2eReceiver * r);
void vdm_e2e_receiver_free (VdmE2eReceiver * r);

G_END_DECLS
#endif
