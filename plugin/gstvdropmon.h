/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_VDROPMON_H
#define GST_VDROPMON_H

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_VDROPMON (gst_vdropmon_get_type ())
G_DECLARE_FINAL_TYPE (GstVdropmon, gst_vdropmon, GST, VDROPMON, GstBaseTransform)

#define GST_TYPE_VDROPMON_COLLECTOR (gst_vdropmon_collector_get_type ())
GType gst_vdropmon_collector_get_type (void);

/**
 * GstVdropmonCollector:
 * @GST_VDROPMON_COLLECTOR_AUTO: the host's collector daemon (vdropmond) if
 *   its socket answers, else load the eBPF collector if this process may;
 *   otherwise warn once and go on with userspace signals
 * @GST_VDROPMON_COLLECTOR_EMBEDDED: load the eBPF collector or fail to start
 * @GST_VDROPMON_COLLECTOR_NONE: userspace signals only
 * @GST_VDROPMON_COLLECTOR_DAEMON: the host's collector daemon (socket:
 *   $VDROPMON_DAEMON_SOCKET, else /run/vdropmon/vdropmond.sock) or fail to start
 */
typedef enum {
  GST_VDROPMON_COLLECTOR_AUTO,
  GST_VDROPMON_COLLECTOR_EMBEDDED,
  GST_VDROPMON_COLLECTOR_NONE,
  GST_VDROPMON_COLLECTOR_DAEMON,
} GstVdropmonCollector;

GST_ELEMENT_REGISTER_DECLARE (vdropmon);

G_END_DECLS
#endif
