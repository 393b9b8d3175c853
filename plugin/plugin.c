/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "client_source.h"
#include "gstvdropmon.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  /* collector=daemon|auto: vdm_source_open ("daemon", ...) talks to vdropmond */
  vdm_daemon_client_register ();
  return GST_ELEMENT_REGISTER (vdropmon, plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, vdropmon,
    "Kernel packet-drop monitor for live video (eBPF)", plugin_init, VERSION, "LGPL",
    "vdropmon", "https://github.com/vdropmon/vdropmon")
