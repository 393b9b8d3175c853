/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_input.h — reads typed values from a libFuzzer input, front to back.
 * Past the end every read gives 0, so any input is a complete program.
 */
#ifndef VDM_FUZZ_INPUT_H
#define VDM_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
  const uint8_t *data;
  size_t len, pos;
} fuzz_input;

static inline void
fuzz_input_init (fuzz_input *in, const uint8_t *data, size_t len)
{
  in->data = data;
  in->len = len;
  in->pos = 0;
}

static inline int
fuzz_input_done (const fuzz_input *in)
{
  return in->pos >= in->len;
}

static inline uint64_t
fuzz_bytes (fuzz_input *in, unsigned n)
{
  uint64_t value = 0;

  for (unsigned i = 0; i < n; i++) {
    uint8_t byte = in->pos < in->len ? in->data[in->pos] : 0;
    if (in->pos < in->len)
      in->pos++;
    value |= (uint64_t) byte << (8 * i);
  }
  return value;
}

static inline uint8_t fuzz_u8 (fuzz_input *in) { return (uint8_t) fuzz_bytes (in, 1); }
static inline uint16_t fuzz_u16 (fuzz_input *in) { return (uint16_t) fuzz_bytes (in, 2); }
static inline uint32_t fuzz_u32 (fuzz_input *in) { return (uint32_t) fuzz_bytes (in, 4); }
static inline uint64_t fuzz_u64 (fuzz_input *in) { return fuzz_bytes (in, 8); }

static inline double
fuzz_double (fuzz_input *in)
{
  uint64_t bits = fuzz_u64 (in);
  double value;

  memcpy (&value, &bits, sizeof (value));
  return value;
}

/* A value in [lo, hi] (hi >= lo). */
static inline uint64_t
fuzz_range (fuzz_input *in, uint64_t lo, uint64_t hi)
{
  uint64_t span = hi - lo;
  uint64_t raw = fuzz_u64 (in);

  return span == UINT64_MAX ? raw : lo + raw % (span + 1);
}

#endif
