/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_rtp_parse.c — libFuzzer target for rtp_parse: the RTP header parser
 * and the H.264/H.265 keyframe test, which read every packet that passes the
 * element and the first bytes of every packet the kernel dropped (network
 * input, attacker-controlled).
 *
 * Input: byte 0 chooses complete/partial parsing and the codec; the rest is
 * the packet. The packet is copied into a buffer of exactly its size so that
 * ASan catches any read past its end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtp_parse.h"

static void
check_header (const vdm_rtp_header *rtp, const uint8_t *packet, size_t len)
{
  /* The payload must lie inside the packet. */
  if (rtp->payload_len > 0
      && (rtp->payload < packet || rtp->payload + rtp->payload_len > packet + len))
    abort ();
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const vdm_codec codecs[] = { VDM_CODEC_UNKNOWN, VDM_CODEC_H264, VDM_CODEC_H265 };
  vdm_rtp_header rtp;

  if (size < 1)
    return 0;
  bool complete = data[0] & 1;
  vdm_codec codec = codecs[(data[0] >> 1) % 3];
  size_t len = size - 1;
  uint8_t *packet = malloc (len > 0 ? len : 1);
  memcpy (packet, data + 1, len);

  if (vdm_rtp_parse (packet, len, complete, &rtp)) {
    check_header (&rtp, packet, len);
    (void) vdm_payload_is_keyframe (codec, rtp.payload, rtp.payload_len);
  }
  /* The keyframe test on raw bytes too: the collector hands it payload
   * prefixes of any length. */
  (void) vdm_payload_is_keyframe (codec, packet, len);

  /* Encoding names come from caps, i.e. from the SDP of a remote server. */
  char *name = malloc (len + 1);
  memcpy (name, packet, len);
  name[len] = '\0';
  (void) vdm_codec_from_encoding_name (name);

  free (name);
  free (packet);
  return 0;
}
