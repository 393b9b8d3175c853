/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lo_capture.h — what really went over loopback to a UDP port: a packet
 * socket on "lo" sees every packet on its way in, before the receiving UDP
 * socket can drop it, so it is the ground truth of what the server sent,
 * including the payload of the packets the kernel dropped.
 *
 * Keeps, per RTP-looking UDP packet to any port: port, sequence number,
 * timestamp, SSRC and whether the packet carries (a fragment of) an H.264
 * NAL unit a decoder needs to (re)start — IDR slice, SPS, PPS — classified
 * here independently of vdropmon's own parser. Needs root (CAP_NET_RAW).
 */
#ifndef VDM_E2E_LO_CAPTURE_H
#define VDM_E2E_LO_CAPTURE_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  guint16 port;                 /* UDP destination port */
  guint16 seq;
  guint32 ts;
  guint32 ssrc;
  gboolean keyframe_nal;        /* carries (part of) an IDR, SPS or PPS NAL unit */
  guint64 time_ns;              /* CLOCK_MONOTONIC when captured */
} VdmE2eCaptured;

typedef struct _VdmE2eCapture VdmE2eCapture;

/* Starts capturing (a thread); skips per policy when it cannot. */
VdmE2eCapture *vdm_e2e_capture_start (void);

/* Stops, reads what is still queued, and checks that the packet socket
 * itself lost nothing (fatal otherwise). Returns every packet captured
 * (GArray of VdmE2eCaptured, in arrival order) and frees the capture. */
GArray *vdm_e2e_capture_finish (VdmE2eCapture * capture);

/* Whether an H.264 RTP payload (RFC 6184) carries an IDR, SPS or PPS NAL
 * unit: a single NAL unit, one inside a STAP-A, or any fragment of a FU-A
 * (losing any fragment loses the NAL unit; each FU header names its type). */
gboolean vdm_e2e_h264_payload_has_keyframe_nal (const guint8 * payload, gsize len);

G_END_DECLS
#endif
