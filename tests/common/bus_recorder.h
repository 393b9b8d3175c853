/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bus_recorder.h — how the test receivers record what a pipeline posts:
 * from the bus sync handler, so each message carries the CLOCK_MONOTONIC
 * time of its post (the clock of the element's kernel-time), not that of
 * some later main-loop dispatch. Element messages go where a route
 * callback says; bus errors and warnings become text in `problems`.
 * Nobody runs a main loop, so every message is dropped afterwards.
 */
#ifndef VDM_BUS_RECORDER_H
#define VDM_BUS_RECORDER_H

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct
{
  GstStructure *s;              /* copy of the message's structure */
  guint64 arrival_ns;           /* CLOCK_MONOTONIC when it was posted */
} VdmKtMessage;

/* An array of VdmKtMessage* that frees them. */
GPtrArray *vdm_kt_messages_new (void);

/* The array an element message with structure s is kept in, or NULL to
 * ignore it. Called in the posting thread with *lock held. */
typedef GPtrArray *(*VdmBusRoute) (GstMessage * msg, const GstStructure * s,
    gpointer user_data);

typedef struct
{
  const gchar *label;           /* printed before each problem, or NULL */
  GMutex *lock;                 /* guards problems and the routed arrays */
  GPtrArray *problems;          /* gchar*: "error from X: ..." / "warning from X: ..." */
  VdmBusRoute route;
  gpointer user_data;
} VdmBusRecorder;

/* Makes rec the sync handler of the pipeline's bus (replacing any). rec
 * must stay valid until vdm_bus_recorder_detach() or the pipeline's end. */
void vdm_bus_recorder_attach (VdmBusRecorder * rec, GstElement * pipeline);
void vdm_bus_recorder_detach (GstElement * pipeline);

/* Routes for the common cases: user_data is the GPtrArray to keep in. */
GPtrArray *vdm_bus_route_drops (GstMessage * msg, const GstStructure * s, gpointer into);

G_END_DECLS
#endif
