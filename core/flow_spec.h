/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * flow_spec.h — flows named by hand (the element's "watch" property) and
 * flows printed for people ("udp 0.0.0.0:5004",
 * "tcp 127.0.0.1:41234->127.0.0.1:8554").
 */
#ifndef VDM_FLOW_SPEC_H
#define VDM_FLOW_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "vdropmon_event.h"

#define VDM_FLOW_STRING_MAX 112

/* Parses one flow:
 *   "5004"                       -> udp, any address, port 5004
 *   "udp:5004"  "tcp:8554"
 *   "udp:0.0.0.0:5004"  "udp:239.1.1.1:5004"  "udp:[::1]:5004"
 *   "tcp:127.0.0.1:41234->127.0.0.1:8554"  (local->remote)
 * Local = where the packets go (destination). Port 0 as local port is
 * invalid, and so is a remote end without both addresses (it could never
 * match). On error returns false and writes a short reason to err. */
bool vdm_flow_parse (const char *text, struct vdm_flow_key *out, char *err, size_t err_len);

/* Parses a list separated by ',' ';' or whitespace. Returns the number of
 * flows written (<= max), or -1 on the first bad entry (reason in err). */
int vdm_flow_parse_list (const char *text, struct vdm_flow_key *out, int max, char *err,
    size_t err_len);

/* "udp 0.0.0.0:5004", "tcp 127.0.0.1:41234->127.0.0.1:8554", "udp [::]:5004".
 * Remote part printed only when remote_port != 0. */
void vdm_flow_format (const struct vdm_flow_key *flow, char *buf, size_t len);

bool vdm_flow_equal (const struct vdm_flow_key *a, const struct vdm_flow_key *b);

#endif
