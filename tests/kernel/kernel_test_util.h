/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kernel_test_util.h — what every real-kernel test shares: the skip/fail
 * policy, pass/fail bookkeeping, a watchdog and a scratch directory.
 *
 * Skip policy (one place, not copy-pasted): a test that cannot run here
 * (not root, eBPF cannot load, no network namespaces) exits 77, which meson
 * reports as SKIP, after saying loudly why. With VDROPMON_REQUIRE_BPF=1 in
 * the environment the same situation is a FAILURE (exit 1): CI that is
 * meant to exercise the kernel path must not go green by skipping.
 */
#ifndef VDM_KERNEL_TEST_UTIL_H
#define VDM_KERNEL_TEST_UTIL_H

#include <gst/gst.h>

G_BEGIN_DECLS

#define VDM_KT_EXIT_SKIP 77
/* Every test must end well inside meson's 30 s timeout. */
#define VDM_KT_WATCHDOG_SECONDS 25

/* Prints the test banner, skips unless root, arms the watchdog, initialises
 * GStreamer and checks that the vdropmon element can be found. */
void vdm_kt_begin (const gchar * name, int *argc, char ***argv);

/* Exits 77 after a loud explanation, or 1 when VDROPMON_REQUIRE_BPF=1. */
void vdm_kt_skip_or_fail (const gchar * format, ...) G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN;

/* Skips (per the policy above) when the element says eBPF is unavailable;
 * fails when the collector is in any other state than "running". */
void vdm_kt_require_collector (const GstStructure * stats);

/* The test cannot go on: prints why and exits 1. */
void vdm_kt_fatal (const gchar * format, ...) G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN;

/* Records one assertion; prints "ok" or "FAIL" with the message. Returns ok. */
gboolean vdm_kt_expect (gboolean ok, const gchar * format, ...) G_GNUC_PRINTF (2, 3);

/* Exit status for main(): 0 if every expectation held, else 1. */
int vdm_kt_finish (void);

/* CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns() and kernel-time. */
guint64 vdm_kt_now_ns (void);
void vdm_kt_sleep_ms (guint ms);

/* A file name inside this run's scratch directory (removed at exit). */
gchar *vdm_kt_scratch_path (const gchar * name);

/* Value of a required environment variable; fatal if unset. */
const gchar *vdm_kt_require_env (const gchar * name);

G_END_DECLS
#endif
