/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* status.h — `vdropmond --status`: asks a running daemon what it serves. */
#ifndef VDM_DAEMON_STATUS_H
#define VDM_DAEMON_STATUS_H

#include <stdio.h>

/* Prints one line per watch (clients without watches: one line each).
 * Returns the process exit status: 0, or 1 with a sentence on stderr. */
int vdm_status_print (const char *socket_path, FILE *out);

#endif
