/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * structure_fields.h — reading a message's fields in a GstCheck test: each
 * getter fails the test, naming the field and the structure, when the
 * field is missing or of another type. Shared by the element tests.
 */
#ifndef VDM_STRUCTURE_FIELDS_H
#define VDM_STRUCTURE_FIELDS_H

#include <gst/gst.h>

guint64 vdm_get_u64 (const GstStructure * s, const gchar * field);
guint vdm_get_uint (const GstStructure * s, const gchar * field);
gint vdm_get_int (const GstStructure * s, const gchar * field);
gboolean vdm_get_bool (const GstStructure * s, const gchar * field);
const gchar *vdm_get_str (const GstStructure * s, const gchar * field);
/* The string field equals expected. */
void vdm_assert_str (const GstStructure * s, const gchar * field, const gchar * expected);

#endif
