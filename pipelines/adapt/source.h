/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * source.h — the pipeline vdm-adapt builds, as gst-launch text: the source
 * part by URI with vdropmon right behind what reads the network
 * (docs/adaptation.md, "The pipeline"), then the scaler, the capsfilter
 * named "scale", an optional textoverlay "overlay", videoconvert "convert"
 * and the sink part. Text only: nothing here touches GStreamer.
 */
#ifndef VDM_ADAPT_SOURCE_H
#define VDM_ADAPT_SOURCE_H

#include <glib.h>

#include "options.h"

/* The whole pipeline for `uri` with the capsfilter at `height`; NULL and
 * G_OPTION_ERROR_BAD_VALUE for a URI it cannot take. */
gchar *source_pipeline_description (const Options * o, const gchar * uri, gint height,
    GError ** err);
/* The capsfilter's caps: the width too when known (> 0). */
gchar *source_scale_caps (gint width, gint height);

#endif
