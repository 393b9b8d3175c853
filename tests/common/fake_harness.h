/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A GstHarness around one vdropmon element with collector=fake: the element
 * messages go to a private bus the test pops (no sleep, no poll), and the
 * test injects the drops the kernel would report through the process's fake
 * event source (bpf/fake_source.h). Shared by the element tests.
 */
#ifndef VDM_FAKE_HARNESS_H
#define VDM_FAKE_HARNESS_H

#include <gst/gst.h>
#include <gst/check/gstharness.h>

#include "fake_source.h"

typedef struct
{
  GstHarness *h;
  GstElement *mon;              /* the element named "mon", or the only one */
  GstBus *bus;
  vdm_fake_source *fake;
  guint32 watch_id;             /* the element's first watch */
} VdmFakeHarness;

/* launch: a gst_harness_new_parse line with one vdropmon named mon (or only
 * that element), collector=fake; sink_caps may be NULL. Returns once the
 * element watches something. */
void vdm_fake_harness_start (VdmFakeHarness * f, const gchar * launch, const gchar * src_caps,
    const gchar * sink_caps);
void vdm_fake_harness_stop (VdmFakeHarness * f);

/* The next element message called name within timeout, as a copy; NULL if
 * none came. */
GstStructure *vdm_fake_harness_next_message (VdmFakeHarness * f, const gchar * name,
    GstClockTime timeout);

/* The id of a watch of the fake source, once there is one (fails the test
 * after 5 s). */
guint32 vdm_fake_harness_wait_watch (vdm_fake_source * fake);

/* Injects drop n times on the fixture's watch and hands them to the element. */
void vdm_fake_harness_inject (VdmFakeHarness * f, const vdm_fake_drop * drop, guint n);

#endif
