/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the vdropmond frame decoder (daemon/protocol.c):
 * any byte string either decodes to a message that re-encodes to the same
 * bytes, or is refused with a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static vdm_msg msg;
  static uint8_t again[VDM_PROTO_MAX_FRAME];
  const char *why = NULL;
  int len;

  if (vdm_proto_frame_length (data, size, &why) < 0 && !why)
    abort ();
  why = NULL;
  if (vdm_proto_decode (data, size, &msg, &why) != 0) {
    if (!why)
      abort ();
    return 0;
  }
  len = vdm_proto_encode (&msg, again, sizeof (again));
  if (len < 0 || (size_t) len != size || memcmp (again, data, size) != 0)
    abort ();
  return 0;
}
