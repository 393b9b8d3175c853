/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_flow_spec.c — libFuzzer target for flow_spec: the parser of the
 * element's "watch" property (any string an application or a command line
 * sets) and the printer of flows.
 *
 * Input: byte 0 sizes the error and format buffers (0..63, to exercise
 * truncation); the rest, NUL-terminated, is the property's text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow_spec.h"

#define MAX_FLOWS 8

static void
format_into (const struct vdm_flow_key *flow, size_t len)
{
  char *buf = malloc (len > 0 ? len : 1);

  vdm_flow_format (flow, buf, len);
  if (len > 0 && memchr (buf, '\0', len) == NULL)
    abort ();                   /* not terminated within its buffer */
  free (buf);
}

static void
check_flow (const struct vdm_flow_key *flow, size_t buf_len)
{
  char text[VDM_FLOW_STRING_MAX];

  format_into (flow, buf_len);
  vdm_flow_format (flow, text, sizeof (text));
  if (!vdm_flow_equal (flow, flow))
    abort ();
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vdm_flow_key flows[MAX_FLOWS], one;

  if (size < 1)
    return 0;
  size_t buf_len = data[0] % 64;
  char *text = malloc (size);
  memcpy (text, data + 1, size - 1);
  text[size - 1] = '\0';
  char *err = malloc (buf_len > 0 ? buf_len : 1);

  if (vdm_flow_parse (text, &one, err, buf_len))
    check_flow (&one, buf_len);
  else if (buf_len > 0 && memchr (err, '\0', buf_len) == NULL)
    abort ();                   /* an error must be a terminated string */

  int n = vdm_flow_parse_list (text, flows, MAX_FLOWS, err, buf_len);
  if (n > MAX_FLOWS || n < -1)
    abort ();
  for (int i = 0; i < n; i++)
    check_flow (&flows[i], buf_len);

  free (err);
  free (text);
  return 0;
}
