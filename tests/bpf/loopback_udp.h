/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef VDM_TEST_LOOPBACK_UDP_H
#define VDM_TEST_LOOPBACK_UDP_H

#include <netinet/in.h>

/* A UDP socket bound to a free loopback port, its address in *addr;
 * rcvbuf 0 keeps the default, 1 the kernel's minimum. Asserts on failure. */
int vdm_test_loopback_udp (struct sockaddr_in *addr, int rcvbuf);

#endif
