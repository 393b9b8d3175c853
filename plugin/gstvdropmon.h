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
 * @GST_VDROPMON_COLLECTOR_AUTO: the daemon if it runs, else the eBPF collector if
 *   this process may load it; otherwise warn once and go on with userspace signals
 * @GST_VDROPMON_COLLECTOR_EMBEDDED: load the eBPF collector or fail to start
 * @GST_VDROPMON_COLLECTOR_NONE: userspace signals only
 * @GST_VDROPMON_COLLECTOR_FAKE: drops injected by tests (bpf/fake_source.h); fails
 *   to start if the fake source cannot be opened
 * @GST_VDROPMON_COLLECTOR_DAEMON: the host's collector daemon (vdropmond) at
 *   #GstVdropmon:daemon-socket; fails to start if it does not answer
 *
 * `auto` tries the daemon first, then the embedded collector.
 */
typedef enum {
  GST_VDROPMON_COLLECTOR_AUTO,
  GST_VDROPMON_COLLECTOR_EMBEDDED,
  GST_VDROPMON_COLLECTOR_NONE,
  GST_VDROPMON_COLLECTOR_FAKE,
  GST_VDROPMON_COLLECTOR_DAEMON,
} GstVdropmonCollector;

GST_ELEMENT_REGISTER_DECLARE (vdropmon);

G_END_DECLS
#endif
