/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "structure_fields.h"

#include <gst/check/gstcheck.h>

/* (The failure message leaks the structure's string: the test ends.) */
#define FIELD_OR_FAIL(ok, type, field, s) \
  fail_unless ((ok), "no " type " %s in %s", (field), gst_structure_to_string (s))

guint64
vdm_get_u64 (const GstStructure * s, const gchar * field)
{
  guint64 v = 0;

  FIELD_OR_FAIL (gst_structure_get_uint64 (s, field, &v), "guint64", field, s);
  return v;
}

guint
vdm_get_uint (const GstStructure * s, const gchar * field)
{
  guint v = 0;

  FIELD_OR_FAIL (gst_structure_get_uint (s, field, &v), "guint", field, s);
  return v;
}

gint
vdm_get_int (const GstStructure * s, const gchar * field)
{
  gint v = 0;

  FIELD_OR_FAIL (gst_structure_get_int (s, field, &v), "gint", field, s);
  return v;
}

gboolean
vdm_get_bool (const GstStructure * s, const gchar * field)
{
  gboolean v = FALSE;

  FIELD_OR_FAIL (gst_structure_get_boolean (s, field, &v), "boolean", field, s);
  return v;
}

const gchar *
vdm_get_str (const GstStructure * s, const gchar * field)
{
  const gchar *v = gst_structure_get_string (s, field);

  FIELD_OR_FAIL (v != NULL, "string", field, s);
  return v;
}

void
vdm_assert_str (const GstStructure * s, const gchar * field, const gchar * expected)
{
  assert_equals_string (vdm_get_str (s, field), expected);
}
