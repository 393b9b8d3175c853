/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bpf_misses.h — how often the kernel skipped vdropmon's own kfree_skb
 * program in this process. A tracing program does not run nested on one
 * CPU: when a drop happens in a softirq that interrupted the same program
 * (running for some other kfree_skb in process context), that run is
 * skipped and only counted in the program's recursion_misses. Such a drop
 * is in no counter of vdropmon; a test comparing counts with the kernel's
 * own may only forgive a shortfall that these misses explain.
 */
#ifndef VDM_E2E_BPF_MISSES_H
#define VDM_E2E_BPF_MISSES_H

#include <glib.h>

G_BEGIN_DECLS

/* Sum of recursion_misses of the BPF programs named kfree_skb* that this
 * process holds (found through /proc/self/fd). */
guint64 vdm_e2e_kfree_skb_recursion_misses (void);

G_END_DECLS
#endif
