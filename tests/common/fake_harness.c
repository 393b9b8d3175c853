/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fake_harness.h"

#include <gst/check/gstcheck.h>

#define WATCH_WAIT_MS 5000

guint32
vdm_fake_harness_wait_watch (vdm_fake_source * fake)
{
  vdm_fake_watch watches[4];

  fail_unless (vdm_fake_source_wait_watches (fake, 1, WATCH_WAIT_MS), "the element watches nothing");
  fail_unless (vdm_fake_source_list_watches (fake, watches, G_N_ELEMENTS (watches)) >= 1);
  return watches[0].watch_id;
}

void
vdm_fake_harness_start (VdmFakeHarness * f, const gchar * launch, const gchar * src_caps,
    const gchar * sink_caps)
{
  f->bus = gst_bus_new ();
  f->h = gst_harness_new_parse (launch);
  f->mon = GST_IS_BIN (f->h->element) ? gst_bin_get_by_name (GST_BIN (f->h->element), "mon")
      : NULL;
  if (!f->mon)                  /* a single element is not a bin */
    f->mon = gst_object_ref (f->h->element);
  gst_element_set_bus (f->mon, f->bus);
  gst_harness_use_testclock (f->h);
  if (sink_caps)
    gst_harness_set_sink_caps_str (f->h, sink_caps);
  gst_harness_set_src_caps_str (f->h, src_caps);
  fail_unless_equals_int (GST_STATE (f->mon), GST_STATE_PLAYING);
  f->fake = vdm_fake_source_get_default ();
  f->watch_id = vdm_fake_harness_wait_watch (f->fake);
}

void
vdm_fake_harness_stop (VdmFakeHarness * f)
{
  gst_harness_teardown (f->h);
  gst_object_unref (f->mon);
  gst_bus_set_flushing (f->bus, TRUE);
  gst_object_unref (f->bus);
}

GstStructure *
vdm_fake_harness_next_message (VdmFakeHarness * f, const gchar * name, GstClockTime timeout)
{
  GstMessage *msg;

  while ((msg = gst_bus_timed_pop_filtered (f->bus, timeout, GST_MESSAGE_ELEMENT))) {
    const GstStructure *s = gst_message_get_structure (msg);
    if (gst_structure_has_name (s, name)) {
      GstStructure *copy = gst_structure_copy (s);
      gst_message_unref (msg);
      return copy;
    }
    gst_message_unref (msg);
  }
  return NULL;
}

void
vdm_fake_harness_inject (VdmFakeHarness * f, const vdm_fake_drop * drop, guint n)
{
  vdm_fake_drop d = *drop;
  guint i;

  d.watch_id = f->watch_id;
  for (i = 0; i < n; i++)
    fail_unless_equals_int (vdm_fake_source_inject_drop (f->fake, &d), 0);
  vdm_fake_source_flush (f->fake);
}
